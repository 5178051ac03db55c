"""Suite-wide: report the tests in which the exchange client held requests for the next venue minute.

A paper exchange shared by a module's tests counts request weight per IP like the venue; once a module
has drawn 80 % of a minute's weight, the client rightly waits up to a minute, and the suite pays for it.
The summary names such tests, so the fix (a venue of their own, or a raised ASTER_PAPER_WEIGHT_LIMIT for
a shared test bed) is made where the time goes. Only clients running inside the pytest process are seen."""
from __future__ import annotations

import logging

import pytest

HELD_REPORT_S = 2.0
_held: list[tuple[str, float]] = []
_current = {"test": ""}


class _HeldRequests(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        delay = getattr(record, "delay_s", None)
        if isinstance(delay, (int, float)) and delay >= HELD_REPORT_S and record.getMessage().startswith("holding"):
            _held.append((_current["test"], float(delay)))


def pytest_configure(config: pytest.Config) -> None:
    logger = logging.getLogger("mraster.exchange.http")
    logger.addHandler(_HeldRequests(logging.INFO))
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


@pytest.fixture(autouse=True)
def _name_the_running_test(request: pytest.FixtureRequest):
    _current["test"] = request.node.nodeid
    yield
    _current["test"] = ""


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _held:
        return
    terminalreporter.section("requests held by the client's weight budget")
    totals: dict[str, float] = {}
    for test, delay in _held:
        totals[test or "(between tests)"] = totals.get(test or "(between tests)", 0.0) + delay
    for test, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(f"{total:7.1f} s  {test}")
