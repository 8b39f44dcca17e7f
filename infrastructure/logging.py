"""Logging: structlog for Vigil's own logs, and the same formatting for stdlib loggers (uvicorn).

One handler on the root logger renders every record, so a line from uvicorn and a
line from a route look alike and carry the context the HTTP middleware binds
(``request_id``, ``actor``, ``case_id``) through ``structlog.contextvars``.

Safeguarding records are special-category data, so logs carry ids, never the
content: nothing here logs a field of an event. As a second line of defence the
renderer masks anything shaped like a Vigil token or a password in a URL, and the
values of keys that name a secret, wherever they appear in a line.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from infrastructure.settings import Settings

REDACTED = "[redacted]"
SECRET_KEYS = frozenset(
    {"token", "authorization", "password", "secret", "api_key", "cookie", "set-cookie"}
)
# A bearer token as IdentityService issues it: vgl_<user id hex>_<secret>.
_TOKEN = re.compile(r"\bvgl_[0-9a-f]{32}_[A-Za-z0-9_-]+")
# A JWT (OpenID Connect bearer tokens): base64url header starting '{"', payload, signature.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# The password in scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")


def scrub(text: str) -> str:
    """Mask Vigil tokens, JWTs and URL passwords in a piece of text."""
    if "vgl_" in text:
        text = _TOKEN.sub("vgl_" + REDACTED, text)
    if "eyJ" in text:
        text = _JWT.sub("jwt_" + REDACTED, text)
    if "://" in text:
        text = _URL_PASSWORD.sub(r"\1" + REDACTED + "@", text)
    return text


def _clean(key: object, value: object) -> object:
    """The value with secrets masked: under a key that names a secret, all of it; in text,
    what looks like one; in dicts, lists and tuples, at any depth."""
    if isinstance(key, str) and key.lower() in SECRET_KEYS:
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _clean(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # A plain list or tuple back: a namedtuple's own type would not take one argument.
        cleaned = [_clean(None, item) for item in value]
        return cleaned if isinstance(value, list) else tuple(cleaned)
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Mask secrets in every value of a log line, whoever logged it."""
    for key, value in event_dict.items():
        event_dict[key] = _clean(key, value)
    return event_dict


_ESSENTIALS = ("timestamp", "level", "logger", "event")


def _essentials_first(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """When, how bad, where and what lead each JSON line; the context follows."""
    ordered = {key: event_dict.pop(key) for key in _ESSENTIALS if key in event_dict}
    ordered.update(event_dict)
    return ordered


def _level(name: str) -> int:
    levels = logging.getLevelNamesMapping()
    try:
        return levels[name.strip().upper()]
    except KeyError:
        raise ValueError(
            f"unknown log level {name!r}: use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        ) from None


def configure_logging(settings: Settings) -> None:
    """Send every log line, structlog's and the stdlib's, to stderr as JSON lines or for a console.

    Safe to call again (the CLI and tests do): the root logger's handlers are replaced.
    """
    level = _level(settings.log_level)
    shared: list[Processor] = [
        # First, so the request context bound by the HTTP middleware is on every line.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # No ExtraAdder: a library's `extra` fields are not ours to vouch for (uvicorn's hold
        # ANSI colour codes; others could hold anything).
    ]
    if settings.log_json:
        # Tracebacks become a string field first, so redaction sees them too.
        final: list[Processor] = [
            structlog.processors.format_exc_info,
            redact_secrets,
            _essentials_first,
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        # A plain traceback (rich's default shows local variables, and locals can hold tokens),
        # made text before redaction as in JSON, so a token in an exception's message is masked.
        final = [
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            ),
        ]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from stdlib loggers (uvicorn, eventsourcing) get the same fields first.
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn attaches handlers of its own when it configures logging; ours must be the only ones.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A module's logger: ``log = get_logger(__name__)``."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


__all__ = ["configure_logging", "get_logger", "redact_secrets", "scrub"]
