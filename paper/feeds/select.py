"""Choosing the market feed from ASTER_PAPER_FEED: synthetic, replay:PATH, live, or auto.

`auto` uses the live venue's public data when ASTER_EXCHANGE_BASE answers /fapi/v1/ping within a
few seconds, and the synthetic market otherwise. The choice and its reason are logged (event
`paper.feed`) and served at GET /paper/info.
"""
from __future__ import annotations

from pathlib import Path

import httpx

from paper.config import PaperConfig
from paper.feeds.base import Feed

PROBE_TIMEOUT_S = 3.0


class FeedError(ValueError):
    """The configured feed cannot be used (bad path, unreadable data, venue down); says why."""


async def probe(base_url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when `<base>/fapi/v1/ping` answers 200 in time, else the reason it did not."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            resp = await client.get(base_url.rstrip("/") + "/fapi/v1/ping")
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    return None


async def choose_feed(config: PaperConfig) -> tuple[Feed, str]:
    """(feed, why it was chosen)."""
    spec = config.feed.strip()
    if spec == "synthetic":
        return _synthetic(config), "configured: synthetic"
    if spec.startswith("replay:"):
        from paper.feeds.replay import ReplayFeed
        path = replay_path(spec[len("replay:"):])
        try:
            return ReplayFeed(path, config.symbols, funding_hours=config.funding_hours), f"configured: replay of {path}"
        except (OSError, ValueError) as exc:
            raise FeedError(f"ASTER_PAPER_FEED={spec}: {exc}") from None
    if spec == "live":
        from paper.feeds.live import LiveFeed
        return LiveFeed(config.exchange_base, config.symbols, funding_hours=config.funding_hours), \
            f"configured: live public data from {config.exchange_base}"
    if spec != "auto":
        raise FeedError(f"ASTER_PAPER_FEED={spec!r}: expected auto, synthetic, live or replay:PATH")
    why_not = await probe(config.exchange_base)
    if why_not is None:
        from paper.feeds.live import LiveFeed
        return LiveFeed(config.exchange_base, config.symbols, funding_hours=config.funding_hours), \
            f"auto: {config.exchange_base} answered, using its live public data"
    return _synthetic(config), f"auto: {config.exchange_base} did not answer ({why_not}); using the synthetic market"


def replay_path(text: str) -> Path:
    """A path, or the name of a dataset shipped in mraster/data/replay/ (e.g. `binance-um-2026-02`)."""
    path = Path(text).expanduser()
    if not path.exists():
        from paper.feeds.symbols import DATA_DIR
        shipped = DATA_DIR / "replay" / text
        if shipped.exists():
            return shipped
    return path


def _synthetic(config: PaperConfig) -> Feed:
    from paper.feeds.synthetic import SyntheticFeed
    return SyntheticFeed(tuple(config.symbols), config.seed, funding_hours=config.funding_hours)
