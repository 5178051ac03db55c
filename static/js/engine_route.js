// Until the dashboard shell lands: mounts an engine page module on #/engine/<instance> (the momentum
// page for momentum instances) in the #engine-page section of the current page. The shell replaces this.
import { api, fmtNum, fmtTime } from "./api.js";
import momentum from "./pages/momentum.js";

const ctx = { api, navigate: (hash) => { location.hash = hash; }, fmt: { num: fmtNum, time: fmtTime } };
let mounted = null;

async function route() {
  const slot = document.getElementById("engine-page");
  if (!slot) return;
  const m = location.hash.match(/^#\/engine\/([a-z][a-z0-9]{0,9})$/);
  if (mounted) { mounted.unmount(); mounted = null; }
  slot.hidden = true;
  if (!m) return;
  try {
    await api("GET", `/api/momentum/${m[1]}/status`);        // 404 unless a momentum instance reported
  } catch (e) {
    if (e.status === 404) return;
  }
  slot.hidden = false;
  momentum.mount(slot, ctx, { instance: m[1] });
  mounted = momentum;
}

export function initEngineRoute() {
  window.addEventListener("hashchange", route);
  route();
}
