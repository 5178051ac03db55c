// Risk per trade in money at the account's equity (a minimal panel from /api/config and /api/state: the
// setting times the equity, before notional caps and minimum sizes; dash-truth's widget replaces this file
// with the real risk after every cap, keeping the interface {mount(root, ctx, params), unmount()}).
import { el } from "../api.js";

let state = null;

async function refresh() {
  const s = state;
  if (!s) return;
  try {
    const [config, snap] = await Promise.all([s.ctx.api("GET", "/api/config"), s.ctx.api("GET", "/api/state")]);
    if (state !== s) return;
    const risk = Number(config.values.ASTER_RISK_PER_TRADE?.value);
    const eq = snap.state?.equity || {};
    const equity = Number(eq.margin_balance ?? eq.wallet);
    s.root.replaceChildren(Number.isFinite(equity) && equity > 0
      ? el("p", { "data-role": "sizing-summary" }, `Risk per trade ${s.ctx.fmt.pct(risk)} of ${s.ctx.fmt.money(equity)} USDT equity = `,
        el("strong", { text: `${s.ctx.fmt.money(risk * equity)} USDT` }), " before notional caps and minimum sizes.")
      : el("p", { class: "msg", text: "equity not known yet: the bot has not reported it" }));
  } catch (e) {
    if (state === s) s.root.replaceChildren(el("p", { class: "msg", text: `risk not loaded: ${e.message}` }));
  }
}

export default {
  mount(root, ctx, params = {}) {
    state = { root, ctx, params, timer: setInterval(refresh, params.interval || 15000) };
    refresh();
  },
  refresh,
  unmount() {
    if (state) clearInterval(state.timer);
    state = null;
  },
};
