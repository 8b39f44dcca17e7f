"""The web UI's audit page (``/ui/audit``): the access log, the signed checkpoints and whether the
hash ledger verifies, in plain words.

It reads what the API's audit reads do, with the same permissions: the access log as
``GET /api/v1/audit/access`` (``vigil.access_log.entries``, permission ``access.log_read``), the
checkpoints as ``GET /audit/checkpoints`` and the consistency between them as
``GET /audit/consistency`` (``vigil.integrity``, permission ``audit.read``). The page checks,
each time it is opened, every shown checkpoint's signature with the ledger's public key and that
each shown checkpoint extends the one before it (the RFC 9162 proof the API gives, verified);
on request (the "Verify the whole log now" button) it runs what ``vigil verify`` runs over the
log and the ledger (without rebuilding the views). Nothing here writes, and nothing it shows is
a case's content (the access log names who read what, never the content).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from application.integrity import signature_check
from domain.access.permissions import Permission, permits
from domain.errors import DomainError
from domain.integrity.export import check_checkpoint
from domain.integrity.ledger import Checkpoint
from domain.integrity.merkle import ProofError, verify_consistency
from domain.shared import EARLIEST_MOMENT, LATEST_MOMENT, MOMENT_RANGE
from infrastructure.integrity_keys import SigningKeyError
from interfaces.composition import Vigil
from interfaces.http.audit import DEFAULT_CHECKPOINTS
from interfaces.http.dependencies import VigilDep
from interfaces.http.problems import domain_status
from interfaces.web.auth import Person, PostingPerson, SignedIn, web_parts
from projections.notary import LedgerCorrupt
from projections.paging import DEFAULT_LIMIT

router = APIRouter(prefix="/ui", include_in_schema=False)
# One whole-log verification at a time in this process (see verify_now).
_VERIFYING = threading.Lock()

Text = Annotated[str, Query(max_length=200)]
Cursor = Annotated[str, Query(max_length=2000)]
# Checkpoints shown (and checked) on one page.
CHECKPOINTS_SHOWN = min(DEFAULT_CHECKPOINTS, 20)


class BadFilter(ValueError):
    """A filter the page cannot use: answered 422 with the form to correct it."""


def _base(person: SignedIn) -> dict[str, Any]:
    return {"person": person.actor, "csrf_token": person.csrf_token, "nav": "audit"}


def _day(text: str, label: str) -> date | None:
    value = text.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadFilter(f"'{label}' is not a date: give it as YYYY-MM-DD.") from None
    if not EARLIEST_MOMENT.date() < day < LATEST_MOMENT.date():
        raise BadFilter(f"'{label}' must be {MOMENT_RANGE}.")
    return day


# --- the access log ------------------------------------------------------------------------------


def _access_log(
    vigil: Vigil, zone: Any, filters: dict[str, str], cursor: str
) -> tuple[list[Any], str | None]:
    case_id = None
    if filters["case_id"]:
        try:
            case_id = UUID(filters["case_id"])
        except ValueError:
            raise BadFilter("The case must be a case id.") from None
    first = _day(filters["from"], "From")
    last = _day(filters["to"], "To")
    if first is not None and last is not None and last < first:
        raise BadFilter("'To' must not be before 'From'.")
    vigil.projector.catch_up()  # as GET /api/v1/audit/access does without min_position
    return vigil.access_log.entries(
        case_id=case_id,
        user=filters["user"].lower() or None,
        start=None if first is None else datetime.combine(first, time(0), zone),
        end=None if last is None else datetime.combine(last + timedelta(days=1), time(0), zone),
        limit=DEFAULT_LIMIT,
        cursor=cursor or None,
    )


# --- the ledger ----------------------------------------------------------------------------------


def _checked(checkpoints: list[Checkpoint], check: Any, vigil: Vigil) -> list[dict[str, Any]]:
    """Each checkpoint (newest first) with whether its signature verifies and whether it
    extends the next older one shown (the consistency proof, verified)."""
    rows = []
    for i, checkpoint in enumerate(checkpoints):
        finding = check_checkpoint(checkpoint, check)
        older = checkpoints[i + 1] if i + 1 < len(checkpoints) else None
        extends: bool | None = None
        if older is not None:
            try:
                proof = vigil.integrity.consistency(older.tree_size, checkpoint.tree_size)
                verify_consistency(
                    older.tree_size,
                    checkpoint.tree_size,
                    older.root_hash,
                    checkpoint.root_hash,
                    proof,
                )
                extends = True
            except (ProofError, LedgerCorrupt):
                extends = False
        rows.append(
            {
                "checkpoint": checkpoint,
                "signed_at": checkpoint.signed_at,
                "root": checkpoint.to_json()["root_hash"],
                "signature_ok": finding is None,
                "signature_problem": None if finding is None else finding.detail,
                "older": older,
                "extends": extends,
            }
        )
    return rows


def _ledger(vigil: Vigil, cursor: str, full: bool) -> dict[str, Any]:
    """What the page says about the hash ledger (raises SigningKeyError, LedgerCorrupt)."""
    integrity = vigil.integrity
    key = integrity.public_key()
    check = signature_check([key])
    state = integrity.notary.state()
    head = integrity.notary.head()
    try:
        checkpoints, next_cursor = integrity.checkpoints(
            limit=CHECKPOINTS_SHOWN, cursor=cursor or None
        )
    except ValueError as exc:
        raise BadFilter(str(exc)) from None
    latest = integrity.notary.latest_checkpoint()
    rows = _checked(checkpoints, check, vigil)
    latest_ok = latest is not None and check_checkpoint(latest, check) is None
    report = integrity.verify([key], views=False) if full else None
    return {
        "key_id": key.key_id,
        "tree_size": state.tree_size,
        "ledger_position": state.position,
        "head": head,
        "latest": latest,
        "latest_ok": latest_ok,
        "unsigned": max(0, state.tree_size - (latest.tree_size if latest else 0)),
        "rows": rows,
        "all_ok": all(r["signature_ok"] and r["extends"] is not False for r in rows)
        and (latest is None or latest_ok),
        "next_cursor": next_cursor,
        "report": report,
    }


@router.get("/audit")
def audit_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    case_id: Text = "",
    user: Text = "",
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
    to: Annotated[str, Query(max_length=40)] = "",
    cursor: Cursor = "",
    checkpoints: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    """The access log (for who may read it) and the ledger's checkpoints and verification (for
    who may read the ledger); 403 for anyone else, as the API answers them."""
    filters = {"case_id": case_id, "user": user, "from": from_, "to": to}
    return _audit(request, vigil, person, filters, cursor, checkpoints, full=False)


@router.post("/audit/verification")
def verify_now(request: Request, vigil: VigilDep, person: PostingPerson) -> Response:
    """The whole log checked now, as ``vigil verify`` checks it (without the views): a POST with
    the session's CSRF token, never a link, and one at a time in the process (it reads every
    event in one long read-only transaction): a second while one runs is told to wait (409)."""
    if not _VERIFYING.acquire(blocking=False):
        filters = {"case_id": "", "user": "", "from": "", "to": ""}
        return _audit(request, vigil, person, filters, "", "", full=False, busy=True)
    try:
        filters = {"case_id": "", "user": "", "from": "", "to": ""}
        return _audit(request, vigil, person, filters, "", "", full=True)
    finally:
        _VERIFYING.release()


def _audit(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    raw_filters: dict[str, str],
    cursor: str,
    checkpoints: str,
    *,
    full: bool,
    busy: bool = False,
) -> Response:
    renderer = web_parts(request).renderer
    actor = person.actor
    reads_log = permits(actor, Permission.ACCESS_LOG_READ)
    reads_ledger = permits(actor, Permission.AUDIT_READ)
    if not (reads_log or reads_ledger):
        return renderer.page(
            "audit.html",
            {**_base(person), "title": "Audit", "forbidden": True},
            status_code=403,
        )
    filters = {name: value.strip() for name, value in raw_filters.items()}
    context: dict[str, Any] = {
        **_base(person),
        "title": "Audit",
        "forbidden": False,
        "reads_log": reads_log,
        "reads_ledger": reads_ledger,
        "filters": filters,
        "entries": [],
        "next_url": None,
        "log_error": None,
        "ledger": None,
        "ledger_error": None,
        "checked_at": vigil.clock(),
        "full": full,
        "busy": busy,
        "checkpoints_cursor": checkpoints,
    }
    status = 200
    if reads_log:
        try:
            entries, next_cursor = _access_log(vigil, renderer.zone, filters, cursor)
        except (BadFilter, DomainError) as exc:
            status = 422 if isinstance(exc, BadFilter) else domain_status(exc, request)[0]
            context["log_error"] = exc.detail if isinstance(exc, DomainError) else str(exc)
        else:
            context["entries"] = entries
            if next_cursor:
                kept = {name: value for name, value in filters.items() if value}
                context["next_url"] = "/ui/audit?" + urlencode({**kept, "cursor": next_cursor})
    if reads_ledger:
        try:
            context["ledger"] = _ledger(vigil, checkpoints, full)
        except BadFilter as exc:
            status = 422
            context["ledger_error"] = str(exc)
        except SigningKeyError:
            status = 503
            context["ledger_error"] = (
                "The server cannot read the ledger's signing key, so nothing can be checked "
                "here (see VIGIL_SIGNING_KEY_FILE)."
            )
        except LedgerCorrupt as exc:
            context["ledger_error"] = f"The hash ledger is not intact: {exc}"
    return renderer.page("audit.html", context, status_code=409 if busy else status)
