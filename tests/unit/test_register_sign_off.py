"""The serious-incident register's sign-off, as stories: a trustee signs the register off for
a period of dates, as it stood at a moment; periods that cannot be signed are refused (422)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.compliance.events import REGISTER_ID, SeriousIncidentRegisterSignedOff
from domain.compliance.register import SignOffRegister, decide, fold
from domain.errors import InvalidCommand
from domain.shared import Actor, DecisionContext, Role, personal_fields

NOW = datetime(2026, 10, 15, 11, 0, tzinfo=UTC)
TESS = Actor(username="tess", role=Role.TRUSTEE)


def sign(**fields: Any) -> SignOffRegister:
    return SignOffRegister.model_validate(
        {"period_from": "2026-07-01", "period_to": "2026-09-30", **fields}
    )


def ctx(now: datetime = NOW) -> DecisionContext:
    return DecisionContext(actor=TESS, now=now)


def test_a_trustee_signs_off_a_quarter_as_it_stands_now() -> None:
    [event] = decide(None, sign(), ctx())

    assert isinstance(event, SeriousIncidentRegisterSignedOff)
    assert (event.originator_id, event.originator_version, event.actor) == (REGISTER_ID, 1, "tess")
    assert (event.period_from, event.period_to, event.as_of) == (
        date(2026, 7, 1),
        date(2026, 9, 30),
        NOW,
    )
    assert personal_fields(SeriousIncidentRegisterSignedOff) == []


def test_as_of_names_the_register_the_trustee_read_in_utc() -> None:
    [event] = decide(None, sign(as_of="2026-10-14T18:00:00+01:00"), ctx())
    assert event.as_of == datetime(2026, 10, 14, 17, 0, tzinfo=UTC)


def test_sign_offs_accumulate_the_same_period_may_be_signed_again() -> None:
    first = decide(None, sign(), ctx())
    state = fold(first)
    second = decide(state, sign(), ctx(NOW + timedelta(days=1)))
    state = fold(second, state)
    assert state is not None
    assert [s.signed_off_by for s in state.sign_offs] == ["tess", "tess"]
    assert state.version == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"period_from": "2026-09-30", "period_to": "2026-07-01"}, "period_to"),
        ({"period_from": "2025-07-01", "period_to": "2026-07-01"}, "period_to"),  # a year and a day
        ({"period_from": "2026-10-01", "period_to": "2026-10-15"}, "period_to"),  # not yet ended
        ({"as_of": "2026-10-15T11:10:00+00:00"}, "as_of"),  # in the future
        ({"as_of": "2026-09-30T12:00:00+00:00"}, "period_to"),  # read before the period ended
    ],
    ids=["reversed", "over a year", "not ended", "as_of in the future", "as_of within"],
)
def test_a_period_that_cannot_be_signed_off_is_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCommand) as refused:
        decide(None, sign(**fields), ctx())
    assert field in (refused.value.errors or {})


def test_a_whole_year_is_a_period() -> None:
    [event] = decide(None, sign(period_from="2025-10-01", period_to="2026-09-30"), ctx())
    assert event.period_to == date(2026, 9, 30)
