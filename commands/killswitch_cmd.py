"""`mraster killswitch status|reset`: see or reset the account's kill-switch latch (mraster/safety/killswitch.py).

Once the guard's margin kill-switch fires, no engine opens a position on that account until a person
resets the latch here or with the dashboard's button. `status` exits 0 when not latched, 1 when latched.
"""
from __future__ import annotations

import argparse
import getpass
import json
import socket
import time
from typing import Any, Callable

from mraster.safety import killswitch


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("killswitch", help="show or reset the kill-switch latch of the configured account",
                       description="Show or reset the kill-switch latch of the configured account (paper or "
                                   "live, from the settings). While latched, no engine opens a position.")
    ksub = p.add_subparsers(dest="action", metavar="ACTION")
    ksub.required = True
    s = ksub.add_parser("status", help="latched or not, who fired it, when and why (exit 1 when latched)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    common(s)
    s.set_defaults(handler=status)
    r = ksub.add_parser("reset", help="release the latch: engines may open positions again")
    r.add_argument("--json", action="store_true", help="machine-readable output")
    common(r)
    r.set_defaults(handler=reset)


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000)) if ms else "-"


def _print(latch: killswitch.Latch, path: Any, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**latch.to_json(), "file": str(path)}, indent=2))
        return
    print(f"account {latch.account} ({path})")
    if latch.latched:
        print(f"LATCHED since {_when(latch.fired_ms)} by {latch.fired_by or '?'}: {latch.reason}")
        print("no engine opens a position until a person runs 'mraster killswitch reset' (or the dashboard's button)")
    else:
        print("not latched: engines may open positions")
        if latch.fired_ms:
            print(f"last fired {_when(latch.fired_ms)} by {latch.fired_by}: {latch.reason}")
            print(f"reset {_when(latch.reset_ms)} by {latch.reset_by}")


def status(loaded: Any, args: argparse.Namespace) -> int:
    s = loaded.settings
    path = killswitch.latch_path(s)
    latch = killswitch.read_latch(path, killswitch.account_key(s))
    _print(latch, path, args.json)
    return 1 if latch.latched else 0


def reset(loaded: Any, args: argparse.Namespace) -> int:
    s = loaded.settings
    path = killswitch.latch_path(s)
    before = killswitch.read_latch(path, killswitch.account_key(s))
    if not before.latched and not args.json:
        print("not latched; nothing to reset")
        return 0
    latch = killswitch.reset(path, killswitch.account_key(s), f"cli:{getpass.getuser()}@{socket.gethostname()}")
    _print(latch, path, args.json)
    return 0
