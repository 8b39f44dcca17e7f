"""The case state's compliance part (issue 15): its serious-incident assessments and the ids of
its flags (the items a first-action clock names), folded by ``domain.case.state``'s ``evolve``.

Kept apart from ``domain.case.state`` so that module stays small; the handlers change a state
the caller owns, as that module's do, and never raise.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.case.events import FlagRaised, SeriousIncidentAssessed, SeriousIncidentReported
from domain.case.vocabulary import Regulator, SeriousIncidentGround

if TYPE_CHECKING:
    from domain.case.state import CaseState


class SeriousIncidentAssessment(BaseModel):
    """A lead's serious-incident decision (its rationale is in the timeline), and its report."""

    model_config = ConfigDict(frozen=True)

    assessment_id: UUID
    reportable: bool
    regulator: Regulator
    grounds: tuple[SeriousIncidentGround, ...]
    assessed_by: str
    assessed_at: datetime
    reported_at: datetime | None = None
    reported_by: str | None = None
    reference: str | None = None


def flag_event_id(s: CaseState, e: FlagRaised) -> None:
    if s.flag_event_ids is not None:
        s.flag_event_ids.append(str(e.event_id))


def serious_incident_assessed(s: CaseState, e: SeriousIncidentAssessed) -> None:
    s.serious_incidents[str(e.assessment_id)] = SeriousIncidentAssessment(
        assessment_id=e.assessment_id,
        reportable=e.reportable,
        regulator=e.regulator,
        grounds=tuple(e.grounds),
        assessed_by=e.actor,
        assessed_at=e.occurred_at,
    )
    s.latest_serious_incident = e.assessment_id


def serious_incident_reported(s: CaseState, e: SeriousIncidentReported) -> None:
    assessment = s.serious_incidents.get(str(e.assessment_id))
    if assessment is not None and assessment.reported_at is None:
        s.serious_incidents[str(e.assessment_id)] = assessment.model_copy(
            update={"reported_at": e.occurred_at, "reported_by": e.actor, "reference": e.reference}
        )
