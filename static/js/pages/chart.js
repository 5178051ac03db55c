// Chart: candles with volume for any symbol and interval the venue has, entries and exits, and the stop,
// take-profit, entry and liquidation lines of an open position. #/chart/<SYMBOL>?interval=5m[&from=ms&to=ms]
// zooms to a time range (the Trades page links each trade here).
import { el } from "../api.js";
import { candleChart } from "../widgets/candles.js";
import { decimalsOf, setTicks } from "../format.js";

const INTERVAL_MS = { "1m": 6e4, "3m": 18e4, "5m": 3e5, "15m": 9e5, "30m": 18e5, "1h": 36e5, "2h": 72e5, "4h": 144e5,
  "6h": 216e5, "8h": 288e5, "12h": 432e5, "1d": 864e5, "3d": 2592e5, "1w": 6048e5, "1M": 2592e6 };
const REFRESH_MS = 15_000;
let cleanup = [];

export function defaultSymbol(snap) {
  return snap?.positions?.[0]?.symbol || snap?.trades?.trades?.[0]?.symbol || "BTCUSDT";
}

// How many candles to ask for: the trade's span plus room either side (the venue gives at most 1,500).
export function candlesFor(interval, fromMs, toMs) {
  if (!fromMs || !toMs) return 500;
  const span = Math.ceil((toMs - fromMs) / (INTERVAL_MS[interval] || 3e5));
  return Math.min(1500, Math.max(200, span * 3 + 100));
}

export function levelsFor(snap, symbol) {
  const out = [];
  for (const p of (snap?.positions || []).filter((p) => p.symbol === symbol)) {
    const side = p.side === "SHORT" ? "short" : "long";
    out.push({ kind: "entry", price: p.entry_price, title: `${side} entry` });
    out.push({ kind: "stop", price: p.stop_price ?? p.guard_stop_price, title: "stop" });
    out.push({ kind: "take_profit", price: p.take_profit_price ?? p.guard_take_profit_price, title: "take-profit" });
    out.push({ kind: "liquidation", price: p.liquidation_price, title: "liquidation" });
  }
  return out;
}

export default {
  id: "chart",
  selfReady: true,
  title: "Chart",
  mount(root, ctx, params) {
    const query = params.query || {};
    const symbol = (params.arg || defaultSymbol(ctx.state.get())).toUpperCase();
    const interval = query.interval || "5m";
    const from = Number(query.from) || null, to = Number(query.to) || null;
    if (!params.arg) history.replaceState(null, "", `#/chart/${symbol}?interval=${interval}`);

    const symbolInput = el("input", { id: "chart-symbol", list: "chart-symbols", value: symbol, "aria-label": "symbol",
      autocomplete: "off", spellcheck: "false", size: "12" });
    const list = el("datalist", { id: "chart-symbols" });
    const intervalSelect = el("select", { id: "chart-interval", "aria-label": "interval" },
      ...Object.keys(INTERVAL_MS).map((i) => el("option", { value: i, selected: i === interval }, i)));
    const fit = el("button", { type: "button", id: "chart-fit", title: "show every loaded candle" }, "Fit");
    const note = el("small", { id: "chart-note", class: "msg" });
    const box = el("div", { id: "price-chart", class: "candles" });
    const go = () => {
      const s = symbolInput.value.trim().toUpperCase();
      if (/^[A-Z0-9]{2,30}$/.test(s)) ctx.navigate(`#/chart/${encodeURIComponent(s)}?interval=${intervalSelect.value}`);
      else ctx.flash(note, `${s || "(empty)"} is not a symbol`, false);
    };
    symbolInput.addEventListener("change", go);
    intervalSelect.addEventListener("change", go);
    root.append(el("section", { class: "card wide chart-card" },
      el("div", { class: "row toolbar" }, el("h2", { text: "Chart" }), symbolInput, list, intervalSelect, fit, note),
      box, el("p", { class: "hint", text: "Arrows: entries (up long, down short); circles: exits. Lines: entry, stop, take-profit and liquidation of an open position." })));

    let chart = null, timer = null, alive = true, lastSnap = ctx.state.get(), markers = [];
    const draw = async (first) => {
      let data;
      const limit = candlesFor(interval, from, to);
      const end = to ? `&end=${Math.round(to + (INTERVAL_MS[interval] || 3e5) * limit / 3)}` : "";
      try { data = await ctx.api("GET", `/api/chart/${encodeURIComponent(symbol)}?interval=${interval}&limit=${limit}${end}`); }
      catch (e) { ctx.flash(note, e.message, false); root.dataset.ready = "1"; return; }
      if (!alive) return;
      note.textContent = data.problem ? `candles unavailable: ${data.problem}` :
        `${data.candles.length} candles · times ${ctx.fmt.zoneLabel()}`;
      note.className = "msg" + (data.problem ? " err" : "");
      chart.setCandles(data.candles);
      markers = data.markers;
      chart.setMarkers(markers);
      chart.setLines(levelsFor(lastSnap, symbol));
      if (first) chart.zoom(from, to);
      box.dataset.ready = "1";
      root.dataset.ready = "1";
    };

    ctx.api("GET", "/api/market/symbols").catch(() => ({ symbols: [] })).then((r) => {
      if (!alive) return;
      setTicks(r.symbols);
      list.replaceChildren(...(r.symbols || []).map((s) => el("option", { value: s.symbol })));
      const rule = (r.symbols || []).find((s) => s.symbol === symbol);
      const precision = rule ? decimalsOf(rule.tick_size) : null;
      chart = candleChart(box, { precision, tick: rule ? Number(rule.tick_size) : null });
      fit.addEventListener("click", () => chart.zoom(null, null));
      draw(true);
      if (!to) timer = setInterval(() => { if (!document.hidden) draw(false); }, REFRESH_MS);
    });
    const unsubscribe = ctx.state.subscribe((snap) => {
      const before = JSON.stringify(levelsFor(lastSnap, symbol));
      lastSnap = snap;
      if (chart && box.dataset.ready && JSON.stringify(levelsFor(snap, symbol)) !== before) chart.setLines(levelsFor(snap, symbol));
    });
    cleanup = [unsubscribe, () => { alive = false; clearInterval(timer); chart?.destroy(); }];
  },
  unmount() { cleanup.forEach((fn) => fn()); cleanup = []; },
};
