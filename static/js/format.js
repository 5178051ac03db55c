// Numbers for humans: prices to the symbol's tick, money to the cent, fractions as percent, durations.
// Times come from clock.js (the one clock). `fmt` is what pages get as ctx.fmt.
import { fmtTime, fmtDate, fmtClock, zone, zoneLabel, setZone, onZoneChange } from "./clock.js";

const ticks = new Map();   // symbol -> decimals of its tick size (filled from /api/market/symbols)

export function setTicks(rows) {
  for (const r of rows || []) ticks.set(r.symbol, decimalsOf(r.tick_size));
}

export function decimalsOf(step) {
  const text = String(step ?? "");
  if (!text || Number(text) <= 0) return null;
  const [, frac = ""] = Number(text).toFixed(12).split(".");
  const trimmed = frac.replace(/0+$/, "");
  return trimmed.length;
}

export function tickDecimals(symbol) { return ticks.get(symbol) ?? null; }

const dash = (v) => v === null || v === undefined || v === "" || (typeof v === "number" && !Number.isFinite(v));

export function fmtNum(v, digits = 4) {
  if (dash(v)) return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return n.toLocaleString("en-US", { maximumFractionDigits: Math.abs(n) >= 1000 ? Math.min(2, digits) : digits });
}

// A price with the symbol's tick decimals; without a known tick, up to 6 significant decimals.
export function fmtPrice(v, symbol) {
  if (dash(v)) return "–";
  const n = Number(v);
  const d = symbol ? tickDecimals(symbol) : null;
  if (d !== null) return n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  const digits = Math.abs(n) >= 1000 ? 2 : Math.abs(n) >= 1 ? 4 : 6;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function fmtMoney(v, digits = 2) {
  if (dash(v)) return "–";
  return Number(v).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtSigned(v, digits = 2) {
  if (dash(v)) return "–";
  const n = Number(v);
  return (n > 0 ? "+" : "") + fmtMoney(n, digits);
}

// 0.0123 -> "1.23 %"
export function fmtPct(fraction, digits = 2) {
  if (dash(fraction)) return "–";
  return `${(Number(fraction) * 100).toFixed(digits)} %`;
}

export function fmtAge(s) {
  if (dash(s)) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function fmtDuration(ms) {
  if (dash(ms) || ms < 0) return "–";
  const s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

// Terminal colour codes never reach the page as text.
export function stripAnsi(text) {
  return String(text ?? "").replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, "").replace(/\x1b\][^\x07]*\x07/g, "");
}

export const fmt = {
  num: fmtNum, price: fmtPrice, money: fmtMoney, signed: fmtSigned, pct: fmtPct, age: fmtAge,
  duration: fmtDuration, time: fmtTime, date: fmtDate, clock: fmtClock, zone, zoneLabel, setZone, onZoneChange,
  tickDecimals, setTicks,
};
