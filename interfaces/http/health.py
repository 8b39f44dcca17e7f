"""Liveness and store reachability, for load balancers and uptime checks (no auth)."""

from __future__ import annotations

from fastapi import APIRouter

from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import error_responses
from interfaces.http.schemas import HealthAnswer

router = APIRouter(tags=["health"])


@router.get("/health", responses=error_responses(503))
def health(vigil: VigilDep) -> HealthAnswer:
    """Say whether the API is up and its store answers (503 store-unavailable if not)."""
    vigil.event_log.recorder.max_notification_id()
    return HealthAnswer(status="ok")
