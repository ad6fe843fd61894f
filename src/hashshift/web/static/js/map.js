/* Map page: CCAF mining-map shares by country or Chinese province, one month at a time. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { months: [], level: "country", china: null, timer: null, seq: 0 };

  async function chinaGeo() {
    if (!state.china) state.china = await HS.api("/static/geo/china_provinces.geojson");
    return state.china;
  }

  function table(view) {
    const rows = view.rows.map((r) => {
      const share = view.level === "province" ? r.share_of_china_pct : r.share_pct;
      return HS.el("tr", {},
        HS.el("td", {}, r.name, HS.el("div", { class: "bar", style: null, "data-w": share })),
        HS.el("td", { class: "num", text: HS.fmt(share, 2) }),
        HS.el("td", { class: "num", text: HS.fmt(r.hashrate_ehs, 2) }));
    });
    const max = Math.max(...view.rows.map((r) => (view.level === "province" ? r.share_of_china_pct : r.share_pct) || 0));
    $("shares").tBodies[0].replaceChildren(...rows);
    for (const bar of $("shares").querySelectorAll(".bar")) {
      bar.style.width = `${(100 * Number(bar.dataset.w || 0)) / (max || 1)}%`;
    }
    $("shares").tHead.rows[0].cells[1].textContent = view.level === "province" ? "% of China" : "% of world";
    $("table-title").textContent = `${view.level === "province" ? "China's provinces" : "Countries"}, ${HS.monthName(view.month)}`;
    $("network-note").textContent = `Network hashrate that month: ${HS.fmt(view.network_hashrate_ehs, 1)} EH/s (monthly mean). ` +
      (view.level === "province" ? "Province EH/s = share of China × China's share × network hashrate." : "Unmapped: 'Other countries'.");
    $("caveat").textContent = `Source: ${view.source}. Caveat: ${view.caveat}`;
  }

  async function draw(view) {
    const mapped = view.rows.filter((r) => r.mapped);
    const geo = {
      showframe: false, showcoastlines: false, showland: true, landcolor: "#e9edf2",
      showcountries: true, countrycolor: "#ffffff", countrywidth: 0.6, bgcolor: "rgba(0,0,0,0)",
      showocean: false, showlakes: false,
    };
    let traces;
    if (view.level === "country") {
      traces = [{
        type: "choropleth", locationmode: "ISO-3", locations: mapped.map((r) => r.iso3),
        z: mapped.map((r) => r.share_pct), text: mapped.map((r) => r.name),
        customdata: mapped.map((r) => r.hashrate_ehs), zmin: 0, zmax: view.zmax_pct,
        colorscale: view.colorscale,
        marker: { line: { color: "#ffffff", width: 0.5 } },
        colorbar: { title: { text: "% of world", side: "top" }, ticksuffix: " %", orientation: "h", thickness: 10, len: 0.45, x: 0.5, y: 0.02, yanchor: "top" },
        hovertemplate: "<b>%{text}</b><br>%{z:.2f} % of world<br>%{customdata:.2f} EH/s<extra></extra>",
      }];
      Object.assign(geo, { projection: { type: "natural earth" }, lataxis: { range: [-58, 85] } });
    } else {
      const gj = await chinaGeo();
      const ids = gj.features.map((f) => f.id);
      traces = [{
        type: "choropleth", geojson: gj, locationmode: "geojson-id", featureidkey: "id",
        locations: ids, z: ids.map(() => 0), showscale: false, hoverinfo: "skip",
        colorscale: [[0, "#dfe4ea"], [1, "#dfe4ea"]], marker: { line: { color: "#ffffff", width: 0.6 } },
      }, {
        type: "choropleth", geojson: gj, locationmode: "geojson-id", featureidkey: "id",
        locations: mapped.map((r) => r.code), z: mapped.map((r) => r.share_of_china_pct),
        text: mapped.map((r) => r.name),
        customdata: mapped.map((r) => [r.share_pct, r.hashrate_ehs]), zmin: 0, zmax: view.zmax_pct,
        colorscale: view.colorscale,
        marker: { line: { color: "#ffffff", width: 0.6 } },
        colorbar: { title: { text: "% of China", side: "top" }, ticksuffix: " %", orientation: "h", thickness: 10, len: 0.45, x: 0.5, y: 0.02, yanchor: "top" },
        hovertemplate: "<b>%{text}</b><br>%{z:.2f} % of China<br>%{customdata[0]:.2f} % of world<br>%{customdata[1]:.2f} EH/s<extra></extra>",
      }];
      Object.assign(geo, { projection: { type: "mercator" }, fitbounds: "locations" });
    }
    await HS.plot("map", traces, { geo, margin: { l: 0, r: 0, t: 0, b: 50 }, hovermode: "closest" });
  }

  async function update() {
    const seq = ++state.seq;
    const month = state.months[Number($("month").value)];
    $("month-label").textContent = HS.monthName(month);
    try {
      const view = await HS.api(`/api/map?month=${encodeURIComponent(month)}&level=${state.level}`);
      if (seq !== state.seq) return; // a newer request superseded this one
      table(view);
      await draw(view);
      document.body.dataset.mapMonth = view.month;
      document.body.dataset.mapLevel = view.level;
    } catch (err) {
      HS.fail("map", err);
    }
  }

  function play() {
    if (state.timer) {
      clearInterval(state.timer); state.timer = null; $("play").textContent = "▶ Play"; return;
    }
    if (Number($("month").value) >= state.months.length - 1) $("month").value = 0;
    $("play").textContent = "❚❚ Pause";
    state.timer = setInterval(() => {
      const next = Number($("month").value) + 1;
      if (next >= state.months.length) { play(); return; }
      $("month").value = next;
      update();
    }, 900);
  }

  async function init() {
    try {
      state.months = (await HS.api("/api/map/months")).months;
    } catch (err) { HS.fail("map", err); return; }
    const slider = $("month");
    slider.max = String(state.months.length - 1);
    slider.value = String(state.months.length - 1);
    slider.addEventListener("input", HS.debounce(update, 60));
    for (const r of document.querySelectorAll('input[name="level"]')) {
      r.addEventListener("change", () => { state.level = r.value; update(); });
    }
    $("play").addEventListener("click", play);
    await update();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
