// Talking to the dashboard: JSON requests with the CSRF header, WebSockets that reconnect by themselves.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (csrf) opts.headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  if (resp.status === 401) { location.href = "/login"; throw new ApiError(401, {}); }
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// A WebSocket that reconnects with backoff; onStatus(true|false) tells the page whether it is live.
export function liveSocket(path, { onMessage, onStatus }) {
  let delay = 500, socket = null, closed = false;
  const url = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path()}`;
  function open() {
    socket = new WebSocket(url());
    socket.onopen = () => { delay = 500; onStatus && onStatus(true); };
    socket.onmessage = (ev) => { try { onMessage(JSON.parse(ev.data)); } catch (e) { console.error(e); } };
    socket.onclose = () => {
      onStatus && onStatus(false);
      if (!closed) setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  open();
  return {
    send: (obj) => socket && socket.readyState === 1 && socket.send(JSON.stringify(obj)),
    reopen: () => { if (socket) socket.close(); },
    close: () => { closed = true; if (socket) socket.close(); },
  };
}

// Build DOM without innerHTML: every value from the server is text, never markup.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function fmtNum(v, digits = 4) {
  if (v === null || v === undefined || v === "") return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  return Math.abs(n) >= 1000 ? n.toLocaleString(undefined, { maximumFractionDigits: 2 })
    : n.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function fmtTime(ms) {
  if (!ms) return "–";
  const d = new Date(Number(ms));
  return d.toLocaleString(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit" });
}

export function fmtAge(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function fillRows(tbody, rows, columns, emptyText) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { class: "empty", colspan: String(columns), text: emptyText })));
    return;
  }
  for (const cells of rows) tbody.append(el("tr", {}, ...cells.map((c) => c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));
}

// Generic view of an object whose exact shape belongs to another component (policy, hints, scan).
export function renderAny(value, depth = 0) {
  if (value === null || value === undefined) return el("span", { class: "msg", text: "–" });
  if (Array.isArray(value)) {
    if (value.length && value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))].slice(0, 10);
      return el("table", {}, el("tr", {}, ...keys.map((k) => el("th", { text: k }))),
        ...value.slice(0, 100).map((v) => el("tr", {}, ...keys.map((k) => el("td", {}, scalar(v[k], k))))));
    }
    return el("span", { text: value.map(scalar).join(", ") });
  }
  if (typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return el("span", { class: "msg", text: "none yet" });
    const allObjects = entries.every(([, v]) => v && typeof v === "object" && !Array.isArray(v));
    if (allObjects && depth === 0 && entries.length > 1) {
      const keys = [...new Set(entries.flatMap(([, v]) => Object.keys(v)))].slice(0, 10);
      return el("table", {}, el("tr", {}, el("th", {}), ...keys.map((k) => el("th", { text: k }))),
        ...entries.slice(0, 200).map(([name, v]) => el("tr", {}, el("th", { text: name }),
          ...keys.map((k) => el("td", {}, scalar(v[k], k))))));
    }
    return el("table", {}, ...entries.map(([k, v]) => el("tr", {}, el("th", { text: k }),
      el("td", {}, v && typeof v === "object" && depth < 2 ? renderAny(v, depth + 1) : scalar(v, k)))));
  }
  return el("span", { text: scalar(value) });
}

function scalar(v, key = "") {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number" && /(_ms|time)$/.test(key) && v > 1e12) return fmtTime(v);
  if (typeof v === "number") return fmtNum(v);
  if (typeof v === "object") return JSON.stringify(v).slice(0, 200);
  return String(v);
}
