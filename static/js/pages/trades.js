// #/trades: the trade history with paging, filters (engine, account, symbol, side, reason, dates), a CSV
// link with the same filters, and a click on a row opening the chart around the trade.
import { el } from "../api.js";
import { fmtOf } from "../widgets/format.js";

const PAGE_SIZES = [25, 50, 100, 250];
const FACETS = [["engine", "Engine"], ["account", "Account"], ["symbol", "Symbol"], ["side", "Side"], ["reason", "Reason"]];
const FACET_KEY = { reason: "exit_reason" };
let state = null;

function query(s, withPaging) {
  const q = new URLSearchParams();
  for (const [name] of FACETS) if (s.filters[name]) q.set(name, s.filters[name]);
  if (s.filters.from) q.set("start_ms", String(Date.parse(s.filters.from + "T00:00:00Z")));
  if (s.filters.to) q.set("end_ms", String(Date.parse(s.filters.to + "T00:00:00Z") + 86400000));
  if (withPaging) { q.set("offset", String(s.offset)); q.set("limit", String(s.limit)); }
  return q.toString();
}

// The chart interval that shows a trade of this length in a few dozen candles.
export function intervalFor(ms) {
  const m = 60_000;
  if (!ms || ms <= 60 * m) return "1m";
  if (ms <= 5 * 60 * m) return "5m";
  if (ms <= 15 * 60 * m) return "15m";
  if (ms <= 48 * 60 * m) return "1h";
  return "4h";
}

function chartHash(r) {
  const start = r.entry_time_ms || r.exit_time_ms, end = r.exit_time_ms || r.entry_time_ms || Date.now();
  const pad = Math.max(5 * 60000, Math.round((end - start) * 0.1));
  return `#/chart/${encodeURIComponent(r.symbol)}?interval=${intervalFor(end - start)}&from=${start - pad}&to=${end + pad}`;
}

function row(r, s) {
  const { fmt } = s;
  const net = r.net_pnl;
  return el("tr", { class: "clickable", "data-trade": r.trade_id, title: "open the chart around this trade",
    onclick: () => s.ctx.navigate(chartHash(r)) },
  el("td", { text: fmt.time(r.exit_time_ms) }), el("td", { text: r.symbol }), el("td", { text: r.side }),
  el("td", { text: fmt.num(r.qty, 6) }), el("td", { text: fmt.num(r.entry_price, 6) }),
  el("td", { text: fmt.num(r.exit_price, 6) }), el("td", { text: r.exit_reason || "–" }),
  el("td", { text: fmt.duration(r.duration_s) }), el("td", { text: fmt.num(r.fees, 4) }),
  el("td", { text: fmt.num(r.funding, 4) }), el("td", { class: net < 0 ? "neg" : "pos", text: fmt.num(net, 4) }),
  el("td", { text: r.r_multiple === null || r.r_multiple === undefined ? "–" : Number(r.r_multiple).toFixed(2) }),
  el("td", { text: r.engine }), el("td", { text: r.account }));
}

function select(name, label, values, s) {
  const sel = el("select", { name, "aria-label": label, onchange: (e) => { s.filters[name] = e.target.value; s.offset = 0; load(); } },
    el("option", { value: "", text: `${label}: all` }), ...values.map((v) => el("option", { value: v, text: v })));
  sel.value = s.filters[name] || "";
  return sel;
}

function renderFilters(s, facets) {
  const date = (name, label) => el("input", { type: "date", name, "aria-label": label, value: s.filters[name] || "",
    onchange: (e) => { s.filters[name] = e.target.value; s.offset = 0; load(); } });
  const size = el("select", { name: "limit", "aria-label": "rows per page", onchange: (e) => { s.limit = Number(e.target.value); s.offset = 0; load(); } },
    ...PAGE_SIZES.map((n) => el("option", { value: String(n), text: `${n} / page` })));
  size.value = String(s.limit);
  s.csv = el("a", { href: `/api/trades.csv?${query(s, false)}`, download: "mraster_trades.csv", "data-role": "csv" }, "CSV");
  s.filterBar.replaceChildren(...FACETS.map(([name, label]) => select(name, label, facets[FACET_KEY[name] || name] || [], s)),
    date("from", "exit from (UTC)"), date("to", "exit to (UTC)"), size, s.csv);
}

async function load() {
  const s = state;
  if (!s) return;
  try {
    const page = await s.ctx.api("GET", `/api/trades?${query(s, true)}`);
    if (state !== s) return;
    const facets = JSON.stringify(page.facets || {});
    if (facets !== s.facets) { s.facets = facets; renderFilters(s, page.facets || {}); }
    s.body.replaceChildren(...(page.trades.length ? page.trades.map((r) => row(r, s))
      : [el("tr", {}, el("td", { class: "empty", colspan: "14", text: "no closed trade matches" }))]));
    const last = Math.min(page.total, s.offset + page.trades.length);
    s.summary.textContent = `${page.total ? s.offset + 1 : 0}–${last} of ${page.total} · net ${s.fmt.num(page.net_pnl, 2)} USDT`
      + ` · ${page.wins} won / ${page.losses} lost · fees ${s.fmt.num(page.fees, 2)} · funding ${s.fmt.num(page.funding, 2)}`;
    s.csv.href = `/api/trades.csv?${query(s, false)}`;
    s.prev.disabled = s.offset <= 0;
    s.next.disabled = last >= page.total;
  } catch (e) {
    s.summary.textContent = `trades not loaded: ${e.message}`;
  }
}

export default {
  id: "trades",
  title: "Trades",
  mount(root, ctx, params = {}) {
    const s = { ctx, fmt: fmtOf(ctx), offset: 0, limit: 50, filters: { ...(params || {}) } };
    s.filterBar = el("div", { class: "filters", "data-role": "trade-filters" });
    s.body = el("tbody");
    s.summary = el("p", { class: "msg", "data-role": "trades-summary" });
    s.prev = el("button", { onclick: () => { s.offset = Math.max(0, s.offset - s.limit); load(); } }, "‹ Newer");
    s.next = el("button", { onclick: () => { s.offset += s.limit; load(); } }, "Older ›");
    const head = ["Exit (UTC)", "Symbol", "Side", "Qty", "Entry", "Exit", "Reason", "Duration", "Fees", "Funding", "Net PnL",
      "R", "Engine", "Account"];
    root.replaceChildren(el("h2", { text: "Trades" }), s.filterBar, el("div", { class: "table-scroll" },
      el("table", { class: "table", "data-widget": "trades" }, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { text: h })))),
        s.body)), el("div", { class: "pager" }, s.prev, " ", s.next), s.summary);
    state = s;
    s.timer = setInterval(load, params.interval || 5000);
    load();
  },
  unmount() {
    if (state) clearInterval(state.timer);
    state = null;
  },
};
