"""The bot's one door to ml_policy (docs/policy.md): decide, estimate, learn, persist.

With ASTER_BANDIT_ENABLED=false the bot trades the plain sizing layer: bucket BASE (base size x
ASTER_SIZE_MULT, no bucket multiplier) and nothing is skipped; the policy still decides in shadow
mode, and learns from those trades as its fixed bucket M (docs/policy.md).
If ml_policy cannot be loaded (missing, broken file it could not recover from), or a decision fails,
the bot keeps trading in the same plain layer with the heuristic edge; the reason is logged once and
shown in the state file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mraster.logs import get_logger

log = get_logger("bot.policy")
FALLBACK_ARM = "BASE"       # the plain sizing layer (mraster.domain.sizing.PLAIN)
SHADOW_ARM = "M"            # the bucket the policy credits plain trades to (ml_policy.config.FIXED_ARM)


@dataclass(frozen=True, slots=True)
class GateDecision:
    arm: str                          # what the bot does: SKIP, S, M or L
    policy_arm: str                   # what the policy chose (differs from arm in shadow mode)
    shadow: bool
    scores: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)   # Decision.to_json(), for state and the log
    raw: Any = None                   # the policy's own Decision object (for its event log)


class PolicyGate:
    def __init__(self, settings: Any, state_file: str | Path):
        self.policy: Any = None
        self.path: Path | None = None
        self.problem = ""
        self._cfg: Any = None
        try:
            import ml_policy
            from ml_policy import BanditPolicy, PolicyConfig
            self._PolicyConfig = PolicyConfig
            self.path = Path(ml_policy.policy_path_for(str(state_file)))
            self._cfg = PolicyConfig.from_settings(settings)
            self.policy, warning = BanditPolicy.load_or_create(self.path, self._cfg)
            if warning:
                log.warning("policy.warning", str(warning), activity=True)
            try:
                from ml_policy import eventlog
                self.eventlog: Any = eventlog
            except ImportError:
                self.eventlog = None
        except ImportError as exc:
            self.problem = f"ml_policy unavailable ({exc}); every trade uses plain sizing ({FALLBACK_ARM})"
        except Exception as exc:  # noqa: BLE001 - a broken policy must not stop trading with fixed M
            if type(exc).__name__ == "SettingsError":
                raise
            self.problem = (f"policy could not be loaded ({type(exc).__name__}: {exc}); plain sizing "
                            f"({FALLBACK_ARM})")
        if self.problem:
            self.eventlog = None
            log.warning("policy.unavailable", self.problem, activity=True)

    @property
    def available(self) -> bool:
        return self.policy is not None

    def reconfigure(self, settings: Any) -> None:
        """Apply live policy settings (ASTER_BANDIT_ENABLED, ASTER_BANDIT_ALPHA, ...)."""
        if not self.available:
            return
        cfg = self._PolicyConfig.from_settings(settings)
        if cfg == self._cfg:
            return
        self._cfg = cfg
        message = self.policy.apply_config(cfg)
        if message:
            log.warning("notice", message, activity=True)

    def estimate(self, ctx: Any) -> Any | None:
        if not self.available:
            return None
        try:
            return self.policy.estimate(ctx)
        except Exception as exc:  # noqa: BLE001
            log.warning("policy.error", f"estimate failed: {exc}", symbol=ctx.symbol)
            return None

    def decide(self, ctx: Any) -> GateDecision:
        if not self.available:
            return GateDecision(FALLBACK_ARM, FALLBACK_ARM, True, {}, {"fallback": self.problem})
        try:
            d = self.policy.decide(ctx)
        except Exception as exc:  # noqa: BLE001
            log.warning("policy.error", f"decide failed, using plain sizing: {exc}", symbol=ctx.symbol)
            return GateDecision(FALLBACK_ARM, FALLBACK_ARM, True, {}, {"error": str(exc)})
        detail = d.to_json() if hasattr(d, "to_json") else {}
        arm = FALLBACK_ARM if d.shadow else str(d.effective_arm)    # bandit off: plain sizing, nothing skipped
        return GateDecision(arm, str(d.arm), bool(d.shadow), dict(getattr(d, "scores", {}) or {}), detail, d)

    def note_entry(self, trade_id: str, ctx: Any, decision: GateDecision) -> None:
        if self.available:
            try:
                arm = SHADOW_ARM if decision.arm == FALLBACK_ARM else decision.arm
                self.policy.note_entry(trade_id, ctx, arm, shadow_arm=decision.policy_arm)
            except Exception as exc:  # noqa: BLE001
                log.warning("policy.error", f"note_entry failed: {exc}", trade_id=trade_id)

    def note_exit(self, trade_id: str, r_net: float, context: dict[str, Any] | None = None,
                  arm: str | None = None) -> bool:
        """Credit a closed trade; the trade's own context and bucket let the policy learn from it even
        if its record of the entry was lost."""
        if not self.available:
            return False
        try:
            from ml_policy import SignalContext
            ctx = SignalContext.from_json(context) if context else None
            arm = SHADOW_ARM if arm == FALLBACK_ARM else arm
            return bool(self.policy.note_exit(trade_id, r_net, context=ctx, arm=arm))
        except Exception as exc:  # noqa: BLE001
            log.warning("policy.error", f"note_exit failed: {exc}", trade_id=trade_id)
            return False

    def drop_entry(self, trade_id: str) -> None:
        """An entry that never filled: the policy forgets it (nothing to learn)."""
        if self.available:
            self.policy.drop_entry(trade_id)

    def pending_ids(self) -> set[str]:
        return set(self.policy.pending_trade_ids()) if self.available else set()

    def record_decision(self, conn: Any, key: str, time_ms: int, ctx: Any, decision: GateDecision) -> None:
        if self.eventlog is None or decision.raw is None:
            return
        try:
            self.eventlog.record_decision(conn, key, time_ms, ctx.symbol, ctx, decision.raw)
        except Exception as exc:  # noqa: BLE001
            log.warning("policy.error", f"event log failed: {exc}", symbol=ctx.symbol)

    def record_reward(self, conn: Any, key: str, reward: float, time_ms: int) -> None:
        if self.eventlog is None:
            return
        try:
            self.eventlog.record_reward(conn, key, reward, time_ms)
        except Exception as exc:  # noqa: BLE001
            log.warning("policy.error", f"event log failed: {exc}", trade_id=key)

    def ensure_schema(self, conn: Any) -> None:
        if self.eventlog is not None:
            self.eventlog.ensure_schema(conn)

    def summary(self) -> dict[str, Any]:
        if not self.available:
            return {"available": False, "problem": self.problem}
        return self.policy.summary()

    def hints(self) -> dict[str, Any]:
        if not self.available:
            return {"available": False, "message": self.problem}
        return self.policy.hints(None)

    def save(self) -> None:
        if self.available and self.path is not None:
            try:
                self.policy.save(self.path)
            except Exception as exc:  # noqa: BLE001
                log.error("policy.error", f"saving the policy failed: {exc}", path=str(self.path))

