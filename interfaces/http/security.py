"""HTTP hardening: a limit on failed authentication, security headers, and CORS (closed unless
configured).

Failed authentication is counted in a sliding window held in this process's memory, and only
failures are ever refused: a request's credential is always checked first, and a valid,
unexpired, unrevoked one is answered whatever the counters say. A counter can slow whoever keeps
sending bad credentials (429 with Retry-After instead of 401, and a log line), never lock anyone
out; that matters because every key a counter could have is something an attacker can choose:

- The client address: the TCP peer, or, only when the peer is one of ``VIGIL_TRUSTED_PROXIES``,
  the client that proxy names in X-Forwarded-For (uvicorn resolves it; ``vigil serve`` passes it
  the setting). Forwarded headers from anyone else are ignored, so a client cannot start a fresh
  counter by naming another address in a header. An IPv6 client is counted by its /64, the block
  one subscriber is given, so hopping between its addresses does not start fresh counters either.
  Clients sharing an address (one NAT, or a proxy not listed as trusted) share a counter: their
  failures slow each other, their valid tokens still work.
- The user a Vigil token names (``vgl_<user id>_<secret>``): the id is no secret and anyone can
  write a token naming it, which is why this key may only ever refuse failures. It is there so
  that bad tokens spread over many addresses are slowed and logged too; past the limit, failures
  naming that user (their own expired token included) are answered 429 instead of 401. A
  failed JWT is counted by address only: the user it names is as unproven as the rest of it.

Nothing else can be a key: before a credential is verified, the request holds nothing an
attacker cannot choose, and after, it is a success and is not counted. Nor is the limit what
stops guessing (a token's secret is 256 random bits; a JWT's signature cannot be forged), so
every credential is checked, even from an address over the limit. Requests without a
credential are not failures.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infrastructure.logging import get_logger
from infrastructure.settings import Settings
from interfaces.http.problems import TooManyFailedAttempts

log = get_logger(__name__)

_MAX_KEYS = 10_000  # distinct addresses and users remembered; the oldest are forgotten first


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
    """The failure counter of the request's client address (see the module docstring)."""
    # uvicorn has already put the real client here when the peer is a trusted proxy.
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"address:{host}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"address:{address}"


def count_failure(request: Request, token_user: UUID | None) -> None:
    """Count a failed authentication against its address (and the user its token names);
    raise TooManyFailedAttempts if either was already over the limit."""
    limiter = limiter_of(request)
    if limiter is None:
        return
    keys = [client_key(request)]
    if token_user is not None:
        keys.append(f"user:{token_user}")
    waits = {key: wait for key in keys if (wait := limiter.retry_after(key)) is not None}
    for key in keys:
        limiter.record_failure(key)
    if waits:
        log.warning(
            "authentication_rate_limited",
            scope=",".join(key.partition(":")[0] for key in waits),
        )
        raise TooManyFailedAttempts(max(waits.values()))


def forwarded_header_options(trusted_proxies: list[str]) -> dict[str, Any]:
    """uvicorn's options that make it believe X-Forwarded-For/-Proto from these proxies only.

    uvicorn's own default believes them from 127.0.0.1, so a client on the same host (or
    behind a local proxy that passes the header on) could name any address it liked.
    """
    return {"proxy_headers": bool(trusted_proxies), "forwarded_allow_ips": list(trusted_proxies)}


def limiter_of(request: Request) -> FailedAuthLimiter | None:
    limiter = getattr(request.app.state, "auth_limiter", None)
    return limiter if isinstance(limiter, FailedAuthLimiter) else None


# --- headers -------------------------------------------------------------------------------------

# JSON needs no sources at all; nothing may frame any answer.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI as interfaces/http/swagger.py serves it: its bundle, stylesheet and starting script
# from this origin only (no inline script, no other origin: it works on a closed network), the
# schema from this origin; images also as data: URIs (the stylesheet's icons). No data on it.
DOCS_CSP = (
    "default-src 'none'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self' data:; "
    "connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
# The web UI (interfaces/web): its own scripts (HTMX) and stylesheet only, never inline; forms
# post to this origin only; HTMX's requests go to this origin only.
UI_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)
UI_PREFIX = "/ui/"


def csp_for(path: str) -> str:
    """The content security policy of an answer at ``path``."""
    if path in DOCS_PATHS:
        return DOCS_CSP
    if path.startswith(UI_PREFIX) or path == UI_PREFIX.rstrip("/"):
        return UI_CSP
    return API_CSP


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
        csp = csp_for(scope["path"])
        wanted = [*self.common, (b"content-security-policy", csp.encode("latin-1"))]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(header for header in wanted if header[0] not in present)
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Headers a browser client of the API sends (credentials, a write's key and expected version),
# and those of an answer it may read back (version, position to read at, when to retry).
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
    """The auth failure limiter, security headers and (if configured) CORS.

    Call after the other middleware: headers then wrap every answer, and CORS answers
    preflight requests before anything else runs.
    """
    app.state.auth_limiter = FailedAuthLimiter(
        limit=settings.auth_failure_limit,
        window_seconds=settings.auth_failure_window_seconds,
        **limiter_options,
    )
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
