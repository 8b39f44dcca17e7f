"""SLA clocks as the reports judge them, on both stores: stories of one case each.

Given a case's events, when the SLA report is asked for as of a moment, then each clock is met,
breached or still running by the target in force when it started and the stops recorded by
then: our own chase of a referral is not the agency's acknowledgement; an action that happened
before a flag does not answer it, even logged after it; and the first action on a flag is
judged by the risk when the flag was raised.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from application.reports.service import ReportRequest
from domain.case.vocabulary import ReferralUpdateStatus, RiskLevel
from interfaces.composition import Vigil
from tests.conftest import Clock
from tests.story import COORDINATOR, assess_risk, open_case, raise_flag, refer, update_referral

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def _clocks(vigil: Vigil, as_of: datetime, clock: str) -> list[dict[str, Any]]:
    vigil.projector.catch_up()
    report = vigil.reports.report(ReportRequest("sla", *NOVEMBER, None, as_of))
    rows: list[dict[str, Any]] = report["sections"][2]["tables"][0]["rows"]
    return [row for row in rows if row["clock"] == clock]


def test_chasing_a_referral_is_not_the_agency_acknowledging_it(vigil: Vigil, clock: Clock) -> None:
    case_id = vigil.cases.execute(None, open_case(), COORDINATOR).state.id
    made = vigil.cases.execute(case_id, refer(), COORDINATOR)
    referral_id = made.events[-1].referral_id
    clock.advance(hours=1)
    vigil.cases.execute(
        case_id, update_referral(referral_id, ReferralUpdateStatus.FOLLOWED_UP), COORDINATOR
    )
    clock.advance(days=3)
    chased_only = clock() - timedelta(minutes=10)

    [waiting] = _clocks(vigil, chased_only, "referral_acknowledged")
    assert waiting["status"] == "open_overdue"
    assert waiting["stopped_at"] is None

    vigil.cases.execute(
        case_id, update_referral(referral_id, ReferralUpdateStatus.ACKNOWLEDGED), COORDINATOR
    )
    clock.advance(minutes=10)
    [answered] = _clocks(vigil, clock() - timedelta(minutes=5), "referral_acknowledged")
    assert answered["status"] == "breached"  # answered three days on, against one working day
    # As of before the acknowledgement, the report is what it was.
    assert _clocks(vigil, chased_only, "referral_acknowledged") == [waiting]


def test_an_action_before_a_flag_does_not_answer_it_even_logged_after(
    vigil: Vigil, clock: Clock
) -> None:
    case_id = vigil.cases.execute(None, open_case(risk_level=RiskLevel.HIGH), COORDINATOR).state.id
    clock.advance(hours=2)
    flagged_at = clock()
    vigil.cases.execute(case_id, raise_flag(), COORDINATOR)
    clock.advance(minutes=30)
    # Logged now, but it happened an hour before the flag.
    vigil.cases.execute(
        case_id,
        assess_risk(RiskLevel.CRITICAL, occurred_at=flagged_at - timedelta(hours=1)),
        COORDINATOR,
    )
    clock.advance(hours=6)

    flags = _clocks(vigil, clock() - timedelta(minutes=5), "first_action")
    by_start = {row["started_at"]: row for row in flags}
    the_flag = by_start[flagged_at.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert the_flag["target"] == "4 h"  # high risk when the flag was raised
    assert the_flag["stopped_at"] is None
    assert the_flag["status"] == "open_overdue"
    # The case was opened from a flag an hour before the assessment happened: that clock the
    # assessment does answer.
    opening = min(flags, key=lambda row: row["started_at"])
    assert opening["status"] == "met"
    assert UUID(opening["subject_id"]) == case_id
