"""The restricted-case rule, as a table: who sees how much of which case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from domain.access.rules import Grant, case_access
from domain.access.vocabulary import AccessLevel
from domain.shared import Actor, Role

NOW = datetime(2026, 11, 17, 9, 30, tzinfo=UTC)
RESTRICTED = frozenset({"self_harm_risk", "harm_to_others"})
CASE = uuid4()


def grant(username: str, *, minutes_ago: int, lasting: int = 60) -> Grant:
    start = NOW - timedelta(minutes=minutes_ago)
    return Grant(uuid4(), CASE, username, start, start + timedelta(minutes=lasting))


def access(
    username: str,
    role: Role,
    *,
    category: str = "self_harm_risk",
    assignee: str | None = "ash",
    participants: tuple[str, ...] = ("casey",),
    held: Grant | None = None,
) -> AccessLevel:
    return case_access(
        Actor(username=username, role=role),
        category=category,
        assignee=assignee,
        participants=participants,
        restricted=RESTRICTED,
        grant=held,
        at=NOW,
    )


@pytest.mark.parametrize("role", [Role.SAFEGUARDING_LEAD, Role.AUDITOR])
def test_leads_and_auditors_see_every_restricted_case(role: Role) -> None:
    assert access("someone", role) is AccessLevel.FULL


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.MODERATOR, Role.COORDINATOR])
def test_others_see_a_restricted_case_only_as_assignee_grant_holder_or_through_their_own(
    role: Role,
) -> None:
    assert access("ash", role) is AccessLevel.FULL
    assert access("vic", role, held=grant("vic", minutes_ago=59)) is AccessLevel.BREAK_GLASS
    assert access("casey", role) is AccessLevel.OWN_RECORDS
    assert access("vic", role) is AccessLevel.NONE
    # An expired grant (by its own times) is no grant; nor is one that starts later.
    assert access("vic", role, held=grant("vic", minutes_ago=60)) is AccessLevel.NONE
    assert access("vic", role, held=grant("vic", minutes_ago=-1)) is AccessLevel.NONE


def test_unrestricted_cases_are_open_to_every_reader_and_to_no_admin() -> None:
    assert access("vic", Role.VOLUNTEER, category="harassment") is AccessLevel.FULL
    assert access("root", Role.ADMIN, category="harassment") is AccessLevel.NONE
    assert access("root", Role.ADMIN) is AccessLevel.NONE
