// Logs: every line from bot, guard, paper exchange and dashboard, live. Level and source filters (on the
// server), search (here), follow mode, and the per-symbol skip lines of a scan folded into one line.
import { el, liveSocket } from "../api.js";
import { stripAnsi } from "../format.js";

const SOURCES = ["bot", "guard", "paper", "dashboard"];
const MAX_LINES = 5000;
const SHOWN_KEYS = new Set(["ts", "level", "src", "event", "msg", "seq", "feed", "activity", "color_message", "group"]);
let cleanup = [];

// A per-symbol skip: tagged `group: "skip"` by the log hub, or the scan's "decision" line for a symbol it
// did not enter.
export function isSkip(line) {
  return line.group === "skip" || (line.event === "decision" && line.decision !== "enter" && Boolean(line.symbol));
}

export function lineText(line, fmt) {
  const extra = Object.entries(line).filter(([k]) => !SHOWN_KEYS.has(k));
  return `${fmt.time(line.ts, { ms: true })} ${String(line.level || "").padEnd(7)} ${String(line.src || "").padEnd(9)} ` +
    `${line.event || ""}  ${stripAnsi(line.msg || "")}` +
    (extra.length ? "  " + extra.map(([k, v]) => `${k}=${stripAnsi(typeof v === "object" ? JSON.stringify(v) : v)}`).join(" ") : "");
}

export default {
  id: "logs",
  selfReady: true,
  title: "Logs",
  mount(root, ctx, params) {
    const q = params.query || {};
    const level = el("select", { id: "log-level", "aria-label": "minimum level" },
      ...["DEBUG", "INFO", "WARNING", "ERROR"].map((l) => el("option", { selected: l === (q.level || "INFO") }, l)));
    const wanted = q.sources ? q.sources.split(",") : SOURCES;
    const boxes = SOURCES.map((s) => el("input", { type: "checkbox", checked: wanted.includes(s), value: s, id: `log-src-${s}` }));
    const search = el("input", { type: "search", id: "log-search", placeholder: "search", "aria-label": "search the log", value: q.q || "" });
    const follow = el("input", { type: "checkbox", id: "log-follow", checked: true });
    const fold = el("input", { type: "checkbox", id: "log-fold", checked: true });
    const status = el("span", { id: "log-status", class: "msg" });
    const view = el("div", { id: "log-view", class: "log", tabindex: "0" });
    root.append(el("section", { class: "card wide logs-card" },
      el("div", { class: "row toolbar" }, el("h2", { text: "Logs" }),
        el("label", {}, "Level ", level), el("span", { id: "log-sources", class: "row" }, ...boxes.map((b) => el("label", {}, b, " " + b.value))),
        search,
        el("label", { title: "keep the newest line in view" }, follow, " Follow"),
        el("label", { title: "fold the scan's per-symbol skip lines into one line each" }, fold, " Fold per-symbol skips"),
        status),
      view));

    let lines = [], droppedTotal = 0;
    const matches = (line) => {
      const needle = search.value.trim().toLowerCase();
      return !needle || lineText(line, ctx.fmt).toLowerCase().includes(needle);
    };
    const lineNode = (line) => el("div", { class: `line ${line.level}`, "data-event": line.event || "" }, lineText(line, ctx.fmt));
    const group = (first) => {
      const count = el("span", { class: "count", text: "0" });
      const why = el("span", { class: "why" });
      const reasons = new Map();
      const summary = el("summary", {}, `${ctx.fmt.time(first.ts)} `, count, " per-symbol skips ", why);
      const node = el("details", { class: "skips", open: !fold.checked }, summary);
      node.add = (line) => {
        node.append(lineNode(line));
        count.textContent = String(node.childElementCount - 1);
        reasons.set(line.reason || "?", (reasons.get(line.reason || "?") || 0) + 1);
        why.textContent = "(" + [...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`).join(", ") + ")";
      };
      return node;
    };
    function append(batch) {
      for (const line of batch) {
        if (!matches(line)) continue;
        const last = view.lastElementChild;
        if (isSkip(line) && fold.checked) {
          const g = last && last.tagName === "DETAILS" ? last : view.appendChild(group(line));
          g.add(line);
        } else {
          view.append(lineNode(line));
        }
      }
      while (view.childElementCount > MAX_LINES) view.firstElementChild.remove();
      if (follow.checked) view.scrollTop = view.scrollHeight;
    }
    const redraw = () => { view.replaceChildren(); append(lines); view.dataset.lines = String(lines.length); };

    const query = () => `/ws/logs?backlog=1000&level=${level.value}&sources=${boxes.filter((b) => b.checked).map((b) => b.value).join(",")}`;
    const socket = liveSocket(query, {
      onMessage(msg) {
        if (msg.type === "hello") { lines = []; droppedTotal = 0; view.replaceChildren(); return; }
        if (msg.type === "error") { status.textContent = msg.message; return; }
        if (msg.type !== "lines") return;
        droppedTotal += msg.dropped || 0;
        status.textContent = droppedTotal ? `${droppedTotal} lines skipped (the page could not keep up)` : "";
        if (!boxes.some((b) => b.checked)) return;
        lines.push(...msg.lines);
        if (lines.length > MAX_LINES) lines = lines.slice(-MAX_LINES);
        append(msg.lines);
        view.dataset.lines = String(lines.length);
      },
    });
    // scrolling up by hand stops following; ticking Follow again jumps to the newest line and follows
    const stopFollowing = (ev) => { if (ev.type !== "wheel" || ev.deltaY < 0) follow.checked = false; };
    view.addEventListener("wheel", stopFollowing, { passive: true });
    view.addEventListener("touchmove", stopFollowing, { passive: true });
    follow.addEventListener("change", () => { if (follow.checked) view.scrollTop = view.scrollHeight; });
    fold.addEventListener("change", redraw);
    let searchTimer = null;
    search.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(redraw, 120); });
    // the filters stay in the address, so a reload or a shared link shows the same lines
    const remember = () => {
      const q = new URLSearchParams({ level: level.value, sources: boxes.filter((b) => b.checked).map((b) => b.value).join(",") });
      if (search.value.trim()) q.set("q", search.value.trim());
      history.replaceState(null, "", `#/logs?${q}`);
    };
    const refilter = () => { remember(); socket.reopen(); };
    search.addEventListener("change", remember);
    level.addEventListener("change", refilter);
    boxes.forEach((b) => b.addEventListener("change", refilter));
    root.dataset.ready = "1";
    cleanup = [() => socket.close(), () => clearTimeout(searchTimer)];
  },
  unmount() { cleanup.forEach((fn) => fn()); cleanup = []; },
};
