"""All of Vigil's settings: environment variables prefixed ``VIGIL_``, also read from ``.env``.

Only the interfaces (CLI, HTTP app factory) build ``Settings``; everything below
receives it, so nothing else reads ``os.environ``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.calendar import parse_weekly_hours


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Field(default=Path("data"), description="Where the embedded store lives.")
    database_url: str | None = Field(
        default=None,
        description="sqlite:///path/to/vigil.db or postgresql://user:pass@host:port/db "
        "(?schema=NAME selects a schema). Default: SQLite under data_dir.",
    )

    # Service calendar: what counts as out of hours.
    timezone: str = "Europe/London"
    operating_hours: str = Field(
        default="mon-fri 09:00-17:00",
        description="'mon-fri 09:00-17:00; sat 10:00-14:00', 'always' (24/7) or '' (never open).",
    )
    bank_holidays: str = Field(
        default="GB-ENG",
        description="Country and subdivision whose public holidays close the service "
        "(GB-ENG = England and Wales), or '' for none.",
    )
    closed_dates: list[date] = Field(default_factory=list, description="Extra closed dates.")

    # Service-level targets for the work queues (DOMAIN.md "SLA defaults"). Changing one
    # rebuilds the work-queue view, whose due times are fixed when events are folded.
    sla_escalation_immediate_minutes: int = Field(default=30, ge=1)
    sla_escalation_urgent_minutes: int = Field(default=240, ge=1)
    sla_escalation_routine_working_days: int = Field(default=1, ge=1)
    sla_referral_ack_working_days: int = Field(default=1, ge=1)
    sla_referral_chase_working_days: int = Field(default=5, ge=1)

    max_clock_skew_seconds: int = Field(default=300, ge=0, le=3600)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    snapshot_interval: int = Field(default=50, ge=2, description="Snapshot a case every N events.")
    case_cache_size: int = Field(
        default=1000, ge=0, description="Case states kept in memory per process (0 = none)."
    )
    write_retries: int = Field(default=25, ge=1, description="Re-decides after a lost race.")

    # PostgreSQL connection pool: sized to FastAPI's threadpool (40 threads by default).
    db_pool_size: int = Field(default=20, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_connect_timeout_seconds: int = Field(default=5, ge=1)
    # The recorder retries a lock timeout 10 times, so N seconds here can mean ~11 N seconds.
    db_lock_timeout_seconds: int = Field(default=0, ge=0, description="0 = wait for the lock.")

    # Read side: the projector that keeps the views up to date, and what readers may wait for.
    projector_in_process: bool = Field(
        default=True,
        description="On PostgreSQL, run the projector inside `vigil serve` (false when a "
        "separate `vigil project` worker runs). The embedded store always runs it in-process.",
    )
    projector_batch_size: int = Field(default=500, ge=1, le=100_000)
    projector_poll_seconds: float = Field(
        default=0.2, gt=0, le=60, description="SQLite: how often the projector polls the log."
    )
    projector_fallback_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=600,
        description="PostgreSQL: poll this often even when no NOTIFY arrives.",
    )
    projector_listen: bool = Field(
        default=True, description="PostgreSQL: be woken by LISTEN/NOTIFY (false: poll only)."
    )
    read_wait_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="How long a read with ?min_position waits for the views (then 503).",
    )
    ready_max_lag_events: int = Field(
        default=1000, ge=0, description="/ready fails while a view is more events behind."
    )
    ready_max_lag_seconds: float = Field(
        default=30.0, ge=0, description="/ready fails while a view is longer behind."
    )

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("operating_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        parse_weekly_hours(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"
