// What the settings editor shows for a field: a human label beside the variable name, percent for
// fractions (the stored value stays a fraction), and the same validation rules as the server's schema.
const WORDS = { RSI: "RSI", ATR: "ATR", HTF: "higher-timeframe", TP: "take-profit", SL: "stop-loss", URL: "URL", WS: "WebSocket",
  API: "API", USDT: "USDT", BPS: "", MS: "(ms)", SEC: "(s)", PCT: "%", TLS: "TLS", HTTP: "HTTP", DB: "database", ID: "id",
  V3: "V3", FASTTP: "FastTP", AI: "AI", R: "R", S: "S", M: "M", L: "L", MIN: "min", MAX: "max", QTY: "quantity", LOGLEVEL: "log level",
  PNL: "PnL", EMA: "EMA", SMA: "SMA", KLINE: "candle", KLINES: "candles", MULT: "multiplier", LEV: "leverage" };
const LABELS = {
  ASTER_SPREAD_BPS_MAX: "Max spread (of the mid price)", ASTER_RISK_PER_TRADE: "Risk per trade", ASTER_LEVERAGE: "Leverage",
  ASTER_PAPER: "Paper trading", ASTER_INTERVAL: "Candle interval", ASTER_HTF_INTERVAL: "Higher-timeframe interval",
};

export function humanLabel(name) {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/^ASTER_/, "").split("_").filter(Boolean)
    .map((w) => (w in WORDS ? WORDS[w] : w.toLowerCase())).filter(Boolean);
  const text = words.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const isPercent = (field) => field.type === "float" && /^fraction/.test(field.unit || "");

const round12 = (x) => Number(Number(x).toPrecision(12));

// stored fraction -> what the input shows (percent)
export function shown(field, value) {
  if (value === null || value === undefined || value === "") return "";
  return isPercent(field) ? String(round12(Number(value) * 100)) : String(value);
}

// what the user typed -> the value sent to the server
export function typed(field, raw) {
  if (field.type === "int") return parseInt(raw, 10);
  if (field.type === "float") return isPercent(field) ? round12(Number(raw) / 100) : Number(raw);
  return raw;
}

export function unitText(field) {
  if (isPercent(field)) return `% (stored as a ${field.unit})`;
  return field.unit || "";
}

export function rangeText(field) {
  if (field.min === null && field.max === null) return "";
  if (field.type === "symbols") return `${field.min ?? 0} to ${field.max ?? "any number of"} symbols`;
  const f = (v) => (v === null ? null : isPercent(field) ? `${round12(v * 100)} %` : String(v));
  return `range ${f(field.min) ?? "−∞"} to ${f(field.max) ?? "∞"}`;
}

const SYMBOL = /^[A-Z0-9]{2,30}$/;

// The same rules as FieldSpec.parse; numbers are checked after the percent is turned back into a fraction.
export function validate(field, raw) {
  const t = field.type;
  const text = typeof raw === "string" ? raw.trim() : raw;
  const range = () => {
    const n = typed(field, text);
    if (field.min !== null && n < field.min) return `below the minimum: expected ${rangeText(field).replace("range ", "")}`;
    if (field.max !== null && n > field.max) return `above the maximum: expected ${rangeText(field).replace("range ", "")}`;
    return "";
  };
  if (t === "int") return /^[+-]?\d+$/.test(String(text)) ? range() : `expected ${field.allowed}`;
  if (t === "float") return text === "" || !Number.isFinite(Number(text)) ? `expected a number${isPercent(field) ? " (in %)" : ""}` : range();
  if (t === "bool") return typeof raw === "boolean" ? "" : "expected true or false";
  if (t === "choice") return field.choices.includes(text) ? "" : `expected ${field.allowed}`;
  if (t === "symbols") {
    const bad = String(text).split(",").map((s) => s.trim().toUpperCase()).filter((s) => s && !SYMBOL.test(s));
    return bad.length ? `${bad[0]} is not a symbol` : "";
  }
  if (t === "names") {
    const names = String(text).split(",").map((s) => s.trim().toLowerCase()).filter((s) => s);
    if (!names.length || (names.length === 1 && names[0] === "all")) return "";
    const bad = names.filter((n) => !field.choices.includes(n));
    return bad.length ? `unknown: ${bad.join(", ")}` : "";
  }
  if (t === "url") return /^(https?|wss?):\/\/[^\s/]+/.test(String(text)) ? "" : `expected ${field.allowed}`;
  if (t === "path") return String(text) ? "" : `expected ${field.allowed}`;
  return "";
}
