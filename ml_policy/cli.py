"""`mraster policy show|eval`: the arms' statistics, and the offline replay evaluation."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

EXIT_PROBLEM = 1
ARMS = ("SKIP", "S", "M", "L")  # as ml_policy.config.ARMS; repeated so registering stays import-light


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("policy", help="the LinUCB policy: arm statistics and offline evaluation",
                       description="Inspect the LinUCB policy and evaluate it offline on logged decisions.")
    psub = p.add_subparsers(dest="action", metavar="ACTION")
    psub.required = True
    s = psub.add_parser("show", help="arm statistics of the saved policy (and the shadow-mode comparison)")
    s.add_argument("--file", metavar="PATH",
                   help="policy file (default: aster_policy.json next to ASTER_STATE_FILE)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    common(s)
    s.set_defaults(handler=show)
    e = psub.add_parser("eval", help="replay logged signals and outcomes; compare with always-M and always-SKIP",
                        description="Offline replay evaluation (Li et al. 2010) of a fresh LinUCB policy on the "
                                    "logged events, against the always-M and always-SKIP baselines.")
    src = e.add_mutually_exclusive_group()
    src.add_argument("--journal", metavar="PATH", help="SQLite journal with the policy_events table "
                                                        "(default: ASTER_JOURNAL_FILE)")
    src.add_argument("--csv", metavar="PATH", help="CSV of logged events (columns in docs/policy.md)")
    e.add_argument("--alpha", type=float, help="exploration strength to evaluate (default: ASTER_BANDIT_ALPHA)")
    e.add_argument("--seed", type=int, help="tie-breaking seed (default: ASTER_BANDIT_SEED)")
    e.add_argument("--json", action="store_true", help="machine-readable output")
    common(e)
    e.set_defaults(handler=run_eval)


def _fail(message: str) -> int:
    print(f"mraster policy: {message}", file=sys.stderr)
    return EXIT_PROBLEM


def _num(value: float | None, fmt: str = "+.3f") -> str:
    return "-" if value is None else format(value, fmt)


def show(loaded: Any, args: argparse.Namespace) -> int:
    from ml_policy.config import PolicyConfig
    from ml_policy.persistence import policy_path_for, read_policy_file

    cfg = PolicyConfig.from_settings(loaded.settings)
    path = Path(args.file) if args.file else policy_path_for(loaded.settings.state_file)
    try:
        policy, warning = read_policy_file(path, cfg)
    except FileNotFoundError:
        return _fail(f"no policy file at {path} (the bot writes it after its first decision)")
    except (ValueError, TypeError, KeyError, IndexError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {path}: {exc}")
    if warning:
        print(f"mraster policy: warning: {warning}", file=sys.stderr)
    summary = policy.summary()
    if args.json:
        print(json.dumps({"file": str(path), **summary}, indent=2))
        return 0
    print(f"# policy {path}: mode {summary['mode']}, {summary['decisions']} decisions, "
          f"{summary['pending']} trades open, alpha {summary['alpha']:g}, lambda {summary['lambda']:g}")
    print(f"{'arm':<5} {'mult':>5} {'chosen':>7} {'taken':>7} {'updates':>8} {'mean reward':>12} "
          f"{'reward sum':>11}")
    for arm in ARMS:
        a = summary["arms"][arm]
        print(f"{arm:<5} {a['size_mult']:>5.2f} {a['chosen']:>7} {a['taken']:>7} {a['updates']:>8} "
              f"{_num(a['reward_mean']):>12} {a['reward_sum']:>+11.3f}")
    am = summary["alpha_model"]
    state = "confident" if am["confident"] else f"learning: {am['n_trades']} of {am['min_trades']} trades"
    print(f"alpha model: {am['n_trades']} trades, win rate {_num(am['win_rate'], '.0%')}, "
          f"mean R {_num(am['mean_r'])} ({state})")
    shadow = summary.get("shadow")
    if shadow:
        wanted = "  ".join(f"{a} {shadow['decisions'][a]}" for a in ARMS)
        print(f"shadow mode: the policy would have chosen  {wanted}")
        print(f"  {shadow['closed']} closed trades at fixed M earned {shadow['fixed_reward_sum']:+.3f}; "
              f"re-scaled to the policy's buckets {shadow['would_reward_sum']:+.3f}; "
              f"{shadow['agreed']} agreed (policy also M) earned {shadow['agreed_reward_sum']:+.3f}")
    return 0


def run_eval(loaded: Any, args: argparse.Namespace) -> int:
    from ml_policy.config import PolicyConfig
    from ml_policy.evaluate import evaluate
    from ml_policy.eventlog import EventLogError, read_events

    cfg = PolicyConfig.from_settings(loaded.settings)
    try:
        cfg = cfg.with_values(**({"alpha": args.alpha} if args.alpha is not None else {}),
                              **({"seed": args.seed} if args.seed is not None else {}))
    except ValueError as exc:
        return _fail(str(exc))
    path = Path(args.csv or args.journal or loaded.settings.journal_file)
    try:
        events = read_events(path, cfg)
    except EventLogError as exc:
        return _fail(str(exc))
    report = evaluate(events, cfg)
    if args.json:
        print(json.dumps({"source": str(path), **report}, indent=2))
        return 0
    print(_eval_text(path, report))
    return 0


def _eval_text(path: Path, report: dict[str, Any]) -> str:
    lines = [f"policy eval of {path}: {report['events']} events, {report['resolved']} with a known reward "
             f"({report['unresolved']} still open or never filled)",
             "logged arms: " + "  ".join(f"{a} {report['logged_arms'][a]}" for a in ARMS)
             + f"   logging: {report['logging']}",
             f"  {report['validity']}",
             "",
             "replay (Li et al. 2010): mean reward per accepted event, reward = R net x bucket multiplier",
             f"  {'policy':<24} {'matched':>8} {'mean':>8} {'95% CI':>19} {'IPS mean':>9}"]
    for key in ("policy", "always_M", "always_SKIP"):
        e = report["replay"][key]
        ci = f"[{_num(e['ci_low'])}, {_num(e['ci_high'])}]" if e["ci_low"] is not None else "-"
        lines.append(f"  {e['name']:<24} {e['matched']:>8} {_num(e['mean']):>8} {ci:>19} {_num(e['ips_mean']):>9}")
    b = report["bucket_scaling"]
    lines += ["", f"bucket scaling on {b['events']} closed trades (every arm's reward = R x its multiplier, "
                  "SKIP 0; assumes R does not depend on the bucket), paired with always-M:"]
    for key, label in (("policy", "policy"), ("always_M", "always-M"), ("difference", "policy - always-M")):
        v = b[key]
        ci = f"[{_num(v['ci_low'])}, {_num(v['ci_high'])}]" if v["ci_low"] is not None else "-"
        lines.append(f"  {label:<24} {_num(v['mean']):>8} {ci:>19}")
    lines.append("  policy picks: " + "  ".join(f"{a} {b['policy_picks'][a]}" for a in ARMS))
    return "\n".join(lines)
