"""``contact_summaries``: helpline contacts, their quality reviews and follow-ups, for lists and
queues (read by ``projections.contact_list``: ``GET /contacts``, a handler's feedback, reviewers'
agreement; and by ``projections.contact_queues``).

Folded from the contact events (``domain.contact.events``) with the domain's own ``evolve``
(``domain.contact.state``), plus what only readers need: a safeguarding lead's look at a review
that failed a safeguarding criterion (``domain.contact.lead_review``) and the due times. Whenever
a contact has events in a batch, its rows are deleted and written again from its record after
the batch, so a rebuild gives the same rows. Three tables, none holding personal data (no
summary, feedback, note, name or display name; the caller's ``ref`` is the helpline's own
pseudonymous id, as a case subject's is in ``case_summaries``): ids, enums, usernames of staff,
scores and times only.

* ``contact_summaries``: one row per contact: what it was (channel, direction, service, who
  handled it, category, outcome, when on both clocks, duration, anonymous or not), its case,
  its reviews (count, the last one's score and result, calibrated, any safeguarding fail, the
  spread of its scores), whether it comes first in the review queue (``priority``: a
  safeguarding concern or a referral made, or a referral follow-up), when its review is due,
  and its reviews and follow-ups as JSON (ids, states and times).
* ``contact_reviews``: one row per review: reviewer, score, result, calibration, safeguarding
  fail, the feedback's state with the handler (awaiting, acknowledged, disputed, upheld,
  revised), a lead's look at a safeguarding fail, and when that look is due.
* ``contact_follow_ups``: one row per follow-up: kind, due, assignee, attempts, completion.

Due times are judged, like the work queues', by the calendar of the contact's service in force
at the moment the clock started (``projections.service_calendars``: the versions the log held
at the contact's latest event, never today's settings): a contact's review is due the SLA
policy's ``contact_reviewed`` target in force when it occurred (``projections.sla_policies``; by
default 5 working days, DOMAIN.md's SLA table) after it; a safeguarding fail is due a lead's
look by the end of the next working day after the review (a missed safeguarding question is a
safeguarding matter, judged like an out-of-hours decision). A new calendar or policy version
never moves a due time already judged: it may not take effect in the past
(``domain.service.decide``, ``domain.policy.decide``).

Whether a contact's case is restricted, and how risky it is, is the case's, and changes with the
case: readers join ``case_summaries`` for both at query time (as ``projections.restricted``
does), so nothing here goes stale when a case is re-assessed.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

from domain.calendar import CalendarHistory
from domain.contact.events import ContactEvent
from domain.contact.lead_review import LeadReviewOutcome, SafeguardingFailReviewed
from domain.contact.state import ContactState, evolve
from domain.contact.vocabulary import (
    ContactOutcome,
    FollowUpKind,
)
from domain.policy.sla import SlaPolicyHistory
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_delete, bulk_insert
from projections.runner import Positioned, Statement, View
from projections.service_calendars import ServiceCalendars
from projections.sla import DEFAULT_HISTORY, due
from projections.sla_policies import SlaPolicies
from projections.store import ViewStore
from projections.stream_folds import StreamFolds

if TYPE_CHECKING:
    pass

SUMMARIES_TABLE = "contact_summaries"
REVIEWS_TABLE = "contact_reviews"
FOLLOW_UPS_TABLE = "contact_follow_ups"
CURSOR_TAG = "contacts"
FEEDBACK_CURSOR_TAG = "feedback"

CALIBRATION_POINTS = 10.0
"""Two reviewers agree on a contact when its review scores lie within this many points."""
# A contact comes first in the review queue for what it was: a concern, a referral.
PRIORITY_OUTCOMES = frozenset({ContactOutcome.SAFEGUARDING_CONCERN, ContactOutcome.REFERRAL_MADE})

SUMMARY_COLUMNS = (
    "contact_id",
    "service",
    "channel",
    "direction",
    "handled_by",
    "category",
    "outcome",
    "occurred_at",
    "recorded_at",
    "duration_seconds",
    "anonymous",
    "caller_ref",
    "participants",
    "case_id",
    "opened_case",
    "reviewed",
    "review_count",
    "last_review_id",
    "last_score",
    "last_result",
    "calibrated",
    "score_spread",
    "safeguarding_fail",
    "priority",
    "review_due",
    "first_reviewed_at",
    "open_follow_ups",
    "reviews",
    "follow_ups",
    "version",
    "position",
)
REVIEW_COLUMNS = (
    "review_id",
    "contact_id",
    "service",
    "handled_by",
    "case_id",
    "reviewer",
    "reviewed_at",
    "scorecard_version",
    "score",
    "result",
    "calibration",
    "safeguarding_fail",
    "critical_failures",
    "feedback_status",
    "answered_at",
    "resolved_by",
    "resolved_at",
    "lead_review_due",
    "lead_reviewed_at",
    "lead_reviewed_by",
    "lead_review_outcome",
)
FOLLOW_UP_COLUMNS = (
    "follow_up_id",
    "contact_id",
    "service",
    "handled_by",
    "case_id",
    "kind",
    "due_at",
    "assignee",
    "scheduled_by",
    "scheduled_at",
    "attempts",
    "last_attempt_outcome",
    "last_attempt_at",
    "open",
    "completed_by",
    "completed_at",
)
_TABLE_COLUMNS = {
    SUMMARIES_TABLE: SUMMARY_COLUMNS,
    REVIEWS_TABLE: REVIEW_COLUMNS,
    FOLLOW_UPS_TABLE: FOLLOW_UP_COLUMNS,
}
_UUID_COLUMNS = frozenset({"contact_id", "case_id", "last_review_id", "review_id", "follow_up_id"})
_TIME_COLUMNS = frozenset(
    {
        "occurred_at",
        "recorded_at",
        "review_due",
        "first_reviewed_at",
        "reviewed_at",
        "answered_at",
        "resolved_at",
        "lead_review_due",
        "lead_reviewed_at",
        "due_at",
        "scheduled_at",
        "last_attempt_at",
        "completed_at",
    }
)


# --- the record: a contact's state and what only readers need ---------------------------------


@dataclass(frozen=True)
class LeadLook:
    """A safeguarding lead's look at a review that failed a safeguarding criterion."""

    at: datetime  # occurred
    by: str
    outcome: LeadReviewOutcome


@dataclass(frozen=True)
class ContactRecord:
    """A contact's state (the domain's fold) and the leads' looks at its safeguarding fails."""

    state: ContactState
    lead_looks: Mapping[UUID, LeadLook] = field(default_factory=dict)

    @property
    def version(self) -> int:
        return self.state.version


def fold_record(record: ContactRecord | None, event: ContactEvent) -> ContactRecord:
    """One event onto a contact's record (never raises: it runs on every replay)."""
    state = evolve(None if record is None else record.state, event)
    if record is None:
        record = ContactRecord(state=state)
    if isinstance(event, SafeguardingFailReviewed) and event.review_id in state.reviews:
        look = LeadLook(at=event.occurred_at, by=event.actor, outcome=event.outcome)
        return replace(record, state=state, lead_looks={**record.lead_looks, event.review_id: look})
    return replace(record, state=state)


class ContactFolds(StreamFolds[ContactEvent, ContactRecord]):
    """Contact records after a batch's events (``projections/stream_folds.py``)."""

    def __init__(self, event_log: EventLog, *, cache_size: int = 20_000) -> None:
        super().__init__(
            event_log,
            event_type=ContactEvent,
            fold=fold_record,
            originator=lambda event: event.originator_id,
            version=lambda event: event.originator_version,
            cache_size=cache_size,
        )


# --- rows ------------------------------------------------------------------------------------


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def review_due(
    history: CalendarHistory, occurred_at: datetime, policy: SlaPolicyHistory = DEFAULT_HISTORY
) -> datetime:
    """When a contact's quality review is due: the SLA policy's ``contact_reviewed`` target in
    force when it occurred (by default 5 working days: DOMAIN.md's SLA table) after it, by its
    service's calendar in force at that moment."""
    target = policy.in_force(occurred_at).targets.contact_reviewed
    return due(target, history.in_force(occurred_at), occurred_at)


def lead_look_due(history: CalendarHistory, reviewed_at: datetime) -> datetime:
    """When a lead's look at a safeguarding fail is due: the end of the next working day after
    the review, by the service's calendar in force then."""
    return history.in_force(reviewed_at).end_of_next_working_day(reviewed_at).astimezone(UTC)


def _flag(value: bool) -> int:
    return 1 if value else 0


def contact_rows(
    record: ContactRecord, history: CalendarHistory, policy: SlaPolicyHistory = DEFAULT_HISTORY
) -> dict[str, list[dict[str, Any]]]:
    """The rows of one contact in each table (times and ids not yet encoded for the store);
    ``history`` is its service's calendar over time, ``policy`` the SLA policy's versions."""
    state = record.state
    reviews = list(state.reviews.values())  # in the order they were recorded
    follow_ups = list(state.follow_ups.values())
    last = reviews[-1] if reviews else None
    scores = [r.score for r in reviews]
    spread = round(max(scores) - min(scores), 1) if len(scores) >= 2 else None
    referral = any(f.kind is FollowUpKind.REFERRAL for f in follow_ups)
    review_rows: list[dict[str, Any]] = []
    review_json: list[dict[str, Any]] = []
    for review in reviews:
        look = record.lead_looks.get(review.review_id)
        due = lead_look_due(history, review.reviewed_at) if review.safeguarding_fail else None
        review_rows.append(
            {
                "review_id": review.review_id,
                "contact_id": state.id,
                "service": state.service,
                "handled_by": state.handled_by,
                "case_id": state.case_id,
                "reviewer": review.reviewer,
                "reviewed_at": review.reviewed_at,
                "scorecard_version": review.scorecard_version,
                "score": review.score,
                "result": review.result.value,
                "calibration": _flag(review.calibration),
                "safeguarding_fail": _flag(review.safeguarding_fail),
                "critical_failures": orjson.dumps(list(review.critical_failures)).decode(),
                "feedback_status": review.feedback_status.value,
                "answered_at": review.answered_at,
                "resolved_by": review.resolved_by,
                "resolved_at": review.resolved_at,
                "lead_review_due": due,
                "lead_reviewed_at": None if look is None else look.at,
                "lead_reviewed_by": None if look is None else look.by,
                "lead_review_outcome": None if look is None else look.outcome.value,
            }
        )
        review_json.append(
            {
                "review_id": str(review.review_id),
                "reviewer": review.reviewer,
                "reviewed_at": _utc(review.reviewed_at),
                "scorecard_version": review.scorecard_version,
                "score": review.score,
                "result": review.result.value,
                "calibration": review.calibration,
                "safeguarding_fail": review.safeguarding_fail,
                "critical_failures": list(review.critical_failures),
                "feedback_status": review.feedback_status.value,
                "answered_at": _utc(review.answered_at),
                "resolved_at": _utc(review.resolved_at),
                "lead_reviewed_at": None if look is None else _utc(look.at),
            }
        )
    follow_up_rows: list[dict[str, Any]] = []
    follow_up_json: list[dict[str, Any]] = []
    for follow_up in follow_ups:
        last_attempt = follow_up.attempts[-1] if follow_up.attempts else None
        attempted = None if last_attempt is None else last_attempt.outcome.value
        follow_up_rows.append(
            {
                "follow_up_id": follow_up.follow_up_id,
                "contact_id": state.id,
                "service": state.service,
                "handled_by": state.handled_by,
                "case_id": state.case_id,
                "kind": follow_up.kind.value,
                "due_at": follow_up.due_at,
                "assignee": follow_up.assignee,
                "scheduled_by": follow_up.scheduled_by,
                "scheduled_at": follow_up.scheduled_at,
                "attempts": len(follow_up.attempts),
                "last_attempt_outcome": attempted,
                "last_attempt_at": None if last_attempt is None else last_attempt.at,
                "open": _flag(not follow_up.completed),
                "completed_by": follow_up.completed_by,
                "completed_at": follow_up.completed_at,
            }
        )
        follow_up_json.append(
            {
                "follow_up_id": str(follow_up.follow_up_id),
                "kind": follow_up.kind.value,
                "due_at": _utc(follow_up.due_at),
                "assignee": follow_up.assignee,
                "attempts": len(follow_up.attempts),
                "last_attempt_outcome": attempted,
                "completed": follow_up.completed,
                "completed_at": _utc(follow_up.completed_at),
            }
        )
    first = state.first_review()
    summary = {
        "contact_id": state.id,
        "service": state.service,
        "channel": state.channel.value,
        "direction": state.direction.value,
        "handled_by": state.handled_by,
        "category": state.category.value,
        "outcome": state.outcome.value,
        "occurred_at": state.occurred_at,
        "recorded_at": state.recorded_at,
        "duration_seconds": state.duration_seconds,
        "anonymous": _flag(state.anonymous),
        "caller_ref": None if state.anonymous else state.caller_ref,
        "participants": state.participants,
        "case_id": state.case_id,
        "opened_case": _flag(state.opened_case),
        "reviewed": _flag(bool(reviews)),
        "review_count": len(reviews),
        "last_review_id": None if last is None else last.review_id,
        "last_score": None if last is None else last.score,
        "last_result": None if last is None else last.result.value,
        "calibrated": _flag(len(reviews) >= 2),
        "score_spread": spread,
        "safeguarding_fail": _flag(any(r.safeguarding_fail for r in reviews)),
        "priority": _flag(state.outcome in PRIORITY_OUTCOMES or referral),
        "review_due": review_due(history, state.occurred_at, policy),
        "first_reviewed_at": None if first is None else first.reviewed_at,
        "open_follow_ups": sum(1 for f in follow_ups if not f.completed),
        "reviews": orjson.dumps(review_json).decode(),
        "follow_ups": orjson.dumps(follow_up_json).decode(),
        "version": state.version,
    }
    return {
        SUMMARIES_TABLE: [summary],
        REVIEWS_TABLE: review_rows,
        FOLLOW_UPS_TABLE: follow_up_rows,
    }


def _encode(store: ViewStore, row: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(row)
    for name, value in row.items():
        if value is None:
            continue
        if name in _UUID_COLUMNS:
            encoded[name] = store.encode_uuid(value)
        elif name in _TIME_COLUMNS:
            encoded[name] = store.encode_time(value)
    return encoded


def default_calendars(event_log: EventLog) -> ServiceCalendars:
    """Services' calendars for a view built alone (a test, a tool): the work queues' own."""
    from projections.work_queues import default_calendars as work_queue_calendars

    return work_queue_calendars(event_log)


def default_policies(event_log: EventLog) -> SlaPolicies:
    """The SLA policy for a view built alone (a test, a tool): the work queues' own."""
    from projections.work_queues import default_policies as work_queue_policies

    return work_queue_policies(event_log)


class ContactSummariesView(View):
    name = SUMMARIES_TABLE
    # 2: a contact's review due by the SLA policy in force at it (issue 15)
    version = 2

    def __init__(
        self,
        event_log: EventLog,
        *,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
        folds: ContactFolds | None = None,
        fingerprint: str = "",
    ) -> None:
        # Due times depend on the settings' calendar (the default service's until it is
        # recorded): a view built under other settings is rebuilt (``stored_version``).
        self._calendars = calendars if calendars is not None else default_calendars(event_log)
        self._policies = policies if policies is not None else default_policies(event_log)
        self.feeds = (self._calendars, self._policies)
        self._folds = folds if folds is not None else ContactFolds(event_log)
        self._fingerprint = fingerprint

    def stored_version(self) -> int:
        if not self._fingerprint:
            return self.version
        # Fits PostgreSQL's INTEGER: the schema version, then 6 digits of the fingerprint.
        return self.version * 1_000_000 + zlib.crc32(self._fingerprint.encode()) % 1_000_000

    def rows_of(self, record: ContactRecord, position: int) -> dict[str, list[dict[str, Any]]]:
        """The rows of a contact whose latest event is at ``position`` in the log: due times
        judged by its service's calendar versions and the SLA policy's as the log held them
        there."""
        return contact_rows(
            record,
            self._calendars.history(record.state.service, position),
            self._policies.history(position),
        )

    def create_statements(self, store: ViewStore) -> list[str]:
        ts, uid = store.time_type, store.uuid_type
        summaries = store.table(SUMMARIES_TABLE)
        reviews = store.table(REVIEWS_TABLE)
        follow_ups = store.table(FOLLOW_UPS_TABLE)

        def ix(table: str, suffix: str) -> str:
            return store.index(f"{table}_{suffix}")

        return [
            f"CREATE TABLE IF NOT EXISTS {summaries} ("
            f"contact_id {uid} PRIMARY KEY, service TEXT NOT NULL, channel TEXT NOT NULL, "
            "direction TEXT NOT NULL, handled_by TEXT NOT NULL, category TEXT NOT NULL, "
            f"outcome TEXT NOT NULL, occurred_at {ts} NOT NULL, recorded_at {ts} NOT NULL, "
            "duration_seconds BIGINT, anonymous INTEGER NOT NULL, caller_ref TEXT, "
            f"participants INTEGER NOT NULL, case_id {uid}, opened_case INTEGER NOT NULL, "
            "reviewed INTEGER NOT NULL, review_count INTEGER NOT NULL, "
            f"last_review_id {uid}, last_score DOUBLE PRECISION, last_result TEXT, "
            "calibrated INTEGER NOT NULL, score_spread DOUBLE PRECISION, "
            "safeguarding_fail INTEGER NOT NULL, priority INTEGER NOT NULL, "
            f"review_due {ts} NOT NULL, first_reviewed_at {ts}, "
            "open_follow_ups INTEGER NOT NULL, reviews TEXT NOT NULL, follow_ups TEXT NOT NULL, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL)",
            # The listing order, and the filters followed by it.
            f"CREATE INDEX IF NOT EXISTS {ix(SUMMARIES_TABLE, 'by_occurred')} "
            f"ON {summaries} (occurred_at DESC, contact_id DESC)",
            *(
                f"CREATE INDEX IF NOT EXISTS {ix(SUMMARIES_TABLE, f'by_{column}')} "
                f"ON {summaries} ({column}, occurred_at DESC, contact_id DESC)"
                for column in ("handled_by", "reviewed", "service", "channel")
            ),
            # The review queue: unreviewed contacts by due time (priority ones first).
            f"CREATE INDEX IF NOT EXISTS {ix(SUMMARIES_TABLE, 'by_due')} "
            f"ON {summaries} (reviewed, review_due, contact_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(SUMMARIES_TABLE, 'by_priority')} "
            f"ON {summaries} (reviewed, priority, review_due, contact_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(SUMMARIES_TABLE, 'by_case')} ON {summaries} (case_id)",
            f"CREATE TABLE IF NOT EXISTS {reviews} ("
            f"review_id {uid} PRIMARY KEY, contact_id {uid} NOT NULL, service TEXT NOT NULL, "
            f"handled_by TEXT NOT NULL, case_id {uid}, reviewer TEXT NOT NULL, "
            f"reviewed_at {ts} NOT NULL, scorecard_version INTEGER NOT NULL, "
            "score DOUBLE PRECISION NOT NULL, result TEXT NOT NULL, "
            "calibration INTEGER NOT NULL, safeguarding_fail INTEGER NOT NULL, "
            "critical_failures TEXT NOT NULL, feedback_status TEXT NOT NULL, "
            f"answered_at {ts}, resolved_by TEXT, resolved_at {ts}, lead_review_due {ts}, "
            f"lead_reviewed_at {ts}, lead_reviewed_by TEXT, lead_review_outcome TEXT)",
            f"CREATE INDEX IF NOT EXISTS {ix(REVIEWS_TABLE, 'by_contact')} "
            f"ON {reviews} (contact_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(REVIEWS_TABLE, 'by_feedback')} "
            f"ON {reviews} (feedback_status, reviewed_at, review_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(REVIEWS_TABLE, 'by_answered')} "
            f"ON {reviews} (feedback_status, answered_at, review_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(REVIEWS_TABLE, 'by_handler')} "
            f"ON {reviews} (handled_by, reviewed_at DESC, review_id DESC)",
            f"CREATE INDEX IF NOT EXISTS {ix(REVIEWS_TABLE, 'by_lead_due')} "
            f"ON {reviews} (safeguarding_fail, lead_reviewed_at, lead_review_due, review_id)",
            f"CREATE TABLE IF NOT EXISTS {follow_ups} ("
            f"follow_up_id {uid} PRIMARY KEY, contact_id {uid} NOT NULL, service TEXT NOT NULL, "
            f"handled_by TEXT NOT NULL, case_id {uid}, kind TEXT NOT NULL, "
            f"due_at {ts} NOT NULL, assignee TEXT NOT NULL, scheduled_by TEXT NOT NULL, "
            f"scheduled_at {ts} NOT NULL, attempts INTEGER NOT NULL, "
            f"last_attempt_outcome TEXT, last_attempt_at {ts}, open INTEGER NOT NULL, "
            f"completed_by TEXT, completed_at {ts})",
            f"CREATE INDEX IF NOT EXISTS {ix(FOLLOW_UPS_TABLE, 'by_contact')} "
            f"ON {follow_ups} (contact_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(FOLLOW_UPS_TABLE, 'by_due')} "
            f"ON {follow_ups} (open, due_at, follow_up_id)",
            f"CREATE INDEX IF NOT EXISTS {ix(FOLLOW_UPS_TABLE, 'by_assignee')} "
            f"ON {follow_ups} (assignee, open, due_at)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(name)}" for name in _TABLE_COLUMNS]

    def reset(self) -> None:
        self._folds.forget()

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        folded = self._folds.fold_batch(batch)
        if not folded:
            return []
        ids = [store.encode_uuid(f.record.state.id) for f in folded]
        rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLE_COLUMNS}
        for f in folded:
            for name, found in self.rows_of(f.record, f.position).items():
                for row in found:
                    if name == SUMMARIES_TABLE:
                        row["position"] = f.position
                    rows[name].append(_encode(store, row))
        statements: list[Statement] = []
        for name, columns in _TABLE_COLUMNS.items():
            table = store.table(name)
            statements += bulk_delete(store, table, "contact_id", ids, sql_type="uuid")
            statements += bulk_insert(store, table, columns, rows[name])
        return statements


# --- reading -----------------------------------------------------------------------------------
