// The momentum engine's page, route #/engine/<instance> for instances of kind "momentum" (pages/engine.js
// hands the route over to it by the instance's kind).
// Reads GET /api/momentum/<instance>/status (the engine's status file) every second and shows, per
// symbol: ret_bps against k * RS_vol, the volume ratio against n, each blocker, warm-up progress, the
// position with its armed exits and trailing state, the cooldown; above: the daily schedule (UTC),
// the kill-switch and the parameters in force. Page contract: {id, title, mount(root, ctx, params), unmount()}.

const POLL_MS = 1000;
let timer = null;
let root = null;

function h(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v; else if (k === "title") n.title = v; else n.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) n.append(k instanceof Node ? k : String(k));
  return n;
}

const num = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(d);
const okMark = (ok) => h("span", { class: ok ? "ok" : "bad" }, ok ? "ok" : "blocks");
const utc = (ms) => ms ? new Date(ms).toISOString().slice(11, 16) + " UTC" : "–";

function signalCell(s, p) {
  if (!s || s.ret_bps === null) return h("span", { class: "muted" }, "warming up");
  const thr = s.threshold_bps;
  const dir = s.momentum > 0 ? "▲ long" : s.momentum < 0 ? "▼ short" : "–";
  return h("span", { title: `k=${p.k}, RS_vol(${p.T})=${num(s.rs_vol_bps)} bps` },
    `${num(s.ret_bps)} vs ±${num(thr)} bps `, h("b", {}, dir));
}

function blockerCells(s, p) {
  const b = s && s.blockers;
  if (!b) return [h("td", {}, "–"), h("td", {}, "–"), h("td", {}, "–")];
  return [
    h("td", { title: `spread_max ${p.spread_max} bps` }, `${num(b.spread_bps)} `, okMark(b.spread_ok)),
    h("td", { title: `funding_max ${p.funding_max} bps` }, `${num(b.funding_bps)} `, okMark(b.funding_ok)),
    h("td", { title: `cap min(10, max(5, 2 x spread)) = ${num(b.opening_loss_cap_bps)} bps` },
      `${num(b.opening_loss_long_bps)} / ${num(b.opening_loss_short_bps)} `, okMark(b.opening_loss_ok)),
  ];
}

function positionCell(sym) {
  const pos = sym.position;
  if (!pos) {
    if (sym.pending_entry) return h("span", { class: "warn" }, `entry in flight (${sym.pending_entry.cid})`);
    return h("span", { class: "muted" }, "flat");
  }
  const plan = pos.plan || {};
  const exits = Object.keys(pos.exits || {}).join(" ") || "none armed";
  return h("div", {},
    h("b", {}, `${pos.side} ${pos.qty} @ ${pos.entry_price}`), pos.adopted ? " (adopted)" : "", h("br"),
    `TP ${plan.take_profit_price} · SL ${plan.stop_price} (mark) · `,
    h("span", { title: `activation ${plan.activation_bps} bps (break-even floor ${num(plan.be_floor_bps)} bps)` },
      `trail ${plan.callback_rate}% from ${plan.activation_price}: ${pos.trailing ? pos.trailing.state : "–"}`),
    h("br"), h("small", { class: "muted" }, `armed: ${exits}; config ${pos.config ? pos.config.config_id : "–"}`));
}

function render(data) {
  if (!root) return;
  const sched = data.schedule || {};
  const kill = data.kill_switch || {};
  const head = h("div", { class: "row" },
    h("span", { class: `badge ${data.trading ? "live" : ""}` }, data.trading ? "trading" : "dry (no orders)"),
    h("span", { class: `badge ${data.stale ? "bad" : ""}` }, data.stale ? `stale ${data.age_s}s` : data.state),
    h("span", {}, ` schedule: ${sched.phase} · entries halt ${sched.entry_halt_utc} · force-exit ${sched.force_exit_utc} UTC`
      + ` (next halt ${utc(sched.next_halt_ms)})`),
    h("span", { class: kill.latched || kill.fired ? "bad" : "" },
      ` · kill-switch ${kill.latched ? "LATCHED: " + kill.latched : kill.fired ? "fired: " + kill.fired : "clear"}`
      + (kill.safety_multiple ? ` (multiple ${num(kill.safety_multiple, 2)} vs ${kill.threshold})` : "")),
    h("span", {}, ` · fee ${num(data.taker_fee_bps)} bps · tick ${num(data.tick_ms, 1)} ms`));
  const rows = Object.entries(data.symbols || {}).map(([name, s]) => {
    const p = s.params || {};
    const sig = s.signal;
    const warm = s.bars >= s.warmup_bars;
    return h("tr", { "data-symbol": name },
      h("td", {}, h("b", {}, name), h("br"), h("small", { class: "muted" }, p.source === "file" ? "params file" : "defaults")),
      h("td", { class: "warmup" }, warm ? "ready" : `${s.bars}/${s.warmup_bars} (${s.warmup_pct}%)`),
      h("td", { class: "signal" }, signalCell(sig, p)),
      h("td", { class: "volume", title: `n=${p.n}, V=${p.V}` },
        sig && sig.volume_ratio !== null ? `${num(sig.volume_ratio)}x vs ${p.n}x ` : "–",
        sig && sig.volume_ratio !== null ? okMark(sig.regime_ok) : ""),
      ...blockerCells(sig, p),
      h("td", { class: "position" }, positionCell(s)),
      h("td", { class: "cooldown" }, s.cooldown_s > 0 ? `${s.cooldown_s} s` : "–"),
      h("td", { class: "action" }, h("small", {}, s.last_action || "")));
  });
  const table = h("table", { class: "table", id: "momentum-table" },
    h("thead", {}, h("tr", {}, ...["symbol", "warm-up", "ret_bps vs k·RS_vol", "volume ratio", "spread bps",
      "funding bps", "opening loss L/S bps", "position and exits", "cooldown", "last action"].map((t) => h("th", {}, t)))),
    h("tbody", {}, ...rows));
  const problems = (data.problems || []).concat(data.params_problem ? [data.params_problem] : []);
  root.replaceChildren(
    h("h2", {}, `Momentum engine ${data.instance}`), head,
    problems.length ? h("div", { class: "messages bad" }, ...problems.map((t) => h("div", {}, t))) : "",
    table,
    h("p", { class: "hint" }, `parameters: ${data.params_file} · entry latency p50 ${num(data.entry_latency_ms && data.entry_latency_ms.p50, 1)} ms`));
  root.dataset.ready = "1";
}

async function poll(ctx, instance) {
  try {
    render(await ctx.api("GET", `/api/momentum/${encodeURIComponent(instance)}/status`));
  } catch (e) {
    if (root) {
      root.replaceChildren(h("h2", {}, `Momentum engine ${instance}`), h("p", { class: "bad" }, e.message));
      root.dataset.ready = "1";
    }
  }
}

export default {
  id: "momentum",
  title: "Momentum engine",
  kind: "momentum",               // the shell mounts this page on #/engine/<instance> for this kind
  mount(el, ctx, params) {
    root = el;
    const instance = (params && (params.arg || params.instance)) || "momentum";
    poll(ctx, instance);
    timer = setInterval(() => poll(ctx, instance), POLL_MS);
  },
  unmount() {
    if (timer) clearInterval(timer);
    timer = null;
    root = null;
  },
};
