/* hashshift dashboard: shared helpers (vanilla JS, the vendored plotly.js as window.Plotly). */
"use strict";

const HS = (() => {
  const CONFIG = {
    responsive: true,
    displaylogo: false,
    topojsonURL: "/static/topojson/", // plotly geo maps fetch world_110m.json from here, not a CDN
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
    toImageButtonOptions: { format: "png", scale: 2 },
  };
  const COLORS = ["#f7931a", "#2563eb", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04",
    "#db2777", "#4b5563", "#65a30d"];

  function merge(a, b) {
    const out = Object.assign({}, a);
    for (const [k, v] of Object.entries(b || {})) {
      out[k] = v && typeof v === "object" && !Array.isArray(v) && a[k] && typeof a[k] === "object"
        ? merge(a[k], v) : v;
    }
    return out;
  }

  function layout(extra) {
    return merge({
      margin: { l: 64, r: 18, t: 8, b: 40 },
      font: { family: "system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12, color: "#1d2430" },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      hovermode: "x unified",
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { gridcolor: "#eef1f4", linecolor: "#cdd3dc" },
      yaxis: { gridcolor: "#eef1f4", linecolor: "#cdd3dc", zerolinecolor: "#cdd3dc" },
    }, extra);
  }

  /** Draw (or redraw) a plot; its panel shows a spinner until plotly.js has drawn it. */
  function plot(id, traces, lay) {
    const gd = typeof id === "string" ? document.getElementById(id) : id;
    gd.classList.add("drawing");
    return Plotly.react(gd, traces, layout(lay), CONFIG).then((r) => {
      gd.classList.remove("drawing");
      gd.dataset.drawn = "true";
      return r;
    }, (err) => { gd.classList.remove("drawing"); throw err; });
  }

  /** The range buttons of time axes (as in the report): 1 m, 6 m, 1 y, 3 y, all. */
  const RANGES = [
    { count: 1, label: "1 m", step: "month", stepmode: "backward" },
    { count: 6, label: "6 m", step: "month", stepmode: "backward" },
    { count: 1, label: "1 y", step: "year", stepmode: "backward" },
    { count: 3, label: "3 y", step: "year", stepmode: "backward" },
    { step: "all", label: "all" },
  ];
  function rangeButtons() {
    return { buttons: RANGES, x: 0, xanchor: "left", y: 1.02, yanchor: "bottom", font: { size: 11 },
      bgcolor: "#eef1f4", activecolor: "#fed7aa" };
  }
  /** Keep a linear y axis fitted to the x range shown (plotly fits y to all the data): on
      every change of the x range, y runs from 0 to the largest visible value of ``series``
      (arrays of y aligned with ``x``). */
  function fitY(id, x, series) {
    const gd = typeof id === "string" ? document.getElementById(id) : id;
    const fit = () => {
      if (gd.layout.yaxis.type === "log") return;
      const r = gd.layout.xaxis.range;
      const lo = String(r[0]).slice(0, 10);
      const hi = String(r[1]).slice(0, 10);
      let top = 0;
      for (const ys of series) {
        for (let i = 0; i < x.length; i++) {
          const d = x[i].slice(0, 10);
          if (d >= lo && d <= hi && ys[i] !== null && ys[i] > top) top = ys[i];
        }
      }
      if (top > 0) Plotly.relayout(gd, { "yaxis.range": [0, top * 1.06], "yaxis.autorange": false });
    };
    if (!gd.dataset.fitY) {
      gd.on("plotly_relayout", (ev) => {
        if (Object.keys(ev).some((k) => k.startsWith("xaxis"))) fit();
      });
      gd.dataset.fitY = "true";
    }
    fit();
  }

  /** The last ``years`` of data: the initial x range of a time chart. */
  function lastYears(dates, years) {
    const end = dates[dates.length - 1];
    const d = new Date(end + "T00:00:00Z");
    d.setUTCFullYear(d.getUTCFullYear() - years);
    return [d.toISOString().slice(0, 10), end];
  }

  /** Two traces drawing a filled band between lo and hi. */
  function band(x, lo, hi, name, color, opacity, extra) {
    const fill = rgba(color, opacity);
    return [
      Object.assign({ x, y: lo, type: "scatter", mode: "lines", line: { width: 0 }, hoverinfo: "skip",
        showlegend: false, legendgroup: name }, extra || {}),
      Object.assign({ x, y: hi, type: "scatter", mode: "lines", line: { width: 0 }, fill: "tonexty",
        fillcolor: fill, name, hoverinfo: "skip", legendgroup: name }, extra || {}),
    ];
  }

  function rgba(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  async function api(path, opts) {
    const r = await fetch(path, opts);
    const ct = r.headers.get("content-type") || "";
    const body = ct.includes("json") ? await r.json() : await r.text();
    if (!r.ok) {
      const err = new Error(describe(r.status, body));
      err.status = r.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  function describe(status, body) {
    if (body && Array.isArray(body.problems) && body.problems.length) return body.problems.join("; ");
    if (body && typeof body.detail === "string") return body.detail;
    return `HTTP ${status}`;
  }

  function fmt(x, digits, opts) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    return Number(x).toLocaleString("en-US", Object.assign(
      { minimumFractionDigits: digits, maximumFractionDigits: digits }, opts || {}));
  }

  function signed(x, digits) {
    if (x === null || x === undefined) return "–";
    return (x > 0 ? "+" : x < 0 ? "−" : "") + fmt(Math.abs(x), digits);
  }

  function debounce(fn, ms) {
    let t = null;
    return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  }

  /** Build an element; children are nodes or text (never parsed as HTML). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function card(label, big, sub, cls) {
    return el("div", { class: "card" + (cls ? " " + cls : "") },
      el("span", { class: "label", text: label }),
      el("span", { class: "big", text: big }),
      sub ? el("span", { class: "sub", text: sub }) : null);
  }

  function fail(target, err) {
    const box = typeof target === "string" ? document.getElementById(target) : target;
    if (box) box.replaceChildren(el("div", { class: "empty", text: "Could not load: " + err.message }));
  }

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December"];
  function monthName(ym) {
    const [y, m] = ym.split("-").map(Number);
    return `${MONTHS[m - 1]} ${y}`;
  }

  return { CONFIG, COLORS, layout, plot, band, rgba, api, fmt, signed, debounce, el, card, fail,
    monthName, rangeButtons, lastYears, fitY };
})();
