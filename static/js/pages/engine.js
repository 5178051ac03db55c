// One engine instance (#/engine/<instance>): its process and controls, the last scan as a sortable and
// filterable table ("why didn't it trade?"), the bandit per arm, AI hints, the guard and the market feed.
import { el, kvTable } from "../api.js";
import { engineByName, enginesOf } from "../engines.js";
import { equityChart } from "../widgets/equity.js";
import { dataTable } from "../widgets/table.js";
import momentum from "./momentum.js";

let cleanup = [];
const n = (v) => (v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v));

// One row per symbol of the last scan, with the derived ATR % and the size the arm stands for.
export function scanRows(lastScan, policy) {
  const arms = (policy && policy.arms) || {};
  return Object.entries((lastScan && lastScan.symbols) || {}).map(([symbol, r]) => {
    const close = n(r.close), atr = n(r.atr);
    const arm = r.arm || "";
    const mult = arms[arm] ? arms[arm].size_mult : null;
    return { __id: symbol, symbol, decision: r.decision || "", reason: r.reason || "", side: r.side > 0 ? "long" : r.side < 0 ? "short" : "",
      rsi: n(r.rsi), htf_rsi: n(r.htf_rsi), atr_pct: close && atr !== null ? atr / close : null, spread: n(r.spread),
      funding: n(r.funding), edge: n(r.edge), edge_source: r.edge_source || "", arm, policy_arm: r.policy_arm || "",
      size: arm === "SKIP" ? 0 : mult, detail: r.detail || "", scores: r.scores || {} };
  });
}

// One row per arm: how often the policy chose it, trades taken, mean R, and its LinUCB score in the last
// scan (mean over the symbols the policy scored: the score depends on each symbol's context).
export function armRows(policy, rows) {
  const arms = (policy && policy.arms) || {};
  const scored = rows.filter((r) => r.scores && Object.keys(r.scores).length);
  const mean = (arm, key) => {
    const vals = scored.map((r) => r.scores[arm]).filter((v) => v !== undefined && v !== null)
      .map((v) => (typeof v === "object" ? n(v[key]) : key === "score" ? n(v) : null)).filter((v) => v !== null);
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  };
  return Object.entries(arms).map(([arm, a]) => ({ __id: arm, arm, chosen: n(a.chosen), taken: n(a.taken),
    rewarded: n(a.rewarded), mean_r: n(a.reward_mean), last_r: n(a.last_reward), score: mean(arm, "score"),
    mean: mean(arm, "mean"), bonus: mean(arm, "bonus"), size_mult: n(a.size_mult), updates: n(a.updates) }));
}

function human(obj, f) {
  // the venue card and the guard: times as dates, ages as ages, nothing printed as a raw count
  const out = {};
  for (const [k, v] of Object.entries(obj || {})) {
    if (typeof v === "number" && (/_ms$|time/.test(k)) && v > 1e11) out[k.replace(/_ms$/, "")] = f.time(v);
    else if (typeof v === "number" && /age_s$|_s$/.test(k)) out[k.replace(/_s$/, "")] = f.age(v);
    else if (typeof v === "number") out[k] = f.num(v);
    else if (typeof v === "boolean") out[k] = v ? "yes" : "no";
    else out[k] = v;
  }
  return out;
}

// An instance of another kind has its own page module (momentum: pages/momentum.js); the kind comes from
// /api/engines/<name> until the state snapshot lists instances.
let delegate = null;

export default {
  id: "engine",
  selfReady: true,
  title: "Engine",
  href: "#/engine/scanner",
  mount(root, ctx, params) {
    const known = params.arg ? engineByName(ctx.state.get(), params.arg) : null;
    if (params.arg && (!known || known.kind !== "scanner")) {
      ctx.api("GET", `/api/engines/${encodeURIComponent(params.arg)}`)
        .then((e) => { if (e && e.kind === "momentum") { delegate = momentum; momentum.mount(root, ctx, params); } else this.mountScanner(root, ctx, params); })
        .catch(() => this.mountScanner(root, ctx, params));
      return;
    }
    this.mountScanner(root, ctx, params);
  },
  mountScanner(root, ctx, params) {
    const f = ctx.fmt;
    const instance = params.arg || enginesOf(ctx.state.get())[0].instance;
    const head = el("div", { class: "row" });
    const summary = el("p", { class: "hint", id: "scan-summary" });
    const search = el("input", { type: "search", id: "scan-filter", placeholder: "filter: symbol or reason", "aria-label": "filter the scan" });
    const decision = el("select", { id: "scan-decision", "aria-label": "decision" },
      el("option", { value: "" }, "every decision"), el("option", { value: "enter" }, "entries"), el("option", { value: "skip" }, "skips"));
    const pct = (v, d = 2) => (v === null ? "–" : f.pct(v, d));
    const scan = dataTable({ id: "scan-table", empty: "no scan yet", sort: "symbol", columns: [
      { key: "symbol", label: "Symbol", cell: (r) => el("a", { href: `#/chart/${encodeURIComponent(r.symbol)}` }, r.symbol) },
      { key: "decision", label: "Decision", cls: (r) => r.decision === "enter" ? "pos" : "" },
      { key: "reason", label: "Reason", cell: (r) => el("span", { title: r.detail || r.reason }, r.reason || "–") },
      { key: "side", label: "Side", cell: (r) => r.side || "–" },
      { key: "rsi", label: "RSI", cell: (r) => f.num(r.rsi, 1) },
      { key: "htf_rsi", label: "HTF RSI", title: "RSI on the higher timeframe", cell: (r) => f.num(r.htf_rsi, 1) },
      { key: "atr_pct", label: "ATR %", title: "ATR as a share of the close", cell: (r) => pct(r.atr_pct) },
      { key: "spread", label: "Spread", title: "fraction of the mid price", cell: (r) => pct(r.spread, 3) },
      { key: "funding", label: "Funding", cell: (r) => pct(r.funding, 4) },
      { key: "edge", label: "Edge (R)", title: "expected edge in R", cell: (r) => r.edge === null ? "–" : f.num(r.edge, 3) },
      { key: "arm", label: "Arm", cell: (r) => r.arm ? r.arm + (r.policy_arm && r.policy_arm !== r.arm ? ` (policy ${r.policy_arm})` : "") : "–" },
      { key: "size", label: "Size", title: "size multiplier of the arm", cell: (r) => r.size === null ? "–" : `×${f.num(r.size, 2)}` },
    ] });
    const refilter = () => {
      const q = search.value.trim().toLowerCase(), d = decision.value;
      scan.setFilter((r) => (!d || r.decision === d) && (!q || `${r.symbol} ${r.reason}`.toLowerCase().includes(q)));
    };
    search.addEventListener("input", refilter);
    decision.addEventListener("change", refilter);
    const bandit = dataTable({ id: "bandit-table", empty: "the bandit has no statistics yet", columns: [
      { key: "arm", label: "Arm" },
      { key: "chosen", label: "Times chosen", cell: (r) => f.num(r.chosen, 0) },
      { key: "taken", label: "Trades", cell: (r) => f.num(r.taken, 0) },
      { key: "mean_r", label: "Mean R", cell: (r) => r.mean_r === null ? "–" : f.num(r.mean_r, 3) },
      { key: "score", label: "Score now", title: "LinUCB score (mean + bonus) in the last scan, averaged over the symbols it scored", cell: (r) => r.score === null ? "–" : f.num(r.score, 3) },
      { key: "mean", label: "Mean", cell: (r) => r.mean === null ? "–" : f.num(r.mean, 3) },
      { key: "bonus", label: "Bonus", cell: (r) => r.bonus === null ? "–" : f.num(r.bonus, 3) },
      { key: "size_mult", label: "Size ×", cell: (r) => r.size_mult === null ? "–" : f.num(r.size_mult, 2) },
    ] });
    const banditNote = el("p", { class: "hint", id: "bandit-note" });
    const hints = el("div", { id: "hints-view", class: "kv" });
    const guard = el("div", { id: "guard-view", class: "kv" });
    const market = el("div", { id: "market-view", class: "kv" });
    const eqRoot = el("div");
    root.append(el("div", { class: "grid" },
      el("section", { class: "card wide", id: "engine-card" }, el("h2", {}, `Engine ${instance}`), head),
      el("section", { class: "card wide", id: "scan-card" }, el("h2", { text: "Last scan" }), summary,
        el("div", { class: "row" }, search, decision), scan.node),
      el("section", { class: "card wide", id: "policy-card" }, el("h2", { text: "Bandit" }), banditNote, bandit.node,
        el("h3", { text: "AI hints" }), hints),
      el("section", { class: "card", id: "guard-card" }, el("h2", { text: "Guard" }), guard),
      el("section", { class: "card", id: "market-card" }, el("h2", { text: "Market feed and venue" }), market),
      el("section", { class: "card wide", id: "engine-equity-card" }, el("h2", { text: "Equity and drawdown" }), eqRoot)));
    const equity = equityChart(eqRoot, { height: 200 });

    // a second scanner instance has its own state file: its scan, bandit and equity come from there
    let own = null, last = null;
    const ownState = instance !== "scanner";
    const fetchOwn = () => ctx.api("GET", `/api/engines/${encodeURIComponent(instance)}/state`)
      .then((o) => { own = o; if (last) render(last); }).catch(() => {});
    const timer = ownState ? setInterval(fetchOwn, 2000) : null;
    if (ownState) fetchOwn();
    const render = (global) => {
      last = global;
      const snap = ownState ? { ...global, state: own ? own.state : { available: false, problem: "reading its state file…" },
        equity_curve: own ? own.equity_curve : [] } : global;
      const engine = engineByName(snap, instance);
      if (!engine) { head.replaceChildren(el("p", { class: "error", text: `no engine instance named ${instance}` })); return; }
      const p = (snap.processes || {})[engine.process] || {};
      const running = p.state === "running" || p.state === "stopping";
      head.replaceChildren(el("span", {}, `${engine.kind} on account ${engine.account} · process `,
        el("b", { class: `st-${p.state}`, id: "engine-state" }, p.state || "–"), p.uptime_s ? ` for ${f.age(p.uptime_s)}` : ""),
        el("button", { class: "small", disabled: running, onclick: () => ctx.processAction(engine.process, "start") }, "Start"),
        el("button", { class: "small", disabled: !running, onclick: () => ctx.processAction(engine.process, "stop") }, "Stop"),
        el("button", { class: "small", onclick: () => ctx.processAction(engine.process, "restart") }, "Restart"));
      const st = snap.state || {};
      const ls = st.last_scan || {};
      const s = ls.summary || {};
      const rows = scanRows(ls, st.policy);
      scan.set(rows);
      const skips = Object.entries(s.skips || {}).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
      summary.textContent = !st.available ? st.problem : ls.time_ms ? `cycle ${ls.cycle} at ${f.time(ls.time_ms)}: ` +
        `${s.scanned ?? rows.length} scanned, ${s.candidates ?? 0} candidates, ${s.entries ?? 0} entries` +
        (skips ? `; skipped: ${skips}` : "") + (s.duration_ms !== undefined ? ` (${s.duration_ms} ms)` : "") : "no scan yet";
      const policy = st.policy || {};
      bandit.set(armRows(policy, rows));
      const am = policy.alpha_model || {};
      banditNote.textContent = policy.mode ? `${policy.mode} mode · ${f.num(policy.decisions, 0)} decisions · ` +
        `alpha ${f.num(policy.alpha, 3)} · alpha model: ${f.num(am.n_trades, 0)} of ${f.num(am.min_trades, 0)} trades` +
        (am.mean_r !== null && am.mean_r !== undefined ? `, mean R ${f.num(am.mean_r, 3)}` : "") : "";
      const h = st.ai_hints || {};
      hints.replaceChildren(kvTable(human(Object.fromEntries(Object.entries(h).filter(([, v]) => typeof v !== "object" || v === null)), f)));
      const g = snap.guard || {};
      guard.replaceChildren(g.problem ? el("p", { class: "problem", text: g.problem }) : "", g.available ? kvTable({
        "status age": f.age(g.age_s), "user stream": g.stream?.connected === undefined ? "–" :
          `${g.stream.connected ? "connected" : "DISCONNECTED"}, last message ${f.age(g.stream.age_s)} ago`,
        "positions watched": String(g.positions), repairs: String(g.repairs_total),
        "kill switch": g.kill_switch?.enabled === undefined ? "–" : g.kill_switch.enabled ? `on (threshold ${g.kill_switch.threshold ?? "–"})` : "off",
        "last error": g.last_error || "none",
      }) : "", g.available && g.recent_actions?.length ? el("table", { class: "kv-table", id: "guard-actions" },
        ...g.recent_actions.slice(-8).reverse().map((a) => el("tr", {}, el("th", { text: f.time(a.time_ms) }),
          el("td", { text: `${a.action} ${a.symbol || ""}${a.reason ? ": " + a.reason : ""}` })))) : "");
      const paper = snap.paper || {};
      const info = paper.info || {};
      market.replaceChildren(paper.available === false ? el("p", { class: "problem", text: paper.problem }) : "", kvTable({
        mode: snap.mode, "feed in use": st.feed || info.feed || "–",
        "state written": st.available ? `${f.age(st.age_s)} ago (cycle ${st.cycle})` : st.problem,
        ...(st.client && Object.keys(st.client).length ? human(st.client, f) : { "request weight": "not reported yet" }),
      }), snap.mode === "paper" && paper.available ? el("h3", { text: "Paper exchange" }) : "",
      snap.mode === "paper" && paper.available ? kvTable(human(info, f)) : "");
      equity.set(snap.equity_curve || []);
      root.dataset.ready = "1";
    };
    const unsubscribe = ctx.state.subscribe(render);
    cleanup = [unsubscribe, () => equity.destroy(), () => timer && clearInterval(timer)];
  },
  unmount() {
    if (delegate) { delegate.unmount(); delegate = null; }
    cleanup.forEach((fn) => fn()); cleanup = [];
  },
};
