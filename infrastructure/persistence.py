"""Persistence wiring for eventsourcing: a pydantic mapper, an orjson transcoder, and the
recorder environment derived from ``VIGIL_DATABASE_URL``.

Events are stored as the JSON of their pydantic model under the topic
``module:Class``. Reading goes straight from JSON bytes to the model (one pass in
pydantic-core), which is what keeps replays and snapshot loads fast.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from infrastructure.settings import Settings


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


class PydanticMapper(Mapper[Any]):
    """Maps frozen pydantic events to stored events and back."""

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        model = cast(BaseModel, domain_event)
        state = model.__pydantic_serializer__.to_json(model)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        cls = cast(type[BaseModel], resolve_topic(stored_event.topic))
        return cast(DomainEventProtocol[Any], cls.model_validate_json(state))


class UnsupportedDatabaseURL(ValueError):
    pass


def is_postgres(url: str) -> bool:
    return urlparse(url).scheme in ("postgres", "postgresql", "postgresql+psycopg")


def recorder_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the configured store (no os.environ involved)."""
    url = settings.resolved_database_url
    parsed = urlparse(url)
    env = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(OrjsonTranscoder),
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
    if parsed.scheme == "sqlite":
        # SQLAlchemy's convention: sqlite:///relative/path.db, sqlite:////absolute/path.db
        if not url.startswith("sqlite:///"):
            raise UnsupportedDatabaseURL("a SQLite URL looks like sqlite:///path/to/vigil.db")
        path = unquote(url[len("sqlite:///") :].split("?", 1)[0])
        if path in ("", ":memory:"):
            raise UnsupportedDatabaseURL(
                "an in-memory SQLite store would vanish between connections; use a file"
            )
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        )
        return env
    if is_postgres(url):
        query = parse_qs(parsed.query)
        env.update(
            {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
                "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parsed.port or 5432),
                "POSTGRES_USER": unquote(parsed.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(parsed.password or ""),
                "POSTGRES_SCHEMA": query.get("schema", [""])[0],
                "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
                "POSTGRES_MAX_OVERFLOW": str(settings.db_max_overflow),
                "POSTGRES_CONNECT_TIMEOUT": str(settings.db_connect_timeout_seconds),
                "POSTGRES_LOCK_TIMEOUT": str(settings.db_lock_timeout_seconds),
                "POSTGRES_PRE_PING": "y",
            }
        )
        return env
    raise UnsupportedDatabaseURL(
        f"VIGIL_DATABASE_URL must start with sqlite:/// or postgresql://, not {parsed.scheme!r}"
    )


def postgres_conninfo(url: str) -> str:
    """A libpq connection string for direct use (schema creation, test set-up)."""
    parsed = urlparse(url)
    return (
        f"host={parsed.hostname or '127.0.0.1'} port={parsed.port or 5432} "
        f"dbname={parsed.path.lstrip('/') or 'postgres'} "
        f"user={unquote(parsed.username or 'postgres')}"
        + (f" password={unquote(parsed.password)}" if parsed.password else "")
    )
