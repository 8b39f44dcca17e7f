"""A case write's access check is made on the state the write decides on, over real HTTP.

That is this process's cached case when the store proves it current (it accepts the write at
the next version), and the log's state otherwise. So the check needs no read of the log of its
own, and access that another process took away is never granted from a stale cache: the
refused append sends the write back to the log, where the check is made again.

Self-harm risk is restricted (the product default). A second Vigil over the same store stands
for another server process. Both stores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.shared import Actor, Role
from infrastructure.settings import Settings
from interfaces.composition import Vigil
from tests import story
from tests.e2e.support import Api, assert_problem, created, open_case

NOTE = {"kind": "note", "text": "Rang the member back; no answer, left a message."}
ASH = {"assignee": "ash"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"restricted_categories": "self_harm_risk,harm_to_others"})


def reads_of(vigil: Vigil, case_id: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every read of the case's events from the log by ``vigil`` from now on."""
    reads: list[Any] = []
    events_of: Callable[..., Any] = vigil.event_log.events_of

    def counted(aggregate_id: Any, *args: Any, **kwargs: Any) -> Any:
        if str(aggregate_id) == case_id:
            reads.append((args, kwargs))
        return events_of(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(vigil.event_log, "events_of", counted)
    return reads


def test_a_note_on_a_cached_restricted_case_reads_nothing_of_it_before_appending(
    api: Api, vigil: Vigil, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = api.user("priya", "safeguarding_lead")
    case = open_case(lead)  # cached by the server at version 1
    reads = reads_of(vigil, case["id"], monkeypatch)
    body = created(lead.post(f"/api/v1/cases/{case['id']}/notes", json=NOTE))
    assert body["case"]["version"] == case["version"] + 1
    assert reads == []


def assigned_to_ash(api: Api) -> tuple[httpx.Client, httpx.Client, dict[str, Any]]:
    """Priya (a lead) and Ash (a coordinator), and a restricted case Priya assigned to Ash
    through this server (which has it cached with Ash as its assignee): its answer."""
    lead = api.user("priya", "safeguarding_lead")
    ash = api.user("ash", "coordinator")
    case = open_case(lead)
    return lead, ash, created(lead.post(f"/api/v1/cases/{case['id']}/assignments", json=ASH))


def reassign_to_priya(other_process: Vigil, case_id: str) -> None:
    """Another process reassigns the case to Priya, unseen by the server's cache."""
    priya = Actor(username="priya", role=Role.SAFEGUARDING_LEAD)
    other_process.cases.execute(UUID(case_id), story.assign("priya"), priya)


def test_access_another_process_took_away_is_not_granted_from_a_stale_cache(
    api: Api, vigil: Vigil, other_process: Vigil
) -> None:
    # Given a restricted case assigned to Ash, who has recorded nothing on it
    lead, ash, assigned = assigned_to_ash(api)
    case = assigned["case"]
    # When another process reassigns it to Priya, which leaves Ash no part in it
    reassign_to_priya(other_process, case["id"])
    # Then Ash's note, admitted on the server's stale cache, is refused as the log's state
    # says: the case does not exist for them, and nothing is written
    with api.writes_nothing():
        refused = ash.post(f"/api/v1/cases/{case['id']}/notes", json=NOTE)
    assert_problem(refused, 404, "case-not-found")
    # And the lead's note, through the same server, lands after the reassignment
    noted = created(lead.post(f"/api/v1/cases/{case['id']}/notes", json=NOTE))
    assert noted["case"]["version"] == assigned["case"]["version"] + 2
    assert noted["case"]["assignee"] == "priya"


def test_a_retried_write_is_answered_only_on_access_the_log_still_gives(
    api: Api, vigil: Vigil, other_process: Vigil
) -> None:
    _, ash, assigned = assigned_to_ash(api)
    case = assigned["case"]
    # Given Ash, the assignee, assessed the risk with a key, through this server
    assessment = {"level": "medium", "rationale": "Spoke to the member; safe tonight, low mood."}
    key = {"Idempotency-Key": "ash-assessment-1"}
    path = f"/api/v1/cases/{case['id']}/risk-assessments"
    created(ash.post(path, json=assessment, headers=key))
    # When another process reassigns the case, which leaves Ash only their own records
    reassign_to_priya(other_process, case["id"])
    # Then Ash's retry is not replayed from the server's stale cache, where they are still
    # the assignee: it is refused as a write of that kind would be now, and nothing is written
    with api.writes_nothing():
        retried = ash.post(path, json=assessment, headers=key)
    assert_problem(retried, 403, "not-permitted")
    # Nor does a changed body under the same key get past the check to the key's own refusal
    with api.writes_nothing():
        changed = ash.post(path, json={**assessment, "level": "low"}, headers=key)
    assert_problem(changed, 403, "not-permitted")
