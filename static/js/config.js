// Settings: presets with a diff before applying, the two default-mode sliders, the pro-mode editor with
// inline validation (the same rules as the server's schema; the server's 422 messages land on the field).
import { api, el, fmtNum } from "./api.js";

const $ = (sel) => document.querySelector(sel);
let ctx = null;            // { refreshState, confirmDialog, flash }
let schema = null;         // { fields: [...], groups: [...] }
let current = {};          // name -> { value, source, overridden }
let pendingRestart = {};   // process -> [settings]
const dirty = new Map();   // name -> raw value typed by the user
const SYMBOL = /^[A-Z0-9]{2,30}$/;

// ------------------------------------------------------------------ validation (mirrors FieldSpec.parse)
export function validate(field, raw) {
  const t = field.type;
  const text = typeof raw === "string" ? raw.trim() : raw;
  const range = () => {
    const n = Number(text);
    if (field.min !== null && n < field.min) return `below the minimum: expected ${field.allowed}`;
    if (field.max !== null && n > field.max) return `above the maximum: expected ${field.allowed}`;
    return "";
  };
  if (t === "int") {
    if (!/^[+-]?\d+$/.test(String(text))) return `expected ${field.allowed}`;
    return range();
  }
  if (t === "float") {
    if (text === "" || !Number.isFinite(Number(text))) return `expected ${field.allowed}`;
    return range();
  }
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

// ------------------------------------------------------------------ restart banner
export function showRestartBanner(needs, processes) {
  const running = Object.entries(needs || {}).filter(([p]) => p !== "dashboard" &&
    processes && processes[p] && ["running", "stopping"].includes(processes[p].state));
  const dash = (needs || {}).dashboard;
  for (const [p, names] of running) pendingRestart[p] = [...new Set([...(pendingRestart[p] || []), ...names])];
  const parts = Object.entries(pendingRestart).map(([p, names]) => `${p} (${names.join(", ")})`);
  if (dash) parts.push(`the dashboard itself: stop it and start it again by hand (${dash.join(", ")})`);
  if (!parts.length) return;
  $("#restart-text").textContent = "Saved. These changes apply after a restart of: " + parts.join("; ");
  $("#restart-now").hidden = !Object.keys(pendingRestart).length;
  $("#restart-banner").hidden = false;
}

function initRestartBanner() {
  $("#restart-now").addEventListener("click", async () => {
    for (const p of ["paper", "guard", "bot"].filter((p) => pendingRestart[p])) {
      try { await api("POST", `/api/${p}/restart`); } catch (e) { alert(`restart ${p}: ${e.message}`); }
    }
    pendingRestart = {};
    $("#restart-banner").hidden = true;
    ctx.refreshState();
  });
  $("#restart-dismiss").addEventListener("click", () => { $("#restart-banner").hidden = true; });
}

async function afterSave(result) {
  const state = await api("GET", "/api/processes");
  showRestartBanner(result.needs_restart, state.processes);
  await loadConfig();
  loadAudit();
}

// ------------------------------------------------------------------ presets and sliders
async function loadPresets() {
  const data = await api("GET", "/api/presets");
  const box = $("#preset-buttons");
  box.replaceChildren(...data.presets.map((p) => el("button", {
    "data-preset": p.name, class: data.active === p.name ? "selected" : "", title: p.description,
    onclick: () => previewPreset(p),
  }, p.title)));
  $("#preset-active").textContent = data.active ? `(${data.active} in effect)` : "(custom)";
  $("#preset-desc").textContent = data.presets.map((p) => `${p.title}: ${p.description}`).join("  ");
}

async function previewPreset(preset) {
  const diff = await api("POST", `/api/presets/${preset.name}/preview`);
  const body = diff.changes.length ? el("table", { class: "table", id: "preset-diff" },
    el("tr", {}, el("th", { text: "Setting" }), el("th", { text: "Now" }), el("th", { text: "After" }), el("th", { text: "Applies" })),
    ...diff.changes.map((c) => el("tr", {}, el("td", { class: "mono", text: c.name }), el("td", { text: String(c.current) }),
      el("td", { text: String(c.new) }), el("td", { text: c.live ? "live" : "after restart" }))))
    : el("p", { text: "Every setting of this preset is already in effect." });
  const ok = await ctx.confirmDialog(`Apply the ${preset.title} preset?`, el("div", {},
    el("p", { class: "hint", text: preset.description }), body), "Apply");
  if (!ok) return;
  try {
    const result = await api("POST", `/api/presets/${preset.name}/apply`);
    ctx.flash($("#sliders-msg"), `${preset.title} applied (${result.changed.length} settings changed)`);
    await afterSave(result);
    loadPresets();
  } catch (e) { ctx.flash($("#sliders-msg"), e.message, false); }
}

function syncSliders() {
  const risk = Number(current.ASTER_RISK_PER_TRADE?.value ?? 0.007) * 100;
  const lev = Number(current.ASTER_LEVERAGE?.value ?? 3);
  $("#risk-slider").value = String(Math.min(5, Math.max(0.25, risk)));
  $("#lev-slider").value = String(Math.min(5, Math.max(1, lev)));
  sliderMoved = { risk: false, lev: false };   // Save sends only what was moved: a stored value outside
  showSliderValues();                          // the slider's range is never overwritten by its clamp
  if (risk > 5 || risk < 0.25) $("#risk-value").textContent += ` (now ${risk.toFixed(2)} %, set in pro mode)`;
  if (lev > 5) $("#lev-value").textContent += ` (now ${lev}x, set in pro mode)`;
}
let sliderMoved = { risk: false, lev: false };

function showSliderValues() {
  $("#risk-value").textContent = `${Number($("#risk-slider").value).toFixed(2)} %`;
  $("#lev-value").textContent = `${$("#lev-slider").value}x`;
}

function initSliders() {
  $("#risk-slider").addEventListener("input", () => { sliderMoved.risk = true; showSliderValues(); });
  $("#lev-slider").addEventListener("input", () => { sliderMoved.lev = true; showSliderValues(); });
  $("#sliders-save").addEventListener("click", async () => {
    const risk = Math.round(Number($("#risk-slider").value) * 100) / 10000;   // percent -> fraction
    const lev = Math.min(5, Math.round(Number($("#lev-slider").value)));     // default mode never above 5x
    const body = {};
    if (sliderMoved.risk) body.ASTER_RISK_PER_TRADE = risk;
    if (sliderMoved.lev) body.ASTER_LEVERAGE = lev;
    if (!Object.keys(body).length) { ctx.flash($("#sliders-msg"), "nothing changed"); return; }
    try {
      const result = await api("PATCH", "/api/config", body);
      const warned = (result.warnings || []).length ? ` (${result.warnings.join("; ")})` : "";
      ctx.flash($("#sliders-msg"), (result.changed.length ? "saved" : "nothing changed") + warned);
      await afterSave(result);
      loadPresets();
    } catch (e) {   // the guard-rails' reasons (422) are per setting
      const reasons = e.body && e.body.errors ? Object.values(e.body.errors).join("; ") : e.message;
      ctx.flash($("#sliders-msg"), `not saved: ${reasons}`, false);
    }
  });
}

// ------------------------------------------------------------------ the pro-mode editor
function inputFor(field, entry) {
  const id = `cfg-${field.name}`;
  const common = { id, name: field.name, "data-type": field.type };
  if (field.type === "bool") {
    return el("input", { ...common, type: "checkbox", checked: entry.value === true });
  }
  if (field.type === "choice") {
    return el("select", common, ...field.choices.map((c) => el("option", { value: c, selected: c === entry.value }, c)));
  }
  if (field.secret) {
    return el("input", { ...common, type: "password", autocomplete: "new-password",
      placeholder: entry.value ? "set (type to replace)" : "not set" });
  }
  const attrs = { ...common, type: "text", value: entry.value === null ? "" : String(entry.value) };
  if (field.type === "int" || field.type === "float") attrs.inputmode = "decimal";
  return el("input", attrs);
}

function rawOf(input, field) {
  if (field.type === "bool") return input.checked;
  return input.value;
}

function buildEditor() {
  const form = $("#config-form");
  form.replaceChildren();
  for (const group of schema.groups) {
    const fields = schema.fields.filter((f) => f.group === group);
    if (!fields.length) continue;
    const set = el("fieldset", { "data-group": group }, el("legend", { text: group }));
    for (const field of fields) {
      const entry = current[field.name] || { value: field.default, source: "default" };
      const input = inputFor(field, entry);
      if (field.env_only) {   // set by the operator in .env or the environment only
        input.disabled = true;
        input.title = "set in .env or the environment, not from the page";
      }
      const error = el("div", { class: "err", id: `err-${field.name}` });
      const range = field.min !== null || field.max !== null ? `range ${field.min ?? "−∞"} to ${field.max ?? "∞"}` : "";
      const meta = [field.unit && `unit: ${field.unit}`, `default: ${field.secret ? "empty" : JSON.stringify(field.default)}`,
        range, `from ${entry.source}`].filter(Boolean).join(" · ");
      const row = el("div", { class: "field", "data-field": field.name },
        el("div", {}, el("label", { for: input.id, class: "name", text: field.name }),
          el("span", { class: `tag ${field.live ? "live" : "restart"}`, text: field.live ? "live" : "restart" }),
          entry.overridden ? el("span", { class: "tag src", text: `set by ${entry.source}` }) : null),
        input,
        el("div", {}, el("div", { class: "desc", text: field.description }), el("div", { class: "meta", text: meta })),
        error);
      const onChange = () => {
        const raw = rawOf(input, field);
        const original = entry.value;
        const same = field.secret ? raw === "" : (field.type === "bool" ? raw === original : String(raw) === String(original ?? ""));
        if (same) dirty.delete(field.name); else dirty.set(field.name, raw);
        const message = same || (field.secret && raw === "") ? "" : validate(field, raw);
        error.textContent = message;
        input.classList.toggle("invalid", Boolean(message));
        row.classList.toggle("dirty", !same);
        updateSaveButton();
      };
      input.addEventListener("input", onChange);
      input.addEventListener("change", onChange);
      set.append(row);
    }
    form.append(set);
  }
  updateSaveButton();
}

function updateSaveButton() {
  const invalid = [...document.querySelectorAll("#config-form .invalid")].length;
  $("#config-save").disabled = !dirty.size || invalid > 0;
  $("#config-msg").textContent = invalid ? `${invalid} value(s) need fixing; nothing is saved until then` :
    dirty.size ? `${dirty.size} unsaved change(s)` : "";
  $("#config-msg").className = "msg" + (invalid ? " err" : "");
}

function typed(field, raw) {
  if (field.type === "int") return parseInt(raw, 10);
  if (field.type === "float") return Number(raw);
  return raw;
}

async function saveEditor() {
  const fields = Object.fromEntries(schema.fields.map((f) => [f.name, f]));
  const body = Object.fromEntries([...dirty].map(([name, raw]) => [name, typed(fields[name], raw)]));
  try {
    const result = await saveWithConfirmation(body);
    if (!result) { ctx.flash($("#config-msg"), "not saved: the new venue address was not confirmed", false); return; }
    dirty.clear();
    await afterSave(result);  // rebuilds the editor, so the message comes after it
    ctx.flash($("#config-msg"), `saved ${result.changed.length} change(s)` +
      (result.warnings.length ? "; " + result.warnings.join("; ") : ""), !result.warnings.length);
    loadPresets();
  } catch (e) {
    if (e.status === 422 && e.body.errors) {
      for (const [name, message] of Object.entries(e.body.errors)) {
        const err = document.getElementById(`err-${name}`);
        const input = document.getElementById(`cfg-${name}`);
        if (err) err.textContent = message;
        if (input) input.classList.add("invalid");
      }
      ctx.flash($("#config-msg"), "not saved: " + Object.values(e.body.errors).join("; "), false);
    } else {
      ctx.flash($("#config-msg"), "not saved: " + e.message, false);
    }
  }
}

// A venue address on a host outside the known list comes back 409: the page names the host and
// saves only after an explicit confirmation (orders, signed requests and the API key would go there).
async function saveWithConfirmation(body) {
  try {
    return await api("PATCH", "/api/config", body);
  } catch (e) {
    if (e.status !== 409 || !e.body.confirm_hosts) throw e;
    const hosts = [...new Set(Object.values(e.body.confirm_hosts))];
    const ok = await ctx.confirmDialog("Send orders and keys to an unknown host?", el("div", { id: "confirm-hosts" },
      el("p", { text: "Not a known venue address:" }),
      el("ul", {}, ...Object.entries(e.body.confirm_hosts).map(([name, host]) =>
        el("li", {}, el("span", { class: "mono", text: name }), " → ", el("strong", { text: host })))),
      el("p", { class: "hint", text: "Orders, signed requests and the API key would go there. Save only if you " +
        "typed this address yourself and trust it." })), "Save anyway");
    if (!ok) return null;
    return await api("PATCH", "/api/config", { ...body, _confirm_hosts: hosts });
  }
}

async function loadConfig() {
  const data = await api("GET", "/api/config");
  current = data.values;
  dirty.clear();
  if (schema) buildEditor();
  syncSliders();
}

async function loadAudit() {
  const data = await api("GET", "/api/config/audit?limit=20");
  const body = $("#audit-table tbody");
  body.replaceChildren(...data.entries.map((e) => el("tr", {}, el("td", { text: e.ts }), el("td", { text: e.who }),
    el("td", { text: e.action }), el("td", { text: e.changes.map((c) => `${c.name}: ${c.old} → ${c.new}`).join(", ") }))));
}

export async function initConfig(context) {
  ctx = context;
  initRestartBanner();
  initSliders();
  $("#config-save").addEventListener("click", (ev) => { ev.preventDefault(); saveEditor(); });
  $("#config-reset").addEventListener("click", (ev) => { ev.preventDefault(); loadConfig(); });
  $("#config-form").addEventListener("submit", (ev) => ev.preventDefault());
  schema = await api("GET", "/api/config/schema");
  await loadConfig();
  await loadPresets();
  loadAudit();
  document.body.dataset.configReady = "1";
}

export { fmtNum };
