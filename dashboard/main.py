"""Entry point of `mraster dashboard`: checks the address is safe, then serves the app."""
from __future__ import annotations

import os
import sys
from typing import Any

from mraster.logs import get_logger, settings_secrets, setup_logging
from mraster.settings import load_settings

from dashboard.security import refuse_reason

EXIT_CONFIG = 2
log = get_logger("dashboard")


def tls_files(settings: Any, base_dir: Any) -> tuple[str, str] | None:
    """(certificate, key) as absolute paths when both are set, else None. Relative paths are taken
    from the config file's directory, like every other path setting."""
    from pathlib import Path
    cert, key = settings.dashboard_tls_cert, settings.dashboard_tls_key
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("ASTER_DASHBOARD_TLS_CERT and ASTER_DASHBOARD_TLS_KEY go together: set both or neither")

    def at(value: str) -> str:
        p = Path(value).expanduser()
        p = p if p.is_absolute() else Path(base_dir) / p
        if not p.is_file():
            raise ValueError(f"{value}: no such file (ASTER_DASHBOARD_TLS_CERT / _KEY)")
        return str(p)
    return at(cert), at(key)


def server_options(loaded: Any) -> dict[str, Any]:
    """uvicorn options for these settings: TLS when a certificate and key are given. Raises ValueError
    with the reason when the dashboard must not start (see security.refuse_reason)."""
    from dashboard.paths import DashboardPaths
    s = loaded.settings
    tls = tls_files(s, DashboardPaths.from_loaded(loaded).base_dir)
    reason = refuse_reason(s.dashboard_host, s.dashboard_token, tls=tls is not None,
                           allow_plain_http=s.dashboard_allow_plain_http)
    if reason:
        raise ValueError(reason)
    options: dict[str, Any] = dict(host=s.dashboard_host, port=s.dashboard_port, log_config=None,
                                   access_log=False, proxy_headers=False, server_header=False)
    if tls is not None:
        options.update(ssl_certfile=tls[0], ssl_keyfile=tls[1])
    return options


def start_logging(loaded: Any, where: str) -> None:
    """The dashboard's own `<ASTER_LOG_DIR>/dashboard.jsonl` (also under `uvicorn dashboard.app:app`)."""
    from dashboard.paths import DashboardPaths
    s = loaded.settings
    setup_logging("dashboard", s.loglevel, DashboardPaths.from_loaded(loaded).log_dir, stdout=True,
                  secrets=settings_secrets(s))
    for warning in loaded.warnings:
        log.warning("settings.warning", warning)
    log.info("dashboard.start", f"mraster dashboard {where} ({'paper' if s.paper else 'LIVE'} mode, token "
             f"{'required' if s.dashboard_token else 'not set'})", activity=True)


def run(loaded, args) -> int:
    import uvicorn

    from mraster.settings.overrides import cli_overrides

    from dashboard.app import create_app

    s = loaded.settings
    try:
        options = server_options(loaded)
    except ValueError as exc:
        print(f"mraster dashboard: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    scheme = "https" if "ssl_certfile" in options else "http"
    url_host = f"[{s.dashboard_host}]" if ":" in s.dashboard_host else s.dashboard_host
    url = f"{scheme}://{url_host}:{s.dashboard_port}/"
    start_logging(loaded, f"on {url}")
    key = options.get("ssl_keyfile")
    if key and os.stat(key).st_mode & 0o077:
        log.warning("settings.warning", f"{key} (the TLS private key) is readable by other users; run: chmod 600 {key}")
    overrides = cli_overrides(args)
    # --set NAME=VALUE given to the dashboard reach the children as environment variables
    child_env = {k: v for k, v in overrides.items() if k not in ("ASTER_CONFIG_FILE", "ASTER_DOTENV_FILE")}
    app = create_app(loaded, loader=lambda: load_settings(cli=overrides), child_env=child_env,
                     start_paper_exchange=not getattr(args, "no_paper_exchange", False))
    print(f"mraster dashboard: open {url}", file=sys.stderr, flush=True)
    uvicorn.run(app, **options)
    return 0
