"""equity.png: the account's margin balance over the trading day, with every fault marked."""
from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"bot_kill": "#d62728", "bot_entry_kill": "#8c0000", "guard_kill": "#ff7f0e", "paper_restart": "#9467bd",
           "admin_fault": "#1f77b4", "venue_cancel": "#2ca02c", "config_burst": "#7f7f7f"}
LABELS = {"bot_kill": "bot SIGKILL", "bot_entry_kill": "bot SIGKILL after entry fill", "guard_kill": "guard SIGKILL",
          "paper_restart": "paper exchange restart", "admin_fault": "venue fault (5xx/429/418/skew/ws/lost)",
          "venue_cancel": "venue cancels an exit order", "config_burst": "config burst (some invalid)"}


def plot_equity(path: Path, equity: list[tuple[int, float, float]], faults: list[dict[str, Any]], venue_t0: int,
                title: str, speed: float = 1.0) -> Path:
    """Fault moments as dashed lines; a fault's window (market time) shaded in the same colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 5.6), dpi=110)
    hours = [(v - venue_t0) / 3_600_000 for v, _, _ in equity]
    ax.plot(hours, [b for _, _, b in equity], color="black", linewidth=1.2, label="margin balance (USDT)")
    seen = set()
    for f in faults:
        if not f.get("venue_ms"):
            continue
        kind = f["kind"]
        at = (f["venue_ms"] - venue_t0) / 3_600_000
        colour = COLOURS.get(kind, "grey")
        ax.axvline(at, color=colour, alpha=0.75, linewidth=1.0, linestyle="--",
                   label=None if kind in seen else LABELS.get(kind, kind))
        window_h = float(f.get("window_s") or 0) * speed / 3600
        if window_h:
            ax.axvspan(at, at + window_h, color=colour, alpha=0.12)
        seen.add(kind)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("market hours since trading started")
    ax.set_ylabel("USDT")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=4, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
