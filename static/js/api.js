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

export function fillRows(tbody, rows, columns, emptyText) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { class: "empty", colspan: String(columns), text: emptyText })));
    return;
  }
  for (const cells of rows) tbody.append(el("tr", {}, ...cells.map((c) => c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));
}

// A two-column table of a flat object: keys as labels, values as text (nested objects as short JSON).
export function kvTable(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return el("p", { class: "msg", text: "none yet" });
  return el("table", { class: "kv-table" }, ...entries.map(([k, v]) => el("tr", {}, el("th", { text: k }),
    el("td", {}, v instanceof Node ? v : typeof v === "object" && v !== null ? JSON.stringify(v).slice(0, 300) : String(v ?? "–")))));
}

// Tables scroll inside their own box, never the page (no horizontal overflow at 390 px).
export function scrollBox(...children) { return el("div", { class: "table-wrap" }, ...children); }
