"""OpenAPI fragments shared by the routers."""

from __future__ import annotations

from typing import Any

from interfaces.http.problems import error_responses

ETAG_HEADER = {
    "ETag": {
        "description": 'The case version, quoted ("7"): send it back as If-Match.',
        "schema": {"type": "string"},
    }
}

# Every case append can meet these; opening a case cannot meet 404, 409 or 412.
APPEND_ERRORS = (401, 403, 404, 409, 412, 413, 422, 503)
OPEN_ERRORS = (401, 403, 413, 422, 503)
READ_ERRORS = (401, 403, 404, 422)
LIST_ERRORS = (401, 403, 422)


def write_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        201: {
            "description": "Appended: where the case stands after the write (no subject, "
            "summary or referral details: read the case for those) and the new events. A retry "
            "with the same Idempotency-Key gets this same answer (header Idempotent-Replayed).",
            "headers": {
                **ETAG_HEADER,
                "Idempotent-Replayed": {
                    "description": "true when this answers a retried Idempotency-Key.",
                    "schema": {"type": "string"},
                },
            },
        },
        **error_responses(*statuses),
    }


def read_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"headers": ETAG_HEADER}, **error_responses(*statuses)}
