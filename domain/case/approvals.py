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
* ``close_critical``: closing a case whose current risk level is critical (a sign-off).

Emergency actions are never held back (a referral made without consent, by phone at night, has
already happened): they are recorded at once and a lead reviews them afterwards, like
out-of-hours decisions (``ReferralReviewed``).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.case.vocabulary import ModerationAction

CLOSE_CRITICAL = "close_critical"
DEFAULT_RULES = "ban_member,close_critical"


@dataclass(frozen=True)
class FourEyesPolicy:
    """Which decisions need a second safeguarding lead's approval before they take effect."""

    actions: frozenset[ModerationAction] = frozenset({ModerationAction.BAN_MEMBER})
    close_critical: bool = True

    @classmethod
    def parse(cls, text: str) -> FourEyesPolicy:
        """From a comma-separated list of rules (``ban_member,close_critical``; '' for none)."""
        names = [part.strip().lower() for part in text.split(",") if part.strip()]
        known = {a.value for a in ModerationAction} | {CLOSE_CRITICAL}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"unknown four-eyes rule(s) {', '.join(unknown)}: use moderation actions "
                f"({', '.join(a.value for a in ModerationAction)}) or {CLOSE_CRITICAL}"
            )
        return cls(
            actions=frozenset(ModerationAction(n) for n in names if n != CLOSE_CRITICAL),
            close_critical=CLOSE_CRITICAL in names,
        )

    @property
    def rules(self) -> list[str]:
        """The policy as rule names, in a stable order."""
        names = sorted(a.value for a in self.actions)
        return [*names, CLOSE_CRITICAL] if self.close_critical else names


DEFAULT_FOUR_EYES = FourEyesPolicy()
NO_FOUR_EYES = FourEyesPolicy(actions=frozenset(), close_critical=False)
