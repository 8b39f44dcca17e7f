"""Serious incidents, as stories: a safeguarding lead decides whether a case is a serious
incident to report to a regulator, and later records that it was reported.

Given a case's history, when a command, then these events or this refusal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.case import commands as c
from domain.case import events as e
from domain.case.ids import event_id_for
from domain.case.vocabulary import CaseStatus, Regulator, SeriousIncidentGround
from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation
from domain.shared import personal_fields
from tests.story import COORDINATOR, LEAD, OTHER_LEAD, Story, close, new_id

WHY = "A beneficiary was harmed on a call and the police were involved the same evening."
NOT_SERIOUS = "The harm was minor and fully handled by the service; no regulator threshold met."


def assess(reportable: bool = True, **fields: Any) -> c.AssessSeriousIncident:
    return c.AssessSeriousIncident.model_validate(
        {
            "reportable": reportable,
            "regulator": "charity_commission",
            "grounds": ["harm_to_beneficiary", "police_involvement"]
            if reportable
            else ["below_threshold"],
            "rationale": WHY if reportable else NOT_SERIOUS,
            **fields,
        }
    )


def report(assessment_id: Any, **fields: Any) -> c.ReportSeriousIncident:
    return c.ReportSeriousIncident.model_validate({"assessment_id": assessment_id, **fields})


# --- what is recorded ----------------------------------------------------------------------------


def test_a_lead_decides_a_case_is_a_serious_incident_to_report() -> None:
    story = Story.opened()

    [event] = story.when(assess(), by=LEAD)

    assert isinstance(event, e.SeriousIncidentAssessed)
    assert event.assessment_id == event.event_id == event_id_for(story.case_id, 2)
    assert (event.reportable, event.regulator, event.actor) == (
        True,
        Regulator.CHARITY_COMMISSION,
        "lee",
    )
    assert event.grounds == [
        SeriousIncidentGround.HARM_TO_BENEFICIARY,
        SeriousIncidentGround.POLICE_INVOLVEMENT,
    ]
    assert event.rationale == WHY


def test_the_case_keeps_every_assessment_and_the_latest_supersedes() -> None:
    story = Story.opened()
    first = story.given(assess(), by=LEAD)
    second = story.given(assess(reportable=False), by=OTHER_LEAD)

    incidents = story.case.serious_incidents
    assert list(incidents) == [str(first.event_id), str(second.event_id)]
    assert story.case.latest_serious_incident == second.event_id
    assert incidents[str(second.event_id)].assessed_by == "lou"
    assert not incidents[str(second.event_id)].reportable


def test_a_reportable_assessment_is_reported_with_the_regulators_reference() -> None:
    story = Story.opened()
    assessed = story.given(assess(regulator="oscr"), by=LEAD)

    [event] = story.when(report(assessed.event_id, reference="OSCR-2026-0042"), by=OTHER_LEAD)

    assert isinstance(event, e.SeriousIncidentReported)
    assert (event.assessment_id, event.regulator, event.reference) == (
        assessed.event_id,
        Regulator.OSCR,
        "OSCR-2026-0042",
    )


def test_the_report_is_on_the_case_state_when_it_occurred() -> None:
    story = Story.opened()
    assessed = story.given(assess(), by=LEAD)
    reported_at = story.now + timedelta(minutes=5)
    story.given(report(assessed.event_id, occurred_at=reported_at.isoformat()), by=LEAD)

    found = story.case.serious_incidents[str(assessed.event_id)]
    assert (found.reported_at, found.reported_by, found.reference) == (reported_at, "lee", None)


def test_serious_incidents_are_decided_and_reported_on_a_closed_case() -> None:
    story = Story.opened()
    story.given(close(), by=LEAD)
    assert story.case.status is CaseStatus.CLOSED

    assessed = story.given(assess(), by=LEAD)
    reported = story.given(report(assessed.event_id), by=LEAD)

    assert isinstance(reported, e.SeriousIncidentReported)
    assert story.case.status is CaseStatus.CLOSED  # still closed: nothing reopened it
    assert story.case.last_open_activity_at is not None
    assert story.case.last_open_activity_at < assessed.occurred_at


def test_the_rationale_is_personal_and_the_reference_is_not() -> None:
    # Sealed under the case's subject, as every case rationale is; the reference is a
    # regulator's, as a referral's reference is.
    assert personal_fields(e.SeriousIncidentAssessed) == ["rationale"]
    assert personal_fields(e.SeriousIncidentReported) == []


# --- refusals ------------------------------------------------------------------------------------


def test_only_a_safeguarding_lead_assesses() -> None:
    story = Story.opened()
    story.refuses(assess(), NotPermitted, by=COORDINATOR, match="safeguarding lead")


def test_only_a_safeguarding_lead_records_the_report() -> None:
    story = Story.opened()
    assessed = story.given(assess(), by=LEAD)
    story.refuses(report(assessed.event_id), NotPermitted, by=COORDINATOR)


def test_an_assessment_not_to_report_is_not_reported() -> None:
    story = Story.opened()
    assessed = story.given(assess(reportable=False), by=LEAD)

    story.refuses(report(assessed.event_id), RuleViolation, by=LEAD, match="not a serious")


def test_an_assessment_is_reported_once() -> None:
    story = Story.opened()
    assessed = story.given(assess(), by=LEAD)
    story.given(report(assessed.event_id, reference="CC-1"), by=LEAD)

    story.refuses(report(assessed.event_id), RuleViolation, by=LEAD, match="already reported")


def test_an_unknown_assessment_is_not_found() -> None:
    story = Story.opened()
    story.given(assess(), by=LEAD)

    error = story.refuses(report(new_id()), ItemNotFound, by=LEAD)
    assert error.errors == {"assessment_id": "not found"}


def test_a_superseded_assessment_is_not_reported() -> None:
    story = Story.opened()
    first = story.given(assess(), by=LEAD)
    story.given(assess(regulator="police"), by=LEAD)

    story.refuses(report(first.event_id), RuleViolation, by=LEAD, match="supersedes")


def test_a_report_is_not_before_its_assessment() -> None:
    story = Story.opened()
    assessed = story.given(assess(), by=LEAD)
    earlier = (assessed.occurred_at - timedelta(seconds=1)).isoformat()

    story.refuses(report(assessed.event_id, occurred_at=earlier), InvalidCommand, by=LEAD)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"grounds": []}, "at least 1"),
        ({"grounds": ["harm_to_beneficiary", "harm_to_beneficiary"]}, "once"),
        ({"grounds": ["below_threshold"]}, "not below the threshold"),
        ({"grounds": ["harm_to_beneficiary"], "rationale": "n/a"}, "reason in words"),
        ({"grounds": ["harm_to_beneficiary"], "regulator": "fca"}, "charity_commission"),
    ],
    ids=["no grounds", "a ground twice", "reportable below threshold", "no reason", "regulator"],
)
def test_an_assessment_needs_grounds_that_fit_the_decision(
    fields: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValidationError, match=why):
        assess(**fields)


def test_a_decision_not_to_report_may_name_what_was_considered() -> None:
    command = assess(reportable=False, grounds=["data_breach", "below_threshold"])
    assert command.grounds[-1] is SeriousIncidentGround.BELOW_THRESHOLD
