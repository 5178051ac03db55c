"""The bot's state file (`ASTER_STATE_FILE`, aster_state.json): versioned schema.

Writer: the bot. Readers: the guard (intended stop/take-profit levels per
position), the dashboard (everything). The layout is documented field by field
in docs/state.md; bump SCHEMA_VERSION on any incompatible change.
Money and quantities are stored as decimal strings, times as venue ms.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

SCHEMA_VERSION = 1
TRADE_STATUSES = ("pending", "open", "closed")
EXIT_REASONS = ("stop", "take_profit", "fasttp", "trailing", "liquidation", "manual", "kill", "closed",
                "adl", "unknown")


def _dec(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name}: {value!r} is not a decimal number") from None


@dataclass
class Trade:
    """One position the bot (or the guard, by adoption) is responsible for."""
    trade_id: str
    symbol: str
    side: str                                  # "LONG" or "SHORT"
    status: str = "pending"                    # pending -> open -> closed
    position_side: str = "BOTH"
    qty: Decimal | None = None                 # current open quantity
    entry_price: Decimal | None = None
    entry_time_ms: int = 0
    stop_price: Decimal | None = None          # intended protective stop level
    take_profit_price: Decimal | None = None   # intended take-profit level
    trailing_callback: Decimal | None = None   # percent, when the strategy chose a trailing stop
    trailing_activation: Decimal | None = None
    atr: float | None = None
    risk_per_unit: Decimal | None = None       # |entry - initial stop|: the denominator of R
    bucket: str = "M"
    size_mult: float = 1.0
    leverage: int = 1
    notional: Decimal | None = None
    adopted: bool = False                      # found on the venue, not opened by this bot
    client_ids: dict[str, str] = field(default_factory=dict)  # role value -> client order id
    order_ids: dict[str, int] = field(default_factory=dict)   # role value -> venue order id
    context: dict[str, Any] = field(default_factory=dict)     # features the policy saw
    decision: dict[str, Any] = field(default_factory=dict)    # policy scores at entry
    fasttp_count: int = 0
    exit_price: Decimal | None = None
    exit_time_ms: int = 0
    exit_reason: str = ""
    realized_pnl: Decimal | None = None       # gross of fees, from the venue's fills
    fees: Decimal | None = None
    funding: Decimal | None = None
    r_multiple: float | None = None            # net PnL / (risk_per_unit * entry qty)
    # --- added in schema 1 (optional; older files load with the defaults)
    entry_qty: Decimal | None = None           # quantity filled at entry (the R denominator uses it)
    exit_detail: str = ""                      # how the exit reason was found (order, fill, venue text)
    updated_ms: int = 0                        # venue time of the last change to this trade
    close_requested: str = ""                  # why a market close was wanted but the venue is not flat yet:
                                               # the trade stays open and the close is retried every cycle
    entry_sent_wall_ms: int = 0                # local wall ms the entry was first sent (pending resolution)

    _DECIMALS = ("qty", "entry_price", "stop_price", "take_profit_price", "trailing_callback",
                 "trailing_activation", "risk_per_unit", "notional", "exit_price", "realized_pnl", "fees",
                 "funding", "entry_qty")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for name in self._DECIMALS:
            v = out.get(name)
            out[name] = None if v is None else str(v)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Trade":
        if not isinstance(data, dict):
            raise ValueError("trade must be an object")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in ("trade_id", "symbol", "side"):
            if not isinstance(kwargs.get(name), str) or not kwargs[name]:
                raise ValueError(f"trade field {name} missing or not text")
        if kwargs["side"] not in ("LONG", "SHORT"):
            raise ValueError(f"trade {kwargs['trade_id']}: side must be LONG or SHORT")
        if kwargs.get("status", "pending") not in TRADE_STATUSES:
            raise ValueError(f"trade {kwargs['trade_id']}: bad status {kwargs.get('status')!r}")
        for name in cls._DECIMALS:
            if name in kwargs:
                kwargs[name] = _dec(kwargs[name], name)
        return cls(**kwargs)

    @property
    def is_long(self) -> bool:
        return self.side == "LONG"


@dataclass
class BotState:
    schema_version: int = SCHEMA_VERSION
    updated_ms: int = 0            # venue time of the last write
    heartbeat_ms: int = 0          # venue time the loop last finished a step
    pid: int = 0
    mode: str = "paper"            # "paper" or "live"
    feed: str = ""                 # market feed in use (paper exchange reports it)
    cycle: int = 0
    equity: dict[str, str] = field(default_factory=dict)          # wallet, margin_balance, available, upnl
    equity_curve: list[list[float]] = field(default_factory=list)  # [[time_ms, equity], ...] bounded
    open_trades: dict[str, Trade] = field(default_factory=dict)   # trade_id -> Trade
    closed_trades: list[Trade] = field(default_factory=list)      # newest last, ASTER_HISTORY_MAX kept
    fasttp_cooldowns: dict[str, int] = field(default_factory=dict)  # symbol -> venue ms of last action
    policy: dict[str, Any] = field(default_factory=dict)          # arm statistics summary
    ai_hints: dict[str, Any] = field(default_factory=dict)        # alpha model hints
    last_scan: dict[str, Any] = field(default_factory=dict)       # summary + per-symbol decision/reason
    client: dict[str, Any] = field(default_factory=dict)          # request weight, staleness, ban
    pending_restart: list[str] = field(default_factory=list)      # changed settings needing restart
    notices: list[dict[str, Any]] = field(default_factory=list)   # recent warnings for the dashboard
    # --- added in schema 1 (optional; older files load with the defaults)
    heartbeat_wall_ms: int = 0     # local wall clock of the last heartbeat (for "is the bot alive")
    started_ms: int = 0            # venue time the running process started
    universe: list[str] = field(default_factory=list)             # symbols scanned in the last cycle
    symbol_setup: dict[str, dict[str, Any]] = field(default_factory=dict)  # symbol -> {leverage, margin_type}
    paper: dict[str, Any] = field(default_factory=dict)           # GET /paper/info of the paper exchange
    disk_problem: str = ""         # why the state file or journal could not be written ("" = fine): no entries

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["open_trades"] = {k: t.to_json() for k, t in self.open_trades.items()}
        out["closed_trades"] = [t.to_json() for t in self.closed_trades]
        return out

    @classmethod
    def from_json(cls, data: Any) -> "BotState":
        """Strict parse: raises ValueError on anything that does not fit (the store quarantines it)."""
        if not isinstance(data, dict):
            raise ValueError("state must be a JSON object")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported state schema_version {version!r} (expected {SCHEMA_VERSION})")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        opened = kwargs.get("open_trades", {})
        closed = kwargs.get("closed_trades", [])
        if not isinstance(opened, dict) or not isinstance(closed, list):
            raise ValueError("open_trades must be an object and closed_trades a list")
        kwargs["open_trades"] = {k: Trade.from_json(v) for k, v in opened.items()}
        kwargs["closed_trades"] = [Trade.from_json(v) for v in closed]
        cooldowns = kwargs.get("fasttp_cooldowns", {})
        if not isinstance(cooldowns, dict) or not all(isinstance(v, (int, float)) for v in cooldowns.values()):
            raise ValueError("fasttp_cooldowns must map symbols to times")
        return cls(**kwargs)

    def open_trade_for(self, symbol: str) -> Trade | None:
        for trade in self.open_trades.values():
            if trade.symbol == symbol and trade.status != "closed":
                return trade
        return None
