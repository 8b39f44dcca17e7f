"""Every view Vigil keeps, in one place: the worker, `vigil rebuild` and `vigil status` run these.

To add a view, write it in its own module (a ``View`` subclass) and add its factory here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.calendar import CalendarVersion, HolidayLookup
from infrastructure.calendar import bank_holidays
from infrastructure.event_log import EventLog
from projections.access_log import AccessLogView
from projections.actor_activity import ActorActivityView
from projections.attendance import AttendanceView
from projections.case_summaries import CaseSummariesView
from projections.contact_summaries import ContactSummariesView
from projections.report_facts import PolicyLookup, ReportFactsView
from projections.runner import View
from projections.service_calendars import ServiceCalendars
from projections.shift_board import ShiftBoardView
from projections.sla import DEFAULT_RULES, QueueRules
from projections.subject_history import SubjectHistoryView
from projections.work_queues import WorkQueuesView, default_calendars


@dataclass(frozen=True)
class ViewConfig:
    """What views' folds depend on beyond the log: the SLA targets, the settings' calendar (the
    default service's first version while that service is not recorded in the log: services'
    calendars come from the log, ``projections.service_calendars``) and where bank holidays
    come from.

    ``fingerprint`` identifies the settings they come from; a view built under another is
    rebuilt. Without a calendar, views use the default settings' calendar.
    """

    default_calendar: CalendarVersion | None = None
    queue_rules: QueueRules = DEFAULT_RULES
    fingerprint: str = ""
    holidays: HolidayLookup = bank_holidays

    def policy_lookup(self, event_log: EventLog) -> PolicyLookup:
        return _interim_policy

    def service_calendars(self, event_log: EventLog) -> ServiceCalendars:
        if self.default_calendar is None:
            return default_calendars(event_log)
        return ServiceCalendars(
            event_log, default_first=self.default_calendar, holidays=self.holidays
        )


ViewFactory = Callable[[EventLog, ViewConfig], View]

VIEW_FACTORIES: list[ViewFactory] = [
    lambda event_log, config: CaseSummariesView(event_log),
    lambda event_log, config: WorkQueuesView(
        event_log,
        calendars=config.service_calendars(event_log),
        rules=config.queue_rules,
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
        fingerprint=config.fingerprint,
    ),
    # Compliance reports (issue 15): the facts they count, appended, each with its recorded_at.
    lambda event_log, config: ReportFactsView(
        event_log,
        calendars=config.service_calendars(event_log),
        policies=config.policy_lookup(event_log),
        fingerprint=config.fingerprint,
    ),
]


def _interim_policy(position: int, at: Any) -> Any:
    # INTERIM (replaced when the SLA policy context lands): DOMAIN.md's defaults as version 1.
    from types import SimpleNamespace

    from domain.case.vocabulary import RiskLevel, Urgency

    def t(minutes: int | None = None, working_days: int | None = None) -> Any:
        return SimpleNamespace(minutes=minutes, working_days=working_days)

    targets = SimpleNamespace(
        first_action={
            RiskLevel.CRITICAL: t(60), RiskLevel.HIGH: t(240), RiskLevel.MEDIUM: t(1440),
            RiskLevel.LOW: t(4320),
        },
        escalation_acknowledged={
            Urgency.IMMEDIATE: t(30), Urgency.URGENT: t(240), Urgency.ROUTINE: t(None, 1)
        },
        out_of_hours_review=t(None, 1), referral_acknowledged=t(None, 1),
        referral_chase=t(None, 5), approval_decided=t(None, 1), contact_reviewed=t(None, 5),
        new_member_welcomed=t(1440),
    )  # fmt: skip
    return SimpleNamespace(version=1, targets=targets)


def build_views(event_log: EventLog, config: ViewConfig | None = None) -> list[View]:
    return [factory(event_log, config or ViewConfig()) for factory in VIEW_FACTORIES]
