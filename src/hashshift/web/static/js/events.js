/* Evidence page: the natural experiments, each measured from the chain (blocks per hour or day,
   the windows shaded, the drop and the share it implies). */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const C = { before: "#2563eb", during: "#dc2626" };

  const pct = (x, d) => `${HS.fmt(x, d === undefined ? 1 : d)} %`;
  const when = (t) => t.replace("T", " ").replace("Z", "").replace(" 00:00", "");

  function row(ev, study) {
    const d = study ? study.drop_pct : null;
    const s = study ? study.share_pct : null;
    return HS.el("tr", { "data-event": ev.event },
      HS.el("td", {}, HS.el("a", { href: `#study-${ev.event}`, text: ev.name }),
        HS.el("div", { class: "note", text: `${ev.event} · ${ev.kind}` })),
      HS.el("td", { text: `${ev.region_name} (${ev.region})` }),
      HS.el("td", { text: `${when(ev.during_start)} → ${when(ev.during_end)}` }),
      HS.el("td", { class: "num", text: `${HS.fmt(ev.stopped_lo * 100, 0)}–${HS.fmt(ev.stopped_hi * 100, 0)} %` }),
      HS.el("td", { class: "num", text: d ? `${pct(d.drop_pct)} (${HS.fmt(d.lo_pct, 1)} to ${HS.fmt(d.hi_pct, 1)})` : "…" }),
      HS.el("td", { class: "num", text: s ? `${HS.fmt(s.point_low_pct, 1)}–${HS.fmt(s.point_high_pct, 1)} %` : "…" }));
  }

  function fact(label, value, sub) {
    return HS.el("div", {}, label, HS.el("b", { text: value }), sub ? HS.el("span", { class: "note", text: sub }) : null);
  }

  async function study(ev, box) {
    const st = await HS.api(`/api/events/${encodeURIComponent(ev.event)}`);
    const d = st.drop_pct;
    const s = st.share_pct;
    const plotId = `plot-${ev.event}`;
    const windows = HS.el("table", { class: "data" },
      HS.el("thead", {}, HS.el("tr", {}, ...["window", "from (UTC)", "to (UTC)", "hours", "blocks", "EH/s"]
        .map((h, i) => HS.el("th", { class: i > 2 ? "num" : null, text: h })))),
      HS.el("tbody", {}, ...st.windows.map((w) => HS.el("tr", {},
        HS.el("td", { text: w.window }), HS.el("td", { text: when(w.start) }), HS.el("td", { text: when(w.end) }),
        HS.el("td", { class: "num", text: HS.fmt(w.hours, 0) }), HS.el("td", { class: "num", text: HS.fmt(w.blocks, 0) }),
        HS.el("td", { class: "num", text: HS.fmt(w.hashrate_ehs, 1) })))));
    box.replaceChildren(
      HS.el("div", { class: "study-head" }, HS.el("h2", { text: `${ev.name} — ${ev.region_name} (${ev.region})` }),
        HS.el("span", { class: "note", text: `${ev.event}; blocks per ${st.resolution}; reported ${ev.public}${ev.in_nowcast ? "; used by the nowcast" : "; not used by the nowcast"}` })),
      HS.el("div", { class: "study-facts" },
        fact("Drop of the network's hashrate", pct(d.drop_pct), `90 %: ${HS.fmt(d.lo_pct, 1)} to ${HS.fmt(d.hi_pct, 1)} % (block process alone: ${HS.fmt(d.poisson_lo_pct, 1)} to ${HS.fmt(d.poisson_hi_pct, 1)} %)`),
        fact("Fraction of the region that stopped", `${HS.fmt(ev.stopped_lo * 100, 0)}–${HS.fmt(ev.stopped_hi * 100, 0)} %`, "bounds, basis below"),
        fact(`Implied share of ${ev.region}`, `${HS.fmt(s.point_low_pct, 1)}–${HS.fmt(s.point_high_pct, 1)} %`, `with the drop's interval ${HS.fmt(s.low_pct, 1)}–${HS.fmt(s.high_pct, 1)} %`)),
      HS.el("div", { class: "busy-host" }, HS.el("div", { id: plotId, class: "plot" }),
        HS.el("div", { class: "spinner", text: "Drawing…" })),
      HS.el("div", { class: "table-wrap" }, windows),
      HS.el("p", { class: "note", text: `Stopped fraction: ${ev.stopped_basis}. Sources: ${ev.sources}. Method: ${st.method}.` }));
    const shapes = [];
    const lines = [];
    for (const w of st.windows) {
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: w.start, x1: w.end, y0: 0, y1: 1,
        fillcolor: HS.rgba(C[w.window] || "#9ca3af", 0.12), line: { width: 0 } });
      lines.push({ x: [w.start, w.end], y: [w.hashrate_ehs, w.hashrate_ehs], type: "scatter", mode: "lines",
        name: `${w.window}: mean ${HS.fmt(w.hashrate_ehs, 1)} EH/s`, line: { color: C[w.window] || "#9ca3af", width: 3 },
        hoverinfo: "skip" });
    }
    await HS.plot(plotId, [
      { x: st.series.start, y: st.series.hashrate_ehs, type: "scatter", mode: "markers",
        name: `hashrate per ${st.resolution} (blocks × difficulty)`, marker: { color: "#6b7280", size: 4 },
        customdata: st.series.blocks, hovertemplate: `%{y:,.0f} EH/s (%{customdata} blocks)<extra></extra>` },
      ...lines,
    ], { shapes, hovermode: "closest", yaxis: { title: { text: "EH/s" }, rangemode: "tozero" } });
    box.querySelector(".spinner").hidden = true;
    box.dataset.drawn = "true";
    return st;
  }

  async function init() {
    let list;
    try { list = (await HS.api("/api/events")).events; } catch (err) { HS.fail("studies", err); return; }
    const body = $("event-list").tBodies[0];
    body.replaceChildren(...list.map((ev) => row(ev, null)));
    const boxes = list.map((ev) => HS.el("section", { class: "panel", id: `study-${ev.event}` },
      HS.el("div", { class: "empty", text: `Measuring ${ev.name}…` })));
    $("studies").replaceChildren(...boxes);
    for (let i = 0; i < list.length; i++) {
      try {
        const st = await study(list[i], boxes[i]);
        body.rows[i].replaceWith(row(list[i], st));
      } catch (err) { HS.fail(boxes[i], err); }
    }
    document.body.dataset.studies = String(list.length);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
