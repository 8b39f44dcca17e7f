"""What the compliance reports read from ``report_facts``: rows recorded by ``as_of``, in a period.

Every query here takes a ``Scope`` (a period of local dates, a service or all, and ``as_of``)
and returns plain rows, in a fixed order, that the report builders (``application.reports``)
count. Nothing recorded after ``as_of`` is read, whatever the view holds now: a fact by its own
``recorded_at``, a clock's stop by the stop's. So the same scope reads the same rows whenever it
is asked, whatever was recorded since, and a rebuild (which writes the same rows) changes
nothing.
"""

# SQL here names only the report facts' own tables and columns (constants, quoted by the store)
# and the actor activity's; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from infrastructure.event_log import EventLog
from projections.actor_activity import TABLE as ACTIVITY_TABLE
from projections.read_model import ReadModel
from projections.report_facts import (
    CLOCKS_TABLE,
    FACTS,
    FACTS_TABLE,
    STOPS_TABLE,
    ReportFactsView,
)
from projections.runner import DEFAULT_BATCH_SIZE
from projections.service_calendars import ServiceCalendars
from projections.sla_policies import SlaPolicies
from projections.store import ViewStore

if TYPE_CHECKING:
    from projections.projector import Projector


@dataclass(frozen=True)
class Scope:
    """A report's scope: local dates ``start``..``end`` (both included), one service or all
    (None), and what was recorded by ``as_of``."""

    start: date
    end: date
    service: str | None
    as_of: datetime


Row = dict[str, Any]


class ReportFacts(ReadModel[ReportFactsView]):
    """The report facts, kept up to date with ``catch_up()``, read by scope."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        calendars: ServiceCalendars | None = None,
        policies: SlaPolicies | None = None,
        fingerprint: str = "",
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            ReportFactsView,
            lambda: _standalone(event_log, calendars, policies, fingerprint),
            projector=projector,
            batch_size=batch_size,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _params(self, scope: Scope) -> dict[str, Any]:
        return {
            "start": scope.start.isoformat(),
            "end": scope.end.isoformat(),
            "service": scope.service,
            "as_of": self.store.encode_time(scope.as_of),
        }

    @staticmethod
    def _in_scope(alias: str, scope: Scope) -> str:
        where = (
            f"{alias}.local_date >= %(start)s AND {alias}.local_date <= %(end)s "
            f"AND {alias}.recorded_at <= %(as_of)s"
        )
        if scope.service is not None:
            where += f" AND {alias}.service = %(service)s"
        return where

    def _fetch(self, statement: str, params: dict[str, Any]) -> list[Row]:
        store = self.store
        with store.transaction(commit=False) as tx:
            if store.dialect == "postgresql":
                # A report's queries are estimated costly (a subquery per clock) but run in
                # well under a second: compiling them (JIT) took longer than running them.
                tx.execute("SET LOCAL jit = off")
            rows = tx.fetchall(statement, params)
        return [_decoded(store, row) for row in rows]

    # --- facts -----------------------------------------------------------------------------

    def facts(self, scope: Scope, fact: str) -> list[Row]:
        """The rows of one dated fact in scope, named by ``FACTS`` (``category``, ``action``...),
        in log order."""
        table = self.store.table(FACTS_TABLE)
        names = _named(fact)
        statement = (
            f"SELECT f.position, f.service, f.subject_id, f.item_id, f.occurred_at, "
            f"f.recorded_at, f.local_date, f.local_hour, f.weekday, f.calendar_version, {names} "
            f"FROM {table} f WHERE f.fact = %(fact)s AND {self._in_scope('f', scope)} "
            "ORDER BY f.position, f.seq"
        )
        return self._fetch(statement, {**self._params(scope), "fact": fact})

    def activity_counts(self, scope: Scope) -> list[Row]:
        """Forum topics and posts in scope, counted by the database per service, local date,
        calendar version, kind and category (``n``), each group with the log position of its
        latest row (``position``), in that order."""
        table = self.store.table(FACTS_TABLE)
        statement = (
            "SELECT f.service, f.local_date, f.calendar_version, f.d1 AS kind, "
            "f.d2 AS category_id, f.d3 AS category, COUNT(*) AS n, MAX(f.position) AS position "
            f"FROM {table} f WHERE f.fact = 'forum_activity' AND {self._in_scope('f', scope)} "
            "GROUP BY f.service, f.local_date, f.calendar_version, f.d1, f.d2, f.d3 "
            "ORDER BY MAX(f.position)"
        )
        return self._fetch(statement, self._params(scope))

    def first_activity_days(self, scope: Scope) -> dict[str, str]:
        """Per service (the scope's, or every one), the local date of its first forum topic or
        post recorded by ``as_of``, whenever it was: where engagement history begins."""
        table = self.store.table(FACTS_TABLE)
        where = "f.fact = 'forum_activity' AND f.recorded_at <= %(as_of)s"
        if scope.service is not None:
            where += " AND f.service = %(service)s"
        statement = (
            f"SELECT f.service, MIN(f.local_date) AS first_day FROM {table} f "
            f"WHERE {where} GROUP BY f.service"
        )
        return {
            str(r["service"]): str(r["first_day"])
            for r in self._fetch(statement, self._params(scope))
        }

    def case_openings(self, scope: Scope) -> list[Row]:
        """Cases opened in scope, each with its risk as known at ``as_of`` (the latest assessment
        recorded by then, else the risk it was opened with, else ``unassessed``)."""
        table = self.store.table(FACTS_TABLE)
        statement = (
            f"SELECT f.position, f.service, f.subject_id, f.occurred_at, f.local_date, "
            f"f.local_hour, f.weekday, f.calendar_version, {_named('case_opened')}, "
            f"COALESCE((SELECT r.d1 FROM {table} r WHERE r.subject_id = f.subject_id "
            "AND r.fact = 'risk_assessed' AND r.recorded_at <= %(as_of)s "
            "ORDER BY r.position DESC, r.seq DESC LIMIT 1), f.d4, 'unassessed') AS risk_now "
            f"FROM {table} f WHERE f.fact = 'case_opened' AND {self._in_scope('f', scope)} "
            "ORDER BY f.position"
        )
        return self._fetch(statement, self._params(scope))

    def parts(self, scope: Scope, fact: str, parent: str) -> list[Row]:
        """The rows of an undated fact about a contact or shift (``contact_review``,
        ``checked_in``...) recorded by ``as_of``, whose ``parent`` fact (``contact``,
        ``shift_planned``) is in scope, with the parent's service and local date."""
        table = self.store.table(FACTS_TABLE)
        statement = (
            f"SELECT f.position, p.service, f.subject_id, f.item_id, f.occurred_at, "
            f"f.recorded_at, p.local_date, {_named(fact)} "
            f"FROM {table} f JOIN {table} p ON p.subject_id = f.subject_id "
            f"AND p.fact = %(parent)s AND {self._in_scope('p', scope)} "
            "WHERE f.fact = %(fact)s AND f.recorded_at <= %(as_of)s ORDER BY f.position, f.seq"
        )
        return self._fetch(statement, {**self._params(scope), "fact": fact, "parent": parent})

    def recorded(self, as_of: datetime, fact: str) -> list[Row]:
        """Every row of an undated fact recorded by ``as_of`` (breach explanations, sign-offs),
        in log order."""
        table = self.store.table(FACTS_TABLE)
        statement = (
            f"SELECT f.position, f.service, f.subject_id, f.item_id, f.occurred_at, "
            f"f.recorded_at, f.local_date, {_named(fact)} FROM {table} f "
            "WHERE f.fact = %(fact)s AND f.recorded_at <= %(as_of)s ORDER BY f.position, f.seq"
        )
        return self._fetch(statement, {"fact": fact, "as_of": self.store.encode_time(as_of)})

    # --- clocks ----------------------------------------------------------------------------

    def clocks(self, scope: Scope, clocks: tuple[str, ...] | None = None) -> list[Row]:
        """Every SLA clock that started in scope, with its stop as known at ``as_of``: the
        earliest stop recorded by then (for the first action on a flag, the earliest action on
        its case that occurred at or after the flag), or null while it runs."""
        store = self.store
        clocks_table, stops = store.table(CLOCKS_TABLE), store.table(STOPS_TABLE)
        params = self._params(scope)
        where = self._in_scope("c", scope)
        if clocks is not None:
            names = []
            for i, clock in enumerate(clocks):
                params[f"clock{i}"] = clock
                names.append(f"%(clock{i})s")
            where += f" AND c.clock IN ({', '.join(names)})"
        statement = (
            "SELECT c.position, c.clock, c.clock_id, c.subject_kind, c.subject_id, c.item_id, "
            "c.service, c.started_at, c.recorded_at, c.local_date, c.due_at, c.target, "
            "c.policy_version, c.calendar_version, c.detail, "
            f"(SELECT MIN(s.stopped_at) FROM {stops} s WHERE s.clock_id = c.clock_id "
            "AND s.recorded_at <= %(as_of)s) AS stopped_at, "
            f"(SELECT MIN(s.stopped_at) FROM {stops} s WHERE c.clock = 'first_action' "
            "AND s.clock = 'first_action' AND s.subject_id = c.subject_id "
            "AND s.clock_id IS NULL AND s.stopped_at >= c.started_at "
            "AND s.recorded_at <= %(as_of)s) AS acted_at, "
            f"(SELECT s.outcome FROM {stops} s WHERE s.clock_id = c.clock_id "
            "AND s.recorded_at <= %(as_of)s ORDER BY s.stopped_at, s.position LIMIT 1) "
            "AS outcome "
            f"FROM {clocks_table} c WHERE {where} "
            f"ORDER BY c.started_at, c.clock_id{_BYTEWISE[store.dialect]}"
        )
        rows = self._fetch(statement, params)
        for row in rows:
            acted = row.pop("acted_at")
            if row["clock"] == "first_action":
                row["stopped_at"] = acted
        return rows

    def _one_clock(self, scope: Scope, clock: str, *, outcome: bool) -> tuple[str, dict[str, Any]]:
        """Each clock of one kind that started in scope: its detail, start, due time and stop
        as known at ``as_of`` (as ``clocks`` gives them), and its first stop's outcome."""
        store = self.store
        clocks_table, stops = store.table(CLOCKS_TABLE), store.table(STOPS_TABLE)
        params = {**self._params(scope), "clock": clock}
        if clock == "first_action":
            stopped = (
                f"(SELECT MIN(s.stopped_at) FROM {stops} s WHERE s.clock = 'first_action' "
                "AND s.subject_id = c.subject_id AND s.clock_id IS NULL "
                "AND s.stopped_at >= c.started_at AND s.recorded_at <= %(as_of)s)"
            )
        else:
            stopped = (
                f"(SELECT MIN(s.stopped_at) FROM {stops} s WHERE s.clock_id = c.clock_id "
                "AND s.recorded_at <= %(as_of)s)"
            )
        first_outcome = (
            f"(SELECT s.outcome FROM {stops} s WHERE s.clock_id = c.clock_id "
            "AND s.recorded_at <= %(as_of)s ORDER BY s.stopped_at, s.position LIMIT 1)"
            if outcome
            else "NULL"
        )
        statement = (
            f"SELECT c.detail, c.started_at, c.due_at, {stopped} AS stopped_at, "
            f"{first_outcome} AS outcome FROM {clocks_table} c "
            f"WHERE c.clock = %(clock)s AND {self._in_scope('c', scope)}"
        )
        return statement, params

    def clock_statuses(self, scope: Scope, clock: str, *, outcome: bool = False) -> list[Row]:
        """How many clocks of one kind that started in scope are in each status at ``as_of``
        (``met``, ``breached``, ``open``, ``open_overdue``: ``builders.clock_status``'s rule,
        counted by the database), by detail (and by their first stop's outcome, with
        ``outcome``): what the trustee pack counts, without a row per clock."""
        inner, params = self._one_clock(scope, clock, outcome=outcome)
        statement = (
            "SELECT detail, outcome, status, COUNT(*) AS clocks FROM ("
            "SELECT detail, outcome, CASE WHEN stopped_at IS NOT NULL THEN "
            "(CASE WHEN stopped_at <= due_at THEN 'met' ELSE 'breached' END) "
            "WHEN due_at < %(as_of)s THEN 'open_overdue' ELSE 'open' END AS status "
            f"FROM ({inner}) x) y GROUP BY detail, outcome, status"
        )
        return self._fetch(statement, params)

    def clock_waits(self, scope: Scope, clock: str) -> list[Row]:
        """The detail, start and stop of each clock of one kind that started in scope and was
        stopped by ``as_of`` (for times to acknowledgement)."""
        inner, params = self._one_clock(scope, clock, outcome=False)
        statement = (
            f"SELECT detail, started_at, stopped_at FROM ({inner}) x WHERE stopped_at IS NOT NULL"
        )
        return self._fetch(statement, params)

    def clocks_judged_by(self, scope: Scope, clocks: tuple[str, ...]) -> list[Row]:
        """The services, SLA policy versions and calendar versions that judged the clocks of
        these kinds that started in scope."""
        params = self._params(scope)
        names = []
        for i, clock in enumerate(clocks):
            params[f"clock{i}"] = clock
            names.append(f"%(clock{i})s")
        statement = (
            "SELECT DISTINCT c.service, c.policy_version, c.calendar_version "
            f"FROM {self.store.table(CLOCKS_TABLE)} c WHERE c.clock IN ({', '.join(names)}) "
            f"AND {self._in_scope('c', scope)}"
        )
        return self._fetch(statement, params)

    # --- shifts ----------------------------------------------------------------------------

    def work_actions(
        self, start: datetime, end: datetime, as_of: datetime, service: str | None = None
    ) -> list[Row]:
        """Each action on a case or contact (of ``service``, or any) that occurred in
        ``[start, end)`` and was recorded by ``as_of`` (actor and occurred time), from the actor
        activity; a case's or contact's service is its opening's."""
        store = self.store
        params: dict[str, Any] = {
            "start": store.encode_time(start),
            "end": store.encode_time(end),
            "as_of": store.encode_time(as_of),
        }
        of_service = ""
        if service is not None:
            params["service"] = service
            of_service = (
                f"AND EXISTS (SELECT 1 FROM {store.table(FACTS_TABLE)} f "
                "WHERE f.subject_id = a.aggregate_id AND f.fact IN ('case_opened', 'contact') "
                "AND f.service = %(service)s) "
            )
        statement = (
            f"SELECT a.actor, a.occurred_at FROM {store.table(ACTIVITY_TABLE)} a "
            "WHERE a.occurred_at >= %(start)s AND a.occurred_at < %(end)s "
            "AND a.recorded_at <= %(as_of)s AND a.context IN ('case', 'contact') "
            f"{of_service}ORDER BY a.position"
        )
        return self._fetch(statement, params)

    def last_position_recorded_by(self, as_of: datetime) -> int:
        """The log position of the last event recorded by ``as_of`` (0: none)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT position FROM {store.table(ACTIVITY_TABLE)} "
                "WHERE recorded_at <= %(as_of)s ORDER BY position DESC LIMIT 1",
                {"as_of": store.encode_time(as_of)},
            )
        return 0 if row is None else int(row["position"])


# Text in byte order on both stores (PostgreSQL's default collation may order punctuation
# otherwise), so the same rows list in the same order wherever the log is kept.
_BYTEWISE = {"postgresql": ' COLLATE "C"', "sqlite": ""}


def _standalone(
    event_log: EventLog,
    calendars: ServiceCalendars | None,
    policies: SlaPolicies | None,
    fingerprint: str,
) -> ReportFactsView:
    # Without a projector (tests, tools): the settings-free defaults of every other view.
    from projections.registry import ViewConfig

    config = ViewConfig()
    return ReportFactsView(
        event_log,
        calendars=calendars or config.service_calendars(event_log),
        policies=policies or config.sla_policies(event_log),
        fingerprint=fingerprint,
    )


def _named(fact: str) -> str:
    """The fact's columns under the names ``FACTS`` gives them."""
    return ", ".join(f"f.{column} AS {name}" for column, name in FACTS[fact].items()) or "NULL AS _"


_TIMES = frozenset(
    {
        "occurred_at",
        "recorded_at",
        "started_at",
        "due_at",
        "stopped_at",
        "acted_at",
        "ends_at",
        "as_of",
    }
)
_UUIDS = frozenset({"subject_id", "item_id"})


def _decoded(store: ViewStore, row: Row) -> Row:
    out = dict(row)
    for name, value in row.items():
        if value is None:
            continue
        if name in _TIMES:
            out[name] = store.decode_time(value)
        elif name in _UUIDS:
            out[name] = value if isinstance(value, UUID) else store.decode_uuid(value)
    return out
