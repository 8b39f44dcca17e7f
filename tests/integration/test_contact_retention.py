"""Retention reaches helpline contacts, on SQLite and PostgreSQL: a named caller who only ever
had contacts is due once their last contact is past the contact period (not a second before),
a legal hold on them blocks it, and a contact linked to a case follows its case instead."""

from __future__ import annotations

from datetime import timedelta

from application.data_protection import add_years, anonymous_contact_ref
from domain.case import commands as cc
from domain.case.vocabulary import SubjectKind
from domain.contact.events import ContactLogged
from domain.personal import ERASED, ErasureTrigger
from domain.subject.subject import LiftLegalHold, PlaceLegalHold
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.integration.test_contact_service import (  # noqa: F401 - the settings fixture
    CALLER,
    head,
    log,
    open_case,
    people,
    settings,
)
from tests.story import LEAD

CONTACT_YEARS = 6  # the default contact period
CASE_YEARS = 6  # hate incidents: the default category period


def review(vigil: Vigil) -> dict[tuple[SubjectKind, str], str]:
    return {
        (i.subject.kind, i.subject.ref): i.status for i in vigil.data_protection.retention_review()
    }


def summary_of(vigil: Vigil, contact_id: object) -> str:
    logged = vigil.contacts.read(LEAD, contact_id).events[0]  # type: ignore[arg-type]
    assert isinstance(logged, ContactLogged)
    return logged.summary


def test_a_caller_with_only_contacts_is_due_when_their_last_contact_is_past_the_period(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    first = log(vigil)
    clock.advance(days=30)
    last = log(vigil, summary="Caller rang again about the bus (sorrel).")
    ends = add_years(clock(), CONTACT_YEARS)
    clock.set(ends - timedelta(seconds=1))
    before = head(vigil)

    [item] = [i for i in vigil.data_protection.retention_review() if i.subject.ref == CALLER]
    assert (item.subject.kind, item.status, item.due_at) == (SubjectKind.CONTACT, "not_due", ends)
    assert sorted(item.contact_ids) == sorted([first, last])
    assert vigil.data_protection.apply_retention() == []
    assert head(vigil) == before  # nothing written a second before the period's end
    assert summary_of(vigil, last) == "Caller rang again about the bus (sorrel)."

    clock.set(ends)
    assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "due"
    [done] = vigil.data_protection.apply_retention()

    assert (done.subject.kind, done.subject.ref) == (SubjectKind.CONTACT, CALLER)
    assert done.event.trigger is ErasureTrigger.RETENTION
    assert done.event.actor == "vigil-retention"
    assert sorted(done.contact_ids) == sorted([first, last])
    assert done.case_ids == []
    assert "every contact past the contact period" in done.event.reason
    assert summary_of(vigil, first) == ERASED
    assert summary_of(vigil, last) == ERASED
    assert (SubjectKind.CONTACT, CALLER) not in review(vigil)  # no live key left to review
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings


def test_a_legal_hold_on_the_caller_blocks_it_until_lifted(vigil: Vigil, clock: Clock) -> None:
    people(vigil)
    contact = log(vigil)
    hold = PlaceLegalHold(kind="contact", reason="The police asked us to keep the call record.")
    vigil.data_protection.place_hold(CALLER, hold, LEAD)
    clock.set(add_years(clock(), CONTACT_YEARS) + timedelta(days=1))
    before = head(vigil)

    assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "held"
    assert vigil.data_protection.apply_retention() == []
    assert head(vigil) == before
    assert summary_of(vigil, contact) != ERASED

    lift = LiftLegalHold(kind="contact", reason="The police closed their inquiry.")
    vigil.data_protection.lift_hold(CALLER, lift, LEAD)
    [done] = vigil.data_protection.apply_retention()
    assert done.contact_ids == [contact]
    assert summary_of(vigil, contact) == ERASED


def test_a_contact_on_a_case_follows_its_case_not_the_contact_period(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    case_id = open_case(vigil)
    contact = log(vigil, case_id=str(case_id))
    clock.set(add_years(clock(), CONTACT_YEARS) + timedelta(days=1))
    before = head(vigil)

    # Past the contact period, but its case is open: left to the case.
    assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "open"
    assert review(vigil)[(SubjectKind.MEMBER, "forum-member-7070")] == "open"
    assert vigil.data_protection.apply_retention() == []
    assert head(vigil) == before

    closing = cc.CloseCase(outcome="Resolved", rationale="Member moved away; nothing left.")
    vigil.cases.execute(case_id, closing, LEAD)
    ends = add_years(clock(), CASE_YEARS)
    clock.set(ends - timedelta(seconds=1))
    assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "not_due"
    assert vigil.data_protection.apply_retention() == []

    clock.set(ends)
    items = {i.subject.ref: i for i in vigil.data_protection.retention_review()}
    assert (items[CALLER].status, items[CALLER].due_at) == ("due", ends)
    done = {r.subject.ref: r for r in vigil.data_protection.apply_retention()}
    assert set(done) == {CALLER, "forum-member-7070"}
    assert done[CALLER].contact_ids == [contact]
    assert summary_of(vigil, contact) == ERASED


def test_an_anonymous_contact_is_destroyed_on_its_own_at_its_periods_end(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    contact = log(vigil, {"anonymous": True}, summary="Anonymous chat (hollyhock).")
    named = log(vigil)  # the named caller's, under another key: not touched
    ref = anonymous_contact_ref(contact)
    ends = add_years(clock(), CONTACT_YEARS)
    clock.set(ends - timedelta(seconds=1))
    before = head(vigil)

    items = {i.subject.ref: i for i in vigil.data_protection.retention_review()}
    assert (items[ref].subject.kind, items[ref].status) == (SubjectKind.CONTACT, "not_due")
    assert (items[ref].due_at, items[ref].contact_ids) == (ends, [contact])
    assert vigil.data_protection.apply_retention() == []
    assert head(vigil) == before
    assert summary_of(vigil, contact) == "Anonymous chat (hollyhock)."

    clock.set(ends)
    done = {r.subject.ref: r for r in vigil.data_protection.apply_retention()}

    assert set(done) == {ref, CALLER}  # the named caller's one contact is as old
    erased = done[ref]
    own_key = vigil.keyring.aggregate_subject_hash(contact)
    assert erased.key_ids == [k.key_id for k in vigil.keyring.keys_of([own_key])]
    assert all(k.destroyed_at is not None for k in vigil.keyring.keys_of([own_key]))
    # Recorded: a SubjectErased on the contact's own subject, naming the contact.
    assert (erased.event.subject_kind, erased.event.contact_ids) == (SubjectKind.CONTACT, [contact])
    assert (erased.event.case_ids, erased.event.trigger) == ([], ErasureTrigger.RETENTION)
    assert erased.event.originator_id == vigil.data_protection.subject_id(SubjectKind.CONTACT, ref)
    assert summary_of(vigil, contact) == ERASED
    assert done[CALLER].contact_ids == [named]
    assert ref not in {i.subject.ref for i in vigil.data_protection.retention_review()}
    vigil.integrity.notary.catch_up()
    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings


def test_an_anonymous_contact_under_a_hold_or_on_an_open_case_is_kept(
    vigil: Vigil, clock: Clock
) -> None:
    people(vigil)
    held = log(vigil, {"anonymous": True}, summary="Anonymous chat (hollyhock).")
    case_id = open_case(vigil)
    on_case = log(vigil, {"anonymous": True}, case_id=str(case_id), summary="Chat (teasel).")
    hold = PlaceLegalHold(kind="contact", reason="The police asked us to keep the chat log.")
    vigil.data_protection.place_hold(anonymous_contact_ref(held), hold, LEAD)
    clock.set(add_years(clock(), CONTACT_YEARS) + timedelta(days=1))
    before = head(vigil)

    statuses = review(vigil)
    assert statuses[(SubjectKind.CONTACT, anonymous_contact_ref(held))] == "held"
    assert statuses[(SubjectKind.CONTACT, anonymous_contact_ref(on_case))] == "open"
    assert vigil.data_protection.apply_retention() == []
    assert head(vigil) == before
    assert summary_of(vigil, held) == "Anonymous chat (hollyhock)."
    assert summary_of(vigil, on_case) == "Chat (teasel)."


def test_the_contact_period_comes_from_settings(settings: Settings, clock: Clock) -> None:  # noqa: F811
    tuned = settings.model_copy(update={"retention_contact_years": 2})
    assert tuned.retention_policy.contact_years == 2
    assert settings.retention_policy.contact_years == CONTACT_YEARS  # the default
    vigil = bootstrap(tuned, clock=clock)
    try:
        people(vigil)
        log(vigil)
        ends = add_years(clock(), 2)
        clock.set(ends - timedelta(seconds=1))
        assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "not_due"
        clock.set(ends)
        assert review(vigil)[(SubjectKind.CONTACT, CALLER)] == "due"
    finally:
        vigil.close()
