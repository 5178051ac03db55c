"""Entry point of `mraster paper-exchange`: pick the feed, build the venue, serve it on one port.

The bound address is announced in `<ASTER_RUN_DIR>/paper_exchange.json` ({pid, host, port, url, feed}),
so a supervisor that asked for port 0 learns the port; the file is removed on a clean exit.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from mraster.aio import cancel_and_wait
from mraster.logs import get_logger, setup_logging
from mraster.storage.atomic import write_json_atomic
from paper.config import PaperConfig, from_settings
from paper.faults import FaultSpecError, parse_spec

log = get_logger("paper")
ANNOUNCE_FILE = "paper_exchange.json"


def build_app(config: PaperConfig, feed: Any) -> tuple[Any, Any]:
    """(ASGI app, venue) for a config and feed; used by `run` and by in-process tests and benchmarks."""
    from paper import admin, routes_account, routes_algo, routes_market, routes_trade, routes_v3
    from paper.market_data import MarketData
    from paper.server import PaperApp
    from paper.streams import StreamHub
    from paper.venue import Venue

    venue = Venue(config, feed)
    data = MarketData(venue)
    hub = StreamHub(venue, data)
    app = PaperApp(venue, hub)
    app.market_data = data
    routes_market.register(app, venue, data)
    routes_trade.register(app, venue, hub)
    routes_account.register(app, venue, data)
    if venue.profile.algo_service:
        routes_algo.register(app, venue)
    if venue.profile.v3_auth:
        routes_v3.register(app, venue)
    if config.admin:
        admin.register(app, venue, hub)
    return app, venue


def _server_class():
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM/SIGINT after its shutdown, which would kill the process before the venue
        persists its clock and closes its database; here the signal only asks for a graceful stop."""

        @contextlib.contextmanager
        def capture_signals(self):
            loop = asyncio.get_running_loop()
            sigs = (signal.SIGINT, signal.SIGTERM)
            for sig in sigs:
                loop.add_signal_handler(sig, self.handle_exit, sig, None)
            try:
                yield
            finally:
                for sig in sigs:
                    loop.remove_signal_handler(sig)

    return GracefulServer


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted sockets inherit it: without it small responses wait for delayed ACKs (~40 ms on loopback)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(config: PaperConfig) -> int:
    import uvicorn

    from paper.engine.errors import PaperStateError
    from paper.feeds.select import FeedError, choose_feed

    try:
        feed, why = await choose_feed(config)
        await feed.open()
    except Exception as exc:        # any feed that cannot start stops the exchange, with the reason
        if not isinstance(exc, FeedError):
            exc = FeedError(f"feed {config.feed!r} could not start: {type(exc).__name__}: {exc}")
        log.error("paper.feed_error", str(exc))
        print(f"mraster paper-exchange: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        msg = f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
        log.error("paper.bind_failed", msg, host=config.host, port=config.port)
        print(f"mraster paper-exchange: {msg}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    try:
        app, venue = build_app(config, feed)
    except PaperStateError as exc:
        sock.close()
        await feed.close()
        log.error("paper.state_refused", str(exc))
        print(f"mraster paper-exchange: {exc}", file=sys.stderr)
        return 2
    await venue.start()
    url = f"http://{config.host}:{port}"
    log.info("paper.feed", f"market feed: {feed.describe().get('name')} ({why})", feed=feed.describe(), reason=why,
             symbols=list(venue.specs), activity=True)
    from paper.server import http_protocol_class
    uv = uvicorn.Config(app, http=http_protocol_class(), lifespan="off", log_level="warning", access_log=False,
                        ws_ping_interval=20.0, ws_ping_timeout=60.0, timeout_keep_alive=30, proxy_headers=False,
                        server_header=False)
    server = _server_class()(uv)
    announce = Path(config.run_dir or ".") / ANNOUNCE_FILE
    write_json_atomic(announce, {"pid": os.getpid(), "host": config.host, "port": port, "url": url,
                                 "ws_url": url.replace("http://", "ws://", 1), "feed": feed.describe().get("name"),
                                 "admin": config.admin})
    log.info("paper.listening", f"paper exchange on {url} (admin {'on' if config.admin else 'off'}, "
             f"db {config.db_path})", url=url, port=port, admin=config.admin, db=str(config.db_path), activity=True)
    from paper.market_data import warm_history
    warm = asyncio.ensure_future(warm_history(app.market_data, tuple(venue.specs), config.warm_intervals,
                                              config.warm_bars))
    try:
        await server.serve(sockets=[sock])
    finally:
        await cancel_and_wait(warm)
        await venue.stop()
        try:
            if json.loads(announce.read_text()).get("pid") == os.getpid():
                announce.unlink()
        except (OSError, ValueError):
            pass
        log.info("paper.stopped", "paper exchange stopped", activity=True)
    return 0


def run(loaded: Any, args: Any) -> int:
    s = loaded.settings
    setup_logging("paper", s.loglevel, s.log_dir,
                  secrets=[s.paper_api_key, s.paper_api_secret, s.api_key, s.api_secret,
                           getattr(s, "v3_signer_key", "")])
    from paper.profiles import profile_of
    try:
        profile_of(getattr(args, "profile", None) or getattr(s, "venue_profile", None))
    except ValueError as exc:
        print(f"mraster paper-exchange: {exc}", file=sys.stderr)
        return 2
    config = from_settings(s, args)
    from paper.auth_v3 import parse_agents
    try:
        parse_agents(config.agents)
    except ValueError as exc:
        print(f"mraster paper-exchange: {exc}", file=sys.stderr)
        return 2
    try:
        parse_spec(config.faults or None)
    except FaultSpecError as exc:
        print(f"mraster paper-exchange: --faults: {exc}", file=sys.stderr)
        return 2
    if config.fixed_key and not config.api_secret:
        print("mraster paper-exchange: ASTER_PAPER_API_KEY is set but ASTER_PAPER_API_SECRET is empty",
              file=sys.stderr)
        return 2
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:                  # uvloop is optional (uvicorn[standard] brings it)
        runner = asyncio.run
    return runner(serve(config))
