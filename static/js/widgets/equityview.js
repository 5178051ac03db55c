// The Overview's equity card: one selector of every named account (its venue equity, sampled by the
// dashboard) and every engine instance (its cumulative net PnL), the chosen curve with its drawdown.
// The choice is remembered in localStorage; the curve is asked again every REFRESH_MS.
import { api, el } from "../api.js";
import { equityChart } from "./equity.js";

const KEY = "mraster.equity";
const REFRESH_MS = 10000;
let current = null;

function options(listing) {
  const group = (label, rows, kind, text) => rows.length ? [el("optgroup", { label },
    ...rows.map((r) => el("option", { value: `${kind}:${r.name}`, text: text(r) })))] : [];
  return [
    ...group("Accounts (equity)", listing.accounts || [], "account", (r) => `account ${r.name}`),
    ...group("Engines (net PnL)", listing.engines || [], "engine",
      (r) => `engine ${r.name}` + (r.kind ? ` (${r.kind}${r.account ? ` on ${r.account}` : ""})` : "")),
  ];
}

export default {
  mount(root, ctx) {
    const select = el("select", { id: "equity-select", "aria-label": "equity of" });
    const msg = el("span", { class: "msg", id: "equity-msg" });
    const chartRoot = el("div", { id: "equity-chart-root" });
    root.replaceChildren(el("div", { class: "row toolbar" }, select, msg), chartRoot);
    const chart = equityChart(chartRoot, { height: 220 });
    const s = { alive: true, listingKey: "", timer: null };
    current = s;

    async function loadCurve() {
      const [kind, name] = (select.value || "").split(/:(.*)/s);
      if (!kind || !name) return;
      try {
        const answer = await api("GET", `/api/equity?${kind}=${encodeURIComponent(name)}`);
        if (!s.alive || select.value !== `${kind}:${name}`) return;
        chart.show(answer);
        msg.textContent = "";
      } catch (e) { if (s.alive) msg.textContent = `equity not loaded: ${e.message}`; }
      root.dataset.ready = "1";
    }

    async function loadListing() {
      try {
        const listing = await api("GET", "/api/equity");
        if (!s.alive) return;
        const key = JSON.stringify([(listing.accounts || []).map((a) => a.name), (listing.engines || []).map((e) => [e.name, e.kind, e.account])]);
        if (key !== s.listingKey) {
          s.listingKey = key;
          const chosen = select.value || localStorage.getItem(KEY) || "";
          select.replaceChildren(...options(listing));
          const values = [...select.options].map((o) => o.value);
          select.value = values.includes(chosen) ? chosen : (values[0] || "");
        }
        msg.textContent = listing.problem || "";
      } catch (e) { if (s.alive) msg.textContent = `equity not loaded: ${e.message}`; }
    }

    select.addEventListener("change", () => { localStorage.setItem(KEY, select.value); loadCurve(); });
    (async () => { await loadListing(); await loadCurve(); })();
    let ticks = 0;
    s.timer = setInterval(async () => {
      if (++ticks % 3 === 0) await loadListing();
      await loadCurve();
    }, REFRESH_MS);
    s.destroy = () => chart.destroy();
  },
  unmount() {
    if (!current) return;
    current.alive = false;
    clearInterval(current.timer);
    current.destroy?.();
    current = null;
  },
};
