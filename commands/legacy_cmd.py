"""`mraster import-legacy --state FILE [--policy FILE]`: bring the files of the original scripts over.

What the original `aster_multi_bot.py` kept in its `aster_state.json` (a plain JSON object):
  live_trades      {SYMBOL: {entry, sl, tp, side BUY|SELL, qty, ctx, bucket, atr_abs, opened_at (unix s)}}
  trade_history    [{symbol, side, qty, entry, exit, pnl, pnl_r, opened_at, closed_at, bucket, context}]
  fast_tp_cooldown, policy, ai_activity, decision_stats, ...   (runtime details, not carried over)
becomes a mraster state file (docs/state.md): each live trade an open trade with its stop and take-profit
levels (marked adopted: the bot and guard protect it, and the policy, which never saw its entry, is not
credited with it), each history row a closed trade. The first start of the bot reconciles them against
the venue: a position that is gone is closed into the history, one that is there keeps its levels.

The original's learned policy (`policy` inside its state file, or a file of its `BanditPolicy.to_dict()`:
`gate` / `size` LinUCB matrices over its own feature list) cannot be carried over: its features (adx,
oracle_gap, supertrend, sentinel scores, ...) are not the ones mraster's policy learns on, so its numbers
would mean something else here. The command says so and exits 2. A policy file written by mraster itself
(format mraster-policy) is imported as it is.

The stop and take-profit levels of open trades are snapped to each symbol's tick grid (the stop away
from the entry, never tighter; the take-profit toward it), from the symbol rules of the configured
venue (its public exchangeInfo) or of an exchangeInfo file given with --rules: the original stored
floats such as 2.4816000000000003, and a level off the grid would be refused by the venue when the
bot re-places the brackets. A symbol the venue does not list is refused (wrong venue configured?).

Every input is read and checked before anything is written; the inputs are never changed; outputs are
written atomically and an existing output is only replaced with --force (the old one kept next to it).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from mraster.domain.ids import trade_id_for_entry
from mraster.state.model import EXIT_REASONS, BotState, Trade
from mraster.storage.atomic import write_json_atomic

EXIT_OK, EXIT_BAD_INPUT = 0, 2
LEGACY_NOTE = "imported from the original aster_multi_bot.py state"


class LegacyFormatError(ValueError):
    """The file is not in a format this command can import (the message says what was found)."""


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("import-legacy", help="import aster_state.json (and a policy) of the original scripts",
                       description="Convert the original bot's aster_state.json into a mraster state file "
                                   "(open trades keep their stop and take-profit levels, the history is kept). "
                                   "The input files are never changed.")
    p.add_argument("--state", required=True, metavar="FILE", help="the original bot's aster_state.json")
    p.add_argument("--policy", metavar="FILE", help="a learned policy file to import (see docs)")
    p.add_argument("--out", metavar="FILE", help="state file to write (default: ASTER_STATE_FILE)")
    p.add_argument("--rules", metavar="FILE",
                   help="exchangeInfo JSON with the symbols' tick sizes (default: read from the configured venue)")
    p.add_argument("--force", action="store_true", help="replace existing output files (kept as *.bak-<time>)")
    common(p)
    p.set_defaults(handler=run)


def _num(value: Any, name: str) -> Decimal:
    try:
        out = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise LegacyFormatError(f"{name}: {value!r} is not a number") from None
    if not out.is_finite():
        raise LegacyFormatError(f"{name}: {value!r} is not a finite number")
    return out


def _opt_num(value: Any, name: str) -> Decimal | None:
    return None if value is None or value == "" else _num(value, name)


def _side(value: Any, name: str) -> str:
    text = str(value).upper()
    if text in ("BUY", "LONG"):
        return "LONG"
    if text in ("SELL", "SHORT"):
        return "SHORT"
    raise LegacyFormatError(f"{name}: side {value!r} is neither BUY nor SELL")


def _ms(seconds: Any, name: str) -> int:
    return int(_num(seconds, name) * 1000) if seconds not in (None, "") else 0


def open_trade(symbol: str, rec: Any) -> Trade:
    where = f"live_trades.{symbol}"
    if not isinstance(rec, dict):
        raise LegacyFormatError(f"{where}: expected an object, found {type(rec).__name__}")
    for key in ("entry", "sl", "side", "qty"):
        if key not in rec:
            raise LegacyFormatError(f"{where}: missing {key!r}")
    entry, stop = _num(rec["entry"], f"{where}.entry"), _num(rec["sl"], f"{where}.sl")
    qty = _num(rec["qty"], f"{where}.qty")
    if entry <= 0 or qty <= 0:
        raise LegacyFormatError(f"{where}: entry and qty must be positive")
    opened = _ms(rec.get("opened_at"), f"{where}.opened_at")
    atr = _opt_num(rec.get("atr_abs"), f"{where}.atr_abs")
    return Trade(trade_id=trade_id_for_entry(symbol, opened or 0), symbol=symbol.upper(),
                 side=_side(rec["side"], f"{where}.side"), status="open", qty=abs(qty), entry_qty=abs(qty),
                 entry_price=entry, entry_time_ms=opened, stop_price=stop,
                 take_profit_price=_opt_num(rec.get("tp"), f"{where}.tp"), risk_per_unit=abs(entry - stop) or None,
                 atr=float(atr) if atr is not None else None, bucket=str(rec.get("bucket") or "-"), adopted=True,
                 notional=abs(qty) * entry, exit_detail="",
                 decision={"legacy": {"bucket": rec.get("bucket"), "ctx": rec.get("ctx") or {}}, "note": LEGACY_NOTE},
                 updated_ms=opened)


def closed_trade(i: int, rec: Any) -> Trade:
    where = f"trade_history[{i}]"
    if not isinstance(rec, dict) or "symbol" not in rec or "side" not in rec:
        raise LegacyFormatError(f"{where}: expected an object with symbol and side")
    symbol = str(rec["symbol"]).upper()
    opened = _ms(rec.get("opened_at"), f"{where}.opened_at")
    closed = _ms(rec.get("closed_at"), f"{where}.closed_at")
    entry, exit_ = _opt_num(rec.get("entry"), f"{where}.entry"), _opt_num(rec.get("exit"), f"{where}.exit")
    qty = _opt_num(rec.get("qty"), f"{where}.qty")
    reason = str(rec.get("exit_reason") or "unknown")
    r = rec.get("pnl_r")
    return Trade(trade_id=trade_id_for_entry(symbol, opened or i), symbol=symbol, side=_side(rec["side"], where),
                 status="closed", qty=Decimal(0), entry_qty=abs(qty) if qty is not None else None, entry_price=entry,
                 entry_time_ms=opened, exit_price=exit_, exit_time_ms=closed,
                 exit_reason=reason if reason in EXIT_REASONS else "unknown",
                 exit_detail=f"{LEGACY_NOTE}; PnL as the original bot estimated it (mid price at exit, no fees)",
                 realized_pnl=_opt_num(rec.get("pnl"), f"{where}.pnl"), fees=None, funding=None,
                 r_multiple=float(_num(r, f"{where}.pnl_r")) if r is not None else None,
                 bucket=str(rec.get("bucket") or "-"), adopted=True,
                 decision={"legacy": {"context": rec.get("context") or {}}, "note": LEGACY_NOTE}, updated_ms=closed)


def convert_state(doc: Any, history_max: int = 100000) -> tuple[BotState, list[str]]:
    """The mraster state for an original `aster_state.json` document, and notes on what was left out."""
    if not isinstance(doc, dict):
        raise LegacyFormatError(f"expected a JSON object, found {type(doc).__name__}")
    if "schema_version" in doc and "open_trades" in doc:
        raise LegacyFormatError("this is already a mraster state file; nothing to import")
    live, history = doc.get("live_trades"), doc.get("trade_history")
    if live is None and history is None:
        raise LegacyFormatError("not a state file of the original bot: it has neither 'live_trades' nor "
                                f"'trade_history' (keys: {', '.join(sorted(map(str, doc))[:12]) or 'none'})")
    if live is not None and not isinstance(live, dict):
        raise LegacyFormatError(f"'live_trades' should map symbols to trades, found {type(live).__name__}")
    if history is not None and not isinstance(history, list):
        raise LegacyFormatError(f"'trade_history' should be a list, found {type(history).__name__}")
    state = BotState(mode="live")
    for symbol, rec in (live or {}).items():
        t = open_trade(str(symbol), rec)
        state.open_trades[t.trade_id] = t
    closed = [closed_trade(i, rec) for i, rec in enumerate(history or [])]
    state.closed_trades = closed[-history_max:]
    notes = [f"{len(state.open_trades)} open trade(s) and {len(state.closed_trades)} closed trade(s) imported"]
    if "policy" in doc:
        notes.append("the policy embedded in the state file was not imported (learned on the original's features; "
                     "see README, 'Coming from the original scripts')")
    skipped = sorted(k for k in doc if k not in ("live_trades", "trade_history", "policy"))
    if skipped:
        notes.append("not carried over (runtime details of the original): " + ", ".join(skipped))
    return state, notes


def snap_levels(state: BotState, rules: dict[str, Any]) -> None:
    """Stop and take-profit of every open trade on its symbol's tick grid (stop away from the entry,
    take-profit toward it, as mraster.domain.brackets rounds them)."""
    missing = sorted({t.symbol for t in state.open_trades.values() if t.symbol not in rules})
    if missing:
        raise LegacyFormatError(f"the venue does not list {', '.join(missing)}: is ASTER_EXCHANGE_BASE (or --rules) "
                                "the venue these trades were opened on?")
    for t in state.open_trades.values():
        r = rules[t.symbol]
        long = t.side == "LONG"
        if t.stop_price is not None:
            t.stop_price = r.round_price(t.stop_price, "down" if long else "up")
        if t.take_profit_price is not None:
            t.take_profit_price = r.round_price(t.take_profit_price, "down" if long else "up")
        if t.entry_price is not None and t.stop_price is not None:
            t.risk_per_unit = abs(t.entry_price - t.stop_price) or None


def read_rules(path: Path | None, settings: Any) -> dict[str, Any]:
    """Symbol rules from an exchangeInfo file, or from the configured venue's public exchangeInfo."""
    from mraster.exchange import wire
    if path is not None:
        try:
            return wire.parse("exchangeInfo file", wire.exchange_info, _read_json(path, "rules file"))[0]
        except LegacyFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - a malformed file: say so
            raise LegacyFormatError(f"rules file {path}: not an exchangeInfo document ({exc})") from None
    import asyncio

    from mraster.exchange.factory import make_exchange

    async def fetch() -> dict[str, Any]:
        ex = make_exchange(settings)
        try:
            return await ex.symbol_rules()
        finally:
            await ex.close()
    try:
        return asyncio.run(fetch())
    except Exception as exc:  # noqa: BLE001 - unreachable venue, refused request: say which and what to do
        raise LegacyFormatError(f"the symbol rules could not be read from the venue ({type(exc).__name__}: {exc}); "
                                "pass an exchangeInfo file with --rules") from None


def check_policy(doc: Any, cfg: Any) -> None:
    """Raise LegacyFormatError unless `doc` is a policy mraster can use as it is."""
    if isinstance(doc, dict) and "live_trades" in doc and isinstance(doc.get("policy"), dict):
        doc = doc["policy"]
    if isinstance(doc, dict) and ("gate" in doc or "size" in doc):
        raise LegacyFormatError(
            "this is the original bot's LinUCB policy (gate/size matrices over its own features such as adx, "
            "oracle_gap, supertrend and sentinel scores); mraster's policy learns on different features "
            "(docs/policy.md), so these numbers cannot be carried over. Start fresh: the policy learns from "
            "the bot's own trades (in shadow mode while ASTER_BANDIT_ENABLED=false).")
    from ml_policy.persistence import from_document
    try:
        from_document(doc, cfg)
    except Exception as exc:  # noqa: BLE001 - any problem means: not importable, say which
        raise LegacyFormatError(f"not a policy file this version can read ({type(exc).__name__}: {exc})") from None


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise LegacyFormatError(f"{what} {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LegacyFormatError(f"{what} {path}: not JSON ({exc})") from None


def _check_room(paths: list[Path], force: bool) -> None:
    for path in paths:
        if path.exists() and not force:
            raise LegacyFormatError(f"{path} already exists (is the bot running on it?); use --force to replace "
                                    "it (it is kept as a backup)")


def _back_up(path: Path) -> None:
    if path.exists():
        shutil.copy2(path, path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%dT%H%M%S')}"))


def run(loaded: Any, args: argparse.Namespace) -> int:
    s = loaded.settings
    out = Path(args.out) if args.out else Path(s.state_file)
    try:
        state, notes = convert_state(_read_json(Path(args.state), "state file"), int(s.history_max))
        if state.open_trades:
            snap_levels(state, read_rules(Path(args.rules) if args.rules else None, s))
        policy_doc = None
        if args.policy:
            from ml_policy import PolicyConfig
            from ml_policy.persistence import policy_path_for
            policy_doc = _read_json(Path(args.policy), "policy file")
            check_policy(policy_doc, PolicyConfig.from_settings(s))
            policy_out = Path(policy_path_for(str(out)))
        if Path(args.state).resolve() == out.resolve():
            raise LegacyFormatError("--out must differ from --state: the original file stays untouched")
        _check_room([out] + ([policy_out] if policy_doc is not None else []), args.force)
    except LegacyFormatError as exc:
        print(f"mraster import-legacy: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _back_up(out)
    write_json_atomic(out, state.to_json(), indent=1)
    print(f"state written to {out}")
    if policy_doc is not None:
        _back_up(policy_out)
        write_json_atomic(policy_out, policy_doc)
        print(f"policy written to {policy_out}")
    for note in notes:
        print(f"  {note}")
    return EXIT_OK
