"""Every view Vigil keeps, in one place: the worker, `vigil rebuild` and `vigil status` run these.

To add a view, write it in its own module (a ``View`` subclass) and add its factory here.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.calendar import CalendarVersion, HolidayLookup
from domain.policy.sla import SlaPolicyVersion
from infrastructure.calendar import bank_holidays
from infrastructure.event_log import EventLog
from projections.access_log import AccessLogView
from projections.actor_activity import ActorActivityView
from projections.attendance import AttendanceView
from projections.case_summaries import CaseSummariesView
from projections.community_members import CommunityMembersView
from projections.contact_summaries import ContactSummariesView
from projections.report_facts import ReportFactsView
from projections.runner import View
from projections.service_calendars import ServiceCalendars
from projections.shift_board import ShiftBoardView
from projections.sla_policies import SlaPolicies
from projections.subject_history import SubjectHistoryView
from projections.work_queues import WorkQueuesView, default_calendars, default_policies


@dataclass(frozen=True)
class ViewConfig:
    """What views' folds depend on beyond the log: the settings' SLA policy (version 1 while the
    policy is not recorded in the log: its versions come from the log,
    ``projections.sla_policies``), the settings' calendar (the default service's first version
    while that service is not recorded in the log: services' calendars come from the log,
    ``projections.service_calendars``) and where bank holidays come from.

    ``fingerprint`` identifies the settings they come from; a view built under another is
    rebuilt. Without a calendar or a policy, views use the default settings'.
    """

    default_calendar: CalendarVersion | None = None
    default_policy: SlaPolicyVersion | None = None
    fingerprint: str = ""
    holidays: HolidayLookup = bank_holidays

    _shared: weakref.WeakKeyDictionary[EventLog, dict[str, Any]] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, compare=False, repr=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, compare=False, repr=False
    )

    def __getstate__(self) -> dict[str, Any]:
        # Pickled for a rebuild's worker process: what it reads of the log is its own.
        return {
            name: value for name, value in self.__dict__.items() if name not in ("_shared", "_lock")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_shared", weakref.WeakKeyDictionary())
        object.__setattr__(self, "_lock", threading.Lock())

    def _one(self, event_log: EventLog, kind: str, make: Callable[[], Any]) -> Any:
        # One per ledger for every view built with this config: each keeps what it read of the
        # log, and the projector's batches tell it what arrived (``View.saw``), so no view
        # reads the log for them per event.
        with self._lock:
            kept = self._shared.setdefault(event_log, {})
            if kind not in kept:
                kept[kind] = make()
            return kept[kind]

    def sla_policies(self, event_log: EventLog) -> SlaPolicies:
        def make() -> SlaPolicies:
            if self.default_policy is None:
                return default_policies(event_log)
            return SlaPolicies(event_log, default_first=self.default_policy)

        policies: SlaPolicies = self._one(event_log, "policies", make)
        return policies

    def service_calendars(self, event_log: EventLog) -> ServiceCalendars:
        def make() -> ServiceCalendars:
            if self.default_calendar is None:
                return default_calendars(event_log)
            return ServiceCalendars(
                event_log, default_first=self.default_calendar, holidays=self.holidays
            )

        calendars: ServiceCalendars = self._one(event_log, "calendars", make)
        return calendars


ViewFactory = Callable[[EventLog, ViewConfig], View]

VIEW_FACTORIES: list[ViewFactory] = [
    lambda event_log, config: CaseSummariesView(event_log),
    lambda event_log, config: WorkQueuesView(
        event_log,
        calendars=config.service_calendars(event_log),
        policies=config.sla_policies(event_log),
        fingerprint=config.fingerprint,
    ),
    lambda event_log, config: SubjectHistoryView(event_log),
    lambda event_log, config: ActorActivityView(event_log),
    lambda event_log, config: AccessLogView(event_log),
    # Shifts, the write side (issue 13): open check-ins, one per person.
    lambda event_log, config: AttendanceView(event_log),
    # Shifts, read side (issue 13): the rota, its attendance and handovers.
    lambda event_log, config: ShiftBoardView(event_log),
    # Helpline contacts, read side (issue 14): contacts, their reviews and follow-ups; due times
    # by each contact's service calendar, so built with the settings' fingerprint.
    lambda event_log, config: ContactSummariesView(
        event_log,
        calendars=config.service_calendars(event_log),
        policies=config.sla_policies(event_log),
        fingerprint=config.fingerprint,
    ),
    # Compliance reports (issue 15): the facts they count, appended, each with its recorded_at.
    lambda event_log, config: ReportFactsView(
        event_log,
        calendars=config.service_calendars(event_log),
        policies=config.sla_policies(event_log),
        fingerprint=config.fingerprint,
    ),
    # Community intake (issue 16): members who joined through it, due their welcome by the SLA
    # policy and their service's calendar in force when they joined.
    lambda event_log, config: CommunityMembersView(
        event_log,
        calendars=config.service_calendars(event_log),
        policies=config.sla_policies(event_log),
        fingerprint=config.fingerprint,
    ),
]


def build_views(event_log: EventLog, config: ViewConfig | None = None) -> list[View]:
    config = config or ViewConfig()
    return [factory(event_log, config) for factory in VIEW_FACTORIES]
