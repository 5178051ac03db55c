// Open positions as the venue holds them (GET /api/state `positions`), with a Close button behind a
// confirmation (POST /api/positions/close, reduce-only, through the one close routine).
import { el } from "../api.js";
import { fmtOf } from "./format.js";

const COLUMNS = ["Symbol", "Side", "Qty", "Entry", "Mark", "Notional", "Lev.", "Margin", "Liq.", "Liq. dist.",
  "Stop vs liq.", "uPnL", "PnL %", "Opened", "Age", "Fees", "Funding", "Guard", ""];
let state = null;

function stopCell(r, fmt) {
  if (r.stop_before_liquidation === null || r.stop_before_liquidation === undefined) return "–";
  return r.stop_before_liquidation ? `ok (${fmt.pct(r.stop_to_liq_pct)})`
    : el("span", { class: "bad", text: `STOP BEYOND LIQ. (${fmt.pct(r.stop_to_liq_pct)})` });
}

function row(r, s) {
  const { fmt } = s;
  const key = `${r.symbol}:${r.side}`;
  const guard = r.venue === "unknown" ? "venue not answering" : (r.guard || "–");
  const action = s.confirming === key
    ? el("td", {}, el("button", { class: "danger", "data-confirm-close": key, onclick: () => close(r) }, "Confirm close"),
      " ", el("button", { onclick: () => { s.confirming = null; render(); } }, "Cancel"))
    : el("td", {}, el("button", { "data-close": key, disabled: r.venue !== "held" || s.busy ? true : undefined,
      onclick: () => { s.confirming = key; render(); } }, "Close"));
  return el("tr", { "data-symbol": r.symbol, "data-side": r.side },
    el("td", { text: r.symbol }), el("td", { text: r.side }), el("td", { text: fmt.num(r.qty, 6) }),
    el("td", { text: fmt.num(r.entry_price, 6) }), el("td", { text: fmt.num(r.mark_price, 6) }),
    el("td", { text: fmt.num(r.notional, 2) }), el("td", { text: r.leverage ? `${r.leverage}x` : "–" }),
    el("td", { text: fmt.num(r.margin, 2) }), el("td", { text: fmt.num(r.liquidation_price, 6) }),
    el("td", { text: fmt.pct(r.liq_distance_pct) }), el("td", {}, stopCell(r, fmt)),
    el("td", { class: (r.unrealized_pnl || 0) < 0 ? "neg" : "pos", text: fmt.num(r.unrealized_pnl, 4) }),
    el("td", { text: fmt.pct(r.pnl_pct) }), el("td", { text: fmt.time(r.open_time_ms) }),
    el("td", { text: fmt.duration(r.duration_s) }), el("td", { text: fmt.num(r.fees, 4) }),
    el("td", { text: fmt.num(r.funding, 4) }), el("td", { text: guard }), action);
}

function render() {
  const s = state;
  if (!s) return;
  const rows = s.rows || [];
  s.body.replaceChildren(...(rows.length ? rows.map((r) => row(r, s))
    : [el("tr", {}, el("td", { class: "empty", colspan: String(COLUMNS.length), text: "no open position on the venue" }))]));
}

async function close(r) {
  const s = state;
  s.busy = true; s.confirming = null;
  s.status.textContent = `closing ${r.symbol} ${r.side} at market…`;
  render();
  try {
    const out = await s.ctx.api("POST", "/api/positions/close", { symbol: r.symbol, side: r.side, confirm: "CLOSE" });
    const price = out.closed && out.closed.avg_price;
    s.status.textContent = out.ok ? `${r.symbol} ${r.side} closed: ${out.closed ? out.closed.qty : ""} at ${price || "?"}`
      + (out.error ? ` (${out.error})` : "") : `close incomplete: ${out.error || out.remaining + " still held"}`;
    s.status.className = out.ok ? "ok" : "bad";
  } catch (e) {
    s.status.textContent = `close failed: ${e.message}`;
    s.status.className = "bad";
  }
  s.busy = false;
  await refresh();
}

async function refresh() {
  const s = state;
  if (!s) return;
  try {
    const snap = s.params.snapshot ? s.params.snapshot() : await s.ctx.api("GET", "/api/state");
    if (state !== s) return;
    s.rows = snap.positions || [];
    s.note.textContent = snap.venue && snap.venue.error ? `venue: ${snap.venue.error}` : "";
  } catch (e) {
    s.note.textContent = `not loaded: ${e.message}`;
  }
  render();
}

export default {
  mount(root, ctx, params = {}) {
    const fmt = fmtOf(ctx);
    const body = el("tbody");
    const status = el("p", { class: "msg", "data-role": "close-status", "aria-live": "polite" });
    const note = el("small", { class: "msg" });
    root.replaceChildren(el("div", { class: "table-scroll" },
      el("table", { class: "table", "data-widget": "positions" },
        el("thead", {}, el("tr", {}, ...COLUMNS.map((c) => el("th", { text: c })))), body)), note, status);
    state = { root, ctx, params, fmt, body, status, note, rows: [], confirming: null, busy: false,
      timer: setInterval(refresh, params.interval || 2000) };
    refresh();
  },
  unmount() {
    if (state) clearInterval(state.timer);
    state = null;
  },
};
