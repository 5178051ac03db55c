// The Backtest page (#/backtest): pick strategy, data (shipped klines or the recorded store), symbols, dates
// and a grid (checked by the backtester itself before it runs), run it as a background job with live
// progress, read the ranked table (in-sample beside held-out), look at equity and trades, compare
// configurations, and apply one to the momentum engine (run/momentum_params.json). Self-contained.
import { el } from "../api.js";

const GRIDS = {
  momentum: { settings: { taker_fee_bps: 5, extra_slippage_bps: 0.5, notional_usd: 1000, cooldown_min: 5, train_frac: 0.7 },
    default_grid: { k: [1.5, 2, 3], T: [30, 60], n: [1.5, 2], V: [30, 60], tp_bps: [30, 60], sl_bps: [20, 40],
      activation_bps: 15, activation_buffer_bps: 2, callback_bps: [5, 10], min_tp_gap_bps: 5, spread_max: 5, funding_max: 5 } },
  scanner: { settings: { taker_fee_bps: 5, extra_slippage_bps: 0.5, notional_usd: 1000, cooldown_min: 5, train_frac: 0.7 },
    default_grid: { interval: ["5m", "15m"], htf_interval: ["30m", "1h"], rsi_buy_min: [51, 55], rsi_sell_max: [49, 45],
      trend_align: [true, false], align_pad: 1.5, sl_atr_mult: [1, 1.5], tp_atr_mult: [1.5, 2.5] } },
};
const SHOWN = ["rank", "oos_rank", "config_id", "symbol", "is_total_pnl", "is_trades", "is_win_rate", "is_profit_factor",
  "is_max_drawdown", "is_sharpe", "oos_total_pnl", "oos_trades", "oos_win_rate"];
const METRIC_START = "is_total_pnl";
const COLORS = ["#3b82f6", "#f59e0b", "#22c55e", "#e879f9"];

let ctx = null, root = null, timers = [], sources = null, coverage = null, selectedJob = null, sort = { key: "rank", desc: false };
let compare = [], lastJobs = [], plots = [], checkTimer = null;

function num(v, d = 2) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  return Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: d }) : String(v);
}

function say(node, text, ok = true) { if (node) { node.textContent = text; node.className = "msg " + (ok ? "ok" : "err"); } }
const $ = (sel) => root && root.querySelector(sel);

// ------------------------------------------------------------------ form
function sourceValue() { return $("#bt-source").value; }

function available() {
  const v = sourceValue();
  if (v === "store") {
    return { symbols: coverage?.symbols || [], first: coverage?.dates?.[0] || "", last: coverage?.dates?.slice(-1)[0] || "" };
  }
  const ds = (sources?.datasets || []).find((d) => `klines:${d.name}` === v);
  return ds ? { symbols: ds.symbols, first: ds.first_day, last: ds.last_day } : { symbols: [], first: "", last: "" };
}

function renderSymbolChoice() {
  const av = available();
  const box = $("#bt-symbols");
  const before = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren(...av.symbols.map((s, i) => el("label", { class: "bt-sym" },
    el("input", { type: "checkbox", value: s, checked: before.size ? before.has(s) : i === 0 }), ` ${s}`)));
  if (!av.symbols.length) box.append(el("span", { class: "hint", text: "no symbols in this source" }));
  for (const id of ["#bt-start", "#bt-end"]) { $(id).min = av.first; $(id).max = av.last; }
  if (!$("#bt-start").value || $("#bt-start").value < av.first || $("#bt-start").value > av.last) $("#bt-start").value = av.first;
  if (!$("#bt-end").value || $("#bt-end").value > av.last || $("#bt-end").value < av.first) {
    // a short default range: the first three days (a quick first run)
    const d = av.first ? new Date(Date.parse(av.first) + 2 * 86400000).toISOString().slice(0, 10) : "";
    $("#bt-end").value = d && d < av.last ? d : av.last;
  }
  $("#bt-range").textContent = av.first ? `data from ${av.first} to ${av.last}` : "";
}

function request() {
  let grid;
  try { grid = JSON.parse($("#bt-grid").value); } catch (e) { throw new Error(`grid: not valid JSON (${e.message})`); }
  const v = sourceValue();
  return { kind: $("#bt-kind").value, strategy: $("#bt-strategy").value,
    source: v === "store" ? { type: "store" } : { type: "klines", name: v.slice("klines:".length) },
    symbols: [...$("#bt-symbols").querySelectorAll("input:checked")].map((i) => i.value),
    start_date: $("#bt-start").value, end_date: $("#bt-end").value, grid, top: 10 };
}

function setGrid() {
  const g = structuredClone(GRIDS[$("#bt-strategy").value]);
  if ($("#bt-kind").value === "run") for (const [k, v] of Object.entries(g.default_grid)) g.default_grid[k] = Array.isArray(v) ? v[0] : v;
  $("#bt-grid").value = JSON.stringify(g, null, 1);
}

let checkSeq = 0;
async function check() {
  const msg = $("#bt-check-msg"), seq = ++checkSeq;
  clearTimeout(checkTimer);
  say(msg, "checking the grid…");
  try {
    const res = await ctx.api("POST", "/api/backtest/check", request());
    if (seq !== checkSeq || !root) return;          // an older answer: a newer check is on its way
    say(msg, `grid OK: ${res.n_configs} configuration(s) (${Object.entries(res.per_symbol).map(([s, n]) => `${s} ${n}`).join(", ")})`);
    $("#bt-grid").classList.remove("invalid");
    return true;
  } catch (e) {
    if (seq !== checkSeq || !root) return false;
    say(msg, e.message, false); $("#bt-grid").classList.add("invalid"); return false;
  }
}

async function start() {
  const msg = $("#bt-check-msg");
  clearTimeout(checkTimer); checkSeq += 1;
  say(msg, "checking and starting…");
  try {
    const job = await ctx.api("POST", "/api/backtest/jobs", request());
    say(msg, `started ${job.kind} ${job.id} (${job.n_configs} configurations)`);
    selectedJob = job.id; compare = [];
    await refreshJobs();
  } catch (e) { say(msg, e.message, false); }
}

// ------------------------------------------------------------------ jobs
function progressCell(j) {
  const p = j.progress || {};
  const pct = p.total ? Math.round(100 * p.done / p.total) : j.state === "done" ? 100 : 0;
  const bar = el("div", { class: "bt-bar" }, el("div", { class: `bt-fill st-${j.state}`, style: `width:${pct}%` }));
  const eta = p.eta_s ? `, ETA ${Math.ceil(p.eta_s)} s` : "";
  return el("td", { class: "bt-prog" }, bar, el("span", { class: "hint", text: `${p.total ? `${p.done}/${p.total} chunks` : ""}${eta} ${p.message || ""}` }));
}

function renderJobs(jobs) {
  lastJobs = jobs;
  const rows = jobs.map((j) => el("tr", { class: j.id === selectedJob ? "bt-selected" : "", "data-job": j.id, "data-state": j.state,
    onclick: () => { if (selectedJob !== j.id) { selectedJob = j.id; compare = []; refreshJobs(); } } },
  el("td", { class: "mono", text: j.id }), el("td", { text: `${j.kind} ${j.strategy}` }), el("td", { text: j.symbols.join(", ") }),
  el("td", { text: `${j.start_date} → ${j.end_date}` }), el("td", { text: num(j.n_configs, 0) }),
  el("td", { class: `st-${j.state}`, text: j.state }), progressCell(j),
  el("td", {}, j.running ? el("button", { class: "small", "data-cancel": j.id, onclick: (ev) => { ev.stopPropagation(); cancel(j.id); } }, "Cancel") : "")));
  const t = el("table", { class: "table", id: "bt-jobs-table" }, el("thead", {}, el("tr", {}, ...["job", "what", "symbols", "dates", "configs", "state", "progress", ""].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...(rows.length ? rows : [el("tr", {}, el("td", { class: "empty", colspan: "8", text: "no job yet: start one above" }))])));
  $("#bt-jobs").replaceChildren(el("div", { class: "dp-scroll" }, t));
}

async function cancel(id) {
  try { await ctx.api("POST", `/api/backtest/jobs/${id}/cancel`); } catch (e) { alert(`Cancel: ${e.message}`); }
  refreshJobs();
}

let shownResultsFor = null;
async function refreshJobs() {
  try {
    const { jobs } = await ctx.api("GET", "/api/backtest/jobs");
    if (!root) return;
    if (!selectedJob && jobs.length) selectedJob = jobs[0].id;
    renderJobs(jobs);
    const job = jobs.find((j) => j.id === selectedJob);
    const key = job ? `${job.id}:${job.state}:${job.has_results}:${sort.key}:${sort.desc}` : null;
    if (job && key !== shownResultsFor) { shownResultsFor = key; await showResults(job); }
    if (!job) $("#bt-results").replaceChildren(el("p", { class: "hint", text: "results appear here" }));
  } catch (e) { console.error(e); }
}

// ------------------------------------------------------------------ results
async function showResults(job) {
  const box = $("#bt-results");
  if (!job.has_results) {
    box.replaceChildren(el("p", { class: "hint", id: "bt-no-results", text: job.state === "failed" ? `failed: ${job.progress.message}` : "no results yet" }));
    drawCharts(job, []);
    return;
  }
  const [res, status] = await Promise.all([
    ctx.api("GET", `/api/backtest/jobs/${job.id}/results?sort=${encodeURIComponent(sort.key)}&desc=${sort.desc}&limit=200`),
    ctx.api("GET", `/api/backtest/jobs/${job.id}`)]);
  if (!root) return;
  const cols = res.columns, idx = (c) => cols.indexOf(c);
  const params = cols.slice(idx("symbol") + 1, idx(METRIC_START));
  const shown = [...SHOWN.slice(0, 4), ...params, ...SHOWN.slice(4)].filter((c) => idx(c) >= 0);
  const details = new Set(status.detail_ids || []);
  if (!compare.length && details.size) compare = [res.rows.find((r) => details.has(r[idx("config_id")]))?.[idx("config_id")]].filter((x) => x !== undefined);
  const head = el("tr", {}, el("th", { text: "compare" }), ...shown.map((c) => el("th", { class: "bt-sort", "data-col": c,
    onclick: () => { sort = { key: c, desc: sort.key === c ? !sort.desc : c.endsWith("pnl") || c.endsWith("sharpe") }; refreshJobs(); },
    text: c.replace(/^is_/, "").replace(/^oos_/, "held-out ") + (sort.key === c ? (sort.desc ? " ▼" : " ▲") : "") })),
  el("th", { text: "" }));
  const body = res.rows.map((r) => {
    const cid = r[idx("config_id")];
    const box = el("input", { type: "checkbox", "data-compare": cid, disabled: !details.has(cid), checked: compare.includes(cid),
      title: details.has(cid) ? "show equity and trades" : "equity and trades are kept for the top configurations",
      onchange: (ev) => { compare = ev.target.checked ? [...compare, cid].slice(-4) : compare.filter((x) => x !== cid); drawCharts(job, compare); } });
    const apply = el("button", { class: "small", "data-apply": cid, onclick: () => applyConfig(job, cid, r[idx("symbol")]),
      title: job.strategy === "momentum" ? "write to momentum_params.json for this symbol" : "save as the bot's settings (every symbol it scans)" }, "Apply");
    return el("tr", { "data-config": cid }, el("td", {}, box), ...shown.map((c) => {
      const v = r[idx(c)];
      const cls = c.endsWith("total_pnl") ? (v > 0 ? "pos" : v < 0 ? "neg" : "") : "";
      return el("td", { class: cls, text: typeof v === "number" ? num(v, c.includes("rate") ? 3 : 4) : v ?? "–" });
    }), el("td", {}, apply));
  });
  const tried = res.rows.length ? res.rows[0][idx("n_configs_tried")] : 0;
  box.replaceChildren(
    el("p", { class: "hint", id: "bt-summary", text: `${res.total} configuration(s) ranked by in-sample PnL; ${num(tried, 0)} tried in all (the more you try, the more the best one is luck: read the held-out columns). ${res.rows.length && res.rows[0][idx("complete")] === false ? "Cancelled: finished chunks only." : ""}` }),
    el("div", { class: "dp-scroll bt-results-scroll" }, el("table", { class: "table", id: "bt-results-table" }, el("thead", {}, head), el("tbody", {}, ...body))));
  drawCharts(job, compare);
}

async function applyConfig(job, cid, symbol) {
  const msg = $("#bt-apply-msg");
  const question = job.strategy === "momentum"
    ? `Write configuration ${cid}'s parameters for ${symbol} to momentum_params.json? The momentum engine reads them.`
    : `Save configuration ${cid} (tuned on ${symbol}) as the scanner bot's settings? They apply to every symbol the bot scans.`;
  if (!confirm(question)) return;
  try {
    const res = await ctx.api("POST", `/api/backtest/jobs/${job.id}/apply`, { config_id: cid });
    if (res.strategy === "scanner") {
      const r = res.result, restart = Object.entries(r.needs_restart || {}).map(([p, n]) => `${p}: ${n.join(", ")}`).join("; ");
      say(msg, `saved ${Object.keys(res.settings).join(", ")} for the bot` + (r.changed.length ? "" : " (nothing changed)") +
        (restart ? `; needs a restart: ${restart}` : "") + (res.not_applied.length ? `; not a bot setting: ${res.not_applied.join(", ")}` : ""));
      return;
    }
    say(msg, `applied configuration ${cid} for ${symbol} to ${res.file}` + (res.kept_aside ? `; the previous file was unreadable (${res.problem}) and was kept aside as ${res.kept_aside}` : ""), !res.kept_aside);
    renderParams({ file: res.file, document: res.document, problem: res.kept_aside ? `previous file kept aside as ${res.kept_aside}` : null });
  } catch (e) { say(msg, e.message, false); }
}

function renderParams(p) {
  const doc = p.document || { symbols: {} };
  const rows = Object.entries(doc.symbols || {}).map(([sym, params]) => {
    const a = (doc.applied || {})[sym] || {};
    return [sym, Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" "), a.config_id ?? "–", a.job || "–", a.applied_at || "–"];
  });
  const t = el("table", { class: "table", id: "bt-params-table" }, el("thead", {}, el("tr", {}, ...["symbol", "parameters", "config", "job", "applied"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...(rows.length ? rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: String(c) })))) : [el("tr", {}, el("td", { class: "empty", colspan: "5", text: "nothing applied yet" }))])));
  $("#bt-params").replaceChildren(el("p", { class: "hint mono", text: p.file }), p.problem ? el("p", { class: "error", id: "bt-params-problem", text: p.problem }) : "", el("div", { class: "dp-scroll" }, t));
}

// ------------------------------------------------------------------ charts
function plot(node, series, data, height = 200) {
  const width = Math.max(260, node.clientWidth - 4);
  return new window.uPlot({ width, height, series, scales: { x: { time: true } }, legend: { show: true },
    axes: [{ stroke: "#8a97a6", grid: { stroke: "#1f2831" } }, { stroke: "#8a97a6", grid: { stroke: "#1f2831" }, size: 60 }] }, data, node);
}

async function drawCharts(job, ids) {
  for (const p of plots) p.destroy();
  plots = [];
  const eqNode = $("#bt-equity"), pxNode = $("#bt-price"), trNode = $("#bt-trades");
  if (!eqNode) return;
  eqNode.replaceChildren(); pxNode.replaceChildren(); trNode.replaceChildren();
  if (!ids.length || !window.uPlot) { eqNode.textContent = "pick configurations (compare column) to see their equity and trades"; return; }
  const det = await Promise.all(ids.map((id) => ctx.api("GET", `/api/backtest/jobs/${job.id}/details/${id}`)));
  if (!root) return;
  const xs = det[0].t.map((t) => t / 1000);
  const same = det.filter((d) => d.t.length === det[0].t.length && d.t[0] === det[0].t[0]);
  plots.push(plot(eqNode, [{}, ...same.map((d, i) => ({ label: `#${d.rank} cfg ${d.config_id} ${d.symbol}`, stroke: COLORS[i], width: 2 }))],
    [xs, ...same.map((d) => d.equity)]));
  plots.push(plot(eqNode.appendChild(el("div")), [{}, ...same.map((d, i) => ({ label: `drawdown cfg ${d.config_id}`, stroke: COLORS[i], fill: "rgba(239,68,68,.15)" }))],
    [xs, ...same.map((d) => d.drawdown)], 120));
  const d = det[0];
  const at = (ms) => { let i = d.t.findIndex((t) => t > ms) - 1; return i < 0 ? (ms >= d.t[d.t.length - 1] ? d.t.length - 1 : 0) : i; };
  const entries = new Array(d.t.length).fill(null), exits = new Array(d.t.length).fill(null);
  for (const tr of d.trades) { entries[at(tr.entry_ms)] = tr.entry_price; exits[at(tr.exit_ms)] = tr.exit_price; }
  const pt = (c) => ({ paths: () => null, points: { show: true, size: 7, stroke: c, fill: c } });
  plots.push(plot(pxNode, [{}, { label: `${d.symbol} close`, stroke: "#dce3ea", width: 1 }, { label: "entry", ...pt("#22c55e") }, { label: "exit", ...pt("#f59e0b") }],
    [xs, d.close, entries, exits], 220));
  const rows = d.trades.slice(0, 200).map((t) => el("tr", {}, ...[new Date(t.entry_ms).toISOString().slice(0, 16).replace("T", " "),
    new Date(t.exit_ms).toISOString().slice(0, 16).replace("T", " "), t.side, num(t.entry_price, 6), num(t.exit_price, 6), t.reason,
    num(t.fees, 4)].map((v) => el("td", { text: v })), el("td", { class: t.pnl > 0 ? "pos" : t.pnl < 0 ? "neg" : "", text: num(t.pnl, 4) })));
  trNode.replaceChildren(el("p", { class: "hint", text: `config ${d.config_id} ${d.symbol}: ${d.n_trades} trades${d.n_trades > 200 ? " (first 200 shown)" : ""}${d.split_time_utc ? `; held-out from ${d.split_time_utc} UTC` : ""}` }),
    el("div", { class: "dp-scroll bt-trades-scroll" }, el("table", { class: "table", id: "bt-trades-table" },
      el("thead", {}, el("tr", {}, ...["entry", "exit", "side", "entry px", "exit px", "exit by", "fees", "PnL"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...rows))));
}

// ------------------------------------------------------------------ page
function build() {
  const opt = (v, t) => el("option", { value: v, text: t });
  return el("div", { class: "dp-page", id: "backtest-page" },
    el("div", { class: "dp-grid" },
      el("section", { class: "card wide", id: "bt-form" }, el("h2", {}, "New backtest"),
        el("div", { class: "row" },
          el("label", {}, "Kind ", el("select", { id: "bt-kind", onchange: setGrid }, opt("sweep", "sweep (grid)"), opt("run", "run (one configuration)"))),
          el("label", {}, "Strategy ", el("select", { id: "bt-strategy", onchange: setGrid }, opt("momentum", "momentum-volatility"), opt("scanner", "RSI/ATR scanner"))),
          el("label", {}, "Data ", el("select", { id: "bt-source", onchange: renderSymbolChoice }))),
        el("div", { class: "row", id: "bt-symbols" }),
        el("div", { class: "row" }, el("label", {}, "From ", el("input", { type: "date", id: "bt-start" })),
          el("label", {}, "to ", el("input", { type: "date", id: "bt-end" })), el("span", { class: "hint", id: "bt-range" })),
        el("label", { for: "bt-grid", class: "hint" }, "Grid: settings, default_grid (a value or a list per key) and optional per-symbol grids under \"symbols\" (docs/backtest.md)"),
        el("textarea", { id: "bt-grid", rows: "9", class: "dp-sql", spellcheck: "false", oninput: () => { clearTimeout(checkTimer); checkTimer = setTimeout(check, 800); } }),
        el("div", { class: "row" }, el("button", { id: "bt-check", onclick: check }, "Check grid"),
          el("button", { id: "bt-run", class: "primary", onclick: start }, "Start"), el("span", { id: "bt-check-msg", class: "msg" }))),
      el("section", { class: "card wide", id: "bt-jobs-card" }, el("h2", {}, "Jobs ", el("small", { text: "one run and one sweep at a time; they go on if the dashboard restarts" })), el("div", { id: "bt-jobs" })),
      el("section", { class: "card wide", id: "bt-results-card" }, el("h2", {}, "Ranked results ", el("small", { id: "bt-apply-msg", class: "msg" })), el("div", { id: "bt-results" })),
      el("section", { class: "card wide", id: "bt-charts-card" }, el("h2", {}, "Equity, drawdown and trades"),
        el("div", { id: "bt-equity", class: "dp-chart" }), el("div", { id: "bt-price", class: "dp-chart" }), el("div", { id: "bt-trades" })),
      el("section", { class: "card wide", id: "bt-params-card" }, el("h2", {}, "Applied to the momentum engine"), el("div", { id: "bt-params" }))));
}

async function loadSources() {
  try {
    [sources, coverage] = await Promise.all([ctx.api("GET", "/api/backtest/sources"),
      ctx.api("GET", "/api/data/coverage").catch(() => null)]);
  } catch (e) { say($("#bt-check-msg"), e.message, false); return; }
  if (!root) return;
  const sel = $("#bt-source");
  sel.replaceChildren(...sources.datasets.map((d) => el("option", { value: `klines:${d.name}`, text: `${d.name} (shipped 1m klines)` })),
    ...(coverage && coverage.exists && coverage.symbols.length ? [el("option", { value: "store", text: "recorded store" })] : []));
  renderSymbolChoice();
}

export default {
  id: "backtest",
  title: "Backtest",
  mount(node, context) {
    ctx = context; root = node;
    root.replaceChildren(build());
    setGrid();
    loadSources();
    refreshJobs();
    ctx.api("GET", "/api/backtest/params").then((p) => root && renderParams(p)).catch(() => {});
    timers = [setInterval(refreshJobs, 1000)];
  },
  unmount() {
    for (const t of timers) clearInterval(t);
    clearTimeout(checkTimer);
    timers = [];
    for (const p of plots) p.destroy();
    plots = []; shownResultsFor = null; compare = []; selectedJob = null;
    if (root) root.replaceChildren();
    root = null;
  },
};
