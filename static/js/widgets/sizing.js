// The real risk per trade next to the risk slider, per S/M/L bucket and per preset (GET /api/sizing:
// the bot's own sizing function at the account's equity), and the warnings when a cap makes the slider
// or the buckets do nothing. params.symbol picks the reference symbol; refresh after a settings save.
import { el } from "../api.js";
import { fmtOf } from "./format.js";

let state = null;

function bucketTable(buckets, fmt) {
  return el("div", { class: "table-scroll" }, el("table", { class: "table", "data-widget": "sizing-buckets" },
    el("thead", {}, el("tr", {}, ...["Bucket", "Notional", "Margin", "Risk (USDT)", "Risk % equity", "Caps"].map(
      (c) => el("th", { text: c })))),
    el("tbody", {}, ...buckets.map((b) => el("tr", { "data-bucket": b.bucket },
      el("td", { text: b.bucket }), el("td", { text: fmt.num(b.notional, 2) }), el("td", { text: fmt.num(b.margin, 2) }),
      el("td", { text: fmt.num(b.risk, 4) }), el("td", { "data-risk-pct": String(b.risk_pct), text: fmt.pct(b.risk_pct, 3) }),
      el("td", { text: b.error || (b.caps || []).join(", ") || "none" }))))));
}

function render(r) {
  const s = state;
  const { fmt } = s;
  if (!r.available) {
    s.root.replaceChildren(el("p", { class: "msg", text: `real risk not known: ${r.problem}` }));
    return;
  }
  const m = r.buckets.find((b) => b.bucket === "M" || b.bucket === "BASE") || r.buckets[0];
  const head = el("p", { "data-role": "sizing-summary" },
    `Slider ${fmt.pct(r.slider_risk_pct)} of equity → a trade really risks `,
    el("strong", { "data-role": "real-risk", text: `${fmt.pct(m.risk_pct, 3)} (${fmt.num(m.risk, 2)} USDT)` }),
    ` on ${fmt.num(r.equity, 2)} USDT equity (${r.equity_source}), ${r.symbol} with a stop ${fmt.pct(r.stop_pct)} away`
    + (r.stop_source === "assumed" ? " (assumed: no ATR yet)" : ""));
  const warnings = el("ul", { class: "warnings", "data-role": "sizing-warnings" },
    ...r.warnings.map((w) => el("li", { class: "bad", text: w })));
  const presets = el("div", { class: "table-scroll" }, el("table", { class: "table", "data-widget": "sizing-presets" },
    el("thead", {}, el("tr", {}, ...["Preset", "Slider", "Real risk (M)", "Leverage", "Warnings"].map((c) => el("th", { text: c })))),
    el("tbody", {}, ...r.presets.map((p) => {
      const pm = p.buckets.find((b) => b.bucket === "M" || b.bucket === "BASE") || p.buckets[0];
      return el("tr", { "data-preset": p.name }, el("td", { text: p.name }), el("td", { text: fmt.pct(p.slider_risk_pct) }),
        el("td", { text: `${fmt.pct(pm.risk_pct, 3)} (${fmt.num(pm.risk, 2)} USDT)` }), el("td", { text: `${p.leverage}x` }),
        el("td", { text: p.warnings.length ? p.warnings.join("; ") : "none" }));
    }))));
  s.root.replaceChildren(head, warnings, bucketTable(r.buckets, fmt), el("h4", { text: "Presets" }), presets);
}

async function refresh() {
  const s = state;
  if (!s) return;
  try {
    const q = s.params.symbol ? `?symbol=${encodeURIComponent(s.params.symbol)}` : "";
    const r = await s.ctx.api("GET", `/api/sizing${q}`);
    if (state === s) render(r);
  } catch (e) {
    if (state === s) s.root.replaceChildren(el("p", { class: "msg", text: `real risk not loaded: ${e.message}` }));
  }
}

export default {
  mount(root, ctx, params = {}) {
    state = { root, ctx, params, fmt: fmtOf(ctx), timer: setInterval(refresh, params.interval || 15000) };
    root.replaceChildren(el("p", { class: "msg", text: "computing the real risk…" }));
    refresh();
  },
  refresh,
  unmount() {
    if (state) clearInterval(state.timer);
    state = null;
  },
};
