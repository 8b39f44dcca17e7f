"""The contact service: helpline contacts logged, linked to a case, reviewed, their feedback
answered and resolved, their follow-ups scheduled, attempted and completed; and the read of one
contact, access-logged. Every write goes through the one write path
(``application.write_path``).

The rules are the domain's (``domain.contact.decide``); this service brings them what they read
from outside one contact, checked before anything is decided:

* the service named exists (the default one is recorded in the same append the first time,
  as a case's opening does: the contact is judged by a calendar that is in the log);
* who may see the contact at all (``AccessService.contact_access``: its handler and a
  follow-up's assignee, those who read every contact, and for a contact linked to a restricted
  case only those with full access to it): anyone else is answered as if it did not exist;
* the case a contact joins or opens: the case's own rules decide the case's side
  (``CaseService.decided``: a closed case refuses, a restricted one needs access), and both
  sides are appended in ONE transaction (the write path carries other aggregates' events with
  the contact's own): ``ContactLinkedToCase`` on the contact, ``CaseOpened`` naming the contact
  or ``ContactJoined`` on the case. If the case moved on meanwhile, the append fails and both
  are decided again;
* the scorecard version in force at the contact's ``occurred_at`` (``Scorecards``: the quality
  context's ``ScorecardService``), which a review is scored by (its default's recording, if not
  yet in the log, is appended with the review);
* a follow-up's assignee is an active user who takes contacts.

Every write takes an Idempotency-Key (``application.idempotency``: a record beside the write's
events); a retry with the same request answers as the first time and appends nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.access import AccessService
from application.cases import CaseService
from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.access.permissions import Permission, check, is_allowed
from domain.access.rules import Grant
from domain.access.vocabulary import AccessedRecord, AccessLevel, AccessPurpose
from domain.case.commands import LinkContact, OpenCaseFromContact
from domain.case.errors import CaseNotFound
from domain.contact import commands as c
from domain.contact.decide import ContactContext, ScorecardInForce, decide
from domain.contact.errors import ContactNotFound, LinkedCaseNotFound
from domain.contact.events import ContactEvent, ContactLinkedToCase, ContactLogged
from domain.contact.state import ContactState, evolve
from domain.errors import InvalidCommand
from domain.idempotency import IdempotencyKeyUsed
from domain.identity.user import User
from domain.quality.scoring import ScorecardVersion, score_review
from domain.service.commands import DEFAULT_SERVICE
from domain.service.errors import ServiceNotFound
from domain.shared import Actor, DecisionContext
from infrastructure.event_log import EventLog


class Services(Protocol):
    """What contacts need of services (``application.services.ServiceService`` is one)."""

    def exists(self, name: str) -> bool: ...

    def default_registration(self) -> list[Any]: ...


class Scorecards(Protocol):
    """The organisation's scorecard over time (``application.quality.ScorecardService``)."""

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        """The version a review of a contact that occurred at ``at`` is judged by."""
        ...

    def default_recording(self) -> list[Any]:
        """What must be appended with a review judged by the default scorecard the first time."""
        ...


class SlaPolicies(Protocol):
    """The SLA policy (``application.sla_policies.SlaPolicyService``): a contact's review is
    due by its ``contact_reviewed`` target in force at the contact."""

    def default_recording(self) -> list[Any]:
        """What must be appended with the first write judged by version 1 (the settings')."""
        ...


class People(Protocol):
    """The users contacts name (``IdentityService`` is one)."""

    def get(self, username: str) -> User | None: ...


@dataclass(frozen=True)
class ContactWrite:
    """A write to one contact as answered: the contact just after it, its events (the contact's
    own: a case's side is in the log beside them), the log position of the last of them, and
    whether this answers a retried Idempotency-Key."""

    state: ContactState
    events: list[ContactEvent]
    position: int
    replayed: bool = False


@dataclass(frozen=True)
class ContactRecord:
    """A contact as read: its state, and every event of it (personal fields decrypted, or
    ``[erased]`` once its caller's data is erased), in order."""

    state: ContactState
    events: list[ContactEvent]
    level: AccessLevel = AccessLevel.FULL


def _fold(state: ContactState | None, events: Iterable[Any]) -> ContactState | None:
    for event in events:
        if isinstance(event, ContactEvent):
            state = evolve(state, event)
    return state


def _version(state: ContactState) -> int:
    return state.version


class ContactService:
    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        cases: CaseService,
        access: AccessService,
        services: Services,
        people: People,
        scorecards: Scorecards | None = None,
        sla_policies: SlaPolicies | None = None,
        max_clock_skew_seconds: int = 300,
        write_retries: int = 25,
        cache_size: int = 0,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._cases = cases
        self._access = access
        self._services = services
        self._people = people
        self._scorecards = scorecards
        # Version 1 of the SLA policy is recorded with the first contact logged (its review's
        # due time is judged by it), as the default service is.
        self._policies = sla_policies
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._keys = WriteKeys(event_log)
        self._contacts = WritePath[ContactState](
            event_log,
            name="contact",
            fold=_fold,
            version=_version,
            retries=write_retries,
            not_found=lambda: ContactNotFound("no such contact"),
            cache_size=cache_size,
        )

    def with_clock(self, clock: Callable[[], datetime]) -> ContactService:
        """The same service recording on another clock (sharing its log and caches): for the
        demo, which records a day that has passed as it happened. Never for a user's write.
        A case's side of a link (the case opened or joined, in the same append) is decided on
        the same clock, so both sides of the append carry one ``recorded_at``."""
        twin = copy.copy(self)
        twin._clock = clock
        twin._cases = self._cases.with_clock(clock)
        return twin

    def with_scorecards(self, scorecards: Scorecards) -> ContactService:
        """The same service judging reviews by ``scorecards`` (the composition root's)."""
        twin = copy.copy(self)
        twin._scorecards = scorecards
        return twin

    # --- reads ----------------------------------------------------------------------------------

    def load(self, contact_id: UUID, *, version: int | None = None) -> ContactState | None:
        return self._contacts.load(contact_id, version=version)

    def events(self, contact_id: UUID) -> list[ContactEvent]:
        """The contact's events in order (personal fields decrypted where not erased)."""
        return [e for e in self._event_log.events_of(contact_id) if isinstance(e, ContactEvent)]

    def contacts(self) -> Iterable[UUID]:
        """Every contact's id, in the order they were logged (from the log)."""
        return self._event_log.originators_of(ContactLogged)

    def read(
        self,
        actor: Actor,
        contact_id: UUID,
        *,
        purpose: AccessPurpose = AccessPurpose.CASE_WORK,
        request_id: str | None = None,
    ) -> ContactRecord:
        """The contact with its reviews and follow-ups, its personal fields decrypted: 404
        without access (as a missing contact); the read is recorded in the access log before it
        is answered (and fails if it cannot be)."""
        state, level, grant = self._gate(actor, contact_id)
        record = ContactRecord(state, self.events(contact_id), level)
        self._access.record(
            actor,
            AccessedRecord.CONTACT,
            case_id=state.case_id,
            purpose=purpose,
            request_id=request_id,
            level=level,
            grant=grant,
            contact_id=contact_id,
        )
        return record

    def seen_by(self, actor: Actor, contact_id: UUID) -> ContactState:
        """The contact's state (nothing personal: no summary, name or feedback) if ``actor`` may
        see the contact, else ``ContactNotFound`` as for a missing one. Not access-logged: it
        reads no personal field (a page's form and live score need only this)."""
        return self._gate(actor, contact_id)[0]

    def scorecard_of(self, state: ContactState) -> ScorecardVersion | None:
        """The scorecard version a review of this contact is judged by (the one in force at its
        ``occurred_at``): the same one ``execute`` scores a ``ReviewContact`` with."""
        if self._scorecards is None:
            return None
        return self._scorecards.in_force(state.occurred_at)

    def _gate(
        self, actor: Actor, contact_id: UUID
    ) -> tuple[ContactState, AccessLevel, Grant | None]:
        state = self.load(contact_id)
        if state is None:
            raise ContactNotFound("no such contact")
        level, grant = self._access.contact_access(
            actor,
            handled_by=state.handled_by,
            assignees={f.assignee for f in state.follow_ups.values()},
            case_id=state.case_id,
        )
        if level is AccessLevel.NONE:
            raise ContactNotFound("no such contact")  # the same answer as a missing contact
        return state, level, grant

    # --- writes ---------------------------------------------------------------------------------

    def log(
        self, command: c.LogContact, actor: Actor, *, request: KeyedRequest | None = None
    ) -> ContactWrite:
        """Log a contact handled by ``actor``; with ``case_id``, it joins that case (both sides
        in one append)."""
        self._check_service(command.service)
        contact_id = uuid4()
        if command.case_id is not None:
            check(actor, Permission.CONTACT_LINK_CASE)
            self._check_case_visible(actor, command.case_id, contact_id)
        count = 1 if command.case_id is None else 2

        def decide_now(state: ContactState | None) -> list[Any]:
            events: list[Any] = decide(state, command, self._context(actor, contact_id=contact_id))
            first = (
                self._services.default_registration() if command.service == DEFAULT_SERVICE else []
            )
            if self._policies is not None:
                first = [*first, *self._policies.default_recording()]
            case_side: list[Any] = []
            if command.case_id is not None:
                link = events[-1]
                assert isinstance(link, ContactLinkedToCase)
                case_side = self._case_side(
                    actor, command.case_id, contact_id, None, link.occurred_at
                )
            # The contact's own events last: the write's position then covers the case's too.
            return [*first, *case_side, *events]

        return self._contacts.write(
            contact_id,
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, lambda e: self._replay(e, count)),
        )

    def execute(
        self,
        contact_id: UUID,
        command: c.ContactWrite,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> ContactWrite:
        """Link to a case, review, answer or resolve feedback, schedule, attempt or complete a
        follow-up; a retried keyed request answers the first time."""
        recall = self._keys.recall(actor.username, request, lambda e: self._replay(e, 1))
        # A retry is answered before anything is looked at again (the contact may have moved).
        first = None if recall is None else recall.answered(None)
        if first is not None:
            return first
        self._gate(actor, contact_id)
        if isinstance(command, c.ScheduleFollowUp) and command.assignee is not None:
            self._check_assignee(command.assignee)
        new_case = uuid4() if isinstance(command, c.LinkCase) and command.open_case else None
        if isinstance(command, c.LinkCase):
            command = self._check_link(actor, command, contact_id)

        def decide_now(state: ContactState | None) -> list[Any]:
            scorecard, before = self._scorecard_for(state, command)
            context = self._context(actor, case_id=new_case, scorecard=scorecard)
            events: list[Any] = decide(state, command, context)
            case_side: list[Any] = []
            if isinstance(command, c.LinkCase):
                [link] = events
                case_id = command.case_id or new_case
                assert case_id is not None
                case_side = self._case_side(
                    actor, case_id, contact_id, command.open_case, link.occurred_at
                )
            # The contact's own events last: the write's position then covers the case's too.
            return [*before, *case_side, *events]

        return self._contacts.write(contact_id, decide_now, self._answer, recall=recall)

    # --- the case's side -----------------------------------------------------------------------

    def _check_link(self, actor: Actor, command: c.LinkCase, contact_id: UUID) -> c.LinkCase:
        """The case to join is one the actor may add to (404 as missing otherwise); opening one
        needs the right to open cases. One moment for both sides: the link's."""
        check(actor, Permission.CONTACT_LINK_CASE)
        if command.case_id is not None:
            self._check_case_visible(actor, command.case_id, contact_id)
            return command
        assert command.open_case is not None
        check(actor, Permission.OPEN)
        opened_at = command.open_case.occurred_at
        if opened_at is not None and command.occurred_at not in (None, opened_at):
            raise InvalidCommand(
                "the case opens when the contact is linked: give occurred_at once",
                errors={"open_case.occurred_at": "differs from occurred_at"},
            )
        if command.occurred_at is None and opened_at is not None:
            return command.model_copy(update={"occurred_at": opened_at})
        return command

    def _check_case_visible(self, actor: Actor, case_id: UUID, contact_id: UUID) -> None:
        """The case to join exists and the actor may add a contact to it (a restricted case:
        with full access, or having recorded on it); one they cannot see answers as missing."""
        try:
            self._access.check_write(actor, case_id, LinkContact(contact_id=contact_id))
        except CaseNotFound:
            raise LinkedCaseNotFound("no such case", errors={"case_id": "no such case"}) from None

    def _case_side(
        self,
        actor: Actor,
        case_id: UUID,
        contact_id: UUID,
        opening: c.CaseFromContact | None,
        at: datetime,
    ) -> list[Any]:
        """The case's events naming the contact, decided by the case's own rules at ``at``."""
        if opening is None:
            command: Any = LinkContact(contact_id=contact_id, occurred_at=at)
        else:
            fields = opening.model_dump(exclude={"occurred_at"})
            command = OpenCaseFromContact(**fields, contact_id=contact_id, occurred_at=at)
        try:
            return self._cases.decided(case_id, command, actor)
        except CaseNotFound:
            raise LinkedCaseNotFound("no such case", errors={"case_id": "no such case"}) from None

    # --- checks ---------------------------------------------------------------------------------

    def _check_service(self, name: str) -> None:
        if not self._services.exists(name):
            raise ServiceNotFound(f"no service {name!r}", errors={"service": "unknown service"})

    def _check_assignee(self, username: str) -> None:
        """An active user who takes contacts (so may record the follow-up's attempts)."""
        user = self._people.get(username)
        if user is None or not user.active:
            raise InvalidCommand(
                f"{username!r} is not an active Vigil user",
                errors={"assignee": "unknown user" if user is None else "deactivated user"},
            )
        if not any(is_allowed(role, Permission.CONTACT_LOG) for role in user.roles):
            raise InvalidCommand(
                f"{username!r} cannot carry out a follow-up: none of their roles takes contacts "
                "(volunteer, moderator, coordinator or safeguarding lead)",
                errors={"assignee": "cannot carry out a follow-up"},
            )

    def _scorecard_for(
        self, state: ContactState | None, command: c.ContactWrite
    ) -> tuple[ScorecardInForce | None, list[Any]]:
        """For a review: the scorecard version in force at the contact, and what must be
        appended before the review for that version to be in the log (its default's
        recording, the first time)."""
        if not isinstance(command, c.ReviewContact) or state is None or self._scorecards is None:
            return None, []
        version = self.scorecard_of(state)
        if version is None:
            return None, []
        return (
            ScorecardInForce(version.version, partial(score_review, version)),
            list(self._scorecards.default_recording()),
        )

    # --- answers --------------------------------------------------------------------------------

    def _context(
        self,
        actor: Actor,
        *,
        contact_id: UUID | None = None,
        case_id: UUID | None = None,
        scorecard: ScorecardInForce | None = None,
    ) -> ContactContext:
        return ContactContext(
            decision=DecisionContext(actor=actor, now=self._clock(), max_clock_skew=self._max_skew),
            contact_id=contact_id,
            case_id=case_id,
            scorecard=scorecard,
        )

    @staticmethod
    def _answer(written: Written[ContactState]) -> ContactWrite:
        assert written.after is not None
        return ContactWrite(written.after, list(written.events), written.position)

    def _replay(self, earlier: IdempotencyKeyUsed, count: int) -> ContactWrite:
        """The first answer to a keyed write: the contact as it left it, and its ``count``
        events (a contact logged into a case made two)."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, ContactEvent)
        ]
        state = _fold(None, events)
        assert state is not None  # it holds the keyed write's own event
        position = self._event_log.notification_id_of(earlier.target_id, earlier.target_version)
        return ContactWrite(state, events[-count:], position or 0, replayed=True)
