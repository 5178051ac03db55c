// Settings: presets and sliders (widgets/presets.js) with the real risk per trade beside them
// (widgets/sizing.js), then every setting: search, groups, a human label
// beside each variable, percent for fractions, inline validation, a diff before saving, and a save bar
// that stays in reach. The server's per-field 422 messages land on the field.
import { el } from "../api.js";
import presets from "../widgets/presets.js";
import sizing from "../widgets/sizing.js";
import { humanLabel, isPercent, rangeText, shown, typed, unitText, validate } from "../settings-fields.js";

let cleanup = [];

export default {
  id: "settings",
  selfReady: true,
  title: "Settings",
  mount(root, ctx) {
    let schema = null, current = {}, saving = false;
    const dirty = new Map();   // name -> raw value typed
    const sizingRoot = el("section", { class: "card", id: "presets-card" });
    const search = el("input", { type: "search", id: "settings-search", placeholder: "search: name, label or description",
      "aria-label": "search the settings" });
    const groups = el("div", { class: "chips", id: "settings-groups" });
    const onlyChanged = el("input", { type: "checkbox", id: "settings-changed" });
    const form = el("form", { id: "config-form", novalidate: true });
    const save = el("button", { id: "config-save", class: "primary", disabled: true, type: "button" }, "Review and save…");
    const reset = el("button", { id: "config-reset", type: "button" }, "Discard changes");
    const msg = el("span", { id: "config-msg", class: "msg" });
    const audit = el("tbody");
    const presetsNode = el("div");
    const sizingNode = el("div", { id: "sizing-widget" });
    sizingRoot.append(presetsNode, el("h3", { text: "Risk per trade in money" }), sizingNode);
    root.append(el("div", { class: "grid" }, sizingRoot,
      el("section", { class: "card", id: "audit-card" }, el("h2", { text: "Recent setting changes" }),
        el("div", { class: "table-wrap" }, el("table", { class: "table", id: "audit-table" },
          el("thead", {}, el("tr", {}, ...["When", "Who", "Action", "Changes"].map((h) => el("th", { text: h })))), audit))),
      el("section", { class: "card wide", id: "editor-card" },
        el("h2", {}, "Every setting ", el("small", { text: "“live” ones reach a running bot at its next cycle" })),
        el("div", { class: "row toolbar" }, search, el("label", {}, onlyChanged, " only changed from default")), groups, form,
        el("div", { class: "savebar", id: "save-bar" }, save, reset, msg))));
    presets.mount(presetsNode, ctx, {});
    sizing.mount(sizingNode, ctx, {});

    function entryOf(field) { return current[field.name] || { value: field.default, source: "default" }; }

    function inputFor(field, entry) {
      const common = { id: `cfg-${field.name}`, name: field.name, "data-type": field.type };
      if (field.type === "bool") return el("input", { ...common, type: "checkbox", checked: entry.value === true });
      if (field.type === "choice") return el("select", common, ...field.choices.map((c) => el("option", { value: c, selected: c === entry.value }, c)));
      if (field.secret) return el("input", { ...common, type: "password", autocomplete: "new-password", placeholder: entry.value ? "set (type to replace)" : "not set" });
      const attrs = { ...common, type: "text", value: field.type === "float" || field.type === "int" ? shown(field, entry.value) : entry.value ?? "" };
      if (field.type === "int" || field.type === "float") attrs.inputmode = "decimal";
      return el("input", attrs);
    }

    function build() {
      form.replaceChildren();
      groups.replaceChildren(...schema.groups.filter((g) => schema.fields.some((f) => f.group === g)).map((g) =>
        el("a", { href: `#/settings`, "data-group": g, onclick: (ev) => { ev.preventDefault(); form.querySelector(`fieldset[data-group='${g}']`)?.scrollIntoView({ block: "start" }); } }, g)));
      for (const group of schema.groups) {
        const fields = schema.fields.filter((f) => f.group === group);
        if (!fields.length) continue;
        const set = el("fieldset", { "data-group": group }, el("legend", { text: group }));
        for (const field of fields) {
          const entry = entryOf(field);
          const input = inputFor(field, entry);
          if (field.env_only) { input.disabled = true; input.title = "set in .env or the environment, not from the page"; }
          const error = el("div", { class: "err", id: `err-${field.name}` });
          const unit = unitText(field);
          const dflt = field.secret ? "empty" : field.type === "float" && isPercent(field) ? `${shown(field, field.default)} %` : JSON.stringify(field.default);
          const meta = [unit && `unit: ${unit}`, `default: ${dflt}`, rangeText(field), `from ${entry.source}`].filter(Boolean).join(" · ");
          const label = humanLabel(field.name);
          const row = el("div", { class: "field", "data-field": field.name, "data-search": `${field.name} ${label} ${field.description} ${group}`.toLowerCase(),
            "data-default": entry.source === "default" ? "1" : "0" },
            el("div", { class: "names" }, el("label", { for: input.id, class: "label", text: label }),
              el("span", { class: "name", text: field.name }),
              el("span", { class: `tag ${field.live ? "live" : "restart"}`, text: field.live ? "live" : "restart" }),
              entry.overridden ? el("span", { class: "tag src", text: `set by ${entry.source}` }) : null),
            el("div", { class: "input" }, input, isPercent(field) ? el("span", { class: "unit", text: "%" }) : null),
            el("div", {}, el("div", { class: "desc", text: field.description }), el("div", { class: "meta", text: meta })),
            error);
          const onChange = () => {
            const raw = field.type === "bool" ? input.checked : input.value;
            const was = field.type === "bool" ? entry.value : field.secret ? "" : field.type === "float" || field.type === "int" ? shown(field, entry.value) : String(entry.value ?? "");
            const same = field.type === "bool" ? raw === was : String(raw).trim() === String(was);
            if (same) dirty.delete(field.name); else dirty.set(field.name, raw);
            const message = same || (field.secret && raw === "") ? "" : validate(field, raw);
            error.textContent = message;
            input.classList.toggle("invalid", Boolean(message));
            row.classList.toggle("dirty", !same);
            updateBar();
          };
          input.addEventListener("input", onChange);
          input.addEventListener("change", onChange);
          set.append(row);
        }
        form.append(set);
      }
      applySearch();
      updateBar();
    }

    function applySearch() {
      const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      for (const set of form.querySelectorAll("fieldset")) {
        let visible = 0;
        for (const row of set.querySelectorAll(".field")) {
          const hit = words.every((w) => row.dataset.search.includes(w)) && (!onlyChanged.checked || row.dataset.default === "0" || row.classList.contains("dirty"));
          row.hidden = !hit;
          visible += hit ? 1 : 0;
        }
        set.hidden = !visible;
      }
    }

    function updateBar() {
      const invalid = form.querySelectorAll(".invalid").length;
      save.disabled = !dirty.size || invalid > 0;
      msg.textContent = invalid ? `${invalid} value(s) need fixing; nothing is saved until then` : dirty.size ? `${dirty.size} unsaved change(s)` : "";
      msg.className = "msg" + (invalid ? " err" : "");
    }

    const fieldsByName = () => Object.fromEntries(schema.fields.map((f) => [f.name, f]));

    function diffTable(body) {
      const fields = fieldsByName();
      return el("div", { class: "table-wrap" }, el("table", { class: "table", id: "save-diff" },
        el("tr", {}, el("th", { text: "Setting" }), el("th", { text: "Now" }), el("th", { text: "" }), el("th", { text: "After" }), el("th", { text: "Applies" })),
        ...Object.entries(body).map(([name, value]) => {
          const f = fields[name];
          const show = (v) => f.secret ? (v ? "********" : "not set") : isPercent(f) ? `${shown(f, v)} %` : JSON.stringify(v);
          return el("tr", { "data-name": name }, el("td", {}, el("div", { text: humanLabel(name) }), el("div", { class: "mono small", text: name })),
            el("td", { text: show(entryOf(f).value) }), el("td", { text: "→" }), el("td", { text: show(value) }),
            el("td", { text: f.live ? "live" : "after restart" }));
        })));
    }

    async function saveAll() {
      const fields = fieldsByName();
      const body = Object.fromEntries([...dirty].map(([name, raw]) => [name, typed(fields[name], raw)]));
      if (!(await ctx.confirm(`Save ${Object.keys(body).length} change(s)?`, diffTable(body), "Save"))) {
        ctx.flash(msg, "not saved (cancelled)", false);
        return;
      }
      saving = true;
      try {
        const result = await saveWithConfirmation(body);
        if (!result) { ctx.flash(msg, "not saved: the new venue address was not confirmed", false); return; }
        dirty.clear();
        await ctx.afterSave(result);
        await load();
        ctx.flash(msg, `saved ${result.changed.length} change(s)` + (result.warnings.length ? "; " + result.warnings.join("; ") : ""), !result.warnings.length);
      } catch (e) {
        if (e.status === 422 && e.body.errors) {
          for (const [name, message] of Object.entries(e.body.errors)) {
            const err = document.getElementById(`err-${name}`), input = document.getElementById(`cfg-${name}`);
            if (err) err.textContent = message;
            if (input) input.classList.add("invalid");
          }
          ctx.flash(msg, "not saved: " + Object.values(e.body.errors).join("; "), false);
        } else {
          ctx.flash(msg, "not saved: " + e.message, false);
        }
      } finally { saving = false; }
    }

    // A venue address on a host outside the known list comes back 409: the page names the host and saves
    // only after an explicit confirmation (orders, signed requests and the API key would go there).
    async function saveWithConfirmation(body) {
      try {
        return await ctx.api("PATCH", "/api/config", body);
      } catch (e) {
        if (e.status !== 409 || !e.body.confirm_hosts) throw e;
        const hosts = [...new Set(Object.values(e.body.confirm_hosts))];
        const ok = await ctx.confirm("Send orders and keys to an unknown host?", el("div", { id: "confirm-hosts" },
          el("p", { text: "Not a known venue address:" }),
          el("ul", {}, ...Object.entries(e.body.confirm_hosts).map(([name, host]) =>
            el("li", {}, el("span", { class: "mono", text: name }), " → ", el("strong", { text: host })))),
          el("p", { class: "hint", text: "Orders, signed requests and the API key would go there. Save only if you typed this address yourself and trust it." })),
        "Save anyway");
        if (!ok) return null;
        return await ctx.api("PATCH", "/api/config", { ...body, _confirm_hosts: hosts });
      }
    }

    async function loadAudit() {
      const data = await ctx.api("GET", "/api/config/audit?limit=20");
      if (!data.entries.length) { audit.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: "4", text: "no change saved yet" }))); return; }
      audit.replaceChildren(...data.entries.map((e) => el("tr", {}, el("td", { text: ctx.fmt.time(e.ts) }), el("td", { text: e.who }),
        el("td", { text: e.action }), el("td", { text: e.changes.map((c) => `${c.name}: ${c.old} → ${c.new}`).join(", ") }))));
    }

    async function load() {
      current = (await ctx.api("GET", "/api/config")).values;
      dirty.clear();
      build();
      loadAudit();
    }

    save.addEventListener("click", saveAll);
    reset.addEventListener("click", load);
    form.addEventListener("submit", (ev) => ev.preventDefault());
    search.addEventListener("input", applySearch);
    onlyChanged.addEventListener("change", applySearch);
    const onSaved = () => { sizing.refresh?.(); if (!saving && !dirty.size) load(); };
    window.addEventListener("mraster:config-saved", onSaved);
    ctx.api("GET", "/api/config/schema").then(async (s) => { schema = s; await load(); root.dataset.ready = "1"; document.body.dataset.configReady = "1"; });
    cleanup = [() => presets.unmount(), () => sizing.unmount(), () => window.removeEventListener("mraster:config-saved", onSaved)];
  },
  unmount() { cleanup.forEach((fn) => fn()); cleanup = []; },
};
