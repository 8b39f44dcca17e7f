"""The contact list and what is read with it: ``GET /contacts`` (filters, keyset paging), a
handler's feedback (``GET /me/feedback``) and reviewers' agreement (``GET /quality/calibration``),
read from the ``contact_summaries`` view's tables (``projections.contact_summaries``). No
personal data: ids, enums, staff usernames, scores and times.
"""

# SQL here names only the view's own tables and columns (constants, quoted by the store); every
# value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

from domain.case.vocabulary import Category
from domain.contact.vocabulary import (
    ContactChannel,
    ContactDirection,
    ContactOutcome,
    FeedbackStatus,
    FollowUpKind,
    ReviewResult,
)
from infrastructure.event_log import EventLog
from projections.contact_summaries import (
    CALIBRATION_POINTS,
    CURSOR_TAG,
    FEEDBACK_CURSOR_TAG,
    REVIEWS_TABLE,
    SUMMARIES_TABLE,
    SUMMARY_COLUMNS,
    ContactSummariesView,
    _flag,
)
from projections.paging import (
    DEFAULT_LIMIT,
    InvalidQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
    enum_value,
)
from projections.read_model import ReadModel
from projections.restricted import hidden_cases_clause
from projections.runner import DEFAULT_BATCH_SIZE
from projections.store import Row, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector


class ReviewSummary(BaseModel):
    """One review of a contact, as a list shows it: the score, the result, and where its
    feedback stands with the handler (never the feedback itself)."""

    model_config = ConfigDict(frozen=True)

    review_id: UUID
    reviewer: str
    reviewed_at: datetime
    scorecard_version: int
    score: float = Field(description="The weighted score, 0-100.")
    result: ReviewResult
    calibration: bool = Field(description="The contact had been reviewed before this review.")
    safeguarding_fail: bool = Field(description="A critical safeguarding criterion scored 0.")
    critical_failures: list[str] = Field(description="The critical criteria scored 0 (keys).")
    feedback_status: FeedbackStatus
    answered_at: datetime | None = Field(description="Acknowledged or disputed (occurred).")
    resolved_at: datetime | None = Field(description="A disputed review resolved by a lead.")
    lead_reviewed_at: datetime | None = Field(
        description="A safeguarding fail looked at by a lead (POST .../lead-review)."
    )


class FollowUpSummary(BaseModel):
    """One follow-up of a contact: what, by when, whose, how far (never its detail)."""

    model_config = ConfigDict(frozen=True)

    follow_up_id: UUID
    kind: FollowUpKind
    due_at: datetime
    assignee: str
    attempts: int
    last_attempt_outcome: str | None
    completed: bool
    completed_at: datetime | None


class ContactSummary(BaseModel):
    """One helpline contact in a list: what it was, its review and its follow-ups (no personal
    data: never the summary, the caller's name or the feedback)."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(description="The contact id.")
    service: str
    channel: ContactChannel
    direction: ContactDirection
    handled_by: str
    category: Category
    outcome: ContactOutcome
    occurred_at: datetime
    recorded_at: datetime
    duration_seconds: int | None
    anonymous: bool = Field(description="The caller did not give who they are.")
    caller_ref: str | None = Field(
        description="A named caller's ref in the helpline's own system (pseudonymous)."
    )
    participants: int = Field(description="Others on the contact (third party, interpreter...).")
    case_id: UUID | None
    opened_case: bool = Field(description="The contact opened its case (else it joined one).")
    case_restricted: bool = Field(
        description="The contact's case is restricted (VIGIL_RESTRICTED_CATEGORIES): the "
        "contact is restricted with it."
    )
    reviewed: bool
    review_count: int
    last_score: float | None
    last_result: ReviewResult | None
    calibrated: bool = Field(description="Reviewed twice or more (reviewers' agreement).")
    safeguarding_fail: bool = Field(description="A review failed a safeguarding criterion.")
    review_due: datetime = Field(
        description="Review due 5 working days after the contact, by its service's calendar "
        "in force then."
    )
    reviews: list[ReviewSummary]
    follow_ups: list[FollowUpSummary]
    version: int
    position: int = Field(description="Notification id of the last event applied to this row.")


class FeedbackItem(BaseModel):
    """A review of one of my contacts and where its feedback stands (read the feedback itself
    on the contact, GET /contacts/{id})."""

    model_config = ConfigDict(frozen=True)

    contact_id: UUID
    review_id: UUID
    service: str
    reviewer: str
    reviewed_at: datetime
    score: float
    result: ReviewResult
    calibration: bool
    safeguarding_fail: bool
    feedback_status: FeedbackStatus
    answered_at: datetime | None
    resolved_at: datetime | None


class Calibration(BaseModel):
    """Reviewers' agreement: of the contacts reviewed twice or more (calibrated), how many had
    review scores within 10 points of each other."""

    model_config = ConfigDict(frozen=True)

    calibrated_contacts: int = Field(description="Contacts with 2 or more reviews.")
    agreeing: int = Field(description="Of those, contacts whose scores lie within 10 points.")
    disagreeing: int
    share: float | None = Field(
        description="agreeing / calibrated_contacts, 0-1 (null: no calibrated contact)."
    )
    within_points: float = Field(description="The agreement band: 10 points.")
    reviewed_contacts: int = Field(description="Contacts with at least one review.")


_READ_COLUMNS = SUMMARY_COLUMNS


def _restricted_clause(
    store: ViewStore, restricted: Collection[str], params: dict[str, Any], case_id: str
) -> str:
    """SQL true when the row's case is of a restricted category (by the case list's rows)."""
    if not restricted:
        return "0"
    names = []
    for n, value in enumerate(sorted(restricted)):
        params[f"rk{n}"] = value
        names.append(f"%(rk{n})s")
    summaries = store.table("case_summaries")
    return (
        f"(CASE WHEN {case_id} IN (SELECT case_id FROM {summaries} "
        f"WHERE category IN ({', '.join(names)})) THEN 1 ELSE 0 END)"
    )


def visible_clause(
    store: ViewStore,
    visibility: Visibility | None,
    params: dict[str, Any],
    *,
    case_id: str = "case_id",
) -> str | None:
    """Contacts on a restricted case the reader may not see are left out, as the case is from
    case lists (``projections.restricted``): a contact is restricted with its case."""
    return hidden_cases_clause(store, visibility, params, case_id=case_id)


def _time_bounds(
    store: ViewStore,
    column: str,
    start: datetime | None,
    end: datetime | None,
    where: list[str],
    params: dict[str, Any],
) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidQuery("to must be after from", errors={"to": "must be after from"})
    if start is not None:
        where.append(f"{column} >= %(from_at)s")
        params["from_at"] = store.encode_time(start)
    if end is not None:
        where.append(f"{column} < %(to_at)s")
        params["to_at"] = store.encode_time(end)


class ContactSummaries(ReadModel[ContactSummariesView]):
    """The contact list, a handler's feedback, reviewers' agreement: read from the
    ``contact_summaries`` view (caught up by the projector, never by a route)."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        restricted: Collection[str] = (),
        batch_size: int = DEFAULT_BATCH_SIZE,
        projector: Projector | None = None,
    ) -> None:
        super().__init__(
            event_log,
            ContactSummariesView,
            lambda: ContactSummariesView(event_log),
            projector=projector,
            batch_size=batch_size,
        )
        # The restricted case categories (the settings'): a contact on such a case says so.
        self.restricted = frozenset(restricted)

    def query(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        channel: ContactChannel | str | None = None,
        handled_by: str | None = None,
        reviewed: bool | None = None,
        service: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
        only_handled_by: str | None = None,
    ) -> tuple[list[ContactSummary], str | None]:
        """A page of contacts, latest first (by when they occurred), and the next page's cursor
        (None on the last page). ``start`` (inclusive) and ``end`` (exclusive) bound
        ``occurred_at``. ``visibility`` leaves out contacts on restricted cases the reader may
        not see; ``only_handled_by`` keeps a reader who may read only their own contacts to
        those (whatever ``handled_by`` asks). Raises ``InvalidQuery`` for input the view cannot
        answer."""
        check_limit(limit)
        store = self.store
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        filters: dict[str, Any] = {
            "channel": enum_value(ContactChannel, channel, "channel"),
            "handled_by": handled_by,
            "service": service,
            "reviewed": None if reviewed is None else _flag(reviewed),
        }
        for column, value in filters.items():
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if only_handled_by is not None:
            where.append("handled_by = %(only_handled_by)s")
            params["only_handled_by"] = only_handled_by
        _time_bounds(store, "occurred_at", start, end, where, params)
        hidden = visible_clause(store, visibility, params)
        if hidden is not None:
            where.append(hidden)
        if cursor is not None:
            after_at, after_id = decode_cursor(CURSOR_TAG, cursor, (datetime, UUID))
            where.append("(occurred_at, contact_id) < (%(after_at)s, %(after_id)s)")
            params["after_at"] = store.encode_time(after_at)
            params["after_id"] = store.encode_uuid(after_id)
        restricted = _restricted_clause(store, self.restricted, params, "case_id")
        statement = (
            f"SELECT {', '.join(_READ_COLUMNS)}, {restricted} AS case_restricted "
            f"FROM {store.table(SUMMARIES_TABLE)} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY occurred_at DESC, contact_id DESC LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        items = [self._summary(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(CURSOR_TAG, (last.occurred_at, last.id))
        return items, next_cursor

    def get(self, contact_id: UUID) -> ContactSummary | None:
        """One contact's summary, or None if the view has no such contact (yet)."""
        store = self.store
        params: dict[str, Any] = {"contact_id": store.encode_uuid(contact_id)}
        restricted = _restricted_clause(store, self.restricted, params, "case_id")
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT {', '.join(_READ_COLUMNS)}, {restricted} AS case_restricted "
                f"FROM {store.table(SUMMARIES_TABLE)} WHERE contact_id = %(contact_id)s",
                params,
            )
        return None if row is None else self._summary(row)

    def all(self) -> list[ContactSummary]:
        """Every contact, in id order (for comparisons and exports; not for requests)."""
        store = self.store
        params: dict[str, Any] = {}
        restricted = _restricted_clause(store, self.restricted, params, "case_id")
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT {', '.join(_READ_COLUMNS)}, {restricted} AS case_restricted "
                f"FROM {store.table(SUMMARIES_TABLE)} ORDER BY contact_id",
                params,
            )
        return [self._summary(row) for row in rows]

    def feedback(
        self,
        handler: str,
        *,
        status: FeedbackStatus | str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[FeedbackItem], str | None]:
        """The reviews of ``handler``'s contacts, latest review first, each with where its
        feedback stands (``status`` keeps one state: ``awaiting`` is what they still have to
        acknowledge or dispute)."""
        check_limit(limit)
        store = self.store
        where = ["handled_by = %(handler)s"]
        params: dict[str, Any] = {"handler": handler, "limit": limit + 1}
        wanted = enum_value(FeedbackStatus, status, "status")
        if wanted is not None:
            where.append("feedback_status = %(status)s")
            params["status"] = wanted
        hidden = visible_clause(store, visibility, params)
        if hidden is not None:
            where.append(hidden)
        if cursor is not None:
            after_at, after_id = decode_cursor(FEEDBACK_CURSOR_TAG, cursor, (datetime, UUID))
            where.append("(reviewed_at, review_id) < (%(after_at)s, %(after_id)s)")
            params["after_at"] = store.encode_time(after_at)
            params["after_id"] = store.encode_uuid(after_id)
        statement = (
            "SELECT contact_id, review_id, service, reviewer, reviewed_at, score, result, "
            "calibration, safeguarding_fail, feedback_status, answered_at, resolved_at "
            f"FROM {store.table(REVIEWS_TABLE)} WHERE {' AND '.join(where)} "
            "ORDER BY reviewed_at DESC, review_id DESC LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        items = [
            FeedbackItem(
                contact_id=store.decode_uuid(row["contact_id"]),
                review_id=store.decode_uuid(row["review_id"]),
                service=row["service"],
                reviewer=row["reviewer"],
                reviewed_at=_decoded(store, row["reviewed_at"]),
                score=float(row["score"]),
                result=ReviewResult(row["result"]),
                calibration=bool(row["calibration"]),
                safeguarding_fail=bool(row["safeguarding_fail"]),
                feedback_status=FeedbackStatus(row["feedback_status"]),
                answered_at=store.decode_time(row["answered_at"]),
                resolved_at=store.decode_time(row["resolved_at"]),
            )
            for row in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(FEEDBACK_CURSOR_TAG, (last.reviewed_at, last.review_id))
        return items, next_cursor

    def calibration(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        service: str | None = None,
        visibility: Visibility | None = None,
    ) -> Calibration:
        """Reviewers' agreement over the contacts that occurred in [start, end) (of one service):
        the share of calibrated contacts (2+ reviews) whose scores lie within 10 points."""
        store = self.store
        where = ["reviewed = 1"]
        params: dict[str, Any] = {"points": CALIBRATION_POINTS}
        if service is not None:
            where.append("service = %(service)s")
            params["service"] = service
        _time_bounds(store, "occurred_at", start, end, where, params)
        hidden = visible_clause(store, visibility, params)
        if hidden is not None:
            where.append(hidden)
        statement = (
            "SELECT COUNT(*) AS reviewed, "
            "COALESCE(SUM(calibrated), 0) AS calibrated, "
            "COALESCE(SUM(CASE WHEN calibrated = 1 AND score_spread <= %(points)s "
            "THEN 1 ELSE 0 END), 0) AS agreeing "
            f"FROM {store.table(SUMMARIES_TABLE)} WHERE {' AND '.join(where)}"
        )
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(statement, params)
        reviewed = int(row["reviewed"]) if row else 0
        calibrated = int(row["calibrated"]) if row else 0
        agreeing = int(row["agreeing"]) if row else 0
        return Calibration(
            calibrated_contacts=calibrated,
            agreeing=agreeing,
            disagreeing=calibrated - agreeing,
            share=None if calibrated == 0 else round(agreeing / calibrated, 4),
            within_points=CALIBRATION_POINTS,
            reviewed_contacts=reviewed,
        )

    def _summary(self, row: Row) -> ContactSummary:
        store = self.store
        return ContactSummary(
            id=store.decode_uuid(row["contact_id"]),
            service=row["service"],
            channel=ContactChannel(row["channel"]),
            direction=ContactDirection(row["direction"]),
            handled_by=row["handled_by"],
            category=Category(row["category"]),
            outcome=ContactOutcome(row["outcome"]),
            occurred_at=_decoded(store, row["occurred_at"]),
            recorded_at=_decoded(store, row["recorded_at"]),
            duration_seconds=row["duration_seconds"],
            anonymous=bool(row["anonymous"]),
            caller_ref=row["caller_ref"],
            participants=int(row["participants"]),
            case_id=None if row["case_id"] is None else store.decode_uuid(row["case_id"]),
            opened_case=bool(row["opened_case"]),
            case_restricted=bool(row["case_restricted"]),
            reviewed=bool(row["reviewed"]),
            review_count=int(row["review_count"]),
            last_score=None if row["last_score"] is None else float(row["last_score"]),
            last_result=None if row["last_result"] is None else ReviewResult(row["last_result"]),
            calibrated=bool(row["calibrated"]),
            safeguarding_fail=bool(row["safeguarding_fail"]),
            review_due=_decoded(store, row["review_due"]),
            reviews=[ReviewSummary.model_validate(r) for r in orjson.loads(row["reviews"])],
            follow_ups=[FollowUpSummary.model_validate(f) for f in orjson.loads(row["follow_ups"])],
            version=int(row["version"]),
            position=int(row["position"]),
        )


def _decoded(store: ViewStore, value: Any) -> datetime:
    moment = store.decode_time(value)
    assert moment is not None
    return moment
