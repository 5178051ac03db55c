"""`mraster ops ...` (the jobs, reports, notifier) and `mraster deploy ...` (systemd units, the
production switch): issue 21. The work is in the `ops` package; this module parses and reports.

Exit codes: 0 done, 1 a step failed (the message says which; nothing half done), 2 bad settings or
arguments, 3 `deploy production status` found production off or incomplete.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from mraster.logs import settings_secrets, setup_logging


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("ops", help="operations: daily batch, weekly backtest, reports, notifications",
                       description="The production jobs, usable by hand and by the timers (docs/ops.md).")
    osub = p.add_subparsers(dest="ops_command", metavar="JOB")
    osub.required = True
    b = osub.add_parser("daily-batch", help="stop the engines, load the day into the store, verify, clean up, "
                        "start the engines")
    b.add_argument("--date", help="YYYYMMDD: only this day (default: today, UTC, and every earlier day not loaded)")
    b.add_argument("--engines", choices=("auto", "systemd", "none"), default="auto",
                   help="how the engines are stopped and started (auto: systemd when its unit is active)")
    b.add_argument("--no-restart", action="store_true", help="leave the engines stopped (the 00:00 timer starts them)")
    common(b)
    w = osub.add_parser("weekly-backtest", help="features and sweep over the last 28 days ending yesterday, ranked")
    w.add_argument("--start-date", help="YYYY-MM-DD (default: ASTER_BACKTEST_START_DATE or 27 days before the end)")
    w.add_argument("--end-date", help="YYYY-MM-DD (default: ASTER_BACKTEST_END_DATE or yesterday, UTC)")
    w.add_argument("--source", help="store, csv or klines:NAME (default: ASTER_OPS_BACKTEST_SOURCE)")
    w.add_argument("--grid", help="grid file (default: ASTER_OPS_BACKTEST_GRID or the shipped example)")
    w.add_argument("--results-dir", help="default: ASTER_OPS_RESULTS_DIR")
    w.add_argument("--no-email", action="store_true", help="do not send the backtest report on completion")
    common(w)
    r = osub.add_parser("report", help="the production or backtest report: print, write to a file, send by email")
    r.add_argument("--mode", choices=("prod", "backtest"), required=True)
    r.add_argument("--date", help="prod: the UTC day YYYY-MM-DD (default: yesterday, the last complete day)")
    r.add_argument("--format", choices=("text", "html"), default="text", help="what is printed (default text)")
    r.add_argument("--out", metavar="FILE", help="also write the HTML (charts inline) to FILE, atomically")
    r.add_argument("--send", action="store_true",
                   help="send by email when ASTER_EMAIL_PROD_ENABLE / ASTER_EMAIL_BACKTEST_ENABLE is on")
    r.add_argument("--results-dir", help="backtest: where ranked_metrics.csv is (default: ASTER_OPS_RESULTS_DIR)")
    common(r)
    n = osub.add_parser("notify", help="follow the logs and send the opted-in notifications (runs until stopped)")
    n.add_argument("--test", action="store_true", help="send one test notification to every sink and exit")
    n.add_argument("--failed-unit", metavar="UNIT",
                   help="send the event for a failed systemd unit and exit (the OnFailure= hook of the units)")
    common(n)
    e = osub.add_parser("engines", help="start or stop the trading engines' systemd unit (ASTER_OPS_SERVICE)")
    e.add_argument("action", choices=("start", "stop"))
    common(e)
    s = osub.add_parser("secrets", help="run ASTER_SECRETS_COMMAND and list the names it sets (never the values)")
    common(s)
    for q in (b, w, r, n, e, s):
        q.set_defaults(handler=run_ops)

    d = sub.add_parser("deploy", help="deployment on a Linux server: systemd units, the production switch",
                       description="Generate systemd units and switch the production schedule on or off.")
    dsub = d.add_subparsers(dest="deploy_command", metavar="ACTION")
    dsub.required = True
    u = dsub.add_parser("systemd", help="write the units, timers, environment template and bootstrap script")
    u.add_argument("--out", required=True, metavar="DIR", help="directory to write to (copy into /etc/systemd/system)")
    u.add_argument("--user", default="mraster", help="dedicated service user (default mraster)")
    u.add_argument("--prefix", default="/opt/mraster", help="install directory (default /opt/mraster)")
    u.add_argument("--engine", default="", metavar="NAME",
                   help="run one engine instead of the dashboard with its engines: an instance of engines.json "
                        "(`python -m <kind module> --instance NAME`) or an mraster command such as guard")
    u.add_argument("--env-path", default="/etc/mraster/mraster.env", help="where the environment file is installed")
    u.add_argument("--record", default="", metavar="SYMBOLS",
                   help="also a recorder unit for these symbols (the daily CSV files the batch loads)")
    common(u)
    u.set_defaults(handler=run_deploy)
    pr = dsub.add_parser("production", help="turn the whole production schedule on or off, or show it")
    pr.add_argument("action", choices=("on", "off", "status"))
    common(pr)
    pr.set_defaults(handler=run_deploy)


# ------------------------------------------------------------------------------------------ secrets
def apply_secrets_at_start(argv_env_file: str | None) -> None:
    """Before settings are read: ASTER_SECRETS_COMMAND's NAME=value lines into the environment."""
    from ops.secrets import SecretsError, apply_secrets
    dotenv = argv_env_file or os.environ.get("ASTER_DOTENV_FILE") or ".env"
    try:
        apply_secrets(os.environ, dotenv)
    except SecretsError as exc:
        from mraster.settings import SettingsError
        raise SettingsError([str(exc)]) from None


# ------------------------------------------------------------------------------------------ ops
def _now() -> datetime:
    return datetime.now(timezone.utc)


def _logging(loaded: Any) -> None:
    s = loaded.settings
    setup_logging("ops", s.loglevel, s.log_dir, stdout=False, secrets=settings_secrets(s))


def run_ops(loaded: Any, args: argparse.Namespace, now: Callable[[], datetime] = _now) -> int:
    from ops.steps import StepFailed
    from ops.report import ReportError
    from ops.mail import MailError
    _logging(loaded)
    command = args.ops_command
    try:
        return _OPS[command](loaded, args, now())
    except (StepFailed, ReportError, MailError) as exc:
        print(f"mraster ops {command}: {exc}", file=sys.stderr)
        return 1


def _daily_batch(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from ops.engines import EngineControl
    from ops.jobs import BatchPlan, daily_batch, day_of
    from ops.steps import JobRun, Mraster
    s = loaded.settings
    plan = BatchPlan(day=day_of(args.date, now), catch_up=not args.date, data_dir=Path(s.ops_data_dir), store_dir=Path(s.ops_store_dir),
                     retention_days=s.log_retention_days,
                     bigquery=(s.bq_project, s.bq_dataset) if s.bq_enable_daily_batch else None,
                     restart=not args.no_restart)
    if plan.bigquery and not s.bq_project:
        print("mraster ops daily-batch: ASTER_BQ_ENABLE_DAILY_BATCH=true needs ASTER_BQ_PROJECT", file=sys.stderr)
        return 2
    run = JobRun("daily-batch")
    daily_batch(plan, Mraster.from_loaded(loaded, s.ops_job_timeout), EngineControl.resolve(args.engines,
                s.ops_service), run)
    print(f"[daily-batch] done for {plan.day}")
    return 0


def _weekly_backtest(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from ops.jobs import SHIPPED_GRID, BacktestPlan, backtest_window, weekly_backtest
    from ops.steps import JobRun, Mraster
    s = loaded.settings
    start, end = backtest_window(args.start_date or s.backtest_start_date, args.end_date or s.backtest_end_date, now)
    plan = BacktestPlan(start=start, end=end, source=args.source or s.ops_backtest_source,
                        data_dir=Path(s.ops_data_dir), store_dir=Path(s.ops_store_dir),
                        grid=Path(args.grid or s.ops_backtest_grid or SHIPPED_GRID),
                        results_dir=Path(args.results_dir or s.ops_results_dir))
    run = JobRun("weekly-backtest")
    ranked = weekly_backtest(plan, Mraster.from_loaded(loaded, s.ops_job_timeout), run, now)
    print(f"[weekly-backtest] done: {ranked}")
    if s.email_backtest_on_completion and s.email_backtest_enable and not args.no_email:
        _send_backtest(loaded, ranked.parent)
    return 0


def _send_backtest(loaded: Any, results_dir: Path) -> None:
    from ops.mail import SmtpConfig, build_message, recipients, send
    from ops.render import render_backtest
    from ops.report import backtest_report
    from ops.status import service_status
    s = loaded.settings
    units = (f"{s.ops_service}-weekly-backtest.service",)
    rendered = render_backtest(backtest_report(results_dir / "ranked_metrics.csv",
                                               service_status(s.ops_service, Path(s.run_dir), units)))
    to = recipients(s.email_to_backtest)
    if not to:
        print("backtest report not sent: ASTER_EMAIL_TO_BACKTEST is empty", file=sys.stderr)
        return
    send(SmtpConfig.from_settings(s), build_message(rendered, s.email_from, to))
    print(f"backtest report sent to {len(to)} recipient(s)")


def report_day(text: str | None, now: datetime) -> date:
    if not text:
        return now.astimezone(timezone.utc).date() - timedelta(days=1)
    try:
        return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:]}")
    except ValueError:
        from ops.report import ReportError
        raise ReportError(f"--date {text!r}: expected YYYY-MM-DD") from None


def _report(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from mraster.logs import get_logger
    from mraster.storage.atomic import write_text_atomic
    from ops.mail import SmtpConfig, build_message, recipients, send
    from ops.render import render_backtest, render_prod
    from ops.report import backtest_report, prod_report
    from ops.status import service_status
    s = loaded.settings
    if args.mode == "prod":
        day = report_day(args.date, now)
        rendered = render_prod(prod_report(Path(s.journal_file), Path(s.log_dir), day,
                                           service_status(s.ops_service, Path(s.run_dir))))
        enabled, to = s.email_prod_enable, recipients(s.email_to_prod)
    else:
        units = (f"{s.ops_service}-weekly-backtest.service",)
        ranked = Path(args.results_dir or s.ops_results_dir) / "ranked_metrics.csv"
        rendered = render_backtest(backtest_report(ranked, service_status(s.ops_service, Path(s.run_dir), units)))
        enabled, to = s.email_backtest_enable, recipients(s.email_to_backtest)
    if args.out:
        write_text_atomic(args.out, rendered.standalone_html())
        print(f"report written to {args.out}", file=sys.stderr)
    if args.format == "html" and not args.out:
        print(rendered.standalone_html())
    elif args.format == "text":
        print(rendered.subject + "\n\n" + rendered.text)
    if args.send:
        flag = "ASTER_EMAIL_PROD_ENABLE" if args.mode == "prod" else "ASTER_EMAIL_BACKTEST_ENABLE"
        if not enabled:
            print(f"not sent: {flag} is off", file=sys.stderr)
            return 0
        if not to:
            print(f"not sent: no recipient ({'ASTER_EMAIL_TO_PROD' if args.mode == 'prod' else 'ASTER_EMAIL_TO_BACKTEST'})",
                  file=sys.stderr)
            return 1
        send(SmtpConfig.from_settings(s), build_message(rendered, s.email_from, to))
        print(f"report sent to {len(to)} recipient(s)", file=sys.stderr)
        get_logger("ops").info("ops.report.sent", rendered.subject, mode=args.mode, recipients=len(to))
    return 0


def _notify(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from ops.notify import Dispatcher, Event, build_sinks, enabled_kinds, follow, unit_failure_event
    s = loaded.settings
    if args.test or args.failed_unit:
        disp = Dispatcher(build_sinks(s), per_minute=s.notify_rate_per_min, retries=s.notify_retries).start()
        if not disp.sinks:
            print("no sink configured (ASTER_NOTIFY_WEBHOOK_URL, ASTER_NOTIFY_EMAIL)", file=sys.stderr)
            return 0 if args.failed_unit else 1
        if args.failed_unit:
            event = unit_failure_event(args.failed_unit)
            if event.kind not in enabled_kinds(s.notify_events):
                print(f"{event.kind} is not in ASTER_NOTIFY_EVENTS: nothing sent")
                return 0
            disp.submit(Event(event.kind, event.text, now.isoformat(), event.src))
        else:
            disp.submit(Event("daily_report", "test notification from mraster ops notify --test", now.isoformat()))
        disp.wait_idle(120)
        disp.close()
        for sink, _ in disp.delivered:
            print(f"delivered to {sink}")
        return 1 if disp.failed else 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    disp = follow(s, Path(s.log_dir), Path(s.run_dir), stop=stop)
    disp.wait_idle(30)
    disp.close()
    return 0


def _engines(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from ops.engines import EngineControl
    control = EngineControl.resolve("systemd", loaded.settings.ops_service)
    print(control.start() if args.action == "start" else control.stop())
    return 0


def _secrets(loaded: Any, args: argparse.Namespace, now: datetime) -> int:
    from ops.secrets import ENV_NAME, configured_command, run_command
    command = configured_command(os.environ, str(loaded.dotenv_file) if loaded.dotenv_file else None)
    if not command:
        print(f"{ENV_NAME} is not set: secrets come from the environment file only")
        return 0
    names = sorted(run_command(command))
    print(f"{ENV_NAME} printed {len(names)} value(s): {', '.join(names)} (values never shown)")
    return 0


_OPS = {"daily-batch": _daily_batch, "weekly-backtest": _weekly_backtest, "report": _report, "notify": _notify,
        "engines": _engines, "secrets": _secrets}


# ------------------------------------------------------------------------------------------ deploy
def run_deploy(loaded: Any, args: argparse.Namespace) -> int:
    from ops.steps import StepFailed
    from ops.systemd import DeployOptions, engine_module, render_units, write_units
    if args.deploy_command == "production":
        from ops.production import production
        try:
            return production(args.action, loaded.settings.ops_service)
        except StepFailed as exc:
            print(f"mraster deploy production {args.action}: {exc}", file=sys.stderr)
            return 1
    options = DeployOptions(user=args.user, prefix=args.prefix.rstrip("/") or "/", engine=args.engine,
                            name=loaded.settings.ops_service, env_path=args.env_path, record=args.record,
                            engine_module=engine_module(args.engine, loaded.config_file))
    problems = options.problems()
    if problems:
        for p in problems:
            print(f"mraster deploy systemd: {p}", file=sys.stderr)
        return 2
    for path in write_units(Path(args.out), render_units(options)):
        print(f"wrote {path}")
    print(f"next: sudo bash {Path(args.out) / 'bootstrap.sh'} (docs/ops.md, first install)")
    return 0
