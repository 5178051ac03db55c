// The control center: header, process controls, state views, activity feed. Settings are in config.js,
// charts in charts.js, the debug log in logs.js.
import { api, liveSocket, el, fmtNum, fmtTime, fmtAge, fillRows, renderAny } from "./api.js";
import { initConfig, showRestartBanner } from "./config.js";
import { updateCharts, initCharts } from "./charts.js";
import { initDebugLog } from "./logs.js";
import { initKillSwitch, renderKillSwitch } from "./killswitch.js";
import { initEngineRoute } from "./engine_route.js";

const $ = (sel) => document.querySelector(sel);
const PROCESS_TITLES = { bot: "Bot", guard: "Guard", paper: "Paper exchange" };

// ------------------------------------------------------------------ pro mode (remembered)
function initProToggle() {
  const toggle = $("#pro-toggle");
  const apply = (on) => { document.body.classList.toggle("pro", on); toggle.checked = on; };
  apply(localStorage.getItem("mraster.pro") === "1");
  toggle.addEventListener("change", () => {
    localStorage.setItem("mraster.pro", toggle.checked ? "1" : "0");
    apply(toggle.checked);
    window.dispatchEvent(new Event("resize"));
  });
}

// ------------------------------------------------------------------ dialogs
export function confirmDialog(title, body, okText = "OK") {
  const dialog = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-body").replaceChildren(body instanceof Node ? body : el("p", { text: body }));
  $("#dialog-ok").textContent = okText;
  return new Promise((resolve) => {
    dialog.onclose = () => resolve(dialog.returnValue === "ok");
    dialog.returnValue = "";
    dialog.showModal();
  });
}

export function flash(target, text, ok = true) {
  target.textContent = text;
  target.className = "msg " + (ok ? "ok" : "err");
}

// ------------------------------------------------------------------ processes
function renderProcesses(processes) {
  const pills = $("#proc-pills");
  pills.replaceChildren(...Object.values(processes).map((p) =>
    el("span", { class: `pill st-${p.state}`, id: `pill-${p.name}`, title: p.message || p.state },
      `${PROCESS_TITLES[p.name] || p.name}: ${p.state}`)));
  const rows = Object.values(processes).map((p) => [
    PROCESS_TITLES[p.name] || p.name,
    el("span", { class: `st-${p.state}`, "data-state": p.state, id: `state-${p.name}` },
      p.state + (p.next_restart_in_s !== null ? ` (in ${Math.ceil(p.next_restart_in_s)} s)` : "")),
    p.pid ?? "–", fmtAge(p.uptime_s), String(p.restart_count),
    p.last_exit_code === null ? "–" : String(p.last_exit_code),
    el("span", {}, ...actionButtons(p)),
  ]);
  fillRows($("#proc-table tbody"), rows, 7, "no processes");
  const messages = Object.values(processes).filter((p) => p.message || (p.out_tail && p.out_tail.length));
  $("#proc-messages").replaceChildren(...messages.map((p) => el("div", {},
    `${PROCESS_TITLES[p.name] || p.name}: ${p.message}`,
    p.out_tail && p.out_tail.length ? "\n  last output: " + p.out_tail.slice(-3).join("\n  ") : "")));
}

function actionButtons(p) {
  const running = p.state === "running" || p.state === "stopping";
  const act = (action) => async () => {
    try { await api("POST", `/api/${p.name}/${action}`); } catch (e) { alert(`${action} ${p.name}: ${e.message}`); }
    refreshState();
  };
  return [
    el("button", { class: "small", onclick: act("start"), disabled: running, "data-action": `start-${p.name}` }, "Start"),
    el("button", { class: "small", onclick: act("stop"), disabled: !running && p.state !== "restarting",
      "data-action": `stop-${p.name}` }, "Stop"),
    el("button", { class: "small", onclick: act("restart"), "data-action": `restart-${p.name}` }, "Restart"),
  ];
}

function initTradingButtons() {
  $("#btn-start").addEventListener("click", async () => {
    const live = document.body.dataset.mode === "live";
    if (live && !(await confirmDialog("Start LIVE trading?",
      "The bot will trade real money on the venue with the current settings.", "Start live"))) return;
    try {
      const res = await api("POST", "/api/all/start");
      if (res.also_started.length) flashNotice(`started ${res.also_started.join(" and ")} with the bot`);
    } catch (e) { alert("Start: " + e.message); }
    refreshState();
  });
  $("#btn-stop").addEventListener("click", async () => {
    try { await api("POST", "/api/bot/stop"); } catch (e) { alert("Stop: " + e.message); }
    refreshState();
  });
  $("#btn-flatten").addEventListener("click", async () => {
    const body = el("div", {},
      el("p", { text: "This stops the bot, closes every open position at market (reduce-only), cancels open orders, then stops the guard." }),
      el("p", { text: "If a position cannot be closed, its stop stays and the guard keeps running." }));
    if (!(await confirmDialog("Stop all and flatten?", body, "Flatten now"))) return;
    try {
      const report = await api("POST", "/api/all/flatten", { confirm: "FLATTEN" });
      await confirmDialog(report.ok ? "Flattened" : "Flatten did not finish", el("div", {},
        ...report.steps.map((s) => el("p", { text: s })),
        ...report.closed.map((c) => el("p", { text: `closed ${c.symbol} ${c.qty}` })),
        ...report.errors.map((e) => el("p", { class: "error", text: e }))), "OK");
    } catch (e) { alert("Flatten: " + e.message); }
    refreshState();
  });
}

function flashNotice(text) {
  const node = el("div", { text });
  $("#notices").append(node);
  setTimeout(() => node.remove(), 6000);
}

// ------------------------------------------------------------------ state views
let lastSnapshot = null;

function priceCell(v) { return fmtNum(v, 6); }

function pnlCell(v) {
  return el("td", { class: v > 0 ? "pos" : v < 0 ? "neg" : "" }, fmtNum(v, 4));
}

function guardCell(row) {
  const g = row.guard || "unknown";
  const cls = g === "protected" ? "ok-mark" : g === "UNPROTECTED" ? "bad-mark" : "unknown-mark";
  const detail = row.stop_ok === undefined || row.stop_ok === null ? "" :
    ` (stop ${row.stop_ok ? "✓" : "✗"}, TP ${row.take_profit_ok ? "✓" : "✗"})`;
  return el("td", { class: cls }, g + detail);
}

function renderPositions(snap) {
  const rows = snap.positions.map((p) => [
    p.symbol, el("td", { class: p.side === "LONG" ? "pos" : "neg" }, p.side), fmtNum(p.qty, 8),
    priceCell(p.entry_price), priceCell(p.mark_price), pnlCell(p.unrealized_pnl),
    priceCell(p.stop_price ?? p.guard_stop_price), priceCell(p.take_profit_price ?? p.guard_take_profit_price),
    guardCell(p), p.source || "bot",
  ]);
  fillRows($("#positions-table tbody"), rows, 10, "no open position");
  const venue = snap.venue || {};
  $("#positions-note").textContent = venue.enabled && venue.error ? `venue: ${venue.error}` :
    venue.enabled && venue.age_s !== null ? `venue checked ${fmtAge(venue.age_s)} ago` : "";
  const orders = (snap.orders || []).map((o) => [o.symbol, o.role, o.side, o.type,
    o.close_position ? "whole position" : fmtNum(o.qty, 8),
    priceCell(o.price || null), priceCell(o.stop_price || null), el("td", { class: "mono" }, o.client_order_id)]);
  fillRows($("#orders-table tbody"), orders, 8, venue.enabled ? "no open order" : "the venue is not connected");
  $("#orders-note").textContent = venue.error ? "(venue unavailable)" : "";
}

function renderTrades(snap) {
  const t = snap.trades;
  const rows = t.trades.map((r) => [fmtTime(r.exit_time_ms), r.symbol, r.side, fmtNum(r.qty, 8),
    priceCell(r.entry_price), priceCell(r.exit_price), r.exit_reason || "–", pnlCell(r.net_pnl),
    r.r_multiple === null ? "–" : fmtNum(r.r_multiple, 2)]);
  fillRows($("#trades-table tbody"), rows, 9, "no closed trade yet");
  $("#trades-summary").textContent = t.count ? `${t.count} trades, net ${fmtNum(t.net_pnl, 2)}, ${t.wins} won / ${t.losses} lost` : "";
}

function problem(text) { return text ? el("p", { class: "problem", text }) : ""; }

function renderPanels(snap) {
  const st = snap.state;
  $("#policy-view").replaceChildren(problem(st.available ? "" : st.problem),
    el("h3", { text: "Arms" }), renderAny(st.policy || {}));
  $("#hints-view").replaceChildren(el("h3", { text: "AI hints" }), renderAny(st.ai_hints || {}));
  $("#scan-view").replaceChildren(problem(st.available ? "" : st.problem), renderAny(st.last_scan || {}));
  const g = snap.guard;
  $("#guard-view").replaceChildren(problem(g.problem), g.available ? renderAny({
    "status age": fmtAge(g.age_s), "user stream": g.stream.connected === undefined ? "–" :
      `${g.stream.connected ? "connected" : "DISCONNECTED"}, last message ${fmtAge(g.stream.age_s)} ago`,
    "positions watched": g.positions, "repairs": g.repairs_total, "kill switch": g.kill_switch,
    "last error": g.last_error || "none",
  }) : "", g.available && g.recent_actions.length ? renderAny(g.recent_actions.slice(-8).reverse()) : "");
  const paper = snap.paper || {};
  const info = paper.info || {};
  $("#market-view").replaceChildren(problem(paper.available === false ? paper.problem : ""), renderAny({
    mode: snap.mode, "feed in use": st.feed || info.feed || "–",
    "state written": st.available ? `${fmtAge(st.age_s)} ago (cycle ${st.cycle})` : st.problem,
    "request weight and streams": st.client && Object.keys(st.client).length ? st.client : "not reported yet",
    ...(snap.mode === "paper" ? { "paper exchange": paper.available ? info : "not answering" } : {}),
  }));
  const notices = (st.notices || []).slice(-3).map((n) => el("div", { text: n.msg || n.message || JSON.stringify(n) }));
  $("#notices").replaceChildren(...notices);
  const pending = st.pending_restart || [];
  if (pending.length) showRestartBanner({ bot: pending }, snap.processes);
}

// ------------------------------------------------------------------ account (venue profile, credentials)
const CHECK_MARKS = { ok: "✓", refused: "✗", unreachable: "?", stale: "…", unchecked: "…", paper: "" };

function renderAccount(acc) {
  if (!acc) return;
  $("#account-profile").textContent = acc.venue_profile;
  $("#account-line").title = acc.summary;
  const check = acc.check || { state: "unchecked", text: "" };
  const node = $("#account-check");
  node.textContent = check.state === "paper" ? "" : `${CHECK_MARKS[check.state] || ""} ${check.text}`;
  node.className = "cred " + check.state;
  node.title = check.text;
  node.dataset.state = check.state;
  $("#account-recheck").hidden = acc.mode !== "live";
}

function initAccount() {
  $("#account-recheck").addEventListener("click", async () => {
    try { renderAccount(await api("POST", "/api/account/check")); } catch (e) { alert("Check: " + e.message); }
  });
}

function render(snap) {
  lastSnapshot = snap;
  document.body.dataset.mode = snap.mode;
  const badge = $("#mode-badge");
  badge.textContent = snap.mode === "live" ? "LIVE" : "PAPER";
  badge.className = "badge " + snap.mode;
  renderProcesses(snap.processes);
  renderAccount(snap.account);
  renderPositions(snap);
  renderTrades(snap);
  renderPanels(snap);
  renderKillSwitch(snap.kill_switch);
  updateCharts(snap);
}

export async function refreshState() {
  try { render(await api("GET", "/api/state")); } catch (e) { console.error(e); }
}

export function currentSnapshot() { return lastSnapshot; }

// ------------------------------------------------------------------ activity feed
function initActivity() {
  const feed = $("#activity-feed");
  liveSocket(() => "/ws/logs?activity=1&backlog=100", {
    onMessage(msg) {
      if (msg.type === "hello") {
        feed.replaceChildren(el("li", { class: "empty", text: "nothing yet: fills, brackets, warnings and notices appear here" }));
        return;
      }
      if (msg.type === "lines" && msg.lines.length) feed.querySelector("li.empty")?.remove();
      if (msg.type !== "lines") return;
      for (const line of msg.lines) {
        feed.prepend(el("li", { class: line.level, "data-event": line.event || "" },
          el("span", { class: "t", text: (line.ts || "").slice(11, 19) }),
          el("span", { class: "src", text: line.src }),
          el("span", { class: "m", text: line.msg || line.event })));
      }
      while (feed.children.length > 200) feed.lastChild.remove();
    },
  });
}

// ------------------------------------------------------------------ start
function init() {
  initProToggle();
  initTradingButtons();
  initAccount();
  initCharts();
  initConfig({ refreshState, confirmDialog, flash });
  initActivity();
  initKillSwitch(refreshState, confirmDialog);
  initDebugLog();
  initEngineRoute();
  const conn = $("#conn");
  liveSocket(() => "/ws/state", {
    onMessage: render,
    onStatus(up) { conn.textContent = up ? "live" : "reconnecting…"; conn.className = "conn " + (up ? "ok" : "down"); },
  });
}

init();
