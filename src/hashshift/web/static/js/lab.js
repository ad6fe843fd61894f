/* Scenario lab: start from an example, a TOML file or a link; add, edit, switch off and remove
   events of every kind and region settings (forms built from the scenario's JSON Schema, region
   pickers from the region tree); run, compare with the baseline (the same scenario without
   bans), download the results; the scenario is kept in the page's URL (compressed in the
   fragment), so a reload or the link reproduces the run. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const root = document.querySelector(".lab");
  const LIMITS = { paths: Number(root.dataset.maxPaths), horizon: Number(root.dataset.maxHorizon) };
  const state = { scenario: null, events: [], regions: [], schema: null, tree: null, names: {},
    polling: null, leftOut: [] };
  const C = { run: "#f7931a", base: "#64748b" };
  const KIND_DEF = { ban: "Ban", curtailment: "Curtailment", seasonal: "Seasonal", price_shock: "PriceShock", tax: "Tax" };
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  // values a new event starts with where the format has no default (edit them in the form)
  const STARTERS = { enforcement: 0.9, share: 0.5, multiplier: 1.5, usd_kwh: 0.01, months: [6, 7, 8] };

  // ---- the access token (servers started with HASHSHIFT_TOKEN): kept in this tab only ------
  const TOKEN_KEY = "hashshift.token";
  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (err) { return ""; }
  }
  function storeToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (err) { /* storage disabled: the field's value is used as it is */ }
  }
  function token() { return $("token") ? $("token").value.trim() : storedToken(); }
  /** Headers of a request that runs work: the token, when there is one. */
  function authorized(headers) {
    const t = token();
    return t ? Object.assign({ authorization: `Bearer ${t}` }, headers) : headers;
  }
  function needsToken(err) {
    if (err.status !== 401) return false;
    status(root.dataset.auth === "token" && !token()
      ? "This server needs an access token: enter it under “Access token” and run again."
      : "The server refused the access token (HTTP 401): check it and run again.", true);
    if ($("token")) $("token").focus();
    return true;
  }

  // ---- the scenario in the URL: deflate-raw + base64url in the fragment ---------------------
  async function pack(obj) {
    const bytes = new TextEncoder().encode(JSON.stringify(obj));
    const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"));
    const packed = new Uint8Array(await new Response(stream).arrayBuffer());
    let bin = "";
    for (const b of packed) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  async function unpack(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
    return JSON.parse(await new Response(stream).text());
  }

  // ---- region pickers (the region tree) ------------------------------------------------------
  function regionName(code) {
    return state.names[code] || code;
  }
  function regionSelect(value, opts) {
    const sel = HS.el("select", Object.assign({ class: "region" }, opts || {}));
    if (opts && opts.optional) sel.append(HS.el("option", { value: "", text: "all regions" }));
    const t = state.tree;
    for (const c of t.mining) {
      const g = HS.el("optgroup", { label: c.name });
      g.append(HS.el("option", { value: c.code, text: `${c.name} (${c.code}), whole country` }));
      for (const s of c.children) g.append(HS.el("option", { value: s.code, text: `${s.name} (${s.code})` }));
      sel.append(g);
    }
    const other = HS.el("optgroup", { label: "Other countries" });
    for (const c of [...t.aggregates, ...t.other]) other.append(HS.el("option", { value: c.code, text: `${c.name} (${c.code})` }));
    sel.append(other);
    if (value && !sel.querySelector(`option[value="${CSS.escape(value)}"]`)) {
      sel.prepend(HS.el("option", { value, text: value }));
    }
    sel.value = value || "";
    return sel;
  }

  // ---- forms from the JSON Schema --------------------------------------------------------------
  function plain(prop) {
    // a nullable field (anyOf [X, null]): the X part, marked optional
    if (prop.anyOf) {
      const x = prop.anyOf.find((p) => p.type !== "null") || {};
      return Object.assign({}, x, { optional: true, description: prop.description, default: prop.default });
    }
    return prop;
  }
  function isShare(p) { return p.type === "number" && p.maximum === 1 && p.minimum === 0; }

  function field(obj, name, prop0, required, onchange) {
    const p = plain(prop0);
    const label = HS.el("label", { title: p.description || "" }, name + (required ? "" : " (optional)"));
    const set = (v) => { if (v === "" || v === null || v === undefined) delete obj[name]; else obj[name] = v; onchange(); };
    let input;
    if (name === "region" || name === "code") {
      input = regionSelect(obj[name], { optional: p.optional || !required });
      input.addEventListener("change", () => set(input.value || null));
    } else if (p.enum) {
      input = HS.el("select", {}, ...p.enum.map((v) => HS.el("option", { value: v, text: v })));
      input.value = obj[name] !== undefined ? obj[name] : p.default;
      input.addEventListener("change", () => set(input.value));
    } else if (p.format === "date") {
      input = HS.el("input", { type: "date", value: obj[name] || "" });
      input.addEventListener("change", () => set(input.value || null));
    } else if (p.type === "array" && p.items && p.items.type === "integer") {
      const chosen = new Set(obj[name] || []);
      input = HS.el("div", { class: "months" }, ...MONTHS.map((m, i) => {
        const box = HS.el("input", { type: "checkbox", value: String(i + 1), "aria-label": m });
        box.checked = chosen.has(i + 1);
        box.addEventListener("change", () => {
          if (box.checked) chosen.add(i + 1); else chosen.delete(i + 1);
          set([...chosen].sort((a, b) => a - b));
        });
        return HS.el("label", {}, box, m);
      }));
      label.classList.add("wide");
    } else if (p.type === "array") {
      input = HS.el("input", { type: "text", value: (obj[name] || []).join(", "), placeholder: "12 numbers, January first" });
      input.addEventListener("change", () => set(input.value.trim()
        ? input.value.split(",").map((x) => Number(x.trim())) : null));
      label.classList.add("wide");
    } else if (p.type === "number" || p.type === "integer") {
      const step = p.type === "integer" ? "1" : isShare(p) ? "0.05" : "any";
      input = HS.el("input", { type: "number", step, min: p.minimum, max: p.maximum,
        value: obj[name] !== undefined && obj[name] !== null ? obj[name] : "" });
      input.addEventListener("change", () => set(input.value === "" ? null : Number(input.value)));
    } else {
      input = HS.el("input", { type: "text", value: obj[name] || "" });
      input.addEventListener("change", () => set(input.value));
      label.classList.add("wide");
    }
    input.dataset.field = name;
    label.append(input);
    return label;
  }

  function defOf(kind) { return state.schema.$defs[KIND_DEF[kind]]; }

  function eventTitle(ev) {
    const where = ev.region ? `${regionName(ev.region)} (${ev.region})` : (ev.target === "btc" ? "BTC price" : "all regions");
    return `${ev.kind.replace("_", " ")} — ${where}`;
  }

  function renderEvents() {
    if (!state.events.length) {
      $("events").replaceChildren(HS.el("p", { class: "note", text: "No events: add one below." }));
      return;
    }
    $("events").replaceChildren(...state.events.map((item, i) => {
      const ev = item.event;
      const def = defOf(ev.kind);
      const box = HS.el("div", { class: "ev" + (item.enabled ? "" : " off"), "data-kind": ev.kind,
        "data-region": ev.region || "", "data-index": String(i) });
      const head = HS.el("b", { text: eventTitle(ev) });
      const toggle = HS.el("input", { type: "checkbox", id: `ev-${i}`, "aria-label": `event ${i + 1} on` });
      toggle.checked = item.enabled;
      toggle.addEventListener("change", () => { item.enabled = toggle.checked; box.classList.toggle("off", !item.enabled); });
      const remove = HS.el("button", { type: "button", class: "remove", "aria-label": `remove event ${i + 1}`, text: "×" });
      remove.addEventListener("click", () => { state.events.splice(i, 1); renderEvents(); });
      const changed = () => { head.textContent = eventTitle(ev); box.dataset.region = ev.region || ""; };
      const fields = Object.entries(def.properties).filter(([k]) => k !== "kind")
        .map(([k, p]) => field(ev, k, p, (def.required || []).includes(k), changed));
      box.append(HS.el("div", { class: "ev-head" }, head,
        HS.el("span", { class: "tools" }, HS.el("label", { class: "inline", for: `ev-${i}` }, toggle, "on"), remove)),
        HS.el("div", { class: "ev-fields" }, ...fields));
      if (ev.source) box.title = ev.source;
      return box;
    }));
  }

  function renderRegions() {
    const def = state.schema.$defs.RegionSpec;
    if (!state.regions.length) {
      $("regions").replaceChildren(HS.el("p", { class: "note", text: "No region settings: the data's defaults apply." }));
      return;
    }
    $("regions").replaceChildren(...state.regions.map((r, i) => {
      const head = HS.el("b", { text: `${regionName(r.code)} (${r.code})` });
      const box = HS.el("div", { class: "ev region-spec", "data-code": r.code });
      const remove = HS.el("button", { type: "button", class: "remove", "aria-label": `remove region ${r.code}`, text: "×" });
      remove.addEventListener("click", () => { state.regions.splice(i, 1); renderRegions(); });
      const changed = () => { head.textContent = `${regionName(r.code)} (${r.code})`; box.dataset.code = r.code; };
      const fields = Object.entries(def.properties).map(([k, p]) => field(r, k, p, (def.required || []).includes(k), changed));
      box.append(HS.el("div", { class: "ev-head" }, head, remove), HS.el("div", { class: "ev-fields" }, ...fields));
      return box;
    }));
  }

  function isoPlus(day, n) {
    const d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function newEvent(kind) {
    const def = defOf(kind);
    const asOf = $("as-of-input").value || state.scenario.scenario.as_of;
    const ev = { kind };
    for (const [k, p0] of Object.entries(def.properties)) {
      const p = plain(p0);
      if (k === "kind") continue;
      if (p0.default !== undefined && p0.default !== null) ev[k] = p0.default;
      else if (k in STARTERS) ev[k] = STARTERS[k];
      else if (p.format === "date" && !p.optional) ev[k] = isoPlus(asOf, k === "end" ? 60 : k === "effective" ? 37 : 30);
    }
    if (ev.region === undefined && (def.required || []).includes("region")) ev.region = "";
    return ev;
  }

  /** What a run from ``day`` extrapolates because the bundled data end before it. */
  async function extrapolated(day) {
    try {
      const f = await HS.api(`/api/freshness?as_of=${encodeURIComponent(day)}`);
      const notes = f.extrapolated || [];
      $("extrapolated").replaceChildren(...notes.map((x) => HS.el("li", { text: x.note })));
      $("extrapolated").hidden = !notes.length;
    } catch (err) { $("extrapolated").hidden = true; }
  }

  function loadScenario(sc, description) {
    state.scenario = sc;
    state.events = sc.event.map((e) => ({ enabled: true, event: JSON.parse(JSON.stringify(e)) }));
    state.regions = JSON.parse(JSON.stringify(sc.region || []));
    $("paths").value = Math.min(sc.scenario.paths, LIMITS.paths);
    $("horizon").value = Math.min(sc.scenario.horizon_days, LIMITS.horizon);
    $("seed").value = sc.scenario.seed;
    $("as-of-input").value = sc.scenario.as_of;
    $("as-of").textContent = sc.scenario.as_of;
    $("example-desc").textContent = description || sc.scenario.description || sc.scenario.name;
    extrapolated(sc.scenario.as_of);
    renderEvents();
    renderRegions();
  }

  function buildScenario() {
    const sc = JSON.parse(JSON.stringify(state.scenario));
    sc.scenario.paths = Number($("paths").value);
    sc.scenario.horizon_days = Number($("horizon").value);
    sc.scenario.seed = Number($("seed").value);
    if ($("as-of-input").value) sc.scenario.as_of = $("as-of-input").value;
    const on = state.events.filter((x) => x.enabled).map((x) => JSON.parse(JSON.stringify(x.event)));
    // events that start after the chosen horizon are left out (and named), not sent: a
    // scenario whose events fall after its horizon is invalid
    const end = isoPlus(sc.scenario.as_of, sc.scenario.horizon_days - 1);
    const starts = (e) => e.announced || e.start;
    sc.event = on.filter((e) => !starts(e) || starts(e) <= end);
    state.leftOut = on.filter((e) => starts(e) && starts(e) > end)
      .map((e) => `${e.kind} ${e.region || ""} from ${starts(e)}`);
    sc.region = JSON.parse(JSON.stringify(state.regions));
    return sc;
  }

  // ---- running -------------------------------------------------------------------------------
  function status(text, error) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(error));
  }

  function showProblems(err) {
    const problems = (err.body && err.body.problems) || [err.message];
    $("problems").replaceChildren(...problems.map((p) => HS.el("li", { text: p })));
  }

  function poll(sc) {
    let busy = false;
    state.polling = setInterval(async () => {
      if (busy) return;  // one request at a time
      busy = true;
      try {
        const a = await HS.api("/api/runs/active");
        if (!state.polling) return;  // the run has answered meanwhile
        const done = a.runs.reduce((s, r) => s + r.done, 0);
        const total = a.runs.reduce((s, r) => s + r.total, 0);
        if (total) {
          $("progress").max = total;
          $("progress").value = done;
          status(`Simulating… ${a.runs.map((r) => `${r.name}: day ${r.done} of ${r.total}`).join("; ")}`);
        }
        showPartial(a.runs, sc);
      } catch (err) { /* the run's own request reports errors */ } finally { busy = false; }
    }, 100);
  }

  /** The bands of the days simulated so far (the server reads them from the workers). */
  function showPartial(runs, sc) {
    const bands = (name) => {
      const r = runs.find((x) => x.name === name && x.partial);
      return r ? { dates: r.partial.dates, world: r.partial.world } : null;
    };
    const main = bands(sc.scenario.name);
    if (!main) return;
    const base = bands(`${sc.scenario.name} (baseline: bans removed)`);
    const end = new Date(sc.scenario.as_of);
    end.setUTCDate(end.getUTCDate() + sc.scenario.horizon_days - 1);
    const x = { range: [sc.scenario.as_of, end.toISOString().slice(0, 10)] };
    const both = (metric) => [...(base ? bandsOf(base, metric, C.base, "baseline", true) : []),
      ...bandsOf(main, metric, C.run, "scenario")];
    $("results").hidden = false;
    HS.plot("lab-hashrate", both("hashrate_ehs"), { xaxis: x, yaxis: { title: { text: "EH/s" }, rangemode: "tozero" } });
    HS.plot("lab-power", both("power_gw"), { xaxis: x, yaxis: { title: { text: "GW" }, rangemode: "tozero" } });
    root.dataset.partialDays = String(main.dates.length);
    if (!root.dataset.firstPartialMs) root.dataset.firstPartialMs = String(Math.round(performance.now() - state.t0));
  }

  async function share(sc) {
    const baseline = $("baseline").checked ? "" : "&b=0";
    const hash = `#s=${await pack(sc)}${baseline}`;
    history.replaceState(null, "", hash);
    $("share-link").href = location.href;
    $("share-link").textContent = location.href.length > 90 ? location.href.slice(0, 87) + "…" : location.href;
    $("share").hidden = false;
  }

  async function run() {
    const sc = buildScenario();
    $("problems").replaceChildren();
    $("run").disabled = true;
    $("progress").hidden = false;
    $("progress").value = 0;
    status("Starting…");
    const t0 = performance.now();
    state.t0 = t0;
    delete root.dataset.firstPartialMs;
    delete root.dataset.doneMs;
    delete root.dataset.partialDays;
    poll(sc);
    try {
      const res = await HS.api(`/api/scenario/run?baseline=${$("baseline").checked}`, {
        method: "POST", headers: authorized({ "content-type": "application/json" }), body: JSON.stringify(sc),
      });
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const left = state.leftOut.length
        ? ` Left out (after the horizon): ${state.leftOut.join("; ")}.` : "";
      clearInterval(state.polling);
      state.polling = null;
      status((res.cached ? `Done (from the cache, ${secs} s).` : `Done in ${secs} s.`) + left);
      await share(sc);
      await show(res);
      root.dataset.doneMs = String(Math.round(performance.now() - t0));
    } catch (err) {
      if (needsToken(err)) { $("problems").replaceChildren(); return; }
      if (err.status === 429) status("The server is busy with other runs; try again in a few seconds.", true);
      else if (err.status === 413) status("The scenario is too large for this server.", true);
      else status(`The run failed (HTTP ${err.status || "?"}).`, true);
      showProblems(err);
    } finally {
      clearInterval(state.polling);
      state.polling = null;
      $("progress").hidden = true;
      $("run").disabled = false;
    }
  }

  // ---- results -------------------------------------------------------------------------------
  function downloads(res) {
    const line = (label, r) => HS.el("div", {}, HS.el("b", { text: label + ": " }),
      ...Object.entries(r.downloads).map(([name, url]) =>
        HS.el("a", { href: url, download: `hashshift-${r.hash}-${name}`, "data-file": name, text: name })));
    const box = $("downloads");
    box.replaceChildren(HS.el("h2", { text: "Downloads" }), line("Scenario", res),
      res.baseline ? line("Baseline", res.baseline) : null);
    box.hidden = false;
  }

  function summary(res) {
    const s = res.result.summary;
    const b = res.baseline ? res.baseline.result.summary : null;
    const vs = (key, digits, unit) => (b && b[key] ? ` · baseline ${HS.fmt(b[key].end, digits)} ${unit}` : "");
    const cards = [];
    if (s.hashrate_ehs) {
      cards.push(HS.card(`Hashrate on day ${res.result.dates.length}`, `${HS.fmt(s.hashrate_ehs.end, 0)} EH/s`,
        `90 %: ${HS.fmt(s.hashrate_ehs.end_q05, 0)}–${HS.fmt(s.hashrate_ehs.end_q95, 0)}; start ${HS.fmt(s.hashrate_ehs.start, 0)}${vs("hashrate_ehs", 0, "EH/s")}`));
    }
    if (s.largest_cut) {
      const c = s.largest_cut;
      cards.push(HS.card("Largest retarget", `${HS.signed(c.change_pct, 1)} %`,
        `block ${c.retarget_height.toLocaleString("en-US")} ~${c.date || "?"}; 90 %: ${HS.signed(c.q05, 1)} to ${HS.signed(c.q95, 1)} %` +
        (b && b.largest_cut ? ` · baseline ${HS.signed(b.largest_cut.change_pct, 1)} %` : ""), c.change_pct < 0 ? "bad" : ""));
    }
    if (s.power_gw) {
      cards.push(HS.card("Power at the end", `${HS.fmt(s.power_gw.end, 1)} GW`,
        `start ${HS.fmt(s.power_gw.start, 1)} GW${vs("power_gw", 1, "GW")}`));
    }
    if (s.hashprice_usd_ph_day) {
      cards.push(HS.card("Hashprice at the end", `${HS.fmt(s.hashprice_usd_ph_day.end, 1)} USD`,
        `per PH/s per day; start ${HS.fmt(s.hashprice_usd_ph_day.start, 1)}${vs("hashprice_usd_ph_day", 1, "")}`));
    }
    cards.push(HS.card("Run", `${res.result.paths.toLocaleString("en-US")} paths`,
      `${res.result.dates.length} days from ${res.result.as_of}; ${res.cached ? "cached" : res.seconds + " s"}; id ${res.hash}`));
    $("summary").replaceChildren(...cards);
  }

  function bandsOf(r, metric, color, name, dash) {
    const w = r.world[metric];
    if (!w) return [];
    const quiet = { showlegend: false, legendgroup: name };
    return [
      ...HS.band(r.dates, w.q05, w.q95, `${name} 5–95 %`, color, dash ? 0.10 : 0.16, quiet),
      ...HS.band(r.dates, w.q25, w.q75, `${name} 25–75 %`, color, dash ? 0.16 : 0.30, quiet),
      { x: r.dates, y: w.q50, type: "scatter", mode: "lines", name: `${name}: median and bands`,
        legendgroup: name, line: { color, width: 2, dash: dash ? "dash" : "solid" },
        hovertemplate: `${name} %{y:,.4~g}<extra></extra>` },
    ];
  }

  async function show(res) {
    const r = res.result;
    const b = res.baseline ? res.baseline.result : null;
    $("results").hidden = false;
    summary(res);
    downloads(res);
    const base = (metric) => (b ? bandsOf(b, metric, C.base, "baseline", true) : []);
    const draws = [];
    draws.push(HS.plot("lab-hashrate", [...base("hashrate_ehs"), ...bandsOf(r, "hashrate_ehs", C.run, "scenario")],
      { yaxis: { title: { text: "EH/s" }, rangemode: "tozero" } }));
    draws.push(HS.plot("lab-power", [...base("power_gw"), ...bandsOf(r, "power_gw", C.run, "scenario")],
      { yaxis: { title: { text: "GW" }, rangemode: "tozero" } }));
    const bar = (run, name, color) => ({
      x: run.epochs.retarget_height.map(String), y: run.epochs.q50, type: "bar", name, marker: { color },
      customdata: run.epochs.retarget_date,
      error_y: { type: "data", symmetric: false, array: run.epochs.q95.map((v, i) => v - run.epochs.q50[i]),
        arrayminus: run.epochs.q50.map((v, i) => v - run.epochs.q05[i]), color: "#334155", thickness: 1, width: 3 },
      hovertemplate: `${name}: %{y:+.1f} % (~%{customdata})<extra></extra>`,
    });
    draws.push(HS.plot("lab-retargets", [...(b ? [bar(b, "baseline", "#94a3b8")] : []), bar(r, "scenario", C.run)],
      { yaxis: { title: { text: "%" }, zerolinecolor: "#94a3b8" },
        xaxis: { type: "category", title: { text: "retarget at block" }, tickangle: -45, nticks: 20 },
        barmode: "group", bargap: 0.2, hovermode: "x unified", margin: { b: 80 } }));
    const traces = [];
    Object.entries(r.regions).slice(0, 8).forEach(([code, reg], i) => {
      const color = HS.COLORS[i % HS.COLORS.length];
      traces.push({ x: r.dates, y: reg.q50, type: "scatter", mode: "lines", name: `${reg.name}`,
        legendgroup: code, line: { color, width: 2 }, hovertemplate: `${code} %{y:.1f} %<extra></extra>` });
      if (b && b.regions[code]) {
        traces.push({ x: b.dates, y: b.regions[code].q50, type: "scatter", mode: "lines",
          name: `${reg.name} (baseline)`, legendgroup: code, showlegend: false,
          line: { color, width: 1.2, dash: "dot" }, hovertemplate: `${code} baseline %{y:.1f} %<extra></extra>` });
      }
    });
    const narrow = window.innerWidth < 640;
    draws.push(HS.plot("lab-shares", traces, { yaxis: { title: { text: "% of world" }, rangemode: "tozero" },
      hovermode: "x unified",
      legend: narrow ? { orientation: "h", x: 0, y: -0.15, yanchor: "top" } : { orientation: "v", x: 1.01, y: 1, yanchor: "top" },
      margin: narrow ? { r: 10, b: 90 } : { r: 170 } }));
    await Promise.all(draws);
    document.body.dataset.runHash = res.hash;
  }

  // ---- loading examples, TOML files and links ------------------------------------------------
  function names(map) { Object.assign(state.names, map || {}); }

  async function loadExample(name) {
    try {
      const ex = await HS.api(`/api/examples/${encodeURIComponent(name)}`);
      names(ex.region_names);
      loadScenario(ex.scenario, ex.description);
      status("");
      $("problems").replaceChildren();
    } catch (err) { status(err.message, true); }
  }

  async function loadToml(file) {
    const text = await file.text();
    status(`Checking ${file.name}…`);
    try {
      // the server validates fully (format, regions, the data known on as_of) before it answers
      const res = await HS.api("/api/scenario/parse", { method: "POST", headers: authorized({ "content-type": "application/toml" }), body: text });
      names(res.region_names);
      loadScenario(res.scenario, `${res.scenario.scenario.name} (from ${file.name})`);
      status(`Loaded ${file.name}: valid, ready to run.`);
      $("problems").replaceChildren();
    } catch (err) {
      if (needsToken(err)) return;
      status(`${file.name} is not a valid scenario; nothing was loaded.`, true);
      showProblems(err);
    }
  }

  async function fromLink() {
    const m = location.hash.match(/^#s=([A-Za-z0-9_-]+)(&b=0)?$/);
    if (!m) return false;
    try {
      const sc = await unpack(m[1]);
      loadScenario(sc, `${sc.scenario.name} (from a link)`);
      $("baseline").checked = !m[2];
      status("Scenario from the link: running it…");
      await run();
    } catch (err) {
      status(`The link does not hold a scenario this page can read (${err.message}).`, true);
    }
    return true;
  }

  async function init() {
    let list;
    try {
      [list, state.schema, state.tree] = await Promise.all([
        HS.api("/api/examples").then((x) => x.examples), HS.api("/api/scenario/schema"), HS.api("/api/regions")]);
    } catch (err) { status(err.message, true); return; }
    for (const c of state.tree.mining) {
      state.names[c.code] = c.name;
      for (const s of c.children) state.names[s.code] = s.name;
    }
    for (const c of [...state.tree.other, ...state.tree.aggregates]) state.names[c.code] = c.name;
    $("new-region").replaceWith(Object.assign(regionSelect("US-TX"), { id: "new-region" }));
    $("example").replaceChildren(...list.map((e) => HS.el("option", { value: e.name, text: `${e.title} (${e.name})` })));
    const first = list.find((e) => e.name === "china_2021") || list[0];
    $("example").value = first.name;
    $("example").addEventListener("change", () => loadExample($("example").value));
    $("run").addEventListener("click", run);
    $("add-event").addEventListener("click", () => {
      state.events.push({ enabled: true, event: newEvent($("new-kind").value) });
      renderEvents();
      $("events").lastElementChild.scrollIntoView({ block: "nearest" });
    });
    $("add-region").addEventListener("click", () => {
      const code = $("new-region").value;
      if (!state.regions.some((r) => r.code === code)) state.regions.push({ code });
      renderRegions();
    });
    $("as-of-input").addEventListener("change", () => {
      $("as-of").textContent = $("as-of-input").value;
      extrapolated($("as-of-input").value);
    });
    if ($("token")) {
      $("token").value = storedToken();
      $("token").addEventListener("input", () => storeToken($("token").value.trim()));
    }
    $("toml-file").addEventListener("change", (ev) => { if (ev.target.files.length) loadToml(ev.target.files[0]); });
    window.addEventListener("hashchange", () => { if (location.hash.startsWith("#s=")) fromLink(); });
    document.body.dataset.labReady = "true";
    if (await fromLink()) return;
    await loadExample(first.name);
    $("summary").replaceChildren(HS.el("div", { class: "empty", text: "Choose the events and press “Run scenario”." }));
  }

  document.addEventListener("DOMContentLoaded", init);
})();
