// Until the page shell (static/js/pages/index.js) lands: show #/data and #/backtest in #page-root, in place
// of the overview grid, with the page-module contract {id, title, mount(root, ctx, params), unmount()}.
import { api, fmtNum, fmtTime, fmtAge } from "./api.js";

const PAGES = { data: () => import("./pages/data.js"), backtest: () => import("./pages/backtest.js") };
let current = null;

async function route() {
  const m = location.hash.match(/^#\/(data|backtest)(?:\?(.*))?$/);
  const host = document.getElementById("page-root"), main = document.querySelector("main.grid");
  if (current) { current.unmount(); current = null; }
  for (const a of document.querySelectorAll("#page-nav a")) a.classList.toggle("active", a.getAttribute("href") === (m ? `#/${m[1]}` : "#/"));
  if (!m) { host.hidden = true; host.replaceChildren(); main.hidden = false; window.dispatchEvent(new Event("resize")); return; }
  const page = (await PAGES[m[1]]()).default;
  main.hidden = true; host.hidden = false;
  const ctx = { api, navigate: (hash) => { location.hash = hash; }, fmt: { num: fmtNum, time: fmtTime, age: fmtAge } };
  page.mount(host, ctx, Object.fromEntries(new URLSearchParams(m[2] || "")));
  document.title = `mraster · ${page.title}`;
  current = page;
}

window.addEventListener("hashchange", route);
route();
