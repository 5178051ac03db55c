// Equity and drawdown with uPlot (a line of thousands of points: uPlot draws it in a few ms).
// mount(root, {height}) -> {set(curve), destroy()}; curve: [[time_ms, equity], ...].
import { el } from "../api.js";
import { fmtTime } from "../clock.js";
import { fmtMoney } from "../format.js";

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

export function equityChart(root, { height = 240 } = {}) {
  const box = el("div", { class: "chart equity-chart" });
  const note = el("p", { class: "hint" });
  root.append(note, box);
  let plot = null, lastLen = -1;
  const width = () => Math.max(260, box.clientWidth);
  const resize = new ResizeObserver(() => { if (plot) plot.setSize({ width: width(), height }); });
  resize.observe(box);

  function set(curve) {
    curve = curve || [];
    if (curve.length === lastLen) return;
    lastLen = curve.length;
    if (!curve.length) {
      plot?.destroy(); plot = null;
      box.replaceChildren(el("p", { class: "msg", text: "no equity recorded yet" }));
      note.textContent = "";
      return;
    }
    const xs = curve.map((p) => p[0] / 1000), ys = curve.map((p) => Number(p[1]));
    const dd = drawdown(ys);
    const maxDd = Math.min(...dd);
    note.textContent = `now ${fmtMoney(ys[ys.length - 1])} USDT · max drawdown ${maxDd.toFixed(2)} % · since ${fmtTime(curve[0][0])}`;
    const data = [xs, ys, dd];
    if (plot) { plot.setData(data); return; }
    box.replaceChildren();
    plot = new window.uPlot({
      width: width(), height,
      series: [{ value: (u, v) => v === null ? "–" : fmtTime(v * 1000) },
        { label: "equity", stroke: "#3b82f6", width: 2, scale: "eq", value: (u, v) => v === null ? "–" : fmtMoney(v) },
        { label: "drawdown %", stroke: "#ef4444", fill: "rgba(239,68,68,.15)", width: 1, scale: "dd",
          value: (u, v) => v === null ? "–" : v.toFixed(2) + " %" }],
      scales: { x: { time: true }, eq: { range: (u, min, max) => {
        const pad = Math.max((max - min) * 0.08, Math.abs(max) * 0.0005, 0.01);   // a flat curve stays near its value
        return [min - pad, max + pad];
      } }, dd: { range: (u, min) => [Math.min(min, -0.05) * 3, 0] } },
      axes: [{ stroke: "#8a97a6", grid: { stroke: "#1f2831" }, values: timeTicks },
      { stroke: "#8a97a6", grid: { stroke: "#1f2831" }, size: 70, scale: "eq" },
      { stroke: "#ef4444", side: 1, scale: "dd", size: 66, grid: { show: false }, values: (u, vs) => vs.map((v) => `${+v.toFixed(2)} %`) }],
      legend: { show: true },
    }, data, box);
  }

  return { set, destroy() { resize.disconnect(); plot?.destroy(); plot = null; } };
}
