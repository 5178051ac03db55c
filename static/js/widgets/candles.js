// Candles with volume, entry/exit markers and price lines, drawn by the vendored TradingView
// lightweight-charts (static/vendor/lightweight-charts). Times are drawn by the page's one clock.
import {
  createChart, CandlestickSeries, HistogramSeries, createSeriesMarkers, LineStyle,
} from "../../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { fmtTime } from "../clock.js";

const COLORS = { up: "#22c55e", down: "#ef4444", text: "#dce3ea", grid: "#1f2831", bg: "#171e26" };
const LINE_STYLE = {
  entry: { color: "#3b82f6", lineStyle: LineStyle.Solid },
  stop: { color: "#ef4444", lineStyle: LineStyle.Dashed },
  take_profit: { color: "#22c55e", lineStyle: LineStyle.Dashed },
  liquidation: { color: "#f59e0b", lineStyle: LineStyle.Solid },
};

// The open time of the candle that contains t (candles sorted by time, in seconds); null when outside.
export function barTime(times, t) {
  if (!times.length || t < times[0]) return null;
  let lo = 0, hi = times.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (times[mid] <= t) lo = mid; else hi = mid - 1;
  }
  return times[lo];
}

export function candleChart(container, { precision = null, tick = null } = {}) {
  const chart = createChart(container, {
    autoSize: true,
    layout: { background: { color: COLORS.bg }, textColor: COLORS.text, fontSize: 12 },
    grid: { vertLines: { color: COLORS.grid }, horzLines: { color: COLORS.grid } },
    timeScale: {
      timeVisible: true, secondsVisible: false, borderColor: COLORS.grid,
      tickMarkFormatter: (time, type) => {
        const t = fmtTime(time * 1000);
        return type <= 1 ? t.slice(0, 7) : type === 2 ? t.slice(5, 10) : t.slice(11, 16);
      },
    },
    rightPriceScale: { borderColor: COLORS.grid },
    localization: { timeFormatter: (time) => fmtTime(time * 1000).slice(0, 16) },
  });
  const priceFormat = precision !== null ? { type: "price", precision, minMove: tick || Math.pow(10, -precision) } : undefined;
  let inView = [];   // prices the price scale must include: an open position's entry, stop and take-profit
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderVisible: false, wickUpColor: COLORS.up, wickDownColor: COLORS.down,
    ...(priceFormat ? { priceFormat } : {}),
    autoscaleInfoProvider: (original) => {
      const res = original();
      if (!res || !res.priceRange || !inView.length) return res;
      return { ...res, priceRange: { minValue: Math.min(res.priceRange.minValue, ...inView),
        maxValue: Math.max(res.priceRange.maxValue, ...inView) } };
    },
  });
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
  const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol", lastValueVisible: false,
    priceLineVisible: false });
  chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  const markerApi = createSeriesMarkers(candles, []);
  let lines = [], times = [];

  return {
    chart,
    // rows: [[open_time_ms, open, high, low, close, volume], ...]
    setCandles(rows) {
      const bars = rows.map((r) => ({ time: Math.floor(r[0] / 1000), open: +r[1], high: +r[2], low: +r[3], close: +r[4] }));
      times = bars.map((b) => b.time);
      candles.setData(bars);
      volume.setData(rows.map((r, i) => ({ time: bars[i].time, value: +r[5],
        color: +r[4] >= +r[1] ? "rgba(34,197,94,.35)" : "rgba(239,68,68,.35)" })));
      container.dataset.candles = String(bars.length);
    },
    // markers: [{kind: "entry"|"exit", time_ms, price, side, reason}]
    setMarkers(markers) {
      const shown = [];
      for (const m of markers) {
        const t = barTime(times, Math.floor(m.time_ms / 1000));
        if (t === null) continue;
        const long = m.side === "LONG";
        shown.push(m.kind === "entry"
          ? { time: t, position: long ? "belowBar" : "aboveBar", color: long ? COLORS.up : COLORS.down,
            shape: long ? "arrowUp" : "arrowDown", text: long ? "long" : "short" }
          : { time: t, position: long ? "aboveBar" : "belowBar", color: "#f59e0b", shape: "circle",
            text: m.reason ? `exit ${m.reason}` : "exit" });
      }
      shown.sort((a, b) => a.time - b.time);
      markerApi.setMarkers(shown);
      container.dataset.markers = String(shown.length);
    },
    // levels: [{kind: "entry"|"stop"|"take_profit"|"liquidation", price, title}]
    setLines(levels) {
      for (const l of lines) candles.removePriceLine(l);
      const valid = levels.filter((l) => Number.isFinite(Number(l.price)) && Number(l.price) > 0);
      lines = valid.map((l) => candles.createPriceLine({
        price: Number(l.price), lineWidth: 1, axisLabelVisible: true, title: l.title || l.kind, ...(LINE_STYLE[l.kind] || {}) }));
      // the stop and take-profit always in view; the liquidation price too when it is near (else it would squash the candles)
      const last = candles.data().length ? candles.data()[candles.data().length - 1].close : null;
      inView = valid.filter((l) => l.kind !== "liquidation" || (last && Math.abs(Number(l.price) / last - 1) < 0.15))
        .map((l) => Number(l.price));
      container.dataset.lines = String(lines.length);
    },
    zoom(fromMs, toMs) {
      if (fromMs && toMs && times.length) {
        const pad = Math.max((toMs - fromMs) / 1000 * 0.5, (times[1] - times[0] || 60) * 10);
        chart.timeScale().setVisibleRange({ from: Math.max(times[0], fromMs / 1000 - pad), to: Math.min(times[times.length - 1], toMs / 1000 + pad) });
      } else {
        chart.timeScale().fitContent();
      }
      const range = chart.timeScale().getVisibleRange();
      if (range) { container.dataset.from = String(range.from); container.dataset.to = String(range.to); }
    },
    destroy() { chart.remove(); },
  };
}
