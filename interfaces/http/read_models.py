"""The read models behind the work-queue, subject-history and actor-activity routes.

Each is taken from the ``Vigil`` container when the composition root provides it (an attribute
of the same name), else built once per app over the container's ledger and calendar and kept in
``app.state``. Routes catch a read model up before reading it, so a client sees its own writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from interfaces.composition import Vigil
from projections.actor_activity import ActorActivity
from projections.subject_history import SubjectHistory
from projections.work_queues import WorkQueues

T = TypeVar("T")

_lock = threading.Lock()


def _attached(request: Request, name: str, kind: type[T], build: Callable[[Vigil], T]) -> T:
    vigil: Vigil = request.app.state.vigil
    provided: Any = getattr(vigil, name, None)
    if isinstance(provided, kind):
        return provided
    with _lock:
        kept: Any = getattr(request.app.state, name, None)
        if isinstance(kept, kind):
            return kept
        built = build(vigil)
        setattr(request.app.state, name, built)
        return built


def work_queues(request: Request) -> WorkQueues:
    return _attached(
        request,
        "work_queues",
        WorkQueues,
        lambda vigil: WorkQueues(vigil.event_log, projector=vigil.projector),
    )


def subject_history(request: Request) -> SubjectHistory:
    return _attached(
        request,
        "subject_history",
        SubjectHistory,
        lambda vigil: SubjectHistory(vigil.event_log, projector=vigil.projector),
    )


def actor_activity(request: Request) -> ActorActivity:
    return _attached(
        request,
        "actor_activity",
        ActorActivity,
        lambda vigil: ActorActivity(vigil.event_log, projector=vigil.projector),
    )


WorkQueuesDep = Annotated[WorkQueues, Depends(work_queues)]
SubjectHistoryDep = Annotated[SubjectHistory, Depends(subject_history)]
ActorActivityDep = Annotated[ActorActivity, Depends(actor_activity)]
