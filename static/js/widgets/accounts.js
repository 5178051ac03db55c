// Every named account as the venue shows it: balances, positions, open orders with the owning instance.
import { api, el } from "../api.js";
import { fmtMoney, fmtNum, fmtPrice } from "../format.js";

const REFRESH_MS = 3000;

function table(headers, rows, empty) {
  return el("div", { class: "table-scroll" }, el("table", { class: "table" },
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { text: h })))),
    el("tbody", {}, ...(rows.length ? rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))
      : [el("tr", {}, el("td", { class: "empty", colspan: String(headers.length), text: empty }))]))));
}

function part(answer, render) {
  if (!answer) return el("p", { class: "msg", text: "–" });
  if (answer.data === null || answer.data === undefined) return el("p", { class: "msg err", text: answer.error || "waiting for the venue" });
  return el("div", {}, render(answer.data), answer.error ? el("p", { class: "msg err", text: `last read failed: ${answer.error}` }) : null);
}

function card(acc) {
  const usdt = (acc.balances && acc.balances.data || []).find((b) => b.asset === "USDT");
  return el("section", { class: "account-card", "data-account": acc.name },
    el("h3", {}, acc.name, el("small", { text: ` ${acc.mode} · ${acc.venue_profile} · guard ` }),
      el("span", { class: `pill st-${acc.guard ? acc.guard.state : "stopped"}`, "data-guard": acc.name,
        text: acc.guard ? acc.guard.state : "none" })),
    el("p", { class: "hint", text: usdt ? `USDT wallet ${fmtNum(usdt.wallet_balance, 2)} · available ${fmtNum(usdt.available_balance, 2)}` : "" }),
    part(acc.positions, (rows) => table(["Symbol", "Side", "Qty", "Entry", "Mark", "uPnL", "Lev", "Liq."],
      rows.map((p) => [p.symbol, p.side, fmtNum(p.qty), fmtNum(p.entry_price), fmtNum(p.mark_price),
        el("span", { class: p.unrealized_pnl >= 0 ? "pos" : "neg", text: fmtNum(p.unrealized_pnl, 2) }),
        `${p.leverage}x`, fmtNum(p.liquidation_price)]), "no position")),
    part(acc.open_orders, (rows) => table(["Symbol", "Side", "Type", "Qty", "Price / stop", "Owner"],
      rows.map((o) => [o.symbol, o.side, o.type, fmtNum(o.qty), fmtNum(o.stop_price || o.price),
        o.owner || "not mraster"]), "no open order")));
}

export default {
  mount(root) {
    this.root = root;
    this.body = el("div", { class: "accounts" });
    this.problem = el("div", { class: "messages" });
    root.replaceChildren(el("h2", {}, "Accounts", el("small", { text: "as the venue shows them" })), this.problem, this.body);
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  },
  unmount() { clearInterval(this.timer); },
  async refresh() {
    try {
      const data = await api("GET", "/api/accounts");
      this.problem.replaceChildren(...(data.problem ? [el("div", { text: data.problem })] : []));
      this.body.replaceChildren(...data.accounts.map(card));
    } catch (e) { this.problem.replaceChildren(el("div", { text: `accounts: ${e.message}` })); }
  },
};
