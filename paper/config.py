"""The paper exchange's own configuration, resolved once from Settings and CLI flags."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mraster.exchange.v3sign import CHAIN_IDS, address_of, is_address

DEFAULT_KEY = "paper-key"          # the project's client uses this pair when the user configured none
DEFAULT_SECRET = "paper-secret"


# Seed 003's fees (maker 0.01 %, taker 0.035 %) for the paper accounts of its named accounts A, B and C
# (`paper-a`, `paper-b`, `paper-c`, see mraster/accounts.py); POST /admin/fees sets another pair.
SEED_003_FEES = (Decimal("0.0001"), Decimal("0.00035"))
SEED_003_KEYS = ("paper-a", "paper-b", "paper-c")


@dataclass(frozen=True)
class PaperConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    feed: str = "synthetic"
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    seed: int = 42
    speed: float = 1.0
    balance: Decimal = Decimal("10000")
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0004")
    db_path: Path = Path("paper_exchange.sqlite")
    admin: bool = False
    api_key: str = ""
    api_secret: str = ""
    exchange_base: str = "https://fapi.asterdex.com"
    ws_base: str = "wss://fstream.asterdex.com"
    faults: str = ""
    reset: bool = False
    run_dir: Path | None = None
    funding_hours: int = 8
    warm_intervals: tuple[str, ...] = ()   # kline intervals synthesised at start (the bot's two)
    warm_bars: int = 0
    profile: str = "aster-v1"             # profiles.py: aster-v1, aster-v3, binance-usdm
    chain_id: int = 1666                  # EIP-712 chain id of V3 signatures (ASTER_V3_NETWORK: 1666 / 714)
    nonce_window_s: float = 60.0          # V3 nonces must be within this of venue time
    agents: str = ""                      # V3 agents registered at start: "user:agent[,user:agent...]"
    account_pairs: tuple[tuple[str, str], ...] = ()   # named accounts' keys, accepted next to a fixed key
    weight_limit: int = 2400              # request weight per minute announced in exchangeInfo
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fixed_key(self) -> bool:
        """True when only the configured key pair is accepted."""
        return bool(self.api_key)

    def known_pairs(self) -> dict[str, str]:
        """Key -> secret pairs whose signatures are verified (see auth.py)."""
        if self.api_key:
            return {**dict(self.account_pairs), self.api_key: self.api_secret}
        return {DEFAULT_KEY: DEFAULT_SECRET}


def from_settings(settings: Any, args: Any = None) -> PaperConfig:
    """Build the config from Settings plus the `mraster paper-exchange` flags (flags win)."""
    url = urlsplit(settings.paper_url)
    host = getattr(args, "host", None) or url.hostname or "127.0.0.1"
    port = getattr(args, "port", None)
    if port is None:
        port = url.port or 8765
    return PaperConfig(
        host=host, port=int(port), feed=settings.paper_feed, symbols=tuple(settings.paper_symbols),
        seed=int(settings.paper_seed), speed=float(settings.paper_speed),
        balance=Decimal(repr(float(settings.paper_balance))),
        maker_fee=Decimal(repr(float(settings.paper_maker_fee))),
        taker_fee=Decimal(repr(float(settings.paper_taker_fee))),
        db_path=Path(settings.paper_db), admin=bool(settings.paper_admin),
        api_key=settings.paper_api_key or "", api_secret=settings.paper_api_secret or "",
        exchange_base=settings.exchange_base, ws_base=settings.ws_base,
        faults=getattr(args, "faults", None) or "", reset=bool(getattr(args, "reset", False)),
        run_dir=Path(settings.run_dir), funding_hours=int(getattr(settings, "paper_funding_hours", 8)),
        warm_intervals=tuple(dict.fromkeys((settings.interval, settings.htf_interval))),
        warm_bars=int(settings.klines) + 1,
        profile=getattr(args, "profile", None) or getattr(settings, "venue_profile", "aster-v1"),
        chain_id=CHAIN_IDS.get(getattr(settings, "v3_network", "mainnet") or "mainnet", 1666),
        nonce_window_s=float(getattr(settings, "paper_nonce_window", 60.0)),
        agents=",".join(x for x in (str(getattr(settings, "paper_agents", "") or ""), _account_agent(settings)) if x),
        account_pairs=_account_pairs(settings),
        weight_limit=int(getattr(settings, "paper_weight_limit", 2400)),
    )


def _account_pairs(settings: Any) -> tuple[tuple[str, str], ...]:
    """Key pairs of the named accounts (ASTER_ACCOUNTS, ASTER_<N>_KEY): each trades as its own paper account,
    also when the exchange was started with a fixed ASTER_PAPER_API_KEY (which otherwise admits one key)."""
    from mraster.accounts import DEFAULT_ACCOUNT, AccountError, account_env, load_accounts, settings_for_account
    try:
        accounts = load_accounts(account_env(getattr(settings, "dotenv_file", None)))
    except AccountError:
        return ()          # the engines report a wrong declaration; the exchange still serves the main key
    pairs = []
    as_paper = settings.with_values(paper=True)      # what the engines use against this exchange
    for name, account in accounts.items():
        if name != DEFAULT_ACCOUNT:
            s = settings_for_account(as_paper, account)
            if s.api_key and s.api_secret:
                pairs.append((s.api_key, s.api_secret))
    return tuple(pairs)


def _account_agent(settings: Any) -> str:
    """`user:agent` of the account's own API wallet (ASTER_V3_USER, ASTER_V3_SIGNER or the address of
    ASTER_V3_SIGNER_KEY), so one .env serves the bot and the paper exchange; plus the public development
    agent the client signs with in paper mode when no wallet is configured."""
    from mraster.exchange.factory import PAPER_V3_SIGNER, PAPER_V3_USER
    pairs = [f"{PAPER_V3_USER}:{PAPER_V3_SIGNER}"]
    user = getattr(settings, "v3_user", "") or ""
    signer = getattr(settings, "v3_signer", "") or ""
    if user and not signer and getattr(settings, "v3_signer_key", ""):
        try:
            signer = address_of(settings.v3_signer_key)
        except Exception:          # a bad key is the client's to report (mraster config check)
            signer = ""
    if is_address(user) and is_address(signer):
        pairs.append(f"{user}:{signer}")
    return ",".join(pairs)
