"""Data protection: legal holds, erasure (crypto-shredding), retention and subject access.

A data subject is what a case is about (``kind`` + ``ref``). Its personal fields are stored
encrypted under its own key (``infrastructure.keys``). Erasure:

1. refuses while a legal hold is in force (``LegalHoldInForce``, nothing written);
2. records ``SubjectErased`` on the subject (its version orders it against a concurrent hold);
3. destroys the subject's keys: every personal field recorded about it, in events, snapshots
   and any backup of them, is unreadable from here on;
4. appends ``PersonalDataErased`` to each of the subject's cases (closed ones too), so each
   timeline shows the erasure. Each append carries an idempotency key derived from the erasure,
   so running the erasure again after a failure part-way finishes the job without repeating it.

A hold, a lift or an erasure asked for with an Idempotency-Key records the key with its event
(``application.idempotency``): a retry answers as the first time and appends nothing (a retried
erasure that had stopped part-way first finishes recording it on the subject's cases).

Nothing in the event log is changed or deleted, so its hashes still verify. Which cases belong
to a subject comes from the key table's case bindings (written synchronously when a case's first
event is stored), each checked against the case's own subject, never from a lagging view.

Retention: a subject's data is due for destruction once every one of its cases has been closed
for its category's period (``Settings.retention_period_years``), counted from the closure's
``occurred_at``; only "is it due today" reads the clock. Subjects under a legal hold are
skipped and said to be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from application.cases import CaseService, Contention
from application.idempotency import KeyedRequest, WriteKeys
from application.ledger import Ledger
from domain.case.commands import RecordErasure
from domain.case.events import CaseEvent, PersonalDataErased
from domain.case.state import CaseState
from domain.case.vocabulary import CaseStatus, Category, SubjectKind
from domain.errors import RuleViolation
from domain.idempotency import IdempotencyKeyUsed
from domain.personal import ErasureTrigger
from domain.shared import Actor, DecisionContext, Role
from domain.subject.errors import SubjectNotFound
from domain.subject.events import SubjectErased, SubjectEvent
from domain.subject.subject import (
    EraseSubject,
    LiftLegalHold,
    PlaceLegalHold,
    SubjectState,
    check_erasable,
    erase,
    evolve,
    fold,
    lift_hold,
    place_hold,
)
from infrastructure.keys import KeyRecord, SubjectKeyring

C = TypeVar("C", PlaceLegalHold, LiftLegalHold)

RETENTION_ACTOR = Actor(username="vigil-retention", role=Role.ADMIN)
RETENTION_LAWFUL_BASIS = "UK GDPR Art 5(1)(e) storage limitation (retention schedule)"
_WRITE_RETRIES = 5


@dataclass(frozen=True)
class SubjectRef:
    kind: SubjectKind
    ref: str


@dataclass(frozen=True)
class ErasureResult:
    subject: SubjectRef
    event: SubjectErased
    case_ids: list[UUID]
    key_ids: list[str]
    position: int
    replayed: bool = False  # True when this answers a retried Idempotency-Key


@dataclass(frozen=True)
class HoldResult:
    subject: SubjectRef
    event: SubjectEvent
    state: SubjectState  # just after the event
    position: int
    replayed: bool = False  # True when this answers a retried Idempotency-Key


@dataclass(frozen=True)
class CaseRecord:
    """A case as held: its current state and its whole timeline, decrypted where possible."""

    state: CaseState
    timeline: list[CaseEvent]


@dataclass(frozen=True)
class SubjectRecord:
    """Everything held about one subject of one kind."""

    subject: SubjectRef
    state: SubjectState | None
    history: list[SubjectEvent]
    keys: list[KeyRecord]
    cases: list[CaseRecord]


RetentionStatus = Literal["due", "held", "not_due", "open"]


@dataclass(frozen=True)
class RetentionItem:
    """One subject with a live key, and whether its data is due for destruction."""

    subject: SubjectRef
    case_ids: list[UUID]
    status: RetentionStatus
    due_at: datetime | None  # when every case's period has run out (None while a case is open)


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years (29 February falls back to the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


class DataProtectionService:
    def __init__(
        self,
        ledger: Ledger,
        cases: CaseService,
        keyring: SubjectKeyring,
        *,
        clock: Callable[[], datetime],
        retention_years: Callable[[Category], int],
    ) -> None:
        self._ledger = ledger
        self._cases = cases
        self._keyring = keyring
        self._clock = clock
        self._retention_years = retention_years
        self._keys = WriteKeys(ledger)

    # --- subjects --------------------------------------------------------------------------------

    def subject_id(self, kind: SubjectKind, ref: str) -> UUID:
        """The subject's aggregate id: a keyed hash of kind and ref (not reversible)."""
        return UUID(hex=self._keyring.subject_hash(kind.value, ref)[:32])

    def _history(self, subject_id: UUID) -> list[SubjectEvent]:
        try:
            events = list(self._ledger.events_of(subject_id))
        except AggregateNotFoundError:
            return []
        return [e for e in events if isinstance(e, SubjectEvent)]

    def _cases_of(self, subject: SubjectRef) -> list[CaseState]:
        """The subject's cases, from the key table's bindings, each checked against its case."""
        subject_hash = self._keyring.subject_hash(subject.kind.value, subject.ref)
        found = []
        for case_id in self._keyring.cases_of([subject_hash]):
            state = self._cases.load(case_id)
            if state is not None and (state.subject.kind, state.subject.ref) == (
                subject.kind,
                subject.ref,
            ):
                found.append(state)
        return sorted(found, key=lambda s: (s.opened_at, str(s.id)))

    def _save(self, event: SubjectEvent, actor: Actor, request: KeyedRequest | None) -> int:
        """Append the event (with the request's Idempotency-Key, if any): its log position."""
        key_used = self._keys.record(
            actor.username,
            request,
            target_id=event.originator_id,
            target_version=event.originator_version,
            at=event.recorded_at,
        )
        recordings = self._ledger.save(event, *key_used)
        return max(
            (r.notification.id for r in recordings if r.domain_event is event),
            default=0,
        )

    def _written(self, earlier: IdempotencyKeyUsed) -> list[SubjectEvent]:
        """The subject's events up to the one a keyed write made."""
        return [
            e
            for e in self._ledger.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, SubjectEvent)
        ]

    def _hold_replay(self, ref: str, earlier: IdempotencyKeyUsed) -> HoldResult:
        """The first answer to a keyed hold or lift: the subject as that write left it."""
        history = self._written(earlier)
        state = fold(history)
        assert state is not None  # it holds the keyed write's event
        event = history[-1]
        position = self._ledger.notification_id_of(event.originator_id, event.originator_version)
        return HoldResult(
            SubjectRef(event.subject_kind, ref), event, state, position or 0, replayed=True
        )

    def _context(self, actor: Actor) -> DecisionContext:
        return DecisionContext(actor=actor, now=self._clock())

    # --- legal holds -----------------------------------------------------------------------------

    def place_hold(
        self,
        ref: str,
        command: PlaceLegalHold,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> HoldResult:
        """Place a legal hold: the subject's data may not be erased until it is lifted."""
        return self._hold_write(ref, command, actor, request, place_hold)

    def lift_hold(
        self,
        ref: str,
        command: LiftLegalHold,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> HoldResult:
        """Lift the legal hold in force."""
        return self._hold_write(ref, command, actor, request, lift_hold)

    def _hold_write(
        self,
        ref: str,
        command: C,
        actor: Actor,
        request: KeyedRequest | None,
        decide: Callable[[UUID, SubjectState | None, C, DecisionContext], SubjectEvent],
    ) -> HoldResult:
        """Decide and record one legal-hold event (or answer a keyed retry with the first)."""

        def write() -> HoldResult:
            subject = SubjectRef(command.kind, ref)
            subject_id = self.subject_id(subject.kind, ref)
            for _ in range(_WRITE_RETRIES):
                earlier = self._keys.earlier(actor.username, request)
                if earlier is not None:
                    return self._hold_replay(ref, earlier)
                state = fold(self._history(subject_id))
                event = decide(subject_id, state, command, self._context(actor))
                try:
                    position = self._save(event, actor, request)
                except IntegrityError:
                    continue  # another decision about this subject got there first: decide again
                # Just after the event (as a retry's answer shows it), not any later write.
                return HoldResult(subject, event, evolve(state, event), position)
            raise Contention("the subject kept changing; try again")

        return self._keys.unless_written(
            actor.username, request, write, lambda earlier: self._hold_replay(ref, earlier)
        )

    # --- erasure ---------------------------------------------------------------------------------

    def erase(
        self,
        ref: str,
        command: EraseSubject,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> ErasureResult:
        """Destroy the subject's keys and record it on the subject and on each of its cases."""
        return self._keys.unless_written(
            actor.username,
            request,
            lambda: self._erase(ref, command, actor, request),
            lambda earlier: self._erasure_replay(ref, earlier, actor),
        )

    def _erase(
        self, ref: str, command: EraseSubject, actor: Actor, request: KeyedRequest | None
    ) -> ErasureResult:
        subject = SubjectRef(command.kind, ref)
        subject_id = self.subject_id(subject.kind, ref)
        subject_hash = self._keyring.subject_hash(subject.kind.value, ref)
        for _ in range(_WRITE_RETRIES):
            earlier = self._keys.earlier(actor.username, request)
            if earlier is not None:
                return self._erasure_replay(ref, earlier, actor)
            state = fold(self._history(subject_id))
            check_erasable(state)
            keys = self._keyring.keys_of([subject_hash])
            live = [k.key_id for k in keys if k.destroyed_at is None]
            cases = self._cases_of(subject)
            if not live:
                if not keys and not cases and state is None:
                    raise SubjectNotFound("Vigil holds no personal data about this subject")
                unfinished = self._unfinished_erasure(subject, subject_id, actor)
                if unfinished is not None:
                    return unfinished
                raise RuleViolation(
                    "the subject's personal data is already erased: nothing has been recorded "
                    "about them since"
                )
            case_ids = [c.id for c in cases]
            event = erase(
                subject_id,
                state,
                command,
                self._context(actor),
                case_ids=case_ids,
                key_ids=live,
            )
            try:
                position = self._save(event, actor, request)
            except IntegrityError:
                continue  # a hold or another erasure got there first: decide again
            self._keyring.destroy([subject_hash])
            position = max(position, self._record_on_cases(event, case_ids, actor))
            return ErasureResult(subject, event, case_ids, live, position)
        raise Contention("the subject kept changing; try again")

    def _erasure_replay(self, ref: str, earlier: IdempotencyKeyUsed, actor: Actor) -> ErasureResult:
        """The first answer to a keyed erasure, after finishing it on any case that has not
        recorded it yet (the first attempt stopped part-way)."""
        event = self._written(earlier)[-1]
        assert isinstance(event, SubjectErased)
        recorded = {
            case_id: [
                e
                for e in self._cases.timeline(case_id)
                if isinstance(e, PersonalDataErased) and e.erasure_id == event.event_id
            ]
            for case_id in event.case_ids
        }
        missing = [case_id for case_id, found in recorded.items() if not found]
        position = max(
            self._ledger.notification_id_of(event.originator_id, event.originator_version) or 0,
            self._record_on_cases(event, missing, actor),
            *(
                self._ledger.notification_id_of(e.originator_id, e.originator_version) or 0
                for found in recorded.values()
                for e in found
            ),
        )
        return ErasureResult(
            SubjectRef(event.subject_kind, ref),
            event,
            list(event.case_ids),
            list(event.key_ids),
            position,
            replayed=True,
        )

    def _unfinished_erasure(
        self, subject: SubjectRef, subject_id: UUID, actor: Actor
    ) -> ErasureResult | None:
        """Finish the latest erasure if it stopped before every case recorded it (a crash
        between destroying the keys and the appends); None if it is complete."""
        erased = [e for e in self._history(subject_id) if isinstance(e, SubjectErased)]
        if not erased:
            return None
        last = erased[-1]
        missing = [
            case_id
            for case_id in last.case_ids
            if not any(
                isinstance(e, PersonalDataErased) and e.erasure_id == last.event_id
                for e in self._cases.timeline(case_id)
            )
        ]
        if not missing:
            return None
        position = self._record_on_cases(last, missing, actor)
        return ErasureResult(subject, last, list(last.case_ids), list(last.key_ids), position)

    def _record_on_cases(self, event: SubjectErased, case_ids: Sequence[UUID], actor: Actor) -> int:
        position = 0
        for case_id in case_ids:
            result = self._cases.execute(
                case_id,
                RecordErasure(
                    erasure_id=event.event_id,
                    trigger=event.trigger,
                    lawful_basis=event.lawful_basis,
                    erasure_reason=event.reason,
                ),
                actor,
                idempotency_key=f"erasure:{event.event_id}",
                request_hash=str(event.event_id),
            )
            position = max(position, result.position)
        return position

    # --- subject access --------------------------------------------------------------------------

    def export(self, ref: str, kind: SubjectKind | None = None) -> list[SubjectRecord]:
        """Everything held about the subject (each kind, or one), decrypted where not erased."""
        records = []
        for each in [kind] if kind is not None else list(SubjectKind):
            subject = SubjectRef(each, ref)
            subject_id = self.subject_id(each, ref)
            history = self._history(subject_id)
            keys = self._keyring.keys_of([self._keyring.subject_hash(each.value, ref)])
            cases = [
                CaseRecord(state=state, timeline=self._cases.timeline(state.id))
                for state in self._cases_of(subject)
            ]
            if history or keys or cases:
                records.append(SubjectRecord(subject, fold(history), history, keys, cases))
        if not records:
            raise SubjectNotFound("Vigil holds nothing about this subject")
        return records

    # --- retention -------------------------------------------------------------------------------

    def retention_review(self) -> list[RetentionItem]:
        """Every subject that still has readable personal data, and whether it is due now."""
        now = self._clock()
        items = []
        for case_ids in self._keyring.subjects_with_live_keys().values():
            states = [s for s in (self._cases.load(c) for c in case_ids) if s is not None]
            if not states:
                continue
            subject = SubjectRef(states[0].subject.kind, states[0].subject.ref)
            due_at = self._due_at(states)
            held = fold(self._history(self.subject_id(subject.kind, subject.ref)))
            status: RetentionStatus
            if due_at is None:
                status = "open"
            elif due_at > now:
                status = "not_due"
            elif held is not None and held.on_hold:
                status = "held"
            else:
                status = "due"
            items.append(RetentionItem(subject, [s.id for s in states], status, due_at))
        return sorted(items, key=lambda i: (i.status, i.due_at or now, i.subject.ref))

    def _due_at(self, states: Sequence[CaseState]) -> datetime | None:
        """When the last of the cases' retention periods ends (None: a case is still open)."""
        ends = []
        for state in states:
            if state.status is not CaseStatus.CLOSED or state.closed_at is None:
                return None
            ends.append(add_years(state.closed_at, self._retention_years(state.category)))
        return max(ends)

    def apply_retention(self, actor: Actor = RETENTION_ACTOR) -> list[ErasureResult]:
        """Erase every subject that is due (not those under a legal hold), recording each."""
        done = []
        for item in self.retention_review():
            if item.status != "due":
                continue
            assert item.due_at is not None
            reason = (
                "Retention period ended on "
                f"{item.due_at.date().isoformat()}: every case closed for its "
                "category's period"
            )
            done.append(
                self.erase(
                    item.subject.ref,
                    EraseSubject(
                        kind=item.subject.kind,
                        lawful_basis=RETENTION_LAWFUL_BASIS,
                        reason=reason,
                        trigger=ErasureTrigger.RETENTION,
                    ),
                    actor,
                )
            )
        return done
