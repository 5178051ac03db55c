// Temporary glue until the page shell (PAGES, hash router) lands: shows the Ops page at #/ops in the
// #page-root mount point and the usual control center otherwise. One nav link, one mount point.
import { api, fmtNum, fmtTime } from "./api.js";
import opsPage from "./pages/ops.js";

const root = document.querySelector("#page-root");
const main = document.querySelector("main.grid");
let mounted = null;
const ctx = { api, navigate: (hash) => { location.hash = hash; }, fmt: { num: fmtNum, time: fmtTime } };

function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const wantOps = path === "/ops";
  if (mounted && !wantOps) { mounted.unmount(); mounted = null; }
  root.hidden = !wantOps;
  main.hidden = wantOps;
  if (wantOps && !mounted) {
    mounted = opsPage;
    opsPage.mount(root, ctx, Object.fromEntries(new URLSearchParams(query || "")));
  }
}
window.addEventListener("hashchange", route);
route();
