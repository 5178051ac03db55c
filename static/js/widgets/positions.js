// Open positions (a minimal table from /api/state; dash-truth's widget replaces this file with the
// venue-first view and close buttons, keeping the interface {mount(root, ctx, params), unmount()}).
import { el } from "../api.js";

let unsubscribe = null;

function guardCell(row) {
  const g = row.guard || "unknown";
  const cls = g === "protected" ? "ok-mark" : g === "UNPROTECTED" ? "bad-mark" : "unknown-mark";
  const detail = row.stop_ok === undefined || row.stop_ok === null ? "" :
    ` (stop ${row.stop_ok ? "✓" : "✗"}, TP ${row.take_profit_ok ? "✓" : "✗"})`;
  return el("td", { class: cls }, g + detail);
}

export default {
  mount(root, ctx) {
    const body = el("tbody");
    const note = el("small", { class: "msg", id: "positions-note" });
    root.replaceChildren(el("div", { class: "table-scroll" }, el("table", { class: "table", "data-widget": "positions" },
      el("thead", {}, el("tr", {}, ...["Symbol", "Side", "Qty", "Entry", "Mark", "uPnL", "Stop", "Take-profit", "Guard", "Source", ""]
        .map((h) => el("th", { text: h })))), body)), note);
    unsubscribe = ctx.state.subscribe((snap) => {
      const p = ctx.fmt;
      const rows = snap.positions || [];
      body.replaceChildren(...(rows.length ? rows.map((r) => el("tr", { "data-symbol": r.symbol, "data-side": r.side },
        ...[r.symbol, el("td", { class: r.side === "LONG" ? "pos" : "neg" }, r.side), p.num(r.qty, 8),
          p.price(r.entry_price, r.symbol), p.price(r.mark_price, r.symbol),
          el("td", { class: r.unrealized_pnl > 0 ? "pos" : r.unrealized_pnl < 0 ? "neg" : "" }, p.signed(r.unrealized_pnl)),
          p.price(r.stop_price ?? r.guard_stop_price, r.symbol), p.price(r.take_profit_price ?? r.guard_take_profit_price, r.symbol),
          guardCell(r), r.source || "bot",
          el("a", { href: `#/chart/${encodeURIComponent(r.symbol)}`, title: "candles with entry, stop and take-profit" }, "chart")]
          .map((c) => c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))))
        : [el("tr", {}, el("td", { class: "empty", colspan: "11", text: "no open position" }))]));
      const venue = snap.venue || {};
      note.textContent = venue.enabled && venue.error ? `venue: ${venue.error}` :
        venue.enabled && venue.age_s !== null ? `venue checked ${p.age(venue.age_s)} ago` : "";
    });
  },
  unmount() { unsubscribe?.(); unsubscribe = null; },
};
