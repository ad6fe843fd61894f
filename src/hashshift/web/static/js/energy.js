/* Energy page: CBECI power and energy bounds at an electricity price, and the network's
   emissions by month. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let seq = 0;

  function draw(v) {
    const s = v.series;
    const L = v.latest;
    $("energy-cards").replaceChildren(
      HS.card("Power, best guess", `${HS.fmt(L.power_guess_gw, 1)} GW`,
        `bounds ${HS.fmt(L.power_lower_gw, 1)}–${HS.fmt(L.power_upper_gw, 1)} GW, ${L.date}`),
      HS.card("Energy, annualised", `${HS.fmt(L.energy_guess_twh_yr, 0)} TWh/yr`,
        `bounds ${HS.fmt(L.energy_lower_twh_yr, 0)}–${HS.fmt(L.energy_upper_twh_yr, 0)} TWh/yr`),
      HS.card("Profitability threshold", `${HS.fmt(L.threshold_j_th, 1)} J/TH`,
        `machines below it run; ${L.n_profitable} models profitable`),
      HS.card("Network hashrate", `${HS.fmt(L.hashrate_ehs, 0)} EH/s`, `${L.date} monthly mean`));
    HS.plot("power", [
      ...HS.band(s.date, s.power_lower_gw, s.power_upper_gw, "lower–upper bound", "#f7931a", 0.22),
      { x: s.date, y: s.power_guess_gw, type: "scatter", mode: "lines", name: "best guess",
        line: { color: "#c46a00", width: 2 }, hovertemplate: "%{y:.2f} GW" },
      { x: s.date, y: s.power_lower_gw, type: "scatter", mode: "lines", name: "lower", showlegend: false,
        line: { color: "#f7931a", width: 0.8 }, hovertemplate: "lower %{y:.2f} GW" },
      { x: s.date, y: s.power_upper_gw, type: "scatter", mode: "lines", name: "upper", showlegend: false,
        line: { color: "#f7931a", width: 0.8 }, hovertemplate: "upper %{y:.2f} GW" },
    ], { yaxis: { title: { text: "GW" }, rangemode: "tozero" } });
    HS.plot("efficiency", [
      { x: s.date, y: s.threshold_j_th, type: "scatter", mode: "lines", name: "threshold θ",
        line: { color: "#dc2626", width: 1.6 } },
      { x: s.date, y: s.upper_j_th, type: "scatter", mode: "lines", name: "worst profitable",
        line: { color: "#9aa4b2", width: 1 } },
      { x: s.date, y: s.guess_j_th, type: "scatter", mode: "lines", name: "equal-weight mean",
        line: { color: "#2563eb", width: 1.6 } },
      { x: s.date, y: s.lower_j_th, type: "scatter", mode: "lines", name: "best machine",
        line: { color: "#16a34a", width: 1 } },
    ], { yaxis: { type: "log", title: { text: "J/TH" } } });
    $("method").textContent = `Method: ${v.method}. Inputs: ${v.inputs}.`;
    document.body.dataset.energyPrice = String(v.price_usd_kwh);
  }

  /* Network emissions by month: CCAF map × CBECI power × grid intensity, with the band of
     CBECI's lower and upper power bounds; months after CCAF's last are the nowcast. */
  function drawEmissions(v) {
    const s = v.series;
    const pick = (kind) => s.month.map((m, i) => (s.kind[i] === kind ? s.emissions_guess_mt_yr[i] : null));
    const obs = s.kind.lastIndexOf("observed");
    HS.plot("emissions", [
      ...HS.band(s.month, s.emissions_lower_mt_yr, s.emissions_upper_mt_yr,
        "lower–upper: CBECI's power bounds × grid intensity", "#6b7280", 0.22),
      { x: s.month, y: pick("observed"), type: "scatter", mode: "lines",
        name: "best guess, observed map (CCAF)", line: { color: "#374151", width: 2 },
        hovertemplate: "%{y:.1f} MtCO2e/yr" },
      { x: s.month, y: pick("nowcast"), type: "scatter", mode: "lines",
        name: `best guess, ${v.nowcast_label}`, line: { color: "#374151", width: 2, dash: "dot" },
        hovertemplate: "%{y:.1f} MtCO2e/yr (nowcast)" },
    ], { yaxis: { title: { text: "MtCO2e/yr" }, rangemode: "tozero" } });
    $("emissions-note").textContent =
      `Network emissions at ${v.price_usd_kwh} USD/kWh: ${v.method}. Band: ${v.bounds} ` +
      `Solid: months of CCAF's map (to ${v.last_published}); dotted: the nowcast after it. ` +
      `${v.fallback} In ${s.month[obs]}: ${HS.fmt(s.emissions_guess_mt_yr[obs], 1)} MtCO2e/yr ` +
      `(${HS.fmt(s.emissions_lower_mt_yr[obs], 1)}–${HS.fmt(s.emissions_upper_mt_yr[obs], 1)}).`;
    document.body.dataset.emissionsPrice = String(v.price_usd_kwh);
  }

  async function update() {
    const price = Number($("price").value);
    $("price-label").textContent = `${price.toFixed(3)} USD/kWh`;
    const mine = ++seq;
    try {
      const v = await HS.api(`/api/energy?price=${price}`);
      if (mine === seq) draw(v);
    } catch (err) { HS.fail("power", err); }
    try {
      const e = await HS.api(`/api/energy/emissions?price=${price}`);
      if (mine === seq) drawEmissions(e);
    } catch (err) { HS.fail("emissions", err); }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("price").addEventListener("input", HS.debounce(update, 120));
    update();
  });
})();
