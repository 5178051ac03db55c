// The Maker page (#/maker, #/maker/<instance>): seed 003's coordinator and its two executors.
// Phase and time in phase, positions against their maxima, net exposure against the cap, resting maker
// orders with age, fills as they come, statistics for 2 h / 6 h / 24 h, executor health, emergency stop.
import { el } from "../api.js";
import { fmtNum, fmtAge } from "../format.js";
import { fmtTime } from "../clock.js";

const SERVERS = ["B", "C"];
let timer = null;
let root = null;

function num(v) { const x = Number(v); return Number.isFinite(x) ? x : 0; }
function money(v) { const n = num(v); return `${n < 0 ? "-" : ""}$${fmtNum(Math.abs(n), 2)}`; }

function bar(value, max, label) {
  const pct = max > 0 ? Math.min(100, Math.abs(value) / max * 100) : 0;
  return el("div", { class: "mk-bar", title: label },
    el("div", { class: "mk-fill" + (pct >= 100 ? " full" : ""), style: `width:${pct.toFixed(1)}%` }),
    el("span", { text: label }));
}

function statsTable(stats) {
  const rows = [];
  for (const hours of ["2", "6", "24"]) {
    for (const s of SERVERS) {
      const r = (stats[hours] || {})[s];
      if (!r) { rows.push(el("tr", {}, el("td", { text: `${hours} h` }), el("td", { text: s }), el("td", { colspan: "5", text: "—" }))); continue; }
      rows.push(el("tr", { "data-hours": hours, "data-server": s },
        el("td", { text: `${hours} h` }), el("td", { text: s }),
        el("td", { text: `${r.taker_orders} / $${fmtNum(r.taker_volume, 0)}` }),
        el("td", { text: `${r.maker_orders} / $${fmtNum(r.maker_volume, 0)}` }),
        el("td", { text: `${(r.fill_rate * 100).toFixed(1)}%` }),
        el("td", { text: money(r.fees) }),
        el("td", { text: `${money(r.pnl)} (${fmtNum(r.pnl_bps, 2)} bps)` })));
    }
  }
  return el("table", { class: "table", id: "mk-stats" },
    el("thead", {}, el("tr", {}, ...["Window", "Server", "Taker orders / volume", "Maker orders / volume",
      "Fill rate", "Fees", "Realized P&L"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...rows));
}

function executorCard(name, ex, ctx, instance, onDone) {
  const st = ex.status || {};
  const pos = num(st.position), mark = num(st.mark), max = num(st.max_usd);
  const healthy = ex.reachable && ex.health && ex.health.ok;
  const stop = el("button", { class: "danger", id: `mk-stop-${name}` }, `Emergency stop ${name}`);
  stop.onclick = () => emergency(ctx, instance, [name], onDone);
  const reset = el("button", { id: `mk-reset-${name}` }, `Reset ${name}`);
  reset.onclick = async () => { await ctx.api("POST", `/api/maker/${instance}/reset`, { servers: [name] }); onDone(); };
  const makers = (st.open_makers || []).map((m) => el("tr", {},
    el("td", { text: m.side }), el("td", { text: m.left }), el("td", { text: m.price }),
    el("td", { text: `${fmtNum(m.age_s, 1)} s` }), el("td", { text: `${fmtNum(m.expires_in_s, 1)} s` })));
  const fills = (st.recent_fills || []).slice(-10).reverse().map((f) => el("tr", {},
    el("td", { text: fmtTime(f.t) }), el("td", { text: f.side }), el("td", { text: f.qty }),
    el("td", { text: f.price }), el("td", { text: f.maker ? "maker" : "taker" })));
  return el("section", { class: "card", id: `mk-exec-${name}` },
    el("h2", {}, `Executor ${name} `, el("span", { class: `pill ${healthy ? "st-running" : "st-crashed"}`, id: `mk-health-${name}`,
      text: ex.reachable ? (st.mode || "?") : "unreachable" })),
    el("p", { class: "hint", text: `${ex.url} · last instruction ${st.last_instruction_age_s == null ? "never" : fmtAge(st.last_instruction_age_s) + " ago"}` +
      (st.venue_error ? ` · venue: ${st.venue_error}` : "") + (st.stop_reason ? ` · stopped: ${st.stop_reason}` : "") }),
    bar(pos * mark, max, `position ${st.position ?? "?"} BTC · $${fmtNum(Math.abs(pos * mark), 0)} of $${fmtNum(max, 0)}`),
    el("p", { text: `realized P&L ${money(st.realized_pnl)} · fees ${money(st.fees)}` }),
    el("h3", { text: "Resting maker orders" }),
    el("table", { class: "table mk-makers" }, el("thead", {}, el("tr", {}, ...["Side", "Left", "Price", "Age", "Expires in"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...(makers.length ? makers : [el("tr", {}, el("td", { colspan: "5", text: "none" }))]))),
    el("h3", { text: "Fills" }),
    el("table", { class: "table mk-fills" }, el("thead", {}, el("tr", {}, ...["Time", "Side", "Qty", "Price", "Kind"].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...(fills.length ? fills : [el("tr", {}, el("td", { colspan: "5", text: "none yet" }))]))),
    el("div", { class: "row" }, stop, reset));
}

async function emergency(ctx, instance, servers, onDone) {
  if (!window.confirm(`Emergency stop ${servers.join(" and ")}: cancel every order, close the position, refuse instructions until reset?`)) return;
  const out = await ctx.api("POST", `/api/maker/${instance}/emergency_stop`, { servers, confirm: "STOP" });
  root.querySelector("#mk-msg").textContent = Object.entries(out).map(([s, r]) => `${s}: ${r.ok ? "stopped" : (r.error || r.http)}`).join(" · ");
  onDone();
}

function render(data, ctx, instance, refresh) {
  const c = data.coordinator || {};
  const net = num(c.net), cap = num(c.cap);
  const book = c.book || {};
  const mid = (num(book.bid) + num(book.ask)) / 2;
  const stopBoth = el("button", { class: "danger", id: "mk-stop-both" }, "Emergency stop both");
  stopBoth.onclick = () => emergency(ctx, instance, SERVERS, refresh);
  const head = el("section", { class: "card wide", id: "mk-summary" },
    el("h2", {}, `Maker ${instance} `, el("small", { text: c.strategy ? `strategy ${c.strategy}` : "coordinator not running" })),
    el("p", { id: "mk-phase", text: c.phase ? `Phase ${c.phase} (${c.phase === 1 ? "B long, C short" : "B short, C long"}) for ${fmtAge(c.time_in_phase_s)} · ${c.turns} turn(s) · ${c.mode}${c.reason ? ": " + c.reason : ""}` : "no coordinator status yet" }),
    el("p", { class: "hint", text: data.coordinator_age_s == null ? "" : `coordinator status ${fmtAge(data.coordinator_age_s)} old` }),
    bar(net * mid, cap * mid, `net exposure ${c.net ?? "?"} BTC (cap ${c.cap ?? "?"} BTC)`),
    el("div", { class: "row" }, stopBoth, el("span", { id: "mk-msg", class: "msg" })));
  const cards = SERVERS.map((s) => executorCard(s, data.executors[s] || {}, ctx, instance, refresh));
  const stats = el("section", { class: "card wide" }, el("h2", { text: "Statistics" }), statsTable(c.stats || {}));
  const p = c.params || {};
  const inEffect = el("section", { class: "card wide", id: "mk-params" }, el("h2", { text: "Settings in effect" }),
    el("p", { class: "hint", text: p.step === undefined ? "—" :
      `maker_step_btc ${p.step} · maker_price_offset ${p.offset} · maker_expire_seconds ${p.expire_s} · ` +
      `signal_delay_max ${p.delay_max_s} · decision_interval ${p.decision_interval} · net_exposure_ratio ${p.ratio} · ` +
      `MAX_POSITION_B_USD ${(p.max_usd || {}).B} · MAX_POSITION_C_USD ${(p.max_usd || {}).C} (edit them in the ` +
      `instance's settings; the coordinator applies an edit within 5 s)` }));
  root.replaceChildren(head, ...cards, stats, inEffect);
}

export default {
  id: "maker",
  title: "Maker",
  async mount(el_, ctx, params = {}) {
    root = el_;
    root.classList.add("grid");
    const instance = params.arg || params.instance || "maker";
    const refresh = async () => {
      try { render(await ctx.api("GET", `/api/maker/${instance}`), ctx, instance, refresh); }
      catch (e) { root.replaceChildren(el("p", { class: "msg err", text: `Maker ${instance}: ${e.message}` })); }
    };
    await refresh();
    timer = setInterval(refresh, 2000);
  },
  unmount() {
    if (timer) clearInterval(timer);
    timer = null;
    if (root) root.replaceChildren();
    root = null;
  },
};
