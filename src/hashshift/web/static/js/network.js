/* Network page: hashrate history, difficulty per epoch, the projected next retarget. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let hist = null;

  function fact(label, value) {
    return HS.el("div", {}, HS.el("dt", { text: label }), HS.el("dd", { text: value }));
  }

  function showRetarget(r) {
    const big = $("rt-change");
    big.textContent = `${HS.signed(r.change_pct, 2)} %`;
    big.className = "big " + (r.change_pct >= 0 ? "up" : "down");
    $("rt-sub").textContent = `difficulty at block ${r.retarget_height.toLocaleString("en-US")}, ` +
      `expected around ${r.retarget_eta.replace("T", " ")} UTC` + (r.clamped ? " — clamped by the ×4 rule" : "");
    $("rt-blocks").value = r.blocks;
    $("rt-hours").value = (r.elapsed_s / 3600).toFixed(2);
    const facts = [
      fact(`Epoch ${r.epoch} began`, `block ${r.first_height.toLocaleString("en-US")}, ${r.first_time.slice(0, 16).replace("T", " ")}`),
      fact("Blocks so far / left", `${r.blocks.toLocaleString("en-US")} / ${r.blocks_left.toLocaleString("en-US")}`),
      fact("Mean block interval", `${HS.fmt(r.mean_block_interval_s, 1)} s`),
      fact("Implied hashrate", `${HS.fmt(r.implied_hashrate_ehs, 1)} EH/s`),
      fact("Projected timespan", `${HS.fmt(r.projected_timespan_s / 86400, 3)} days (target 14)`),
      fact("Difficulty now → next", `${HS.fmt(r.difficulty / 1e12, 3)} T → ${HS.fmt(r.new_difficulty / 1e12, 3)} T`),
      fact("Bits now → next", `${r.bits} → ${r.new_bits}`),
    ];
    if (r.check) {
      facts.push(fact(`Rule check, epoch ${r.check.epoch}`,
        `${HS.signed(r.check.projected_change_pct, 2)} % (real ${HS.signed(r.check.actual_change_pct, 2)} %)`));
    }
    $("rt-facts").replaceChildren(...facts);
    const src = { store: "Inputs: ", input: "Inputs: ", assumed: "Inputs — " }[r.source] || "";
    $("rt-note").textContent = `${src}${r.note}. Rule: ${r.rule}.`;
    document.body.dataset.retargetSource = r.source;
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

  function drawHashrate() {
    const d = hist.daily;
    const log = $("log").checked;
    HS.plot("hashrate", [
      ...HS.band(d.date, d.hashrate_lo_ehs, d.hashrate_hi_ehs, "95 % interval", "#f7931a", 0.25),
      { x: d.date, y: d.hashrate_ehs, type: "scatter", mode: "lines", name: "hashrate (EH/s)",
        line: { color: "#f7931a", width: 1.6 }, hovertemplate: "%{y:,.3~g} EH/s" },
    ], { yaxis: { type: log ? "log" : "linear", title: { text: "EH/s" }, exponentformat: "power" },
      shapes: halvingShapes(), annotations: halvingNotes() });
  }

  function drawDifficulty() {
    const e = hist.epochs;
    HS.plot("difficulty", [{
      x: e.first_time, y: e.difficulty, type: "scatter", mode: "lines", line: { shape: "hv", color: "#2563eb", width: 1.6 },
      name: "difficulty", customdata: e.epoch, hovertemplate: "epoch %{customdata}: %{y:,.4~g}<extra></extra>",
    }], { yaxis: { type: "log", title: { text: "difficulty" }, exponentformat: "power" }, showlegend: false,
      hovermode: "closest", shapes: halvingShapes() });
    HS.plot("changes", [{
      x: e.first_time, y: e.change_pct, type: "bar", name: "retarget %",
      marker: { color: e.change_pct.map((c) => (c === null ? "#ccc" : c >= 0 ? "#16a34a" : "#dc2626")) },
      customdata: e.first_height, hovertemplate: "block %{customdata:,}: %{y:+.2f} %<extra></extra>",
    }], { yaxis: { title: { text: "retarget %" }, range: [-30, 40] }, showlegend: false, hovermode: "closest", bargap: 0 });
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
    retarget("");
    try {
      hist = await HS.api("/api/history");
    } catch (err) { HS.fail("hashrate", err); return; }
    $("estimator").textContent = `Estimator: ${hist.estimator}. Source: ${hist.source}.`;
    drawHashrate();
    drawDifficulty();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
