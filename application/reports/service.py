"""Compliance reports: a kind, a period of local dates, a service or all, and ``as_of``.

``ReportService.report`` counts what was recorded by ``as_of`` (default: the latest final moment,
to the second: now less the clock skew allowed, by which every write recorded has committed)
from the report facts (``projections.report_facts``), judges each clock by the SLA policy and
calendar in force when it started, and names the signed checkpoint whose tree holds every
event recorded by ``as_of`` (the first such checkpoint, signed on demand when none is yet), so
an auditor can check the figures against the ledger. Asked again with the same parameters, it
gives the same document, hence the same bytes (``document.to_json``), whatever was recorded,
re-versioned or rebuilt since. Reports never read a personal field, so their figures survive
erasure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from application.reports.builders import BUILDERS, Built
from application.reports.community import DEFAULT_SPIKE_MULTIPLE, community
from application.reports.definitions import REPORTS, ReportDefinition
from application.reports.document import assemble, first_difference, to_json
from domain.errors import InvalidCommand, ItemNotFound
from domain.integrity.ledger import Checkpoint
from projections.report_queries import ReportFacts, Scope

# The longest period one report covers (a year, and a leap day).
MAX_PERIOD_DAYS = 366


class UnknownReport(ItemNotFound):
    """No report of that kind: HTTP 404 (the kind is in the URL)."""

    title = "No such report"


class InvalidReportQuery(InvalidCommand):
    """A report asked for with a period, service or moment it cannot answer: HTTP 422."""

    title = "Invalid report request"


class CheckpointSource(Protocol):
    def checkpoint_covering(self, position: int) -> Checkpoint | None: ...


@dataclass(frozen=True)
class ReportRequest:
    kind: str
    start: date
    end: date
    service: str | None = None
    as_of: datetime | None = None


def format_moment(moment: datetime) -> str:
    """A moment as reports name it: RFC 3339 in UTC, microseconds only when it has them."""
    utc = moment.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


class ReportService:
    def __init__(
        self,
        facts: ReportFacts,
        checkpoints: CheckpointSource,
        *,
        clock: Callable[[], datetime],
        threshold: int,
        service_exists: Callable[[str], bool],
        max_clock_skew_seconds: int = 120,
        spike_multiple: float = DEFAULT_SPIKE_MULTIPLE,
    ) -> None:
        self._facts = facts
        self._checkpoints = checkpoints
        self._clock = clock
        self._threshold = threshold
        self._service_exists = service_exists
        self._skew = timedelta(seconds=max_clock_skew_seconds)
        self._spike_multiple = spike_multiple

    @staticmethod
    def definition(kind: str) -> ReportDefinition:
        found = REPORTS.get(kind)
        if found is None:
            allowed = ", ".join(REPORTS)
            raise UnknownReport(
                f"there is no report of kind {kind!r}; the kinds are: {allowed}",
                errors={"kind": f"must be one of: {allowed}"},
            )
        return found

    def resolve(self, request: ReportRequest) -> ReportRequest:
        """The request with ``as_of`` fixed (now, to the second, when not given), checked."""
        self.definition(request.kind)
        errors: dict[str, str] = {}
        if request.end < request.start:
            errors["to"] = "before 'from'"
        elif (request.end - request.start).days + 1 > MAX_PERIOD_DAYS:
            errors["to"] = f"a report covers at most {MAX_PERIOD_DAYS} days"
        now = self._clock()
        # A moment is final once every write recorded by it has committed: a write's recorded_at
        # is read before it commits, and servers' clocks may differ by up to the skew allowed.
        settled = now - self._skew
        as_of = request.as_of or settled.replace(microsecond=0)
        if as_of.tzinfo is None:
            errors["as_of"] = "needs a time zone offset"
        elif as_of > settled:
            errors["as_of"] = (
                f"too recent to be final: a report counts what was recorded by a moment at "
                f"least {int(self._skew.total_seconds())} s ago ({format_moment(settled)} or "
                "earlier); leave as_of out for the latest"
            )
        service = None if request.service is None else request.service.strip().lower()
        if service is not None and not self._service_exists(service):
            errors["service"] = "unknown service"
        if errors:
            raise InvalidReportQuery(
                "the report cannot be made as asked: "
                + "; ".join(f"{field} {problem}" for field, problem in errors.items()),
                errors=errors,
            )
        return ReportRequest(request.kind, request.start, request.end, service, as_of)

    def report(self, request: ReportRequest) -> dict[str, Any]:
        """The report's document (see ``application.reports.document``)."""
        request = self.resolve(request)
        assert request.as_of is not None
        definition = self.definition(request.kind)
        scope = Scope(request.start, request.end, request.service, request.as_of)
        built = self._build(request.kind, scope)
        position = self._facts.last_position_recorded_by(request.as_of)
        checkpoint = self._checkpoints.checkpoint_covering(position) if position else None
        return assemble(
            definition,
            built,
            parameters={
                "from": request.start.isoformat(),
                "to": request.end.isoformat(),
                "service": request.service,
                "as_of": format_moment(request.as_of),
            },
            checkpoint=None if checkpoint is None else _checkpoint(checkpoint),
            threshold=self._threshold,
        )

    def _build(self, kind: str, scope: Scope) -> Built:
        if kind == "community":
            return community(self._facts, scope, spike_multiple=self._spike_multiple)
        return BUILDERS[kind](self._facts, scope)

    def report_bytes(self, request: ReportRequest) -> bytes:
        return to_json(self.report(request))

    def check(self, saved: dict[str, Any]) -> str | None:
        """Recompute a saved report from its own parameters; None when it matches, else where
        it first differs."""
        try:
            parameters = saved["parameters"]
            request = ReportRequest(
                kind=str(saved["kind"]),
                start=date.fromisoformat(parameters["from"]),
                end=date.fromisoformat(parameters["to"]),
                service=parameters.get("service"),
                as_of=datetime.fromisoformat(parameters["as_of"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidReportQuery(
                "this is not a saved Vigil report",
                errors={"file": f"no kind or parameters ({error})"},
            ) from None
        if saved.get("definition_version") != self.definition(request.kind).version:
            return (
                f"definition_version: saved {saved.get('definition_version')!r}, "
                f"this Vigil makes {self.definition(request.kind).version}"
            )
        return first_difference(saved, self.report(request))


def _checkpoint(checkpoint: Checkpoint) -> dict[str, Any]:
    found = checkpoint.to_json()
    return {
        "tree_size": checkpoint.tree_size,
        "root_hash": found["root_hash"],
        "signed_at": format_moment(checkpoint.signed_at),
        "key_id": checkpoint.key_id,
    }
