// Trades (a minimal page from /api/state's last trades; dash-truth's page replaces this file with paging,
// filters and CSV export, keeping the page interface). A click on a row opens the chart zoomed on the trade.
import { el } from "../api.js";
import { dataTable } from "../widgets/table.js";

let unsubscribe = null;

// The chart interval that shows a trade of this length in a few dozen candles.
export function intervalFor(ms) {
  const m = 60_000;
  if (!ms || ms <= 60 * m) return "1m";
  if (ms <= 5 * 60 * m) return "5m";
  if (ms <= 15 * 60 * m) return "15m";
  if (ms <= 48 * 60 * m) return "1h";
  return "4h";
}

export function zoomHash(t) {
  const from = t.entry_time_ms, to = t.exit_time_ms || Date.now();
  return `#/chart/${encodeURIComponent(t.symbol)}?interval=${intervalFor(to - from)}&from=${from}&to=${to}`;
}

export default {
  id: "trades",
  title: "Trades",
  selfReady: true,
  mount(root, ctx) {
    const f = ctx.fmt;
    const summary = el("p", { class: "hint", id: "trades-summary" });
    const search = el("input", { type: "search", id: "trades-filter", placeholder: "filter: symbol, side, reason", "aria-label": "filter trades" });
    const table = dataTable({
      id: "trades-table", empty: "no closed trade yet", sort: "exit_time_ms", desc: true,
      rowAttrs: (t) => ({ "data-trade": t.trade_id, class: "clickable", title: "open the chart around this trade",
        onclick: (ev) => { if (!ev.target.closest("a")) ctx.navigate(zoomHash(t)); } }), columns: [
        { key: "exit_time_ms", label: "Closed", cell: (t) => f.time(t.exit_time_ms) },
        { key: "symbol", label: "Symbol" },
        { key: "side", label: "Side", cls: (t) => t.side === "LONG" ? "pos" : "neg" },
        { key: "qty", label: "Qty", cell: (t) => f.num(t.qty, 8) },
        { key: "entry_price", label: "Entry", cell: (t) => f.price(t.entry_price, t.symbol) },
        { key: "exit_price", label: "Exit", cell: (t) => f.price(t.exit_price, t.symbol) },
        { key: "exit_reason", label: "Reason", cell: (t) => t.exit_reason || "–" },
        { key: "duration", label: "Duration", value: (t) => (t.exit_time_ms || 0) - (t.entry_time_ms || 0),
          cell: (t) => f.duration((t.exit_time_ms || 0) - (t.entry_time_ms || 0)) },
        { key: "fees", label: "Fees", cell: (t) => f.money(t.fees, 4) },
        { key: "net_pnl", label: "Net PnL", cell: (t) => f.signed(t.net_pnl), cls: (t) => t.net_pnl > 0 ? "pos" : t.net_pnl < 0 ? "neg" : "" },
        { key: "r_multiple", label: "R", cell: (t) => t.r_multiple === null ? "–" : f.num(t.r_multiple, 2) },
        { key: "zoom", label: "", value: () => 0, cell: (t) => el("a", { href: zoomHash(t), class: "zoom", title: "the trade on the chart" }, "chart") },
      ] });
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      table.setFilter((t) => !q || `${t.symbol} ${t.side} ${t.exit_reason}`.toLowerCase().includes(q));
    });
    root.append(el("section", { class: "card wide" }, el("h2", { text: "Trade history" }), summary,
      el("div", { class: "row" }, search), table.node));
    unsubscribe = ctx.state.subscribe((snap) => {
      const t = snap.trades || { trades: [], count: 0 };
      table.set(t.trades.map((r) => ({ ...r, __id: r.trade_id })));
      summary.textContent = t.count ? `${t.count} trades, net ${f.signed(t.net_pnl)} USDT, ${t.wins} won / ${t.losses} lost` +
        (t.count > t.trades.length ? ` (the last ${t.trades.length} shown)` : "") : "";
      root.dataset.ready = "1";
    });
  },
  unmount() { unsubscribe?.(); unsubscribe = null; },
};
