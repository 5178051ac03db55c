// Overview: the account (equity, trading controls, processes), the engines, equity with drawdown per account
// and per engine (widgets/equityview.js), open positions and orders, and the activity feed.
import { el, fillRows, liveSocket, scrollBox } from "../api.js";
import { stripAnsi } from "../format.js";
import enginesWidget from "../widgets/engines.js";
import accountsWidget from "../widgets/accounts.js";
import equityView from "../widgets/equityview.js";
import positions from "../widgets/positions.js";

let cleanup = [];

function processTable(ctx) {
  const body = el("tbody");
  const table = scrollBox(el("table", { class: "table", id: "proc-table" },
    el("thead", {}, el("tr", {}, ...["Process", "State", "PID", "Uptime", "Restarts", "Last exit", ""].map((h) => el("th", { text: h })))),
    body));
  const messages = el("div", { id: "proc-messages", class: "messages" });
  function render(snap) {
    const procs = Object.values(snap.processes || {});
    fillRows(body, procs.map((p) => {
      const running = p.state === "running" || p.state === "stopping";
      return [ctx.PROCESS_TITLES[p.name] || p.name,
        el("span", { class: `st-${p.state}`, "data-state": p.state, id: `state-${p.name}` },
          p.state + (p.next_restart_in_s !== null && p.next_restart_in_s !== undefined ? ` (in ${Math.ceil(p.next_restart_in_s)} s)` : "")),
        p.pid ?? "–", ctx.fmt.age(p.uptime_s), String(p.restart_count),
        p.last_exit_code === null ? "–" : String(p.last_exit_code),
        el("td", { class: "actions" },
          el("button", { class: "small", disabled: running, "data-action": `start-${p.name}`, onclick: () => ctx.processAction(p.name, "start") }, "Start"),
          el("button", { class: "small", disabled: !running && p.state !== "restarting", "data-action": `stop-${p.name}`,
            onclick: () => ctx.processAction(p.name, "stop") }, "Stop"),
          el("button", { class: "small", "data-action": `restart-${p.name}`, onclick: () => ctx.processAction(p.name, "restart") }, "Restart"))];
    }), 7, "no processes");
    messages.replaceChildren(...procs.filter((p) => p.message || (p.out_tail && p.out_tail.length)).map((p) => el("div", {},
      `${ctx.PROCESS_TITLES[p.name] || p.name}: ${p.message}`,
      p.out_tail && p.out_tail.length ? "\n  last output: " + p.out_tail.slice(-3).join("\n  ") : "")));
  }
  return { node: el("div", {}, table, messages), render };
}

function tradingButtons(ctx) {
  const start = el("button", { id: "btn-start", class: "primary" }, "Start");
  const stop = el("button", { id: "btn-stop" }, "Stop bot");
  const flatten = el("button", { id: "btn-flatten", class: "danger" }, "Stop all and flatten…");
  const msg = el("span", { id: "trading-msg", class: "msg" });
  start.addEventListener("click", async () => {
    const live = document.body.dataset.mode === "live";
    if (live && !(await ctx.confirm("Start LIVE trading?",
      "The bot will trade real money on the venue with the current settings.", "Start live"))) return;
    start.disabled = true;
    try {
      const res = await ctx.api("POST", "/api/all/start");
      ctx.flash(msg, "started" + (res.also_started.length ? ` (${res.also_started.join(" and ")} with the bot)` : ""));
    } catch (e) { ctx.flash(msg, "Start: " + e.message, false); alert("Start: " + e.message); }
    ctx.refresh();
  });
  stop.addEventListener("click", async () => {
    try { await ctx.api("POST", "/api/bot/stop"); ctx.flash(msg, "bot stopped; the guard keeps protecting positions"); }
    catch (e) { ctx.flash(msg, "Stop: " + e.message, false); }
    ctx.refresh();
  });
  flatten.addEventListener("click", async () => {
    const body = el("div", {},
      el("p", { text: "This stops the bot, closes every open position at market (reduce-only), cancels open orders, then stops the guard." }),
      el("p", { text: "If a position cannot be closed, its stop stays and the guard keeps running." }));
    if (!(await ctx.confirm("Stop all and flatten?", body, "Flatten now"))) return;
    ctx.flash(msg, "flattening…");
    try {
      const report = await ctx.api("POST", "/api/all/flatten", { confirm: "FLATTEN" });
      ctx.flash(msg, report.ok ? "flattened" : "flatten did not finish", report.ok);
      await ctx.confirm(report.ok ? "Flattened" : "Flatten did not finish", el("div", { id: "flatten-report" },
        ...report.steps.map((s) => el("p", { text: s })),
        ...report.closed.map((c) => el("p", { text: `closed ${c.symbol} ${c.qty}` + (c.price ? ` at ${ctx.fmt.price(c.price, c.symbol)}` : "") })),
        ...report.errors.map((e) => el("p", { class: "error", text: e }))), "OK", { cancel: false });
    } catch (e) { ctx.flash(msg, "Flatten: " + e.message, false); }
    ctx.refresh();
  });
  const running = (snap) => { start.disabled = (snap.processes?.bot?.state === "running"); };
  return { node: el("div", { class: "row" }, start, stop, flatten, msg), render: running };
}

function accountSummary(ctx, snap) {
  const st = snap.state || {};
  const eq = st.equity || {};
  const item = (label, value, id) => el("div", { class: "stat", id }, el("span", { class: "label", text: label }), el("b", { text: value }));
  return el("div", { class: "stats" },
    item("Mode", snap.mode === "live" ? "live (real money)" : "paper (simulated)", "stat-mode"),
    item("Wallet", eq.wallet !== undefined ? `${ctx.fmt.money(eq.wallet)} USDT` : "–", "stat-wallet"),
    item("Margin balance", eq.margin_balance !== undefined ? `${ctx.fmt.money(eq.margin_balance)} USDT` : "–", "stat-margin"),
    item("Open positions", String((snap.positions || []).length), "stat-open"),
    item("Closed trades", `${snap.trades?.count ?? 0} (${ctx.fmt.signed(snap.trades?.net_pnl)} net)`, "stat-trades"),
    item("Venue", snap.venue_profile || "–", "stat-venue"));
}

function ordersTable(ctx) {
  const body = el("tbody");
  const note = el("small", { id: "orders-note" });
  const node = el("section", { class: "card wide", id: "orders-card" }, el("h2", {}, "Open orders ", note),
    scrollBox(el("table", { class: "table", id: "orders-table" }, el("thead", {}, el("tr", {},
      ...["Symbol", "Role", "Side", "Type", "Qty", "Price", "Trigger", "Placed", "Client id"].map((h) => el("th", { text: h })))), body)));
  function render(snap) {
    const venue = snap.venue || {};
    fillRows(body, (snap.orders || []).map((o) => [o.symbol, o.role, o.side, o.type,
      o.close_position ? "whole position" : ctx.fmt.num(o.qty, 8), o.price ? ctx.fmt.price(o.price, o.symbol) : "–",
      o.stop_price ? ctx.fmt.price(o.stop_price, o.symbol) : "–", ctx.fmt.time(o.time_ms),
      el("td", { class: "mono" }, o.client_order_id)]), 9, venue.enabled ? "no open order" : "the venue is not connected");
    note.textContent = venue.error ? `(venue unavailable: ${venue.error})` : "";
  }
  return { node, render };
}

function activityFeed(ctx) {
  const feed = el("ul", { id: "activity-feed", class: "feed" });
  const socket = liveSocket(() => "/ws/logs?activity=1&backlog=100", {
    onMessage(msg) {
      if (msg.type === "hello") {
        feed.replaceChildren(el("li", { class: "empty", text: "nothing yet: fills, brackets, warnings and notices appear here" }));
        return;
      }
      if (msg.type !== "lines") return;
      if (msg.lines.length) feed.querySelector("li.empty")?.remove();
      for (const line of msg.lines) {
        feed.prepend(el("li", { class: line.level, "data-event": line.event || "" },
          el("span", { class: "t", text: ctx.fmt.time(line.ts), title: line.ts || "" }),
          el("span", { class: "src", text: line.src }),
          el("span", { class: "m", text: stripAnsi(line.msg || line.event || "") })));
      }
      while (feed.children.length > 200) feed.lastChild.remove();
    },
  });
  return { node: feed, close: () => socket.close() };
}

export default {
  id: "overview",
  selfReady: true,
  title: "Overview",
  mount(root, ctx) {
    const summary = el("div", { id: "account-summary" });
    const buttons = tradingButtons(ctx);
    const procs = processTable(ctx);
    const enginesRoot = el("div", { id: "engines-root" });
    const accountsRoot = el("div", { id: "accounts-root" });
    const orders = ordersTable(ctx);
    const feed = activityFeed(ctx);
    const posRoot = el("div", { id: "positions-root" });
    const eqRoot = el("div", { id: "equity-root" });
    root.append(el("div", { class: "grid" },
      el("section", { class: "card", id: "trading-card" }, el("h2", { text: "Account" }), summary, buttons.node,
        el("p", { class: "hint", text: "Start runs the guard and the bot (and, in paper mode, a paper exchange when none answers). Stop bot leaves the guard protecting open positions." }),
        procs.node),
      el("section", { class: "card wide", id: "engines-card" }, enginesRoot),
      el("section", { class: "card wide", id: "accounts-card" }, accountsRoot),
      el("section", { class: "card wide", id: "equity-card" }, el("h2", { text: "Equity and drawdown" }), eqRoot),
      el("section", { class: "card wide", id: "positions-card" }, el("h2", { text: "Open positions" }), posRoot),
      orders.node,
      el("section", { class: "card wide", id: "activity-card" }, el("h2", { text: "Activity" }), feed.node)));
    equityView.mount(eqRoot, ctx);
    positions.mount(posRoot, ctx, {});
    enginesWidget.mount(enginesRoot, ctx);
    accountsWidget.mount(accountsRoot, ctx);
    const unsubscribe = ctx.state.subscribe((snap) => {
      summary.replaceChildren(accountSummary(ctx, snap));
      buttons.render(snap);
      procs.render(snap);
      orders.render(snap);
      root.dataset.ready = "1";
    });
    cleanup = [unsubscribe, () => feed.close(), () => equityView.unmount(), () => positions.unmount(), () => enginesWidget.unmount(),
      () => accountsWidget.unmount()];
  },
  unmount() { cleanup.forEach((fn) => fn()); cleanup = []; },
};
