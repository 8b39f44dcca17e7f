"""Value types shared by every aggregate.

Fields holding personal data are annotated with ``PERSONAL`` so that storage can
encrypt them per data subject (and erase them by destroying the key) without the
domain knowing about it. ``personal_fields(Model)`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from domain.errors import InvalidCommand

# The moments Vigil takes from a client (when something occurred, a page's as-of, a cursor's key):
# in UTC, from 1900 up to the year 3000. A UTC offset can carry a valid-looking time out of
# Python's range (0001-01-01T00:00+14:00 is before year 1 in UTC) and the views store UTC, so an
# unbounded time once written would stop every view at that event for good.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(3000, 1, 1, tzinfo=UTC)
MOMENT_RANGE = "between 1900-01-01 and 2999-12-31 (UTC)"


def within_moment_range(value: datetime) -> datetime:
    """The value if it lies in Vigil's range of moments; ValueError otherwise (422 at the edge).
    Aware datetimes compare by their UTC instant, so no conversion can overflow here."""
    if value.tzinfo is None:
        raise ValueError("a moment must carry a UTC offset")
    if not EARLIEST_MOMENT <= value < LATEST_MOMENT:
        raise ValueError(f"must be {MOMENT_RANGE}")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(within_moment_range)]


class PersonalData:
    """Marker: this field holds personal data (names, free text about people)."""

    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = PersonalData()

# A placeholder is not a reason. Records must say *why* (DOMAIN.md rule 2).
_PLACEHOLDERS = {
    "n/a",
    "na",
    "none",
    "no",
    "-",
    "--",
    "...",
    "tbc",
    "tbd",
    "see above",
    "as above",
    "ok",
    "yes",
    "x",
    "test",
    "nothing",
    "because",
    "no reason",
}
MIN_RATIONALE_CHARS = 10


def _check_rationale(value: str) -> str:
    text = value.strip()
    if len(text) < MIN_RATIONALE_CHARS or text.lower() in _PLACEHOLDERS:
        raise ValueError(
            f"must explain the reason in at least {MIN_RATIONALE_CHARS} characters; "
            "placeholders such as 'n/a' are not a rationale"
        )
    return text


def _strip(value: str) -> str:
    return value.strip()


# Free text about people: personal, stripped, bounded.
PersonalText = Annotated[
    str,
    AfterValidator(_strip),
    StringConstraints(min_length=1, max_length=20_000),
    PERSONAL,
]
ShortPersonalText = Annotated[
    str, AfterValidator(_strip), StringConstraints(min_length=1, max_length=500), PERSONAL
]
# A rationale is personal free text that must actually give a reason.
Rationale = Annotated[
    str, StringConstraints(max_length=20_000), AfterValidator(_check_rationale), PERSONAL
]
# References to things outside Vigil (member ids, post URLs, agency references): pseudonymous.
Ref = Annotated[str, AfterValidator(_strip), StringConstraints(min_length=1, max_length=500)]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


# Usernames are case-insensitive (user ids derive from the lower-cased name): lower-case before
# the pattern is checked, which StringConstraints(to_lower=True) alone does not do.
Username = Annotated[
    str, BeforeValidator(_lower), StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
]
Token = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    MODERATOR = "moderator"
    COORDINATOR = "coordinator"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Value(BaseModel):
    """Immutable value object."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# Which of a user's roles speaks for them where one role is recorded (an event's actor_role): the
# case roles from the most to the least senior, then the roles that hold no case permission.
ROLE_PRECEDENCE: tuple[Role, ...] = (
    Role.SAFEGUARDING_LEAD,
    Role.COORDINATOR,
    Role.MODERATOR,
    Role.VOLUNTEER,
    Role.AUDITOR,
    Role.ADMIN,
)


def primary_role(roles: Iterable[Role]) -> Role:
    """The role recorded for a user who holds several (see ROLE_PRECEDENCE)."""
    held = set(roles)
    for role in ROLE_PRECEDENCE:
        if role in held:
            return role
    raise ValueError("a user holds at least one role")


class Actor(Value):
    """Who is acting: always the authenticated user, never a field the client sends.

    ``role`` is the primary role (recorded on events); ``roles`` is every role the user holds,
    and permissions are checked over all of them. ``roles`` always includes ``role``.
    """

    username: str
    role: Role
    roles: frozenset[Role] = frozenset()
    # Who else could be acting under this name: whoever issued the credential in use (a token
    # the user issued themselves is traced back to the one they used to issue it), and who,
    # alone, gave each role. Four-eyes rules compare people through these, not usernames.
    credential_id: UUID | None = None
    credential_issued_by: str | None = None
    roles_granted_alone_by: tuple[tuple[Role, str], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _holds_its_role(cls, data: Any) -> Any:
        if isinstance(data, dict) and "role" in data:
            data = {**data, "roles": frozenset(data.get("roles") or ()) | {data["role"]}}
        return data

    def stands_apart_from(self, other: str, acting_as: Iterable[Role]) -> bool:
        """Whether this actor is a second person beside ``other``: not ``other``, not signed in
        with a credential ``other`` issued, and holding one of ``acting_as`` not given by
        ``other`` alone."""
        if other in (self.username, self.credential_issued_by):
            return False
        alone = {role for role, grantor in self.roles_granted_alone_by if grantor == other}
        return any(role in self.roles and role not in alone for role in acting_as)


class PolicyRef(Value):
    """The rule a decision was taken under: policy id, version and clause."""

    policy: Annotated[str, AfterValidator(_strip), StringConstraints(min_length=1, max_length=200)]
    version: Annotated[str, AfterValidator(_strip), StringConstraints(min_length=1, max_length=50)]
    clause: Annotated[str, AfterValidator(_strip), StringConstraints(min_length=1, max_length=100)]


class DecisionContext(Value):
    """Everything a decision needs from outside the domain, passed in at the edge."""

    actor: Actor
    now: AwareDatetime = Field(description="Server clock: becomes recorded_at.")
    max_clock_skew: timedelta = timedelta(minutes=5)
    idempotency_key: str | None = None
    request_hash: str | None = None


def _is_personal(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return any(m is PERSONAL for m in metadata) or _is_personal(base)
    return any(_is_personal(arg) for arg in get_args(annotation))


def personal_fields(model: type[BaseModel]) -> list[str]:
    """Names of the model's fields marked PERSONAL (top level; nested models list their own)."""
    return [
        name
        for name, field in model.model_fields.items()
        if PERSONAL in field.metadata or _is_personal(field.annotation)
    ]


SNAKE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def resolve_occurred_at(occurred_at: datetime | None, ctx: DecisionContext) -> datetime:
    """Default `occurred_at` to now; refuse the future beyond the allowed clock skew."""
    if occurred_at is None:
        return ctx.now
    if occurred_at.tzinfo is None:
        raise InvalidCommand(
            "occurred_at must carry a UTC offset",
            errors={"occurred_at": "timestamp without offset"},
        )
    if occurred_at > ctx.now + ctx.max_clock_skew:
        raise InvalidCommand(
            "occurred_at is in the future",
            errors={"occurred_at": f"later than the server clock ({ctx.now.isoformat()})"},
        )
    return occurred_at
