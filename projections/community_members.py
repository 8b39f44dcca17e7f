"""``community_members``: the forum members who joined through community intake (issue 16), and
when each was due their welcome and was welcomed, for ``GET /members`` and the
``members_awaiting_welcome`` queue.

One row per member stream that holds a ``ForumMemberJoined`` (a member known only from a flag,
who never joined through intake, has none): the service, the member's ref (pseudonymous: the
forum's user id, never their username), when they joined (``joined_at``: the account's creation
on the forum) and when Vigil recorded it, when their welcome is due, and when, how and by whom
they were welcomed. No personal data: the username and a recorded welcome's note are sealed in
the log and never read here (views decode events without keys).

``welcome_due`` is judged once, when the joining is folded: the SLA policy's
``new_member_welcomed`` target (by default 24 hours, DOMAIN.md's SLA table) in force at
``joined_at``, as the log held the policy's versions at the joining event
(``projections.sla_policies``), on the member's service's calendar in force then as the log held
it there (``projections.service_calendars``; a working-days target counts that calendar's working
days, as every other due time does). The version judged by is kept (``policy_version``); a later
version never moves it. The view holds no moment of its own: whether a member is overdue is the
query's, at the moment asked about; a past moment is answered by ``replayed`` (the events
recorded by then folded into a store in memory, ``projections.replay``).
"""

# SQL here names only this module's own table and columns (constants, quoted by the store); every
# value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import copy
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.calendar import CalendarHistory
from domain.community.events import ForumMemberJoined, ForumMemberWelcomed, WelcomeWay
from domain.community.ids import member_stream_id
from domain.policy.sla import SlaPolicyHistory
from domain.service.commands import DEFAULT_SERVICE
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_insert
from projections.paging import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from projections.read_model import ReadModel
from projections.replay import ViewReplays
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.service_calendars import ServiceCalendars
from projections.sla import due
from projections.sla_policies import SlaPolicies
from projections.store import Row, ViewStore

if TYPE_CHECKING:
    from projections.projector import Projector

TABLE = "community_members"
CURSOR_TAG = "members"

COLUMNS = (
    "member_id",
    "service",
    "member_ref",
    "joined_at",
    "recorded_at",
    "welcome_due",
    "policy_version",
    "welcomed_at",
    "welcomed_how",
    "welcomed_by",
    "position",
)
_READ_COLUMNS = ", ".join(c for c in COLUMNS if c != "position")


class MemberQueue(StrEnum):
    MEMBERS_AWAITING_WELCOME = "members_awaiting_welcome"


MEMBER_QUEUE_DESCRIPTIONS: dict[MemberQueue, str] = {
    MemberQueue.MEMBERS_AWAITING_WELCOME: "Forum members who joined through community intake "
    "and are not yet welcomed (a reply in their first topic or a message by a mapped account, "
    "or a welcome recorded with POST /api/v1/members/{ref}/welcome); due the SLA policy's "
    "new_member_welcomed target in force when they joined (by default 24 h) after joining. "
    "Overdue first, then soonest due.",
}


def parse_member_queue(name: str) -> MemberQueue | None:
    try:
        return MemberQueue(name)
    except ValueError:
        return None


class Member(BaseModel):
    """A forum member who joined through intake: when, when their welcome is due, and how it
    came (never their username: ``ref`` names them)."""

    model_config = ConfigDict(frozen=True)

    ref: str = Field(description="The member's ref, e.g. forum:user-42 (the service's forum id).")
    service: str
    joined_at: datetime = Field(description="When the account was created on the forum.")
    recorded_at: datetime = Field(description="When Vigil recorded the joining.")
    welcome_due: datetime = Field(
        description="joined_at plus the SLA policy's new_member_welcomed target in force then."
    )
    policy_version: int = Field(description="The SLA policy version welcome_due is judged by.")
    welcomed: bool
    welcomed_at: datetime | None = Field(description="When they were welcomed (occurred).")
    welcomed_how: WelcomeWay | None = Field(description="reply, message or recorded.")
    welcomed_by: str | None = Field(description="The Vigil user who welcomed them.")
    overdue: bool = Field(
        description="Not welcomed and welcome_due before the moment asked about (now), or "
        "welcomed after welcome_due."
    )


class MemberQueueCount(BaseModel):
    """A community queue's size at the moment asked about."""

    model_config = ConfigDict(frozen=True)

    name: MemberQueue
    description: str
    total: int
    overdue: int


class MemberQueueItem(BaseModel):
    """A member awaiting their welcome."""

    model_config = ConfigDict(frozen=True)

    queue: MemberQueue
    ref: str = Field(description="The member's ref.")
    service: str
    since: datetime = Field(description="When they joined (the welcome clock's start).")
    due_at: datetime
    overdue: bool = Field(description="due_at is before the moment asked about (now or as_of).")


# --- the view ----------------------------------------------------------------------------------


def welcome_due(
    policy: SlaPolicyHistory, calendar: CalendarHistory, joined_at: datetime
) -> tuple[datetime, int]:
    """When a member who joined at ``joined_at`` is due their welcome, and the policy version
    that says so: its ``new_member_welcomed`` target in force then, on the calendar in force
    then."""
    version = policy.in_force(joined_at)
    return due(version.targets.new_member_welcomed, calendar.in_force(joined_at), joined_at), (
        version.version
    )


def default_calendars(event_log: EventLog) -> ServiceCalendars:
    """Services' calendars for a view built alone (a test, a tool): the work queues' own."""
    from projections.work_queues import default_calendars as work_queue_calendars

    return work_queue_calendars(event_log)


def default_policies(event_log: EventLog) -> SlaPolicies:
    """The SLA policy for a view built alone (a test, a tool): the work queues' own."""
    from projections.work_queues import default_policies as work_queue_policies

    return work_queue_policies(event_log)


class CommunityMembersView(View):
    name = TABLE
    version = 1

    def __init__(
        self,
        event_log: EventLog,
        *,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
        fingerprint: str = "",
    ) -> None:
        # Due times depend on the settings' calendar and policy (until they are recorded): a
        # view built under other settings is rebuilt (``stored_version``).
        self._calendars = calendars if calendars is not None else default_calendars(event_log)
        self._policies = policies if policies is not None else default_policies(event_log)
        self.feeds = (self._calendars, self._policies)
        self._fingerprint = fingerprint

    def stored_version(self) -> int:
        if not self._fingerprint:
            return self.version
        # Fits PostgreSQL's INTEGER: the schema version, then 6 digits of the fingerprint.
        return self.version * 1_000_000 + zlib.crc32(self._fingerprint.encode()) % 1_000_000

    def create_statements(self, store: ViewStore) -> list[str]:
        ts, uid = store.time_type, store.uuid_type
        table = store.table(TABLE)

        def ix(suffix: str) -> str:
            return store.index(f"{TABLE}_{suffix}")

        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f"member_id {uid} PRIMARY KEY, service TEXT NOT NULL, member_ref TEXT NOT NULL, "
            f"joined_at {ts} NOT NULL, recorded_at {ts} NOT NULL, welcome_due {ts} NOT NULL, "
            f"policy_version INTEGER NOT NULL, welcomed_at {ts}, welcomed_how TEXT, "
            "welcomed_by TEXT, position BIGINT NOT NULL)",
            # The list (latest joined first), by service, and the queue (soonest due first).
            f"CREATE INDEX IF NOT EXISTS {ix('by_joined')} "
            f"ON {table} (joined_at DESC, member_id DESC)",
            f"CREATE INDEX IF NOT EXISTS {ix('by_service')} "
            f"ON {table} (service, joined_at DESC, member_id DESC)",
            f"CREATE INDEX IF NOT EXISTS {ix('by_due')} ON {table} (welcomed_at, welcome_due)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(TABLE)}"]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        joined: list[dict[str, Any]] = []
        welcomed: list[Statement] = []
        for item in batch:
            event = item.event
            if isinstance(event, ForumMemberJoined):
                # Judged here, at the joining's position: the policy and calendar versions the
                # log held then (a later version never moves it).
                due_at, version = welcome_due(
                    self._policies.history(item.position),
                    self._calendars.history(event.service, item.position),
                    event.occurred_at,
                )
                joined.append(
                    {
                        "member_id": store.encode_uuid(event.originator_id),
                        "service": event.service,
                        "member_ref": event.member_ref,
                        "joined_at": store.encode_time(event.occurred_at),
                        "recorded_at": store.encode_time(event.recorded_at),
                        "welcome_due": store.encode_time(due_at),
                        "policy_version": version,
                        "welcomed_at": None,
                        "welcomed_how": None,
                        "welcomed_by": None,
                        "position": item.position,
                    }
                )
            elif isinstance(event, ForumMemberWelcomed):
                welcomed.append(
                    (
                        f"UPDATE {store.table(TABLE)} SET welcomed_at = %(at)s, "
                        "welcomed_how = %(how)s, welcomed_by = %(by)s "
                        "WHERE member_id = %(id)s AND welcomed_at IS NULL",
                        {
                            "at": store.encode_time(event.occurred_at),
                            "how": event.how.value,
                            "by": event.welcomed_by,
                            "id": store.encode_uuid(event.originator_id),
                        },
                    )
                )
        # Joinings first: a welcome in the same batch finds its row.
        statements = bulk_insert(
            store, store.table(TABLE), COLUMNS, joined, upsert_key=("member_id",)
        )
        return [*statements, *welcomed]


# --- reading -----------------------------------------------------------------------------------


def _time(store: ViewStore, value: Any) -> datetime:
    moment = store.decode_time(value)
    assert moment is not None
    return moment.astimezone(UTC)


class CommunityMembers(ReadModel[CommunityMembersView]):
    """The members list and the ``members_awaiting_welcome`` queue, read from the
    ``community_members`` view (caught up by the projector, never by a route); a past moment's
    queue through ``replayed``.

    ``calendars``/``policies``: those the view is built with (the settings':
    ``ViewConfig``), for its replays."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
    ) -> None:
        shared_calendars = calendars if calendars is not None else default_calendars(event_log)
        shared_policies = policies if policies is not None else default_policies(event_log)
        super().__init__(
            event_log,
            CommunityMembersView,
            lambda: CommunityMembersView(
                event_log, calendars=shared_calendars, policies=shared_policies
            ),
            projector=projector,
            batch_size=batch_size,
        )

        def replayed_views() -> list[View]:
            # Every service event up to the head read at once: a history is still judged as
            # the log held it at each position.
            head = int(event_log.recorder.max_notification_id() or 0)
            shared_calendars.history(DEFAULT_SERVICE, head)
            return [
                CommunityMembersView(
                    event_log, calendars=shared_calendars, policies=shared_policies
                )
            ]

        self._replays = ViewReplays(event_log, replayed_views)

    # --- the list ---------------------------------------------------------------------------

    def query(
        self,
        *,
        as_of: datetime,
        service: str | None = None,
        welcomed: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[Member], str | None]:
        """A page of members, latest joined first, and the next page's cursor (None on the
        last page); ``overdue`` judged at ``as_of``. Raises ``InvalidQuery`` for a bad limit or
        cursor."""
        check_limit(limit)
        store = self.store
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if service is not None:
            where.append("service = %(service)s")
            params["service"] = service
        if welcomed is not None:
            where.append("welcomed_at IS NOT NULL" if welcomed else "welcomed_at IS NULL")
        if cursor is not None:
            after_at, after_id = decode_cursor(CURSOR_TAG, cursor, (datetime, UUID))
            where.append("(joined_at, member_id) < (%(after_at)s, %(after_id)s)")
            params["after_at"] = store.encode_time(after_at)
            params["after_id"] = store.encode_uuid(after_id)
        statement = (
            f"SELECT member_id, {_READ_COLUMNS} FROM {store.table(TABLE)} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY joined_at DESC, member_id DESC LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        members = [self._member(row, as_of) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(
                CURSOR_TAG,
                (_time(store, last["joined_at"]), store.decode_uuid(last["member_id"])),
            )
        return members, next_cursor

    def get(self, ref: str, *, as_of: datetime) -> Member | None:
        """One member by ref, or None if the view has no such member (yet)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT member_id, {_READ_COLUMNS} FROM {store.table(TABLE)} "
                "WHERE member_id = %(id)s",
                {"id": store.encode_uuid(member_stream_id(ref))},
            )
        return None if row is None else self._member(row, as_of)

    def _member(self, row: Row, as_of: datetime) -> Member:
        store = self.store
        due_at = _time(store, row["welcome_due"])
        welcomed_at = store.decode_time(row["welcomed_at"])
        how = row["welcomed_how"]
        return Member(
            ref=row["member_ref"],
            service=row["service"],
            joined_at=_time(store, row["joined_at"]),
            recorded_at=_time(store, row["recorded_at"]),
            welcome_due=due_at,
            policy_version=int(row["policy_version"]),
            welcomed=welcomed_at is not None,
            welcomed_at=None if welcomed_at is None else welcomed_at.astimezone(UTC),
            welcomed_how=None if how is None else WelcomeWay(how),
            welcomed_by=row["welcomed_by"],
            overdue=(due_at < as_of) if welcomed_at is None else welcomed_at > due_at,
        )

    # --- the queue --------------------------------------------------------------------------

    def replayed(self, as_of: datetime, *, wait_seconds: float) -> CommunityMembers:
        """The queue as Vigil knew it at ``as_of`` (recorded basis): ``counts``/``items`` of the
        answer read the view replayed to that moment (``projections.replay``: kept until the
        log grows, one replay at a time in this process, ``ReplayBusy`` after
        ``wait_seconds``). Check the query first (``check_query``): a refused query must not
        cost a replay."""
        replica = self._replays.replayed(as_of, wait_seconds=wait_seconds)
        past = copy.copy(self)
        past.store = replica.store
        return past

    @staticmethod
    def check_query(
        queue: MemberQueue, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> None:
        """Refuse a page's bad parameters (``InvalidQuery``) before anything is read."""
        check_limit(limit)
        if cursor is not None:
            decode_cursor(queue.value, cursor, (datetime, UUID))

    def counts(self, *, as_of: datetime) -> list[MemberQueueCount]:
        """Each community queue's size and how much of it is overdue at ``as_of``."""
        store = self.store
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                "SELECT COUNT(*) AS total, "
                "COALESCE(SUM(CASE WHEN welcome_due < %(at)s THEN 1 ELSE 0 END), 0) AS overdue "
                f"FROM {store.table(TABLE)} WHERE welcomed_at IS NULL",
                {"at": store.encode_time(as_of)},
            )
        queue = MemberQueue.MEMBERS_AWAITING_WELCOME
        return [
            MemberQueueCount(
                name=queue,
                description=MEMBER_QUEUE_DESCRIPTIONS[queue],
                total=0 if row is None else int(row["total"]),
                overdue=0 if row is None else int(row["overdue"]),
            )
        ]

    def items(
        self,
        queue: MemberQueue,
        *,
        as_of: datetime,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[MemberQueueItem], str | None]:
        """A page of the queue, soonest due first (so the overdue lead), and the next page's
        cursor."""
        check_limit(limit)
        store = self.store
        params: dict[str, Any] = {"limit": limit + 1}
        where = ["welcomed_at IS NULL"]
        if cursor is not None:
            after_due, after_id = decode_cursor(queue.value, cursor, (datetime, UUID))
            where.append("(welcome_due, member_id) > (%(after_due)s, %(after_id)s)")
            params["after_due"] = store.encode_time(after_due)
            params["after_id"] = store.encode_uuid(after_id)
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT member_id, member_ref, service, joined_at, welcome_due "
                f"FROM {store.table(TABLE)} WHERE {' AND '.join(where)} "
                "ORDER BY welcome_due, member_id LIMIT %(limit)s",
                params,
            )
        items = []
        for row in rows[:limit]:
            due_at = _time(store, row["welcome_due"])
            items.append(
                MemberQueueItem(
                    queue=queue,
                    ref=row["member_ref"],
                    service=row["service"],
                    since=_time(store, row["joined_at"]),
                    due_at=due_at,
                    overdue=due_at < as_of,
                )
            )
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(
                queue.value,
                (_time(store, last["welcome_due"]), store.decode_uuid(last["member_id"])),
            )
        return items, next_cursor
