// The Ops page (#/ops, issue 21 item 6): the production schedule the dashboard runs without systemd,
// each job's next run, last result and log, a button to run one now, and the reports.
// Page contract: default export {id, title, mount(root, ctx, params), unmount()}; ctx.api(method, path, body).
import { el } from "../api.js";

const POLL_MS = 5000;
let timer = null;
let state = { root: null, ctx: null, selected: "" };

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function lastCell(last) {
  if (!last) return el("span", { class: "msg", text: "never run" });
  const ok = !!last.ok;
  return el("span", { class: ok ? "ops-ok" : "ops-bad" },
    `${ok ? "ok" : last.skipped ? "skipped" : "failed"} · ${when(last.finished)} · ${last.trigger || ""}`,
    last.message ? el("div", { class: "ops-msg", text: last.message }) : null);
}

async function showLog(name) {
  state.selected = name;
  const box = state.root.querySelector("#ops-log");
  const title = state.root.querySelector("#ops-log-title");
  title.textContent = `Log of ${name}`;
  try {
    const data = await state.ctx.api("GET", `/api/ops/jobs/${encodeURIComponent(name)}/log`);
    box.textContent = data.lines.length ? data.lines.join("\n") : "(no log yet)";
  } catch (e) {
    box.textContent = `cannot read the log: ${e.message}`;
  }
}

const STOPS_TRADING = {
  "daily-batch": "The daily batch stops the bot (the guard keeps running) until daily-restart at 00:00 UTC or until you start it. Run it now?",
};

async function runNow(name, button) {
  if (STOPS_TRADING[name] && !window.confirm(STOPS_TRADING[name])) return;
  button.disabled = true;
  const msg = state.root.querySelector("#ops-flash");
  try {
    await state.ctx.api("POST", `/api/ops/jobs/${encodeURIComponent(name)}/run`);
    msg.textContent = `${name} started`;
    msg.className = "msg ok";
    await refresh();
    await showLog(name);
  } catch (e) {
    msg.textContent = e.message;
    msg.className = "msg err";
  } finally {
    button.disabled = false;
  }
}

function render(data) {
  const sw = state.root.querySelector("#ops-switch");
  sw.textContent = data.under_systemd ? "schedule: systemd timers" : data.enabled ? "schedule ON" : "schedule OFF";
  sw.className = "badge " + (data.enabled ? "ops-on" : "");
  const list = state.root.querySelector("#ops-jobs");
  list.replaceChildren(...data.jobs.map((job) => {
    const run = el("button", { class: "small primary", "data-job": job.name, text: job.running ? "running…" : "Run now" });
    run.disabled = job.running;
    run.addEventListener("click", () => runNow(job.name, run));
    const logBtn = el("button", { class: "small", text: "Log" });
    logBtn.addEventListener("click", () => showLog(job.name));
    return el("div", { class: "ops-job", "data-job": job.name },
      el("div", { class: "ops-name" }, el("strong", { text: job.name }), el("span", { class: "msg", text: job.when })),
      el("div", { class: "ops-desc", text: job.description }),
      el("div", {}, el("span", { class: "ops-label", text: "next " }),
        el("span", { class: "ops-next", text: data.under_systemd ? "systemd timer" : data.enabled ? when(job.next_run) : "schedule off" })),
      el("div", { class: "ops-last" }, el("span", { class: "ops-label", text: "last " }), lastCell(job.last)),
      el("div", { class: "row" }, run, logBtn));
  }));
  const n = data.notifier;
  state.root.querySelector("#ops-notifier").textContent = !n ? "" :
    n.events === "none" ? "Notifications: off (ASTER_NOTIFY_EVENTS=none)"
      : `Notifications: ${n.state}${n.pid ? ` (pid ${n.pid})` : ""} for ${n.events}${n.message ? ` · ${n.message}` : ""}`;
  const notes = state.root.querySelector("#ops-notes");
  notes.replaceChildren(...(data.notes || []).map((n) => el("div", { text: n })));
}

async function refresh() {
  try {
    render(await state.ctx.api("GET", "/api/ops"));
    if (state.selected) await showLog(state.selected);
  } catch (e) {
    const msg = state.root && state.root.querySelector("#ops-flash");
    if (msg) { msg.textContent = `cannot read the schedule: ${e.message}`; msg.className = "msg err"; }
  }
}

export default {
  id: "ops",
  title: "Ops",
  async mount(root, ctx, params) {
    state = { root, ctx, selected: (params && params.job) || "" };
    root.replaceChildren(el("section", { class: "card wide ops-page" },
      el("h2", {}, "Operations ", el("span", { id: "ops-switch", class: "badge", text: "…" })),
      el("p", { class: "hint", text: "Without systemd the dashboard runs the production schedule itself when " +
        "ASTER_OPS_SCHEDULE_ENABLE is on (Settings, group ops). On a server, the systemd timers of " +
        "`mraster deploy systemd` run the same jobs; `mraster deploy production on|off` switches them." }),
      el("div", { class: "row" },
        el("a", { href: "/api/ops/report/prod", target: "_blank", rel: "noopener", id: "ops-report-prod" }, "Production report (yesterday)"),
        el("a", { href: "/api/ops/report/backtest", target: "_blank", rel: "noopener", id: "ops-report-backtest" }, "Backtest report"),
        el("span", { id: "ops-flash", class: "msg" })),
      el("div", { id: "ops-notifier", class: "msg" }),
      el("div", { id: "ops-jobs", class: "ops-jobs" }),
      el("div", { id: "ops-notes", class: "notices" }),
      el("h3", { id: "ops-log-title", text: "Log" }),
      el("pre", { id: "ops-log", class: "log ops-log", text: "Pick a job's Log button." })));
    await refresh();
    if (state.selected) await showLog(state.selected);
    timer = setInterval(refresh, POLL_MS);
  },
  unmount() {
    if (timer) clearInterval(timer);
    timer = null;
    if (state.root) state.root.replaceChildren();
    state = { root: null, ctx: null, selected: "" };
  },
};
