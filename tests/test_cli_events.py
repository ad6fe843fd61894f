"""``hashshift events`` and ``hashshift event-study``, driven through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hashshift import events
from hashshift.cli import app

runner = CliRunner()


def _strict(text: str) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_events_lists_the_catalogue() -> None:
    cat = events.catalogue()
    result = runner.invoke(app, ["events"])
    assert result.exit_code == 0, result.output
    out = result.output
    for r in cat.to_dict("records"):
        assert r["event"] in out and r["region"] in out
        assert f"{r['stopped_lo'] * 100:.0f}–{r['stopped_hi'] * 100:.0f} %" in out
    assert "2022-01-05 14:00 → 2022-01-07" in out  # Kazakhstan: the hour the cut began
    assert "Winter Storm Elliott" in out and "CoinDesk 26 Dec 2022" in out  # name and source
    assert "hashshift event-study NAME" in out


def test_events_json_and_as_of() -> None:
    result = runner.invoke(app, ["events", "--json"])
    assert result.exit_code == 0, result.output
    payload = _strict(result.output)
    assert [e["event"] for e in payload["events"]] == list(events.catalogue()["event"])
    kz = next(e for e in payload["events"] if e["event"] == "kazakhstan_2022")
    assert kz["during_start"] == "2022-01-05T14:00:00+00:00"
    assert kz["stopped_basis"] and kz["sources"] and kz["nowcast"] is True
    # as known on 1 January 2022: the Kazakh shutdown had not happened yet
    early = _strict(runner.invoke(app, ["events", "--json", "--as-of", "2022-01-01"]).output)
    assert early["as_of"] == "2022-01-01"
    assert [e["event"] for e in early["events"]] == ["xinjiang_2021", "china_2021"]


def test_event_study_prints_the_table_drop_and_share(tmp_path: Path) -> None:
    es = events.event_study("elliott_2022")
    chart = tmp_path / "charts" / "elliott.png"
    result = runner.invoke(app, ["event-study", "elliott_2022", "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    out = result.output
    d, s = es.drop_pct, es.share_pct
    assert "Winter Storm Elliott" in out and "blocks per hour" in out
    assert f"{d['drop_pct']:.1f} %" in out
    assert f"{d['poisson_lo_pct']:.1f} to {d['poisson_hi_pct']:.1f} %" in out  # Poisson alone
    assert f"{d['lo_pct']:.1f} to {d['hi_pct']:.1f} %" in out  # with the background spread
    assert f"{s['point_low_pct']:.1f}–{s['point_high_pct']:.1f} %" in out
    for r in es.table.to_dict("records"):
        assert f"{r['blocks']:,.0f}" in out and f"{r['hashrate_ehs']:,.1f}" in out
    assert f"chart written to {chart}" in out.replace("\n", "")
    data = chart.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_event_study_json() -> None:
    result = runner.invoke(app, ["event-study", "china_2021", "--json"])
    assert result.exit_code == 0, result.output
    payload = _strict(result.output)
    es = events.event_study("china_2021")
    assert payload["resolution"] == es.resolution == "day"
    assert [w["window"] for w in payload["windows"]] == ["before", "during"]
    assert payload["drop_pct"]["drop_pct"] == pytest.approx(es.drop_pct["drop_pct"])
    lo, mid, hi = (payload["drop_pct"][k] for k in ("lo_pct", "drop_pct", "hi_pct"))
    assert lo < mid < hi
    assert payload["share_pct"]["point_low_pct"] <= payload["share_pct"]["point_high_pct"]
    assert payload["event"]["region"] == "CN" and payload["chart"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["event-study", "no_such_event"], "no natural experiment 'no_such_event'"),
        (["event-study", "fern_2026", "--as-of", "2025-01-01"], "as known on 2025-01-01"),
        (["event-study", "fern_2026", "--as-of", "January"], "--as-of"),
        (["events", "--as-of", "2025-13-01"], "--as-of"),
    ],
)
def test_event_errors_are_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output
