// Engine instances: state and controls per instance, add an instance, edit an instance's own settings.
// Reads /api/engines; acts through /api/engines/<name>/<action>. Mounted by the Overview page.
import { api, el } from "../api.js";
import { fmtAge } from "../format.js";

const REFRESH_MS = 2000;

function stateCell(proc) {
  const state = proc ? proc.state : "unknown";
  return el("td", {}, el("span", { class: `pill st-${state}`, text: state }),
    proc && proc.adopted ? el("span", { class: "hint", text: " adopted" }) : null);
}

function accountsText(accounts) {
  const entries = Object.entries(accounts || {});
  if (!entries.length) return "–";          // a kind that trades nothing (the recorder)
  return entries.length === 1 ? entries[0][1] : entries.map(([role, acc]) => `${role}: ${acc}`).join(", ");
}

export default {
  mount(root, ctx = {}) {
    this.root = root;
    this.msg = el("span", { class: "msg", role: "status" });
    this.tbody = el("tbody");
    this.problem = el("div", { class: "messages" });
    this.editor = el("div", { class: "engine-editor" });
    this.form = el("form", { class: "row", "aria-label": "add an engine instance" });
    root.replaceChildren(
      el("h2", {}, "Engines", el("small", { text: "instances from engines.json" })),
      this.problem,
      el("div", { class: "table-scroll" }, el("table", { class: "table engines-table" },
        el("thead", {}, el("tr", {}, ...["Instance", "Kind", "Account", "Guard", "State", "Uptime", ""].map(
          (t) => el("th", { text: t })))), this.tbody)),
      this.msg, this.form, this.editor);
    this.navigate = ctx.navigate || ((hash) => { location.hash = hash; });
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  },

  unmount() { clearInterval(this.timer); },

  async refresh() {
    let data;
    try { data = await api("GET", "/api/engines"); } catch (e) { this.msg.textContent = `engines: ${e.message}`; return; }
    this.data = data;
    this.problem.replaceChildren(...(data.problem ? [el("div", { text: data.problem })] : []));
    this.tbody.replaceChildren(...data.instances.map((inst) => this.row(inst)));
    if (!this.form.childElementCount) this.buildForm();
  },

  row(inst) {
    const proc = inst.process;
    const running = proc && (proc.state === "running" || proc.state === "stopping");
    const act = (action) => el("button", { class: "small", type: "button", disabled: action === "start" ? running : !running,
      "data-action": action, "data-instance": inst.name, onclick: () => this.act(inst.name, action) }, action);
    return el("tr", { "data-instance": inst.name },
      el("td", {}, el("a", { href: inst.page, text: inst.name })),
      el("td", { text: inst.title }), el("td", { text: accountsText(inst.accounts) }), el("td", { text: inst.guard }),
      stateCell(proc), el("td", { text: running ? fmtAge(proc.uptime_s) : "–" }),
      el("td", { class: "actions" }, act("start"), act("stop"), act("restart"),
        el("button", { class: "small", type: "button", onclick: () => this.edit(inst.name) }, "settings")));
  },

  async act(name, action) {
    this.msg.className = "msg"; this.msg.textContent = `${action} ${name}…`;
    try {
      const out = await api("POST", `/api/engines/${encodeURIComponent(name)}/${action}`);
      this.msg.className = "msg ok"; this.msg.textContent = `${name}: ${out.status.state}`;
    } catch (e) { this.msg.className = "msg err"; this.msg.textContent = `${name}: ${e.message}`; }
    this.refresh();
  },

  buildForm() {
    const kinds = this.data.kinds;
    const name = el("input", { name: "name", placeholder: "name (e.g. scan2)", required: true, size: "12" });
    const kind = el("select", { name: "kind" }, ...kinds.map((k) => el("option", { value: k.name, text: k.title })));
    const roles = el("span", { class: "row" });
    const drawRoles = () => {
      const k = kinds.find((x) => x.name === kind.value);
      // a kind's exclusive settings (the recorder's SYMBOLS) are asked for here: two instances may not share them
      const own = (k.exclusive || []).map((n) => k.settings.find((f) => f.name === n)).filter(Boolean);
      roles.replaceChildren(...k.account_roles.map((role) => el("label", {}, `${role} `,
        el("select", { name: `account-${role}`, "data-role": role },
          ...this.data.accounts.map((a) => el("option", { value: a, text: a }))))),
        ...own.map((f) => el("label", {}, `${f.name} `, el("input", { name: `setting-${f.name}`, "data-setting": f.name,
          size: "16", placeholder: f.allowed, title: f.description }))));
    };
    kind.addEventListener("change", drawRoles);
    if (kinds.some((k) => k.name === "scanner")) kind.value = "scanner";   // the default kind first, whatever the order
    drawRoles();
    this.form.replaceChildren(name, kind, roles, el("button", { type: "submit" }, "Add instance"));
    this.form.onsubmit = async (ev) => {
      ev.preventDefault();
      const accounts = {};
      roles.querySelectorAll("select").forEach((s) => { accounts[s.dataset.role] = s.value; });
      const settings = {};
      roles.querySelectorAll("input[data-setting]").forEach((i) => { if (i.value.trim()) settings[i.dataset.setting] = i.value.trim(); });
      try {
        await api("POST", "/api/engines", { name: name.value.trim(), kind: kind.value, accounts, settings });
        this.msg.className = "msg ok"; this.msg.textContent = `added ${name.value}`;
        name.value = "";
      } catch (e) { this.msg.className = "msg err"; this.msg.textContent = e.message; }
      this.refresh();
    };
  },

  async edit(name) {
    let inst;
    try { inst = await api("GET", `/api/engines/${encodeURIComponent(name)}`); } catch (e) { this.msg.textContent = e.message; return; }
    const search = el("input", { type: "search", placeholder: "search settings", "aria-label": "search settings" });
    const rows = inst.settings.map((f) => {
      const input = el("input", { name: f.name, value: f.value === null ? "" : String(f.value),
        placeholder: f.value === null ? "(flat setting)" : "", title: f.allowed, size: "14" });
      input.dataset.initial = input.value;
      return { f, input, node: el("div", { class: "field" }, el("span", { class: "name", text: f.name }),
        input, el("span", { class: "hint", text: `${f.description} (${f.source})` })) };
    });
    const list = el("div", {}, ...rows.map((r) => r.node));
    search.addEventListener("input", () => {
      const q = search.value.toLowerCase();
      rows.forEach((r) => { r.node.hidden = q && !(`${r.f.name} ${r.f.description}`.toLowerCase().includes(q)); });
    });
    const note = el("span", { class: "msg", role: "status" });
    const save = el("button", { class: "primary", type: "button" }, `Save ${name}`);
    save.onclick = async () => {
      const settings = { ...inst.overrides };
      for (const r of rows) {
        if (r.input.value === r.input.dataset.initial) continue;
        if (r.input.value === "") delete settings[r.f.name]; else settings[r.f.name] = r.input.value;
      }
      try {
        const out = await api("PATCH", `/api/engines/${encodeURIComponent(name)}`, { settings });
        note.className = "msg ok";
        note.textContent = out.restart_needed ? "saved; restart the instance to apply" : "saved";
      } catch (e) { note.className = "msg err"; note.textContent = e.message; }
    };
    this.editor.replaceChildren(el("h3", { text: `${name}: settings of its own` }), search, list,
      el("div", { class: "row sticky" }, save, note));
  },
};
