// The Data page (#/data): the recorder (state, streams, staleness per symbol, today's files, gaps, start and
// stop), recorded days on disk (bytes, gaps, load into the store), store coverage as a calendar per symbol,
// and read-only SQL on the store with CSV export. Self-contained: it needs only ctx.api and the el() helper.
import { el } from "../api.js";

const STREAMS = ["kline_1m", "bookTicker", "markPrice@1s", "aggTrade", "depth5@100ms"];
// seconds of silence after which a stream counts as stale (the recorder's own thresholds, recorder/gaps.py)
const STALE_AFTER = { "kline_1m": 30, bookTicker: 30, "markPrice@1s": 5, aggTrade: 300, "depth5@100ms": 3 };
const FAMILIES = ["kline", "bookTicker", "markPrice", "aggTrade_1s", "depth5", "gaps"];

let timers = [], ctx = null, root = null, lastCoverage = null, lastDays = [];

export function fmtBytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

function age(s) {
  if (s === null || s === undefined) return "–";
  return s < 10 ? `${s.toFixed(1)} s` : s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
}

function num(v, d = 2) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  return Number.isFinite(n) ? n.toLocaleString(undefined, { maximumFractionDigits: d }) : String(v);
}

function card(id, title, ...body) {
  return el("section", { class: "card", id }, el("h2", {}, title), ...body);
}

function table(head, rows, empty, attrs = {}) {
  const t = el("table", { class: "table", ...attrs }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))));
  const tb = el("tbody");
  if (!rows.length) tb.append(el("tr", {}, el("td", { class: "empty", colspan: String(head.length), text: empty })));
  for (const r of rows) tb.append(r instanceof Node ? r : el("tr", {}, ...r.map((c) => c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));
  t.append(tb);
  return el("div", { class: "dp-scroll" }, t);
}

function say(node, text, ok = true) { node.textContent = text; node.className = "msg " + (ok ? "ok" : "err"); }

// ------------------------------------------------------------------ recorder
function renderRecorder(rec) {
  if (!root) return;
  const p = rec.process || {}, s = rec.status || {};
  const running = p.state === "running" || p.state === "stopping";
  const stale = running && rec.status_age_s !== null && rec.status_age_s > 5;
  const box = root.querySelector("#dp-recorder-body");
  const symbolsInput = root.querySelector("#dp-symbols");
  if (!symbolsInput.dataset.touched && (rec.args?.symbols || s.symbols)) symbolsInput.value = (rec.args?.symbols || s.symbols).join(",");
  root.querySelector("#dp-start").disabled = running;
  root.querySelector("#dp-stop").disabled = !running;
  const kv = [
    ["process", el("span", { class: `st-${p.state}`, id: "dp-proc-state", "data-state": p.state || "" }, p.state || "–"),
      p.pid ? ` pid ${p.pid}` : "", p.adopted ? " (adopted)" : ""],
    ["recorder says", el("span", { id: "dp-rec-state", "data-state": s.state || "" }, s.state || "no status file yet"),
      s.error ? el("span", { class: "error", text: ` ${s.error}` }) : ""],
    ["status file", rec.status_age_s === null ? "–" : `written ${age(rec.status_age_s)} ago`,
      stale ? el("span", { class: "error", text: " (stale: the recorder is not updating it)" }) : ""],
    ["symbols", (s.symbols || []).join(", ") || "–"],
    ["venue time", s.venue_time_utc || "–"], ["day", s.day || "–"],
    ["seconds written", el("span", { id: "dp-seconds" }, num(s.seconds_written, 0))],
    ["connections / reconnects", `${num(s.connections, 0)} / ${num(s.reconnects, 0)}`],
    ["gaps today", el("span", { id: "dp-gaps-today" }, num(s.gaps_today, 0))],
    ["directory", rec.log_dir],
  ];
  box.replaceChildren(el("table", { class: "dp-kv" }, ...kv.map(([k, ...v]) => el("tr", {}, el("th", { text: k }), el("td", {}, ...v)))),
    rec.problem ? el("p", { class: "error", text: rec.problem }) : "",
    p.message ? el("p", { class: "hint", text: p.message }) : "");

  // the figures are as of the status file's writing: add its age, so a silent recorder shows as stale
  const since = rec.status_age_s || 0;
  const plus = (a) => (a === null || a === undefined ? a : a + since);
  const streams = s.streams || {};
  root.querySelector("#dp-streams").replaceChildren(table(["stream", "messages", "per second", "last message"],
    STREAMS.filter((k) => streams[k]).map((k) => el("tr", { "data-stream": k }, el("td", { text: k }),
      el("td", { text: num(streams[k].messages, 0) }), el("td", { class: "dp-rate", text: num(streams[k].per_s, 2) }),
      el("td", { class: ageClass(plus(streams[k].last_message_age_s), k), text: age(plus(streams[k].last_message_age_s)) }))),
    "no stream figures yet", { id: "dp-streams-table" }));

  const ages = s.last_message_age_s || {};
  root.querySelector("#dp-staleness").replaceChildren(table(["symbol", ...STREAMS],
    Object.keys(ages).sort().map((sym) => el("tr", { "data-symbol": sym }, el("td", { text: sym }),
      ...STREAMS.map((k) => el("td", { class: ageClass(plus(ages[sym][k]), k), text: age(plus(ages[sym][k])) })))),
    "no symbol yet", { id: "dp-stale-table" }),
  (s.stale_now || []).length ? el("p", { class: "error", text: "stale now: " + s.stale_now.map((x) => `${x.symbol} ${x.stream}`).join(", ") }) : "");

  const files = s.files || {};
  root.querySelector("#dp-files").replaceChildren(table(["file", "rows today", "size"],
    Object.entries(files).map(([fam, f]) => el("tr", { "data-family": fam }, el("td", { class: "mono", text: (f.path || fam).split("/").pop() }),
      el("td", { class: "dp-rows", text: num(f.rows_today, 0) }), el("td", { text: fmtBytes(f.bytes) }))),
    "no file yet", { id: "dp-files-table" }));

  root.querySelector("#dp-gaps").replaceChildren(table(["symbol", "kind", "stream", "seconds", "detail"],
    (s.recent_gaps || []).slice().reverse().map((g) => [g.symbol, g.kind, g.stream, num(g.seconds, 1), g.detail || ""]),
    "no gap recorded", { id: "dp-gaps-table" }));
}

function ageClass(a, stream) {
  if (a === null || a === undefined) return "dp-unknown";
  return a > (STALE_AFTER[stream] || 30) ? "dp-stale" : "dp-fresh";
}

// ------------------------------------------------------------------ days and coverage
function renderDays(days, coverage) {
  if (!root) return;
  const loaded = new Set((coverage?.dates || []).map((d) => d.replaceAll("-", "")));
  const rowsOf = {};          // rows per day in the store (all five tables, every symbol)
  for (const r of coverage?.rows || []) {
    const k = r.date.replaceAll("-", "");
    rowsOf[k] = (rowsOf[k] || 0) + r.kline_rows + r.book_ticker_rows + r.mark_price_rows + r.agg_trade_1s_rows + r.depth5_rows;
  }
  const rows = days.map((d) => {
    const gaps = Object.entries(d.gaps || {}).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
    const loadBtn = el("button", { class: "small", "data-day": d.day, onclick: () => loadDay(d.day) }, loaded.has(d.day) ? "Reload" : "Load");
    return el("tr", { "data-day": d.day }, el("td", { text: `${d.day.slice(0, 4)}-${d.day.slice(4, 6)}-${d.day.slice(6)}` }),
      el("td", { class: "dp-bytes", text: fmtBytes(d.bytes) }), el("td", { class: "dp-day-rows", text: d.day in rowsOf ? num(rowsOf[d.day], 0) : "–" }),
      el("td", { text: FAMILIES.filter((f) => f in d.files).length + " of 6" }),
      el("td", { text: gaps }), el("td", { text: loaded.has(d.day) ? "yes" : "no" }), el("td", {}, loadBtn));
  });
  root.querySelector("#dp-days").replaceChildren(table(["day (UTC)", "size", "rows (store)", "files", "gaps", "in store", ""], rows,
    "no recorded day in this directory", { id: "dp-days-table" }));
  drawBytesChart(days);
}

function drawBytesChart(days) {
  const node = root.querySelector("#dp-bytes-chart");
  if (!window.uPlot || days.length === 0) { node.textContent = days.length ? "" : "no data yet"; return; }
  const sorted = days.slice().sort((a, b) => a.day.localeCompare(b.day));
  const xs = sorted.map((d) => Date.UTC(+d.day.slice(0, 4), +d.day.slice(4, 6) - 1, +d.day.slice(6)) / 1000);
  const top = Math.max(...sorted.map((d) => d.bytes));
  const [unit, div] = top >= 1073741824 ? ["GiB", 1073741824] : top >= 1048576 ? ["MiB", 1048576] : top >= 1024 ? ["KiB", 1024] : ["B", 1];
  const ys = sorted.map((d) => d.bytes / div);
  const bars = window.uPlot.paths && window.uPlot.paths.bars ? window.uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
  const width = Math.max(260, node.clientWidth - 4);
  node.replaceChildren();
  new window.uPlot({ width, height: 160, legend: { show: false },
    scales: { x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] }, y: { range: (u, lo, hi) => [0, hi * 1.1 || 1] } },
    axes: [{ stroke: "#8a97a6", grid: { show: false }, incrs: [86400, 7 * 86400, 28 * 86400],
      values: (u, splits) => splits.map((x) => new Date(x * 1000).toISOString().slice(5, 10)) },
    { stroke: "#8a97a6", grid: { stroke: "#1f2831" }, size: 60, label: `${unit} per day` }],
    series: [{}, { label: `${unit} per day`, stroke: "#3b82f6", fill: "rgba(59,130,246,.4)", paths: bars, points: { show: bars === undefined } }] },
  [xs, ys], node);
}

function renderCoverage(cov) {
  if (!root) return;
  const box = root.querySelector("#dp-coverage");
  if (!cov.exists || !cov.rows.length) {
    box.replaceChildren(el("p", { class: "hint", text: "the store is empty: load a recorded day (table above)" }));
    return;
  }
  const dates = cov.dates, bySym = {};
  for (const r of cov.rows) (bySym[r.symbol] ||= {})[r.date] = r;
  const cal = el("div", { class: "dp-cal", id: "dp-calendar", style: `grid-template-columns: 7.5rem repeat(${dates.length}, 2.2rem)` },
    el("div", {}), ...dates.map((d) => el("div", { class: "dp-cal-head", text: d.slice(5) })));
  for (const sym of cov.symbols) {
    cal.append(el("div", { class: "dp-cal-sym", text: sym }));
    for (const d of dates) {
      const r = bySym[sym][d];
      const pct = r ? r.day_pct : 0;
      const level = !r ? 0 : pct >= 99 ? 4 : pct >= 75 ? 3 : pct >= 25 ? 2 : 1;
      cal.append(el("div", { class: `dp-cell l${level}`, "data-symbol": sym, "data-date": d,
        title: r ? `${sym} ${d}: ${pct}% of the day, ${r.gap_seconds} s gaps, ${r.stale_seconds} s stale, ${r.reconnects} reconnects, ${r.book_ticker_rows} rows` : `${sym} ${d}: nothing`,
        text: !r ? "" : pct >= 1 ? String(Math.round(pct)) : "<1" }));
    }
  }
  box.replaceChildren(el("div", { class: "dp-scroll" }, cal),
    el("p", { class: "hint", text: "cells: share of the UTC day covered (% of 86,400 seconds with a row); hover for gaps and reconnects" }),
    table(["date", "symbol", "first", "last", "day %", "gap s", "stale s", "reconnects", "rows"],
      cov.rows.map((r) => [r.date, r.symbol, (r.first_utc || "").slice(11), (r.last_utc || "").slice(11), num(r.day_pct),
        num(r.gap_seconds, 1), num(r.stale_seconds, 1), num(r.reconnects, 0), num(r.book_ticker_rows, 0)]),
      "no coverage", { id: "dp-coverage-table" }));
}

// ------------------------------------------------------------------ actions
async function refreshRecorder() {
  try { renderRecorder(await ctx.api("GET", "/api/data/recorder")); } catch (e) { say(root.querySelector("#dp-rec-msg"), e.message, false); }
}

async function refreshDays() {
  try {
    lastDays = (await ctx.api("GET", "/api/data/days")).days;
    renderDays(lastDays, lastCoverage);
  } catch (e) { console.error(e); }
}

async function refreshCoverage() {
  const msg = root.querySelector("#dp-cov-msg");
  try {
    lastCoverage = await ctx.api("GET", "/api/data/coverage");
    renderCoverage(lastCoverage);
    renderDays(lastDays, lastCoverage);
    msg.textContent = lastCoverage.busy ? "the store is being loaded; figures from before" : "";
  } catch (e) { say(msg, e.message, false); }
}

async function loadDay(day) {
  const msg = root.querySelector("#dp-days-msg");
  say(msg, `loading ${day}…`);
  try {
    const res = await ctx.api("POST", "/api/data/load", { date: day });
    say(msg, `${day} loaded`);
    root.querySelector("#dp-load-out").textContent = res.output;
    await refreshCoverage();
  } catch (e) { say(msg, e.message, false); }
}

async function startStop(action) {
  const msg = root.querySelector("#dp-rec-msg");
  const body = action === "start" ? { symbols: root.querySelector("#dp-symbols").value } : undefined;
  try {
    renderRecorder(await ctx.api("POST", `/api/data/recorder/${action}`, body));
    say(msg, action === "start" ? "recorder started" : "recorder stopped");
  } catch (e) { say(msg, e.message, false); }
}

async function runQuery() {
  const sql = root.querySelector("#dp-sql").value;
  const msg = root.querySelector("#dp-query-msg"), out = root.querySelector("#dp-query-out");
  say(msg, "running…");
  try {
    const t0 = performance.now();
    const res = await ctx.api("POST", "/api/data/query", { sql });
    say(msg, `${res.row_count} row(s) in ${Math.round(performance.now() - t0)} ms${res.row_count > 200 ? " (first 200 shown; export for all)" : ""}`);
    out.replaceChildren(table(res.columns, res.rows.slice(0, 200).map((r) => r.map((v) => v === null ? "–" : String(v))), "no rows", { id: "dp-query-table" }));
  } catch (e) { say(msg, e.message, false); out.replaceChildren(); }
}

function exportCsv() {
  const sql = root.querySelector("#dp-sql").value;
  const a = el("a", { href: `/api/data/export.csv?sql=${encodeURIComponent(sql)}`, download: "mraster-query.csv" });
  document.body.append(a); a.click(); a.remove();
}

const EXAMPLE_SQL = "SELECT symbol, date, count(*) AS rows, avg(spread) AS avg_spread\nFROM book_ticker GROUP BY ALL ORDER BY date, symbol";

function build() {
  const symbols = el("input", { id: "dp-symbols", placeholder: "BTCUSDT,ETHUSDT", size: "28",
    oninput: (ev) => { ev.target.dataset.touched = "1"; } });
  return el("div", { class: "dp-page", id: "data-page" },
    el("div", { class: "dp-grid" },
      card("dp-recorder", "Recorder",
        el("div", { class: "row" }, el("label", {}, "Symbols ", symbols),
          el("button", { id: "dp-start", class: "primary", onclick: () => startStop("start") }, "Start"),
          el("button", { id: "dp-stop", onclick: () => startStop("stop") }, "Stop"),
          el("span", { id: "dp-rec-msg", class: "msg" })),
        el("p", { class: "hint", text: "One snapshot per symbol per second into kline_, bookTicker_, markPrice_, aggTrade_1s_ and depth5_YYYYMMDD.csv (seed 002 columns), with a gaps file. Runs as its own process: closing the dashboard does not stop it." }),
        el("div", { id: "dp-recorder-body" })),
      card("dp-streams-card", "Streams", el("div", { id: "dp-streams" })),
      card("dp-stale-card", "Last message age per symbol", el("div", { id: "dp-staleness" })),
      card("dp-files-card", "Today's files", el("div", { id: "dp-files" })),
      card("dp-gaps-card", "Recent gaps", el("div", { id: "dp-gaps" }))),
    el("div", { class: "dp-grid" },
      el("section", { class: "card wide", id: "dp-days-card" }, el("h2", {}, "Recorded days ", el("small", { id: "dp-days-msg", class: "msg" })),
        el("div", { id: "dp-bytes-chart", class: "dp-chart" }), el("div", { id: "dp-days" }),
        el("pre", { id: "dp-load-out", class: "dp-out" })),
      el("section", { class: "card wide", id: "dp-coverage-card" }, el("h2", {}, "Store coverage ", el("small", { id: "dp-cov-msg", class: "msg" })),
        el("div", { id: "dp-coverage" })),
      el("section", { class: "card wide", id: "dp-query-card" }, el("h2", {}, "Query the store ", el("small", { text: "read-only DuckDB SQL over kline, book_ticker, mark_price, agg_trade_1s, depth5, gaps" })),
        el("textarea", { id: "dp-sql", rows: "4", class: "dp-sql", spellcheck: "false" }, EXAMPLE_SQL),
        el("div", { class: "row" }, el("button", { id: "dp-run", class: "primary", onclick: runQuery }, "Run"),
          el("button", { id: "dp-export", onclick: exportCsv }, "Export CSV"), el("span", { id: "dp-query-msg", class: "msg" })),
        el("div", { id: "dp-query-out" }))));
}

export default {
  id: "data",
  title: "Data",
  mount(node, context) {
    ctx = context; root = node;
    root.replaceChildren(build());
    refreshRecorder(); refreshDays(); refreshCoverage();
    timers = [setInterval(refreshRecorder, 1000), setInterval(refreshDays, 10000), setInterval(refreshCoverage, 30000)];
  },
  unmount() {
    for (const t of timers) clearInterval(t);
    timers = [];
    if (root) root.replaceChildren();
    root = null;
  },
};
