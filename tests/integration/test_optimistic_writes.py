"""A write decides on this process's cached case and appends at its next version without
reading the log first; a cache left behind by another process's write is caught by the store
and never gives a wrong answer.

Two Vigils over one store stand for two processes, each with its own case cache. Every test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.case.vocabulary import RiskLevel
from domain.contact.commands import LogContact
from domain.errors import RuleViolation, VersionConflict
from domain.shared import Actor, Role
from interfaces.composition import Vigil
from tests import story

LEE = Actor(username="lee", role=Role.SAFEGUARDING_LEAD)


def count_log_reads(vigil: Vigil, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every read of a case's events from the log by ``vigil`` from now on."""
    reads: list[Any] = []
    events_of: Callable[..., Any] = vigil.event_log.events_of

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return events_of(*args, **kwargs)

    monkeypatch.setattr(vigil.event_log, "events_of", counted)
    return reads


def test_a_write_on_a_current_cache_reads_nothing_from_the_log_first(
    vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    reads = count_log_reads(vigil, monkeypatch)
    written = vigil.cases.execute(case.id, story.add_note(), LEE)
    assert written.state.version == case.version + 1
    assert reads == []
    assert [e.originator_version for e in vigil.event_log.events_of(case.id)] == [1, 2]


def test_a_write_on_a_cache_another_process_left_behind_lands_at_the_next_version(
    vigil: Vigil, other_process: Vigil
) -> None:
    # Given a case both processes have cached
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    assert other_process.cases.load(case.id) == case
    # When the first adds a note, then the second (its cache one version behind) adds one
    first = vigil.cases.execute(case.id, story.add_note(text="First note."), LEE)
    second = other_process.cases.execute(case.id, story.add_note(text="Second note."), LEE)
    # Then the second lands after the first, on the state holding both
    assert (first.state.version, second.state.version) == (2, 3)
    assert [e.originator_version for e in vigil.event_log.events_of(case.id)] == [1, 2, 3]
    assert second.state.notes == case.notes + 2
    # And each process's next write lands too
    assert vigil.cases.execute(case.id, story.add_note(), LEE).state.version == 4
    assert other_process.cases.execute(case.id, story.add_note(), LEE).state.version == 5


def test_a_refusal_another_process_made_untrue_is_not_given(
    vigil: Vigil, other_process: Vigil
) -> None:
    # Given a closed case, cached closed by the second process (which refuses to assess it)
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    vigil.cases.execute(case.id, story.close(), LEE)
    with pytest.raises(RuleViolation, match="closed"):
        other_process.cases.execute(case.id, story.assess_risk(RiskLevel.LOW), LEE)
    # When the first process reopens it
    reopened = vigil.cases.execute(case.id, story.reopen(), LEE).state
    # Then an assessment through the second is not refused on its stale cache: it lands
    assessed = other_process.cases.execute(case.id, story.assess_risk(RiskLevel.LOW), LEE)
    assert assessed.state.version == reopened.version + 1
    # And a refusal the first process made true is given, once the log says so
    vigil.cases.execute(case.id, story.close(), LEE)
    with pytest.raises(RuleViolation, match="closed"):
        other_process.cases.execute(case.id, story.assess_risk(RiskLevel.LOW), LEE)
    assert [e.originator_version for e in vigil.event_log.events_of(case.id)] == [1, 2, 3, 4, 5]


def test_if_match_is_judged_by_the_log_not_a_stale_cache(
    vigil: Vigil, other_process: Vigil
) -> None:
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    assert other_process.cases.load(case.id) == case  # cached at version 1
    vigil.cases.execute(case.id, story.add_note(), LEE)  # version 2, unseen by the second
    # The stale version is refused (412), appending nothing
    with pytest.raises(VersionConflict):
        other_process.cases.execute(case.id, story.add_note(), LEE, expected_version=case.version)
    assert len(list(vigil.event_log.events_of(case.id))) == 2
    # The true one is accepted, though the second process's cache did not know it
    fresh = vigil.cases.execute(case.id, story.add_note(), LEE).state  # version 3
    written = other_process.cases.execute(
        case.id, story.add_note(), LEE, expected_version=fresh.version
    )
    assert written.state.version == fresh.version + 1


def test_a_retry_through_another_process_answers_the_first_answer(
    vigil: Vigil, other_process: Vigil
) -> None:
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    assert other_process.cases.load(case.id) == case  # cached before the keyed write
    first = vigil.cases.execute(
        case.id, story.add_note(), LEE, idempotency_key="note-1", request_hash="h1"
    )
    again = other_process.cases.execute(
        case.id, story.add_note(), LEE, idempotency_key="note-1", request_hash="h1"
    )
    assert again.replayed
    assert [e.event_id for e in again.events] == [e.event_id for e in first.events]
    assert again.state.version == first.state.version
    assert len(list(vigil.event_log.events_of(case.id))) == 2
    # And a retry through the process that wrote it answers the same from its cache
    cached = vigil.cases.execute(
        case.id, story.add_note(), LEE, idempotency_key="note-1", request_hash="h1"
    )
    assert [e.event_id for e in cached.events] == [e.event_id for e in first.events]
    assert len(list(vigil.event_log.events_of(case.id))) == 2


def test_a_contact_logged_against_a_case_does_not_leave_the_case_writes_behind(
    vigil: Vigil,
) -> None:
    """The contacts' write path appends ``ContactJoined`` to the case: the cases' own path
    must not then append at a version already taken (refused, the log's lock taken for
    nothing), but start from the log."""
    case = vigil.cases.execute(None, story.open_case(), LEE).state
    vigil.cases.execute(case.id, story.add_note(), LEE)  # the case is cached at version 2
    committer = vigil.event_log.recorder.group_commit
    before = committer.stats.appends
    vigil.contacts.log(
        LogContact.model_validate(
            {
                "channel": "call",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "self_harm_risk",
                "summary": "A friend of the member rang about the same post.",
                "outcome": "safeguarding_concern",
                "case_id": str(case.id),
            }
        ),
        LEE,
    )
    written = vigil.cases.execute(case.id, story.add_note(), LEE)
    assert written.state.version == 4  # after the note and the contact joining
    # Two appends (the contact with its ContactJoined, the note): none refused on the way.
    assert committer.stats.appends - before == 2
