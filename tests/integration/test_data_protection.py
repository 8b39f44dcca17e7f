"""Crypto-shredding, legal holds, retention and subject access, on SQLite and PostgreSQL.

The proof the issue asks for: personal fields never reach the store in plaintext, and after an
erasure a scan of every table in the database finds none of the subject's plaintext, while the
timeline shows the erasure and the hash ledger still verifies.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest
from pydantic import SecretStr

from domain.access.events import BreakGlassAccessGranted, BreakGlassAccessReviewed
from domain.access.vocabulary import GrantReviewOutcome
from domain.case import commands as c
from domain.case.events import CaseOpened, NoteAdded, OutOfHoursDecisionRecorded, PersonalDataErased
from domain.case.state import fold
from domain.case.vocabulary import (
    AgencyKind,
    CaseSource,
    Category,
    Consent,
    EscalationLevel,
    NoteKind,
    SubjectKind,
    Urgency,
)
from domain.errors import NotPermitted, RuleViolation
from domain.personal import ERASED, ErasureTrigger
from domain.shared import PolicyRef
from domain.subject.errors import SubjectNotFound
from domain.subject.subject import EraseSubject, LegalHoldInForce, LiftLegalHold, PlaceLegalHold
from infrastructure.keys import KEYS_TABLE
from infrastructure.master_key import MasterKeyError, new_master_key
from infrastructure.persistence import WITHHELD, is_postgres, postgres_conninfo, recorder_env
from infrastructure.settings import Settings
from interfaces.composition import Vigil, bootstrap
from tests.conftest import Clock
from tests.story import COORDINATOR, LEAD, MONDAY_NIGHT, OTHER_LEAD, VOLUNTEER

POLICY = PolicyRef(policy="community-guidelines", version="2024-03", clause="4.2")

# Distinctive plaintext, so a scan cannot find it by accident.
NAME = "Quillon Marrowgate"
SECRETS = {
    "display_name": NAME,
    "summary": "Marrowgate said the bridge at Thistle Lane felt like the only way out.",
    "note": "Quillon's sister phoned: zephyrine medication stopped on Sunday.",
    "rationale": "Assessed high because Marrowgate named a place and a time (vellichor).",
    "decision": "Called Quillon back and agreed a plan with the crisis team (obsidianwick).",
    "action": "Hid Marrowgate's post about Thistle Lane",
    "referral": "Police welfare check requested for Marrowgate at home (peregrinax).",
    "correction": "The sister's name is spelt Marrowgate-Hale (quarternion).",
}
# Another subject, untouched by the erasure.
OTHER_NAME = "Ysolde Brackenridge"


def open_case(vigil: Vigil, ref: str, name: str, summary: str, **extra: Any) -> UUID:
    command = c.OpenCase(
        subject={"kind": "member", "ref": ref, "display_name": name},
        source=CaseSource.FLAG,
        category=Category.SELF_HARM_RISK,
        summary=summary,
        **extra,
    )
    return vigil.cases.execute(None, command, COORDINATOR).state.id


def full_case(vigil: Vigil, clock: Clock, ref: str = "forum-member-4242") -> UUID:
    """A case about the subject with personal data in many kinds of field, and a snapshot."""
    case_id = open_case(
        vigil, ref, SECRETS["display_name"], SECRETS["summary"], occurred_at=MONDAY_NIGHT
    )
    run = vigil.cases.execute
    run(case_id, c.AddNote(kind=NoteKind.FACT, text=SECRETS["note"]), COORDINATOR)
    run(case_id, c.AssessRisk(level="high", rationale=SECRETS["rationale"]), COORDINATOR)
    decision = run(
        case_id,
        c.RecordOutOfHoursDecision(
            decision=SECRETS["decision"],
            rationale=SECRETS["rationale"],
            policy_ref=POLICY,
            immediate_actions=[SECRETS["action"]],
            occurred_at=MONDAY_NIGHT + timedelta(minutes=20),
        ),
        COORDINATOR,
    ).events[0]
    run(
        case_id,
        c.ReviewOutOfHoursDecision(
            decision_id=decision.decision_id, outcome="ratified", rationale=SECRETS["rationale"]
        ),
        LEAD,
    )
    run(
        case_id,
        c.MakeReferral(
            agency={"name": "Thames Valley Police", "kind": AgencyKind.POLICE},
            reason=SECRETS["referral"],
            consent=Consent.GIVEN,
        ),
        COORDINATOR,
    )
    escalation = run(
        case_id,
        c.EscalateCase(
            level=EscalationLevel.SAFEGUARDING_LEAD,
            reason=SECRETS["rationale"],
            urgency=Urgency.URGENT,
        ),
        COORDINATOR,
    ).events[0]
    run(case_id, c.AcknowledgeEscalation(escalation_id=escalation.event_id), LEAD)
    note = run(case_id, c.AddNote(kind=NoteKind.NOTE, text=SECRETS["note"]), COORDINATOR)
    run(
        case_id,
        c.CorrectRecord(
            corrects_event_id=note.events[0].event_id,
            correction=SECRETS["correction"],
            reason=SECRETS["rationale"],
        ),
        COORDINATOR,
    )
    vigil.cases.take_snapshot(case_id)  # the state (summary, display name) in a snapshot too
    return case_id


# --- reading the database directly -------------------------------------------------------------


def _tables(vigil: Vigil) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Every table of the store and all its rows, read with plain SQL."""
    url = vigil.settings.resolved_database_url
    env = recorder_env(vigil.settings)
    if is_postgres(url):
        schema = env["POSTGRES_SCHEMA"]
        with psycopg.connect(postgres_conninfo(url)) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
                    (schema,),
                )
            ]
            for name in names:
                rows = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
                yield name, [tuple(r) for r in rows]
        return
    with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for name in names:
            yield name, conn.execute(f'SELECT * FROM "{name}"').fetchall()


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def plaintext_found(vigil: Vigil, needles: list[str], *, only: str | None = None) -> list[str]:
    """Where any of ``needles`` appears in any column of any table ("table: needle")."""
    found = []
    for table, rows in _tables(vigil):
        if only is not None and table != only:
            continue
        for row in rows:
            for value in row:
                text = _text(value)
                found.extend(f"{table}: {needle}" for needle in needles if needle in text)
    return found


def events_table(vigil: Vigil) -> str:
    return str(vigil.event_log.recorder.events_table_name).split(".")[-1].strip('"')  # type: ignore[attr-defined]


def log_position(vigil: Vigil) -> int:
    return vigil.event_log.recorder.max_notification_id() or 0


# --- personal fields are never stored in plaintext ------------------------------------------


def test_personal_fields_are_never_stored_in_plaintext(vigil: Vigil, clock: Clock) -> None:
    case_id = full_case(vigil, clock)

    timeline = vigil.cases.timeline(case_id)

    # Read back through the service: decrypted, as recorded.
    opened = timeline[0]
    assert isinstance(opened, CaseOpened)
    assert (opened.subject.display_name, opened.summary) == (NAME, SECRETS["summary"])
    decision = next(e for e in timeline if isinstance(e, OutOfHoursDecisionRecorded))
    assert decision.immediate_actions == [SECRETS["action"]]
    assert vigil.cases.get(case_id).summary == SECRETS["summary"]
    # ...and nowhere in the events table (nor, indeed, in any table).
    assert plaintext_found(vigil, list(SECRETS.values()), only=events_table(vigil)) == []
    assert plaintext_found(vigil, list(SECRETS.values())) == []


def test_the_scan_finds_plaintext_where_there_is_some(vigil: Vigil) -> None:
    # The scan itself can fail: a user's name is stored as it is (staff are not data subjects).
    vigil.identity.register("thistle.marrowgate", COORDINATOR.role, actor="test")

    assert plaintext_found(vigil, ["thistle.marrowgate"]) != []


def test_views_decode_without_keys(vigil: Vigil, clock: Clock) -> None:
    case_id = open_case(vigil, "member-1", NAME, SECRETS["summary"])
    vigil.cases.execute(case_id, c.AddNote(kind="fact", text=SECRETS["note"]), COORDINATOR)
    mapper: Any = vigil.event_log.mapper

    stored = vigil.event_log.recorder.select_events(case_id)
    opened, note = (mapper.to_view_event(s) for s in stored)

    assert opened.summary == WITHHELD
    assert opened.subject.display_name == WITHHELD
    assert opened.subject.ref == "member-1"  # what views need is there
    assert note.text == WITHHELD


def test_a_sealed_field_cannot_be_moved_to_another_event(vigil: Vigil) -> None:
    case_id = open_case(vigil, "member-1", NAME, SECRETS["summary"])
    vigil.cases.execute(case_id, c.AddNote(kind="fact", text="first note text"), COORDINATOR)
    vigil.cases.execute(case_id, c.AddNote(kind="fact", text="second note text"), COORDINATOR)
    mapper: Any = vigil.event_log.mapper
    _, first, second = vigil.event_log.recorder.select_events(case_id)
    swapped = orjson.loads(second.state)
    swapped["text"] = orjson.loads(first.state)["text"]

    with pytest.raises(MasterKeyError, match="does not decrypt"):
        mapper.to_domain_event(type(second)(**{**second.__dict__, "state": orjson.dumps(swapped)}))


# --- erasure ---------------------------------------------------------------------------------


def erase(vigil: Vigil, ref: str = "forum-member-4242", actor: Any = LEAD) -> Any:
    return vigil.data_protection.erase(
        ref,
        EraseSubject(
            kind=SubjectKind.MEMBER,
            lawful_basis="UK GDPR Art 17(1)(a)",
            reason="The member asked for their data to be erased; no concern remains open.",
        ),
        actor,
    )


def test_after_an_erasure_no_table_holds_the_subjects_plaintext(vigil: Vigil, clock: Clock) -> None:
    case_id = full_case(vigil, clock)
    second_case = open_case(vigil, "forum-member-4242", NAME, "Second concern about Marrowgate.")
    vigil.cases.execute(
        second_case, c.CloseCase(outcome="Resolved", rationale=SECRETS["rationale"]), LEAD
    )
    other = open_case(vigil, "forum-member-777", OTHER_NAME, "A concern about Brackenridge.")
    vigil.projector.catch_up()  # the views hold what they hold about every case
    before = vigil.data_protection.export("forum-member-4242")
    assert before[0].cases[0].timeline[0].summary == SECRETS["summary"]  # type: ignore[attr-defined]

    result = erase(vigil)
    vigil.projector.catch_up()

    assert sorted(result.case_ids) == sorted([case_id, second_case])
    assert plaintext_found(vigil, [*SECRETS.values(), "Second concern about Marrowgate."]) == []
    # The key is gone from its table: nothing left that could decrypt the envelopes.
    [(key_table_rows)] = [rows for name, rows in _tables(vigil) if name == KEYS_TABLE]
    assert len(key_table_rows) == 2  # the subject's (destroyed) and the other subject's (live)
    # The other subject keeps its data.
    assert vigil.cases.get(other).subject.display_name == OTHER_NAME


def test_the_timeline_shows_the_erasure_and_every_personal_field_as_erased(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = full_case(vigil, clock)
    version = vigil.cases.get(case_id).version
    clock.advance(minutes=5)

    result = erase(vigil)

    timeline = vigil.cases.timeline(case_id)
    erased = timeline[-1]
    assert isinstance(erased, PersonalDataErased)
    assert erased.originator_version == version + 1
    assert (erased.erasure_id, erased.trigger, erased.actor) == (
        result.event.event_id,
        ErasureTrigger.REQUEST,
        LEAD.username,
    )
    opened = timeline[0]
    assert isinstance(opened, CaseOpened)
    assert (opened.subject.display_name, opened.summary) == (ERASED, ERASED)
    assert opened.subject.ref == "forum-member-4242"  # the pseudonymous ref stays
    notes = [e for e in timeline if isinstance(e, NoteAdded)]
    assert {n.text for n in notes} == {ERASED}
    decision = next(e for e in timeline if isinstance(e, OutOfHoursDecisionRecorded))
    assert decision.immediate_actions == [ERASED]
    state = vigil.cases.get(case_id)
    assert (state.summary, state.subject.display_name) == (ERASED, ERASED)
    assert state.personal_data_erased_at == erased.occurred_at
    # Replaying the case as of before the erasure cannot bring the data back either.
    before = erased.recorded_at - timedelta(microseconds=1)
    past = vigil.cases.get(case_id, as_of=before)
    assert past.summary == ERASED
    # Read from the snapshot taken before the erasure, exactly as a replay of the events.
    assert past == fold(None, vigil.cases.timeline(case_id, as_of=before))


def test_a_break_glass_reason_and_its_review_are_erased_with_the_subject(
    settings: Settings, clock: Clock
) -> None:
    # Given a restricted case about the subject, opened by a volunteer breaking the glass with a
    # reason that names the member, and a lead's review of that grant that names them too.
    restricted = settings.model_copy(update={"restricted_categories": "self_harm_risk"})
    vigil = bootstrap(restricted, clock=clock)
    try:
        case_id = open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
        grant = vigil.access.break_glass(
            VOLUNTEER, case_id, "Marrowgate's friend called the line about Thistle Lane (skellig)."
        ).event
        vigil.projector.catch_up()  # a grant is found for review through its queue
        vigil.access.review_grant(
            OTHER_LEAD,
            grant.event_id,
            GrantReviewOutcome.APPROPRIATE,
            "Marrowgate's risk justified it (tarnwhistle).",
        )
        stream = vigil.access.grant_stream(VOLUNTEER.username, case_id)
        before = list(vigil.event_log.events_of(stream))
        assert [type(e) for e in before] == [BreakGlassAccessGranted, BreakGlassAccessReviewed]
        assert "skellig" in before[0].reason  # type: ignore[union-attr]

        # When the subject is erased.
        erase(vigil)

        # Then neither the reason nor the rationale can be read any more; the grant's facts
        # (who, which case, when, until when, the outcome) stay.
        granted, reviewed = vigil.event_log.events_of(stream)
        assert isinstance(granted, BreakGlassAccessGranted)
        assert isinstance(reviewed, BreakGlassAccessReviewed)
        assert (granted.reason, reviewed.rationale) == (ERASED, ERASED)
        assert (granted.actor, granted.case_id, granted.expires_at) == (
            VOLUNTEER.username,
            case_id,
            grant.expires_at,
        )
        assert reviewed.outcome is GrantReviewOutcome.APPROPRIATE
        assert plaintext_found(vigil, ["skellig", "tarnwhistle"]) == []
    finally:
        vigil.close()


# PostgreSQL keeps old row versions until vacuum, as docs/data-protection.md says.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_sqlite_the_destroyed_key_leaves_no_copy_in_the_database_files(
    vigil: Vigil, clock: Clock
) -> None:
    # Given a subject's wrapped key in the store, written through to the database file.
    open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    path = recorder_env(vigil.settings)["SQLITE_DBNAME"]
    with sqlite3.connect(path) as conn:
        [(wrapped,)] = conn.execute(f"SELECT wrapped_key FROM {KEYS_TABLE}").fetchall()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wrapped = bytes(wrapped)
    assert len(wrapped) >= 32
    assert wrapped in Path(path).read_bytes()

    # When the subject is erased and SQLite's write-ahead log is checkpointed.
    erase(vigil)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # Then no byte-for-byte copy of the wrapped key is left in the file or its WAL. (Vigil also
    # sets secure_delete for the erasure; SQLite here overwrites the shrunk row in place either
    # way, so this fails only if the wrapped key itself is kept.)
    files = [Path(path), Path(f"{path}-wal")]
    assert [f.name for f in files if f.exists() and wrapped in f.read_bytes()] == []


def test_another_process_stops_decrypting_once_the_key_is_destroyed(
    vigil: Vigil, settings: Settings, clock: Clock
) -> None:
    case_id = open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    other_process = bootstrap(settings.model_copy(update={"key_cache_seconds": 0}), clock=clock)
    try:
        assert other_process.cases.timeline(case_id)[0].summary == SECRETS["summary"]  # type: ignore[attr-defined]

        erase(vigil)

        assert other_process.cases.timeline(case_id)[0].summary == ERASED  # type: ignore[attr-defined]
        assert other_process.cases.get(case_id).summary == ERASED  # its cached state too
    finally:
        other_process.close()


def test_what_is_recorded_after_an_erasure_is_kept_under_a_new_key(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    erase(vigil)

    vigil.cases.execute(case_id, c.AddNote(kind="fact", text="Member wrote again today."), LEAD)

    assert vigil.cases.timeline(case_id)[-1].text == "Member wrote again today."  # type: ignore[attr-defined]
    assert vigil.cases.timeline(case_id)[0].summary == ERASED  # type: ignore[attr-defined]
    assert plaintext_found(vigil, ["Member wrote again today."]) == []


def test_erasure_still_verifies_in_the_hash_ledger(vigil: Vigil, clock: Clock) -> None:
    full_case(vigil, clock)
    vigil.integrity.notary.catch_up()

    erase(vigil)
    vigil.integrity.notary.catch_up()

    report = vigil.integrity.verify([vigil.integrity.public_key()])
    assert report.ok, report.findings


def test_erasure_under_a_legal_hold_is_refused_and_writes_nothing(vigil: Vigil) -> None:
    case_id = open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    vigil.data_protection.place_hold(
        "forum-member-4242",
        PlaceLegalHold(kind="member", reason="Police asked us to preserve the records."),
        LEAD,
    )
    before = log_position(vigil)

    with pytest.raises(LegalHoldInForce):
        erase(vigil)

    assert log_position(vigil) == before
    assert vigil.cases.get(case_id).summary == SECRETS["summary"]

    vigil.data_protection.lift_hold(
        "forum-member-4242",
        LiftLegalHold(kind="member", reason="Police confirmed the investigation closed."),
        OTHER_LEAD,
    )
    erase(vigil)
    assert vigil.cases.get(case_id).summary == ERASED


def test_refused_erasures_write_nothing(vigil: Vigil) -> None:
    open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    before = log_position(vigil)

    with pytest.raises(NotPermitted):
        erase(vigil, actor=COORDINATOR)
    with pytest.raises(SubjectNotFound):
        erase(vigil, ref="nobody-we-know")
    assert log_position(vigil) == before

    erase(vigil)
    after = log_position(vigil)
    with pytest.raises(RuleViolation, match="already erased"):
        erase(vigil)
    assert log_position(vigil) == after


def test_holds_are_recorded_and_cannot_be_doubled(vigil: Vigil) -> None:
    hold = PlaceLegalHold(kind="member", reason="Litigation hold from our solicitors.")
    placed = vigil.data_protection.place_hold("forum-member-4242", hold, LEAD)
    assert placed.state.on_hold
    assert placed.event.actor == LEAD.username

    with pytest.raises(RuleViolation, match="already under a legal hold"):
        vigil.data_protection.place_hold("forum-member-4242", hold, LEAD)
    with pytest.raises(NotPermitted):
        vigil.data_protection.place_hold("forum-member-9", hold, COORDINATOR)


# --- retention -------------------------------------------------------------------------------


def test_retention_erases_only_what_is_due_and_not_what_is_held(vigil: Vigil, clock: Clock) -> None:
    spam = c.OpenCase(
        subject={"kind": "member", "ref": "spammer-1", "display_name": "Spam Bot Kestrel"},
        source=CaseSource.FLAG,
        category=Category.SPAM,
        summary="Kestrel posted forty links to a pill shop.",
    )
    held = spam.model_copy(update={"subject": spam.subject.model_copy(update={"ref": "spammer-2"})})
    still_open = spam.model_copy(
        update={"subject": spam.subject.model_copy(update={"ref": "spammer-3"})}
    )
    closing = c.CloseCase(outcome="Banned", rationale="Links removed and account banned.")
    for command in (spam, held):
        case_id = vigil.cases.execute(None, command, COORDINATOR).state.id
        vigil.cases.execute(case_id, closing, COORDINATOR)
    open_id = vigil.cases.execute(None, still_open, COORDINATOR).state.id
    vigil.data_protection.place_hold(
        "spammer-2", PlaceLegalHold(kind="member", reason="Fraud investigation by the bank."), LEAD
    )
    closed_at = clock()

    clock.advance(days=365 * 6)  # six years less a day or two: nothing due yet (spam: 6 years)
    assert {i.status for i in vigil.data_protection.retention_review()} == {"not_due", "open"}

    clock.advance(days=10)
    review = {i.subject.ref: i for i in vigil.data_protection.retention_review()}
    assert review["spammer-1"].status == "due"
    assert review["spammer-1"].due_at == closed_at.replace(year=closed_at.year + 6)
    assert review["spammer-2"].status == "held"
    assert review["spammer-3"].status == "open"

    done = vigil.data_protection.apply_retention()

    assert [r.subject.ref for r in done] == ["spammer-1"]
    assert done[0].event.trigger is ErasureTrigger.RETENTION
    assert vigil.cases.timeline(done[0].case_ids[0])[-1].trigger is ErasureTrigger.RETENTION  # type: ignore[attr-defined]
    assert vigil.cases.get(open_id).summary == spam.summary
    assert {i.subject.ref for i in vigil.data_protection.retention_review()} == {
        "spammer-2",
        "spammer-3",
    }


def test_retention_periods_come_from_settings(settings: Settings) -> None:
    tuned = settings.model_copy(update={"retention_years": {Category.SPAM: 1}})

    assert tuned.retention_period_years(Category.SPAM) == 1
    assert tuned.retention_period_years(Category.SELF_HARM_RISK) == 25
    assert tuned.retention_period_years(Category.HARASSMENT) == 6


# --- subject access --------------------------------------------------------------------------


def test_subject_access_export_has_every_case_decrypted_and_the_holds(
    vigil: Vigil, clock: Clock
) -> None:
    first = full_case(vigil, clock)
    second = open_case(vigil, "forum-member-4242", NAME, "Another concern.")
    vigil.data_protection.place_hold(
        "forum-member-4242",
        PlaceLegalHold(kind="member", reason="Subject access request pending."),
        LEAD,
    )

    [record] = vigil.data_protection.export("forum-member-4242")

    assert record.subject.kind is SubjectKind.MEMBER
    assert [c.state.id for c in record.cases] == [first, second]
    assert record.cases[0].timeline[0].subject.display_name == NAME  # type: ignore[attr-defined]
    assert record.state is not None
    assert record.state.on_hold
    assert [type(e).__name__ for e in record.history] == ["LegalHoldPlaced"]
    assert len(record.keys) == 1
    assert record.keys[0].destroyed_at is None


# --- the master key --------------------------------------------------------------------------


def test_a_different_master_key_is_refused(vigil: Vigil, settings: Settings) -> None:
    open_case(vigil, "member-1", NAME, SECRETS["summary"])

    with pytest.raises(MasterKeyError, match="not the one"):
        bootstrap(settings.model_copy(update={"master_key": SecretStr(new_master_key())}))


def test_production_needs_a_master_key(settings: Settings) -> None:
    from infrastructure.master_key import load_master_key

    with pytest.raises(MasterKeyError, match="VIGIL_MASTER_KEY"):
        load_master_key(settings.model_copy(update={"environment": "production"}))


def test_an_erasure_cut_short_is_finished_by_running_it_again(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = open_case(vigil, "forum-member-4242", NAME, SECRETS["summary"])
    service = vigil.data_protection
    finish = service._record_on_cases

    def crash(*args: Any) -> int:
        raise ConnectionError("the process died after destroying the key")

    monkeypatch.setattr(service, "_record_on_cases", crash)
    with pytest.raises(ConnectionError):
        erase(vigil)
    assert not isinstance(vigil.cases.timeline(case_id)[-1], PersonalDataErased)
    monkeypatch.setattr(service, "_record_on_cases", finish)

    result = erase(vigil)

    erased = vigil.cases.timeline(case_id)[-1]
    assert isinstance(erased, PersonalDataErased)
    assert erased.erasure_id == result.event.event_id
    with pytest.raises(RuleViolation, match="already erased"):
        erase(vigil)
