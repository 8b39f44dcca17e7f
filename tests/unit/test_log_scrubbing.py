"""No token in the logs: the renderer masks anything shaped like a Vigil token
(vgl_<32 hex>_<secret>) or a JWT wherever it appears in a line, and leaves ordinary text alone."""

from __future__ import annotations

import base64
import json
import logging
from collections import namedtuple
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from infrastructure.logging import REDACTED, configure_logging, redact_secrets, scrub
from infrastructure.settings import Settings

SECRET = "Zq3xV9-kT_w8LmN2pR7sYbC4dE6fGhJ1"
TOKEN = f"vgl_{'3f2a9c1e' * 4}_{SECRET}"


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


JWT_HEADER = b64url({"alg": "RS256", "kid": "key-1", "typ": "JWT"})
JWT_PAYLOAD = b64url({"sub": "u-1", "preferred_username": "priya", "exp": 1795000000})
JWT_SIGNATURE = "dGhpcy1pcy1ub3QtYS1yZWFsLXNpZ25hdHVyZS1idXQtaXQtbG9va3MtbGlrZS1vbmU"
JWT = f"{JWT_HEADER}.{JWT_PAYLOAD}.{JWT_SIGNATURE}"


def test_a_vigil_token_is_masked_whole() -> None:
    assert scrub(TOKEN) == f"vgl_{REDACTED}"


def test_a_token_inside_a_longer_message_is_masked_and_the_message_kept() -> None:
    message = f"authentication failed for 'Bearer {TOKEN}' from 203.0.113.7; retrying"

    scrubbed = scrub(message)

    assert SECRET not in scrubbed
    assert TOKEN not in scrubbed
    assert (
        scrubbed == f"authentication failed for 'Bearer vgl_{REDACTED}' from 203.0.113.7; retrying"
    )


def test_every_token_in_a_line_is_masked() -> None:
    other = f"vgl_{'0' * 32}_another-Secret_value"
    scrubbed = scrub(f"old={TOKEN}, new={other}")
    assert scrubbed == f"old=vgl_{REDACTED}, new=vgl_{REDACTED}"


def test_a_jwt_is_masked_with_all_three_parts() -> None:
    scrubbed = scrub(f"Authorization: Bearer {JWT} (oidc)")

    for part in (JWT_HEADER, JWT_PAYLOAD, JWT_SIGNATURE):
        assert part not in scrubbed
    assert scrubbed == f"Authorization: Bearer jwt_{REDACTED} (oidc)"


def test_a_password_in_a_database_url_is_masked() -> None:
    scrubbed = scrub("connecting to postgresql://vigil:hunter2-pw@db.internal:5432/vigil")
    assert scrubbed == f"connecting to postgresql://vigil:{REDACTED}@db.internal:5432/vigil"


@pytest.mark.parametrize(
    "text",
    [
        "case 0b7c6d1e-9a4f-4c1b-8e2d-3f5a6b7c8d9e read by priya.lead",
        "request id 3f2a9c1e3f2a9c1e3f2a9c1e3f2a9c1e",
        "user vgl_reader (token id 6c1e2f3a-0000-4000-8000-000000000001) signed in",
        "GET https://vigil.example.org/api/v1/cases?purpose=audit&limit=50",
        "postgresql://postgres@127.0.0.1:5432/test?schema=vigil_test_1a2b",
        "Sam wrote: 'eyJ is not a word and neither is vgl_ on its own'",
        "",
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert scrub(text) == text


def test_the_renderer_masks_token_shaped_values_and_secret_named_keys_in_a_line() -> None:
    line = {
        "event": "authentication_failed",
        "reason": f"unknown token {TOKEN}",
        "Authorization": "Bearer something-opaque",
        "password": "not-shaped-like-anything",
        "oidc": JWT,
        "status": 401,
        "case_id": "0b7c6d1e-9a4f-4c1b-8e2d-3f5a6b7c8d9e",
    }

    scrubbed = redact_secrets(None, "warning", line)

    assert scrubbed == {
        "event": "authentication_failed",
        "reason": f"unknown token vgl_{REDACTED}",
        "Authorization": REDACTED,
        "password": REDACTED,
        "oidc": f"jwt_{REDACTED}",
        "status": 401,
        "case_id": "0b7c6d1e-9a4f-4c1b-8e2d-3f5a6b7c8d9e",
    }


def test_tokens_nested_in_dicts_and_lists_are_masked_too() -> None:
    line = {
        "event": "upstream_call",
        "headers": {"authorization": f"Bearer {TOKEN}", "accept": "application/json"},
        "tokens": [TOKEN, {"id_token": JWT}],
    }

    rendered = repr(redact_secrets(None, "info", line))

    assert SECRET not in rendered
    assert JWT_SIGNATURE not in rendered
    assert "application/json" in rendered


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back as it was afterwards."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    uvicorn = {
        name: (list(logging.getLogger(name).handlers), logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    }
    try:
        yield
    finally:
        structlog.configure(**saved)
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, (old, propagate) in uvicorn.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = old
            logger.propagate = propagate


@pytest.mark.parametrize("log_json", [True, False], ids=["json", "console"])
@pytest.mark.usefixtures("restore_logging")
def test_the_configured_renderer_writes_no_token_to_stderr(
    log_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given logging configured as the app configures it (to stderr)
    configure_logging(Settings(_env_file=None, log_json=log_json, log_level="INFO"))
    log = structlog.stdlib.get_logger("tests.log_scrubbing")

    # When tokens reach event fields, a message, a stdlib logger and a traceback
    log.warning("token_seen", presented=TOKEN, header=f"Bearer {JWT}", user="priya.lead")
    log.info(f"retrying with {TOKEN}")
    logging.getLogger("uvicorn.error").warning("bad request carrying %s", TOKEN)

    # Then none of them is on stderr, and the lines are otherwise intact
    err = capsys.readouterr().err
    for secret in (SECRET, JWT_PAYLOAD, JWT_SIGNATURE):
        assert secret not in err
    assert err.count(f"vgl_{REDACTED}") == 3
    assert f"jwt_{REDACTED}" in err
    for kept in ("token_seen", "priya.lead", "bad request carrying"):
        assert kept in err


@pytest.mark.parametrize("log_json", [True, False], ids=["json", "console"])
@pytest.mark.usefixtures("restore_logging")
def test_a_token_in_an_exception_message_is_masked_in_the_traceback(
    log_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(_env_file=None, log_json=log_json, log_level="INFO"))
    log = structlog.stdlib.get_logger("tests.log_scrubbing")

    try:
        raise ValueError(f"could not parse {TOKEN}")
    except ValueError:
        log.exception("parse_failed")

    err = capsys.readouterr().err
    assert "parse_failed" in err
    assert "ValueError: could not parse" in err
    assert SECRET not in err


def test_a_namedtuple_in_a_field_is_cleaned_not_broken() -> None:
    Pair = namedtuple("Pair", "token note")

    cleaned = redact_secrets(None, "info", {"event": "pair", "pair": Pair(TOKEN, "kept")})

    assert cleaned["pair"] == (f"vgl_{REDACTED}", "kept")
