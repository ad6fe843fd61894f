/* Map page: CCAF's mining map (observed months, exact) and the nowcast after it (median and
   90 % interval) on one time slider and one colour scale; each region's share over time. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const state = { listing: null, level: "country", china: null, timer: null, seq: 0 };
  const NOWCAST_LINE = "#c2410c";

  async function chinaGeo() {
    if (!state.china) state.china = await HS.api("/static/geo/china_provinces.geojson");
    return state.china;
  }

  function months() { return state.listing.levels[state.level]; }

  function interval(r) {
    return r.share_lo_pct === r.share_hi_pct ? "exact" : `${HS.fmt(r.share_lo_pct, 1)}–${HS.fmt(r.share_hi_pct, 1)}`;
  }

  function table(view) {
    const nowcast = view.kind === "nowcast";
    const pick = (r) => (view.level === "province" && !nowcast ? r.share_of_china_pct : r.share_pct);
    const rows = view.rows.map((r) => HS.el("tr", {},
      HS.el("td", {}, r.name, HS.el("div", { class: "bar" + (nowcast ? " nowcast" : ""), "data-w": pick(r) })),
      HS.el("td", { class: "num", text: HS.fmt(pick(r), 2) }),
      HS.el("td", { class: "num", text: nowcast ? interval(r) : "exact" }),
      HS.el("td", { class: "num", text: HS.fmt(r.hashrate_ehs, 1) })));
    for (const s of view.subdivisions || []) {
      rows.push(HS.el("tr", { class: "sub" },
        HS.el("td", { text: `  of which ${s.name} (${s.code})` }),
        HS.el("td", { class: "num", text: HS.fmt(s.share_pct, 2) }),
        HS.el("td", { class: "num", text: interval(s) }), HS.el("td", { class: "num", text: "" })));
    }
    const max = Math.max(...view.rows.map((r) => pick(r) || 0));
    $("shares").tBodies[0].replaceChildren(...rows);
    for (const bar of $("shares").querySelectorAll(".bar")) {
      bar.style.width = `${(100 * Number(bar.dataset.w || 0)) / (max || 1)}%`;
    }
    const head = $("shares").tHead.rows[0].cells;
    head[1].textContent = view.level === "province" && !nowcast ? "% of China" : nowcast ? "% (median)" : "% of world";
    $("table-title").textContent = `${view.level === "province" ? "China's provinces" : "Countries"}, ${HS.monthName(view.month)}`;
    $("network-note").textContent = `Network hashrate that month: ${HS.fmt(view.network_hashrate_ehs, 1)} EH/s (monthly mean). ` +
      (nowcast ? "Nowcast medians need not add up to 100 %; quote the 90 % interval. " : "") +
      (view.level === "province" ? "Province EH/s = its share of the world × network hashrate." : "Unmapped: 'Other countries'.");
    $("caveat").textContent = `Source: ${view.source}. Caveat: ${view.caveat}`;
  }

  function kindNote(view) {
    const nowcast = view.kind === "nowcast";
    const badge = HS.el("span", { class: "badge " + view.kind, text: nowcast ? "nowcast" : "observed" });
    const text = nowcast
      ? `${HS.monthName(view.month)}: ${view.label} — estimated as known on ${view.as_of} from CCAF's ${view.last_published} map, its dynamics and the chain's natural experiments (${(view.evidence || []).join(", ") || "none"}). Hover a country for its 90 % interval.`
      : `${HS.monthName(view.month)}: observed — CCAF's published share (exact).`;
    $("kind-note").replaceChildren(badge, text);
  }

  async function draw(view) {
    const nowcast = view.kind === "nowcast";
    const mapped = view.rows.filter((r) => r.mapped);
    const geo = {
      showframe: false, showcoastlines: false, showland: true, landcolor: "#e9edf2",
      showcountries: true, countrycolor: "#ffffff", countrywidth: 0.6, bgcolor: "rgba(0,0,0,0)",
      showocean: false, showlakes: false,
    };
    const line = nowcast ? { color: NOWCAST_LINE, width: 1.4 } : { color: "#ffffff", width: 0.5 };
    const unit = view.level === "province" && !nowcast ? "% of China" : "% of world";
    const hover = nowcast
      ? `<b>%{text}</b> — nowcast<br>%{z:.1f} ${unit} (median)<br>90 %: %{customdata[0]:.1f}–%{customdata[1]:.1f} %<br>%{customdata[2]:.1f} EH/s (90 %: %{customdata[3]:.1f}–%{customdata[4]:.1f})<extra></extra>`
      : `<b>%{text}</b> — observed<br>%{z:.2f} ${unit}<br>%{customdata[2]:.2f} EH/s<extra></extra>`;
    const custom = (r) => [r.share_lo_pct, r.share_hi_pct, r.hashrate_ehs, r.hashrate_lo_ehs, r.hashrate_hi_ehs];
    const colorbar = { title: { text: unit + (nowcast ? " (median)" : ""), side: "top" }, ticksuffix: " %", orientation: "h", thickness: 10, len: 0.45, x: 0.5, y: 0.02, yanchor: "top" };
    let traces;
    if (view.level === "country") {
      traces = [{
        type: "choropleth", locationmode: "ISO-3", locations: mapped.map((r) => r.iso3),
        z: mapped.map((r) => r.share_pct), text: mapped.map((r) => r.name),
        customdata: mapped.map(custom), zmin: 0, zmax: view.zmax_pct, colorscale: view.colorscale,
        marker: { line, opacity: nowcast ? 0.8 : 1 }, colorbar, hovertemplate: hover,
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
        locations: mapped.map((r) => r.code),
        z: mapped.map((r) => (nowcast ? r.share_pct : r.share_of_china_pct)),
        text: mapped.map((r) => r.name), customdata: mapped.map(custom), zmin: 0, zmax: view.zmax_pct,
        colorscale: view.colorscale, marker: { line, opacity: nowcast ? 0.8 : 1 }, colorbar, hovertemplate: hover,
      }];
      Object.assign(geo, { projection: { type: "mercator" }, fitbounds: "locations" });
    }
    const annotations = [{
      text: nowcast ? `NOWCAST — ${HS.monthName(view.month)}, not observed` : `OBSERVED — ${HS.monthName(view.month)} (CCAF)`,
      x: 0.01, y: 0.99, xref: "paper", yref: "paper", xanchor: "left", yanchor: "top", showarrow: false,
      font: { size: 13, color: nowcast ? NOWCAST_LINE : "#14532d" },
      bgcolor: nowcast ? "#fff7ed" : "#f0fdf4", bordercolor: nowcast ? NOWCAST_LINE : "#86efac",
      borderwidth: 1, borderpad: 4,
    }];
    await HS.plot("map", traces, { geo, annotations, margin: { l: 0, r: 0, t: 0, b: 50 }, hovermode: "closest" });
  }

  async function update() {
    const seq = ++state.seq;
    const m = months()[Number($("month").value)];
    $("month-label").textContent = `${HS.monthName(m.month)} · ${m.kind}`;
    try {
      const view = await HS.api(`/api/nowcast?month=${encodeURIComponent(m.month)}&level=${state.level}`);
      if (seq !== state.seq) return; // a newer request superseded this one
      table(view);
      kindNote(view);
      await draw(view);
      if (seq !== state.seq) return;
      $("map-busy").hidden = true;
      document.body.dataset.mapMonth = view.month;
      document.body.dataset.mapLevel = view.level;
      document.body.dataset.mapKind = view.kind;
    } catch (err) {
      $("map-busy").hidden = true;
      HS.fail("map", err);
    }
  }

  async function overTime() {
    const s = await HS.api("/api/nowcast/series?level=country");
    const first = s.observed.indexOf(false);
    const traces = [];
    s.regions.forEach((r, i) => {
      const color = HS.COLORS[i % HS.COLORS.length];
      if (i < 5 && first >= 0) {
        const x = s.months.slice(first - 1);
        traces.push(...HS.band(x, r.q05.slice(first - 1), r.q95.slice(first - 1), `${r.name} 90 %`, color, 0.14,
          { legendgroup: r.code, showlegend: false }));
      }
      traces.push({ x: s.months, y: r.q50, type: "scatter", mode: "lines", name: r.name, legendgroup: r.code,
        line: { color, width: 2 }, hovertemplate: `${r.name} %{y:.1f} %<extra></extra>` });
    });
    const shapes = [];
    const annotations = [];
    if (first > 0) {
      const edge = s.months[first - 1];
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: edge, x1: s.months[s.months.length - 1], y0: 0, y1: 1,
        fillcolor: "rgba(251, 146, 60, 0.08)", line: { width: 0 } });
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: edge, x1: edge, y0: 0, y1: 1,
        line: { color: NOWCAST_LINE, width: 1.5, dash: "dash" } });
      annotations.push({ x: edge, y: 1, xref: "x", yref: "paper", xanchor: "left", yanchor: "top", xshift: 4,
        text: `nowcast → (as known on ${s.as_of})`, showarrow: false, font: { size: 11, color: NOWCAST_LINE } });
      annotations.push({ x: edge, y: 1, xref: "x", yref: "paper", xanchor: "right", yanchor: "top", xshift: -4,
        text: "← observed (CCAF)", showarrow: false, font: { size: 11, color: "#14532d" } });
    }
    await HS.plot("over-time", traces, { shapes, annotations, hovermode: "x unified",
      yaxis: { title: { text: "% of world" }, rangemode: "tozero" },
      legend: { orientation: "h", x: 0, y: -0.12, yanchor: "top" }, margin: { b: 70 } });
    $("series-busy").hidden = true;
    document.body.dataset.seriesDrawn = "true";
  }

  function play() {
    if (state.timer) {
      clearInterval(state.timer); state.timer = null; $("play").textContent = "▶ Play"; return;
    }
    if (Number($("month").value) >= months().length - 1) $("month").value = 0;
    $("play").textContent = "❚❚ Pause";
    state.timer = setInterval(() => {
      const next = Number($("month").value) + 1;
      if (next >= months().length) { play(); return; }
      $("month").value = next;
      update();
    }, 900);
  }

  function setLevel(level) {
    const current = months()[Number($("month").value)].month;
    state.level = level;
    const list = months();
    let i = list.findIndex((m) => m.month === current);
    if (i < 0) i = current > list[list.length - 1].month ? list.length - 1 : 0;
    $("month").max = String(list.length - 1);
    $("month").value = String(i);
    update();
  }

  async function init() {
    try {
      state.listing = await HS.api("/api/nowcast/months");
    } catch (err) { $("map-busy").hidden = true; HS.fail("map", err); return; }
    const slider = $("month");
    slider.max = String(months().length - 1);
    slider.value = String(months().length - 1);
    slider.addEventListener("input", HS.debounce(update, 60));
    for (const r of document.querySelectorAll('input[name="level"]')) {
      r.addEventListener("change", () => setLevel(r.value));
    }
    $("play").addEventListener("click", play);
    await update();
    try { await overTime(); } catch (err) { $("series-busy").hidden = true; HS.fail("over-time", err); }
  }

  document.addEventListener("DOMContentLoaded", init);
})();
