// Presets (with their diff before applying) and the risk/leverage sliders of the Settings page; the real
// risk after every cap is shown next to them by widgets/sizing.js.
import { el } from "../api.js";

let cleanup = [];

export default {
  mount(root, ctx) {
    const active = el("small", { id: "preset-active" });
    const buttons = el("div", { class: "row", id: "preset-buttons" });
    const desc = el("p", { class: "hint", id: "preset-desc" });
    const risk = el("input", { type: "range", id: "risk-slider", min: "0.25", max: "5", step: "0.05", "aria-label": "risk per trade" });
    const lev = el("input", { type: "range", id: "lev-slider", min: "1", max: "5", step: "1", "aria-label": "leverage" });
    const riskValue = el("b", { id: "risk-value" }), levValue = el("b", { id: "lev-value" });
    const save = el("button", { id: "sliders-save" }, "Save risk and leverage");
    const msg = el("span", { id: "sliders-msg", class: "msg" });
    root.append(el("h2", {}, "Preset ", active), buttons, desc,
      el("div", { class: "slider" }, el("label", { for: "risk-slider" }, "Risk per trade ", riskValue), risk),
      el("div", { class: "slider" }, el("label", { for: "lev-slider" }, "Leverage ", levValue), lev),
      el("div", { class: "row" }, save, msg));

    const show = () => { riskValue.textContent = `${Number(risk.value).toFixed(2)} %`; levValue.textContent = `${lev.value}x`; };
    async function loadValues() {
      const values = (await ctx.api("GET", "/api/config")).values;
      const r = Number(values.ASTER_RISK_PER_TRADE?.value ?? 0.007) * 100, l = Number(values.ASTER_LEVERAGE?.value ?? 3);
      risk.value = String(Math.min(5, Math.max(0.25, r)));
      lev.value = String(Math.min(5, Math.max(1, l)));
      show();
      if (l > 5) levValue.textContent += ` (now ${l}x, set in the editor below)`;
    }
    async function loadPresets() {
      const data = await ctx.api("GET", "/api/presets");
      buttons.replaceChildren(...data.presets.map((p) => el("button", {
        "data-preset": p.name, class: data.active === p.name ? "selected" : "", title: p.description, onclick: () => preview(p),
      }, p.title)));
      active.textContent = data.active ? `(${data.active} in effect)` : "(custom)";
      desc.textContent = data.presets.map((p) => `${p.title}: ${p.description}`).join("  ");
    }
    async function preview(preset) {
      const diff = await ctx.api("POST", `/api/presets/${preset.name}/preview`);
      const body = diff.changes.length ? el("div", { class: "table-wrap" }, el("table", { class: "table", id: "preset-diff" },
        el("tr", {}, el("th", { text: "Setting" }), el("th", { text: "Now" }), el("th", { text: "After" }), el("th", { text: "Applies" })),
        ...diff.changes.map((c) => el("tr", {}, el("td", { class: "mono", text: c.name }), el("td", { text: String(c.current) }),
          el("td", { text: String(c.new) }), el("td", { text: c.live ? "live" : "after restart" })))))
        : el("p", { text: "Every setting of this preset is already in effect." });
      if (!(await ctx.confirm(`Apply the ${preset.title} preset?`, el("div", {}, el("p", { class: "hint", text: preset.description }), body), "Apply"))) return;
      try {
        const result = await ctx.api("POST", `/api/presets/${preset.name}/apply`);
        ctx.flash(msg, `${preset.title} applied (${result.changed.length} settings changed)`);
        await ctx.afterSave(result);
      } catch (e) { ctx.flash(msg, e.message, false); }
    }
    risk.addEventListener("input", show);
    lev.addEventListener("input", show);
    save.addEventListener("click", async () => {
      const body = { ASTER_RISK_PER_TRADE: Math.round(Number(risk.value) * 100) / 10000, ASTER_LEVERAGE: Math.min(5, Math.round(Number(lev.value))) };
      try {
        const result = await ctx.api("PATCH", "/api/config", body);
        ctx.flash(msg, result.changed.length ? "saved" : "nothing changed");
        await ctx.afterSave(result);
      } catch (e) { ctx.flash(msg, e.message, false); }
    });
    const reload = () => { loadValues(); loadPresets(); };
    window.addEventListener("mraster:config-saved", reload);
    reload();
    cleanup = [() => window.removeEventListener("mraster:config-saved", reload)];
  },
  unmount() { cleanup.forEach((fn) => fn()); cleanup = []; },
};
