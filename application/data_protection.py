"""Data protection: legal holds, erasure (crypto-shredding), retention and subject access.

A data subject is what a case is about (``kind`` + ``ref``). Its personal fields are stored
encrypted under its own key (``infrastructure.keys``). Erasure:

1. refuses while a legal hold is in force (``LegalHoldInForce``, nothing written);
2. records ``SubjectErased`` on the subject (its version orders it against a concurrent hold);
3. destroys the keys that seal the subject's personal fields in every context that holds some
   (``HOLDERS``: each names them as its classes declare them, ``domain.personal``): every
   personal field recorded about it, in events, snapshots and any backup of them, is
   unreadable from here on;
4. appends ``PersonalDataErased`` to each of the subject's cases (closed ones too), so each
   timeline shows the erasure. Each append carries an idempotency key derived from the erasure,
   so running the erasure again after a failure part-way finishes the job without repeating it.

A hold, a lift or an erasure asked for with an Idempotency-Key records the key with its event
(``application.idempotency``): a retry answers as the first time and appends nothing (a retried
erasure that had stopped part-way first finishes recording it on the subject's cases).

Nothing in the event log is changed or deleted, so its hashes still verify. Which cases belong
to a subject comes from the key table's case bindings (written synchronously when a case's first
event is stored), each checked against the case's own subject, never from a lagging view; which
helpline contacts a caller made, from its contact bindings (written when a contact's logging is
stored), each checked against the contact's own caller. A named caller's contacts are sealed
under the caller's key, so erasing the caller (kind ``contact``) makes every one of them read
``[erased]``; the erasure names them (``SubjectErased.contact_ids``), and a subject access
export includes them.

Retention: a subject's data is due for destruction once every one of its cases has been closed
for its category's period (``domain.subject.retention.RetentionPolicy``), counted from the closure's
``occurred_at``, and, for a named caller (kind ``contact``), every one of their helpline contacts
is past the contact period, counted from the contact's ``occurred_at`` (a contact linked to a
case follows its case instead: its case's period, never while the case is open). A caller with
only contacts is reviewed as a subject of cases is. An anonymous contact is sealed under a key
of its own and is its own data subject, kind ``contact`` and ref ``anonymous:<contact id>``
(``anonymous_contact_ref``): retention reviews it on its own (the contact period, or its case's),
and its erasure, by retention or on request, is a ``SubjectErased`` on that subject naming the
contact (``contact_ids``), which is what destroying its key needs and ``vigil verify`` checks.
Only "is it due today" reads the clock. Subjects under a legal hold are skipped and said to be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from application.cases import CaseService
from application.contacts import ContactRecord
from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.case.commands import RecordErasure
from domain.case.events import CaseEvent, PersonalDataErased
from domain.case.state import CaseState
from domain.case.vocabulary import CaseStatus, Category, SubjectKind
from domain.contact.events import ContactEvent
from domain.contact.state import ContactState
from domain.contact.state import fold as fold_contact
from domain.contact.vocabulary import ANONYMOUS_CONTACT_REF_PREFIX
from domain.errors import RuleViolation
from domain.idempotency import IdempotencyKeyUsed
from domain.personal import (
    DataSubject,
    ErasureTrigger,
    NamingCase,
    OwnStream,
    Person,
    SubjectOfCase,
    declaration_of,
)
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
from infrastructure.event_log import EventLog
from infrastructure.keys import KeyRecord, SubjectKeyring
from infrastructure.persistence import subject_hashes

C = TypeVar("C", PlaceLegalHold, LiftLegalHold)

RETENTION_ACTOR = Actor(username="vigil-retention", role=Role.ADMIN)
RETENTION_LAWFUL_BASIS = "UK GDPR Art 5(1)(e) storage limitation (retention schedule)"


class ErasureIncomplete(RuntimeError):
    """An erasure is recorded but a key it names is still live: a fault, never a success."""


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
    contact_ids: list[UUID] = field(default_factory=list)  # the caller's helpline contacts


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
    # Records in other streams that name the subject's cases, sealed under keys of their own
    # (shift handovers), decrypted where not erased, in the order they were recorded.
    naming: list[Any] = field(default_factory=list)
    # The helpline contacts the subject made as a named caller (kind ``contact``), in order.
    contacts: list[ContactRecord] = field(default_factory=list)
    # A forum member's own records (kind ``member``, from community intake): joined, first
    # topic, welcomed, cases opened from flags, decrypted where not erased, in order.
    forum_member: list[Any] = field(default_factory=list)


RetentionStatus = Literal["due", "held", "not_due", "open"]


@dataclass(frozen=True)
class RetentionItem:
    """One subject with a live key, and whether its data is due for destruction."""

    subject: SubjectRef
    case_ids: list[UUID]
    status: RetentionStatus
    due_at: datetime | None  # when every case's period has run out (None while a case is open)
    # The helpline contacts the subject made as a named caller (kind ``contact``).
    contact_ids: list[UUID] = field(default_factory=list)


ANONYMOUS_CONTACT = ANONYMOUS_CONTACT_REF_PREFIX


def anonymous_contact_ref(contact_id: UUID) -> str:
    """The ref an anonymous contact's own data subject goes by (kind ``contact``): what its
    legal hold, erasure and subject access name."""
    return f"{ANONYMOUS_CONTACT}{contact_id}"


def anonymous_contact_of(ref: str) -> UUID | None:
    """The contact an ``anonymous:<contact id>`` ref names, else None."""
    if not ref.startswith(ANONYMOUS_CONTACT):
        return None
    try:
        return UUID(ref.removeprefix(ANONYMOUS_CONTACT))
    except ValueError:
        return None


class PersonalDataHolder(Protocol):
    """A context whose stored classes hold personal fields: under which data subjects (as its
    classes declare them) it holds one subject's, given the subject's cases. A new context adds
    one to ``HOLDERS``, or erasing a subject leaves its data readable."""

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        """Where this context seals the subject's personal fields."""
        ...


class CaseHoldings:
    """A case's events and snapshots: under the subject the case is about."""

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        return [Person(subject.kind.value, subject.ref)]


class BreakGlassHoldings:
    """Break-glass grants and their reviews (a stream per user and case): under the subject of
    the case they are about."""

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        return [SubjectOfCase(case_id) for case_id in case_ids]


class HandoverHoldings:
    """Shift handovers' notes (``domain.shift``): each is sealed under a key of the handover's
    own, which storage links to every case the handover names; erasing the subject of one of
    those cases destroys it (the whole note: it may speak of that subject anywhere in it)."""

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        return [NamingCase(case_id) for case_id in case_ids]


class ContactHoldings:
    """Helpline contacts (``domain.contact``): a named caller's are sealed under the caller's
    own key (``Person("contact", ref)``), every event of each contact (reviews and follow-ups
    included). An anonymous caller's contact is sealed under a key of its own, which no
    subject's erasure names but the contact's own: kind ``contact``, ref
    ``anonymous:<contact id>`` (``anonymous_contact_ref``), erased by retention or on request."""

    def holdings(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> Iterable[DataSubject]:
        if subject.kind is not SubjectKind.CONTACT:
            return []
        contact_id = anonymous_contact_of(subject.ref)
        if contact_id is not None:
            # The contact's own key (a named caller's contact has none under it).
            return [Person(subject.kind.value, subject.ref), OwnStream(contact_id)]
        return [Person(subject.kind.value, subject.ref)]


HOLDERS: tuple[PersonalDataHolder, ...] = (
    CaseHoldings(),
    BreakGlassHoldings(),
    HandoverHoldings(),
    ContactHoldings(),
)


def _fold(state: SubjectState | None, events: Iterable[Any]) -> SubjectState | None:
    for event in events:
        if isinstance(event, SubjectEvent):
            state = evolve(state, event)
    return state


def _version(state: SubjectState) -> int:
    return state.version


@dataclass
class _Erasure:
    """What an erasure's decision found, for its answer."""

    case_ids: list[UUID] = field(default_factory=list)  # in the order the answer lists them
    contact_ids: list[UUID] = field(default_factory=list)
    # The key table's names of every subject whose keys seal the erased one's fields.
    held: list[str] = field(default_factory=list)
    # An earlier erasure that stopped before every case recorded it, and those cases.
    unfinished: tuple[SubjectErased, list[UUID]] | None = None


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole calendar years (29 February falls back to the 28th)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


class DataProtectionService:
    def __init__(
        self,
        event_log: EventLog,
        cases: CaseService,
        keyring: SubjectKeyring,
        *,
        clock: Callable[[], datetime],
        retention_years: Callable[[Category], int],
        write_retries: int,
        contact_retention_years: int = 6,
        holders: Sequence[PersonalDataHolder] = HOLDERS,
        forum_member_events: Callable[[str], list[Any]] | None = None,
    ) -> None:
        self._event_log = event_log
        self._holders = holders
        # A forum member's own stream (community intake), for a subject of kind member.
        self._forum_member_events = forum_member_events
        self._cases = cases
        self._keyring = keyring
        self._clock = clock
        self._retention_years = retention_years
        self._contact_retention_years = contact_retention_years
        self._keys = WriteKeys(event_log)
        self._subjects = WritePath[SubjectState](
            event_log, name="subject", fold=_fold, version=_version, retries=write_retries
        )

    # --- subjects --------------------------------------------------------------------------------

    def subject_id(self, kind: SubjectKind, ref: str) -> UUID:
        """The subject's aggregate id: a keyed hash of kind and ref (not reversible)."""
        return UUID(hex=self._keyring.subject_hash(kind.value, ref)[:32])

    def _history(self, subject_id: UUID) -> list[SubjectEvent]:
        try:
            events = list(self._event_log.events_of(subject_id))
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

    def _contacts_of(self, subject: SubjectRef) -> list[ContactRecord]:
        """The helpline contacts the subject made as a named caller, from the key table's
        contact bindings, each checked against its contact's caller; decrypted where not
        erased, in the order they occurred."""
        if subject.kind is not SubjectKind.CONTACT:
            return []
        anonymous = anonymous_contact_of(subject.ref)
        if anonymous is not None:
            own = self._contact(anonymous)
            if own is None or not own.anonymous:
                return []
            events = [
                e for e in self._event_log.events_of(anonymous) if isinstance(e, ContactEvent)
            ]
            return [ContactRecord(own, events)]
        subject_hash = self._keyring.subject_hash(subject.kind.value, subject.ref)
        found = []
        for contact_id in self._keyring.contacts_of([subject_hash]):
            events = [
                e for e in self._event_log.events_of(contact_id) if isinstance(e, ContactEvent)
            ]
            state = fold_contact(events)
            if state is not None and not state.anonymous and state.caller_ref == subject.ref:
                found.append(ContactRecord(state, events))
        return sorted(found, key=lambda r: (r.state.occurred_at, str(r.state.id)))

    def _held_under(self, subject: SubjectRef, case_ids: Sequence[UUID]) -> list[str]:
        """The key table's names of every subject whose keys seal this one's personal fields,
        in any context: what an erasure destroys."""
        held = [h for holder in self._holders for h in holder.holdings(subject, case_ids)]
        return subject_hashes(self._event_log, held)

    def _written(self, earlier: IdempotencyKeyUsed) -> list[SubjectEvent]:
        """The subject's events up to the one a keyed write made."""
        return [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, SubjectEvent)
        ]

    def _hold_replay(self, ref: str, earlier: IdempotencyKeyUsed) -> HoldResult:
        """The first answer to a keyed hold or lift: the subject as that write left it."""
        history = self._written(earlier)
        state = fold(history)
        assert state is not None  # it holds the keyed write's event
        event = history[-1]
        position = self._event_log.notification_id_of(event.originator_id, event.originator_version)
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
        subject = SubjectRef(command.kind, ref)
        subject_id = self.subject_id(subject.kind, ref)

        def answer(written: Written[SubjectState]) -> HoldResult:
            # Just after the event (as a retry's answer shows it), not any later write.
            [event] = written.events
            assert written.after is not None
            return HoldResult(subject, event, written.after, written.position)

        return self._subjects.write(
            subject_id,
            lambda state: [decide(subject_id, state, command, self._context(actor))],
            answer,
            recall=self._keys.recall(
                actor.username, request, lambda earlier: self._hold_replay(ref, earlier)
            ),
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
        subject = SubjectRef(command.kind, ref)
        subject_id = self.subject_id(subject.kind, ref)
        found = _Erasure()

        def decide(state: SubjectState | None) -> list[SubjectEvent]:
            check_erasable(state)
            cases = self._cases_of(subject)
            found.held = self._held_under(subject, [c.id for c in cases])
            keys = self._keyring.keys_of(found.held)
            live = [k.key_id for k in keys if k.destroyed_at is None]
            if not live:
                if not keys and not cases and state is None:
                    raise SubjectNotFound("Vigil holds no personal data about this subject")
                found.unfinished = self._unfinished_erasure(subject_id)
                if found.unfinished is not None:
                    return []  # nothing new on the subject: the last erasure is finished instead
                raise RuleViolation(
                    "the subject's personal data is already erased: nothing has been recorded "
                    "about them since"
                )
            found.case_ids = [c.id for c in cases]
            found.contact_ids = [r.state.id for r in self._contacts_of(subject)]
            return [
                erase(
                    subject_id,
                    state,
                    command,
                    self._context(actor),
                    case_ids=found.case_ids,
                    key_ids=live,
                    contact_ids=found.contact_ids,
                )
            ]

        def answer(written: Written[SubjectState]) -> ErasureResult:
            if not written.events:
                assert found.unfinished is not None
                last, missing = found.unfinished
                position = self._record_on_cases(last, missing, actor)
                return ErasureResult(
                    subject,
                    last,
                    list(last.case_ids),
                    list(last.key_ids),
                    position,
                    contact_ids=list(last.contact_ids),
                )
            [event] = written.events
            live = list(event.key_ids)
            if set(live) - set(self._keyring.destroy(found.held)):
                self._destroy_named(found.held, live)  # some were not: check, and again
            position = max(written.position, self._record_on_cases(event, found.case_ids, actor))
            return ErasureResult(
                subject,
                event,
                found.case_ids,
                list(event.key_ids),
                position,
                contact_ids=list(event.contact_ids),
            )

        return self._subjects.write(
            subject_id,
            decide,
            answer,
            recall=self._keys.recall(
                actor.username, request, lambda earlier: self._erasure_replay(ref, earlier, actor)
            ),
        )

    def _destroy_named(self, held: Sequence[str], key_ids: Sequence[str]) -> None:
        """Make sure every key a recorded erasure names is destroyed, destroying again what is
        still live: its answer says they are. Raises ErasureIncomplete if one survives that (the
        erasure stays recorded; retrying it with its Idempotency-Key tries again)."""
        surviving = self._live_among(held, key_ids)
        if surviving:
            self._keyring.destroy(held)
            surviving = self._live_among(held, key_ids)
        if surviving:
            raise ErasureIncomplete(
                f"the erasure is recorded but {len(surviving)} of its keys could not be "
                "destroyed: retry it with its Idempotency-Key"
            )

    def _live_among(self, held: Sequence[str], key_ids: Sequence[str]) -> list[str]:
        keys = self._keyring.keys_of(held)
        return sorted({k.key_id for k in keys if k.destroyed_at is None} & set(key_ids))

    def _erasure_replay(self, ref: str, earlier: IdempotencyKeyUsed, actor: Actor) -> ErasureResult:
        """The first answer to a keyed erasure, after finishing it on any case that has not
        recorded it yet (the first attempt stopped part-way)."""
        event = self._written(earlier)[-1]
        assert isinstance(event, SubjectErased)
        held = self._held_under(SubjectRef(event.subject_kind, ref), event.case_ids)
        self._destroy_named(held, event.key_ids)
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
            self._event_log.notification_id_of(event.originator_id, event.originator_version) or 0,
            self._record_on_cases(event, missing, actor),
            *(
                self._event_log.notification_id_of(e.originator_id, e.originator_version) or 0
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
            contact_ids=list(event.contact_ids),
        )

    def _unfinished_erasure(self, subject_id: UUID) -> tuple[SubjectErased, list[UUID]] | None:
        """The latest erasure and the cases that have not recorded it, if it stopped before
        every case did (a crash between destroying the keys and the appends); else None."""
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
        return (last, missing) if missing else None

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
            contacts = self._contacts_of(subject)
            forum = (
                self._forum_member_events(ref)
                if each == SubjectKind.MEMBER and self._forum_member_events is not None
                else []
            )
            if history or keys or cases or contacts or forum:
                naming = self._naming([c.state.id for c in cases])
                records.append(
                    SubjectRecord(
                        subject,
                        fold(history),
                        history,
                        keys,
                        cases,
                        naming,
                        contacts=contacts,
                        forum_member=forum,
                    )
                )
        if not records:
            raise SubjectNotFound("Vigil holds nothing about this subject")
        return records

    def _naming(self, case_ids: Sequence[UUID]) -> list[Any]:
        """The events sealed under keys of their own that name one of the cases (from the key
        table's links, each checked against its event), decrypted where not erased."""
        found: dict[tuple[UUID, int], Any] = {}
        for link in self._keyring.links_of(case_ids):
            where = (link.originator_id, link.originator_version)
            if where in found:
                continue
            events = list(
                self._event_log.events_of(
                    link.originator_id,
                    gt=link.originator_version - 1,
                    lte=link.originator_version,
                )
            )
            declared = None if len(events) != 1 else declaration_of(type(events[0]))
            subject = None if declared is None else declared(events[0])
            # A link whose event was never stored (a lost race) names another event, or none.
            if isinstance(subject, OwnStream) and link.case_id in subject.names_cases:
                found[where] = events[0]
        return sorted(found.values(), key=lambda e: (e.recorded_at, str(e.originator_id)))

    # --- retention -------------------------------------------------------------------------------

    def retention_review(self) -> list[RetentionItem]:
        """Every subject that still has readable personal data, and whether it is due now: the
        subjects of cases, and named callers of helpline contacts (an anonymous contact's own
        key is not reviewed here)."""
        now = self._clock()
        case_subjects = self._keyring.subjects_with_live_keys()
        contact_subjects = self._keyring.contact_subjects_with_live_keys()
        items = []
        for subject_hash in sorted(set(case_subjects) | set(contact_subjects)):
            case_ids = case_subjects.get(subject_hash, [])
            states = [s for s in (self._cases.load(c) for c in case_ids) if s is not None]
            bound = [
                state
                for state in (self._contact(c) for c in contact_subjects.get(subject_hash, []))
                if state is not None
            ]
            contacts = [c for c in bound if not c.anonymous and c.caller_ref is not None]
            if states:
                subject = SubjectRef(states[0].subject.kind, states[0].subject.ref)
            elif contacts:
                subject = SubjectRef(SubjectKind.CONTACT, str(contacts[0].caller_ref))
            elif len(bound) == 1 and bound[0].anonymous:
                # An anonymous contact, under its own key: its own subject.
                contacts = bound
                subject = SubjectRef(SubjectKind.CONTACT, anonymous_contact_ref(bound[0].id))
            else:
                continue
            due_at = self._due_at(states, contacts)
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
            items.append(
                RetentionItem(
                    subject,
                    [s.id for s in states],
                    status,
                    due_at,
                    contact_ids=[c.id for c in contacts],
                )
            )
        return sorted(items, key=lambda i: (i.status, i.due_at or now, i.subject.ref))

    def _contact(self, contact_id: UUID) -> ContactState | None:
        try:
            events = list(self._event_log.events_of(contact_id))
        except AggregateNotFoundError:
            return None
        return fold_contact([e for e in events if isinstance(e, ContactEvent)])

    def _due_at(
        self, states: Sequence[CaseState], contacts: Sequence[ContactState] = ()
    ) -> datetime | None:
        """When the last retention period ends (None: a case is still open): each case's,
        counted from its closure; each contact's, counted from when it occurred, unless it is
        linked to a case, which it follows (that case's period, or None while it is open)."""
        ends = []
        for state in states:
            if state.status is not CaseStatus.CLOSED or state.closed_at is None:
                return None
            ends.append(add_years(state.closed_at, self._retention_years(state.category)))
        for contact in contacts:
            if contact.case_id is None:
                ends.append(add_years(contact.occurred_at, self._contact_retention_years))
                continue
            case = self._cases.load(contact.case_id)
            if case is None:
                return None  # never happens: a link is stored with its case's side
            followed = self._due_at([case])
            if followed is None:
                return None
            ends.append(followed)
        return max(ends) if ends else None

    def apply_retention(self, actor: Actor = RETENTION_ACTOR) -> list[ErasureResult]:
        """Erase every subject that is due (not those under a legal hold), recording each."""
        done = []
        for item in self.retention_review():
            if item.status != "due":
                continue
            assert item.due_at is not None
            held_for = [
                *(["every case closed for its category's period"] if item.case_ids else []),
                *(["every contact past the contact period"] if item.contact_ids else []),
            ]
            ended = item.due_at.date().isoformat()
            reason = f"Retention period ended on {ended}: {' and '.join(held_for)}"
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
