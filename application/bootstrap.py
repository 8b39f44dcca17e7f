"""The composition root: builds Vigil's services from settings. Tests call it with their own
settings and clock instead of patching anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from application.cases import CaseService
from application.identity import IdentityService
from application.ledger import Ledger
from domain.calendar import ServiceCalendar
from infrastructure.calendar import build_calendar
from infrastructure.clock import system_clock
from infrastructure.persistence import is_postgres, postgres_conninfo, recorder_env
from infrastructure.settings import Settings
from projections.case_summaries import CaseSummaries


@dataclass
class Vigil:
    settings: Settings
    ledger: Ledger
    calendar: ServiceCalendar
    cases: CaseService
    identity: IdentityService
    clock: Callable[[], datetime]
    case_summaries: CaseSummaries

    def close(self) -> None:
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
    return Vigil(
        settings=settings,
        ledger=ledger,
        calendar=calendar,
        cases=cases,
        identity=identity,
        clock=clock,
        case_summaries=CaseSummaries(ledger),
    )
