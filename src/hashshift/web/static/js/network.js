/* Network page: hashrate per day (1 and 7 days, with intervals) and per epoch, difficulty per
   epoch, the projected next retarget (from real inputs only), pool shares (from the local store,
   when `hashshift data update --pools` has fetched them; otherwise the page says so). */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let hist = null;

  function fact(label, value) {
    return HS.el("div", {}, HS.el("dt", { text: label }), HS.el("dd", { text: value }));
  }

  function checkFact(r) {
    return r.check ? fact(`Rule check, epoch ${r.check.epoch}`,
      `${HS.signed(r.check.projected_change_pct, 2)} % (real ${HS.signed(r.check.actual_change_pct, 2)} %)`) : null;
  }

  function showNone(r) {
    const big = $("rt-change");
    big.textContent = "No estimate";
    big.className = "big none";
    $("rt-sub").textContent = `difficulty at block ${r.retarget_height.toLocaleString("en-US")} — needs real inputs`;
    $("rt-blocks").value = "";
    $("rt-hours").value = "";
    $("rt-facts").replaceChildren(
      fact(`Epoch ${r.epoch} began`, `block ${r.first_height.toLocaleString("en-US")}, ${r.first_time.slice(0, 16).replace("T", " ")}`),
      fact("Difficulty now", `${HS.fmt(r.difficulty / 1e12, 3)} T (bits ${r.bits})`),
      checkFact(r));
    $("rt-note").textContent = `${r.note}. To estimate it, enter ${r.needs}. Rule: ${r.rule}.`;
  }

  function showRetarget(r) {
    document.body.dataset.retargetSource = r.source;
    if (r.source === "none") { showNone(r); return; }
    const big = $("rt-change");
    big.textContent = `${HS.signed(r.change_pct, 2)} %`;
    big.className = "big " + (r.change_pct >= 0 ? "up" : "down");
    $("rt-sub").textContent = `difficulty at block ${r.retarget_height.toLocaleString("en-US")}, ` +
      `expected around ${r.retarget_eta.replace("T", " ")} UTC` + (r.clamped ? " — clamped by the ×4 rule" : "");
    $("rt-blocks").value = r.blocks;
    $("rt-hours").value = (r.elapsed_s / 3600).toFixed(2);
    $("rt-facts").replaceChildren(
      fact(`Epoch ${r.epoch} began`, `block ${r.first_height.toLocaleString("en-US")}, ${r.first_time.slice(0, 16).replace("T", " ")}`),
      fact("Blocks so far / left", `${r.blocks.toLocaleString("en-US")} / ${r.blocks_left.toLocaleString("en-US")}`),
      fact("Mean block interval", `${HS.fmt(r.mean_block_interval_s, 1)} s`),
      fact("Implied hashrate", `${HS.fmt(r.implied_hashrate_ehs, 1)} EH/s`),
      fact("Projected timespan", `${HS.fmt(r.projected_timespan_s / 86400, 3)} days (target 14)`),
      fact("Difficulty now → next", `${HS.fmt(r.difficulty / 1e12, 3)} T → ${HS.fmt(r.new_difficulty / 1e12, 3)} T`),
      fact("Bits now → next", `${r.bits} → ${r.new_bits}`),
      checkFact(r));
    $("rt-note").textContent = `Inputs: ${r.note}. Rule: ${r.rule}.`;
  }

  async function retarget(query) {
    try {
      showRetarget(await HS.api("/api/retarget" + (query || "")));
      $("rt-note").classList.remove("error");
    } catch (err) {
      $("rt-note").textContent = err.message;
    }
  }

  function halvingShapes() {
    return (hist.halvings || []).map((h) => ({
      type: "line", x0: h.date, x1: h.date, yref: "paper", y0: 0, y1: 1,
      line: { color: "#9aa4b2", width: 1, dash: "dot" },
    }));
  }

  function halvingNotes() {
    return (hist.halvings || []).map((h) => ({
      x: h.date, y: 0.99, yref: "paper", yanchor: "top", xanchor: "left", xshift: 3,
      text: `halving ${h.halving}`, showarrow: false, font: { size: 10, color: "#5b6676" },
    }));
  }

  async function drawHashrate() {
    const b = hist.blocks_daily;
    const e = hist.daily;
    const log = $("log").checked;
    const custom = b.hashrate_lo_ehs.map((lo, i) => [lo, b.hashrate_hi_ehs[i], b.blocks[i]]);
    await HS.plot("hashrate", [
      ...HS.band(b.date, b.hashrate_7d_lo_ehs, b.hashrate_7d_hi_ehs, "7-day 90 % interval", "#f7931a", 0.25),
      { x: b.date, y: b.hashrate_ehs, type: "scatter", mode: "markers", name: "1 day (blocks that day)",
        marker: { color: "#9aa4b2", size: 3 }, customdata: custom,
        hovertemplate: "1 day: %{y:,.0f} EH/s (90 %: %{customdata[0]:,.0f}–%{customdata[1]:,.0f}; %{customdata[2]} blocks)<extra></extra>" },
      { x: b.date, y: b.hashrate_7d_ehs, type: "scatter", mode: "lines", name: "7 days",
        line: { color: "#f7931a", width: 1.8 }, hovertemplate: "7 days: %{y:,.0f} EH/s<extra></extra>" },
      { x: e.date, y: e.hashrate_ehs, type: "scatter", mode: "lines", name: "per epoch (difficulty and epoch time)",
        line: { color: "#2563eb", width: 1.2, dash: "dot", shape: "hv" }, hovertemplate: "epoch mean: %{y:,.0f} EH/s<extra></extra>" },
    ], { yaxis: { type: log ? "log" : "linear", title: { text: "EH/s" }, exponentformat: "power", rangemode: log ? "normal" : "tozero", autorange: true },
      xaxis: { rangeselector: HS.rangeButtons(), range: HS.lastYears(b.date, 1) },
      legend: { orientation: "h", x: 0, y: -0.1, yanchor: "top" },
      hovermode: "x unified", shapes: halvingShapes(), annotations: halvingNotes(), margin: { t: 34, b: 70 } });
    HS.fitY("hashrate", b.date, [b.hashrate_hi_ehs]);
  }

  async function drawDifficulty() {
    const e = hist.epochs;
    const last = e.first_time[e.first_time.length - 1].slice(0, 10);
    const range = HS.lastYears([last], 3);
    await HS.plot("difficulty", [{
      x: e.first_time, y: e.difficulty, type: "scatter", mode: "lines", line: { shape: "hv", color: "#2563eb", width: 1.6 },
      name: "difficulty", customdata: e.epoch, hovertemplate: "epoch %{customdata}: %{y:,.4~g}<extra></extra>",
    }], { yaxis: { type: "linear", title: { text: "difficulty" }, exponentformat: "SI", autorange: true }, showlegend: false,
      xaxis: { rangeselector: HS.rangeButtons(), range }, hovermode: "closest", shapes: halvingShapes(), margin: { t: 34 } });
    HS.fitY("difficulty", e.first_time, [e.difficulty]);
    HS.plot("changes", [{
      x: e.first_time, y: e.change_pct, type: "bar", name: "retarget %",
      marker: { color: e.change_pct.map((c) => (c === null ? "#ccc" : c >= 0 ? "#16a34a" : "#dc2626")) },
      customdata: e.first_height, hovertemplate: "block %{customdata:,}: %{y:+.2f} %<extra></extra>",
    }], { yaxis: { title: { text: "retarget %" }, range: [-30, 40] }, showlegend: false, hovermode: "closest", bargap: 0,
      xaxis: { rangeselector: HS.rangeButtons(), range }, margin: { t: 34 } });
  }

  function showPools(p) {
    const has = p.available;
    document.body.dataset.pools = has ? "shown" : "none";
    $("pools-chart").hidden = !has;
    $("pools-wrap").hidden = !has;
    $("pools-period-label").hidden = !has || p.periods.length < 2;
    if (!has) {
      $("pools-note").textContent = p.note;
      return Promise.resolve();
    }
    const sel = $("pools-period");
    sel.replaceChildren(...p.periods.map((x) => HS.el("option", { value: x, text: x, selected: x === p.period })));
    $("pools-table").tBodies[0].replaceChildren(...p.pools.map((r) => HS.el("tr", {},
      HS.el("td", { class: "num", text: r.rank }), HS.el("td", { text: r.pool_name }),
      HS.el("td", { class: "num", text: r.blocks.toLocaleString("en-US") }),
      HS.el("td", { class: "num", text: HS.fmt(r.share_pct, 1) }),
      HS.el("td", { class: "num", text: r.empty_blocks.toLocaleString("en-US") }))));
    $("pools-note").textContent = `The last ${p.period} to ${p.as_of.slice(0, 16).replace("T", " ")} UTC: ` +
      `${p.period_blocks.toLocaleString("en-US")} blocks. Share: ${p.basis}. Source: ${p.source}, ` +
      `fetched ${p.fetched_at.slice(0, 16).replace("T", " ")} UTC (hashshift data update --pools).`;
    const top = p.top.slice().reverse();
    return HS.plot("pools-chart", [{
      type: "bar", orientation: "h", x: top.map((r) => r.share_pct), y: top.map((r) => r.pool_name),
      customdata: top.map((r) => r.blocks), marker: { color: top.map((r) => (r.rank === null ? "#9aa4b2" : "#f7931a")) },
      hovertemplate: "%{y}: %{x:.1f} % (%{customdata} blocks)<extra></extra>",
    }], { xaxis: { title: { text: "% of blocks" }, rangemode: "tozero" }, yaxis: { automargin: true },
      showlegend: false, hovermode: "closest", margin: { l: 8, t: 8 } });
  }

  async function pools(query) {
    try {
      await showPools(await HS.api("/api/pools" + (query || "")));
    } catch (err) {
      $("pools-note").textContent = "Could not load the pool shares: " + err.message;
    }
    document.body.dataset.poolsDrawn = "true";
  }

  async function init() {
    $("rt-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const b = encodeURIComponent($("rt-blocks").value);
      const h = encodeURIComponent($("rt-hours").value);
      retarget(`?blocks=${b}&elapsed_hours=${h}`);
    });
    $("rt-reset").addEventListener("click", () => retarget(""));
    $("log").addEventListener("change", drawHashrate);
    $("pools-period").addEventListener("change", (ev) => pools(`?period=${encodeURIComponent(ev.target.value)}`));
    retarget("");
    pools("");
    try {
      hist = await HS.api("/api/history");
    } catch (err) { HS.fail("hashrate", err); return; }
    const b = hist.blocks_daily;
    $("estimator").textContent = `1 day and 7 days: ${b.estimator}; newest day ${b.date[b.date.length - 1]}. ` +
      `${hist.estimator[0].toUpperCase()}${hist.estimator.slice(1)}. Source: ${hist.source}. A day has about 144 blocks: a single day's estimate is ±15 %. ` +
      `Block counts: ${b.sources.map((r) => `${r.first} to ${r.last}: ${r.what}`).join("; ")}.` +
      (b.store_note ? ` Note: ${b.store_note}.` : "");
    $("estimator").dataset.sources = b.sources.map((r) => r.source).join(",");
    await Promise.all([drawHashrate(), drawDifficulty()]);
    document.body.dataset.historyDrawn = "true";
  }

  document.addEventListener("DOMContentLoaded", init);
})();
