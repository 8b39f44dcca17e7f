"""Four-eyes: which decisions take effect only once a second safeguarding lead approves them.

A decision the policy names is not refused and not taken: ``decide`` records it as an
``ApprovalRequested`` (the proposal, in full, by the person proposing it) and the case lists it
as a pending approval. A safeguarding lead other than the requester then approves it (an
``ApprovalDecided`` and, in the same write, the decision itself: ``ModerationActionTaken`` or
``CaseClosed`` naming the approval and its requester) or rejects it (``ApprovalDecided`` only).

The policy comes from settings (``VIGIL_FOUR_EYES``) through the decision context, so the
domain stays pure. Rules, by name:

* a moderation action's name (``ban_member`` by default; ``suspend_member``, ... may be added):
  that action always needs approval;
* ``close_critical``: closing a case whose risk level is, or was at any point, critical (a
  sign-off);
* ``lower_critical``: a risk assessment that lowers a critical risk;
* ``long_sanction``: a mute or suspension longer than the policy's length (30 days by default,
  ``VIGIL_FOUR_EYES_SANCTION_DAYS``), an indefinite mute included.

Emergency actions are never held back (a referral made without consent, by phone at night, has
already happened): they are recorded at once and a lead reviews them afterwards, like
out-of-hours decisions (``ReferralReviewed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.case.vocabulary import ModerationAction

CLOSE_CRITICAL = "close_critical"
LOWER_CRITICAL = "lower_critical"
LONG_SANCTION = "long_sanction"
DEFAULT_RULES = "ban_member,close_critical,lower_critical,long_sanction"
DEFAULT_SANCTION_DAYS = 30


@dataclass(frozen=True)
class FourEyesPolicy:
    """Which decisions need a second safeguarding lead's approval before they take effect."""

    actions: frozenset[ModerationAction] = frozenset({ModerationAction.BAN_MEMBER})
    close_critical: bool = True
    lower_critical: bool = True
    long_sanction: bool = True
    # How long a mute or suspension one person may impose, under ``long_sanction``.
    sanction_days: int = DEFAULT_SANCTION_DAYS

    @classmethod
    def parse(cls, text: str, *, sanction_days: int = DEFAULT_SANCTION_DAYS) -> FourEyesPolicy:
        """From a comma-separated list of rules (``ban_member,close_critical``; '' for none)."""
        names = [part.strip().lower() for part in text.split(",") if part.strip()]
        flags = (CLOSE_CRITICAL, LOWER_CRITICAL, LONG_SANCTION)
        known = {a.value for a in ModerationAction} | set(flags)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"unknown four-eyes rule(s) {', '.join(unknown)}: use moderation actions "
                f"({', '.join(a.value for a in ModerationAction)}) or {', '.join(flags)}"
            )
        return cls(
            actions=frozenset(ModerationAction(n) for n in names if n not in flags),
            close_critical=CLOSE_CRITICAL in names,
            lower_critical=LOWER_CRITICAL in names,
            long_sanction=LONG_SANCTION in names,
            sanction_days=sanction_days,
        )

    @property
    def rules(self) -> list[str]:
        """The policy as rule names, in a stable order."""
        names = sorted(a.value for a in self.actions)
        flags = (
            (CLOSE_CRITICAL, self.close_critical),
            (LOWER_CRITICAL, self.lower_critical),
            (LONG_SANCTION, self.long_sanction),
        )
        return [*names, *(name for name, on in flags if on)]


DEFAULT_FOUR_EYES = FourEyesPolicy()
NO_FOUR_EYES = FourEyesPolicy(
    actions=frozenset(), close_critical=False, lower_critical=False, long_sanction=False
)
