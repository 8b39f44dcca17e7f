"""Compliance reports: the kinds and what they hold, one report in JSON, CSV, HTML or PDF, and
each kind's JSON Schema.

A report counts what was recorded by ``as_of`` (default: now, to the second), judges each SLA
clock by the policy and calendar in force when it started, and names the signed checkpoint that
covers ``as_of``; the same request (every parameter, ``as_of`` included) answers the same bytes
in JSON and CSV whenever it is asked. Reports hold figures, never case content; the trustee pack
shows small counts as "fewer than N".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from application.reports.definitions import REPORTS, TRUSTEE, json_schema
from application.reports.document import to_json
from application.reports.service import InvalidReportQuery, ReportRequest
from domain.access.permissions import Permission, check, permits
from domain.shared import Actor, Moment
from interfaces.http.dependencies import ViewsAtHead, VigilDep, require
from interfaces.http.problems import error_responses
from interfaces.reports import render_csv, render_csv_zip, render_html, render_pdf

TAG = {
    "name": "reports",
    "description": "Compliance and monitoring reports (trustee pack, SLA, helpline monitoring, "
    "shifts, moderation, community) that reproduce exactly: the same parameters with as_of give "
    "the same bytes, and name the signed checkpoint an auditor checks them against.",
}
router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

# Every route needs the trustee pack's permission (trustees hold that one only); every kind but
# the trustee pack also needs report.read (checked in the route: the kind is in the path).
ReportReader = Annotated[Actor, Depends(require(Permission.TRUSTEE_PACK_READ))]
KindPath = Annotated[
    str,
    Path(description="The report kind: " + ", ".join(REPORTS), examples=["trustee"]),
]
Format = Literal["json", "csv", "html", "pdf"]

_MEDIA = {
    "json": "application/json",
    "csv": "application/zip",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


@router.get("", summary="The report kinds and their sections")
def list_reports(actor: ReportReader) -> dict[str, Any]:
    """The report kinds the caller may read (a trustee: the trustee pack), with their sections
    and tables and their definition's version."""
    every = permits(actor, Permission.REPORT_READ)
    return {
        "items": [
            {
                "kind": d.kind,
                "title": d.title,
                "description": d.description,
                "definition_version": d.version,
                "suppressed": d.suppressed,
                "sections": [
                    {
                        "key": s.key,
                        "title": s.title,
                        "tables": [{"key": t.key, "title": t.title} for t in s.tables],
                    }
                    for s in d.sections
                ],
                "schema": f"/api/v1/reports/{d.kind}/schema",
            }
            for d in REPORTS.values()
            if every or d.kind == TRUSTEE.kind
        ],
        "next_cursor": None,
    }


@router.get(
    "/{kind}/schema",
    summary="The JSON Schema of one kind's report",
    responses=error_responses(404),
)
def report_schema(kind: KindPath, actor: ReportReader, vigil: VigilDep) -> dict[str, Any]:
    """The JSON Schema (2020-12) a report of this kind validates against."""
    return json_schema(vigil.reports.definition(kind))


def _may_read(actor: Actor, kind: str) -> None:
    if kind != TRUSTEE.kind:
        check(actor, Permission.REPORT_READ)


@router.get(
    "/{kind}",
    summary="One report, for a period, a service or all, as of a moment",
    responses={
        **error_responses(404, 422),
        200: {
            "content": {
                "application/json": {},
                "application/zip": {},
                "text/csv": {},
                "text/html": {},
                "application/pdf": {},
            },
            "description": "The report in the format asked for.",
        },
    },
)
def get_report(
    kind: KindPath,
    actor: ReportReader,
    vigil: VigilDep,
    _caught_up: ViewsAtHead,
    start: Annotated[
        date,
        Query(alias="from", description="First day of the period (the service's local date)."),
    ],
    end: Annotated[date, Query(alias="to", description="Last day of the period, included.")],
    service: Annotated[
        str | None, Query(description="One service's report; default: every service.")
    ] = None,
    as_of: Annotated[
        Moment | None,
        Query(
            description="Count only what was recorded by this moment (RFC 3339 with offset), "
            "at least the allowed clock skew (2 min by default) ago: a later moment is not "
            "final yet (422). Default: the latest final moment, to the second. The same as_of "
            "gives the same report, whatever was recorded since.",
        ),
    ] = None,
    format: Annotated[
        Format,
        Query(description="json (the reference), csv (a zip of one file per table), html or pdf."),
    ] = "json",
    table: Annotated[
        str | None,
        Query(
            description="With format=csv: only this table, as one CSV file "
            "(`section__table`, as the zip names them)."
        ),
    ] = None,
) -> Response:
    """A report; JSON and CSV are the same bytes for the same parameters, whenever asked. The
    trustee pack needs `report.read_trustee_pack`; every other kind `report.read` too."""
    _may_read(actor, kind)
    document = vigil.reports.report(ReportRequest(kind, start, end, service, as_of))
    name = f"vigil-{kind}-{start.isoformat()}-{end.isoformat()}"
    if format == "json":
        return Response(to_json(document), media_type=_MEDIA["json"])
    if format == "csv":
        if table is not None:
            files = render_csv(document)
            wanted = f"{table}.csv"
            if wanted not in files:
                allowed = ", ".join(f.removesuffix(".csv") for f in sorted(files))
                raise InvalidReportQuery(
                    f"the report has no table {table!r}",
                    errors={"table": f"must be one of: {allowed}"},
                )
            return Response(
                files[wanted],
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}-{wanted}"'},
            )
        return Response(
            render_csv_zip(document),
            media_type=_MEDIA["csv"],
            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
    if format == "html":
        return Response(render_html(document), media_type=_MEDIA["html"])
    return Response(
        render_pdf(document),
        media_type=_MEDIA["pdf"],
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )
