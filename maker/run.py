"""Process entry points of `mraster maker ...`: build the pieces from the configuration and run them."""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import httpx

from mraster.domain.signed import headers
from mraster.engines import InstanceError
from mraster.exchange.factory import make_exchange
from mraster.exchange.market_cache import MarketCache
from mraster.logs import get_logger, settings_secrets, setup_logging

from maker.config import MakerConfig, load_config
from maker.logic import SERVERS, Book

log = get_logger("maker.run")
EXIT_CONFIG = 2
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _config(loaded: Any, args: Any) -> MakerConfig:
    cfg = load_config(loaded, getattr(args, "instance", None))
    overrides = {}
    if getattr(args, "strategy", None):
        overrides["strategy"] = args.strategy
    for server in SERVERS:
        url = getattr(args, f"server_{server.lower()}", None)
        if url:
            overrides[f"SERVER_{server}_URL"] = url
    cfg.values.update(overrides)
    return cfg


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    return stop


# ---------------------------------------------------------------------- executor
def run_executor(loaded: Any, args: Any) -> int:
    import uvicorn

    from maker import stats as st
    from maker.executor import ExecutorService, app_for

    try:
        cfg = _config(loaded, args)
        server = cfg.server_of_account(args.account.upper())
    except (InstanceError, ValueError) as exc:
        print(f"mraster maker executor: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = cfg.settings_of(server)
    setup_logging(f"maker-{server.lower()}", settings.loglevel, settings.log_dir,
                  secrets=[*settings_secrets(settings), cfg.secret])
    url = urlparse(cfg.url_of(server))
    host = args.host or url.hostname or "127.0.0.1"
    port = args.port if args.port is not None else (url.port or 8081)
    if not cfg.secret and host not in LOOPBACK:
        print(f"mraster maker executor: binding to {host} needs MAKER_HMAC_SECRET (in .env); without a shared "
              "secret the executor listens on loopback only", file=sys.stderr)
        return EXIT_CONFIG
    attempts = int(cfg.values["venue_attempts"])
    exchange = make_exchange(settings, retries=attempts - 1, timeout_s=min(float(settings.http_timeout), 5.0))
    v = cfg.values
    service: ExecutorService

    async def stats_fn(hours: float) -> dict[str, Any]:
        s = await st.collect(exchange, cfg.symbol, server, cfg.journal_path(server), hours, exchange.now_ms())
        return s.to_json()

    service = ExecutorService(
        exchange, server=server, instance=cfg.instance, symbol=cfg.symbol, max_usd=cfg.max_usd(server),
        secret=cfg.secret, journal_path=cfg.journal_path(server), silence_s=float(v["coordinator_timeout"]),
        max_age_s=float(v["instruction_max_age"]), default_expire_s=float(v["maker_expire_seconds"]),
        leverage=int(v["leverage"]), stats=stats_fn, max_usd_fn=lambda: _fresh_max(loaded, cfg, server),
        countdown_s=float(v["venue_countdown_s"]), gate=_gate(cfg, server, settings, exchange))

    async def main() -> int:
        stop = _stop_event()
        await service.start()
        config = uvicorn.Config(app_for(service), host=host, port=port, log_level="warning", lifespan="off")
        server_ = uvicorn.Server(config)
        server_.install_signal_handlers = lambda: None      # type: ignore[method-assign]
        serving = asyncio.create_task(server_.serve())
        log.info("maker.executor_up", f"executor {server} ({cfg.account_of(server)}) on {host}:{port}, "
                 f"instance {cfg.instance}, {'signed' if cfg.secret else 'loopback, unsigned'} instructions",
                 server=server, port=port)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({serving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        server_.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
        waiter.cancel()
        await service.close()
        await exchange.close()
        return 0 if not serving.done() or serving.exception() is None else 1

    return asyncio.run(main())


def _gate(cfg: MakerConfig, server: str, settings: Any, exchange: Any) -> Any:
    """The kernel's risk gate for this executor's account. A position on the maker's symbol is the maker's
    unless another instance claims it (the executor owns its account; on a server of its own there is no
    coordinator status file to claim it)."""
    from pathlib import Path

    from mraster.engines import instances_file, load_instances
    from mraster.engines.owners import AccountOwners
    from mraster.safety.gate import RiskGate

    account = cfg.account_of(server)
    try:
        instances = load_instances(instances_file(Path(settings.config_file)))
    except Exception:
        instances = []
    instances = [i for i in instances if i.name != cfg.instance] + [cfg.resolved.instance]
    owners = AccountOwners(Path(settings.run_dir), account, instances)

    def owner_of(p: Any) -> str | None:
        claimed = owners.owner_of_position(p)
        return claimed or (cfg.instance if p.symbol == cfg.symbol else None)
    return RiskGate(settings, exchange, owner_of=owner_of)


def _fresh_max(loaded: Any, cfg: MakerConfig, server: str) -> Decimal:
    """The executor's maximum as the instance says now (engines.json edits apply within a reconcile)."""
    try:
        return load_config(loaded, cfg.instance).max_usd(server)
    except Exception:
        return cfg.max_usd(server)


# ---------------------------------------------------------------------- coordinator
def run_coordinator(loaded: Any, args: Any) -> int:
    from maker.coordinator import Coordinator

    try:
        cfg = _config(loaded, args)
    except (InstanceError, ValueError) as exc:
        print(f"mraster maker coordinator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = cfg.settings_of("A")
    setup_logging("maker-coordinator", settings.loglevel, settings.log_dir,
                  secrets=[*settings_secrets(settings), cfg.secret])
    exchange = make_exchange(settings)
    fixed = dict(strategy=cfg.values["strategy"], urls={s: cfg.url_of(s) for s in SERVERS})

    def values() -> dict[str, Any]:
        """Parameters are read again every round: an edit in the dashboard applies without a restart."""
        try:
            fresh = load_config(loaded, cfg.instance).values
            fresh.update(strategy=fixed["strategy"])
            return fresh
        except Exception:
            return cfg.values

    async def main() -> int:
        stop = _stop_event()
        rules = (await exchange.symbol_rules()).get(cfg.symbol)
        if rules is None:
            print(f"mraster maker coordinator: {cfg.symbol} is not listed by the venue", file=sys.stderr)
            await exchange.close()
            return EXIT_CONFIG
        cache = MarketCache(exchange, [cfg.symbol])
        await cache.start()
        current = {"v": cfg.values}

        def book() -> Book | None:
            """The touch from the fresher of bookTicker and depth5 (both kept by the live market cache);
            None when neither is younger than 15 s of venue time."""
            snap = cache.snapshot(cfg.symbol)
            now = cache.venue_now_ms()
            quotes = []
            if snap.latest_bbo is not None:
                b = snap.latest_bbo
                quotes.append((b.time, b.bid_price, b.ask_price))
            if snap.latest_l2 is not None and snap.latest_l2.bids and snap.latest_l2.asks:
                d = snap.latest_l2
                quotes.append((d.event_time, d.bids[0][0], d.asks[0][0]))
            fresh = [q for q in quotes if not q[0] or now - q[0] <= 15_000]
            if not fresh:
                return None
            _, bid, ask = max(fresh, key=lambda q: q[0])
            return Book(Decimal(str(bid)), Decimal(str(ask)), rules.tick_size, rules.step_size)

        def params() -> Any:
            return MakerConfig(cfg.resolved, cfg.secret, current["v"]).params()

        coordinator = Coordinator(
            instance=cfg.instance, urls=fixed["urls"], secret=cfg.secret, params=params,
            max_usd=lambda s: Decimal(str(current["v"][f"MAX_POSITION_{s}_USD"])), book=book,
            interval=lambda: float(current["v"]["decision_interval"]), status_path=cfg.resolved.status_path,
            state_path=cfg.resolved.state_path, seed=getattr(args, "seed", None),
            claims=tuple((cfg.account_of(s), cfg.symbol, "BOTH") for s in SERVERS),
            account=cfg.resolved.instance.account_for("coordinator"))

        async def reload() -> None:
            while not stop.is_set():
                await asyncio.sleep(5.0)
                current["v"] = values()

        reloader = asyncio.create_task(reload())
        log.info("maker.coordinator_up", f"coordinator {cfg.instance}: strategy {fixed['strategy']}, executors "
                 f"{fixed['urls']['B']} and {fixed['urls']['C']}")
        await coordinator.run(stop)
        reloader.cancel()
        await cache.close()
        await exchange.close()
        return 0

    return asyncio.run(main())


# ---------------------------------------------------------------------- stats, stop, reset
def run_stats(loaded: Any, args: Any) -> int:
    from maker import stats as st

    try:
        cfg = _config(loaded, args)
    except (InstanceError, ValueError) as exc:
        print(f"mraster maker stats: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    servers = [s.strip().upper() for s in (args.servers or "B,C").split(",") if s.strip()]
    bad = [s for s in servers if s not in SERVERS]
    if bad:
        print(f"mraster maker stats: --servers: B and/or C, not {', '.join(bad)}", file=sys.stderr)
        return EXIT_CONFIG

    async def one(server: str) -> dict[str, Any]:
        if args.via_executors:
            async with httpx.AsyncClient(timeout=30.0) as http:
                resp = await http.get(f"{cfg.url_of(server)}/stats", params={"hours": args.hours})
                data: dict[str, Any] = resp.json()
                return data
        exchange = make_exchange(cfg.settings_of(server))
        try:
            await exchange.sync_time()          # the window is judged on the venue's clock
            s = await st.collect(exchange, cfg.symbol, server, cfg.journal_path(server), args.hours, exchange.now_ms())
            return s.to_json()
        finally:
            await exchange.close()

    async def main() -> list[dict[str, Any]]:
        return [await one(s) for s in servers]

    try:
        results = asyncio.run(main())
    except Exception as exc:
        print(f"mraster maker stats: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(st.format_stats(st.from_json(r)))
    return 0


def run_control(loaded: Any, args: Any) -> int:
    """`mraster maker stop|reset [--servers B,C]`: signed emergency stop or reset of the executors."""
    try:
        cfg = _config(loaded, args)
    except (InstanceError, ValueError) as exc:
        print(f"mraster maker {args.action}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    path = "/emergency_stop" if args.action == "stop" else "/reset"
    rc = 0
    for server in [s.strip().upper() for s in (args.servers or "B,C").split(",") if s.strip()]:
        body = json.dumps({"by": "cli"}).encode()
        try:
            resp = httpx.post(cfg.url_of(server) + path, content=body, timeout=30.0,
                              headers=headers(cfg.secret, int(time.time() * 1000), body))
            print(f"{server}: HTTP {resp.status_code} {resp.text}")
            rc |= 0 if resp.status_code == 200 else 1
        except httpx.HTTPError as exc:
            print(f"{server}: unreachable ({exc})")
            rc = 1
    return rc


# ---------------------------------------------------------------------- all three on this machine
def run_all(loaded: Any, args: Any) -> int:
    """Executors B and C and the coordinator as three child processes (what the dashboard starts as
    `python -m maker --instance <name>`). A child that dies is started again after a pause; SIGTERM stops
    the coordinator first, then the executors (which cancel nothing by themselves: their resting maker
    orders still expire, and a restarted executor cancels any order of ours it finds)."""
    import subprocess

    try:
        cfg = _config(loaded, args)
    except (InstanceError, ValueError) as exc:
        print(f"mraster maker run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = cfg.settings_of("A")
    setup_logging("maker-run", settings.loglevel, settings.log_dir, secrets=[*settings_secrets(settings), cfg.secret])
    base = [sys.executable, "-m", "commands.main", "maker"]
    common = ["--instance", cfg.instance]
    for flag, value in (("--config", getattr(args, "config", None)), ("--env-file", getattr(args, "env_file", None))):
        if value:
            common += [flag, value]
    for assign in getattr(args, "assign", []) or []:
        common += ["--set", assign]
    specs = {s: [*base, "executor", "--account", s, *common] for s in SERVERS}
    specs["coordinator"] = [*base, "coordinator", *common, *(["--strategy", args.strategy] if args.strategy else [])]
    log_dir = cfg.run_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = {"now": False}

    def start(name: str) -> None:
        out = open(log_dir / f"{cfg.instance}.{name}.out", "ab")
        procs[name] = subprocess.Popen(specs[name], stdout=out, stderr=subprocess.STDOUT)
        out.close()
        log.info("maker.child", f"{name} started (pid {procs[name].pid})", child=name, pid=procs[name].pid)

    def stop(*_: Any) -> None:
        stopping["now"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for name in ("B", "C", "coordinator"):
        start(name)
    while not stopping["now"]:
        time.sleep(0.5)
        for name, proc in list(procs.items()):
            if proc.poll() is not None and not stopping["now"]:
                log.warning("maker.child_exit", f"{name} exited with {proc.returncode}; starting it again",
                            child=name, code=proc.returncode)
                time.sleep(1.0)
                start(name)
    for name in ("coordinator", "B", "C"):
        proc = procs[name]
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0
