"""Operations: readiness (``GET /ready``), Prometheus metrics (``GET /metrics``), the in-process
projector's lifetime, and the answer to a read whose ``min_position`` the views did not reach.

Like ``/health``, ``/ready`` and ``/metrics`` need no token: orchestrators and Prometheus
scrape them without credentials. They carry no personal data (view names, log positions,
route templates such as ``/api/v1/cases/{case_id}`` and status codes; never a path with an id,
a user name or a query string). Keep them off the public internet by where Vigil listens
(``vigil serve --host``) or by the reverse proxy, as for any metrics endpoint.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.availability import StoreUnavailable
from interfaces.composition import Vigil
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import Problem, problem_response
from projections.projector import Projector
from projections.status import ViewStatus

log = structlog.get_logger(__name__)

router = APIRouter(tags=["operations"])

METRICS_REGISTRY_KEY = "metrics_registry"
# Request latency buckets (seconds): a read is milliseconds; a min_position wait up to seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# --- readiness ---------------------------------------------------------------------------------


class ViewStatusRead(BaseModel):
    """Where one view stands against the event log."""

    name: str
    position: int = Field(description="Notification id of the last event the view applied.")
    head: int = Field(description="The log's last notification id.")
    lag_events: int
    lag_seconds: float = Field(
        description="How long the oldest event the view has not applied has been waiting, as "
        "observed by this process (0 when up to date)."
    )
    events_applied_total: int = Field(description="Applied by this process since it started.")
    rate: float = Field(description="Log positions per second over the last minute.")


class ReadyAnswer(BaseModel):
    status: str = Field(description="`ready`.")
    views: list[ViewStatusRead]


def _read(status: ViewStatus) -> ViewStatusRead:
    return ViewStatusRead(
        name=status.name,
        position=status.position,
        head=status.head,
        lag_events=status.lag_events,
        lag_seconds=status.lag_seconds,
        events_applied_total=status.events_applied_total,
        rate=round(status.rate, 3),
    )


@router.get(
    "/ready",
    responses={
        503: {
            "model": Problem,
            "description": "The store does not answer, or a view lags beyond the bound "
            "(`errors` names each lagging view), or a view's tracking position does not match "
            "the events it applied (`errors` names each such view).",
        }
    },
)
def ready(vigil: VigilDep, request: Request) -> Any:
    """Say whether this instance should get traffic: the store answers, every view applied
    every event up to its position, and is within VIGIL_READY_MAX_LAG_EVENTS events and
    VIGIL_READY_MAX_LAG_SECONDS seconds."""
    settings = vigil.settings
    statuses = vigil.projector.status()  # an unreachable store: 503 store-unavailable
    broken = [c for c in vigil.projector.continuity() if not c.consistent]
    if broken:
        # A view whose position passed events it never applied answers wrongly while it says
        # it is up to date: only a rebuild (``vigil rebuild``) mends it.
        log.error("view_position_inconsistent", views=[c.view for c in broken])
        return problem_response(
            503,
            "not-ready",
            "A view's position is not what it applied",
            f"{len(broken)} view(s) hold a tracking position that does not match the events "
            "they applied; rebuild them (vigil rebuild) and run vigil verify",
            instance=request.url.path,
            errors={c.view: c.describe() for c in broken},
            headers={"Retry-After": "5"},
        )
    lagging = {
        s.name: f"{s.lag_events} events and {s.lag_seconds:g} s behind the log"
        for s in statuses
        if s.lag_events > settings.ready_max_lag_events
        or s.lag_seconds > settings.ready_max_lag_seconds
    }
    if lagging:
        return problem_response(
            503,
            "not-ready",
            "Views are behind the log",
            f"{len(lagging)} view(s) lag beyond the bound "
            f"({settings.ready_max_lag_events} events or {settings.ready_max_lag_seconds:g} s)",
            instance=request.url.path,
            errors=lagging,
            headers={"Retry-After": "5"},
        )
    return ReadyAnswer(status="ready", views=[_read(s) for s in statuses])


# --- metrics ----------------------------------------------------------------------------------


class ProjectionCollector(Collector):
    """Projection series, read from the store at scrape time."""

    def __init__(self, projector: Projector) -> None:
        self._projector = projector

    def collect(self) -> Iterator[Metric]:
        try:
            statuses = self._projector.status()
        except StoreUnavailable:
            log.warning("metrics_store_unavailable")
            return
        position = GaugeMetricFamily(
            "vigil_projection_position",
            "Notification id of the last event the view applied.",
            labels=["view"],
        )
        head = GaugeMetricFamily("vigil_projection_head", "The event log's last notification id.")
        lag = GaugeMetricFamily(
            "vigil_projection_lag_events",
            "Events in the log the view has not applied.",
            labels=["view"],
        )
        lag_seconds = GaugeMetricFamily(
            "vigil_projection_lag_seconds",
            "How long the oldest unapplied event has waited (observed by this process).",
            labels=["view"],
        )
        applied = CounterMetricFamily(
            "vigil_projection_events_applied",
            "Events this process applied to the view.",
            labels=["view"],
        )
        batch = GaugeMetricFamily(
            "vigil_projection_last_batch_duration_seconds",
            "How long this process's last batch for the view took.",
            labels=["view"],
        )
        for s in statuses:
            position.add_metric([s.name], s.position)
            lag.add_metric([s.name], s.lag_events)
            lag_seconds.add_metric([s.name], s.lag_seconds)
            applied.add_metric([s.name], s.events_applied_total)
            if s.last_batch_seconds is not None:
                batch.add_metric([s.name], s.last_batch_seconds)
        head.add_metric([], max((s.head for s in statuses), default=0))
        yield from (position, head, lag, lag_seconds, applied, batch)


def build_registry(vigil: Vigil) -> tuple[CollectorRegistry, Histogram]:
    """A registry per app (not the global one), so several apps in a process do not collide."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectionCollector(vigil.projector))
    latency = Histogram(
        "vigil_http_request_duration_seconds",
        "HTTP request latency by route template, method and status.",
        labelnames=["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    return registry, latency


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text."}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: projection position, lag and throughput; HTTP request latency."""
    registry: CollectorRegistry = getattr(request.app.state, METRICS_REGISTRY_KEY)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# The server takes any token as a method; a label per made-up method would let any client
# add series (and memory) without end, so those are counted together.
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Times every request into the latency histogram, labelled by route template (never the
    raw path, which holds ids), method (made-up ones as ``other``) and status."""

    def __init__(self, app: ASGIApp, *, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METRIC_METHODS else "other"
            self.histogram.labels(method, route, str(status)).observe(time.perf_counter() - started)


# --- wiring -------------------------------------------------------------------------------------


def projector_lifespan(vigil: Vigil) -> Callable[[FastAPI], Any]:
    """Runs the projector in the server's process while it serves, when it should
    (``Vigil.follows_in_process``); servers started with lifespan off (tests) run none."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        follow = vigil.follows_in_process and vigil.projector.follower is None
        if follow:
            vigil.projector.start_in_thread()
        try:
            yield
        finally:
            if follow:
                vigil.projector.stop_following()

    return lifespan


def install_operations(app: FastAPI, vigil: Vigil) -> None:
    """Metrics registry and request timing."""
    registry, latency = build_registry(vigil)
    setattr(app.state, METRICS_REGISTRY_KEY, registry)
    app.add_middleware(RequestMetricsMiddleware, histogram=latency)
