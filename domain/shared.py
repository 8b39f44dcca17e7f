"""Value types shared by every aggregate.

Fields holding personal data are annotated with ``PERSONAL`` so that storage can
encrypt them per data subject (and erase them by destroying the key) without the
domain knowing about it. ``personal_fields(Model)`` lists them.
"""

from __future__ import annotations

import re
import unicodedata
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


# RFC 3339 (a date, a time and an offset); a space may stand for the T, as RFC 3339 allows.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def rfc3339_only(value: Any) -> Any:
    """Refuse what is not an RFC 3339 date-time with an offset before pydantic reads it.

    Pydantic takes a number (or a string of digits) as a Unix time, so `as_of=0.5` would mean
    1970: a client that sent a number meant something else, and is told so (422)."""
    if isinstance(value, datetime):
        return value  # built in code, not sent by a client
    if isinstance(value, str) and _RFC3339.match(value.strip()):
        return value.strip()
    raise ValueError(
        "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-11-17T10:00:00+00:00 "
        "(a number is not taken as a time)"
    )


Moment = Annotated[
    AwareDatetime, BeforeValidator(rfc3339_only), AfterValidator(within_moment_range)
]


class PersonalData:
    """Marker: this field holds personal data (names, free text about people)."""

    def __repr__(self) -> str:
        return "PERSONAL"


PERSONAL = PersonalData()

# A placeholder is not a reason. A record must say *why* a decision was taken, so that whoever
# reviews it later can judge the decision and not only see that it was made.
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
MIN_RATIONALE_WORDS = 2

# Bidirectional embedding, override and isolate controls: they reorder how text is shown, so a
# record could read differently on screen from what was stored (U+202A-U+202E, U+2066-U+2069).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t")

# Scripts written without spaces between words: there one run of letters can be a sentence.
_UNSPACED_SCRIPTS = ("CJK ", "HIRAGANA", "KATAKANA", "THAI", "LAO ", "KHMER", "MYANMAR", "TIBETAN")


_CONTROL_NAMES = {
    "\x00": "NULL",
    "\t": "CHARACTER TABULATION",
    "\n": "LINE FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
}


def describe_character(char: str) -> str:
    """A character as a person can identify it: 'U+202E RIGHT-TO-LEFT OVERRIDE'."""
    name = unicodedata.name(char, "") or _CONTROL_NAMES.get(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = "(a control character)"
    return f"U+{ord(char):04X} {name}".rstrip()


def forbidden_character(value: str, *, multiline: bool = False) -> tuple[int, str] | None:
    """The first character text may not hold (its index and itself), or None.

    Control characters (NUL, escape, C1...) and unpaired surrogates are never text, and
    bidirectional overrides and isolates make a record read differently from what it holds.
    Multi-line text may hold line breaks and tabs."""
    for index, char in enumerate(value):
        if multiline and char in _LINE_BREAKS:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            return index, char
    return None


def forbidden_character_message(index: int, char: str, *, multiline: bool = False) -> str:
    allowed = " (line breaks and tabs are)" if multiline else ""
    return (
        f"must not contain {describe_character(char)} (at character {index + 1}): "
        f"control and bidirectional-override characters are not allowed{allowed}"
    )


def _check_characters(value: str, *, multiline: bool) -> str:
    found = forbidden_character(value, multiline=multiline)
    if found is not None:
        raise ValueError(forbidden_character_message(*found, multiline=multiline))
    return value


def check_text(value: str) -> str:
    """Multi-line free text: no control characters but line breaks and tabs, no bidi overrides."""
    return _check_characters(value, multiline=True)


def check_line(value: str) -> str:
    """One line of text (a name, a reference): no control characters, no bidi overrides."""
    return _check_characters(value, multiline=False)


def _is_word_character(char: str) -> bool:
    return unicodedata.category(char)[0] in "LMN"


def _words(text: str) -> list[str]:
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if _is_word_character(char):
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _unspaced(word: str) -> bool:
    return any(unicodedata.name(char, "").startswith(_UNSPACED_SCRIPTS) for char in word)


def _check_rationale(value: str) -> str:
    text = value.strip()
    # Format characters (zero-width spaces and joiners, direction marks) are invisible: they do
    # not count towards a reason, but are kept where they join letters (Persian, Hindi...).
    visible = "".join(c for c in text if unicodedata.category(c) != "Cf").strip()
    words = _words(visible)
    shown = [c for c in visible if not c.isspace()]
    in_words = sum(len(word) for word in words)
    if (
        len(visible) < MIN_RATIONALE_CHARS
        or visible.lower() in _PLACEHOLDERS
        # A reason is words: not a run of punctuation or symbols, ...
        or in_words * 2 < len(shown)
        # ... nor one token (asdfasdfas), unless in a script written without spaces.
        or (
            len({w.casefold() for w in words}) < MIN_RATIONALE_WORDS
            and not any(_unspaced(w) for w in words)
        )
    ):
        raise ValueError(
            f"must explain the reason in words: at least {MIN_RATIONALE_CHARS} characters and "
            f"{MIN_RATIONALE_WORDS} different words; placeholders such as 'n/a', a single word, "
            "runs of punctuation or invisible characters are not a rationale"
        )
    return text


def _strip(value: str) -> str:
    return value.strip()


# One line of text (names, references, policy clauses): stripped, no control characters.
Line = Annotated[str, AfterValidator(check_line), AfterValidator(_strip)]
# Free text over several lines: stripped, no control characters but line breaks and tabs.
Text = Annotated[str, AfterValidator(check_text), AfterValidator(_strip)]

# Free text about people: personal, stripped, bounded.
PersonalText = Annotated[
    Text,
    StringConstraints(min_length=1, max_length=20_000),
    PERSONAL,
]
ShortPersonalText = Annotated[Line, StringConstraints(min_length=1, max_length=500), PERSONAL]
# A rationale is personal free text that must actually give a reason.
Rationale = Annotated[
    str,
    StringConstraints(max_length=20_000),
    AfterValidator(check_text),
    AfterValidator(_check_rationale),
    PERSONAL,
]
# A reason about the organisation's arrangements (a calendar's change, a shift's cancellation):
# it must give a reason as a rationale must, but it is not about a person, so it is not personal
# data and is never sealed. Say why without describing anyone's health or circumstances.
Reason = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(check_text),
    AfterValidator(_check_rationale),
]
# References to things outside Vigil (member ids, post URLs, agency references): pseudonymous.
Ref = Annotated[Line, StringConstraints(min_length=1, max_length=500)]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,62}$"
_USERNAME = re.compile(USERNAME_PATTERN)
_USERNAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


# Names a path gives another meaning: /users/me/... is the signed-in user.
RESERVED_USERNAMES = {"me": "/users/me/... means whoever is signed in"}


def username_problem(name: str) -> str | None:
    """Why ``name`` (already lower-cased) is not a username, in words; None if it is one."""
    if name in RESERVED_USERNAMES:
        return f"the username {name!r} is reserved: {RESERVED_USERNAMES[name]}"
    if _USERNAME.match(name):
        return None
    for char in name:
        if char not in _USERNAME_CHARACTERS:
            shown = (
                f"'{char}' ({describe_character(char)})"
                if char.isprintable()
                else (describe_character(char))
            )
            return (
                "usernames use lower-case Latin letters, digits, '.', '_' and '-'; "
                f"{shown} is not one of them"
            )
    if not 2 <= len(name) <= 63:
        return f"a username is 2 to 63 characters long, not {len(name)}"
    return "a username starts with a Latin letter or a digit"


def _username(value: Any) -> Any:
    # Usernames are case-insensitive (user ids derive from the lower-cased name): lower-case
    # before checking. A look-alike letter (Cyrillic U+0445 for Latin 'x') is named in the answer.
    value = _lower(value)
    if isinstance(value, str) and (problem := username_problem(value)) is not None:
        raise ValueError(problem)
    return value


Username = Annotated[
    str,
    BeforeValidator(_username),
    # The same rule, for the schema; never reached, as _username explains a mismatch first.
    StringConstraints(pattern=USERNAME_PATTERN),
]


class Basis(StrEnum):
    """The two clocks of every record: "as of T" on ``recorded`` is what Vigil had recorded by
    T; on ``occurred``, what had happened by T (however late it was logged)."""

    RECORDED = "recorded"
    OCCURRED = "occurred"


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    MODERATOR = "moderator"
    COORDINATOR = "coordinator"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # Reads reports (numbers, never people) and signs off the serious-incident register.
    TRUSTEE = "trustee"


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
    Role.TRUSTEE,
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
    # The credential in use, who it traces back to, and who alone gave each role, as recorded
    # (host operator and single sign-on included): what the record shows about this sign-in.
    credential_id: UUID | None = None
    credential_issued_by: str | None = None
    roles_granted_alone_by: tuple[tuple[Role, str], ...] = ()
    # Every person who could be acting under this name: whoever issued the credential in use,
    # whoever gave one of the roles alone, and so on back along each of theirs (computed at sign
    # in from the users' records, domain.identity.user.persons_behind). Rules that need a second
    # person compare these, not usernames.
    behind: frozenset[str] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _holds_its_role(cls, data: Any) -> Any:
        if isinstance(data, dict) and "role" in data:
            data = {**data, "roles": frozenset(data.get("roles") or ()) | {data["role"]}}
        return data

    def stands_apart_from(self, other: str, other_behind: Iterable[str] = ()) -> bool:
        """Whether this actor is a second person beside ``other`` (with ``other_behind``, the
        persons behind them): see ``stand_apart``."""
        return stand_apart(self.username, self.behind, other, other_behind)


def stand_apart(
    one: str, one_behind: Iterable[str], other: str, other_behind: Iterable[str]
) -> bool:
    """Whether two actors are two persons: no one is, or is behind, both of them.

    The one rule for every decision that needs a second person (a role grant, a four-eyes
    approval, the review of an out-of-hours decision or of a referral): each side is the
    person and everyone behind them, and the two sides must not meet."""
    return {one, *one_behind}.isdisjoint({other, *other_behind})


class PolicyRef(Value):
    """The rule a decision was taken under: policy id, version and clause."""

    policy: Annotated[Line, StringConstraints(min_length=1, max_length=200)]
    version: Annotated[Line, StringConstraints(min_length=1, max_length=50)]
    clause: Annotated[Line, StringConstraints(min_length=1, max_length=100)]


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
