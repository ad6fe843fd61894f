"""Sweeps: spec validation, identical results on every scheduler, resume after kill -9,
failing tasks, the store table, sensitivity and the tornado chart."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hashshift import sweep as sw
from hashshift.cli import app
from hashshift.sim.scenario import Scenario
from hashshift.store import DB_NAME, Store
from sweepspecs import small_sweep

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]

# 2 ban choices × 4 LHS samples = 8 short, small tasks (about 0.3 s each).
SPEC = small_sweep("t_small", n=4, paths=16, seed=11, horizon_days=60, volatility_axis=True)

# Two of the four tasks start before the bundled history: the engine raises for them.
FAILING = """
[sweep]
name = "t_fail"
base = "china_2021"
paths = 8
seed = 3

[set]
scenario.horizon_days = 30

[[axis]]
name = "as_of"
path = "scenario.as_of"
values = [2008-01-01, 2021-05-31]

[[axis]]
name = "delay"
path = "migration.delay_median_days"
values = [60.0, 90.0]
"""


def _cli_cmd() -> list[str]:
    # What `python -m hashshift` runs.
    return [sys.executable, "-c", "from hashshift.cli import main; main()"]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["task", "seed", "metric", "value"]
    left = a[cols].sort_values(["task", "metric"]).reset_index(drop=True)
    right = b[cols].sort_values(["task", "metric"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_exact=True, check_dtype=False)


@pytest.fixture(scope="module")
def plan() -> sw.Sweep:
    return sw.parse_sweep(SPEC, "small.toml")


@pytest.fixture(scope="module")
def reference(plan: sw.Sweep, tmp_path_factory: pytest.TempPathFactory) -> sw.SweepResult:
    """The sweep run in-process (``local``): what every other run must reproduce."""
    work = tmp_path_factory.mktemp("ref")
    return sw.run_sweep(plan, scheduler="local", work_dir=work, ingest_results=False)


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """A real Dask LocalCluster with 2 worker processes, started by the test."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.ERROR) as cluster:
        yield cluster.scheduler_address


# -- the spec ---------------------------------------------------------------------------------
def test_tasks_share_one_seed_under_common_random_numbers(plan: sw.Sweep) -> None:
    assert len(plan.tasks) == 8
    shared = int(np.random.SeedSequence(11).spawn(1)[0].generate_state(1)[0])
    for t in plan.tasks:
        assert t.seed == shared
        sc = Scenario.model_validate_json(t.scenario_json)
        assert sc.scenario.seed == t.seed and sc.scenario.paths == 16
        assert sc.scenario.horizon_days == 60 and sc.price.kind == "gbm"
        assert sc.migration.delay_median_days == t.params["delay"]
        assert 30 <= t.params["delay"] <= 180 and 30 <= t.params["vol"] <= 120
    # the ban axis is crossed with the same four samples
    assert [t.params["ban_region"] for t in plan.tasks] == ["none"] * 4 + ["US"] * 4
    assert [t.params["delay"] for t in plan.tasks[:4]] == [t.params["delay"]
                                                           for t in plan.tasks[4:]]
    again = sw.parse_sweep(SPEC, "small.toml")
    assert [t.key for t in again.tasks] == [t.key for t in plan.tasks]


def test_without_common_random_numbers_each_task_has_its_own_spawned_seed() -> None:
    text = SPEC.replace("seed = 11", "seed = 11\ncommon_random_numbers = false", 1)
    assert text != SPEC
    own = sw.parse_sweep(text, "own.toml")
    children = np.random.SeedSequence(11).spawn(8)
    assert [t.seed for t in own.tasks] == [int(c.generate_state(1)[0]) for c in children]
    assert own.counterfactuals() == {4 + i: i for i in range(4)}


def test_ban_region_adds_or_replaces_a_ban() -> None:
    text = SPEC.replace('values = ["none", "US"]', 'values = ["none", "CN-XJ", "US"]')
    keep = sw.parse_sweep(text, "s.toml")
    by_region = {t.params["ban_region"]: Scenario.model_validate_json(t.scenario_json)
                 for t in keep.tasks}
    # the spec shortens the horizon: the base's events after it are left out of every task
    end = keep.base.scenario.as_of + timedelta(
        days=by_region["none"].scenario.horizon_days - 1)
    base_events = [e for e in keep.base.event
                   if (getattr(e, "announced", None) or getattr(e, "start", None)) <= end]
    assert len(base_events) < len(keep.base.event)
    assert by_region["none"].event == base_events
    xj = [e for e in by_region["CN-XJ"].event if getattr(e, "region", None) == "CN-XJ"]
    assert len(by_region["CN-XJ"].event) == len(base_events) and len(xj) == 1
    as_of = keep.base.scenario.as_of
    assert xj[0].announced == as_of and xj[0].effective == as_of + timedelta(days=14)
    assert len(by_region["US"].event) == len(base_events) + 1
    drop = sw.parse_sweep(text + '\n[ban]\nothers = "drop"\neffective_day = 5\n', "s.toml")
    us = next(Scenario.model_validate_json(t.scenario_json) for t in drop.tasks
              if t.params["ban_region"] == "US")
    assert [(e.kind, getattr(e, "region", None)) for e in us.event] == [("ban", "US")]
    assert us.event[0].effective == as_of + timedelta(days=5)


BAD = [
    ('[[axis]]\npath = "migration.delay_days"\nvalues = [1.0]',
     "unknown field 'migration.delay_days'", "delay_median_days"),
    ('[[axis]]\npathh = "migration.delay_sigma"\nvalues = [1.0]', "pathh: unknown field", ""),
    ('[[axis]]\npath = "migration.delay_sigma"\nvalues = []', "values is empty", ""),
    ('[[axis]]\nname = "delay"\npath = "migration.delay_median_days"\nvalues = [60.0, 800.0]',
     "axis 'delay' = 800", "less than or equal to 720"),
    ('[[axis]]\npath = "ban_region"\nvalues = ["US", "XX"]', "value 'XX'", "unknown region"),
    ('[[axis]]\npath = "event[9].underground"\nvalues = [0.1]', "event[9] does not exist", ""),
    ('[[axis]]\npath = "scenario.seed"\nvalues = [1, 2]', "set by the sweep", ""),
    ('[sampling]\nmethod = "sobol"\nn = 100\n[[axis]]\npath = "migration.delay_sigma"\n'
     'distribution = "uniform"\nlow = 0.1\nhigh = 1', "power of 2", ""),
    ('[[axis]]\npath = "migration.delay_sigma"\ndistribution = "uniform"\nlow = 0.1\nhigh = 1',
     "grid method needs values", ""),
    ('[set]\nprice.knd = "gbm"\n[[axis]]\npath = "migration.delay_sigma"\nvalues = [0.5]',
     "[set] 'price.knd'", "did you mean kind"),
    ('[[axis]]\npath = "migration.delay_sigma"\nvalues = [0.3, 0.4, 0.5]\n[[axis]]\n'
     'path = "migration.delay_median_days"\nvalues = [30.0, 60.0, 90.0]',
     "expands to 9 tasks, more than --max-tasks 8", ""),
]
HEAD = '[sweep]\nname = "bad"\nbase = "china_2021"\npaths = 10\nseed = 1\n'


@pytest.mark.parametrize(("body", "must", "also"), BAD)
def test_bad_specs_fail_before_anything_runs(body: str, must: str, also: str) -> None:
    with pytest.raises(sw.SweepError) as exc:
        sw.parse_sweep(HEAD + body, "bad.toml", max_tasks=8)
    msg = str(exc.value)
    assert must in msg and also in msg
    assert msg.startswith("bad.toml")


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = runner.invoke(app, ["sweep", str(spec), "--scheduler", "dask",
                              "--address", f"tcp://127.0.0.1:{port}"])
    assert res.exit_code == 2, res.output
    # refused by the socket check before any Dask client waits for its connect timeout
    out = " ".join(res.output.split())
    assert "cannot reach the Dask scheduler" in out and "Connection refused" in out, out
    for args, text in (
        (["--max-tasks", "5"], "more than --max-tasks 5"),
        (["--scheduler", "ray"], "not one of local, processes, dask"),
        (["--address", "tcp://127.0.0.1:1"], "--address is for --scheduler dask"),
    ):
        res = runner.invoke(app, ["sweep", str(spec), *args])
        assert res.exit_code == 2, res.output
        assert text in res.output
        assert res.output.strip().count("\n") == 0, res.output
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("part-*"))


def test_dry_run_of_every_shipped_sweep() -> None:
    shipped = sw.shipped_sweeps()
    assert {"ban_top15", "china_lhs", "china_saltelli"} <= set(shipped)
    for name in shipped:
        res = runner.invoke(app, ["sweep", name, "--dry-run", "--json"])
        assert res.exit_code == 0, res.output
        info = json.loads(res.output)
        assert info["sweep"] == name and info["tasks"] > 0
    assert json.loads(runner.invoke(app, ["sweep", "ban_top15", "--dry-run", "--json"]
                                    ).output)["tasks"] == 16


# -- schedulers -------------------------------------------------------------------------------
def test_same_results_on_local_processes_and_dask(plan: sw.Sweep, reference: sw.SweepResult,
                                                  dask_address: str, tmp_path: Path) -> None:
    assert reference.stats.computed == 8 and not reference.failures
    assert set(sw.HEADLINE_METRICS) <= set(reference.tidy["metric"])
    procs = sw.run_sweep(plan, scheduler="processes", workers=2, work_dir=tmp_path / "p",
                         ingest_results=False)
    dask = sw.run_sweep(plan, scheduler="dask", address=dask_address, work_dir=tmp_path / "d",
                        ingest_results=False)
    assert procs.stats.workers == 2 and dask.stats.workers == 2
    _same(reference.tidy, procs.tidy)
    _same(reference.tidy, dask.tidy)
    pd.testing.assert_frame_equal(reference.tasks, dask.tasks, check_exact=True)


def test_pool_workers_run_single_threaded_blas_and_glibc_defaults() -> None:
    """The settings that make 2 workers use 2 cores (docs/sweeps.md, Performance): one BLAS
    thread per worker; in the LocalCluster a sweep starts, glibc's adaptive mmap threshold kept
    (no MALLOC_TRIM_THRESHOLD_) and no statistical profiler."""
    import dask.config

    blas = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    driver = {k: os.environ.get(k) for k in blas}
    with sw.open_executor("processes", workers=1) as pool:
        got = {k: pool.executor.submit(os.getenv, k).result() for k in blas}
    assert got == {k: os.environ.get(k, "1") for k in blas}
    assert {k: os.environ.get(k) for k in blas} == driver  # the driver's environment is as it was
    with sw.open_executor("dask", workers=1) as pool:
        trim = pool.client.run(os.getenv, "MALLOC_TRIM_THRESHOLD_")
        profile = pool.client.run(dask.config.get, "distributed.worker.profile.enabled")
        threads = pool.client.run(os.getenv, "OMP_NUM_THREADS")
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        assert list(trim.values()) == [None]
    assert list(profile.values()) == [False]
    assert list(threads.values()) == [os.environ.get("OMP_NUM_THREADS", "1")]


def test_failing_task_is_reported_and_the_others_finish(dask_address: str,
                                                        tmp_path: Path) -> None:
    plan = sw.parse_sweep(FAILING, "fail.toml")
    seen: list[sw.TaskFailure] = []
    res = sw.run_sweep(plan, scheduler="dask", address=dask_address, work_dir=tmp_path / "w",
                       on_failure=seen.append, ingest_results=False)
    assert sorted(f.index for f in res.failures) == [0, 1] == sorted(f.index for f in seen)
    assert all(f.params["as_of"] == "2008-01-01" for f in res.failures)
    assert "outside the data" in res.failures[0].error
    assert sorted(res.tidy["task"].unique()) == [2, 3]
    assert (tmp_path / "w" / "part-000000.error.json").exists()


def test_cli_failures_exit_1_and_fail_fast_stops(tmp_path: Path) -> None:
    spec = tmp_path / "fail.toml"
    spec.write_text(FAILING)
    work = tmp_path / "w"
    res = runner.invoke(app, ["sweep", str(spec), "--scheduler", "local", "--work", str(work),
                              "--fail-fast"])
    assert res.exit_code == 1, res.output
    assert "task 0 (as_of=2008-01-01, delay=60)" in res.output and "--fail-fast" in res.output
    assert not list(work.glob("part-*.parquet"))  # stopped at the first task
    res = runner.invoke(app, ["sweep", str(spec), "--scheduler", "local", "--work", str(work),
                              "--json"])
    assert res.exit_code == 1
    info = json.loads(res.stdout)
    assert info["computed"] == 2 and info["failed"] == 2
    assert [f["params"] for f in info["failures"]] == [
        {"as_of": "2008-01-01", "delay": 60.0}, {"as_of": "2008-01-01", "delay": 90.0}]
    assert "failed: task 1 (as_of=2008-01-01, delay=90)" in res.output
    stored = Store().read_table("sweep_results")
    assert sorted(stored["task"].unique()) == [2, 3]


# -- resume -----------------------------------------------------------------------------------
def test_kill_driver_then_resume_gives_identical_results(reference: sw.SweepResult,
                                                         tmp_path: Path) -> None:
    spec = tmp_path / "small.toml"
    spec.write_text(SPEC)
    work, home = tmp_path / "work", tmp_path / "home"
    env = {**os.environ, "HASHSHIFT_HOME": str(home)}
    cmd = [*_cli_cmd(), "sweep", str(spec), "--scheduler", "local", "--work", str(work)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 300  # a hang guard: waits for two parts, not for a time
    while proc.poll() is None and len(list(work.glob("part-*.parquet"))) < 2:
        assert time.monotonic() < deadline, "the sweep wrote fewer than two parts"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    parts = sorted(work.glob("part-*.parquet"))
    assert 2 <= len(parts) < 8, "the driver should have been killed mid-sweep"
    assert not (home / DB_NAME).exists() or Store(home / DB_NAME).read_table(
        "sweep_results").empty  # nothing ingested by the killed driver
    mtimes = {p.name: p.stat().st_mtime_ns for p in parts}

    out = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["resumed"] == len(parts) and info["computed"] == 8 - len(parts)
    assert {p.name: p.stat().st_mtime_ns for p in parts} == mtimes  # not recomputed
    stored = Store(home / DB_NAME).read_table("sweep_results")
    _same(reference.tidy, stored)
    assert set(stored["sweep"]) == {"t_small"}
    assert json.loads(stored["params"].iloc[0]) == reference.tidy["params"].map(
        json.loads).iloc[0]


def test_store_table_replaced_on_reingest(reference: sw.SweepResult) -> None:
    n = sw.ingest(reference)
    n2 = sw.ingest(reference)
    stored = Store().read_table("sweep_results")
    assert n == n2 == len(stored) == len(reference.tidy)
    _same(reference.tidy, stored)


# -- sensitivity and tornado ------------------------------------------------------------------
SALTELLI = """
[sweep]
name = "t_sal"
base = "china_2021"
paths = 4
seed = 5

[sampling]
method = "saltelli"
n = 256

[[axis]]
name = "a"
path = "migration.delay_median_days"
distribution = "uniform"
low = 0.001
high = 1

[[axis]]
name = "b"
path = "migration.delay_sigma"
distribution = "uniform"
low = 0.001
high = 1

[[axis]]
name = "c"
path = "migration.build_days"
distribution = "uniform"
low = 0.001
high = 1
"""


def test_sobol_indices_and_src_on_a_known_function() -> None:
    from hashshift.report.sensitivity import tornado_figure, tornado_html

    plan = sw.parse_sweep(SALTELLI, "sal.toml", max_tasks=2000)
    assert len(plan.tasks) == 256 * 5
    x = pd.DataFrame([{"task": t.index, "seed": t.seed, **t.params} for t in plan.tasks])
    # y = 4a + b² (c has no effect): S1(a) ≈ 16/12 / (16/12 + 4/45) ≈ 0.94, S1(b) ≈ 0.06
    x["trough_drop_pct"] = 4 * x["a"] + x["b"] ** 2
    sens = sw.sensitivity(plan, x, ["trough_drop_pct"])
    by = sens.set_index("axis")
    assert list(sens["axis"]) == ["a", "b", "c"]  # widest swing first
    assert by.loc["a", "s1"] == pytest.approx(0.94, abs=0.05)
    assert by.loc["b", "st"] == pytest.approx(0.06, abs=0.03)
    assert abs(by.loc["c", "st"]) < 0.01
    assert by.loc["a", "src"] > 0.9 and abs(by.loc["c", "src"]) < 0.05
    assert by.loc["a", "r2"] > 0.95
    fig = tornado_figure(sens)
    assert [tr.name for tr in fig.data] == ["axis low end", "axis high end"]
    assert list(fig.data[0].y) == ["c", "b", "a"]  # plotly draws bottom-up: widest on top
    html = tornado_html(sens, ["trough_drop_pct"])
    assert "plotly" in html and "drop to the trough [%]" in html


def test_categorical_axis_gives_effects_not_ranges(reference: sw.SweepResult,
                                                  tmp_path: Path) -> None:
    sens = reference.sensitivity
    assert set(sens["axis"]) == {"delay", "vol"} and set(sens["kind"]) == {"numeric"}
    eff = reference.effects
    # each US task against the no-ban task with the same delay and volatility
    assert set(eff["ban_region"]) == {"US"}
    tasks = reference.tasks.set_index("task")
    for r in eff.drop_duplicates("task").itertuples():
        cf = tasks.loc[r.counterfactual]
        assert cf["ban_region"] == "none" and cf["delay"] == r.delay and cf["vol"] == r.vol
        assert r.label.startswith("United States (US) · delay=")
    low = eff[eff["effect"] == "low_point_ehs"]
    assert (low["q50"] < 0).all() and (low["n"] == 16).all()
    files = reference.write(tmp_path / "out")
    names = {f.name for f in files}
    assert {"results.csv", "results_tidy.csv", "sensitivity.csv", "effects.csv",
            "tornado.html", "effects.html"} <= names
    wide = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(wide.columns[:5]) == ["task", "seed", "delay", "vol", "ban_region"]
    assert len(wide) == 8
    written = pd.read_csv(tmp_path / "out" / "effects.csv")
    assert len(written) == len(eff) and "mc_se" in written.columns


def test_outcome_metrics_definitions(reference: sw.SweepResult) -> None:
    w = reference.tasks
    assert (w["trough_hashrate_ehs"] <= w["hashrate_start_ehs"]).all()
    assert np.allclose(w["trough_drop_pct"],
                       (w["trough_hashrate_ehs"] / w["hashrate_start_ehs"] - 1) * 100)
    shares = [c for c in w.columns if c.startswith("share_shift_pp:")]
    assert "share_shift_pp:US" in shares
    assert np.allclose(w[shares].sum(axis=1), 0.0, atol=1e-4)  # shares still sum to 100
    assert (w["max_share_gain_pp"] == w[shares].max(axis=1)).all()


def test_sweep_imports_no_charts_or_engine() -> None:
    """``import hashshift.sweep`` stays light: plotly, scipy, Dask and the engine load when a
    chart, a design or a run needs them; the tornado names still resolve, from report/."""
    code = ("import sys, hashshift.sweep as sw; "
            "print(sorted(m for m in ('plotly', 'scipy', 'distributed', 'hashshift.sim.engine') "
            "if m in sys.modules)); "
            "import hashshift.report.sensitivity as charts; "
            "print(sw.tornado_figure is charts.tornado_figure, "
            "sw.tornado_html is charts.tornado_html)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[]", "True True"]
