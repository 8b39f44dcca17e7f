"""The composition root: builds Vigil's services from settings. Tests call it with their own
settings and clock instead of patching anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from application.cases import CaseService
from application.identity import IdentityService
from application.ledger import Ledger
from domain.calendar import ServiceCalendar
from domain.case.vocabulary import Urgency
from infrastructure.calendar import build_calendar
from infrastructure.clock import system_clock
from infrastructure.persistence import is_postgres, postgres_conninfo, recorder_env
from infrastructure.settings import Settings
from projections.case_summaries import CaseSummaries
from projections.registry import ViewConfig, build_views
from projections.runner import View
from projections.sla import QueueRules, Target
from projections.worker import Projector


@dataclass
class Vigil:
    settings: Settings
    ledger: Ledger
    calendar: ServiceCalendar
    cases: CaseService
    identity: IdentityService
    clock: Callable[[], datetime]
    case_summaries: CaseSummaries
    views: list[View]
    projector: Projector

    @property
    def follows_in_process(self) -> bool:
        """Whether `vigil serve` runs the projector: always on the embedded store, on
        PostgreSQL unless a separate `vigil project` worker does (projector_in_process)."""
        return not self.projector.is_postgres or self.settings.projector_in_process

    def close(self) -> None:
        self.projector.stop_following()
        self.ledger.close()


def prepare_store(settings: Settings) -> None:
    """Make sure the store's container exists: the data directory, or the PostgreSQL schema."""
    url = settings.resolved_database_url
    env = recorder_env(settings)
    if is_postgres(url):
        schema = env.get("POSTGRES_SCHEMA")
        if schema:
            with psycopg.connect(postgres_conninfo(url), autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema))
                )
    else:
        Path(env["SQLITE_DBNAME"]).parent.mkdir(parents=True, exist_ok=True)


def view_config(settings: Settings, calendar: ServiceCalendar) -> ViewConfig:
    """The calendar and SLA targets the views fold with, and a fingerprint of their settings."""
    rules = QueueRules(
        escalation_acknowledged={
            Urgency.IMMEDIATE: Target(
                duration=timedelta(minutes=settings.sla_escalation_immediate_minutes)
            ),
            Urgency.URGENT: Target(
                duration=timedelta(minutes=settings.sla_escalation_urgent_minutes)
            ),
            Urgency.ROUTINE: Target(working_days=settings.sla_escalation_routine_working_days),
        },
        referral_acknowledged=Target(working_days=settings.sla_referral_ack_working_days),
        referral_chase=Target(working_days=settings.sla_referral_chase_working_days),
    )
    fingerprint = "|".join(
        str(part)
        for part in (
            settings.timezone,
            settings.operating_hours,
            settings.bank_holidays,
            sorted(settings.closed_dates),
            settings.sla_escalation_immediate_minutes,
            settings.sla_escalation_urgent_minutes,
            settings.sla_escalation_routine_working_days,
            settings.sla_referral_ack_working_days,
            settings.sla_referral_chase_working_days,
        )
    )
    return ViewConfig(calendar=calendar, queue_rules=rules, fingerprint=fingerprint)


def bootstrap(settings: Settings, *, clock: Callable[[], datetime] = system_clock) -> Vigil:
    prepare_store(settings)
    ledger = Ledger(env=recorder_env(settings))
    calendar = build_calendar(settings)
    identity = IdentityService(ledger, clock=clock)
    cases = CaseService(
        ledger,
        calendar=calendar,
        clock=clock,
        snapshot_interval=settings.snapshot_interval,
        max_clock_skew_seconds=settings.max_clock_skew_seconds,
        write_retries=settings.write_retries,
        case_cache_size=settings.case_cache_size,
        user_exists=identity.exists,
    )
    views = build_views(ledger, view_config(settings, calendar))
    projector = Projector(
        ledger,
        views,
        batch_size=settings.projector_batch_size,
        poll_interval=settings.projector_poll_seconds,
        fallback_interval=settings.projector_fallback_poll_seconds,
        listen=settings.projector_listen,
    )
    return Vigil(
        settings=settings,
        ledger=ledger,
        calendar=calendar,
        cases=cases,
        identity=identity,
        clock=clock,
        case_summaries=CaseSummaries(ledger, projector=projector),
        views=views,
        projector=projector,
    )
