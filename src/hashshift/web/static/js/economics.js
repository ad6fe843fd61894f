/* Economics page: hashprice, hashvalue and a machine's break-even electricity price. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let seq = 0;
  const DEFAULT_MACHINE = "Antminer S19 XP";

  function draw(v) {
    const m = v.machine;
    const margin = m.margin_usd_day;
    $("econ-cards").replaceChildren(
      HS.card("Hashprice", `${HS.fmt(v.hashprice_usd_ph_day, 2)} USD`, `per PH/s per day, ${v.month} mean`),
      HS.card("Hashvalue", `${HS.fmt(v.hashvalue_btc_ph_day * 1e3, 3)} mBTC`, `per PH/s per day; BTC ${HS.fmt(v.btc_price_usd, 0)} USD`),
      HS.card("Break-even price", `${HS.fmt(m.break_even_usd_kwh, 3)} USD/kWh`,
        `${m.model}: ${HS.fmt(m.efficiency_j_th, 1)} J/TH, ${HS.fmt(m.hashrate_ths, 0)} TH/s`),
      HS.card("Margin per machine", `${HS.signed(margin, 2)} USD/day`,
        `revenue ${HS.fmt(m.revenue_usd_day, 2)} − power ${HS.fmt(m.power_cost_usd_day, 2)} at ${v.price_usd_kwh} USD/kWh` +
        (m.released_by_month ? "" : ` (released ${m.release_date.slice(0, 7)}, after ${v.month})`),
        margin >= 0 ? "good" : "bad"),
      HS.card("CCAF threshold", `${HS.fmt(v.threshold_j_th, 1)} J/TH`,
        m.profitable ? "this machine is below it: profitable" : "this machine is above it: unprofitable"));
    const h = v.history;
    const from = m.release_date.slice(0, 7) + "-01";
    const keep = h.date.map((d) => d >= from);
    const x = h.date.filter((_, i) => keep[i]);
    HS.plot("breakeven", [
      { x, y: h.break_even_usd_kwh.filter((_, i) => keep[i]), type: "scatter", mode: "lines",
        name: `break-even, ${m.model}`, line: { color: "#f7931a", width: 2 }, hovertemplate: "%{y:.3f} USD/kWh" },
      { x: [x[0], x[x.length - 1]], y: [v.price_usd_kwh, v.price_usd_kwh], type: "scatter", mode: "lines",
        name: "your electricity price", line: { color: "#2563eb", dash: "dash", width: 1.5 }, hoverinfo: "skip" },
      { x: [v.month + "-01"], y: [m.break_even_usd_kwh], type: "scatter", mode: "markers", name: v.month,
        marker: { color: "#131a26", size: 9 }, hovertemplate: "%{y:.3f} USD/kWh" },
    ], { yaxis: { title: { text: "USD/kWh" }, type: "log" } });
    $("formulae").textContent = `hashprice = ${v.formulae.hashprice}; break-even = ${v.formulae.break_even}; ` +
      `threshold = ${v.formulae.threshold}. Nameplate specs, no PUE. Source of the machine: ${m.source}`;
    if (!$("month").options.length) {
      $("month").replaceChildren(...v.months.slice().reverse().map((mo) => HS.el("option", { value: mo, text: mo })));
      $("month").value = v.month;
    }
    document.body.dataset.breakEven = String(m.break_even_usd_kwh);
  }

  async function update() {
    const price = Number($("price").value);
    $("price-label").textContent = `${price.toFixed(3)} USD/kWh`;
    const q = new URLSearchParams({ machine: $("machine").value, price: String(price) });
    if ($("month").value) q.set("month", $("month").value);
    const mine = ++seq;
    try {
      const v = await HS.api(`/api/economics?${q}`);
      if (mine === seq) draw(v);
    } catch (err) { HS.fail("breakeven", err); }
  }

  async function drawHashprice() {
    const hp = await HS.api("/api/hashprice");
    const d = hp.daily;
    await HS.plot("hashprice", [
      { x: d.date, y: d.hashprice_usd_ph_day, type: "scatter", mode: "lines", name: "per day (difficulty that day)",
        line: { color: "#16a34a", width: 1.6 }, hovertemplate: "%{y:,.2f} USD/(PH/s)/day<extra></extra>" },
      { x: hp.monthly.date.map((m) => m.slice(0, 8) + "15"), y: hp.monthly.hashprice_usd_ph_day, type: "scatter",
        mode: "markers", name: "monthly mean (miners' revenue / hashrate)", marker: { color: "#131a26", size: 5 },
        hovertemplate: "month: %{y:,.2f}<extra></extra>" },
    ], { yaxis: { type: "linear", title: { text: "USD/(PH/s)/day" }, rangemode: "tozero", autorange: true },
      xaxis: { rangeselector: HS.rangeButtons(), range: HS.lastYears(d.date, 1) }, margin: { t: 34, b: 60 },
      legend: { orientation: "h", x: 0, y: -0.12, yanchor: "top" } });
    HS.fitY("hashprice", d.date, [d.hashprice_usd_ph_day]);
    $("hashprice-note").textContent = `${hp.first} … ${hp.last}. ${hp.basis}`;
    document.body.dataset.hashpriceDrawn = "true";
  }

  async function init() {
    drawHashprice().catch((err) => HS.fail("hashprice", err));
    let list;
    try { list = (await HS.api("/api/machines")).machines; } catch (err) { HS.fail("breakeven", err); return; }
    $("machine").replaceChildren(...list.map((m) => HS.el("option", { value: m.model,
      text: `${m.model} — ${m.maker}, ${HS.fmt(m.efficiency_j_th, 1)} J/TH, ${m.release_date.slice(0, 4)}` })));
    $("machine").value = list.some((m) => m.model === DEFAULT_MACHINE) ? DEFAULT_MACHINE : list[0].model;
    $("machine").addEventListener("change", update);
    $("month").addEventListener("change", update);
    $("price").addEventListener("input", HS.debounce(update, 120));
    await update();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
