// Equity and drawdown with uPlot (a line of thousands of points: uPlot draws it in a few ms).
// mount(root, {height}) -> {set(curve), show(answer), destroy()}; curve: [[time_ms, equity], ...] (drawdown in %
// computed here); answer: what GET /api/equity?account=|engine= returns (points, drawdown, max_drawdown), drawn
// with drawdown in % for an account's equity and in USDT for an engine's cumulative PnL.
import { el } from "../api.js";
import { fmtTime } from "../clock.js";
import { fmtMoney, fmtSigned } from "../format.js";

export function drawdown(values) {
  let peak = -Infinity;
  return values.map((v) => { peak = Math.max(peak, v); return peak > 0 ? (v - peak) / peak * 100 : 0; });
}

// Axis labels in the page's one clock, 24-hour: dates when the span is days, else hours and minutes.
export function timeTicks(u, splits) {
  const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
  return splits.map((s) => {
    const t = fmtTime(s * 1000);
    return span > 3 * 86400 ? t.slice(5, 10) : span > 86400 ? t.slice(5, 16) : t.slice(11, 16);
  });
}

// The one line under the chart: where the curve is now, its deepest fall, since when.
export function summaryText(answer) {
  const md = answer.max_drawdown || {};
  const now = answer.relative ? `${fmtMoney(answer.last)} USDT` : `${fmtSigned(answer.last)} USDT net`;
  const depth = answer.relative ? `${Number(md.pct || 0).toFixed(2)} % (${fmtSigned(md.amount || 0)} USDT)`
    : `${fmtSigned(md.amount || 0)} USDT`;
  const when = md.trough_ms ? ` on ${fmtTime(md.trough_ms).slice(0, 16)}` : "";
  const count = answer.series === "engine" ? `${answer.trades} trade(s)` : `${answer.samples} sample(s)`;
  return `now ${now} · max drawdown ${depth}${when} · ${count} since ${fmtTime(answer.first_ms)}`;
}

export function equityChart(root, { height = 240 } = {}) {
  const box = el("div", { class: "chart equity-chart" });
  const note = el("p", { class: "hint", "data-role": "equity-note" });
  root.append(note, box);
  let plot = null, plotMode = "", lastKey = "";
  const width = () => Math.max(260, box.clientWidth);
  const resize = new ResizeObserver(() => { if (plot) plot.setSize({ width: width(), height }); });
  resize.observe(box);

  function empty(text) {
    plot?.destroy(); plot = null; plotMode = "";
    box.replaceChildren(el("p", { class: "msg", text }));
    box.dataset.points = "0";
  }

  // mode "pct": drawdown in % of the peak; "abs": drawdown in USDT below the peak.
  function draw(xs, ys, dd, mode, label) {
    const data = [xs, ys, dd];
    box.dataset.points = String(xs.length);
    box.dataset.last = String(ys[ys.length - 1]);
    if (plot && plotMode === mode + label) { plot.setData(data); return; }
    plot?.destroy();
    plotMode = mode + label;
    box.replaceChildren();
    const ddText = (v) => mode === "pct" ? `${+v.toFixed(2)} %` : fmtMoney(v);
    plot = new window.uPlot({
      width: width(), height,
      series: [{ value: (u, v) => v === null ? "–" : fmtTime(v * 1000) },
        { label, stroke: "#3b82f6", width: 2, scale: "eq", value: (u, v) => v === null ? "–" : fmtMoney(v) },
        { label: mode === "pct" ? "drawdown %" : "drawdown USDT", stroke: "#ef4444", fill: "rgba(239,68,68,.15)", width: 1,
          scale: "dd", value: (u, v) => v === null ? "–" : ddText(v) }],
      scales: { x: { time: true }, eq: { range: (u, min, max) => {
        const pad = Math.max((max - min) * 0.08, Math.abs(max) * 0.0005, 0.01);   // a flat curve stays near its value
        return [min - pad, max + pad];
      } }, dd: { range: (u, min) => [Math.min(min, mode === "pct" ? -0.05 : -0.01) * 3, 0] } },
      axes: [{ stroke: "#8a97a6", grid: { stroke: "#1f2831" }, values: timeTicks },
      { stroke: "#8a97a6", grid: { stroke: "#1f2831" }, size: 70, scale: "eq" },
      { stroke: "#ef4444", side: 1, scale: "dd", size: 66, grid: { show: false }, values: (u, vs) => vs.map(ddText) }],
      legend: { show: true },
    }, data, box);
  }

  function set(curve) {
    curve = curve || [];
    const key = `${curve.length}:${curve.length ? curve[curve.length - 1].join(",") : ""}`;
    if (key === lastKey) return;
    lastKey = key;
    if (!curve.length) { note.textContent = ""; empty("no equity recorded yet"); return; }
    const xs = curve.map((p) => p[0] / 1000), ys = curve.map((p) => Number(p[1]));
    const dd = drawdown(ys);
    const maxDd = Math.min(...dd);
    note.textContent = `now ${fmtMoney(ys[ys.length - 1])} USDT · max drawdown ${maxDd.toFixed(2)} % · since ${fmtTime(curve[0][0])}`;
    draw(xs, ys, dd, "pct", "equity");
  }

  function show(answer) {
    const pts = answer.points || [];
    const key = `${answer.series}:${answer.name}:${pts.length}:${pts.length ? pts[pts.length - 1].join(",") : ""}:${answer.problem}`;
    if (key === lastKey) return;
    lastKey = key;
    box.dataset.series = `${answer.series}:${answer.name}`;
    if (!pts.length) {
      note.textContent = answer.problem ? `not sampled: ${answer.problem}` : "";
      empty(answer.series === "engine" ? "no closed trade of this engine yet" : "no equity sampled for this account yet");
      return;
    }
    note.textContent = summaryText(answer) + (answer.problem ? ` · last sample not taken: ${answer.problem}` : "");
    const mode = answer.relative ? "pct" : "abs";
    const dd = (answer.drawdown || []).map((d) => (mode === "pct" ? (d[2] ?? 0) : d[1]));
    draw(pts.map((p) => p[0] / 1000), pts.map((p) => Number(p[1])), dd, mode, answer.relative ? "equity" : "net PnL");
  }

  return { set, show, destroy() { resize.disconnect(); plot?.destroy(); plot = null; } };
}
