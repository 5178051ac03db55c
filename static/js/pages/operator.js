// Operator (#/operator[/<instance>]): seed 004's delta-neutral pair. Both legs with their liquidation
// distances and the net delta; hold time against target and the next rotation; today's volume against
// target; the weekly holding-time equivalent; fees and funding; trade history and a daily chart; CSV
// export; close-pair and pause. Data: /api/operator (status file, trade database, engines.json).
import { el } from "../api.js";

const POLL_MS = 2000;
let timer = null;
let alive = false;
let settingsNode = null;   // drawn once, so a redraw never clobbers what the user is typing

const num = (v, d = 2) => (v === null || v === undefined || v === "" || !Number.isFinite(Number(v))) ? "–"
  : Number(v).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const qty = (v) => (v === null || v === undefined) ? "–" : String(v);
const utc = (ms) => new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 19) + " UTC";
let clock = utc;            // the dashboard's one clock (ctx.fmt.time: UTC or local, as the header says)
const when = (ms) => ms ? clock(Number(ms)) : "–";
const signed = (v, d = 2) => (Number(v) > 0 ? "+" : "") + num(v, d);
const cls = (v) => Number(v) > 0 ? "pos" : Number(v) < 0 ? "neg" : "";

function bar(id, value, target, label) {
  const pct = target > 0 ? Math.min(100, (100 * value) / target) : 0;
  return el("div", { class: "op-progress", id },
    el("div", { class: "op-progress-label", text: label }),
    el("div", { class: "op-track", role: "progressbar", "aria-valuenow": pct.toFixed(1), "aria-valuemin": "0", "aria-valuemax": "100" },
      el("div", { class: "op-fill", style: `width:${pct.toFixed(1)}%` })));
}

function legRow(leg) {
  if (!leg) return el("tr", { class: "op-missing" }, el("td", { colspan: "8", text: "no leg" }));
  const dist = leg.liq_distance_pct;
  return el("tr", { "data-leg": leg.side },
    el("td", { class: leg.side === "LONG" ? "pos" : "neg", text: leg.side }),
    el("td", { text: leg.account }), el("td", { text: qty(leg.qty) }), el("td", { text: num(leg.entry, 2) }),
    el("td", { text: num(leg.mark, 2) }), el("td", { text: num(leg.liquidation, 2) }),
    el("td", { class: dist !== null && dist < 3 ? "neg" : "", "data-field": "liq-distance", text: dist === null ? "–" : `${num(dist, 2)} %` }),
    el("td", { class: cls(leg.unrealized), text: signed(leg.unrealized, 4) }));
}

function pairCard(p) {
  const m = p.metrics || {};
  const hold = p.hold || {};
  const legs = el("table", { class: "table op-legs" },
    el("thead", {}, el("tr", {}, ...["Leg", "Account", "Qty", "Entry", "Mark", "Liquidation", "To liquidation", "Unrealised"].map((h) => el("th", { text: h })))),
    el("tbody", {}, legRow(p.long), legRow(p.short)));
  const alone = (p.long && !p.short) || (!p.long && p.short);
  return el("section", { class: "card wide op-pair", "data-symbol": p.symbol },
    el("h2", {}, `${p.symbol} pair `, el("small", { text: p.pair_id ? `${p.pair_id}${p.adopted ? " (adopted)" : ""}` : "none held" })),
    alone ? el("p", { class: "error", text: "One leg is alone: the operator closes it at its next check." }) : null,
    p.blocked ? el("p", { class: "msg err", text: `No new pair: ${p.blocked}` }) : null,
    el("div", { class: "table-wrap" }, legs),
    el("div", { class: "row" },
      el("span", { "data-field": "net-delta", text: `Net delta ${qty(m.net_delta_qty)} (${signed(m.net_delta_usdt)} USDT)` }),
      el("span", { class: cls(m.net_pnl), text: `Pair net PnL ${signed(m.net_pnl, 4)} USDT (${signed(m.net_pnl_pct, 3)} %)` }),
      el("span", { text: `Fees ${num(p.fees, 4)} · Funding ${signed(p.funding, 4)}` }),
      p.funding_expected ? el("span", { "data-field": "funding-next", text: `Next funding ${when(p.funding_expected.next_time_ms)} at ` +
        `${num(p.funding_expected.rate * 100, 4)} %: LONG ${signed(p.funding_expected.long, 4)}, SHORT ${signed(p.funding_expected.short, 4)}, ` +
        `net ${signed(p.funding_expected.net, 4)} USDT` }) : null),
    el("div", { class: "row" },
      el("span", { "data-field": "hold", text: `Held ${num(hold.held_min, 1)} of ${num(hold.target_min, 0)} min` + (hold.bonus ? " · 10x multiplier" : "") }),
      el("span", { "data-field": "next-rotation", text: p.rotate_at_ms ? `Next rotation ${when(p.rotate_at_ms)} (in ${num(Math.max(0, p.next_rotation_min), 1)} min)` : "" })),
    p.pair_id ? bar(`hold-${p.symbol}`, hold.held_min || 0, hold.target_min || 1, "Hold time") : null);
}

function dailyChart(rows) {
  const days = [...rows].reverse();
  const W = 600, H = 140, pad = 24;
  const max = Math.max(1, ...days.map((d) => Number(d.volume)));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "op-chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "daily volume");
  const w = days.length ? Math.min(40, (W - pad) / days.length) : 0;
  days.forEach((d, i) => {
    const h = ((H - pad) * Number(d.volume)) / max;
    const r = document.createElementNS(svg.namespaceURI, "rect");
    r.setAttribute("x", String(pad + i * w + 1));
    r.setAttribute("y", String(H - pad - h));
    r.setAttribute("width", String(Math.max(1, w - 2)));
    r.setAttribute("height", String(h));
    r.setAttribute("class", "op-bar");
    const t = document.createElementNS(svg.namespaceURI, "title");
    t.textContent = `${d.day}: ${num(d.volume)} USDT, ${d.trades} trades, fees ${num(d.fees, 4)}, ${d.rotations} rotations`;
    r.append(t);
    svg.append(r);
  });
  return svg;
}

function tradeTable(trades) {
  const head = ["Time", "Symbol", "Leg", "Action", "Side", "Qty", "Price", "Notional", "Fee", "PnL", "Order id"];
  return el("table", { class: "table", id: "op-trades" },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...(trades.length ? trades.map((t) => el("tr", {},
      el("td", { text: when(t.time_ms) }), el("td", { text: t.symbol }), el("td", { text: t.position_side }),
      el("td", { text: t.action }), el("td", { text: t.side }), el("td", { text: t.quantity }),
      el("td", { text: num(t.price, 2) }), el("td", { text: num(t.notional, 2) }), el("td", { text: num(t.fee, 4) }),
      el("td", { class: cls(t.realized_pnl), text: signed(t.realized_pnl, 4) }), el("td", { text: t.client_order_id })))
      : [el("tr", {}, el("td", { class: "empty", colspan: String(head.length), text: "no trade yet" }))])));
}

function settingsForm(ctx, name, data, onSaved) {
  const s = data.settings || {};
  const fields = ["CAPITAL_USDT", "LEVERAGE", "TRADING_PAIRS", "POSITION_HOLD_TIME_MIN", "MAX_POSITION_SIZE_PCT",
    "DAILY_VOLUME_TARGET", "STOP_LOSS_PCT", "MAX_PNL_DRIFT_PCT", "WALLET_ADDRESS"];
  const inputs = {};
  const msg = el("span", { class: "msg", id: "op-settings-msg" });
  const warn = el("ul", { class: "op-warnings", id: "op-warnings" }, ...(data.warnings || []).map((w) => el("li", { text: w })));
  const rows = fields.map((f) => {
    const v = Array.isArray(s[f]) ? s[f].join(",") : s[f];
    inputs[f] = el("input", { id: `op-set-${f}`, name: f, value: v === undefined ? "" : String(v) });
    return el("label", { class: "op-field" }, el("span", { text: f }), inputs[f]);
  });
  const save = el("button", { class: "primary", id: "op-settings-save", text: "Save settings",
    async onclick() {
      const changes = {};
      for (const f of fields) {
        const v = inputs[f].value.trim();
        const old = Array.isArray(s[f]) ? s[f].join(",") : String(s[f] ?? "");
        if (v !== old) changes[f] = v;
      }
      try {
        const out = await ctx.api("POST", `/api/operator/${encodeURIComponent(name)}/settings`, { settings: changes });
        warn.replaceChildren(...out.warnings.map((w) => el("li", { text: w })));
        msg.className = "msg ok";
        msg.textContent = "Saved. Restart the operator to apply.";
        onSaved && onSaved();
      } catch (e) { msg.className = "msg err"; msg.textContent = e.message; }
    } });
  return el("section", { class: "card", id: "op-settings" }, el("h2", { text: "Settings (seed 004)" }), warn,
    el("div", { class: "op-fields" }, ...rows), el("div", { class: "row" }, save, msg),
    el("p", { class: "hint", text: s.WALLET_ADDRESS ? `Wallet ${s.WALLET_ADDRESS}` : "Wallet address not set (optional)." }));
}

async function draw(root, ctx, name) {
  const enc = encodeURIComponent(name);
  const [data, hist] = await Promise.all([ctx.api("GET", `/api/operator/${enc}`), ctx.api("GET", `/api/operator/${enc}/history?limit=100`)]);
  if (!alive) return;
  const st = data.status || {};
  const vol = st.volume || {}, pace = vol.pacing || {}, hold = st.hold || {}, costs = st.costs_today || {};
  const paused = !!(data.control || {}).paused;
  const pauseBtn = el("button", { id: "op-pause", text: paused ? "Resume" : "Pause",
    async onclick() { await ctx.api("POST", `/api/operator/${enc}/pause`, { paused: !paused }); refresh(); } });
  const closeBtn = el("button", { class: "danger", id: "op-close-pair", text: "Close pair…",
    async onclick() {
      const ok = ctx.confirm ? await ctx.confirm("Close the pair?", "Both legs are closed at market at the operator's next check, and it pauses. Resume opens a new pair.")
        : window.confirm("Close both legs at market and pause?");
      if (ok) { await ctx.api("POST", `/api/operator/${enc}/close-pair`); refresh(); }
    } });
  const refresh = () => draw(root, ctx, name).catch(() => {});
  const head = el("section", { class: "card wide", id: "op-head" },
    el("h2", {}, `Operator ${name} `, el("small", { text: `${st.mode || "not running yet"}${paused ? " · paused" : ""}` })),
    el("div", { class: "row" }, pauseBtn, closeBtn,
      el("a", { href: `/api/operator/${enc}/export.csv?table=trades`, id: "op-export", download: `${name}-trades.csv`, text: "Export trades (CSV)" }),
      el("a", { href: `/api/operator/${enc}/export.csv?table=daily_stats`, download: `${name}-daily.csv`, text: "Export daily stats (CSV)" })),
    st.last_error ? el("p", { class: "msg err", text: `Last error: ${st.last_error}` }) : null,
    el("p", { class: "hint", text: `Updated ${when(st.written_ms)} · last cycle ${when(st.last_cycle_ms)} · next ${when(st.next_cycle_ms)}` }));
  const targets = el("section", { class: "card", id: "op-targets" }, el("h2", { text: "Targets" }),
    bar("op-volume", vol.today || 0, vol.target || 0, `Volume today ${num(vol.today)} of ${num(vol.target)} USDT`),
    el("p", { class: pace.reachable === false ? "msg err" : "hint", id: "op-pacing",
      text: pace.target ? `${pace.rotations_needed} rotations of ${num(pace.per_rotation)} USDT needed, ${pace.rotations_left} fit in the day` +
        (pace.reachable === false ? ": the target is out of reach at this size and hold time" : "") + (pace.behind ? " (behind the pace)" : "") : "" }),
    bar("op-weekly", hold.weekly_equivalent || 0, hold.weekly_target || 0,
      `Weekly holding-time equivalent ${num(hold.weekly_equivalent)} of ${num(hold.weekly_target, 0)} USDT`),
    el("p", { class: "hint", id: "op-costs", text: `Today: fees ${num(costs.fees, 4)} USDT (${num(costs.fees_bps, 2)} bps), funding paid ${num(costs.funding_paid, 4)} USDT, ` +
      `${num(costs.cost_per_10k, 2)} USDT per 10,000 of volume · ${st.rotations_today || 0} rotations` }));
  const events = el("section", { class: "card", id: "op-events" }, el("h2", { text: "Events" }),
    el("ul", { class: "feed" }, ...(st.events || []).slice(0, 15).map((e) => el("li", { class: e.level === "error" ? "neg" : "" , text: `${when(e.time_ms)} ${e.symbol} ${e.text}` }))));
  const history = el("section", { class: "card wide", id: "op-history" }, el("h2", { text: "Daily volume" }), dailyChart(hist.daily || []),
    el("h2", { text: "Trade history" }), el("div", { class: "table-wrap" }, tradeTable(hist.trades || [])));
  settingsNode = settingsNode || settingsForm(ctx, name, data, refresh);
  root.replaceChildren(head, ...(st.pairs || []).map(pairCard), targets, events, settingsNode, history);
}

async function start(page, root, ctx, params) {
  let name = params && params.arg;
  if (!name) {
    const list = await ctx.api("GET", "/api/operator");
    name = (list.instances || [])[0];
    if (!name) {
      root.replaceChildren(el("section", { class: "card wide" }, el("h2", { text: "Operator" }),
        el("p", { text: "No delta-neutral instance yet: add one of kind deltaneutral (Overview, Engines) or in engines.json (docs/deltaneutral.md)." })));
      page.dataset.ready = "1";
      return;
    }
  }
  const tick = async () => {
    try { await draw(root, ctx, name); page.dataset.ready = "1"; } catch (e) {
      if (alive) root.replaceChildren(el("p", { class: "error", text: `Operator ${name}: ${e.message}` }));
      page.dataset.ready = "1";
    }
    if (alive) timer = setTimeout(tick, POLL_MS);
  };
  await tick();
}

export default {
  id: "operator",
  title: "Operator",
  selfReady: true,
  mount(page, ctx, params) {
    alive = true;
    clock = (ctx.fmt && ctx.fmt.time) || utc;
    settingsNode = null;
    const root = el("div", { class: "grid op-page" });   // the page's own grid: the shell's root stays as it is
    page.append(root);
    start(page, root, ctx, params).catch((e) => {
      if (alive) root.replaceChildren(el("p", { class: "error", text: `Operator: ${e.message}` }));
      page.dataset.ready = "1";
    });
  },
  unmount() { alive = false; clearTimeout(timer); timer = null; },
};
