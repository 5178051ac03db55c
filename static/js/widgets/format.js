// Formatting shared by the truth widgets: one clock (UTC, 24-hour ISO), plain numbers.
export function num(v, digits = 4) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  const d = Math.abs(n) >= 1000 ? 2 : digits;
  return n.toLocaleString("en-US", { maximumFractionDigits: d, useGrouping: Math.abs(n) >= 10000 });
}

export function pct(v, digits = 2) {
  return v === null || v === undefined ? "–" : `${Number(v).toFixed(digits)} %`;
}

export function utc(ms) {
  if (!ms) return "–";
  return new Date(Number(ms)).toISOString().replace("T", " ").slice(0, 19) + "Z";
}

export function duration(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(Number(s)));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  return m ? `${m}m ${s % 60}s` : `${s}s`;
}

export function fmtOf(ctx) {
  const f = (ctx && ctx.fmt) || {};
  return { num: f.num || num, time: f.time || utc, pct, duration };
}
