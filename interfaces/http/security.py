"""HTTP hardening: a limit on failed authentication, security headers, and CORS (closed unless
configured).

Failed authentication is counted per client address and per user a Vigil token names, in a
sliding window held in this process's memory. A client address over the limit is answered
429 without its credentials being checked at all; a request whose token names a user who is
over the limit is answered 429 instead of 401 when it fails, but a valid token for that user
still works, so nobody can lock a colleague out by sending bad tokens in their name.
Successful requests are never counted or slowed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.logging import get_logger
from infrastructure.settings import Settings
from interfaces.http.problems import problem_response

log = get_logger(__name__)

_MAX_KEYS = 10_000  # distinct addresses and users remembered; the oldest are forgotten first


class TooManyFailedAttempts(Exception):
    """Too many failed authentications from this address (or for this user): 429."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed authentication attempts")
        self.retry_after = retry_after


class FailedAuthLimiter:
    """A sliding window of failure times per key; thread-safe (auth runs in worker threads)."""

    def __init__(
        self, *, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None if it is under the limit."""
        now = self._clock()
        with self._lock:
            times = self._failures.get(key)
            if times is None:
                return None
            self._expire(times, now)
            if len(times) < self.limit:
                return None
            # The window slides: one more attempt is allowed when the oldest counted one expires.
            return max(0.0, times[-self.limit] + self.window - now)

    def record_failure(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._failures.pop(key, None) or deque()
            self._expire(times, now)
            times.append(now)
            while len(times) > self.limit:
                times.popleft()  # only the latest `limit` failures matter
            self._failures[key] = times
            while len(self._failures) > _MAX_KEYS:
                self._failures.popitem(last=False)

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()


def client_key(request: Request) -> str:
    # The peer address as the server saw it; behind a reverse proxy, run uvicorn with
    # --proxy-headers and --forwarded-allow-ips so this is the real client.
    host = request.client.host if request.client else "unknown"
    return f"address:{host}"


def limiter_of(request: Request) -> FailedAuthLimiter | None:
    limiter = getattr(request.app.state, "auth_limiter", None)
    return limiter if isinstance(limiter, FailedAuthLimiter) else None


async def _too_many(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TooManyFailedAttempts)
    seconds = max(1, math.ceil(exc.retry_after))
    return problem_response(
        429,
        "too-many-failed-attempts",
        "Too many failed authentication attempts",
        f"too many requests with invalid credentials; try again in {seconds} s",
        instance=request.url.path,
        headers={"Retry-After": str(seconds)},
    )


# --- headers -------------------------------------------------------------------------------------

# JSON needs no sources at all; nothing may frame any answer.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI as FastAPI serves it: its bundle and stylesheet from jsDelivr, an inline script to
# start it, the schema from this origin. The docs page holds no data.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})


class SecurityHeadersMiddleware:
    """Adds the security headers to every answer (errors and 413s included)."""

    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.common: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            # Case records are special-category data: no shared or browser cache may keep them.
            (b"cache-control", b"no-store"),
        ]
        if hsts_seconds > 0:
            self.common.append(
                (b"strict-transport-security", f"max-age={hsts_seconds}".encode("latin-1"))
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else API_CSP
        wanted = [*self.common, (b"content-security-policy", csp.encode("latin-1"))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(header for header in wanted if header[0] not in present)
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Headers a browser client sends and may read back (see API.md).
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "Retry-After",
    "Vigil-Position",
    "Idempotent-Replayed",
    "X-Request-ID",
]


def install_security(app: FastAPI, settings: Settings, **limiter_options: Any) -> None:
    """The auth failure limiter, the 429 answer, security headers and (if configured) CORS.

    Call after the other middleware: headers then wrap every answer, and CORS answers
    preflight requests before anything else runs.
    """
    app.state.auth_limiter = FailedAuthLimiter(
        limit=settings.auth_failure_limit,
        window_seconds=settings.auth_failure_window_seconds,
        **limiter_options,
    )
    app.add_exception_handler(TooManyFailedAttempts, _too_many)
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds)
    origins = settings.cors_origin_list
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,  # bearer tokens, no cookies
            max_age=600,
        )
