"""Route dependencies: the container, the authenticated actor, permissions, case writes.

Cheap dependencies are ``async`` so they run on the event loop rather than taking a
thread; anything that touches the store is a plain ``def`` (the store is synchronous).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from application.cases import WriteResult
from application.idempotency import KeyedRequest
from application.identity import token_user_id
from domain.access.permissions import Permission, check
from domain.access.vocabulary import AccessLevel
from domain.case.commands import CaseCommand
from domain.case.state import CaseState
from domain.shared import Actor, Moment
from interfaces.composition import Vigil
from interfaces.http.middleware import note_for_log
from interfaces.http.problems import NotAuthenticated, ProjectionLagging
from interfaces.http.schemas import (
    CaseStateRead,
    CaseStatusRead,
    CaseWriteAnswer,
    RestrictedCaseRead,
    case_state_read,
    event_read,
    restricted_case_read,
)
from interfaces.http.security import count_failure
from projections.actor_activity import ActorActivity
from projections.paging import MAX_POSITION
from projections.rota import Rota
from projections.shift_logs import ShiftLogs
from projections.shift_queues import ShiftQueues
from projections.subject_history import SubjectHistory
from projections.work_queues import WorkQueues

log = structlog.get_logger(__name__)


async def get_vigil(request: Request) -> Vigil:
    vigil: Vigil = request.app.state.vigil
    return vigil


VigilDep = Annotated[Vigil, Depends(get_vigil)]

# auto_error=False: a missing token is answered by our own 401 problem, not Starlette's 403.
_bearer = HTTPBearer(auto_error=False, description="An API token from `vigil users token`.")


def authenticated_actor(
    request: Request,
    vigil: VigilDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    token = credentials.credentials
    actor = vigil.identity.authenticate(token)
    if actor is not None:
        # Never refused for failures, its own or anyone's: failures are counted by keys an
        # attacker can choose, so a valid token must not depend on them.
        return actor
    count_failure(request, token_user_id(token))
    raise NotAuthenticated("the bearer token is not valid (unknown, expired or revoked)")


async def current_actor(
    request: Request, actor: Annotated[Actor, Depends(authenticated_actor)]
) -> Actor:
    # Bound here, on the event loop, so the route's worker thread inherits it (and not a copy
    # made before it was known).
    note_for_log(request, actor=actor.username)
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission | str) -> Callable[..., Coroutine[Any, Any, Actor]]:
    """A dependency giving the current actor, or 403 unless the permission matrix allows it."""
    needed = Permission(permission)

    async def permitted_actor(actor: CurrentActor) -> Actor:
        check(actor, needed)
        return actor

    # Read back when the OpenAPI schema is built, to document who may call each route.
    permitted_actor.vigil_permission = needed  # type: ignore[attr-defined]
    return permitted_actor


async def bind_case_id(
    request: Request,
    case_id: Annotated[UUID, Path(description="The case id (a UUID).")],
) -> UUID:
    note_for_log(request, case_id=str(case_id))
    return case_id


CaseId = Annotated[UUID, Depends(bind_case_id)]


_PRINTABLE = r"^[\x20-\x7e]{1,200}$"


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            pattern=_PRINTABLE,
            description="Makes the write safe to retry: a retry with the same key and body "
            "returns the first answer (same status and body) and appends nothing; the same "
            "key with another body is refused (422). 1-200 printable ASCII characters; keys "
            "are per user (on case writes, per user and per case) and are remembered for at "
            "least 24 hours.",
            examples=["3f1c9a52-1d7e-4b8e-9a35-2c1f3d8e7a10"],
        ),
    ] = None,
) -> str | None:
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


# --- query parameters ----------------------------------------------------------------------------


def declared_query_parameters(dependant: Dependant) -> frozenset[str]:
    """The query parameters a route takes: its own and those of every dependency, by the name
    a client sends (the alias, e.g. `from`)."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared_query_parameters(sub)
    return frozenset(names)


_DECLARED = "_vigil_query_parameters"  # kept on the route: computed once per route


async def refuse_unknown_query_parameters(request: Request) -> None:
    """422 naming every query parameter the route does not take (on every route).

    A misspelt or invented filter (`?opened_after=`) would otherwise be ignored and the answer
    would look filtered when it is not."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = getattr(route, _DECLARED, None)
    if not isinstance(declared, frozenset):
        declared = declared_query_parameters(route.dependant)
        setattr(route, _DECLARED, declared)
    unknown = sorted(set(request.query_params.keys()) - declared)
    if not unknown:
        return
    takes = ", ".join(sorted(declared)) or "none"
    raise RequestValidationError(
        [
            {
                "type": "unknown_query_parameter",
                "loc": ("query", name),
                "msg": f"unknown query parameter; this operation takes: {takes}",
                "input": None,
            }
            for name in unknown
        ]
    )


# --- read-your-writes ----------------------------------------------------------------------------

POSITION_HEADER = "Vigil-Position"
_WAIT_STEP_SECONDS = 0.05


_MIN_POSITION_DESCRIPTION = (
    "Read-your-writes: the `position` of a write's answer. The read waits (up to "
    "VIGIL_READ_WAIT_SECONDS, 5 s by default) until {what} that position, then answers; if "
    "{short} not, 503 `projection-lagging` with Retry-After. A position beyond the log's head "
    "(one no write has been given) is 422 at once."
)


async def _refuse_beyond_head(vigil: Vigil, wanted: int) -> None:
    # Every write answers with a position the log already holds, so one beyond its head was
    # never given out: waiting for it would only hold the request for the full wait.
    head = await run_in_threadpool(vigil.projector.head)
    if wanted > head:
        raise RequestValidationError(
            [
                {
                    "type": "beyond_log_head",
                    "loc": ("query", "min_position"),
                    "msg": f"is beyond the event log's head ({head}): no write has been given "
                    "that position; pass the `position` of a write's answer",
                    "input": wanted,
                }
            ]
        )


async def _wait_until(
    position: Callable[[], int], wanted: int, timeout: float, wake: Callable[[], None]
) -> None:
    # Async and polling, so a waiting read holds no worker thread while it waits.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    wake()
    while True:
        reached = await run_in_threadpool(position)
        if reached >= wanted:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise ProjectionLagging(wanted, reached, timeout)
        await asyncio.sleep(min(_WAIT_STEP_SECONDS, remaining))


async def wait_for_views(
    vigil: VigilDep,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_POSITION,
            description=_MIN_POSITION_DESCRIPTION.format(
                what="every view has applied", short="they have"
            ),
            examples=[42],
        ),
    ] = None,
) -> int | None:
    """For reads answered from views (lists, queues, histories): the one place a read brings
    the views up to date. Without ``min_position`` the views first apply every event committed
    before the read (so a client sees its own writes, and the access log every recorded read);
    with it, the read waits (bounded) for the follower to reach that position."""
    if min_position is None:
        await run_in_threadpool(vigil.projector.catch_up)
        return None
    await _refuse_beyond_head(vigil, min_position)
    projector = vigil.projector
    await _wait_until(
        lambda: projector.position(), min_position, vigil.settings.read_wait_seconds, projector.wake
    )
    return min_position


async def views_at_head(vigil: VigilDep) -> None:
    """For reads that must count everything committed before them (compliance reports): every
    view first applies every event committed before the read; no ``min_position`` shortcut."""
    await run_in_threadpool(vigil.projector.catch_up)


async def wait_for_log(
    vigil: VigilDep,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_POSITION,
            description=_MIN_POSITION_DESCRIPTION.format(
                what="the event log holds", short="it does"
            ),
            examples=[42],
        ),
    ] = None,
) -> int | None:
    """For reads answered from the event log itself (a case, its timeline): those see every
    committed write at once, so this only waits for positions not yet written."""
    if min_position is None:
        return None
    await _refuse_beyond_head(vigil, min_position)
    await _wait_until(
        vigil.projector.head, min_position, vigil.settings.read_wait_seconds, lambda: None
    )
    return min_position


QueueAsOf = Annotated[
    Moment | None,
    Query(
        description="Answer as of this moment (RFC 3339 with offset) instead of now. A past "
        "moment is replayed: what was in each queue as Vigil knew it then (events recorded by "
        "as_of, as a case read with basis=recorded), overdue judged at as_of; this reads the "
        "whole log, so it is slower than a read of now. A later moment judges today's items "
        "at it (what will be overdue by then). One replay runs at a time in a "
        "process (503 replay-busy after the read wait); a replayed moment is kept until the "
        "log grows.",
        examples=["2026-11-17T10:00:00+00:00"],
    ),
]


@dataclass(frozen=True)
class ReadMoment:
    """The moment a queue read answers for, and now: a past moment is replayed from the log."""

    at: datetime
    now: datetime


async def read_at(
    vigil: VigilDep,
    as_of: QueueAsOf = None,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_POSITION,
            description=_MIN_POSITION_DESCRIPTION.format(
                what="every view has applied", short="they have"
            ),
            examples=[42],
        ),
    ] = None,
) -> ReadMoment:
    """For reads answered from views now or replayed from the log at a past ``as_of``: the
    views are brought up to date (``wait_for_views``) only for a read of now or later; a replay
    reads the log itself and never moves them."""
    now = vigil.clock()
    at = as_of if as_of is not None else now
    if at >= now or min_position is not None:
        await wait_for_views(vigil, min_position)
    return ReadMoment(at=at, now=now)


MinPosition = Annotated[int | None, Depends(wait_for_views)]
"""A view-backed read's ``?min_position=N``: waits (bounded) until every view has applied N."""
MinLogPosition = Annotated[int | None, Depends(wait_for_log)]
ViewsAtHead = Annotated[None, Depends(views_at_head)]
"""A read that counts from the views: every view brought to the log's head first."""
"""A log-backed read's ``?min_position=N``: waits (bounded) until the log holds N."""
ReadAt = Annotated[ReadMoment, Depends(read_at)]
"""A queue read's ``?as_of=`` and ``?min_position=``: now (views brought up to date) or a past
moment (replayed from the log)."""

_IF_MATCH = re.compile(r'^(?:W/)?(?:"(\d{1,12})"|(\d{1,12}))$')


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The case version the write is based on (its ETag): "3", 3 or W/"3". '
            "If the case has moved on, 412 and nothing is written. `*` or no header: no "
            "check. A malformed value is 422.",
            examples=['"3"'],
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _IF_MATCH.match(if_match.strip())
    version = None if match is None else int(match.group(1) or match.group(2))
    if version is None or version < 1:
        raise RequestValidationError(
            [
                {
                    "type": "if_match",
                    "loc": ("header", "If-Match"),
                    "msg": 'expected a case version such as "3"',
                    "input": if_match,
                }
            ]
        )
    return version


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def request_hash(vigil: Vigil, method: str, path: str, body: BaseModel | None) -> str:
    """Fingerprint of a write: same method, path and (parsed, canonical) body -> same hash.

    Keyed (HMAC under a key derived from the master key), never a plain hash: it is stored in
    the log and the body holds personal text, which a plain hash would let a reader of the log
    confirm by guessing."""
    canonical = json.dumps(
        None if body is None else body.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return vigil.keyring.fingerprint(f"{method}\n{path}\n{canonical}".encode())


@dataclass
class CaseWrites:
    """Runs one case write for a route: headers, request hash, execute, answer and ETag."""

    vigil: Vigil
    request: Request
    response: Response
    idempotency_key: str | None
    expected_version: int | None

    def open(self, command: CaseCommand, actor: Actor) -> CaseWriteAnswer:
        return self._run(None, command, command, actor)

    def append(
        self,
        case_id: UUID,
        command: CaseCommand,
        actor: Actor,
        *,
        body: BaseModel | None = None,
    ) -> CaseWriteAnswer:
        """``body`` is what the client sent when it differs from the command (nested routes)."""
        return self._run(case_id, command, body or command, actor)

    def _run(
        self, case_id: UUID | None, command: CaseCommand, body: BaseModel, actor: Actor
    ) -> CaseWriteAnswer:
        key = self.idempotency_key
        access = self.vigil.access

        def admit(state: CaseState | None) -> None:
            # Restricted cases: 404 without access, 403 for what an involved user may not add;
            # asked of the state the write decides on, so it needs no read of its own.
            access.admit_write(actor, state, command)

        result = self.vigil.cases.execute(
            case_id,
            command,
            actor,
            expected_version=None if case_id is None else self.expected_version,
            idempotency_key=key,
            admit=None if case_id is None else admit,
            request_hash=(
                None
                if key is None
                else request_hash(self.vigil, self.request.method, self.request.url.path, body)
            ),
        )
        note_for_log(self.request, case_id=str(result.state.id))
        self.response.headers["ETag"] = f'"{result.state.version}"'
        if case_id is None:
            self.response.headers["Location"] = f"/api/v1/cases/{result.state.id}"
        if result.replayed:
            self.response.headers["Idempotent-Replayed"] = "true"
        self.response.headers[POSITION_HEADER] = str(result.position)
        # The answer shows what the writer may see of the case now (the same rule as a read):
        # a write may have taken their access away (an assignee reassigning the case).
        return write_answer(result, self.vigil.access.answer_level(actor, result.state))


def write_answer(result: WriteResult, level: AccessLevel) -> CaseWriteAnswer:
    """The case after the write as ``level`` lets its writer see it, never its content (so the
    answer needs no access record), and the new events, which are the writer's own."""
    # Judged at the write's own recorded_at, not at the time of asking, so a retried write gets
    # the same answer byte for byte.
    evaluated_at = result.events[-1].recorded_at if result.events else result.state.opened_at
    state = result.state
    case: CaseStateRead | RestrictedCaseRead | CaseStatusRead
    if level in (AccessLevel.FULL, AccessLevel.BREAK_GLASS):
        case = case_state_read(state, evaluated_at)
    elif level is AccessLevel.OWN_RECORDS:
        case = restricted_case_read(state, evaluated_at)
    else:
        case = CaseStatusRead(id=state.id, version=state.version, status=state.status)
    return CaseWriteAnswer(
        case=case, events=[event_read(e) for e in result.events], position=result.position
    )


async def case_writes(
    vigil: VigilDep,
    request: Request,
    response: Response,
    key: IdempotencyKey,
    version: ExpectedVersion,
) -> CaseWrites:
    return CaseWrites(vigil, request, response, key, version)


async def open_writes(
    vigil: VigilDep, request: Request, response: Response, key: IdempotencyKey
) -> CaseWrites:
    # Opening has no version to match: If-Match is not read (and not documented) here.
    return CaseWrites(vigil, request, response, key, None)


Writes = Annotated[CaseWrites, Depends(case_writes)]
OpenWrites = Annotated[CaseWrites, Depends(open_writes)]


# --- Idempotency-Key on writes outside cases --------------------------------------------------


@dataclass
class KeyedWrites:
    """A non-case write's Idempotency-Key with its request's fingerprint, for the service, and
    the Idempotent-Replayed header for an answer that repeats the first one."""

    vigil: Vigil
    request: Request
    response: Response
    key: str | None

    def request_for(self, body: BaseModel | None = None) -> KeyedRequest | None:
        """None without a key: the write goes ahead as an ordinary one."""
        if self.key is None:
            return None
        return KeyedRequest(
            self.key, request_hash(self.vigil, self.request.method, self.request.url.path, body)
        )

    def answered(self, *, replayed: bool) -> None:
        if replayed:
            self.response.headers["Idempotent-Replayed"] = "true"


async def keyed_writes(
    vigil: VigilDep, request: Request, response: Response, key: IdempotencyKey
) -> KeyedWrites:
    return KeyedWrites(vigil, request, response, key)


Keyed = Annotated[KeyedWrites, Depends(keyed_writes)]
"""A write route's Idempotency-Key (documented on the route, as on case writes)."""


def keyed_answer(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for a keyed write's success answer: a retry gets it again, marked replayed."""
    return {
        status: {
            "description": f"{description} A retry with the same Idempotency-Key and body gets "
            "this same answer (header Idempotent-Replayed) and appends nothing.",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "true when this answers a retried Idempotency-Key.",
                    "schema": {"type": "string"},
                }
            },
        }
    }


# --- the read models ---------------------------------------------------------------------------
# Each is built once by the composition root; a route takes the one it reads and never catches
# it up itself (``MinPosition`` does, for every view at once).


def _work_queues(vigil: VigilDep) -> WorkQueues:
    return vigil.work_queues


def _subject_history(vigil: VigilDep) -> SubjectHistory:
    return vigil.subject_history


def _actor_activity(vigil: VigilDep) -> ActorActivity:
    return vigil.actor_activity


WorkQueuesDep = Annotated[WorkQueues, Depends(_work_queues)]
SubjectHistoryDep = Annotated[SubjectHistory, Depends(_subject_history)]
ActorActivityDep = Annotated[ActorActivity, Depends(_actor_activity)]


# Shifts, read side (issue 13).
def _rota(vigil: VigilDep) -> Rota:
    return vigil.rota


def _shift_queues(vigil: VigilDep) -> ShiftQueues:
    return vigil.shift_queues


def _shift_logs(vigil: VigilDep) -> ShiftLogs:
    return vigil.shift_logs


RotaDep = Annotated[Rota, Depends(_rota)]
ShiftQueuesDep = Annotated[ShiftQueues, Depends(_shift_queues)]
ShiftLogsDep = Annotated[ShiftLogs, Depends(_shift_logs)]
