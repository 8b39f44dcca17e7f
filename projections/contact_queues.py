"""The helpline contact queues, read from the contact view (``projections.contact_summaries``)
at a moment:

* ``contacts_awaiting_review``: every contact not yet quality-reviewed, due 5 working days after
  it occurred (by its service's calendar in force then). Those that matter most come first: a
  safeguarding concern or a referral made, a referral follow-up, or an open case now assessed
  high or critical risk (the case's risk as it changes: read from the case list at query time);
  then the rest, each group soonest due first.
* ``follow_ups_due``: follow-ups not completed, soonest due first (so the overdue lead).
* ``feedback_unacknowledged``: reviews whose feedback the handler has neither acknowledged nor
  disputed, oldest review first; no due time.
* ``feedback_disputes``: disputed reviews awaiting a safeguarding lead's resolution, oldest
  dispute first; no due time.
* ``qa_safeguarding_fails``: reviews that failed a safeguarding criterion and that no
  safeguarding lead has looked at yet (``POST /contacts/{id}/reviews/{review_id}/lead-review``
  takes one out); due by the end of the next working day after the review.

The view holds no moment of its own: which items are overdue is decided by the query, at the
moment asked about. For a past moment, ``replayed(as_of)`` gives these queues over the contact
view and the case list as Vigil knew them then (recorded basis, ``projections.replay``): the
same queries, on the views folded from the events recorded by that moment (so the first group
follows each case's risk as it was then). Items on a contact whose case is restricted are left
out for readers who may not see the case; a reader who may read only their own contacts sees
only their own items (``mine``: the contacts they handled, and for follow-ups those assigned to
them too). Items hold no personal data: ids, enums, staff usernames, times.
"""

# SQL here names only the contact view's and the case list's tables and columns (constants,
# quoted by the store); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import copy
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.case.vocabulary import CaseStatus, RiskLevel
from domain.contact.vocabulary import ContactOutcome, FeedbackStatus, FollowUpKind
from domain.service.commands import DEFAULT_SERVICE
from infrastructure.event_log import EventLog
from projections.case_folds import CaseFolds
from projections.case_summaries import CaseSummariesView
from projections.contact_list import visible_clause
from projections.contact_summaries import (
    FOLLOW_UPS_TABLE,
    REVIEWS_TABLE,
    SUMMARIES_TABLE,
    ContactSummariesView,
    default_calendars,
)
from projections.paging import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from projections.read_model import ReadModel
from projections.replay import ViewReplays
from projections.runner import DEFAULT_BATCH_SIZE, View
from projections.service_calendars import ServiceCalendars
from projections.store import Row, Tx, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector


class ContactQueue(StrEnum):
    CONTACTS_AWAITING_REVIEW = "contacts_awaiting_review"
    FOLLOW_UPS_DUE = "follow_ups_due"
    FEEDBACK_UNACKNOWLEDGED = "feedback_unacknowledged"
    FEEDBACK_DISPUTES = "feedback_disputes"
    QA_SAFEGUARDING_FAILS = "qa_safeguarding_fails"


CONTACT_QUEUE_DESCRIPTIONS: dict[ContactQueue, str] = {
    ContactQueue.CONTACTS_AWAITING_REVIEW: "Helpline contacts not yet quality-reviewed; due 5 "
    "working days after the contact (its service's calendar in force then). Safeguarding "
    "concerns, referrals and contacts on an open high- or critical-risk case come first.",
    ContactQueue.FOLLOW_UPS_DUE: "Follow-ups of contacts not yet completed (call-backs, "
    "letters, meetings, referrals, signposting), soonest due first.",
    ContactQueue.FEEDBACK_UNACKNOWLEDGED: "Reviews whose feedback the handler has neither "
    "acknowledged nor disputed. No due time.",
    ContactQueue.FEEDBACK_DISPUTES: "Disputed reviews awaiting a safeguarding lead's "
    "resolution. No due time.",
    ContactQueue.QA_SAFEGUARDING_FAILS: "Reviews that failed a safeguarding criterion, awaiting "
    "a safeguarding lead's look (POST /api/v1/contacts/{id}/reviews/{review_id}/lead-review); "
    "due by the end of the next working day after the review.",
}

# Who may work a queue from their own items alone: a handler's feedback, an assignee's
# follow-ups. The others are the reviewers' and the leads'.
OWN_ITEM_QUEUES = frozenset({ContactQueue.FOLLOW_UPS_DUE, ContactQueue.FEEDBACK_UNACKNOWLEDGED})

_RISKY = (RiskLevel.HIGH.value, RiskLevel.CRITICAL.value)
_DUE_QUEUES = frozenset(
    {
        ContactQueue.CONTACTS_AWAITING_REVIEW,
        ContactQueue.FOLLOW_UPS_DUE,
        ContactQueue.QA_SAFEGUARDING_FAILS,
    }
)


def parse_contact_queue(name: str) -> ContactQueue | None:
    try:
        return ContactQueue(name)
    except ValueError:
        return None


class ContactQueueCount(BaseModel):
    """A contact queue's size at the moment asked about."""

    model_config = ConfigDict(frozen=True)

    name: ContactQueue
    description: str
    total: int
    overdue: int | None = Field(description="Items past due (null: the queue has no due times).")


class ContactQueueItem(BaseModel):
    """One item of a contact queue: the contact, and the review or follow-up it is about."""

    model_config = ConfigDict(frozen=True)

    queue: ContactQueue
    item_id: UUID = Field(
        description="The contact id (awaiting review), the follow-up id, or the review id."
    )
    contact_id: UUID
    service: str
    handled_by: str
    case_id: UUID | None
    outcome: ContactOutcome | None = Field(
        default=None, description="The contact's outcome (contacts_awaiting_review)."
    )
    first: bool = Field(
        default=False,
        description="contacts_awaiting_review: listed first (a safeguarding concern or "
        "referral, a referral follow-up, or an open high- or critical-risk case).",
    )
    high_risk_case: bool = Field(
        default=False, description="The contact's case is open and assessed high or critical now."
    )
    review_id: UUID | None = None
    reviewer: str | None = None
    feedback_status: FeedbackStatus | None = None
    follow_up_id: UUID | None = None
    kind: FollowUpKind | None = Field(default=None, description="A follow-up's kind.")
    assignee: str | None = Field(default=None, description="A follow-up's assignee.")
    attempts: int | None = Field(default=None, description="A follow-up's attempts so far.")
    since: datetime = Field(
        description="The contact (awaiting review), the follow-up's scheduling, the review, or "
        "the dispute."
    )
    due_at: datetime | None
    overdue: bool


# Each queue's keyset: (tier,) the moment, then the id.
_ORDER_TYPES: dict[ContactQueue, tuple[type, ...]] = {
    ContactQueue.CONTACTS_AWAITING_REVIEW: (int, datetime, UUID),
    ContactQueue.FOLLOW_UPS_DUE: (datetime, UUID),
    ContactQueue.FEEDBACK_UNACKNOWLEDGED: (datetime, UUID),
    ContactQueue.FEEDBACK_DISPUTES: (datetime, UUID),
    ContactQueue.QA_SAFEGUARDING_FAILS: (datetime, UUID),
}


class ContactQueues(ReadModel[ContactSummariesView]):
    """The contact queues at a moment (now or later; a past one through ``replayed``).

    ``calendars``: the services' calendars the contact view is built with (the settings'
    default service's first version: ``ViewConfig.service_calendars``), for its replays."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        calendars: ServiceCalendars | None = None,
    ) -> None:
        shared = calendars if calendars is not None else default_calendars(event_log)
        super().__init__(
            event_log,
            ContactSummariesView,
            lambda: ContactSummariesView(event_log, calendars=shared),
            projector=projector,
            batch_size=batch_size,
        )

        def replayed_views() -> list[View]:
            # Every service event up to the head read at once (not a read per contact's
            # position): a history is still judged as the log held it at each position.
            shared.history(DEFAULT_SERVICE, int(event_log.recorder.max_notification_id() or 0))
            return [
                CaseSummariesView(event_log, folds=CaseFolds(event_log)),
                ContactSummariesView(event_log, calendars=shared),
            ]

        self._replays = ViewReplays(event_log, replayed_views)

    def replayed(self, as_of: datetime, *, wait_seconds: float) -> ContactQueues:
        """These queues as Vigil knew them at ``as_of`` (recorded basis): ``counts``/``items``
        of the answer read the contact view and the case list replayed to that moment
        (``projections.replay``: kept until the log grows, one replay at a time in this
        process, ``ReplayBusy`` after ``wait_seconds``). Check the query first (``check_query``):
        a refused query must not cost a replay."""
        replica = self._replays.replayed(as_of, wait_seconds=wait_seconds)
        past = copy.copy(self)
        past.store = replica.store
        return past

    @staticmethod
    def check_query(
        queue: ContactQueue, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> None:
        """Refuse a page's bad parameters (``InvalidQuery``) before anything is read."""
        check_limit(limit)
        if cursor is not None:
            decode_cursor(queue.value, cursor, _ORDER_TYPES[queue])

    def counts(
        self,
        *,
        as_of: datetime,
        visibility: Visibility | None = None,
        mine: str | None = None,
        queues: tuple[ContactQueue, ...] = tuple(ContactQueue),
    ) -> list[ContactQueueCount]:
        """Each queue's size and how much of it is overdue at ``as_of``."""
        store = self.store
        found: list[ContactQueueCount] = []
        with store.transaction(commit=False) as tx:
            for queue in queues:
                params: dict[str, Any] = {"at": store.encode_time(as_of)}
                table, where, due = self._where(queue, params, visibility, mine)
                overdue = (
                    f"COALESCE(SUM(CASE WHEN {due} < %(at)s THEN 1 ELSE 0 END), 0)"
                    if queue in _DUE_QUEUES
                    else "NULL"
                )
                row = tx.fetchone(
                    f"SELECT COUNT(*) AS total, {overdue} AS overdue FROM {table} "
                    f"WHERE {' AND '.join(where)}",
                    params,
                )
                total = int(row["total"]) if row is not None else 0
                late = None if row is None or row["overdue"] is None else int(row["overdue"])
                found.append(
                    ContactQueueCount(
                        name=queue,
                        description=CONTACT_QUEUE_DESCRIPTIONS[queue],
                        total=total,
                        overdue=late if queue in _DUE_QUEUES else None,
                    )
                )
        return found

    def items(
        self,
        queue: ContactQueue,
        *,
        as_of: datetime,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
        mine: str | None = None,
    ) -> tuple[list[ContactQueueItem], str | None]:
        """A page of one contact queue in its order (see the module's note), and the next
        page's cursor."""
        check_limit(limit)
        after = None if cursor is None else decode_cursor(queue.value, cursor, _ORDER_TYPES[queue])
        store = self.store
        with store.transaction(commit=False) as tx:
            if queue is ContactQueue.CONTACTS_AWAITING_REVIEW:
                rows = self._awaiting_review(tx, after, limit + 1, visibility, mine)
            else:
                rows = self._rows(tx, queue, after, limit + 1, visibility, mine)
        items = [_item(store, queue, row, as_of) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last, last_row = items[-1], rows[limit - 1]
            key: list[Any] = [last.since if last.due_at is None else last.due_at, last.item_id]
            if queue is ContactQueue.CONTACTS_AWAITING_REVIEW:
                key = [int(last_row["tier"]), *key]
            next_cursor = encode_cursor(queue.value, key)
        return items, next_cursor

    # --- SQL -------------------------------------------------------------------------------

    def _risky_cases(self, tx: Tx) -> list[Any]:
        """The open cases assessed high or critical now (as stored: the queue's first group
        follows the case's risk as it changes). Few: a lead's ``high_risk_open`` queue."""
        rows = tx.fetchall(
            f"SELECT case_id FROM {self.store.table('case_summaries')} "
            "WHERE risk_level IN (%(risky0)s, %(risky1)s) AND status <> %(closed)s",
            {"risky0": _RISKY[0], "risky1": _RISKY[1], "closed": CaseStatus.CLOSED.value},
        )
        return [row["case_id"] for row in rows]

    @staticmethod
    def _in(column: str, values: list[Any], params: dict[str, Any]) -> str:
        names = []
        for n, value in enumerate(values):
            params[f"case{n}"] = value
            names.append(f"%(case{n})s")
        return f"{column} IN ({', '.join(names)})"

    def _where(
        self,
        queue: ContactQueue,
        params: dict[str, Any],
        visibility: Visibility | None,
        mine: str | None,
    ) -> tuple[str, list[str], str]:
        """The queue's table, its conditions, and its due column."""
        store = self.store
        where: list[str]
        if queue is ContactQueue.CONTACTS_AWAITING_REVIEW:
            table, where, due = store.table(SUMMARIES_TABLE), ["reviewed = 0"], "review_due"
        elif queue is ContactQueue.FOLLOW_UPS_DUE:
            table, where, due = store.table(FOLLOW_UPS_TABLE), ["open = 1"], "due_at"
        elif queue is ContactQueue.QA_SAFEGUARDING_FAILS:
            table, due = store.table(REVIEWS_TABLE), "lead_review_due"
            where = ["safeguarding_fail = 1", "lead_reviewed_at IS NULL"]
        else:
            table, due = store.table(REVIEWS_TABLE), "reviewed_at"
            status = (
                FeedbackStatus.AWAITING
                if queue is ContactQueue.FEEDBACK_UNACKNOWLEDGED
                else FeedbackStatus.DISPUTED
            )
            params["status"] = status.value
            where = ["feedback_status = %(status)s"]
        if mine is not None:
            params["mine"] = mine
            if queue is ContactQueue.FOLLOW_UPS_DUE:
                where.append("(assignee = %(mine)s OR handled_by = %(mine)s)")
            else:
                where.append("handled_by = %(mine)s")
        hidden = visible_clause(store, visibility, params)
        if hidden is not None:
            where.append(hidden)
        return table, where, due

    def _awaiting_review(
        self,
        tx: Tx,
        after: list[Any] | None,
        limit: int,
        visibility: Visibility | None,
        mine: str | None,
    ) -> list[Row]:
        """First group (``first``): priority contacts, and those on an open case assessed high
        or critical; then the rest; each soonest due first. The risky cases are read first and
        named, so every read here is driven by an index whatever the planner knows of the
        tables: the priority contacts by due time, those on a risky case by their case."""
        store = self.store
        columns = (
            "contact_id AS item_id, contact_id, service, handled_by, case_id, outcome, "
            "priority, occurred_at AS since, review_due AS due_at"
        )
        risky = self._risky_cases(tx)
        risky_ids = {store.decode_uuid(case_id) for case_id in risky}
        rows: list[Row] = []
        group_after = -1 if after is None else int(after[0])
        if group_after <= 0:
            key = after[1:] if after is not None and group_after == 0 else None
            params: dict[str, Any] = {"limit": limit}
            table, where, _ = self._where(
                ContactQueue.CONTACTS_AWAITING_REVIEW, params, visibility, mine
            )
            where += ["priority = 1", *self._after("review_due", "contact_id", key, params)]
            first = tx.fetchall(
                f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
                "ORDER BY review_due, contact_id LIMIT %(limit)s",
                params,
            )
            if risky:
                # Few (the unreviewed contacts of the open risky cases): all of them, sorted here.
                params = {}
                table, where, _ = self._where(
                    ContactQueue.CONTACTS_AWAITING_REVIEW, params, visibility, mine
                )
                where += ["priority = 0", self._in("case_id", risky, params)]
                where += self._after("review_due", "contact_id", key, params)
                first += tx.fetchall(
                    f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)}", params
                )
            first.sort(key=lambda r: (_sort_time(store, r["due_at"]), str(r["item_id"])))
            rows += [{**row, "tier": 0} for row in first[:limit]]
        if len(rows) < limit:
            key = after[1:] if after is not None and group_after == 1 else None
            params = {"limit": limit - len(rows)}
            table, where, _ = self._where(
                ContactQueue.CONTACTS_AWAITING_REVIEW, params, visibility, mine
            )
            where.append("priority = 0")
            if risky:
                where.append(f"(case_id IS NULL OR NOT {self._in('case_id', risky, params)})")
            where += self._after("review_due", "contact_id", key, params)
            rest = tx.fetchall(
                f"SELECT {columns} FROM {table} "
                f"WHERE {' AND '.join(where)} ORDER BY review_due, contact_id LIMIT %(limit)s",
                params,
            )
            rows += [{**row, "tier": 1} for row in rest]
        return [
            {
                **row,
                "risky": row["case_id"] is not None
                and store.decode_uuid(row["case_id"]) in risky_ids,
            }
            for row in rows
        ]

    def _after(
        self, moment: str, id_column: str, key: list[Any] | None, params: dict[str, Any]
    ) -> list[str]:
        if key is None:
            return []
        params["k0"] = self.store.encode_time(key[0])
        params["k1"] = self.store.encode_uuid(key[1])
        return [f"({moment}, {id_column}) > (%(k0)s, %(k1)s)"]

    def _rows(
        self,
        tx: Tx,
        queue: ContactQueue,
        after: list[Any] | None,
        limit: int,
        visibility: Visibility | None,
        mine: str | None,
    ) -> list[Row]:
        params: dict[str, Any] = {"limit": limit}
        table, where, _ = self._where(queue, params, visibility, mine)
        if queue is ContactQueue.FOLLOW_UPS_DUE:
            columns = (
                "follow_up_id AS item_id, contact_id, service, handled_by, case_id, "
                "follow_up_id, kind, assignee, attempts, scheduled_at AS since, due_at"
            )
            moment, id_column = "due_at", "follow_up_id"
        else:
            review = (
                "review_id AS item_id, contact_id, service, handled_by, case_id, review_id, "
                "reviewer, feedback_status"
            )
            if queue is ContactQueue.QA_SAFEGUARDING_FAILS:
                columns = f"{review}, reviewed_at AS since, lead_review_due AS due_at"
                moment = "lead_review_due"
            elif queue is ContactQueue.FEEDBACK_DISPUTES:
                columns = f"{review}, answered_at AS since, NULL AS due_at"
                moment = "answered_at"
            else:
                columns = f"{review}, reviewed_at AS since, NULL AS due_at"
                moment = "reviewed_at"
            id_column = "review_id"
        where += self._after(moment, id_column, after, params)
        return tx.fetchall(
            f"SELECT {columns} FROM {table} WHERE {' AND '.join(where)} "
            f"ORDER BY {moment}, {id_column} LIMIT %(limit)s",
            params,
        )


def _sort_time(store: ViewStore, value: Any) -> datetime:
    moment = store.decode_time(value)
    assert moment is not None
    return moment


def _item(store: ViewStore, queue: ContactQueue, row: Row, at: datetime) -> ContactQueueItem:
    since = store.decode_time(row["since"])
    assert since is not None
    due = store.decode_time(row["due_at"])
    case_id = row.get("case_id")
    values: dict[str, Any] = {
        "queue": queue,
        "item_id": store.decode_uuid(row["item_id"]),
        "contact_id": store.decode_uuid(row["contact_id"]),
        "service": row["service"],
        "handled_by": row["handled_by"],
        "case_id": None if case_id is None else store.decode_uuid(case_id),
        "since": since,
        "due_at": due,
        "overdue": due is not None and due < at,
    }
    if queue is ContactQueue.CONTACTS_AWAITING_REVIEW:
        values |= {
            "outcome": ContactOutcome(row["outcome"]),
            "first": int(row["tier"]) == 0,
            "high_risk_case": bool(row["risky"]),
        }
    elif queue is ContactQueue.FOLLOW_UPS_DUE:
        values |= {
            "follow_up_id": store.decode_uuid(row["follow_up_id"]),
            "kind": FollowUpKind(row["kind"]),
            "assignee": row["assignee"],
            "attempts": int(row["attempts"]),
        }
    else:
        values |= {
            "review_id": store.decode_uuid(row["review_id"]),
            "reviewer": row["reviewer"],
            "feedback_status": FeedbackStatus(row["feedback_status"]),
        }
    return ContactQueueItem(**values)
