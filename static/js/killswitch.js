// The kill-switch latch: a banner while it holds (no engine opens positions), and a person's reset.
import { api, el } from "./api.js";
import { fmtTime } from "./clock.js";

const $ = (sel) => document.querySelector(sel);

export function renderKillSwitch(ks) {
  const banner = $("#killswitch-banner");
  if (!banner) return;
  const latched = Boolean(ks && ks.latched);
  banner.hidden = !latched;
  document.body.classList.toggle("killswitch-latched", latched);
  if (latched) {
    $("#killswitch-text").textContent =
      `since ${ks.fired_ms ? fmtTime(ks.fired_ms) : "?"} by ${ks.fired_by || "?"}: ${ks.reason || "no reason recorded"}. ` +
      "The guard keeps the account flat and no engine opens a position until a person resets it.";
  }
}

export function initKillSwitch(refresh, confirmDialog) {
  const button = $("#killswitch-reset");
  if (!button) return;
  button.addEventListener("click", async () => {
    const body = el("div", {},
      el("p", { text: "Resetting lets the bot and every other engine open positions again." }),
      el("p", { text: "Check first why it fired (margin of the positions named in the reason)." }));
    if (!(await confirmDialog("Reset the kill-switch?", body, "Reset"))) return;
    try { await api("POST", "/api/killswitch/reset", { confirm: "RESET" }); }
    catch (e) { alert("Reset: " + e.message); }
    refresh();
  });
}
