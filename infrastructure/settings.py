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
