"""`mraster maker executor|coordinator|stats|stop|reset`: seed 003's cycle maker (docs/maker.md).

    mraster maker executor --account B --port 8081      (the seed's start_executor.sh --account B --port 8081)
    mraster maker executor --account C --port 8082
    mraster maker coordinator --strategy cycle           (the seed's start_coordinator.sh --strategy cycle)
    mraster maker stats [--hours 2] [--servers B,C] [--json]   (the seed's query_stats.py)
    mraster maker run [--instance NAME]                  all three on this machine (= python -m maker --instance NAME)
    mraster maker stop [--servers B,C]                   signed emergency stop (cancel all, close, refuse)
    mraster maker reset [--servers B,C]                  leave the emergency stop
"""
from __future__ import annotations

import argparse
from typing import Any, Callable


def _run(target: str) -> Callable[[Any, argparse.Namespace], int]:
    def handler(loaded: Any, args: argparse.Namespace) -> int:
        from maker import run
        result: int = getattr(run, target)(loaded, args)
        return result
    return handler


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("maker", help="seed 003's cycle maker: coordinator, executors, statistics",
                       description="A coordinator drives two executor accounts (B and C) in opposite directions, "
                                   "maker first with taker rebalancing of the net exposure. docs/maker.md")
    msub = p.add_subparsers(dest="action", metavar="ACTION")
    msub.required = True

    def instance(q: argparse.ArgumentParser) -> None:
        q.add_argument("--instance", help="maker instance in engines.json (default: MRASTER_INSTANCE or 'maker' "
                                          "on accounts A, B, C)")
        common(q)

    e = msub.add_parser("executor", help="the HTTP service owning one account (B or C)")
    e.add_argument("--account", required=True, help="the executor's account: B or C (or the account name the "
                                                    "instance gives role executor_b / executor_c)")
    e.add_argument("--port", type=int, help="port (default: the port of SERVER_<B|C>_URL)")
    e.add_argument("--host", help="bind address (default: the host of SERVER_<B|C>_URL; anything but loopback "
                                  "needs MAKER_HMAC_SECRET)")
    instance(e)
    e.set_defaults(handler=_run("run_executor"))

    c = msub.add_parser("coordinator", help="market data in, signed instructions to the executors out")
    c.add_argument("--strategy", choices=("cycle", "target"), help="default: the instance's `strategy` setting")
    c.add_argument("--server-b", dest="server_b", help="executor B's address (default SERVER_B_URL)")
    c.add_argument("--server-c", dest="server_c", help="executor C's address (default SERVER_C_URL)")
    c.add_argument("--seed", type=int, help="seed of the random instruction delays (default: random)")
    instance(c)
    c.set_defaults(handler=_run("run_coordinator"))

    s = msub.add_parser("stats", help="per executor: taker and maker orders and volume, fill rate, fees, P&L")
    s.add_argument("--hours", type=float, default=2.0, help="window in hours (default 2)")
    s.add_argument("--servers", default="B,C", help="B, C or B,C (default)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--via-executors", action="store_true",
                   help="ask the executors (GET /stats) instead of reading the venue and journals here")
    instance(s)
    s.set_defaults(handler=_run("run_stats"))

    r = msub.add_parser("run", help="executors B and C and the coordinator on this machine (what the dashboard "
                                    "starts as python -m maker --instance NAME)")
    r.add_argument("--strategy", choices=("cycle", "target"), help="default: the instance's `strategy` setting")
    instance(r)
    r.set_defaults(handler=_run("run_all"))

    for name, text in (("stop", "emergency stop: cancel every order, close the position, refuse instructions"),
                       ("reset", "leave the emergency stop (trading resumes when the coordinator is heard)")):
        x = msub.add_parser(name, help=text)
        x.add_argument("--servers", default="B,C", help="B, C or B,C (default)")
        instance(x)
        x.set_defaults(handler=_run("run_control"))
