// The page shell: header, navigation, hash routes, one live state connection shared by every page,
// dialogs and banners. Pages are modules in pages/ (pages/index.js lists them), each
// {id, title, mount(root, ctx, params), unmount()}.
import { api, liveSocket, el } from "./api.js";
import { fmt } from "./format.js";
import { initKillSwitch, renderKillSwitch } from "./killswitch.js";
import { PAGES } from "./pages/index.js";

const $ = (sel) => document.querySelector(sel);
const PROCESS_TITLES = { bot: "Bot", guard: "Guard", paper: "Paper exchange" };

// ------------------------------------------------------------------ the live state, shared
const subscribers = new Set();
let snapshot = null;
const state = {
  get: () => snapshot,
  subscribe(fn) { subscribers.add(fn); if (snapshot) fn(snapshot); return () => subscribers.delete(fn); },
};

function publish(snap) {
  snapshot = snap;
  renderHeader(snap);
  for (const fn of [...subscribers]) {
    try { fn(snap); } catch (e) { console.error(e); }
  }
}

async function refresh() {
  try { publish(await api("GET", "/api/state")); } catch (e) { console.error(e); }
}

// ------------------------------------------------------------------ dialogs and messages
export function confirmDialog(title, body, okText = "OK", { cancel = true } = {}) {
  const dialog = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-body").replaceChildren(body instanceof Node ? body : el("p", { text: body }));
  $("#dialog-ok").textContent = okText;
  $("#dialog-cancel").hidden = !cancel;
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

function notice(text, ok = true) {
  const node = el("div", { class: ok ? "ok" : "err", text });
  $("#notices").append(node);
  setTimeout(() => node.remove(), 8000);
}

// ------------------------------------------------------------------ restart banner (after a settings save)
let pendingRestart = {};

function showRestartBanner(needs, processes) {
  const running = Object.entries(needs || {}).filter(([p]) => p !== "dashboard" &&
    processes && processes[p] && ["running", "stopping"].includes(processes[p].state));
  const dash = (needs || {}).dashboard;
  for (const [p, names] of running) pendingRestart[p] = [...new Set([...(pendingRestart[p] || []), ...names])];
  const parts = Object.entries(pendingRestart).map(([p, names]) => `${p} (${names.join(", ")})`);
  if (dash) parts.push(`the dashboard itself: stop it and start it again by hand (${dash.join(", ")})`);
  if (!parts.length) return;
  $("#restart-text").textContent = "Saved. These changes apply after a restart of: " + parts.join("; ");
  $("#restart-now").hidden = !Object.keys(pendingRestart).length;
  $("#restart-banner").hidden = false;
}

function initRestartBanner() {
  $("#restart-now").addEventListener("click", async () => {
    for (const p of ["paper", "guard", "bot"].filter((p) => pendingRestart[p])) {
      try { await api("POST", `/api/${p}/restart`); } catch (e) { notice(`restart ${p}: ${e.message}`, false); }
    }
    pendingRestart = {};
    $("#restart-banner").hidden = true;
    refresh();
  });
  $("#restart-dismiss").addEventListener("click", () => { $("#restart-banner").hidden = true; });
}

// Every settings save goes through here: the restart banner, then every open view reloads what it shows.
async function afterSave(result) {
  const procs = await api("GET", "/api/processes");
  showRestartBanner(result.needs_restart, procs.processes);
  window.dispatchEvent(new CustomEvent("mraster:config-saved", { detail: result }));
}

// ------------------------------------------------------------------ process actions (header pills, pages)
async function processAction(name, action) {
  try {
    await api("POST", `/api/${name}/${action}`);
    notice(`${action} ${PROCESS_TITLES[name] || name}: done`);
  } catch (e) { notice(`${action} ${PROCESS_TITLES[name] || name}: ${e.message}`, false); }
  refresh();
}

// ------------------------------------------------------------------ header
const CHECK_MARKS = { ok: "✓", refused: "✗", unreachable: "?", stale: "…", unchecked: "…", paper: "" };

function renderHeader(snap) {
  document.body.dataset.mode = snap.mode;
  const badge = $("#mode-badge");
  badge.textContent = snap.mode === "live" ? "LIVE · real money" : "PAPER · simulated";
  badge.className = "badge " + snap.mode;
  badge.title = snap.mode === "live" ? "live trading: orders go to the venue with real money"
    : "paper trading: a simulated venue, no real money";
  $("#proc-pills").replaceChildren(...Object.values(snap.processes || {}).map((p) =>
    el("span", { class: `pill st-${p.state}`, id: `pill-${p.name}`, title: p.message || p.state },
      `${PROCESS_TITLES[p.name] || p.name}: ${p.state}`)));
  const acc = snap.account;
  if (acc) {
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
  renderKillSwitch(snap.kill_switch);
  const st = snap.state || {};
  const notices = (st.notices || []).slice(-3).map((n) => el("div", { class: "err", text: n.msg || n.message || JSON.stringify(n) }));
  $("#notices").querySelectorAll(".state-notice").forEach((n) => n.remove());
  notices.forEach((n) => { n.classList.add("state-notice"); $("#notices").append(n); });
  if ((st.pending_restart || []).length) showRestartBanner({ bot: st.pending_restart }, snap.processes);
}

function initHeader() {
  $("#account-recheck").addEventListener("click", async () => {
    try { await api("POST", "/api/account/check"); refresh(); } catch (e) { notice("Check: " + e.message, false); }
  });
  const zone = $("#clock-zone");
  zone.value = fmt.zone();
  zone.addEventListener("change", () => { fmt.setZone(zone.value); route(); });
}

// ------------------------------------------------------------------ routes
const byId = Object.fromEntries(PAGES.map((p) => [p.id, p]));
let current = null;

// "#/chart/BTCUSDT?interval=1h" -> {interval: "1h", id: "chart", arg: "BTCUSDT", rest: ["BTCUSDT"],
// query: {interval: "1h"}} (the query's keys also at the top: a page may take them as its filters)
export function parseHash(hash) {
  const [path, query = ""] = (hash || "").replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const q = Object.fromEntries(new URLSearchParams(query));
  return { ...q, id: parts[0] || "overview", arg: parts[1] || "", rest: parts.slice(1), query: q };
}

function navigate(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function renderNav(activeId) {
  $("#nav").replaceChildren(...PAGES.filter((p) => !p.hidden).map((p) => el("a", {
    href: p.href || `#/${p.id}`, class: p.id === activeId ? "active" : "", "data-page": p.id,
    "aria-current": p.id === activeId ? "page" : null,
  }, p.title)));
}

function route() {
  const params = parseHash(location.hash);
  const page = byId[params.id];
  if (current) {
    try { current.unmount(); } catch (e) { console.error(e); }
    current = null;
  }
  const root = $("#page");
  root.replaceChildren();
  delete root.dataset.ready;   // each page says when it has drawn its first data
  renderNav(page ? page.id : "");
  if (!page) {
    root.dataset.page = "";
    root.append(el("section", { class: "card" }, el("h2", { text: "No such page" }),
      el("p", { text: `“${params.id}” is not a page of this dashboard. ` }, el("a", { href: "#/overview", text: "Back to the overview" }))));
    return;
  }
  root.dataset.page = page.id;
  document.title = `mraster · ${page.title}${params.arg ? " " + params.arg : ""}`;
  current = page;
  try { page.mount(root, ctx, params); } catch (e) { console.error(e); root.append(el("p", { class: "error", text: String(e) })); }
  // a page with `selfReady` marks data-ready itself once its first data are drawn; for the others, mounted is ready
  if (!page.selfReady) root.dataset.ready = "1";
}

export const ctx = { api, navigate, fmt, state, refresh, confirm: confirmDialog, flash, notice, afterSave, processAction,
  PROCESS_TITLES };

// ------------------------------------------------------------------ start
function init() {
  initHeader();
  initRestartBanner();
  initKillSwitch(refresh, confirmDialog);
  const conn = $("#conn");
  liveSocket(() => "/ws/state", {
    onMessage: publish,
    onStatus(up) { conn.textContent = up ? "connected" : "reconnecting…"; conn.className = "conn " + (up ? "ok" : "down"); },
  });
  api("GET", "/api/market/symbols").then((r) => ctx.fmt.setTicks?.(r.symbols)).catch(() => {});
  window.addEventListener("hashchange", route);
  if (!location.hash) history.replaceState(null, "", "#/overview");
  route();
}

init();
