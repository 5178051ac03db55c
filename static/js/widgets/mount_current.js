// Until the page shell (hash routes) lands: the issue 15 widgets in the current page, in one mount point.
// The shell mounts the same modules in its pages and this file goes away.
import { api, el } from "../api.js";
import positions from "./positions.js";
import sizing from "./sizing.js";
import trades from "../pages/trades.js";

const root = document.getElementById("truth-mount");
if (root) {
  const ctx = { api, navigate: (hash) => { location.hash = hash; } };
  const parts = { positions: el("div", { id: "positions-widget" }), sizing: el("div", { id: "sizing-widget" }),
    trades: el("div", { id: "trades-page" }) };
  root.replaceChildren(el("h2", { text: "Positions on the venue" }), parts.positions,
    el("h2", { text: "Real risk per trade" }), parts.sizing, parts.trades);
  positions.mount(parts.positions, ctx, {});
  sizing.mount(parts.sizing, ctx, {});
  trades.mount(parts.trades, ctx, {});
}
