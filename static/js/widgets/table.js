// A sortable, filterable table. columns: [{key, label, value(row) -> sortable value, cell(row) -> Node|text,
// cls(row) -> class, title}]. The header click sorts (again: reverses); `filter(row)` decides what is shown;
// rowAttrs(row) gives each row's attributes (data-*, onclick).
import { el } from "../api.js";

export function dataTable({ id, columns, empty = "nothing yet", sort = null, desc = false, rowAttrs = null }) {
  let rows = [], filter = () => true, sortKey = sort, sortDesc = desc;
  const head = el("tr");
  const body = el("tbody");
  const table = el("table", { class: "table data", id }, el("thead", {}, head), body);
  const wrap = el("div", { class: "table-wrap" }, table);

  function drawHead() {
    head.replaceChildren(...columns.map((c) => el("th", {
      "data-key": c.key, title: c.title || "", class: c.key === sortKey ? (sortDesc ? "sorted desc" : "sorted asc") : "",
      onclick: () => { if (sortKey === c.key) sortDesc = !sortDesc; else { sortKey = c.key; sortDesc = false; } draw(); },
    }, el("button", { type: "button", class: "th-sort", text: c.label }))));
  }

  function valueOf(c, r) { return c.value ? c.value(r) : r[c.key]; }

  function draw() {
    drawHead();
    let shown = rows.filter(filter);
    const col = columns.find((c) => c.key === sortKey);
    if (col) {
      shown = [...shown].sort((a, b) => {
        const x = valueOf(col, a), y = valueOf(col, b);
        const nx = x === null || x === undefined || (typeof x === "number" && Number.isNaN(x));
        const ny = y === null || y === undefined || (typeof y === "number" && Number.isNaN(y));
        if (nx || ny) return nx && ny ? 0 : nx ? 1 : -1;     // unknowns last, whatever the direction
        const cmp = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return sortDesc ? -cmp : cmp;
      });
    }
    body.replaceChildren(...(shown.length ? shown.map((r) => el("tr", { "data-row": r.__id ?? "", ...(rowAttrs ? rowAttrs(r) : {}) },
      ...columns.map((c) => el("td", { class: c.cls ? c.cls(r) : "" }, c.cell ? c.cell(r) : String(valueOf(c, r) ?? "–")))))
      : [el("tr", {}, el("td", { class: "empty", colspan: String(columns.length), text: rows.length ? "nothing matches the filter" : empty }))]));
    wrap.dataset.rows = String(shown.length);
  }

  drawHead();
  return {
    node: wrap,
    set(newRows) { rows = newRows || []; draw(); },
    setFilter(fn) { filter = fn; draw(); },
  };
}
