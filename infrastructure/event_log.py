"""The event log: one eventsourcing application, one recorder, one log for every aggregate.

Every context's aggregates (cases, users, subjects, access records...) live in the same log so
that the views and the hash ledger (``projections.notary``) see a single commit order. The
environment comes from settings only (never from ``os.environ``). Only ``notification_id_of``
knows which store is behind it: it asks the events table for a log position, which
eventsourcing does not offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import EventStore
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import Environment, EnvType
from psycopg import sql

from infrastructure.availability import check_idle_connections
from infrastructure.persistence import PydanticMapper, view_decoder
from infrastructure.snapshots import SnapshotStore


class EventLog(Application[UUID]):
    name = "vigil"  # PostgreSQL tables: vigil_events, vigil_snapshots
    env: ClassVar[dict[str, str]] = {"IS_SNAPSHOTTING_ENABLED": "y"}

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        _env = dict(type(self).env)
        if env is not None:
            _env.update(env)
        return Environment(name, _env)

    def __init__(self, env: EnvType | None = None) -> None:
        super().__init__(env=env)
        # PostgreSQL: no ping per checkout (``POSTGRES_PRE_PING`` is off); the pool checks the
        # connection it hands out by whether the server has closed it.
        check_idle_connections(getattr(self.recorder, "datastore", None))

    def construct_snapshot_store(self) -> EventStore[UUID]:
        """Snapshots written with a MAC and the hash of the events they fold, and loaded only
        when the MAC verifies: a snapshot inserted behind Vigil's back is ignored."""
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return SnapshotStore(self.mapper, recorder, events=self.recorder)

    def notification_id_of(self, aggregate_id: UUID, version: int) -> int | None:
        """The log position (notification id) of one stored event, or None if there is none."""
        recorder: Any = self.recorder
        if isinstance(recorder, PostgresApplicationRecorder):
            statement = sql.SQL(
                "SELECT notification_id FROM {}.{} "
                "WHERE originator_id = %s AND originator_version = %s"
            ).format(
                sql.Identifier(recorder.datastore.schema),
                sql.Identifier(recorder.events_table_name),
            )
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, (aggregate_id, version))
                row = cursor.fetchone()
            return None if row is None else int(row["notification_id"])
        if isinstance(recorder, SQLiteApplicationRecorder):
            # The SQLite recorder stores ids as hex and numbers the log by rowid.
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(
                    f"SELECT rowid FROM {recorder.events_table_name} "  # noqa: S608 - a constant
                    "WHERE originator_id = ? AND originator_version = ?",
                    (aggregate_id.hex, version),
                )
                found = cursor.fetchone()
            return None if found is None else int(found[0])
        raise TypeError(f"no log positions on {type(recorder).__name__}")

    def originators_of(self, event_class: type[Any], *, page: int = 1000) -> Iterator[UUID]:
        """The ids of the aggregates with an event of ``event_class`` in the log, in log order
        (e.g. every service ever registered), read a page of notifications at a time."""
        topic = f"{event_class.__module__}:{event_class.__qualname__}"
        start: int | None = None
        while True:
            found = self.recorder.select_notifications(
                start, page, topics=[topic], inclusive_of_start=start is None
            )
            for notification in found:
                originator = notification.originator_id
                yield originator if isinstance(originator, UUID) else UUID(str(originator))
            if len(found) < page:
                return
            start = found[-1].id

    def events_of(
        self, aggregate_id: UUID, *, gt: int | None = None, lte: int | None = None
    ) -> Iterable[Any]:
        return self.events.get(aggregate_id, gt=gt, lte=lte)

    def clocks_of(
        self, aggregate_id: UUID, *, gt: int | None = None, lte: int | None = None
    ) -> list[tuple[int, datetime, datetime]]:
        """The version, ``recorded_at`` and ``occurred_at`` of each of an aggregate's events in
        (gt, lte], in order, read without decoding them (nothing unsealed: for an as-of read's
        search of the versions it needs, never for showing them)."""
        mapper = self.mapper
        stored = self.recorder.select_events(aggregate_id, gt=gt, lte=lte)
        found: list[tuple[int, datetime, datetime]] = []
        for event in stored:
            try:
                if not isinstance(mapper, PydanticMapper):
                    raise ValueError("no JSON to read the times from")
                recorded_at, occurred_at = mapper.clocks_of(event)
            except (KeyError, ValueError, TypeError):
                decoded = view_decoder(self)(event)  # decoded as the views read it
                recorded_at, occurred_at = decoded.recorded_at, decoded.occurred_at
            found.append((event.originator_version, recorded_at, occurred_at))
        return found
