"""The web UI's reports page: choose a report and a period, read it as HTML inside the UI's
layout, download it as CSV (a zip) or PDF under the session.

Every report is made by the same service as ``GET /api/v1/reports/{kind}`` (``vigil.reports``),
with the same permission check (``interfaces.http.reports.may_read``: the trustee pack needs
``report.read_trustee_pack``, every other kind ``report.read`` too) and the same rules for the
period, the service and ``as_of`` (a refusal is the form again with the service's message, 422).
The form is a GET, so a report's URL can be shared; the page's download links name the ``as_of``
the report was counted at, so the files are the same bytes as the API's for that ``as_of``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from application.reports.definitions import REPORTS, TRUSTEE
from application.reports.service import InvalidReportQuery, ReportRequest
from domain.access.permissions import Permission, permits
from domain.errors import DomainError
from domain.shared import Actor, Moment
from interfaces.composition import Vigil
from interfaces.http.dependencies import ViewsAtHead, VigilDep
from interfaces.reports import render_csv_zip, render_html_body, render_pdf
from interfaces.web.auth import Person, SignedIn, web_parts

router = APIRouter(prefix="/ui", include_in_schema=False)

# The kinds in plain words, in the order the form offers them.
KIND_WORDS = {
    "trustee": "Trustee pack (small counts suppressed)",
    "sla": "SLA report: each clock against its target",
    "helpline": "Helpline monitoring",
    "shifts": "Shifts and attendance",
    "moderation": "Moderation actions",
    "community": "Community (forum intake and welcomes)",
}
_MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)
_MEDIA = {"csv": "application/zip", "pdf": "application/pdf"}
_FIELD = Query(max_length=64)
Field = Annotated[str | None, _FIELD]
KindPath = Annotated[str, Path(max_length=32, description="The report kind.")]


def may_read(actor: Actor, kind: str) -> bool:
    """As the API decides: the trustee pack for those holding its permission, every other kind
    for those who may read every report."""
    if not permits(actor, Permission.TRUSTEE_PACK_READ):
        return False
    return kind == TRUSTEE.kind or permits(actor, Permission.REPORT_READ)


def readable_kinds(actor: Actor) -> list[dict[str, str]]:
    return [
        {"kind": kind, "words": KIND_WORDS.get(kind, definition.title)}
        for kind, definition in REPORTS.items()
        if may_read(actor, kind)
    ]


def default_period(kind: str, today: date) -> tuple[date, date]:
    """The last full quarter for the trustee pack, the last full month for every other kind."""
    first_of_month = today.replace(day=1)
    if kind != TRUSTEE.kind:
        end = first_of_month - timedelta(days=1)
        return end.replace(day=1), end
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = quarter_start - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


class _Refused(Exception):
    """The form's input cannot be read (a date or moment badly written, an unknown kind)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _parse(
    kind: str,
    start: str | None,
    end: str | None,
    service: str | None,
    as_of: str | None,
    today: date,
) -> ReportRequest:
    errors: dict[str, str] = {}
    if kind not in REPORTS:
        errors["kind"] = "choose one of the reports listed"
    default_start, default_end = default_period(kind, today)

    def day(name: str, text: str | None, default: date) -> date:
        if not text:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            errors[name] = "must be a date, e.g. 2026-10-01"
            return default

    first, last = day("from", start, default_start), day("to", end, default_end)
    moment: datetime | None = None
    if as_of:
        try:  # read as the API reads its as_of: RFC 3339 with an offset, in range
            moment = _MOMENT.validate_python(as_of)
        except ValidationError as invalid:
            errors["as_of"] = str(invalid.errors()[0]["msg"]).removeprefix("Value error, ")
    if errors:
        raise _Refused(errors)
    return ReportRequest(kind, first, last, service or None, moment)


def _today(request: Request, vigil: Vigil) -> date:
    """Today in the service's time zone (the periods are its local dates)."""
    return vigil.clock().astimezone(web_parts(request).renderer.zone).date()


def _services(vigil: Vigil) -> list[str]:
    return sorted(service.name for service in vigil.services.list_services())


def _forbidden(request: Request, person: SignedIn) -> Response:
    return web_parts(request).renderer.page(
        "reports_forbidden.html",
        {
            "title": "Not yours to read",
            "person": person.actor,
            "csrf_token": person.csrf_token,
            "nav": "reports",
        },
        status_code=403,
    )


def _form_page(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    chosen: dict[str, str],
    *,
    report: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "title": report["title"] if report else "Reports",
        "person": person.actor,
        "csrf_token": person.csrf_token,
        "nav": "reports",
        "kinds": readable_kinds(person.actor),
        "services": _services(vigil),
        "chosen": chosen,
        "errors": errors or {},
        "report": report,
        "body": render_html_body(report) if report else None,
        "downloads": _downloads(report) if report else None,
    }
    return web_parts(request).renderer.page("reports.html", context, status_code=status_code)


def _downloads(report: dict[str, Any]) -> dict[str, str]:
    parameters = report["parameters"]
    query = {"from": parameters["from"], "to": parameters["to"], "as_of": parameters["as_of"]}
    if parameters.get("service"):
        query["service"] = parameters["service"]
    encoded = urlencode(query)
    kind = report["kind"]
    return {fmt: f"/ui/reports/{kind}.{fmt}?{encoded}" for fmt in ("csv", "pdf")}


def _chosen(kind: str, request: ReportRequest | None, raw: dict[str, str | None]) -> dict[str, str]:
    """What the form shows chosen: what was sent, else the defaults."""
    shown = {key: value or "" for key, value in raw.items()}
    shown["kind"] = kind
    if request is not None:
        shown["from"] = shown["from"] or request.start.isoformat()
        shown["to"] = shown["to"] or request.end.isoformat()
    return shown


@router.get("/reports")
def reports_page(
    request: Request,
    vigil: VigilDep,
    person: Person,
    _caught_up: ViewsAtHead,
    kind: Field = None,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    service: Field = None,
    as_of: Field = None,
) -> Response:
    actor = person.actor
    kinds = readable_kinds(actor)
    if not kinds:
        return _forbidden(request, person)
    raw = {"from": start, "to": end, "service": service, "as_of": as_of}
    today = _today(request, vigil)
    if not kind:  # the form alone, with the first kind's default period
        first = kinds[0]["kind"]
        begin, finish = default_period(first, today)
        return _form_page(
            request,
            vigil,
            person,
            {
                "kind": first,
                "from": begin.isoformat(),
                "to": finish.isoformat(),
                "service": "",
                "as_of": "",
            },
        )
    if kind in REPORTS and not may_read(actor, kind):
        return _forbidden(request, person)
    try:
        asked = _parse(kind, start, end, service, as_of, today)
    except _Refused as refused:
        return _form_page(
            request,
            vigil,
            person,
            _chosen(kind, None, raw),
            errors=refused.errors,
            status_code=422,
        )
    try:
        report = vigil.reports.report(asked)
    except InvalidReportQuery as exc:
        return _form_page(
            request,
            vigil,
            person,
            _chosen(kind, asked, raw),
            errors={**exc.errors, "": exc.detail},
            status_code=422,
        )
    return _form_page(request, vigil, person, _chosen(kind, asked, raw), report=report)


def _download(
    request: Request,
    vigil: Vigil,
    person: SignedIn,
    kind: str,
    fmt: str,
    raw: dict[str, str | None],
) -> Response:
    if kind not in REPORTS or not may_read(person.actor, kind):
        return _forbidden(request, person)
    try:
        asked = _parse(
            kind, raw["from"], raw["to"], raw["service"], raw["as_of"], _today(request, vigil)
        )
        report = vigil.reports.report(asked)
    except _Refused as refused:
        return _form_page(
            request,
            vigil,
            person,
            _chosen(kind, None, raw),
            errors=refused.errors,
            status_code=422,
        )
    except DomainError as exc:
        return _form_page(
            request,
            vigil,
            person,
            _chosen(kind, None, raw),
            errors={**exc.errors, "": exc.detail},
            status_code=422,
        )
    name = f"vigil-{kind}-{asked.start.isoformat()}-{asked.end.isoformat()}"
    content = render_csv_zip(report) if fmt == "csv" else render_pdf(report)
    extension = "zip" if fmt == "csv" else "pdf"
    return Response(
        content,
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{extension}"'},
    )


@router.get("/reports/{kind}.csv")
def report_csv(
    request: Request,
    vigil: VigilDep,
    person: Person,
    _caught_up: ViewsAtHead,
    kind: KindPath,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    service: Field = None,
    as_of: Field = None,
) -> Response:
    raw = {"from": start, "to": end, "service": service, "as_of": as_of}
    return _download(request, vigil, person, kind, "csv", raw)


@router.get("/reports/{kind}.pdf")
def report_pdf(
    request: Request,
    vigil: VigilDep,
    person: Person,
    _caught_up: ViewsAtHead,
    kind: KindPath,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    service: Field = None,
    as_of: Field = None,
) -> Response:
    raw = {"from": start, "to": end, "service": service, "as_of": as_of}
    return _download(request, vigil, person, kind, "pdf", raw)
