"""The contact service on SQLite and PostgreSQL: a named caller's contacts are sealed under the
caller's key, erased with them (the ledger still verifies) and listed in their subject access
export; an anonymous caller's under a key of the contact's own; a contact and its case's side in
one append; a contact linked to a restricted case is restricted with it and every read of one
is in the access log; a keyed write answers its retry; a contact's work is in its handler's
shift log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from application.contacts import ContactService
from application.idempotency import KeyedRequest
from domain.case import commands as cc
from domain.case.events import CaseOpened, ContactJoined
from domain.case.vocabulary import CaseSource, Category, SubjectKind
from domain.contact import commands as c
from domain.contact.errors import ContactNotFound, LinkedCaseNotFound
from domain.contact.events import ContactLogged, ContactReviewed, FollowUpScheduled
from domain.errors import IdempotencyKeyReused, RuleViolation
from domain.personal import ERASED
from domain.quality.scoring import Criterion, ScorecardVersion, in_force
from domain.shared import Actor, Role
from domain.shift import commands as sc
from domain.subject.subject import EraseSubject
from infrastructure.keys import CONTACTS_TABLE
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import TUESDAY_MORNING, Clock
from tests.story import AUDITOR, COORDINATOR, LEAD

KIT = Actor(username="kit", role=Role.VOLUNTEER)
SAM = Actor(username="sam", role=Role.VOLUNTEER)
CALLER = "caller-2291"
SUMMARY = "Caller was spat at on the number 9 bus (quillfeather) and wants to report it."
FEEDBACK = "Warm and clear; ask about immediate risk sooner (larkspur)."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The product default: self-harm risk and harm to others are restricted (these stories'
    contacts are about hate incidents and harassment, which are not)."""
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


class Scorecards:
    """The quality context's scorecard history as a review reads it: the version in force at a
    moment, from versions given here (the quality branch's ScorecardService in the full tree)."""

    def __init__(self, versions: Sequence[ScorecardVersion]) -> None:
        self.versions = list(versions)

    def in_force(self, at: datetime) -> ScorecardVersion | None:
        return in_force(self.versions, at)

    def default_recording(self) -> list[Any]:
        return []


SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality",
    criteria=[
        Criterion(key="listening", label="Listens actively", weight=2, max_score=4, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=1,
            max_score=1,
            critical=True,
            safeguarding=True,
        ),
    ],
    pass_mark=70,
    effective_from=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
)


def contacts(vigil: Vigil) -> ContactService:
    return vigil.contacts.with_scorecards(Scorecards([SCORECARD]))


def people(vigil: Vigil) -> None:
    for name, role in (
        ("kit", Role.VOLUNTEER),
        ("sam", Role.VOLUNTEER),
        ("casey", Role.COORDINATOR),
        ("lee", Role.SAFEGUARDING_LEAD),
    ):
        vigil.identity.register(name, role, actor="cli")


def log(vigil: Vigil, caller: dict[str, Any] | None = None, **fields: Any) -> UUID:
    command = c.LogContact.model_validate(
        {
            "channel": "call",
            "direction": "inbound",
            "caller": caller or {"anonymous": False, "ref": CALLER, "display_name": "R. Patel"},
            "category": "hate_incident",
            "summary": SUMMARY,
            "outcome": "safeguarding_concern",
            **fields,
        }
    )
    return vigil.contacts.log(command, KIT).state.id


def open_case(vigil: Vigil, category: Category = Category.HATE_INCIDENT) -> UUID:
    command = cc.OpenCase(
        subject={"kind": "member", "ref": "forum-member-7070"},
        source=CaseSource.FLAG,
        category=category,
        summary="Member reported repeated abuse.",
    )
    return vigil.cases.execute(None, command, COORDINATOR).state.id


def stored_text(vigil: Vigil, needle: str) -> bool:
    recorder = vigil.event_log.recorder
    return any(needle.encode() in bytes(n.state) for n in recorder.select_notifications(1, 10_000))


def head(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


def erase_caller(vigil: Vigil) -> Any:
    return vigil.data_protection.erase(
        CALLER,
        EraseSubject(
            kind=SubjectKind.CONTACT,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The caller asked for their data to be erased; no concern remains open.",
        ),
        LEAD,
    )


def test_a_named_callers_contacts_are_erased_with_them_and_the_ledger_still_verifies(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    named = log(vigil)
    anonymous = log(vigil, {"anonymous": True}, summary="Anonymous chat (hollyhock).")
    clock.advance(hours=2)
    service = contacts(vigil)
    service.execute(
        named,
        c.ReviewContact(
            scores={"listening": 3, "risk_asked": 1},
            feedback=FEEDBACK,
            rationale="Strong listening; one open question was missed early.",
        ),
        COORDINATOR,
    )
    service.execute(
        named,
        c.ScheduleFollowUp(
            kind="call_back",
            due_at=clock() + timedelta(days=1),
            assignee="kit",
            detail="Call back after the police visit (marigold).",
        ),
        COORDINATOR,
    )
    vigil.integrity.notary.catch_up()

    # Sealed: never in the log in plaintext; readable through the service.
    for secret in ("quillfeather", "R. Patel", "larkspur", "marigold", "hollyhock"):
        assert not stored_text(vigil, secret), secret
    record = vigil.contacts.read(LEAD, named)
    logged = record.events[0]
    assert isinstance(logged, ContactLogged)
    assert logged.summary == SUMMARY

    result = erase_caller(vigil)

    # Every event of the caller's contact reads as erased (the review and follow-up too); the
    # anonymous contact is untouched; the erasure names the contact and the caller's key.
    assert result.contact_ids == [named]
    assert result.case_ids == []
    events = vigil.contacts.read(LEAD, named).events
    logged, reviewed, scheduled = events
    assert isinstance(logged, ContactLogged)
    assert (logged.summary, logged.caller.display_name) == (ERASED, ERASED)
    assert logged.caller.ref == CALLER  # the pseudonymous ref is the trail's, not sealed
    assert isinstance(reviewed, ContactReviewed)
    assert reviewed.feedback == ERASED
    assert reviewed.score == 83.3  # what is not personal stays readable
    assert isinstance(scheduled, FollowUpScheduled)
    assert scheduled.detail == ERASED
    [other] = vigil.contacts.read(LEAD, anonymous).events
    assert isinstance(other, ContactLogged)
    assert other.summary == "Anonymous chat (hollyhock)."
    caller_key = vigil.keyring.subject_hash("contact", CALLER)
    assert [k.key_id for k in vigil.keyring.keys_of([caller_key])] == result.key_ids
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings

    # A later contact from the same caller is sealed under a new key, readable.
    again = log(vigil, summary="Caller rang again (rowanberry).")
    [fresh] = vigil.contacts.read(LEAD, again).events
    assert isinstance(fresh, ContactLogged)
    assert fresh.summary == "Caller rang again (rowanberry)."


def test_a_subject_access_export_includes_the_callers_contacts(vigil: Vigil, clock: Clock) -> None:
    people(vigil)
    first = log(vigil)
    log(vigil, {"anonymous": True})
    log(vigil, {"anonymous": False, "ref": "caller-0007"})
    clock.advance(hours=1)
    second = log(vigil, channel="sms")

    [record] = vigil.data_protection.export(CALLER, SubjectKind.CONTACT)

    assert [r.state.id for r in record.contacts] == [first, second]
    assert record.cases == []
    logged = record.contacts[0].events[0]
    assert isinstance(logged, ContactLogged)
    assert logged.summary == SUMMARY
    # A member of the same ref is another subject: their export holds no contact.
    with pytest.raises(Exception, match="holds nothing"):
        vigil.data_protection.export(CALLER, SubjectKind.MEMBER)

    erase_caller(vigil)
    [record] = vigil.data_protection.export(CALLER, SubjectKind.CONTACT)
    summaries = [r.events[0].summary for r in record.contacts]  # type: ignore[attr-defined]
    assert summaries == [ERASED, ERASED]


def test_a_contact_and_the_case_it_opens_are_one_append(vigil: Vigil) -> None:
    people(vigil)
    contact = log(vigil)
    before = head(vigil)

    written = vigil.contacts.execute(
        contact,
        c.LinkCase.model_validate(
            {
                "open_case": {
                    "subject": {"kind": "contact", "ref": CALLER},
                    "category": "hate_incident",
                    "summary": "Repeated abuse on the same bus route.",
                    "risk_level": "high",
                }
            }
        ),
        KIT,
    )

    assert [type(e).__name__ for e in written.events] == ["ContactLinkedToCase"]
    assert written.state.case_id is not None
    assert written.state.opened_case
    timeline = vigil.cases.timeline(written.state.case_id)
    opened = next(e for e in timeline if isinstance(e, CaseOpened))
    assert opened.contact_id == contact
    assert opened.source is CaseSource.HELPLINE_CONTACT
    # One transaction: the case's opening and the contact's link at consecutive positions, the
    # write's position the last of them (a read at it sees both sides in every view).
    appended = head(vigil) - before
    assert appended == 2
    assert vigil.event_log.notification_id_of(written.state.case_id, 1) == before + 1
    assert written.position == head(vigil) == vigil.event_log.notification_id_of(contact, 2)
    # The case reads as any other.
    case = vigil.cases.get(written.state.case_id)
    assert (case.version, case.source) == (1, CaseSource.HELPLINE_CONTACT)

    # A contact names one case.
    with pytest.raises(RuleViolation):
        vigil.contacts.execute(contact, c.LinkCase(case_id=written.state.case_id), KIT)
    assert head(vigil) == before + appended


def test_a_contact_joins_an_open_case_never_a_closed_one(vigil: Vigil, clock: Clock) -> None:
    people(vigil)
    case_id = open_case(vigil)
    clock.advance(minutes=5)
    joined = log(vigil, case_id=str(case_id))
    timeline = vigil.cases.timeline(case_id)
    assert isinstance(timeline[-1], ContactJoined)
    assert timeline[-1].contact_id == joined
    assert vigil.contacts.load(joined).case_id == case_id  # type: ignore[union-attr]

    vigil.cases.execute(
        case_id,
        cc.CloseCase(outcome="Resolved", rationale="Member moved away; nothing left to do."),
        LEAD,
    )
    before = head(vigil)
    with pytest.raises(RuleViolation, match="the case is closed"):
        log(vigil, case_id=str(case_id))
    with pytest.raises(LinkedCaseNotFound):
        log(vigil, case_id="00000000-0000-4000-8000-00000000dead")
    assert head(vigil) == before


def test_a_contact_linked_to_a_restricted_case_is_restricted_with_it(vigil: Vigil) -> None:
    people(vigil)
    restricted = open_case(vigil, Category.SELF_HARM_RISK)
    contact = log(vigil)
    # Kit cannot see the restricted case: joining it answers as a missing case.
    with pytest.raises(LinkedCaseNotFound):
        vigil.contacts.execute(contact, c.LinkCase(case_id=restricted), KIT)
    vigil.contacts.execute(contact, c.LinkCase(case_id=restricted), LEAD)

    # The coordinator who reads every contact cannot read this one now; the handler, the lead
    # and the auditor can; another volunteer never could.
    with pytest.raises(ContactNotFound):
        vigil.contacts.read(COORDINATOR, contact)
    with pytest.raises(ContactNotFound):
        vigil.contacts.read(SAM, contact)
    for reader in (KIT, LEAD, AUDITOR):
        assert vigil.contacts.read(reader, contact).state.case_id == restricted
    # Assigned the case, the coordinator may.
    vigil.cases.execute(restricted, cc.AssignCase(assignee="casey"), LEAD)
    assert vigil.contacts.read(COORDINATOR, contact).state.id == contact

    # Every read is in the access log, naming the contact and its case; refused ones are not.
    vigil.access_log.catch_up()
    entries, _ = vigil.access_log.entries(case_id=restricted)
    reads = [(e.username, e.contact_id) for e in entries if e.what == "contact"]
    assert reads == [("kit", contact), ("lee", contact), ("audrey", contact), ("casey", contact)]


def test_volunteers_see_their_own_contacts_and_those_they_follow_up(vigil: Vigil) -> None:
    people(vigil)
    contact = log(vigil)
    with pytest.raises(ContactNotFound):
        vigil.contacts.read(SAM, contact)
    vigil.contacts.execute(
        contact,
        c.ScheduleFollowUp(
            kind="signposting",
            due_at=TUESDAY_MORNING + timedelta(days=2),
            assignee="sam",
            detail="Send the caller the details of the local advocacy service.",
        ),
        COORDINATOR,
    )
    assert vigil.contacts.read(SAM, contact).state.id == contact


def test_a_keyed_write_answers_its_retry_and_refuses_another_body(vigil: Vigil) -> None:
    people(vigil)
    command = c.LogContact.model_validate(
        {
            "channel": "email",
            "direction": "inbound",
            "caller": {"anonymous": True},
            "category": "harassment",
            "summary": "Email about a neighbour's harassment.",
            "outcome": "information_given",
        }
    )
    request = KeyedRequest("log-1", "hash-of-the-first-body")
    first = vigil.contacts.log(command, KIT, request=request)
    before = head(vigil)

    again = vigil.contacts.log(command, KIT, request=request)

    assert again.replayed
    assert again.state == first.state
    assert again.events == first.events
    assert again.position == first.position
    assert head(vigil) == before
    with pytest.raises(IdempotencyKeyReused):
        vigil.contacts.log(command, KIT, request=KeyedRequest("log-1", "another-body"))
    assert head(vigil) == before


def test_a_contacts_work_is_in_its_handlers_shift_log(vigil: Vigil, clock: Clock) -> None:
    people(vigil)
    tonight = datetime.fromisoformat("2026-11-17T19:00:00+00:00")
    shift = vigil.shifts.plan(
        sc.PlanShift(
            role="helpline", assignee="kit", starts_at=tonight, ends_at=tonight + timedelta(hours=4)
        ),
        COORDINATOR,
    ).state.id
    clock.set(tonight)
    vigil.shifts.execute(shift, sc.CheckIn(), KIT)
    clock.advance(minutes=40)
    contact = log(vigil)

    vigil.projector.catch_up()
    shift_log = vigil.shift_logs.log(shift, now=clock())
    [action] = [a for a in shift_log.actions if a.context == "contact"]
    assert (action.contact_id, action.type, action.actor) == (contact, "ContactLogged", "kit")


def test_a_contact_unknown_to_the_key_table_is_keyed_by_the_caller_its_logging_names(
    settings: Settings, clock: Clock
) -> None:
    # Given a contact whose binding to its caller is not in the key table, read by a process
    # that has never seen it...
    first = bootstrap(settings, clock=clock)
    try:
        people(first)
        contact = log(first)
        db = first.keyring._database()
        with db.transaction(commit=True) as tx:
            tx.execute(f"DELETE FROM {db.table(CONTACTS_TABLE)}")
        assert first.keyring.contacts_of([first.keyring.subject_hash("contact", CALLER)]) == []
    finally:
        first.close()
    vigil = bootstrap(settings, clock=clock)
    try:
        # ...a follow-up's detail is sealed under the key of the caller the logging names, and
        # the contact is bound to the caller again...
        vigil.contacts.execute(
            contact,
            c.ScheduleFollowUp(
                kind="call_back",
                due_at=TUESDAY_MORNING + timedelta(days=1),
                detail="Call back after the police visit (marigold).",
            ),
            COORDINATOR,
        )
        caller = vigil.keyring.subject_hash("contact", CALLER)
        assert vigil.keyring.contacts_of([caller]) == [contact]

        # ...so erasing the caller erases it.
        erase_caller(vigil)
        scheduled = vigil.contacts.read(LEAD, contact).events[1]
        assert isinstance(scheduled, FollowUpScheduled)
        assert scheduled.detail == ERASED
    finally:
        vigil.close()
