"""Server-rendered HTML shells of the dashboard's pages (their plots are drawn by small scripts
in ``static/js`` with the vendored plotly.js; no inline script, no remote resource)."""

from __future__ import annotations

from html import escape
from typing import Any

from .. import __version__

__all__ = ["PAGES", "error_page", "home", "render"]

#: slug -> (label in the navigation, page heading)
PAGES: dict[str, tuple[str, str]] = {
    "map": ("Map", "Where the hashrate was, and is: observed and nowcast"),
    "events": ("Evidence", "Evidence from the chain: natural experiments"),
    "network": ("Network", "Hashrate, difficulty and the next retarget"),
    "energy": ("Energy", "Power and energy (CBECI method)"),
    "economics": ("Economics", "Hashprice and break-even electricity price"),
    "lab": ("Scenario lab", "What bans do: scenario lab"),
}


def _layout(slug: str, title: str, body: str, *, scripts: bool = True) -> str:
    current = ' aria-current="page"'
    nav = "".join(f'<a href="/{s}"{current if s == slug else ""}>{escape(label)}</a>'
                  for s, (label, _) in PAGES.items())
    js = ""
    if scripts:
        js = ('<script src="/static/vendor/plotly.min.js" defer></script>\n'
              '<script src="/static/js/common.js" defer></script>\n'
              f'<script src="/static/js/{slug}.js" defer></script>\n')
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · hashshift</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/app.css">
{js}</head>
<body data-page="{escape(slug)}">
<header class="top">
  <a class="brand" href="/"><img src="/static/img/favicon.svg" alt="" width="22"
    height="22">hashshift</a>
  <nav>{nav}</nav>
</header>
<main>
{body}
</main>
<footer><p id="freshness">{escape(_freshness_line())}
<a href="/api/freshness">details</a></p>
<p>hashshift {escape(__version__)} · runs on this machine with the bundled data; no request
leaves it · <a href="/openapi.json">API schema</a> · <a href="/api">API index</a></p></footer>
</body>
</html>
"""


def _freshness_line() -> str:
    """How far the bundled data reach and how old they are today (hashshift.freshness)."""
    from .data import freshness_view, today

    f = {d["dataset"]: d for d in freshness_view(today())["datasets"]}

    def part(key: str, label: str, month: bool = False) -> str:
        d = f[key]
        last = d["last"][:7] if month else d["last"]
        return f"{label} to {last} ({d['age_days']:,} days old)"

    return ("Data: " + " · ".join([
        part("chain_epochs", "difficulty"), part("chain_daily", "daily blocks"),
        part("market", "market", True), part("map", "CCAF map", True),
        part("nowcast", "nowcast", True)]) + f" — as of today, {freshness_view(today())['today']}.")


def _fmt(x: Any, spec: str) -> str:
    try:
        return format(float(x), spec)
    except (TypeError, ValueError):
        return "–"


def home(o: dict[str, Any]) -> str:
    cards = [
        ("network", "Network hashrate", f"{_fmt(o['hashrate_ehs'], ',.0f')} EH/s",
         f"epoch {o['hashrate_epoch']} mean, ended {o['hashrate_end']}"),
        ("network", "Difficulty", f"{_fmt(o['difficulty'] / 1e12, ',.2f')} T",
         f"{_fmt(o['difficulty_change_pct'], '+.2f')} % at the retarget of "
         f"{o['difficulty_since']}"),
        ("energy", "Power (CBECI best guess)", f"{_fmt(o['power_guess_gw'], '.1f')} GW",
         f"bounds {_fmt(o['power_lower_gw'], '.1f')}–{_fmt(o['power_upper_gw'], '.1f')} GW at "
         f"0.05 USD/kWh, {o['energy_month']}"),
        ("economics", "Hashprice", f"{_fmt(o['hashprice_usd_ph_day'], '.1f')} USD",
         f"per PH/s per day, {o['market_month']} mean"),
        ("map", "Mining map", f"{len(o['map_months'])} months observed",
         f"CCAF shares by country and Chinese province, {o['map_months'][0]} … "
         f"{o['map_months'][-1]}; nowcast with intervals after it"),
        ("lab", "Scenario lab", f"{len(o['examples'])} scenarios",
         "events of every kind, run, compare with the baseline, share"),
    ]
    grid = "\n".join(
        f'<a class="card link" href="/{s}"><span class="label">{escape(t)}</span>'
        f'<span class="big">{escape(v)}</span><span class="sub">{escape(sub)}</span></a>'
        for s, t, v, sub in cards)
    body = f"""<h1>Bitcoin's hashrate: where it runs, what it draws and earns, what bans do</h1>
<p class="lead">Everything here is computed on this machine from the data bundled with hashshift
(chain history, CCAF's mining map, market and hardware tables). Pick a page:</p>
<section class="cards" id="overview">
{grid}
</section>
<div class="two">
<section class="panel">
  <h2>What each page does</h2>
  <dl class="explain">
    <dt><a href="/map">Map</a></dt><dd>CCAF's monthly shares of the hashrate by country, and
      by Chinese province, then the nowcast to the newest chain data with its 90 % interval;
      slide through the months, and see every country's share over time.</dd>
    <dt><a href="/events">Evidence</a></dt><dd>Natural experiments: days when a region's
      miners stopped, and what the block rate shows about its share.</dd>
    <dt><a href="/network">Network</a></dt><dd>Hashrate per day from the blocks mined (1 and
      7 days, 90 % intervals) beside the epoch mean, difficulty, every retarget, and the next one
      projected with Bitcoin Core's rule.</dd>
    <dt><a href="/energy">Energy</a></dt><dd>Power and annualised energy by CCAF's CBECI
      method, and the network's emissions by month (map × power × grid intensity); move the
      electricity price and watch the bounds.</dd>
    <dt><a href="/economics">Economics</a></dt><dd>Hashprice and any machine's break-even
      electricity price and daily margin.</dd>
    <dt><a href="/lab">Scenario lab</a></dt><dd>Start from a shipped scenario or a TOML file,
      add, edit and remove events of every kind (ban, curtailment, seasonal, price shock, tax)
      and region settings, run it against the same scenario without bans, share the run by
      its link, download CSV, JSON and TOML.</dd>
  </dl>
</section>
<section class="panel">
  <h2>Data and API</h2>
  <p class="note">Chain history to epoch {o['difficulty_epoch']} ({o['difficulty_since']}),
  market data to {o['market_month']}, mining map {o['map_months'][0]} … {o['map_months'][-1]}
  — all bundled with hashshift; sources in <code>hashshift/data/SOURCES.md</code>.</p>
  <p class="note">Every number here is also JSON: <a href="/api">/api</a> lists the endpoints
  and <a href="/openapi.json">/openapi.json</a> is their schema, e.g.</p>
  <pre>curl -s 'http://HOST/api/energy?price=0.05'
curl -s -X POST -H 'content-type: application/json' \\
     --data @scenario.json 'http://HOST/api/scenario/run'</pre>
</section>
</div>"""
    return _layout("home", "Overview", body, scripts=False)


def render(slug: str, settings: Any) -> str:
    label, title = PAGES[slug]
    body = _BODIES[slug](settings)
    return _layout(slug, label, f"<h1>{escape(title)}</h1>\n{body}")


def error_page(status: int, detail: str) -> str:
    text = "Page not found" if status == 404 else f"Error {status}"
    body = (f'<h1>{escape(text)}</h1><p class="lead">{escape(detail)}</p>'
            '<p><a href="/">Back to the overview</a></p>')
    return _layout("error", text, body, scripts=False)


# ---------------------------------------------------------------------------------------------
# page bodies
# ---------------------------------------------------------------------------------------------
def _map(_: Any) -> str:
    return """<div class="controls" id="map-controls">
  <label class="grow">Month <output id="month-label">…</output>
    <input type="range" id="month" min="0" max="0" step="1" value="0" aria-label="month"></label>
  <button type="button" id="play" class="secondary"
    aria-label="play through the months">▶ Play</button>
  <fieldset class="toggle" id="level">
    <legend>Level</legend>
    <label><input type="radio" name="level" value="country" checked> Countries</label>
    <label><input type="radio" name="level" value="province"> China's provinces</label>
  </fieldset>
</div>
<p class="kind-note" id="kind-note" role="status"></p>
<div class="split">
  <div class="panel busy-host"><div id="map" class="plot tall" role="img"
    aria-label="choropleth map"></div><div class="spinner" id="map-busy">Computing the
    nowcast (once per server, a few seconds)…</div></div>
  <div class="panel side">
    <h2 id="table-title">Shares</h2>
    <table class="data" id="shares"><thead><tr><th>Region</th><th class="num">share %</th>
    <th class="num" id="interval-head">90 %</th><th class="num">EH/s</th></tr></thead>
    <tbody></tbody></table>
    <p class="note" id="network-note"></p>
  </div>
</div>
<section class="panel busy-host">
  <div class="panel-head"><h2>Share of the world's hashrate over time [%]</h2>
    <span class="note">solid: observed (CCAF); after the dashed line: nowcast, median and
    90 % band</span></div>
  <div id="over-time" class="plot"></div>
  <div class="spinner" id="series-busy">Drawing…</div>
</section>
<p class="caveat" id="caveat"></p>"""


def _events(_: Any) -> str:
    return """<p class="lead">When a region's miners stop on known dates, the network's block rate
drops by about that region's share of the hashrate times the fraction that stopped. Each event
below is measured from the chain itself: blocks per hour or day and the difficulty in force,
with exact intervals from the block process.</p>
<section class="panel"><h2>The catalogue</h2>
  <div class="table-wrap"><table class="data" id="event-list"><thead><tr><th>Event</th>
  <th>Region</th><th>During (UTC)</th><th class="num">stopped</th><th class="num">drop</th>
  <th class="num">implied share</th></tr></thead><tbody></tbody></table></div>
  <p class="note">stopped: bounds on the fraction of the region's hashrate that stopped (the
  basis is under each chart); drop: the network's hashrate during vs before, 90 % interval with
  the background spread; implied share = drop ÷ stopped fraction.</p>
</section>
<div id="studies"></div>"""


def _network(_: Any) -> str:
    return """<section class="panel" id="retarget">
  <h2>Next retarget (projected)</h2>
  <div class="retarget">
    <div class="headline"><span class="big" id="rt-change">…</span>
      <span class="sub" id="rt-sub"></span></div>
    <form class="controls compact" id="rt-form">
      <label>Blocks mined in this epoch
        <input type="number" id="rt-blocks" min="2" max="2016" step="1" required></label>
      <label>Hours since its first block
        <input type="number" id="rt-hours" min="0.01" step="0.01" required></label>
      <button type="submit">Project</button>
      <button type="button" class="secondary" id="rt-reset">Reset</button>
    </form>
  </div>
  <dl class="facts" id="rt-facts"></dl>
  <p class="note" id="rt-note"></p>
</section>
<section class="panel">
  <div class="panel-head"><h2>Hashrate [EH/s]</h2>
    <label class="inline"><input type="checkbox" id="log"> log scale</label></div>
  <div id="hashrate" class="plot"></div>
  <p class="note" id="estimator"></p>
</section>
<section class="panel" id="pools">
  <div class="panel-head"><h2>Pool shares [% of blocks]</h2>
    <label class="inline" id="pools-period-label" hidden>period
      <select id="pools-period"></select></label></div>
  <div id="pools-chart" class="plot short" hidden></div>
  <div class="table-wrap" id="pools-wrap" hidden><table class="data" id="pools-table"><thead><tr>
    <th class="num">#</th><th>Pool</th><th class="num">blocks</th><th class="num">share %</th>
    <th class="num">empty</th></tr></thead><tbody></tbody></table></div>
  <p class="note" id="pools-note"></p>
</section>
<section class="panel">
  <h2>Difficulty and retargets</h2>
  <div id="difficulty" class="plot"></div>
  <div id="changes" class="plot short"></div>
</section>"""


def _energy(_: Any) -> str:
    return """<div class="controls">
  <label class="grow">Electricity price <output id="price-label">0.050 USD/kWh</output>
    <input type="range" id="price" min="0.01" max="0.20" step="0.005" value="0.05"
      aria-label="electricity price"></label>
</div>
<section class="cards" id="energy-cards"></section>
<section class="panel"><h2>Power [GW]</h2><div id="power" class="plot"></div></section>
<section class="panel"><h2>Network emissions by month [MtCO2e/yr]</h2>
  <div id="emissions" class="plot"></div><p class="note" id="emissions-note"></p></section>
<section class="panel"><h2>Profitability threshold and the fleet's efficiency [J/TH]</h2>
  <div id="efficiency" class="plot"></div><p class="note" id="method"></p></section>"""


def _economics(_: Any) -> str:
    return """<div class="controls">
  <label>Machine <select id="machine" aria-label="machine"></select></label>
  <label>Month <select id="month" aria-label="market month"></select></label>
  <label class="grow">Electricity price <output id="price-label">0.050 USD/kWh</output>
    <input type="range" id="price" min="0.01" max="0.20" step="0.005" value="0.05"
      aria-label="electricity price"></label>
</div>
<section class="cards" id="econ-cards"></section>
<section class="panel"><h2>Break-even electricity price of the machine [USD/kWh]</h2>
  <div id="breakeven" class="plot"></div><p class="note" id="formulae"></p></section>
<section class="panel"><h2>Hashprice [USD per PH/s per day]</h2>
  <div id="hashprice" class="plot"></div><p class="note" id="hashprice-note"></p></section>"""


def _token_field(settings: Any) -> str:
    """The access-token field of the lab, when the server needs one for runs (the token itself
    is never written into a page: the browser keeps what the user types, per tab)."""
    if not getattr(settings, "auth", False):
        return ""
    return """<label>Access token <input type="password" id="token" autocomplete="off"
    spellcheck="false" aria-describedby="token-note"></label>
  <p class="note" id="token-note">This server needs its access token to run scenarios. It is
  kept in this browser tab only (sessionStorage) and sent with each run.</p>
  """


def _lab(settings: Any) -> str:
    return f"""<div class="lab" data-max-paths="{settings.max_paths}"
  data-max-horizon="{settings.max_horizon_days}"
  data-auth="{'token' if getattr(settings, 'auth', False) else 'none'}">
<aside class="panel lab-controls">
  <label>Start from <select id="example" aria-label="example scenario"></select></label>
  <p class="note" id="example-desc"></p>
  <div class="row">
    <label>As of <input type="date" id="as-of-input" aria-label="as of"></label>
    <label>Paths <input type="number" id="paths" min="1" max="{settings.max_paths}"
      step="1"></label>
    <label>Days <input type="number" id="horizon" min="1" max="{settings.max_horizon_days}"
      step="1"></label>
    <label>Seed <input type="number" id="seed" min="0" step="1"></label>
  </div>
  <p class="note">as of <b id="as-of">…</b>: the run starts that day, from what was known then;
  limits here: ≤ {settings.max_paths:,} paths, ≤ {settings.max_horizon_days:,} days</p>
  <ul class="note extrapolated" id="extrapolated" hidden></ul>
  {_token_field(settings)}<label class="inline"><input type="checkbox" id="baseline" checked>
    compare with the baseline (same scenario, bans removed)</label>
  <div class="row">
    <button type="button" id="run">Run scenario</button>
    <label class="secondary file">Load TOML… <input type="file" id="toml-file"
      accept=".toml,text/plain"></label>
  </div>
  <div id="status" class="status" role="status" aria-live="polite"></div>
  <progress id="progress" max="1" value="0" hidden></progress>
  <ul class="problems" id="problems"></ul>
  <p class="share" id="share" hidden>Link to this run (the scenario is in the link; opening it
    runs it again): <a id="share-link">this run</a></p>
  <h2>Events <span class="note">(switch on or off, edit, remove; or add one)</span></h2>
  <div id="events"></div>
  <div class="row add-row">
    <label>New event <select id="new-kind" aria-label="kind of the new event">
      <option value="ban">ban</option><option value="curtailment">curtailment</option>
      <option value="seasonal">seasonal</option><option value="price_shock">price shock</option>
      <option value="tax">tax</option></select></label>
    <button type="button" class="secondary" id="add-event">Add event</button>
  </div>
  <h2>Regions <span class="note">(override a region's tariff, capacity, risk …)</span></h2>
  <div id="regions"></div>
  <div class="row add-row">
    <label>Region <select id="new-region" aria-label="region to add"></select></label>
    <button type="button" class="secondary" id="add-region">Add region</button>
  </div>
</aside>
<section class="lab-results">
  <div class="cards" id="summary"></div>
  <div id="results" hidden>
  <div class="panel downloads" id="downloads" hidden></div>
  <div class="panel"><h2>World hashrate [EH/s]</h2><div id="lab-hashrate" class="plot"></div></div>
  <div class="panel"><h2>Difficulty retargets [%] (median, 90 % band)</h2>
    <div id="lab-retargets" class="plot short"></div></div>
  <div class="panel"><h2>Share of the world's hashrate [%] (medians; dotted: baseline)</h2>
    <div id="lab-shares" class="plot"></div></div>
  <div class="panel"><h2>Power [GW]</h2><div id="lab-power" class="plot short"></div></div>
  <p class="note">Bands: 5–95 % (light) and 25–75 % (dark) of the Monte Carlo paths; lines:
  medians. Regional shares come from the first 500 paths.</p>
  </div>
</section>
</div>"""


_BODIES = {"map": _map, "events": _events, "network": _network, "energy": _energy,
           "economics": _economics, "lab": _lab}
