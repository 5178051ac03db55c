// The Data page (#/data, #/data/<recorder>): every recorder (the recorder instances of engines.json and the
// classic one: state, pid, uptime, messages per second and last message per stream, rows and bytes today, gaps,
// start and stop, add one, change its symbols), the selected one's details, recorded days on disk (bytes, gaps, load into the store), store coverage as a calendar per symbol,
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

// ------------------------------------------------------------------ recorders
// Every recorder has a card (state, pid, uptime, messages per second and last message per stream, rows and
// bytes written today, gaps); the selected one's details (per symbol ages, files, recent gaps) are below.
let recorders = [], selected = null;
const cards = new Map();            // name -> {node, parts}: built once, updated every second (inputs keep focus)

function running(rec) { const st = rec.process?.state; return st === "running" || st === "stopping"; }
function totals(s) {
  const files = Object.values(s.files || {});
  return { rows: files.reduce((a, f) => a + (f.rows_today || 0), 0), bytes: files.reduce((a, f) => a + (f.bytes || 0), 0) };
}
function worstAge(s, since) {
  const ages = Object.values(s.streams || {}).map((x) => x.last_message_age_s).filter((a) => a !== null && a !== undefined);
  return ages.length ? Math.max(...ages) + since : null;
}

function buildCard(rec) {
  const name = rec.name;
  const parts = {
    proc: el("span", { class: "dp-proc-state" }), pid: el("span", { class: "hint dp-pid" }),
    says: el("span", { class: "dp-rec-state" }), symbols: el("span", { class: "mono dp-symbols" }),
    rows: el("span", { class: "dp-rows-today" }), bytes: el("span", { class: "dp-bytes-today" }),
    gaps: el("span", { class: "dp-gaps-today" }), last: el("span", { class: "dp-last-age" }),
    statusAge: el("span", { class: "dp-status-age" }), streams: el("div", { class: "dp-rec-streams" }),
    msg: el("span", { class: "msg" }), problem: el("p", { class: "error" }), note: el("p", { class: "hint" }),
    start: el("button", { class: "small primary", "data-action": "start", onclick: () => act(name, "start") }, "Start"),
    stop: el("button", { class: "small", "data-action": "stop", onclick: () => act(name, "stop") }, "Stop"),
  };
  const input = el("input", { class: "dp-rec-symbols", value: (rec.symbols || []).join(","), size: "22", "aria-label": `symbols of ${name}`,
    placeholder: "BTCUSDT,ETHUSDT", oninput: (ev) => { ev.target.dataset.touched = "1"; } });
  parts.input = input;
  const edit = rec.classic
    ? el("span", { class: "row" }, el("label", {}, "Symbols ", input))
    : el("span", { class: "row" }, el("label", {}, "Symbols ", input),
        el("button", { class: "small", "data-action": "save", onclick: () => saveSymbols(name, input) }, "Save"),
        el("button", { class: "small", "data-action": "remove", onclick: () => removeRecorder(name) }, "Remove"));
  const kv = (k, v) => el("tr", {}, el("th", { text: k }), el("td", {}, v));
  const node = el("section", { class: "dp-rec", "data-recorder": name },
    el("div", { class: "dp-rec-head" },
      el("strong", { class: "dp-rec-name", text: name }),
      el("span", { class: "hint", text: rec.classic ? " classic (log directory)" : " instance" }),
      parts.proc, parts.pid,
      el("span", { class: "dp-rec-actions" }, parts.start, parts.stop,
        el("button", { class: "small", "data-action": "details", onclick: () => select(name) }, "Details"))),
    el("table", { class: "dp-kv" }, kv("recorder says", parts.says), kv("symbols", parts.symbols),
      kv("rows today (all files)", parts.rows), kv("written today", parts.bytes), kv("gaps today", parts.gaps),
      kv("last message", parts.last), kv("status file", parts.statusAge),
      kv("directory", el("span", { class: "mono", text: rec.directory }))),
    parts.streams, edit, parts.msg, parts.note, parts.problem);
  return { node, parts };
}

function updateCard(card, rec) {
  const p = rec.process || {}, s = rec.status || {}, P = card.parts;
  const on = running(rec);
  const since = rec.status_age_s || 0;
  const stale = on && rec.status_age_s !== null && rec.status_age_s > 5;
  P.proc.textContent = p.state || "stopped";
  P.proc.className = `dp-proc-state pill st-${p.state || "stopped"}`;
  P.proc.dataset.state = p.state || "stopped";
  P.pid.textContent = on ? ` pid ${p.pid}, up ${age(p.uptime_s)}${p.adopted ? " (adopted)" : ""}` : "";
  P.says.textContent = s.state || "no status file yet";
  P.says.dataset.state = s.state || "";
  P.symbols.textContent = (rec.symbols || []).join(", ") || "–";
  const t = totals(s);
  P.rows.textContent = s.files ? num(t.rows, 0) : "–";
  P.bytes.textContent = s.files ? fmtBytes(t.bytes) : "–";
  P.gaps.textContent = num(s.gaps_today, 0);
  const worst = worstAge(s, since);
  P.last.textContent = age(worst);
  P.statusAge.textContent = rec.status_age_s === null ? "–" : `written ${age(rec.status_age_s)} ago${stale ? " (stale: not updated)" : ""}`;
  P.statusAge.className = stale ? "dp-status-age error" : "dp-status-age";
  P.start.disabled = on || rec.enabled === false;
  P.stop.disabled = !on;
  if (!P.input.dataset.touched && document.activeElement !== P.input) P.input.value = (rec.symbols || []).join(",");
  const streams = s.streams || {};
  P.streams.replaceChildren(table(["stream", "msg/s", "last message"],
    STREAMS.filter((k) => streams[k]).map((k) => el("tr", { "data-stream": k }, el("td", { text: k }),
      el("td", { class: "dp-rate", text: num(streams[k].per_s, 1) }),
      el("td", { class: ageClass(plus(streams[k].last_message_age_s, since), k), text: age(plus(streams[k].last_message_age_s, since)) }))),
    "no stream figures yet"));
  P.problem.textContent = [rec.problem, s.error].filter(Boolean).join(" · ");
  P.note.textContent = p.message || "";
}

function plus(a, since) { return a === null || a === undefined ? a : a + since; }

function renderRecorders(data) {
  if (!root) return;
  recorders = data.recorders || [];
  const box = root.querySelector("#dp-recorders");
  const names = new Set(recorders.map((r) => r.name));
  for (const [name, card] of cards) if (!names.has(name)) { card.node.remove(); cards.delete(name); }
  recorders.forEach((rec, i) => {
    let card = cards.get(rec.name);
    if (!card) { card = buildCard(rec); cards.set(rec.name, card); }
    if (box.children[i] !== card.node) box.insertBefore(card.node, box.children[i] || null);  // listing order; a
    updateCard(card, rec);                                                                      // card in place keeps focus
  });
  root.querySelector("#dp-recorders-empty").hidden = recorders.length > 0;
  root.querySelector("#dp-problem").textContent = data.problem || "";
  if (!selected || !names.has(selected)) selected = recorders.find(running)?.name || recorders[0]?.name || null;
  for (const [name, card] of cards) card.node.classList.toggle("selected", name === selected);
  renderDetails(recorders.find((r) => r.name === selected));
}

function select(name) {
  selected = name;
  renderRecorders({ recorders, problem: root.querySelector("#dp-problem").textContent });
}

function renderDetails(rec) {
  if (!root) return;
  root.querySelectorAll(".dp-selected-name").forEach((n) => { n.textContent = rec ? rec.name : "no recorder"; });
  const p = rec?.process || {}, s = rec?.status || {};
  const kv = [
    ["process", el("span", { class: `st-${p.state}`, id: "dp-proc-state", "data-state": p.state || "" }, p.state || "–"),
      p.pid ? ` pid ${p.pid}` : "", p.adopted ? " (adopted)" : ""],
    ["recorder says", el("span", { id: "dp-rec-state", "data-state": s.state || "" }, s.state || "no status file yet")],
    ["venue time", s.venue_time_utc || "–"], ["day", s.day || "–"],
    ["seconds written", el("span", { id: "dp-seconds" }, num(s.seconds_written, 0))],
    ["connections / reconnects", `${num(s.connections, 0)} / ${num(s.reconnects, 0)}`],
    ["gaps today", el("span", { id: "dp-gaps-today" }, num(s.gaps_today, 0))],
  ];
  root.querySelector("#dp-recorder-body").replaceChildren(
    el("table", { class: "dp-kv" }, ...kv.map(([k, ...v]) => el("tr", {}, el("th", { text: k }), el("td", {}, ...v)))));

  // the figures are as of the status file's writing: add its age, so a silent recorder shows as stale
  const since = rec?.status_age_s || 0;
  const streams = s.streams || {};
  root.querySelector("#dp-streams").replaceChildren(table(["stream", "messages", "per second", "last message"],
    STREAMS.filter((k) => streams[k]).map((k) => el("tr", { "data-stream": k }, el("td", { text: k }),
      el("td", { text: num(streams[k].messages, 0) }), el("td", { class: "dp-rate", text: num(streams[k].per_s, 2) }),
      el("td", { class: ageClass(plus(streams[k].last_message_age_s, since), k), text: age(plus(streams[k].last_message_age_s, since)) }))),
    "no stream figures yet", { id: "dp-streams-table" }));

  const ages = s.last_message_age_s || {};
  root.querySelector("#dp-staleness").replaceChildren(table(["symbol", ...STREAMS],
    Object.keys(ages).sort().map((sym) => el("tr", { "data-symbol": sym }, el("td", { text: sym }),
      ...STREAMS.map((k) => el("td", { class: ageClass(plus(ages[sym][k], since), k), text: age(plus(ages[sym][k], since)) })))),
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
  try { renderRecorders(await ctx.api("GET", "/api/data/recorders")); } catch (e) { say(root.querySelector("#dp-rec-msg"), e.message, false); }
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

function cardMsg(name, text, ok = true) {
  const card = cards.get(name);
  if (card) say(card.parts.msg, text, ok);
}

async function act(name, action) {
  const card = cards.get(name);
  const body = action === "start" && name === "recorder" ? { symbols: card.parts.input.value } : undefined;
  cardMsg(name, `${action}…`);
  try {
    await ctx.api("POST", `/api/data/recorders/${encodeURIComponent(name)}/${action}`, body);
    cardMsg(name, action === "stop" ? "stopped" : "started");
    selected = name;
  } catch (e) { cardMsg(name, e.message, false); }
  refreshRecorder();
}

async function saveSymbols(name, input) {
  try {
    const out = await ctx.api("PATCH", `/api/engines/${encodeURIComponent(name)}`, { settings: { SYMBOLS: input.value } });
    delete input.dataset.touched;
    cardMsg(name, out.restart_needed ? "saved; restart it to record these" : "saved");
  } catch (e) { cardMsg(name, e.message, false); }
  refreshRecorder();
}

async function removeRecorder(name) {
  if (!confirm(`Remove recorder ${name}? Its recorded days stay on disk.`)) return;
  try {
    await ctx.api("DELETE", `/api/engines/${encodeURIComponent(name)}`);
    if (selected === name) selected = null;
  } catch (e) { cardMsg(name, e.message, false); }
  refreshRecorder();
}

async function addRecorder(ev) {
  ev.preventDefault();
  const msg = root.querySelector("#dp-add-msg");
  const name = root.querySelector("#dp-add-name"), symbols = root.querySelector("#dp-add-symbols");
  try {
    const out = await ctx.api("POST", "/api/data/recorders", { name: name.value.trim(), symbols: symbols.value });
    say(msg, `added ${out.name}: start it on its card`);
    selected = out.name;
    name.value = ""; symbols.value = "";
  } catch (e) { say(msg, e.message, false); }
  refreshRecorder();
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
  return el("div", { class: "dp-page", id: "data-page" },
    el("section", { class: "card wide", id: "dp-recorders-card" },
      el("h2", {}, "Recorders ", el("small", { id: "dp-rec-msg", class: "msg" })),
      el("p", { class: "hint", text: "Each recorder writes one snapshot per symbol per second into kline_, bookTicker_, markPrice_, aggTrade_1s_ and depth5_YYYYMMDD.csv (seed 002 columns), with a gaps file, in a directory of its own (logs/recorders/<name>/). Each runs as its own process: closing the dashboard does not stop it. Two recorders never record one symbol." }),
      el("p", { id: "dp-problem", class: "error" }),
      el("div", { id: "dp-recorders", class: "dp-recs" }),
      el("p", { id: "dp-recorders-empty", class: "hint", text: "no recorder yet: add one below" }),
      el("form", { id: "dp-add", class: "row", "aria-label": "add a recorder", onsubmit: addRecorder },
        el("label", {}, "Name ", el("input", { id: "dp-add-name", placeholder: "rec1", size: "8", required: true })),
        el("label", {}, "Symbols ", el("input", { id: "dp-add-symbols", placeholder: "BTCUSDT,ETHUSDT", size: "22", required: true })),
        el("button", { id: "dp-add-btn", type: "submit" }, "Add recorder"),
        el("span", { id: "dp-add-msg", class: "msg" }))),
    el("div", { class: "dp-grid" },
      el("section", { class: "card", id: "dp-recorder" }, el("h2", {}, "Recorder ", el("span", { class: "dp-selected-name mono" })),
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
  mount(node, context, params = {}) {
    ctx = context; root = node;
    cards.clear();
    selected = params.arg || null;            // #/data/<recorder> (an engine instance's page link)
    root.replaceChildren(build());
    refreshRecorder(); refreshDays(); refreshCoverage();
    timers = [setInterval(refreshRecorder, 1000), setInterval(refreshDays, 10000), setInterval(refreshCoverage, 30000)];
  },
  unmount() {
    for (const t of timers) clearInterval(t);
    timers = [];
    if (root) root.replaceChildren();
    root = null;
    cards.clear();
  },
};
