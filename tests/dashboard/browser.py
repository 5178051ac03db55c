"""Debian's Chromium under Playwright for the dashboard's browser tests: one place for its flags, the
persistent context of a module and a page that fails its test on any JavaScript error."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": {"width": 1400, "height": 900}, "mobile": {"width": 390, "height": 844}}


@contextmanager
def chromium(profile_dir: Path, viewport: dict[str, int] | None = None, **options: Any) -> Iterator[BrowserContext]:
    """A persistent context with a fresh profile of its own (`profile_dir`), closed on exit."""
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(profile_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                    headless=True, viewport=viewport or VIEWPORTS["desktop"],
                                                    **options)
        try:
            yield ctx
        finally:
            ctx.close()


@contextmanager
def watched_page(ctx: BrowserContext, timeout_ms: int = 15_000, accept_dialogs: bool = False) -> Iterator[Page]:
    """A new page; closing it fails the test if the page raised a JavaScript error meanwhile."""
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if accept_dialogs:
        page.on("dialog", lambda d: d.accept())
    try:
        yield page
    finally:
        page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
