/* Scenario lab: start from an example, switch bans on and off, edit their dates, run, compare
   with the baseline (the same scenario without bans), download the results. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const root = document.querySelector(".lab");
  const LIMITS = { paths: Number(root.dataset.maxPaths), horizon: Number(root.dataset.maxHorizon) };
  const state = { scenario: null, bans: [], others: [], source: "", polling: null, names: {} };
  const C = { run: "#f7931a", base: "#64748b" };

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

  // ---- the scenario form ---------------------------------------------------------------------
  function loadScenario(sc, source, description) {
    state.scenario = sc;
    state.source = source;
    state.bans = sc.event.filter((e) => e.kind === "ban").map((e) => Object.assign({ enabled: true }, e));
    state.others = sc.event.filter((e) => e.kind !== "ban");
    $("paths").value = Math.min(sc.scenario.paths, LIMITS.paths);
    $("horizon").value = Math.min(sc.scenario.horizon_days, LIMITS.horizon);
    $("seed").value = sc.scenario.seed;
    $("as-of").textContent = sc.scenario.as_of;
    $("example-desc").textContent = description || sc.scenario.description || sc.scenario.name;
    renderBans();
    $("events").replaceChildren(...state.others.map((e) => HS.el("li", {
      text: `${e.kind} ${e.region || e.target || ""} ${e.start || ""}${e.end ? " → " + e.end : ""}` })));
    $("other-events").hidden = state.others.length === 0;
  }

  function renderBans() {
    if (!state.bans.length) {
      $("bans").replaceChildren(HS.el("p", { class: "note", text: "This scenario has no ban." }));
      return;
    }
    $("bans").replaceChildren(...state.bans.map((b, i) => {
      const box = HS.el("div", { class: "ban" + (b.enabled ? "" : " off"), "data-region": b.region });
      const toggle = HS.el("input", { type: "checkbox", id: `ban-${i}`, "aria-label": `ban ${b.region} on` });
      toggle.checked = b.enabled;
      toggle.addEventListener("change", () => { b.enabled = toggle.checked; box.classList.toggle("off", !b.enabled); });
      const date = (key, label) => {
        const input = HS.el("input", { type: "date", value: b[key], id: `ban-${i}-${key}` });
        input.addEventListener("change", () => { b[key] = input.value; });
        return HS.el("label", {}, label, input);
      };
      const enf = HS.el("input", { type: "number", min: "0", max: "1", step: "0.05", value: b.enforcement, id: `ban-${i}-enforcement` });
      enf.addEventListener("change", () => { b.enforcement = Number(enf.value); });
      box.append(
        HS.el("div", { class: "ban-head" },
          HS.el("b", { text: state.names[b.region] ? `${state.names[b.region]} (${b.region})` : b.region }),
          HS.el("label", { class: "inline", for: `ban-${i}` }, toggle, "on")),
        HS.el("div", { class: "ban-fields" }, date("announced", "announced"), date("effective", "effective"),
          HS.el("label", {}, "enforced", enf)));
      if (b.source) box.title = b.source;
      return box;
    }));
  }

  function buildScenario() {
    const sc = JSON.parse(JSON.stringify(state.scenario));
    sc.scenario.paths = Number($("paths").value);
    sc.scenario.horizon_days = Number($("horizon").value);
    sc.scenario.seed = Number($("seed").value);
    const bans = state.bans.filter((b) => b.enabled).map((b) => {
      const e = Object.assign({}, b);
      delete e.enabled;
      return e;
    });
    // events that start after the chosen horizon are left out (and named), not sent: a
    // scenario whose events fall after its horizon is invalid
    const end = new Date(sc.scenario.as_of);
    end.setUTCDate(end.getUTCDate() + sc.scenario.horizon_days - 1);
    const starts = (e) => e.announced || e.start;
    const all = [...state.others, ...bans];
    sc.event = all.filter((e) => !starts(e) || new Date(starts(e)) <= end);
    state.leftOut = all.filter((e) => starts(e) && new Date(starts(e)) > end)
      .map((e) => `${e.kind} ${e.region || ""} from ${starts(e)}`);
    return sc;
  }

  // ---- running -------------------------------------------------------------------------------
  function status(text, error) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(error));
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
      show(res);
      root.dataset.doneMs = String(Math.round(performance.now() - t0));
    } catch (err) {
      if (needsToken(err)) { $("problems").replaceChildren(); return; }
      if (err.status === 429) status("The server is busy with other runs; try again in a few seconds.", true);
      else if (err.status === 413) status("The scenario is too large for this server.", true);
      else status(`The run failed (HTTP ${err.status || "?"}).`, true);
      const problems = (err.body && err.body.problems) || [err.message];
      $("problems").replaceChildren(...problems.map((p) => HS.el("li", { text: p })));
    } finally {
      clearInterval(state.polling);
      state.polling = null;
      $("progress").hidden = true;
      $("run").disabled = false;
    }
  }

  // ---- results -------------------------------------------------------------------------------
  function downloads(res) {
    const line = (label, run) => HS.el("div", {}, HS.el("b", { text: label + ": " }),
      ...Object.entries(run.downloads).map(([name, url]) =>
        HS.el("a", { href: url, download: `hashshift-${run.hash}-${name}`, "data-file": name, text: name })));
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

  function show(res) {
    const r = res.result;
    const b = res.baseline ? res.baseline.result : null;
    $("results").hidden = false;
    summary(res);
    downloads(res);
    const base = (metric) => (b ? bandsOf(b, metric, C.base, "baseline", true) : []);
    HS.plot("lab-hashrate", [...base("hashrate_ehs"), ...bandsOf(r, "hashrate_ehs", C.run, "scenario")],
      { yaxis: { title: { text: "EH/s" }, rangemode: "tozero" } });
    HS.plot("lab-power", [...base("power_gw"), ...bandsOf(r, "power_gw", C.run, "scenario")],
      { yaxis: { title: { text: "GW" }, rangemode: "tozero" } });
    const bar = (run, name, color) => ({
      x: run.epochs.retarget_height.map(String), y: run.epochs.q50, type: "bar", name, marker: { color },
      customdata: run.epochs.retarget_date,
      error_y: { type: "data", symmetric: false, array: run.epochs.q95.map((v, i) => v - run.epochs.q50[i]),
        arrayminus: run.epochs.q50.map((v, i) => v - run.epochs.q05[i]), color: "#334155", thickness: 1, width: 3 },
      hovertemplate: `${name}: %{y:+.1f} % (~%{customdata})<extra></extra>`,
    });
    HS.plot("lab-retargets", [...(b ? [bar(b, "baseline", "#94a3b8")] : []), bar(r, "scenario", C.run)],
      { yaxis: { title: { text: "%" }, zerolinecolor: "#94a3b8" },
        xaxis: { type: "category", title: { text: "retarget at block" }, tickangle: -45, nticks: 20 },
        barmode: "group", bargap: 0.2, hovermode: "x unified", margin: { b: 80 } });
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
    HS.plot("lab-shares", traces, { yaxis: { title: { text: "% of world" }, rangemode: "tozero" },
      hovermode: "x unified", legend: { orientation: "v", x: 1.01, y: 1, yanchor: "top" }, margin: { r: 170 } });
    document.body.dataset.runHash = res.hash;
  }

  // ---- loading examples and TOML files -------------------------------------------------------
  async function loadExample(name) {
    try {
      const ex = await HS.api(`/api/examples/${encodeURIComponent(name)}`);
      state.names = ex.region_names || {};
      loadScenario(ex.scenario, `example ${name}`, ex.description);
      status("");
      $("problems").replaceChildren();
    } catch (err) { status(err.message, true); }
  }

  async function loadToml(file) {
    const text = await file.text();
    try {
      const res = await HS.api("/api/scenario/parse", { method: "POST", headers: authorized({ "content-type": "application/toml" }), body: text });
      state.names = res.region_names || {};
      loadScenario(res.scenario, file.name, `${res.scenario.scenario.name} (from ${file.name})`);
      status(`Loaded ${file.name}.`);
      $("problems").replaceChildren();
    } catch (err) {
      if (needsToken(err)) return;
      status(`${file.name} is not a valid scenario.`, true);
      const problems = (err.body && err.body.problems) || [err.message];
      $("problems").replaceChildren(...problems.map((p) => HS.el("li", { text: p })));
    }
  }

  async function init() {
    let list;
    try { list = (await HS.api("/api/examples")).examples; } catch (err) { status(err.message, true); return; }
    $("example").replaceChildren(...list.map((e) => HS.el("option", { value: e.name, text: `${e.title} (${e.name})` })));
    const first = list.find((e) => e.name === "china_2021") || list[0];
    $("example").value = first.name;
    $("example").addEventListener("change", () => loadExample($("example").value));
    $("run").addEventListener("click", run);
    if ($("token")) {
      $("token").value = storedToken();
      $("token").addEventListener("input", () => storeToken($("token").value.trim()));
    }
    $("toml-file").addEventListener("change", (ev) => { if (ev.target.files.length) loadToml(ev.target.files[0]); });
    await loadExample(first.name);
    $("summary").replaceChildren(HS.el("div", { class: "empty", text: "Choose the bans and press “Run scenario”." }));
  }

  document.addEventListener("DOMContentLoaded", init);
})();
