"""Reports as HTML (charts inline) with a plain-text twin.

`render_*` return a `Rendered`: the HTML refers to its charts as `cid:` images (for a MIME email);
`standalone_html` swaps them for data: URIs (a file, the dashboard). Every value is escaped.
"""
from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

from ops.report import ISSUE_KINDS, BacktestReport, ProdReport

STYLE = ("body{font-family:system-ui,sans-serif;color:#1b1f24;max-width:980px}"
         "table{border-collapse:collapse;margin:6px 0 14px}td,th{border:1px solid #d0d7de;padding:3px 7px;"
         "font-size:13px;text-align:right}th{background:#f3f5f7}td.l,th.l{text-align:left}"
         ".neg{color:#b42318}.pos{color:#067647}h1{font-size:20px}h2{font-size:16px;margin-top:18px}")
MAX_BT_COLUMNS = 24
METRICS = ("is_total_pnl", "is_trades", "is_win_rate", "is_profit_factor", "is_max_drawdown", "is_sharpe",
           "oos_total_pnl", "oos_trades", "oos_symbol_rank")


@dataclass
class Rendered:
    subject: str
    html: str
    text: str
    images: dict[str, bytes] = field(default_factory=dict)   # content id -> PNG

    def standalone_html(self) -> str:
        out = self.html
        for cid, png in self.images.items():
            out = out.replace(f"cid:{cid}", "data:image/png;base64," + base64.b64encode(png).decode())
        return out


def _e(value: object) -> str:
    return html.escape(str(value))


def _money(x: float) -> str:
    return f"{x:+.4f}"


def _cls(x: float) -> str:
    return "pos" if x > 0 else "neg" if x < 0 else ""


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    import matplotlib.pyplot as plt
    plt.close(fig)  # type: ignore[arg-type]
    return buf.getvalue()


def _prod_charts(r: ProdReport) -> dict[str, bytes]:
    if not r.trades:
        return {}
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
    syms = [s.symbol for s in r.symbols]
    nets = [s.net_pnl for s in r.symbols]
    a.bar(syms, nets, color=["#067647" if n >= 0 else "#b42318" for n in nets])
    a.set_title("net PnL per symbol (USDT)")
    a.tick_params(axis="x", labelrotation=45, labelsize=8)
    cum, total = [], 0.0
    for t in r.trades:
        total += t["net_pnl"]
        cum.append(total)
    hours = [(t["exit_time_ms"] % 86_400_000) / 3_600_000 for t in r.trades]
    b.step([0.0] + hours, [0.0] + cum, where="post", color="#1f6feb")
    b.set_xlim(0, 24)
    b.set_title("cumulative net PnL over the UTC day")
    b.set_xlabel("hour (UTC)")
    return {"pnl": _png(fig)}


def render_prod(r: ProdReport) -> Rendered:
    subject = f"mraster production report {r.day.isoformat()}: {len(r.trades)} trades, net {_money(r.net_pnl)} USDT"
    status_rows = [[_e(n), _e(v)] for n, v in r.status]
    head = ["symbol", "trades", "wins", "losses", "win rate", "net PnL", "gross", "fees", "funding", "best",
            "worst", "mean", "median"]
    rows = [[s.symbol, str(s.trades), str(s.wins), str(s.losses), f"{s.win_rate:.0%}", _money(s.net_pnl),
             _money(s.gross_pnl), f"{s.fees:.4f}", _money(s.funding), _money(s.best), _money(s.worst),
             _money(s.mean), _money(s.median)] for s in r.symbols]
    html_rows = [[_e(c) if i != 5 else f'<span class="{_cls(s.net_pnl)}">{_e(c)}</span>' for i, c in enumerate(row)]
                 for row, s in zip(rows, r.symbols)]
    issue_rows = [[k.replace("_", " "), str(r.issues.counts[k]), " | ".join(r.issues.samples[k])] for k in ISSUE_KINDS]
    images = _prod_charts(r)
    parts = [f"<html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>",
             f"<h1>Production report, UTC day {_e(r.day.isoformat())}</h1>",
             "<h2>Service status</h2>", _table(["unit", "state"], status_rows),
             f"<h2>Trades per symbol ({len(r.trades)} closed, net {_e(_money(r.net_pnl))} USDT)</h2>",
             _table(head, html_rows) if rows else "<p>No trade closed this day.</p>"]
    if "pnl" in images:
        parts.append('<img alt="PnL charts" src="cid:pnl" style="max-width:100%">')
    parts += [f"<h2>Runtime issues ({r.issues.lines_read} log lines of the day)</h2>",
              _table(["kind", "count", "samples"], [[_e(c) for c in row] for row in issue_rows]),
              f"<p style='color:#57606a;font-size:12px'>journal {_e(r.journal)}</p>"]
    parts += [f"<p>{_e(n)}</p>" for n in r.notes]
    parts.append("</body></html>")
    text = "\n\n".join([
        f"Production report, UTC day {r.day.isoformat()}",
        "Service status\n" + _text_table(["unit", "state"], [[n, v] for n, v in r.status]),
        f"Trades per symbol ({len(r.trades)} closed, net {_money(r.net_pnl)} USDT)\n"
        + (_text_table(head, rows) if rows else "No trade closed this day."),
        f"Runtime issues ({r.issues.lines_read} log lines of the day)\n"
        + "\n".join(f"  {k.replace('_', ' ')}: {r.issues.counts[k]}"
                    + "".join(f"\n    - {s}" for s in r.issues.samples[k]) for k in ISSUE_KINDS),
        *r.notes])
    return Rendered(subject, "".join(parts), text + "\n", images)


def _bt_chart(r: BacktestReport) -> dict[str, bytes]:
    metric = next((c for c in ("is_total_pnl", "total_pnl", "oos_total_pnl") if c in r.columns), "")
    if not metric or not r.top:
        return {}
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3))
    for i, (symbol, rows) in enumerate(r.top.items()):
        values = []
        for row in rows:
            try:
                values.append(float(row[metric]))
            except (TypeError, ValueError):
                values.append(0.0)
        ax.plot(range(1, len(values) + 1), values, marker="o", label=symbol)
    ax.set_xlabel("rank within the symbol")
    ax.set_title(f"{metric} of the top configurations")
    ax.legend(fontsize=8)
    return {"top": _png(fig)}


def bt_columns(columns: list[str]) -> list[str]:
    """Rank, the configuration's parameters (the columns between `symbol` and the first metric), then the
    headline in-sample and held-out metrics; unknown layouts fall back to the first columns."""
    if "symbol" not in columns:
        return columns[:MAX_BT_COLUMNS]
    start = columns.index("symbol") + 1
    end = next((i for i, c in enumerate(columns) if i >= start and c.startswith(("is_", "oos_"))), len(columns))
    lead = [c for c in ("symbol_rank", "config_id") if c in columns]
    return (lead + columns[start:end] + [m for m in METRICS if m in columns])[:MAX_BT_COLUMNS]


def render_backtest(r: BacktestReport) -> Rendered:
    n = sum(len(v) for v in r.top.values())
    subject = f"mraster backtest report: top configurations of {len(r.top)} symbol(s)" + (
        f", {r.window}" if r.window else "")
    cols = bt_columns(r.columns)
    images = _bt_chart(r)
    parts = [f"<html><head><meta charset='utf-8'><style>{STYLE}</style></head><body>",
             "<h1>Backtest report</h1>", f"<p>{_e(r.window or 'window unknown')}; {n} rows from {_e(r.ranked_csv)}</p>",
             "<h2>Service status</h2>", _table(["unit", "state"], [[_e(a), _e(b)] for a, b in r.status])]
    if "top" in images:
        parts.append('<img alt="top configurations" src="cid:top" style="max-width:100%">')
    text = [f"Backtest report {r.window}".rstrip(), "Service status\n"
            + _text_table(["unit", "state"], [[a, b] for a, b in r.status])]
    for symbol, rows in r.top.items():
        body = [[row.get(c, "") for c in cols] for row in rows]
        parts += [f"<h2>{_e(symbol)}: top {len(rows)}</h2>", _table(cols, [[_e(c) for c in b] for b in body], left=0)]
        text.append(f"{symbol}: top {len(rows)}\n" + _text_table(cols, body))
    if not r.top:
        parts.append("<p>The ranked results hold no configuration.</p>")
        text.append("The ranked results hold no configuration.")
    parts.append("</body></html>")
    return Rendered(subject, "".join(parts), "\n\n".join(text) + "\n", images)
