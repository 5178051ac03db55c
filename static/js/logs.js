// Pro mode's debug log: every line from bot, guard, paper exchange and dashboard, filterable live.
import { liveSocket, el } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const SOURCES = ["bot", "guard", "paper", "dashboard"];
const MAX_LINES = 2000;

export function initDebugLog() {
  const view = $("#log-view"), status = $("#log-status");
  const boxes = SOURCES.map((s) => el("input", { type: "checkbox", checked: true, value: s, id: `log-src-${s}` }));
  $("#log-sources").replaceChildren(...boxes.map((b) => el("label", {}, b, " " + b.value)));
  let droppedTotal = 0;
  const query = () => {
    const sources = boxes.filter((b) => b.checked).map((b) => b.value);
    return `/ws/logs?backlog=500&level=${$("#log-level").value}&sources=${sources.join(",")}`;
  };
  const socket = liveSocket(query, {
    onMessage(msg) {
      if (msg.type === "hello") { view.replaceChildren(); droppedTotal = 0; return; }
      if (msg.type === "error") { status.textContent = msg.message; return; }
      if (msg.type !== "lines") return;
      droppedTotal += msg.dropped;
      status.textContent = droppedTotal ? `${droppedTotal} lines skipped (the page could not keep up)` : "";
      if ($("#log-pause").checked || !boxes.some((b) => b.checked)) return;
      const atBottom = view.scrollTop + view.clientHeight >= view.scrollHeight - 20;
      for (const line of msg.lines) {
        const extra = Object.entries(line).filter(([k]) => !["ts", "level", "src", "event", "msg", "seq", "feed", "activity"].includes(k));
        view.append(el("div", { class: line.level },
          `${(line.ts || "").slice(11, 23)} ${line.level.padEnd(7)} ${String(line.src).padEnd(9)} ${line.event || ""}  ${line.msg || ""}` +
          (extra.length ? "  " + extra.map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ") : "")));
      }
      while (view.children.length > MAX_LINES) view.firstChild.remove();
      if (atBottom) view.scrollTop = view.scrollHeight;
    },
  });
  const refilter = () => socket.reopen();
  $("#log-level").addEventListener("change", refilter);
  boxes.forEach((b) => b.addEventListener("change", refilter));
}
