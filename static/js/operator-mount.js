// Until the dashboard's page shell lands: shows the Operator page module at #/operator[/<instance>] in its own
// mount point, with the page contract's ctx ({api, navigate, fmt}), and the usual page otherwise.
import { api } from "./api.js";
import page from "./pages/operator.js";

const mountPoint = document.getElementById("page-operator");
const main = document.querySelector("main.grid");
let mounted = false;
const ctx = { api, navigate: (hash) => { location.hash = hash; }, fmt: {} };

function route() {
  const [path] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (mounted) { page.unmount(); mounted = false; mountPoint.replaceChildren(); }
  const on = parts[0] === "operator";
  mountPoint.hidden = !on;
  if (main) main.hidden = on;
  if (on) { mounted = true; page.mount(mountPoint, ctx, { id: "operator", arg: parts[1] || "", rest: parts.slice(1), query: {} }); }
}

if (mountPoint) { window.addEventListener("hashchange", route); route(); }
