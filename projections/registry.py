"""Every view Vigil keeps, in one place: the worker, `vigil rebuild` and `vigil status` run these.

To add a view, write it in its own module (a ``View`` subclass) and add its factory here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from application.ledger import Ledger
from domain.calendar import ServiceCalendar
from projections.access_log import AccessLogView
from projections.actor_activity import ActorActivityView
from projections.case_summaries import CaseSummariesView
from projections.runner import View
from projections.sla import DEFAULT_RULES, QueueRules
from projections.subject_history import SubjectHistoryView
from projections.work_queues import WorkQueuesView


@dataclass(frozen=True)
class ViewConfig:
    """What views' folds depend on beyond the log: the service calendar and the SLA targets.

    ``fingerprint`` identifies the settings they come from; a view built under another is
    rebuilt. Without a calendar, views use the default settings' calendar.
    """

    calendar: ServiceCalendar | None = None
    queue_rules: QueueRules = DEFAULT_RULES
    fingerprint: str = ""


ViewFactory = Callable[[Ledger, ViewConfig], View]

VIEW_FACTORIES: list[ViewFactory] = [
    lambda ledger, config: CaseSummariesView(ledger),
    lambda ledger, config: WorkQueuesView(
        ledger, calendar=config.calendar, rules=config.queue_rules, fingerprint=config.fingerprint
    ),
    lambda ledger, config: SubjectHistoryView(ledger),
    lambda ledger, config: ActorActivityView(ledger),
    lambda ledger, config: AccessLogView(ledger),
]


def build_views(ledger: Ledger, config: ViewConfig | None = None) -> list[View]:
    return [factory(ledger, config or ViewConfig()) for factory in VIEW_FACTORIES]
