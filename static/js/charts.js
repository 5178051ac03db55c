// Equity curve and price chart with entries and exits, drawn with the vendored uPlot (static/vendor/uplot).
import { api } from "./api.js";

const $ = (sel) => document.querySelector(sel);
let equityPlot = null, pricePlot = null, chosen = "", lastEquityLen = -1, priceTimer = null;

function width(node) { return Math.max(300, node.clientWidth - 4); }

function makePlot(node, series, data) {
  // uPlot is loaded by a classic <script> tag as a global
  const opts = { width: width(node), height: 240, series, scales: { x: { time: true } },
    axes: [{ stroke: "#8a97a6", grid: { stroke: "#1f2831" } }, { stroke: "#8a97a6", grid: { stroke: "#1f2831" }, size: 70 }],
    legend: { show: true } };
  node.replaceChildren();
  return new window.uPlot(opts, data, node);
}

function drawEquity(curve) {
  const node = $("#equity-chart");
  if (!curve.length) {
    node.textContent = "no equity recorded yet";
    equityPlot = null; lastEquityLen = 0;
    $("#equity-note").textContent = "";
    return;
  }
  const xs = curve.map((p) => p[0] / 1000), ys = curve.map((p) => p[1]);
  $("#equity-note").textContent = `${ys[ys.length - 1].toFixed(2)} USDT`;
  if (equityPlot && lastEquityLen > 0) { equityPlot.setData([xs, ys]); lastEquityLen = curve.length; return; }
  equityPlot = makePlot(node, [{}, { label: "equity", stroke: "#3b82f6", width: 2 }], [xs, ys]);
  lastEquityLen = curve.length;
}

function markerSeries(candles, markers, pick) {
  // markers sit on the candle that contains their time; null elsewhere (uPlot draws points only)
  const out = new Array(candles.length).fill(null);
  for (const m of markers.filter(pick)) {
    let i = candles.findIndex((c) => c[0] > m.time_ms) - 1;
    if (i < 0) i = m.time_ms >= candles[candles.length - 1][0] ? candles.length - 1 : -1;
    if (i >= 0) out[i] = m.price;
  }
  return out;
}

const point = (color, size) => ({ paths: () => null, points: { show: true, size, stroke: color, fill: color, width: 2 } });

async function drawPrice() {
  const node = $("#price-chart");
  if (!chosen) { node.textContent = "no symbol yet"; return; }
  let data;
  try { data = await api("GET", `/api/chart/${encodeURIComponent(chosen)}?interval=5m&limit=200`); }
  catch (e) { $("#price-note").textContent = e.message; return; }
  $("#price-note").textContent = data.problem ? `(candles unavailable: ${data.problem})` : "";
  const candles = data.candles;
  if (!candles.length) {
    node.textContent = data.markers.length ? `${data.markers.length} entries/exits, but no candles to draw them on` : "no candles";
    pricePlot = null;
    return;
  }
  const xs = candles.map((c) => c[0] / 1000);
  const series = [xs, candles.map((c) => c[4]),
    markerSeries(candles, data.markers, (m) => m.kind === "entry" && m.side === "LONG"),
    markerSeries(candles, data.markers, (m) => m.kind === "entry" && m.side === "SHORT"),
    markerSeries(candles, data.markers, (m) => m.kind === "exit")];
  pricePlot = makePlot(node, [{}, { label: `${chosen} close`, stroke: "#dce3ea", width: 1 },
    { label: "long entry", ...point("#22c55e", 9) }, { label: "short entry", ...point("#ef4444", 9) },
    { label: "exit", ...point("#f59e0b", 7) }], series);
}

function symbolsOf(snap) {
  const set = new Set();
  for (const p of snap.positions) set.add(p.symbol);
  for (const t of snap.trades.trades) set.add(t.symbol);
  return [...set];
}

export function updateCharts(snap) {
  const curve = snap.equity_curve || [];
  if (curve.length !== lastEquityLen) drawEquity(curve);
  const select = $("#chart-symbol");
  const symbols = symbolsOf(snap);
  if (!symbols.length) symbols.push("BTCUSDT");
  const have = [...select.options].map((o) => o.value);
  if (symbols.join() !== have.join()) {
    select.replaceChildren(...symbols.map((s) => new Option(s, s, false, s === chosen)));
  }
  if (!chosen || !symbols.includes(chosen)) {
    chosen = symbols[0];
    select.value = chosen;
    drawPrice();
  }
}

export function initCharts() {
  $("#chart-symbol").addEventListener("change", (ev) => { chosen = ev.target.value; drawPrice(); });
  priceTimer = setInterval(() => { if (!document.hidden) drawPrice(); }, 15000);
  window.addEventListener("resize", () => {
    for (const [plot, node] of [[equityPlot, "#equity-chart"], [pricePlot, "#price-chart"]]) {
      if (plot) plot.setSize({ width: width($(node)), height: 240 });
    }
  });
}
