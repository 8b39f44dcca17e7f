"""Persistence wiring for eventsourcing: a pydantic mapper that encrypts personal fields, an
orjson transcoder, and the recorder environment derived from ``VIGIL_DATABASE_URL``.

Events are stored as the JSON of their pydantic model under the topic ``module:Class``.
Fields marked ``PERSONAL`` in the domain (``domain.personal.plan_for``) never reach the store
in plaintext: each value is replaced by an envelope ``vgl1:<key id>:<nonce>:<ciphertext>``
(AES-256-GCM under the data subject's key, base64url; ``infrastructure.keys``), whose
associated data binds it to the aggregate id, version and field path, so an envelope cannot
be moved to another event or field. The key is the data subject's that the model's class
declares (``domain.personal.declared_subject``): a case's events and snapshots use the case
subject's (``kind`` + ``ref``), as does what is written about a case in another stream (a
break-glass reason); a stream that names no person uses a key of its own. A class with personal
fields and no declaration is refused (``UndeclaredSubject``). Events without personal fields
(users, legal holds) are stored as they are.

Reading back (``to_domain_event``) decrypts; a field whose key was destroyed reads as
``domain.personal.ERASED`` (a list as ``[ERASED]``), which is still a valid event, so replays,
snapshots and hashes are unaffected by erasure. A personal field found in plaintext (other than
the erased marker) is refused with ``UnsealedValue``: Vigil never stored it so. Snapshots also
carry a MAC, checked on loading (``infrastructure.snapshots``). Projections decode with
``to_view_event``, which never decrypts (views hold no personal data): personal fields read as
``WITHHELD``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import orjson
from eventsourcing.application import Application, Repository
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import EventStore, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel

from domain.personal import (
    DataSubject,
    NamingCase,
    OwnStream,
    Person,
    Plan,
    Step,
    SubjectOfCase,
    SubjectOfContact,
    declaration_of,
    declared_subject,
    erased_value,
    plan_for,
)
from infrastructure.keys import (
    DataKey,
    SubjectKeyring,
    UnsealedValue,
    envelope_key_id,
    is_sealed,
    open_sealed,
    seal,
)
from infrastructure.master_key import MasterKeyError
from infrastructure.recorders import VigilPostgresFactory, VigilSQLiteFactory
from infrastructure.settings import Settings
from infrastructure.snapshots import SnapshotStore

WITHHELD = "[withheld]"
"""What a personal field reads as on the projections' path, which never decrypts."""


class OrjsonTranscoder(Transcoder):
    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


Visit = Callable[[Any, str, Step], Any]


def _walk(data: dict[str, Any], plan: Plan, visit: Visit, prefix: str = "") -> None:
    """Replace each personal value in ``data`` (JSON of a model) by ``visit(value, path, step)``."""
    for step in plan:
        value = data.get(step.name)
        if value is None:
            continue
        path = prefix + step.name
        if step.kind == "value":
            data[step.name] = visit(value, path, step)
        elif step.kind == "model":
            _walk(value, step.plan, visit, path + ".")
        elif step.kind == "list":
            for i, item in enumerate(value):
                _walk(item, step.plan, visit, f"{path}.{i}.")
        else:
            for key, item in value.items():
                _walk(item, step.plan, visit, f"{path}.{key}.")


def _associated(originator_id: UUID | str, version: int, path: str) -> bytes:
    case = originator_id if isinstance(originator_id, UUID) else UUID(originator_id)
    return f"vigil:{case}:{version}:{path}".encode()


class PydanticMapper(Mapper[Any]):
    """Maps frozen pydantic events to stored events and back, sealing personal fields."""

    keyring: SubjectKeyring | None = None
    # How to find a case's subject when the key table does not know the case (a store written
    # before keys were kept): the case's first stored event. Set by ``attach_keyring``.
    first_event_of: Callable[[UUID], StoredEvent | None] | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[Any]) -> StoredEvent:
        model = cast(BaseModel, domain_event)
        plan = plan_for(type(model))
        if plan:
            data = model.model_dump(mode="json")
            originator_id, version = domain_event.originator_id, domain_event.originator_version
            key: DataKey | None = None

            def sealed(value: Any, path: str, step: Step) -> Any:
                nonlocal key
                if value == erased_value(step):
                    return value  # nothing left to protect (a state blanked by an erasure)
                if key is None:
                    key = self._key_for(model, originator_id, version)
                return seal(key, orjson.dumps(value), _associated(originator_id, version, path))

            _walk(data, plan, sealed)
            state = orjson.dumps(data)
        else:
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

    def _state_of(self, stored_event: StoredEvent) -> bytes:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return state

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        """The event with its personal fields decrypted, or ERASED where the key is destroyed."""
        state = self._state_of(stored_event)
        cls = cast(type[BaseModel], resolve_topic(stored_event.topic))
        plan = plan_for(cls)
        if not plan:
            return cast(DomainEventProtocol[Any], cls.model_validate_json(state))
        data = orjson.loads(state)
        originator_id = stored_event.originator_id
        version = stored_event.originator_version
        keyring = self.keyring

        def opened(value: Any, path: str, step: Step) -> Any:
            if not is_sealed(value):
                if value == erased_value(step):
                    return value  # written blank by an erasure: nothing was sealed
                # Vigil seals every personal value it stores: plaintext here was put in the
                # store by something else, and is never shown as if it were the record.
                raise UnsealedValue(
                    f"the store is corrupt: {cls.__name__} {originator_id} version {version} "
                    f"holds its personal field {path} unsealed"
                )
            if keyring is None:
                raise MasterKeyError("no keyring attached: cannot read personal fields")
            aead = keyring.key_for_reading(envelope_key_id(value))
            if aead is None:
                return erased_value(step)
            return orjson.loads(open_sealed(aead, value, _associated(originator_id, version, path)))

        _walk(data, plan, opened)
        return cast(DomainEventProtocol[Any], cls.model_validate(data))

    def to_view_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        """The event as projections need it: views hold no personal data, so this path never
        decrypts (no key, no cost beyond a JSON parse): personal fields read as WITHHELD."""
        state = self._state_of(stored_event)
        cls = cast(type[BaseModel], resolve_topic(stored_event.topic))
        plan = plan_for(cls)
        if not plan:
            return cast(DomainEventProtocol[Any], cls.model_validate_json(state))
        data = orjson.loads(state)
        _walk(data, plan, _withheld)
        return cast(DomainEventProtocol[Any], cls.model_validate(data))

    def clocks_of(self, stored_event: StoredEvent) -> tuple[datetime, datetime]:
        """An event's ``recorded_at`` and ``occurred_at``, read from its JSON alone: nothing
        unsealed, nothing else validated (an as-of read's search for the versions it needs).
        Raises KeyError or ValueError if the event has no such times."""
        data = orjson.loads(self._state_of(stored_event))
        return _moment(data["recorded_at"]), _moment(data["occurred_at"])

    # --- which key ----------------------------------------------------------------------------

    def _key_for(self, model: BaseModel, originator_id: UUID, version: int) -> DataKey:
        keyring = self.keyring
        if keyring is None:
            raise MasterKeyError(
                f"no keyring attached: refusing to store {type(model).__name__}'s personal "
                "fields in plaintext"
            )
        subject = declared_subject(model)
        subject_hash = self.subject_hash(subject)
        if isinstance(subject, OwnStream) and subject.names_cases:
            # Before the event is stored: erasing the subject of a case it names finds the key.
            keyring.link_cases(
                subject.names_cases,
                subject_hash,
                originator_id=originator_id,
                originator_version=version,
            )
        return keyring.key_for_writing(subject_hash)

    def subject_hash(self, subject: DataSubject) -> str:
        """The key table's name for a declared data subject: whose keys seal its fields."""
        keyring = self.keyring
        if keyring is None:
            raise MasterKeyError("no keyring attached: data subjects have no keys")
        if isinstance(subject, Person):
            return keyring.subject_hash(subject.kind, subject.ref)
        if isinstance(subject, SubjectOfCase):
            if subject.named is None:
                return self._case_subject_hash(keyring, subject.case_id)
            named = keyring.subject_hash(subject.named.kind, subject.named.ref)
            keyring.bind_case(subject.case_id, named)
            return named
        if isinstance(subject, SubjectOfContact):
            if subject.caller is None:
                return self._contact_subject_hash(keyring, subject.contact_id)
            caller = self.subject_hash(subject.caller)
            keyring.bind_contact(subject.contact_id, caller)
            return caller
        if isinstance(subject, NamingCase):
            raise TypeError("NamingCase names every key linked to a case: use subject_hashes")
        return keyring.aggregate_subject_hash(subject.stream_id)

    def linked_hashes(self, case_ids: Iterable[UUID]) -> list[str]:
        """The keys of their own that seal text naming one of the cases (``NamingCase``)."""
        keyring = self.keyring
        if keyring is None:
            raise MasterKeyError("no keyring attached: data subjects have no keys")
        return sorted({link.subject_hash for link in keyring.links_of(case_ids)})

    def _case_subject_hash(self, keyring: SubjectKeyring, case_id: UUID) -> str:
        known = keyring.subject_of_case(case_id)
        if known is not None:
            return known
        named = self._named_by_opening(case_id)
        subject_hash = keyring.subject_hash(named.kind, named.ref)
        keyring.bind_case(case_id, subject_hash)
        return subject_hash

    def _contact_subject_hash(self, keyring: SubjectKeyring, contact_id: UUID) -> str:
        known = keyring.subject_of_contact(contact_id)
        if known is not None:
            return known
        # Not bound (the table lost its row): the contact's logging names its caller.
        stored = None if self.first_event_of is None else self.first_event_of(contact_id)
        event = None if stored is None else cast(BaseModel, self.to_view_event(stored))
        declared = None if event is None else declaration_of(type(event))
        subject = None if declared is None else declared(event)
        if not isinstance(subject, SubjectOfContact) or subject.caller is None:
            raise MasterKeyError(f"contact {contact_id} was never logged: no caller to key by")
        return self.subject_hash(subject)

    def _named_by_opening(self, case_id: UUID) -> Person:
        stored = None if self.first_event_of is None else self.first_event_of(case_id)
        event = None if stored is None else cast(BaseModel, self.to_view_event(stored))
        declared = None if event is None else declaration_of(type(event))
        subject = None if declared is None else declared(event)
        if not isinstance(subject, SubjectOfCase) or subject.named is None:
            raise MasterKeyError(f"case {case_id} has no CaseOpened event: no subject to key by")
        return subject.named


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("a stored event's time without an offset")
    return moment


def _withheld(value: Any, path: str, step: Step) -> Any:
    return [WITHHELD] if step.many else WITHHELD


def attach_keyring(application: Application[Any], keyring: SubjectKeyring) -> None:
    """Give the application's mapper the keyring (already attached to the store)."""
    mapper = application.mapper
    if not isinstance(mapper, PydanticMapper):
        raise TypeError(f"personal fields need the PydanticMapper, not {type(mapper).__name__}")
    recorder = application.recorder

    def first_event_of(case_id: UUID) -> StoredEvent | None:
        found = recorder.select_events(case_id, lte=1)
        return found[0] if found else None

    mapper.keyring = keyring
    mapper.first_event_of = first_event_of
    if isinstance(application.snapshots, SnapshotStore):
        application.snapshots.mac = keyring.snapshot_mac


def subject_hashes(application: Application[Any], subjects: Iterable[DataSubject]) -> list[str]:
    """The key table's names of the data subjects, resolved as sealing resolves them (each once,
    in order): what erasing them destroys. A ``NamingCase`` stands for every key linked to its
    case."""
    mapper = application.mapper
    if not isinstance(mapper, PydanticMapper):
        raise TypeError(f"personal fields need the PydanticMapper, not {type(mapper).__name__}")
    hashes: list[str] = []
    for subject in subjects:
        if isinstance(subject, NamingCase):
            hashes.extend(mapper.linked_hashes([subject.case_id]))
        else:
            hashes.append(mapper.subject_hash(subject))
    return list(dict.fromkeys(hashes))


def view_decoder(application: Application[Any]) -> Callable[[StoredEvent], Any]:
    """How projections decode stored events: without personal data (see ``to_view_event``)."""
    mapper = application.mapper
    if isinstance(mapper, PydanticMapper):
        return mapper.to_view_event
    return mapper.to_domain_event


class _WithheldMapper(PydanticMapper):
    """A mapper that reads events and snapshots as views need them: ``to_domain_event`` is
    ``to_view_event`` (no key, nothing decrypted, personal fields WITHHELD)."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[Any]:
        return self.to_view_event(stored_event)


def view_repository(application: Application[Any]) -> Repository[Any]:
    """The application's aggregates loaded as views need them: from the latest verified
    snapshot and the events after it, never decrypted (views hold no personal data). Build it
    once the keyring is attached (its snapshot MAC key comes with it)."""
    mapper = application.mapper
    if not isinstance(mapper, PydanticMapper):
        return application.repository
    withheld = _WithheldMapper(
        transcoder=mapper.transcoder, compressor=mapper.compressor, cipher=mapper.cipher
    )
    events = EventStore(withheld, application.recorder)
    snapshots: EventStore[Any] | None = None
    if isinstance(application.snapshots, SnapshotStore):
        kept = SnapshotStore(withheld, application.snapshots.recorder, events=application.recorder)
        kept.mac = application.snapshots.mac
        snapshots = kept
    return Repository(events, snapshot_store=snapshots)


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
                "PERSISTENCE_MODULE": get_topic(VigilSQLiteFactory),  # append-only tables
                "SQLITE_DBNAME": path,
                # A lock held longer than this by another process: the store is unavailable.
                "SQLITE_LOCK_TIMEOUT": str(settings.store_timeout_seconds),
            }
        )
        return env
    if is_postgres(url):
        query = parse_qs(parsed.query)
        env.update(
            {
                "PERSISTENCE_MODULE": get_topic(VigilPostgresFactory),  # append-only tables
                "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
                "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
                "POSTGRES_PORT": str(parsed.port or 5432),
                "POSTGRES_USER": unquote(parsed.username or "postgres"),
                "POSTGRES_PASSWORD": unquote(parsed.password or ""),
                "POSTGRES_SCHEMA": query.get("schema", [""])[0],
                "POSTGRES_POOL_SIZE": str(settings.db_pool_size),
                "POSTGRES_MAX_OVERFLOW": str(settings.db_max_overflow),
                # eventsourcing's name for how long a caller waits for the pool's connection;
                # each attempt the pool makes is bounded by the connect timeout.
                "POSTGRES_CONNECT_TIMEOUT": str(settings.store_timeout_seconds),
                "POSTGRES_CONNECT_ATTEMPT_TIMEOUT": str(settings.db_connect_timeout_seconds),
                "POSTGRES_LOCK_TIMEOUT": str(settings.db_lock_timeout_seconds),
                # No round trip per checkout: the pool checks a connection it hands out by
                # whether the server has closed it (``availability.check_idle_connections``).
                "POSTGRES_PRE_PING": "n",
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
