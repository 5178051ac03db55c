"""Venue profiles: where each operation goes, how it is signed, how conditional orders travel.

A profile is data, chosen per account (ASTER_VENUE_PROFILE today). The client
looks every path up here and asks the profile how to sign and route; nothing
outside `mraster/exchange` knows which venue it talks to.

    aster-v1      Aster's V1 ("legacy") API: HMAC + API key, /fapi/v1|v2|v4 paths, conditional
                  orders on the order endpoint (today's behaviour).
    aster-v3      Aster's V3 API: EIP-712 signatures of an API wallet (agent), nonces in µs,
                  /fapi/v3/... for every call (market data and listenKey included; listenKey
                  calls are signed), conditional orders on the order endpoint.
    binance-usdm  Binance USD-M: HMAC + API key like V1, but STOP/TAKE_PROFIT/TRAILING orders go
                  to the Algo Service (/fapi/v1/algoOrder, renamed fields) and come back as
                  ALGO_UPDATE events; the regular order endpoint refuses them with -4120.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Mapping
from urllib.parse import urlparse

# operation names (the keys of `VenueProfile.paths`)
TIME, EXCHANGE_INFO, KLINES = "time", "exchange_info", "klines"
BOOK_TICKER, PREMIUM_INDEX, TICKER_24H, DEPTH, AGG_TRADES = (
    "book_ticker", "premium_index", "ticker_24h", "depth", "agg_trades")
BALANCE, POSITION_RISK, OPEN_ORDERS, ORDER, ALL_OPEN_ORDERS = (
    "balance", "position_risk", "open_orders", "order", "all_open_orders")
LEVERAGE, MARGIN_TYPE, POSITION_SIDE_DUAL, USER_TRADES, INCOME, COMMISSION_RATE, LISTEN_KEY = (
    "leverage", "margin_type", "position_side_dual", "user_trades", "income", "commission_rate", "listen_key")
BATCH_ORDERS = "batch_orders"
LEVERAGE_BRACKET = "leverage_bracket"
COUNTDOWN_CANCEL_ALL = "countdown_cancel_all"
ALGO_ORDER, OPEN_ALGO_ORDERS, ALGO_OPEN_ORDERS = "algo_order", "open_algo_orders", "algo_open_orders"

HMAC, EIP712 = "hmac", "eip712"
ON_ORDER_ENDPOINT, VIA_ALGO_SERVICE = "order", "algo"

_V1_PATHS: dict[str, str] = {
    TIME: "/fapi/v1/time", EXCHANGE_INFO: "/fapi/v1/exchangeInfo", KLINES: "/fapi/v1/klines",
    BOOK_TICKER: "/fapi/v1/ticker/bookTicker", PREMIUM_INDEX: "/fapi/v1/premiumIndex",
    TICKER_24H: "/fapi/v1/ticker/24hr", DEPTH: "/fapi/v1/depth", AGG_TRADES: "/fapi/v1/aggTrades",
    BALANCE: "/fapi/v2/balance", POSITION_RISK: "/fapi/v2/positionRisk", OPEN_ORDERS: "/fapi/v1/openOrders",
    ORDER: "/fapi/v1/order", ALL_OPEN_ORDERS: "/fapi/v1/allOpenOrders", LEVERAGE: "/fapi/v1/leverage",
    MARGIN_TYPE: "/fapi/v1/marginType", POSITION_SIDE_DUAL: "/fapi/v1/positionSide/dual",
    USER_TRADES: "/fapi/v1/userTrades", INCOME: "/fapi/v1/income", COMMISSION_RATE: "/fapi/v1/commissionRate",
    LISTEN_KEY: "/fapi/v1/listenKey", BATCH_ORDERS: "/fapi/v1/batchOrders",
    LEVERAGE_BRACKET: "/fapi/v1/leverageBracket",
    COUNTDOWN_CANCEL_ALL: "/fapi/v1/countdownCancelAll",
}
# Every V1 operation exists under /fapi/v3/ with the same last segment(s) (aster-v3.md §1.3).
_V3_PATHS: dict[str, str] = {op: "/fapi/v3/" + path.split("/", 3)[3] for op, path in _V1_PATHS.items()}
_ALGO_PATHS: dict[str, str] = {ALGO_ORDER: "/fapi/v1/algoOrder", OPEN_ALGO_ORDERS: "/fapi/v1/openAlgoOrders",
                               ALGO_OPEN_ORDERS: "/fapi/v1/algoOpenOrders"}

# Order-endpoint parameter -> Algo Service parameter (binance-algo-orders.md §3.1).
ALGO_RENAMES: dict[str, str] = {"stopPrice": "triggerPrice", "activationPrice": "activatePrice",
                                "newClientOrderId": "clientAlgoId"}


@dataclass(frozen=True)
class VenueProfile:
    name: str
    title: str
    auth: str                               # HMAC | EIP712
    paths: Mapping[str, str]
    account_paths: tuple[str, ...]          # tried in order; a 404 moves on to the next (remembered)
    conditional_route: str = ON_ORDER_ENDPOINT
    algo_renames: Mapping[str, str] = field(default_factory=dict)
    callback_rate_max: str = "5"            # percent (trailing stops)
    hosts: tuple[str, ...] = ()             # hosts of the real venue (for the configuration check)
    docs: str = ""

    def path(self, op: str) -> str:
        try:
            return self.paths[op]
        except KeyError:
            raise KeyError(f"venue profile {self.name} has no {op!r} operation") from None

    def has(self, op: str) -> bool:
        return op in self.paths

    @property
    def uses_algo_service(self) -> bool:
        return self.conditional_route == VIA_ALGO_SERVICE

    @property
    def signs_listen_key(self) -> bool:
        """V3 listenKey calls carry a signature; V1/Binance ones only the API key."""
        return self.auth == EIP712

    @property
    def needs_api_key(self) -> bool:
        return self.auth == HMAC

    def request_problem(self, req: Any) -> str:
        """What this venue would refuse in an order request that every venue accepts otherwise."""
        rate = getattr(req, "callback_rate", None)
        if rate is not None and not (Decimal("0.1") <= Decimal(str(rate)) <= Decimal(self.callback_rate_max)):
            return f"callback rate {rate}% is outside 0.1-{self.callback_rate_max}% on {self.name}"
        return ""

    def order_paths(self) -> set[tuple[str, str]]:
        """(method, path) of calls that count against the order-rate limit."""
        out = {("POST", self.path(ORDER)), ("POST", self.path(BATCH_ORDERS))}
        if self.uses_algo_service:
            out.add(("POST", self.path(ALGO_ORDER)))
        return out

    def weight_path(self, path: str) -> str:
        """The V1 path whose documented weight applies to `path` (V3 weights equal V1's where checked)."""
        if self.auth != EIP712:
            return path
        for op, p in self.paths.items():
            if p == path and op in _V1_PATHS:
                return _V1_PATHS[op]
        return {"/fapi/v3/accountWithJoinMargin": "/fapi/v4/account", "/fapi/v3/account": "/fapi/v4/account"
                }.get(path, path)


PROFILES: dict[str, VenueProfile] = {
    "aster-v1": VenueProfile(
        "aster-v1", "Aster V1 (API key + HMAC)", HMAC, dict(_V1_PATHS),
        account_paths=("/fapi/v4/account", "/fapi/v2/account"),
        hosts=("fapi.asterdex.com", "fapi.asterdex-testnet.com"),
        docs="API key and secret (ASTER_API_KEY, ASTER_API_SECRET)"),
    "aster-v3": VenueProfile(
        "aster-v3", "Aster V3 (API wallet, EIP-712)", EIP712, dict(_V3_PATHS),
        account_paths=("/fapi/v3/accountWithJoinMargin", "/fapi/v3/account"),
        hosts=("fapi.asterdex.com", "fapi3.asterdex.com", "fapi.asterdex-testnet.com"),
        docs="API wallet: ASTER_V3_USER, ASTER_V3_SIGNER, ASTER_V3_SIGNER_KEY, ASTER_V3_NETWORK"),
    "binance-usdm": VenueProfile(
        "binance-usdm", "Binance USD-M (API key + HMAC, Algo Service)", HMAC, {**_V1_PATHS, **_ALGO_PATHS},
        account_paths=("/fapi/v2/account",), conditional_route=VIA_ALGO_SERVICE, algo_renames=dict(ALGO_RENAMES),
        callback_rate_max="20", hosts=("fapi.binance.com", "testnet.binancefuture.com", "demo-fapi.binance.com"),
        docs="API key and secret (ASTER_API_KEY, ASTER_API_SECRET)"),
}
DEFAULT_PROFILE = "aster-v1"
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)


def get_profile(name: str | None) -> VenueProfile:
    key = (name or DEFAULT_PROFILE).strip().lower().replace("_", "-")
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown venue profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}") from None


def profile_for_host(url: str) -> list[str]:
    """Names of the profiles whose real venue lives at `url`'s host (empty for local/unknown hosts)."""
    host = (urlparse(url).hostname or "").lower()
    return [p.name for p in PROFILES.values() if host in p.hosts]


def exchange_info_mismatch(profile: VenueProfile, data: Any) -> str:
    """A sign in exchangeInfo that the venue is not the profile's (binance-algo-orders.md §9.3): Aster lists
    MAX_NUM_ALGO_ORDERS on its symbols, Binance removed it when conditional orders moved to the Algo
    Service. Either mismatch leaves brackets refused (-4120 on Binance, 404 for algoOrder on Aster)."""
    symbols = data.get("symbols") if isinstance(data, dict) else None
    if not symbols:
        return ""
    has_filter = any(isinstance(f, dict) and f.get("filterType") == "MAX_NUM_ALGO_ORDERS"
                     for sym in symbols if isinstance(sym, dict) for f in sym.get("filters") or ())
    if profile.uses_algo_service and has_filter:
        return (f"the venue lists MAX_NUM_ALGO_ORDERS like Aster, but ASTER_VENUE_PROFILE={profile.name} sends "
                "stops and take-profits to Binance's Algo Service")
    if not profile.uses_algo_service and not has_filter:
        return (f"the venue lists no MAX_NUM_ALGO_ORDERS filter, like Binance since its conditional orders moved to "
                f"the Algo Service, but ASTER_VENUE_PROFILE={profile.name} places them on the order endpoint")
    return ""
