"""Entry point of `mraster dashboard`: checks the address is safe, then serves the app."""
from __future__ import annotations

import sys

from bot.logs import get_logger, settings_secrets, setup_logging
from bot.settings import load_settings

from .security import refuse_reason

EXIT_CONFIG = 2
log = get_logger("dashboard")


def run(loaded, args) -> int:
    import uvicorn

    from bot.cli.main import cli_overrides

    from .app import create_app
    from .paths import DashboardPaths

    s = loaded.settings
    reason = refuse_reason(s.dashboard_host, s.dashboard_token)
    if reason:
        print(f"mraster dashboard: {reason}", file=sys.stderr)
        return EXIT_CONFIG
    paths = DashboardPaths.from_loaded(loaded)
    setup_logging("dashboard", s.loglevel, paths.log_dir, stdout=True, secrets=settings_secrets(s))
    overrides = cli_overrides(args)
    # --set NAME=VALUE given to the dashboard reach the children as environment variables
    child_env = {k: v for k, v in overrides.items() if k not in ("ASTER_CONFIG_FILE", "ASTER_DOTENV_FILE")}
    app = create_app(loaded, loader=lambda: load_settings(cli=overrides), child_env=child_env,
                     start_paper_exchange=not getattr(args, "no_paper_exchange", False))
    url_host = f"[{s.dashboard_host}]" if ":" in s.dashboard_host else s.dashboard_host
    log.info("dashboard.start", f"mraster dashboard on http://{url_host}:{s.dashboard_port}/ "
             f"({'paper' if s.paper else 'LIVE'} mode, token {'required' if s.dashboard_token else 'not set'})")
    print(f"mraster dashboard: open http://{url_host}:{s.dashboard_port}/", file=sys.stderr, flush=True)
    uvicorn.run(app, host=s.dashboard_host, port=s.dashboard_port, log_config=None, access_log=False,
                proxy_headers=False, server_header=False)
    return 0
