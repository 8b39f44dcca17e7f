"""Who may see which case, the access log, and break-glass: the service that applies the access
rule (``domain.access.rules.case_access``) to every read.

Every read of case content goes through ``AccessService.read`` (or ``record`` for reads not
about one case): the access is decided, the content produced, and a ``CaseRecordAccessed``
event appended, synchronously, before the content is returned. If that append fails, the read
fails (fail closed). Each record is an aggregate of its own, so concurrent reads never contend.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar, cast
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from application.cases import CaseService
from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.access.events import (
    BreakGlassAccessGranted,
    BreakGlassAccessReviewed,
    CaseRecordAccessed,
)
from domain.access.rules import (
    FRONTLINE_COMMANDS,
    CaseGate,
    Grant,
    Visibility,
    case_access,
    contact_access,
    is_restricted,
    reads_every_case,
)
from domain.access.vocabulary import AccessedRecord, AccessLevel, AccessPurpose, GrantReviewOutcome
from domain.case.commands import CaseCommand, OpenCase
from domain.case.errors import CaseNotFound
from domain.case.state import CaseState
from domain.errors import ItemNotFound, NotPermitted, RuleViolation
from domain.idempotency import IdempotencyKeyUsed
from domain.shared import Actor
from infrastructure.event_log import EventLog

BREAK_GLASS_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/break-glass")

T = TypeVar("T")
E = TypeVar("E", BreakGlassAccessGranted, BreakGlassAccessReviewed)

# A break-glass stream (one user's grants on one case, and their reviews): its events so far.
Stream = tuple[BreakGlassAccessGranted | BreakGlassAccessReviewed, ...]


def _extend(stream: Stream | None, events: Iterable[Any]) -> Stream | None:
    return (*(stream or ()), *events) or None


def _stream_version(stream: Stream) -> int:
    return stream[-1].originator_version


@dataclass(frozen=True)
class Recorded(Generic[E]):
    """A break-glass grant or review as answered: the event, its log position, and whether this
    answers a retried Idempotency-Key (then nothing was appended)."""

    event: E
    position: int
    replayed: bool = False


class AccessService:
    def __init__(
        self,
        event_log: EventLog,
        cases: CaseService,
        *,
        clock: Callable[[], datetime],
        restricted: frozenset[str],
        break_glass_duration: timedelta,
        write_retries: int,
        granted_case_ids: Callable[[str, datetime], list[UUID]] | None = None,
        find_grant: Callable[[UUID], Grant | None] | None = None,
    ) -> None:
        self._event_log = event_log
        self._cases = cases
        self._clock = clock
        self.restricted = restricted
        self.break_glass_duration = break_glass_duration
        # From the access-log view (wired by the composition root): lists need the case ids of a
        # user's active grants; reviews find a grant by its id.
        self._granted_case_ids = granted_case_ids
        self._find_grant = find_grant
        self._keys = WriteKeys(event_log)
        self._streams = WritePath[Stream](
            event_log,
            name="break-glass stream",
            fold=_extend,
            version=_stream_version,
            retries=write_retries,
        )

    # --- the rule applied to a case -------------------------------------------------------------

    def gate(self, actor: Actor, case_id: UUID) -> CaseGate:
        """The case and the actor's access to it; CaseNotFound (404) if they have none."""
        state = self._cases.load(case_id)
        if state is None:
            raise CaseNotFound("no such case")
        level, grant = self.access_to(actor, state)
        if level is AccessLevel.NONE:
            raise CaseNotFound("no such case")  # the same answer as a case that does not exist
        return CaseGate(state=state, level=level, grant=grant)

    def access_to(self, actor: Actor, state: CaseState) -> tuple[AccessLevel, Grant | None]:
        if not is_restricted(state.category.value, self.restricted):
            return case_access(
                actor,
                category=state.category.value,
                assignee=state.assignee,
                participants=(),
                restricted=self.restricted,
                grant=None,
                at=self._clock(),
            ), None
        grant = None
        if not reads_every_case(actor) and state.assignee != actor.username:
            grant = self.active_grant(actor.username, state.id)
        participants: Collection[str] = (
            state.participants
            if state.participants is not None
            else {e.actor for e in self._cases.timeline(state.id)}
        )
        level = case_access(
            actor,
            category=state.category.value,
            assignee=state.assignee,
            participants=participants,
            restricted=self.restricted,
            grant=grant,
            at=self._clock(),
        )
        return level, grant if level is AccessLevel.BREAK_GLASS else None

    def contact_access(
        self, actor: Actor, *, handled_by: str, assignees: Collection[str], case_id: UUID | None
    ) -> tuple[AccessLevel, Grant | None]:
        """How much of a helpline contact the actor may see (``domain.access.rules.
        contact_access``): a contact linked to a restricted case is restricted with it."""
        case_level: AccessLevel | None = None
        grant: Grant | None = None
        state = None if case_id is None else self._cases.load(case_id)
        if state is not None and is_restricted(state.category.value, self.restricted):
            case_level, grant = self.access_to(actor, state)
        level = contact_access(
            actor, handled_by=handled_by, assignees=assignees, case_level=case_level
        )
        return level, grant if level is AccessLevel.BREAK_GLASS else None

    def visibility(self, actor: Actor) -> Visibility | None:
        """What a list must hide from ``actor`` (None: nothing, they see every case)."""
        if not self.restricted or reads_every_case(actor):
            return None
        granted = (
            self._granted_case_ids(actor.username, self._clock())
            if self._granted_case_ids is not None
            else []
        )
        return Visibility(
            restricted=tuple(sorted(self.restricted)),
            username=actor.username,
            granted_case_ids=tuple(granted),
        )

    def check_write(self, actor: Actor, case_id: UUID | None, command: CaseCommand) -> AccessLevel:
        """Refuse a write the actor may not make to this case (404 without access; 403 for a
        kind an involved user may not add); answers the access level the answer is shown at."""
        if case_id is None or isinstance(command, OpenCase):
            return AccessLevel.FULL
        return self.admit_write(actor, self._cases.load(case_id), command)

    def admit_write(
        self, actor: Actor, state: CaseState | None, command: CaseCommand
    ) -> AccessLevel:
        """``check_write`` on a case's state already loaded (None: there is no such case): the
        case write path asks it of the state it decides on (``CaseService.execute``'s admit)."""
        if isinstance(command, OpenCase):
            return AccessLevel.FULL
        level = AccessLevel.NONE if state is None else self.access_to(actor, state)[0]
        if level is AccessLevel.NONE:
            # A missing case and a case hidden from this actor answer alike, and before anything
            # in the body (an unknown assignee, say) is looked at, so neither tells them apart.
            raise CaseNotFound("no such case")
        if level is not AccessLevel.FULL and not isinstance(command, FRONTLINE_COMMANDS):
            raise NotPermitted(
                "this case is restricted: without full access you may add flags, notes, "
                "moderation actions, out-of-hours decisions, escalations and referrals; ask a "
                "safeguarding lead or the case's assignee for anything else"
            )
        return level

    def answer_level(self, actor: Actor, state: CaseState) -> AccessLevel:
        """How much of the case a write's answer may show its writer."""
        level, _ = self.access_to(actor, state)
        return level

    # --- the access log -------------------------------------------------------------------------

    def read(
        self,
        actor: Actor,
        case_id: UUID,
        what: AccessedRecord,
        produce: Callable[[CaseGate], T],
        *,
        purpose: AccessPurpose = AccessPurpose.CASE_WORK,
        request_id: str | None = None,
    ) -> T:
        """Check access, produce the content, record the read, then hand the content back.

        404 without access; nothing is recorded for a refused or failed read. If recording
        fails, the read fails too: no content leaves without its record.
        """
        gate = self.gate(actor, case_id)
        content = produce(gate)
        self.record(
            actor,
            what,
            case_id=case_id,
            purpose=purpose,
            request_id=request_id,
            level=gate.level,
            grant=gate.grant,
        )
        return content

    def record(
        self,
        actor: Actor,
        what: AccessedRecord,
        *,
        case_id: UUID | None = None,
        subject_ref: str | None = None,
        purpose: AccessPurpose = AccessPurpose.CASE_WORK,
        request_id: str | None = None,
        level: AccessLevel = AccessLevel.FULL,
        grant: Grant | None = None,
        contact_id: UUID | None = None,
    ) -> CaseRecordAccessed:
        """Append one access record (its own aggregate, version 1)."""
        record_id = uuid4()
        event = CaseRecordAccessed(
            originator_id=record_id,
            originator_version=1,
            event_id=record_id,
            recorded_at=self._clock(),
            accessed_by=actor.username,
            accessed_by_role=actor.role,
            what=what,
            case_id=case_id,
            subject_ref=subject_ref,
            purpose=purpose,
            access=level,
            grant_id=None if grant is None else grant.grant_id,
            request_id=request_id,
            contact_id=contact_id,
        )
        self._event_log.save(event)
        return event

    # --- break-glass ----------------------------------------------------------------------------

    @staticmethod
    def grant_stream(username: str, case_id: UUID) -> UUID:
        """One stream per (user, case) holds that user's grants on that case, and their reviews."""
        return uuid5(BREAK_GLASS_NAMESPACE, f"{username}\x1f{case_id}")

    def grants(self, username: str, case_id: UUID) -> list[Grant]:
        stream = self.grant_stream(username, case_id)
        return [
            Grant(
                grant_id=e.event_id,
                case_id=e.case_id,
                username=e.actor,
                granted_at=e.recorded_at,
                expires_at=e.expires_at,
            )
            for e in self._event_log.events_of(stream)
            if isinstance(e, BreakGlassAccessGranted)
        ]

    def active_grant(self, username: str, case_id: UUID) -> Grant | None:
        now = self._clock()
        active = [g for g in self.grants(username, case_id) if g.is_active(now)]
        return active[-1] if active else None

    def break_glass(
        self, actor: Actor, case_id: UUID, reason: str, *, request: KeyedRequest | None = None
    ) -> Recorded[BreakGlassAccessGranted]:
        """Grant ``actor`` full access to a restricted case they cannot otherwise read, for the
        break-glass duration from now; refused (nothing written) if they need none. A retried
        keyed request answers the first grant again (even once it has expired)."""

        def decide(stream: Stream | None) -> list[BreakGlassAccessGranted]:
            state = self._cases.load(case_id)
            if state is None:
                raise CaseNotFound("no such case")
            if not is_restricted(state.category.value, self.restricted):
                raise RuleViolation(
                    "this case is not restricted: read it without breaking the glass"
                )
            # After a lost race (another grant of this user's on this case just recorded) this
            # is decided again, and refused: the grant is active.
            level, grant = self.access_to(actor, state)
            if level is AccessLevel.FULL:
                raise RuleViolation("you already have full access to this case")
            if grant is not None:
                raise RuleViolation(
                    f"you already hold break-glass access to this case until "
                    f"{grant.expires_at.isoformat()}"
                )
            version = (0 if stream is None else _stream_version(stream)) + 1
            now = self._clock()
            return [
                BreakGlassAccessGranted(
                    originator_id=stream_id,
                    originator_version=version,
                    event_id=uuid5(stream_id, str(version)),
                    recorded_at=now,
                    actor=actor.username,
                    actor_role=actor.role,
                    case_id=case_id,
                    category=state.category.value,
                    reason=reason,
                    expires_at=now + self.break_glass_duration,
                )
            ]

        stream_id = self.grant_stream(actor.username, case_id)
        return self._streams.write(
            stream_id,
            decide,
            _recorded(BreakGlassAccessGranted),
            recall=self._keys.recall(
                actor.username,
                request,
                lambda earlier: self._replay(earlier, BreakGlassAccessGranted),
            ),
        )

    def review_grant(
        self,
        actor: Actor,
        grant_id: UUID,
        outcome: GrantReviewOutcome,
        rationale: str,
        *,
        request: KeyedRequest | None = None,
    ) -> Recorded[BreakGlassAccessReviewed]:
        """A safeguarding lead's review of a break-glass grant (each grant is reviewed once); a
        retried keyed request answers the first review again."""
        recall = self._keys.recall(
            actor.username, request, lambda earlier: self._replay(earlier, BreakGlassAccessReviewed)
        )
        # The key is looked for first: which stream the review goes to depends on the grant.
        first = None if recall is None else recall.answered(None)
        if first is not None:
            return first
        grant = self._find_grant(grant_id) if self._find_grant is not None else None
        if grant is None:
            raise ItemNotFound("no such break-glass grant")
        if grant.username == actor.username:
            raise NotPermitted("a break-glass grant is reviewed by someone other than its holder")
        stream_id = self.grant_stream(grant.username, grant.case_id)

        def decide(stream: Stream | None) -> list[BreakGlassAccessReviewed]:
            if any(
                isinstance(e, BreakGlassAccessReviewed) and e.grant_id == grant_id
                for e in stream or ()
            ):
                raise RuleViolation("this break-glass grant has already been reviewed")
            version = (0 if stream is None else _stream_version(stream)) + 1
            return [
                BreakGlassAccessReviewed(
                    originator_id=stream_id,
                    originator_version=version,
                    event_id=uuid5(stream_id, str(version)),
                    recorded_at=self._clock(),
                    actor=actor.username,
                    actor_role=actor.role,
                    grant_id=grant_id,
                    case_id=grant.case_id,
                    outcome=outcome,
                    rationale=rationale,
                )
            ]

        return self._streams.write(
            stream_id, decide, _recorded(BreakGlassAccessReviewed), recall=recall
        )

    def _replay(self, earlier: IdempotencyKeyUsed, kind: type[E]) -> Recorded[E]:
        """The first answer to a keyed grant or review, from the event it appended."""
        found = list(
            self._event_log.events_of(
                earlier.target_id, gt=earlier.target_version - 1, lte=earlier.target_version
            )
        )
        if len(found) != 1 or not isinstance(found[0], kind):
            # The key's request hash matched, so the path did: this cannot be another kind.
            raise RuntimeError(
                f"the Idempotency-Key names {earlier.target_id} v{earlier.target_version}"
            )
        position = self._event_log.notification_id_of(earlier.target_id, earlier.target_version)
        return Recorded(found[0], position or 0, replayed=True)


def _recorded(kind: type[E]) -> Callable[[Written[Stream]], Recorded[E]]:
    """The answer to a grant or review just appended: its event and log position."""

    def answer(written: Written[Stream]) -> Recorded[E]:
        [event] = written.events
        return Recorded(cast(E, event), written.position)

    return answer
