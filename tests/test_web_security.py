"""The web service's security rules, each checked over real HTTP against a uvicorn server on a
free loopback port: token auth, no CORS, security headers, size limits, work bounds per request
and per client (a bounded queue, 429 when full), no request path reaching the filesystem, the
response cache's correctness; ``hashshift serve``'s binding and token options; the lab page
with a token in a real browser; ``scripts/audit.py``.

Distinct clients are distinct source addresses on the loopback network (127.0.0.2, …: Linux
routes all of 127.0.0.0/8 to ``lo``), as the server sees them.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi", reason="the web extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the web extra (uvicorn) is not installed")

from hashshift.sim.engine import Result  # noqa: E402
from hashshift.sim.scenario import Scenario, parse_scenario  # noqa: E402
from hashshift.web import Settings, create_app  # noqa: E402
from hashshift.web.security import CSP  # noqa: E402
from hashshift.web.server import BackgroundServer, free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOKEN = "s3cret-Token_for-tests-0123456789"
RUN = "/api/scenario/run"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def china() -> dict[str, Any]:
    """The china_2021 example as JSON (it has bans), shrunk to a quick run."""
    text = resources.files("hashshift").joinpath("examples/china_2021.toml").read_text("utf-8")
    return shorten(parse_scenario(text).model_dump(mode="json"), paths=4, horizon_days=8,
                   seed=1)


def tiny(sc: dict[str, Any], seed: int, paths: int = 4, days: int = 8) -> dict[str, Any]:
    return shorten(copy.deepcopy(sc), paths=paths, horizon_days=days, seed=seed)


def client_at(srv: BackgroundServer, address: str = "127.0.0.1", **kw: Any) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (a distinct client to the
    server)."""
    return httpx.Client(base_url=srv.url, timeout=300.0,  # a hang guard, not a speed promise
                        transport=httpx.HTTPTransport(local_address=address), **kw)


class Gate:
    """A runner that blocks until released, recording what it was asked to run."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, scenario: Scenario, progress: Callable[[int, int], None]) -> Result:
        from hashshift.sim.engine import run

        with self.lock:
            self.calls.append(scenario.scenario.name)
        progress(1, scenario.scenario.horizon_days)
        assert self.open.wait(300), "the test never released the run"
        return run(scenario, progress=progress)


def wait_until(pred: Callable[[], bool], timeout_s: float = 120.0) -> None:
    """Wait for a state; ``timeout_s`` only guards against a hang (generous: a loaded machine
    is slow, and a state that is reached is never late)."""
    deadline = time.monotonic() + timeout_s
    while not pred():
        assert time.monotonic() < deadline, f"state not reached within {timeout_s} s"
        time.sleep(0.02)


def named(sc: dict[str, Any], name: str) -> dict[str, Any]:
    out = copy.deepcopy(sc)
    out["scenario"]["name"] = name
    return out


def shorten(sc: dict[str, Any], **run: int) -> dict[str, Any]:
    """A scenario JSON with a new run size; events after a shorter horizon are left out
    (:func:`hashshift.sim.scenario.with_overrides`)."""
    from hashshift.sim.scenario import Scenario, with_overrides

    out, _ = with_overrides(Scenario.model_validate(sc), **run)
    return out.model_dump(mode="json")


@pytest.fixture(scope="module")
def open_server() -> Iterator[BackgroundServer]:
    """Default settings: no token."""
    with BackgroundServer(create_app(Settings())) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(Settings(token=TOKEN))) as srv:
        yield srv


@pytest.fixture(scope="module")
def oc(open_server: BackgroundServer) -> Iterator[httpx.Client]:
    with client_at(open_server) as c:
        yield c


@pytest.fixture(scope="module")
def tc(token_server: BackgroundServer) -> Iterator[httpx.Client]:
    with client_at(token_server) as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------------------------
# token auth
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-123", f"Bearer {TOKEN}x",
                                  f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer",
                                  f"Token {TOKEN}"])
def test_runs_need_the_token(tc: httpx.Client, china: dict[str, Any], auth: str | None) -> None:
    headers = {"authorization": auth} if auth is not None else {}
    r = tc.post(RUN, json=china, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "token" in r.json()["detail"] and TOKEN not in r.text
    # parsing a scenario is work too (and the lab sends the token with it)
    r = tc.post("/api/scenario/parse", content=b"[scenario]\n", headers=headers)
    assert r.status_code == 401


def test_the_token_opens_runs_and_reads_stay_open(tc: httpx.Client,
                                                  china: dict[str, Any]) -> None:
    r = tc.post(RUN, json=china, params={"baseline": "false"}, headers=bearer())
    assert r.status_code == 200, r.text
    run_hash = r.json()["hash"]
    # the scheme is case-insensitive (RFC 7235)
    again = tc.post(RUN, json=china, params={"baseline": "false"},
                    headers={"authorization": f"bearer {TOKEN}"})
    assert again.status_code == 200 and again.json()["cached"] is True
    text = resources.files("hashshift").joinpath("examples/china_2021.toml").read_text("utf-8")
    assert tc.post("/api/scenario/parse", content=text.encode(),
                   headers=bearer()).status_code == 200
    for url in ("/", "/lab", "/api/limits", "/api/map", "/api/examples", f"/api/runs/{run_hash}",
                f"/api/runs/{run_hash}/result.json", "/static/js/lab.js", "/openapi.json"):
        assert tc.get(url).status_code == 200, url


def test_the_token_is_checked_before_the_body_is_read(tc: httpx.Client) -> None:
    big = b"x" * (300 * 1024)
    r = tc.post(RUN, content=big, headers={"content-type": "application/json"})
    assert r.status_code == 401  # refused without reading 300 KB
    r = tc.post(RUN, content=big, headers={"content-type": "application/json", **bearer()})
    assert r.status_code == 413  # with the token: the size limit still applies


def test_lab_page_has_a_token_field_only_when_needed(tc: httpx.Client, oc: httpx.Client) -> None:
    page = tc.get("/lab").text
    assert 'id="token"' in page and 'type="password"' in page and 'data-auth="token"' in page
    assert TOKEN not in page
    plain = oc.get("/lab").text
    assert 'id="token"' not in plain and 'data-auth="none"' in plain


def test_settings_refuse_unusable_tokens() -> None:
    for bad in ("short", "has space in it", "nön-ascii-token", "x" * 513):
        with pytest.raises(ValueError, match="token") as info:
            Settings(token=bad)
        assert bad not in str(info.value)
    assert TOKEN not in repr(Settings(token=TOKEN))


# ---------------------------------------------------------------------------------------------
# CORS: off
# ---------------------------------------------------------------------------------------------
def _no_cors(r: httpx.Response) -> None:
    bad = [k for k in r.headers if k.lower().startswith("access-control-")]
    assert not bad, f"CORS headers in the answer: {bad}"


def test_cross_origin_reads_get_no_cors_headers(oc: httpx.Client) -> None:
    for url in ("/api/map", "/api/limits", "/api/examples/china_2021", "/lab", "/nope"):
        r = oc.get(url, headers={"origin": "https://evil.example"})
        _no_cors(r)


def test_preflight_is_refused(oc: httpx.Client, tc: httpx.Client) -> None:
    for c in (oc, tc):
        for url in (RUN, "/api/scenario/parse", "/api/map", "/"):
            r = c.options(url, headers={"origin": "https://evil.example",
                                        "access-control-request-method": "POST",
                                        "access-control-request-headers":
                                            "content-type, authorization"})
            assert r.status_code == 405, (url, r.status_code)
            _no_cors(r)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1",
                                    "http://localhost.evil.example"])
def test_cross_origin_writes_are_refused(open_server: BackgroundServer, oc: httpx.Client,
                                         china: dict[str, Any], origin: str) -> None:
    r = oc.post(RUN, json=china, headers={"origin": origin})
    assert r.status_code == 403, r.text
    _no_cors(r)
    r = oc.post("/api/scenario/parse", content=b"[scenario]\n",
                headers={"origin": origin, "content-type": "text/plain"})
    assert r.status_code == 403


def test_same_origin_writes_pass(open_server: BackgroundServer, oc: httpx.Client,
                                 china: dict[str, Any]) -> None:
    r = oc.post(RUN, json=china, params={"baseline": "false"},
                headers={"origin": open_server.url})
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------------------------
# security headers on every kind of answer
# ---------------------------------------------------------------------------------------------
def _check_headers(r: httpx.Response, what: str) -> None:
    csp = r.headers.get("content-security-policy")
    assert csp == CSP, what
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    allowed = {"'self'", "'none'", "'unsafe-inline'", "data:", "blob:"}
    for name, sources in directives.items():
        for src in sources.split():
            assert src in allowed, f"{what}: {name} allows {src}"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["object-src"] == "'none'"
    assert r.headers["x-content-type-options"] == "nosniff", what
    assert r.headers["x-frame-options"] == "DENY", what
    assert r.headers["referrer-policy"] == "no-referrer", what
    assert "server" not in r.headers, what
    _no_cors(r)


def test_security_headers_on_every_answer(open_server: BackgroundServer, oc: httpx.Client,
                                          tc: httpx.Client, china: dict[str, Any]) -> None:
    from hashshift.web.api import DOWNLOADS

    answers: dict[str, httpx.Response] = {
        "page": oc.get("/map"), "home": oc.get("/"), "api": oc.get("/api/map"),
        "api again (cached)": oc.get("/api/map"),
        "static": oc.get("/static/js/common.js"), "vendor": oc.get("/static/vendor/plotly.min.js"),
        "404 html": oc.get("/nope", headers={"accept": "text/html"}),
        "404 json": oc.get("/api/nope"),
        "redirect": oc.get("/map/", follow_redirects=False),
        "422": oc.get("/api/energy", params={"price": "-1"}),
        "400 host": oc.get("/api/map", headers={"host": "evil.example"}),
        "405 options": oc.options("/api/map"),
        "403 origin": oc.post(RUN, json=china, headers={"origin": "https://evil.example"}),
        "401": tc.post(RUN, json=china),
        "413": oc.post(RUN, content=b"x" * (300 * 1024),
                       headers={"content-type": "application/json"}),
        "414": oc.get("/api/map?" + "x" * 5000),
        "gzip": oc.get("/api/history", headers={"accept-encoding": "gzip"}),
    }
    r = oc.post(RUN, json=china, params={"baseline": "false"})
    answers["run"] = r
    for name in DOWNLOADS:
        answers[f"download {name}"] = oc.get(f"/api/runs/{r.json()['hash']}/{name}")
    etag = answers["static"].headers["etag"]
    answers["304"] = oc.get("/static/js/common.js", headers={"if-none-match": etag})
    expected = {"redirect": 308, "404 html": 404, "404 json": 404, "422": 422, "400 host": 400,
                "405 options": 405, "403 origin": 403, "401": 401, "413": 413, "414": 414,
                "304": 304}
    for what, resp in answers.items():
        assert resp.status_code == expected.get(what, 200), (what, resp.status_code)
        _check_headers(resp, what)


# ---------------------------------------------------------------------------------------------
# request size limits
# ---------------------------------------------------------------------------------------------
def test_long_urls_are_refused(oc: httpx.Client) -> None:
    assert oc.get("/api/map?" + "m" * 5000).status_code == 414
    assert oc.get("/" + "a" * 5000).status_code == 414
    assert oc.get("/api/map?level=country&" + "m" * 3000).status_code == 200  # under 4 KB


def test_body_limit_holds_without_a_length(open_server: BackgroundServer,
                                                         oc: httpx.Client) -> None:
    big = b'{"x": "' + b"a" * (300 * 1024) + b'"}'

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    r = oc.post("/api/scenario/parse", content=chunks(),
                headers={"content-type": "application/toml"})
    assert r.status_code == 413


# ---------------------------------------------------------------------------------------------
# bounded work: per request, per client, the queue
# ---------------------------------------------------------------------------------------------
def test_work_budget_per_request(china: dict[str, Any]) -> None:
    # 4 paths × 8 days = 32 path-days; with its baseline 64
    app = create_app(Settings(max_work=40))
    with BackgroundServer(app) as srv, client_at(srv) as c:
        r = c.post(RUN, json=china)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["detail"][0]["field"] == "scenario"
        assert "64 path-days" in body["problems"][0] and "baseline" in body["problems"][0]
        assert c.post(RUN, json=china, params={"baseline": "false"}).status_code == 200
        # the budget holds whether or not the answer is cached
        assert c.post(RUN, json=tiny(china, 1, paths=6)).status_code == 422
        assert c.post(RUN, json=tiny(china, 1, paths=6),
                      params={"baseline": "false"}).status_code == 422


def test_default_budget_fits_a_shipped_example_with_its_baseline() -> None:
    s = Settings()
    text = resources.files("hashshift").joinpath("examples/china_2021.toml").read_text("utf-8")
    sc = parse_scenario(text).scenario
    assert 2 * sc.paths * sc.horizon_days <= s.max_work == 2_000 * 365
    assert s.max_paths * s.max_horizon_days > s.max_work  # the budget binds


def test_one_client_one_run_others_still_served(china: dict[str, Any]) -> None:
    gate = Gate()
    app = create_app(Settings(max_concurrent_runs=2, max_runs_per_client=1, max_queue=0),
                     runner=gate)
    runs = app.state.runs
    with BackgroundServer(app) as srv, client_at(srv, "127.0.0.1") as a, \
            client_at(srv, "127.0.0.2") as b:
        results: dict[str, httpx.Response] = {}

        def post(key: str, c: httpx.Client, body: dict[str, Any]) -> threading.Thread:
            t = threading.Thread(target=lambda: results.__setitem__(
                key, c.post(RUN, params={"baseline": "false"}, json=body)))
            t.start()
            return t

        t1 = post("a1", a, named(china, "a1"))
        wait_until(lambda: runs.active == 1 and gate.calls == ["a1"])
        # the same client, another scenario: refused, with Retry-After
        r = a.post(RUN, params={"baseline": "false"}, json=named(china, "a2"))
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "this client" in r.json()["detail"]
        # the same client, the same scenario: joins the run under way (no new slot). It must
        # join before b1 takes the last slot: a full server refuses run requests before reading
        # them, joins included (RunGate)
        t2 = post("a1 again", a, named(china, "a1"))
        wait_until(lambda: runs.joined == 1)
        # another client: gets the second slot
        t3 = post("b1", b, named(china, "b1"))
        wait_until(lambda: runs.active == 2 and sorted(gate.calls) == ["a1", "b1"])
        # both slots busy (their runs wait for the gate): reads are still answered
        assert b.get("/api/map").status_code == 200 and a.get("/lab").status_code == 200
        assert a.get("/api/runs/active").json()["active"] == 2
        gate.open.set()
        for t in (t1, t2, t3):
            t.join()
        assert {k: v.status_code for k, v in results.items()} == {
            "a1": 200, "a1 again": 200, "b1": 200}
        assert results["a1 again"].json()["hash"] == results["a1"].json()["hash"]
        assert sorted(gate.calls) == ["a1", "b1"]
        # the client's slot is free again
        assert a.post(RUN, params={"baseline": "false"},
                      json=named(china, "a2")).status_code == 200


def test_queue_is_bounded_and_fifo(china: dict[str, Any]) -> None:
    gate = Gate()
    app = create_app(Settings(max_concurrent_runs=1, max_runs_per_client=1, max_queue=2),
                     runner=gate)
    runs = app.state.runs
    with BackgroundServer(app) as srv:
        clients = {n: client_at(srv, f"127.0.0.{n}") for n in (1, 2, 3, 4)}
        results: dict[str, httpx.Response] = {}
        threads: list[threading.Thread] = []

        def post(key: str, n: int, name: str) -> None:
            def go() -> None:
                results[key] = clients[n].post(RUN, params={"baseline": "false"},
                                               json=named(china, name))
            threads.append(threading.Thread(target=go))
            threads[-1].start()

        def state() -> dict[str, Any]:
            return dict(clients[4].get("/api/runs/active").json())

        try:
            post("1", 1, "client 1")  # runs
            wait_until(lambda: len(gate.calls) == 1)
            post("2", 2, "client 2")  # waits: the queue has room for 2
            wait_until(lambda: runs.queued == 1)
            assert state()["active"] == 1 and state()["runs"][0]["name"] == "client 1"
            # a waiting request holds its client's place
            again = clients[2].post(RUN, params={"baseline": "false"},
                                    json=named(china, "client 2, second"))
            assert again.status_code == 429 and "this client" in again.json()["detail"]
            # a request for a scenario that is waiting joins it (no place taken)
            post("2 joined", 4, "client 2")
            wait_until(lambda: runs.joined == 1)
            post("3", 3, "client 3")  # waits: the queue is full now
            wait_until(lambda: runs.queued == 2)
            # full: 429 with Retry-After, before the body is even read (an invalid one too)
            full = clients[4].post(RUN, params={"baseline": "false"},
                                   json=named(china, "client 4"))
            assert full.status_code == 429 and int(full.headers["retry-after"]) > 0
            assert "waiting" in full.json()["detail"]
            assert clients[4].post(RUN, json={}).status_code == 429  # not 422: not read
            assert clients[4].get("/api/map").status_code == 200  # reads go on
            gate.open.set()
            for t in threads:
                t.join()
            assert {k: r.status_code for k, r in results.items()} == {
                "1": 200, "2": 200, "2 joined": 200, "3": 200}
            assert results["2 joined"].json()["hash"] == results["2"].json()["hash"]
            assert gate.calls == ["client 1", "client 2", "client 3"]  # first come, first run
            # everything drained: the next one runs at once
            r = clients[4].post(RUN, params={"baseline": "false"}, json=named(china, "late"))
            assert r.status_code == 200
            assert state()["active"] == 0
        finally:
            gate.open.set()
            for c in clients.values():
                c.close()


def test_a_failed_run_frees_its_slot_and_its_waiters(china: dict[str, Any]) -> None:
    gate = threading.Event()
    calls: list[str] = []

    def failing(scenario: Scenario, progress: Callable[[int, int], None]) -> Result:
        calls.append(scenario.scenario.name)
        assert gate.wait(120)
        from hashshift.sim.engine import EngineError

        raise EngineError("boom")

    app = create_app(Settings(max_concurrent_runs=1, max_queue=1), runner=failing)
    runs = app.state.runs
    with BackgroundServer(app) as srv, client_at(srv, "127.0.0.1") as a, \
            client_at(srv, "127.0.0.2") as b:
        out: dict[str, httpx.Response] = {}
        ta = threading.Thread(target=lambda: out.__setitem__("a", a.post(
            RUN, params={"baseline": "false"}, json=named(china, "x"))))
        ta.start()
        wait_until(lambda: len(calls) == 1)
        tb = threading.Thread(target=lambda: out.__setitem__("b", b.post(
            RUN, params={"baseline": "false"}, json=named(china, "y"))))
        tb.start()
        wait_until(lambda: runs.queued == 1)  # y waits for x's slot
        gate.set()
        ta.join()
        tb.join()
        assert out["a"].status_code == 422 and out["b"].status_code == 422
        assert calls == ["x", "y"]
        assert a.get("/api/runs/active").json()["active"] == 0


def _children_nice() -> dict[int, int]:
    """Nice value of each worker process multiprocessing spawned from this one."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmd = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == os.getpid() and b"multiprocessing.spawn" in cmd:
            out[int(stat.parent.name)] = int(fields[16])
    return out


def test_runs_compute_in_niced_worker_processes(china: dict[str, Any]) -> None:
    """The engine runs in worker processes at nice 10 (reads keep the server's CPU), and their
    progress still reaches /api/runs/active."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs Linux's /proc")
    app = create_app(Settings())
    assert app.state.runs.processes
    others = set(_children_nice())  # workers of the other servers of this module
    with BackgroundServer(app) as srv, client_at(srv) as c:
        body = tiny(china, 5, paths=500, days=240)
        out: dict[str, httpx.Response] = {}
        t = threading.Thread(target=lambda: out.__setitem__("r", c.post(
            RUN, params={"baseline": "false"}, json=body)))
        t.start()
        seen: list[tuple[int, int]] = []
        niced: dict[int, int] = {}
        with client_at(srv, "127.0.0.2") as watcher:
            while t.is_alive():
                runs = watcher.get("/api/runs/active").json()["runs"]
                seen += [(r["done"], r["total"]) for r in runs]
                if any(r["done"] > 0 for r in runs):  # a worker is computing
                    niced = {pid: n for pid, n in _children_nice().items() if pid not in others}
                time.sleep(0.05)
        t.join()
        assert out["r"].status_code == 200, out["r"].text
        assert any(0 < done < total == 240 for done, total in seen), seen[-5:]
        assert niced and set(niced.values()) == {10}, niced
    wait_until(lambda: not set(niced) & set(_children_nice()))  # they end with the server


# ---------------------------------------------------------------------------------------------
# no path from a request reaches the filesystem
# ---------------------------------------------------------------------------------------------
_OPENED: list[str] = []
_RECORD = threading.Event()
_MARK = "hsprobe7f3a"


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _RECORD.is_set() and event in ("open", "os.listdir", "os.scandir", "os.chdir",
                                      "shutil.copyfile", "os.remove", "os.rename"):
        if args and isinstance(args[0], (str, bytes, os.PathLike)):
            _OPENED.append(os.fsdecode(args[0]))


def test_request_paths_never_reach_the_filesystem(oc: httpx.Client) -> None:
    sys.addaudithook(_audit)  # stays installed; records only while _RECORD is set
    probes = [
        f"/static/js/{_MARK}.js", f"/static/css/..%2f..%2f{_MARK}", f"/static/{_MARK}/x.js",
        "/static/js/..%2f..%2f..%2fapi.py", "/static/js/%2e%2e/%2e%2e/app.py",
        "/static/vendor/plotly.min.js%00.txt", "/static/..%2f..%2f..%2fpyproject.toml",
        "/static/js/../../../../etc/passwd", "//etc/passwd", "/etc/passwd",
        f"/api/examples/{_MARK}", "/api/examples/..%2f..%2fpyproject",
        "/api/examples/%2e%2e%2f%2e%2e%2fetc%2fpasswd", f"/api/examples/{_MARK}.toml",
        f"/api/runs/0123456789abcdef/..%2f{_MARK}", "/api/runs/0123456789abcdef/daily.csv",
        f"/api/runs/{_MARK}/config.json", "/api/runs/..%2f..%2f/etc%2fpasswd",
        f"/api/economics?machine=../../{_MARK}", f"/api/map?month=../{_MARK}",
        f"/{_MARK}", f"/lab/{_MARK}",
    ]
    _OPENED.clear()
    _RECORD.set()
    try:
        answers = {p: oc.get(p) for p in probes}
        answers["parse"] = oc.post("/api/scenario/parse", content=(
            f'[scenario]\nname = "{_MARK}"\nfile = "/etc/passwd"\n'
            f'include = "../../{_MARK}.toml"\n').encode())
        open(__file__, "rb").close()  # proves that the hook records opens
    finally:
        _RECORD.clear()
    assert __file__ in _OPENED
    for p, r in answers.items():
        assert r.status_code in (400, 404, 422), (p, r.status_code)
        assert "root:" not in r.text and "[project]" not in r.text, p
    touched = [f for f in _OPENED if _MARK in f or "passwd" in f or "pyproject" in f]
    assert not touched, f"request data reached the filesystem: {touched}"


# ---------------------------------------------------------------------------------------------
# the response cache
# ---------------------------------------------------------------------------------------------
def test_response_cache_serves_the_same_bytes_and_forgets_evicted_runs(
        china: dict[str, Any]) -> None:
    app = create_app(Settings(cache_size=1))
    with BackgroundServer(app) as srv, client_at(srv) as c:
        cache = app.state.response_cache
        first = c.get("/api/map", params={"month": "2021-04"})
        hits = cache.hits
        second = c.get("/api/map", params={"month": "2021-04"})
        assert cache.hits == hits + 1 and second.content == first.content
        assert second.headers["content-type"] == "application/json"
        # gzip and identity are cached apart, each correct
        z1 = c.get("/api/history", headers={"accept-encoding": "gzip"})
        z2 = c.get("/api/history", headers={"accept-encoding": "gzip"})
        plain = c.get("/api/history", headers={"accept-encoding": "identity"})
        assert z1.headers["content-encoding"] == "gzip" == z2.headers["content-encoding"]
        assert z1.content == z2.content == plain.content  # httpx decodes
        assert "content-encoding" not in plain.headers
        # runs: cached while in the run cache; gone with it (cache_size=1)
        a = c.post(RUN, params={"baseline": "false"}, json=tiny(china, 11)).json()["hash"]
        url = f"/api/runs/{a}/result.json"
        body = c.get(url).content
        hits = cache.hits
        assert c.get(url).content == body and cache.hits == hits + 1
        c.post(RUN, params={"baseline": "false"}, json=tiny(china, 12))
        assert c.get(url).status_code == 404
        assert c.get(f"/api/runs/{a}").status_code == 404
        assert not any(e.tag == a for e in cache._entries.values())
        # what may change is never cached
        for url in ("/api/retarget", "/api/runs", "/api/runs/active", "/api/limits"):
            c.get(url)
            c.get(url)
        assert not any(k[0] in ("/api/retarget", "/api/runs", "/api/runs/active",
                                "/api/limits") for k in cache._entries)
        assert not any(k[0].startswith("/api/scenario") for k in cache._entries)


def test_a_run_read_from_the_response_cache_stays_in_the_run_cache(
        china: dict[str, Any]) -> None:
    """Reads answered by the response cache count as uses of the run: with room for two runs,
    a run read between each new one outlives two newer runs nobody reads (the run cache is
    least recently *used*, not least recently computed)."""
    app = create_app(Settings(cache_size=2))
    with BackgroundServer(app) as srv, client_at(srv) as c:
        cache = app.state.response_cache
        a = c.post(RUN, params={"baseline": "false"}, json=tiny(china, 21)).json()["hash"]
        url = f"/api/runs/{a}/result.json"
        assert c.get(url).status_code == 200  # the miss fills the response cache
        made = []
        for seed in (22, 23, 24):
            hits = cache.hits
            assert c.get(url).status_code == 200 and cache.hits == hits + 1  # a hit
            made.append(c.post(RUN, params={"baseline": "false"},
                               json=tiny(china, seed)).json()["hash"])
        assert c.get(url).status_code == 200
        assert c.get(f"/api/runs/{made[0]}").status_code == 404  # unread: evicted
        assert c.get(f"/api/runs/{made[1]}").status_code == 404
        assert c.get(f"/api/runs/{made[2]}").status_code == 200


def test_response_cache_is_bounded() -> None:
    app = create_app(Settings(response_cache_mb=1))
    plain = {"accept-encoding": "identity"}
    with BackgroundServer(app) as srv, client_at(srv, headers=plain) as c:
        size = len(c.get("/api/history").content)
        assert size > 2**20 / 8
        for i in range(12):  # distinct query strings are distinct entries
            assert c.get("/api/history", params={"n": i}).status_code == 200
        cache = app.state.response_cache
        assert cache.size_bytes <= 2**20 and 0 < len(cache) < 13
    off = create_app(Settings(response_cache_mb=0))
    with BackgroundServer(off) as srv, client_at(srv) as c:
        assert c.get("/api/map").status_code == 200
        assert off.state.response_cache is None


def test_response_cache_computes_a_stampede_once() -> None:
    import asyncio

    from hashshift.web.respcache import ResponseCache

    n = 20
    calls: list[str] = []
    arrived = 0  # requests that reached the cache (counted on the server's event loop)

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        calls.append(scope["path"])
        while arrived < n:  # answer only once every request is in (each waits in the cache)
            await asyncio.sleep(0.01)
        body = b'{"slow": true}'
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    # a long wait_s: a waiting request must not give up and compute on a slow machine
    cache = ResponseCache(slow, rule=lambda path: "t" if path == "/x" else None, wait_s=600)

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        nonlocal arrived
        if scope["type"] == "http":
            arrived += 1  # the cache runs next, on the same loop, before anything else does
        await cache(scope, receive, send)

    with BackgroundServer(counting) as srv:
        out: list[bytes] = []

        def get() -> None:
            with client_at(srv) as c:
                out.append(c.get("/x").content)

        threads = [threading.Thread(target=get) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert out == [b'{"slow": true}'] * n
        assert calls == ["/x"] and cache.misses == 1 and cache.hits == n - 1


# ---------------------------------------------------------------------------------------------
# `hashshift serve`: binding, warning, token
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[Any, list[dict[str, Any]]]]:
    import uvicorn
    from typer.testing import CliRunner

    from hashshift.cli import app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda asgi, **kw: calls.append({"app": asgi, **kw}))
    monkeypatch.delenv("HASHSHIFT_TOKEN", raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[Any, list[dict[str, Any]]]:
        return CliRunner().invoke(app, ["serve", *args], env=env), calls

    return invoke


def test_serve_binds_loopback_and_warns_otherwise(serve: Callable[..., Any]) -> None:
    r, calls = serve()
    assert r.exit_code == 0, r.output
    assert calls[-1]["host"] == "127.0.0.1" and "warning" not in r.output.lower()
    assert calls[-1]["app"].state.settings.token is None
    for host in ("0.0.0.0", "::", "192.168.1.10"):
        r, calls = serve("--host", host)
        assert r.exit_code == 0, r.output
        out = " ".join(r.output.split())
        assert "warning" in out.lower() and host in out and "without authentication" in out
        assert calls[-1]["app"].state.settings.allowed_hosts == ("*",)


def test_serve_reads_the_token_from_the_environment(serve: Callable[..., Any]) -> None:
    r, calls = serve("--host", "0.0.0.0", env={"HASHSHIFT_TOKEN": TOKEN})
    assert r.exit_code == 0, r.output
    s = calls[-1]["app"].state.settings
    assert s.token == TOKEN and s.auth
    out = " ".join(r.output.split())
    assert "warning" in out.lower() and "need the token from HASHSHIFT_TOKEN" in out
    assert TOKEN not in r.output
    r, calls = serve("--token-env", "MY_TOKEN", env={"MY_TOKEN": TOKEN + "2"})
    assert r.exit_code == 0 and calls[-1]["app"].state.settings.token == TOKEN + "2"
    r, _ = serve("--token-env", "NOT_SET_ANYWHERE")
    assert r.exit_code == 2 and "NOT_SET_ANYWHERE" in r.output
    r, _ = serve(env={"HASHSHIFT_TOKEN": "short"})
    assert r.exit_code == 2 and "HASHSHIFT_TOKEN" in r.output and "short" not in r.output
    r, _ = serve("--token", TOKEN)  # never on the command line
    assert r.exit_code != 0
    r, calls = serve("--max-work", "1000", "--queue", "0", "--max-runs-per-client", "3")
    s = calls[-1]["app"].state.settings
    assert (s.max_work, s.max_queue, s.max_runs_per_client) == (1000, 0, 3)


def test_served_process_binds_only_loopback(tmp_path: Path) -> None:
    """The real command: the default binds 127.0.0.1 and nothing else."""
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "HASHSHIFT_TOKEN"}
    proc = subprocess.Popen([sys.executable, "-m", "hashshift", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 300  # a hang guard: start-up is slow on a loaded machine
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/limits", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
        mine = [line.split()[1] for line in listening
                if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"]
        assert mine == [f"0100007F:{port:04X}"], mine  # 127.0.0.1, not 0.0.0.0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


# ---------------------------------------------------------------------------------------------
# the lab in a real browser, with a token
# ---------------------------------------------------------------------------------------------
def _until(page: Any, js: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(f"() => Boolean({js})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {js}")
        page.wait_for_timeout(50)


def test_lab_with_a_token_in_the_browser(browser: Any, token_server: BackgroundServer) -> None:
    ctx = browser.new_context(service_workers="block")
    page = ctx.new_page()
    page.set_default_timeout(90_000)  # a hang guard: a loaded machine can be slow
    blocked: list[str] = []
    errors: list[str] = []
    local = re.compile(r"^(https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/|data:|blob:)")

    def route(r: Any) -> None:
        if local.match(r.request.url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        page.goto(token_server.url + "/lab")
        _until(page, "document.querySelectorAll('#events .ev').length >= 5")
        page.fill("#paths", "8")
        page.fill("#horizon", "20")
        # without the token: the page says what is missing
        page.click("#run")
        _until(page, "document.getElementById('status').textContent.includes('access token')")
        assert "error" in (page.locator("#status").get_attribute("class") or "")
        # with it: the run goes through
        page.fill("#token", TOKEN)
        page.click("#run")
        _until(page, "document.getElementById('status').textContent.startsWith('Done')")
        # 'Done' shows before the charts are drawn; the run's hash is set once they are
        _until(page, "document.body.dataset.runHash !== undefined")
        assert re.fullmatch(r"[0-9a-f]{16}", page.evaluate("() => document.body.dataset.runHash"))
        # kept for this tab: after a reload the field is filled and runs work (from the cache)
        page.reload()
        _until(page, "document.querySelectorAll('#events .ev').length >= 5")
        assert page.input_value("#token") == TOKEN
        page.fill("#paths", "8")
        page.fill("#horizon", "20")
        page.click("#run")
        _until(page, "document.getElementById('status').textContent.includes('cache')")
        # a wrong token is reported as such
        page.fill("#token", "wrong-token-000")
        page.click("#run")
        _until(page, "document.getElementById('status').textContent.includes('refused')")
        assert not blocked, f"requests beyond this machine: {blocked}"
        real = [e for e in errors if "status of 401" not in e]
        assert not real, f"console errors: {real}"
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------------
# scripts/audit.py
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hashshift_audit", REPO / "scripts" / "audit.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_audit_skips_with_a_message_when_pypi_is_unreachable(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the check fails at once, offline
    env = {**os.environ, "HASHSHIFT_AUDIT_CHECK_URL": f"http://127.0.0.1:{port}/pypi/x/json"}
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "audit.py")], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("dependency audit skipped: "), r.stdout


def test_audit_reports_vulnerabilities_and_fails(audit: ModuleType,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    report = {"dependencies": [
        {"name": "fine", "version": "1.0", "vulns": []},
        {"name": "leaky", "version": "0.1", "vulns": [
            {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "fix_versions": ["0.2"],
             "description": "a hole"}]},
        {"name": "hashshift", "skip_reason": "not on PyPI"}], "fixes": []}
    assert audit.summarize(report) == 1
    out = capsys.readouterr().out
    assert "leaky 0.1" in out and "PYSEC-0000-1" in out and "CVE-0000-1" in out
    assert "0.2" in out and "1 known vulnerability" in out
    clean = {"dependencies": [{"name": "fine", "version": "1.0", "vulns": []},
                              {"name": "hashshift", "skip_reason": "distribution marked as "
                                                                   "editable"}]}
    assert audit.summarize(clean) == 0
    assert "1 packages, no known vulnerabilities" in capsys.readouterr().out
    # nothing could be looked up (a mirror without the per-release API): skipped, not "clean"
    blind = {"dependencies": [{"name": n, "version": "1", "skip_reason": "Dependency not found "
                               "on PyPI and could not be audited"} for n in ("a", "b")]}
    assert audit.summarize(blind) == 0
    assert capsys.readouterr().out.startswith("dependency audit skipped: none of the 2")
