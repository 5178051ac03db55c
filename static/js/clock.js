// The one clock of the page: every time is shown through here, in one zone (UTC unless the user chose
// local time, remembered in localStorage) and in 24-hour ISO format (2026-12-05 07:15:57).
const KEY = "mraster.clock";
const listeners = new Set();

export function zone() { return localStorage.getItem(KEY) === "local" ? "local" : "UTC"; }

export function setZone(z) {
  localStorage.setItem(KEY, z === "local" ? "local" : "UTC");
  for (const fn of listeners) fn(zone());
}

export function onZoneChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

const pad = (n, w = 2) => String(n).padStart(w, "0");

function toDate(t) {
  if (t === null || t === undefined || t === "" || t === 0) return null;
  const d = typeof t === "number" ? new Date(t) : new Date(String(t));
  return Number.isNaN(d.getTime()) ? null : d;
}

function parts(d) {
  return zone() === "local"
    ? [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()]
    : [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(),
      d.getUTCMilliseconds()];
}

// 2026-12-05 07:15:57 (ms since the epoch or an ISO string; "–" when unknown)
export function fmtTime(t, { ms = false } = {}) {
  const d = toDate(t);
  if (!d) return "–";
  const [y, mo, da, h, mi, s, milli] = parts(d);
  return `${y}-${pad(mo)}-${pad(da)} ${pad(h)}:${pad(mi)}:${pad(s)}${ms ? "." + pad(milli, 3) : ""}`;
}

export function fmtDate(t) { return fmtTime(t).slice(0, 10); }

// 07:15:57 (or 07:15:57.123): for feeds where the date is obvious
export function fmtClock(t, { ms = false } = {}) {
  const full = fmtTime(t, { ms });
  return full === "–" ? full : full.slice(11);
}

// The zone's name for headers and tooltips: "UTC" or "local (UTC+01:00)"
export function zoneLabel() {
  if (zone() === "UTC") return "UTC";
  const off = -new Date().getTimezoneOffset();
  return `local (UTC${off >= 0 ? "+" : "−"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)})`;
}
