// Until the dashboard shell lands: hash routes (#/<id>?k=v) to page modules static/js/pages/<id>.js
// ({id, title, mount(root, ctx, params), unmount()}); any other hash shows the control center.
import { api, fmtNum, fmtTime, fmtAge } from "./api.js";

const ROUTES = { maker: () => import("./pages/maker.js") };
let current = null;

async function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const id = (path || "").split("/")[0];
  const host = document.getElementById("page-host");
  const main = document.querySelector("main.grid");
  if (current) { current.unmount(); current = null; }
  if (!ROUTES[id]) { host.hidden = true; main.hidden = false; return; }
  const page = (await ROUTES[id]()).default;
  main.hidden = true;
  host.hidden = false;
  current = page;
  const ctx = { api, navigate: (hash) => { location.hash = hash; }, fmt: { fmtNum, fmtTime, fmtAge } };
  await page.mount(host, ctx, Object.fromEntries(new URLSearchParams(query || "")));
}

window.addEventListener("hashchange", route);
route();
