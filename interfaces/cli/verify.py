"""``vigil verify`` and ``vigil verify-export``: what they print and how they exit.

Both print their verdict on stdout (one line, or JSON with ``--json``) and exit 0 when
everything verifies, 1 when something does not (naming the first position that does not
match), 2 for bad input (an unreadable key or file). ``verify-export`` needs no database and
no settings: only the file and the ledger's public key.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from application.integrity import VerifyReport, signature_check
from domain.integrity.export import Finding, check_export
from domain.integrity.ledger import Checkpoint
from infrastructure.integrity_keys import PublicKey, SigningKeyError, read_public_key
from interfaces.cli.common import EXIT_USAGE, fail, open_vigil
from interfaces.composition import Vigil

EXIT_OK = 0
EXIT_MISMATCH = 1
MAX_FINDINGS_SHOWN = 20


def verify(
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            help="The ledger's public key (PEM or base64), repeatable; default: the "
            "configured signing key's.",
        ),
    ] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint", help="A checkpoint you kept (JSON, or an export): check it too."
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as JSON.")] = False,
    views: Annotated[
        bool,
        typer.Option(
            "--views/--no-views",
            help="Also rebuild every view aside and compare its rows with the live view's "
            "(timed on its own). View positions and subject keys are checked either way.",
        ),
    ] = True,
) -> None:
    """Check the whole event log against the hash ledger: every leaf, root, signature and
    consistency proof; then the views and subject keys against the log. Exits 1 naming the
    first position that does not match; before the first checkpoint, says that nothing is signed
    yet and checks the events (exit 0 if they match)."""
    try:
        keys = read_keys(public_key or [])
        trusted = read_checkpoints(checkpoint or [])
    except SigningKeyError as exc:
        fail(str(exc), EXIT_USAGE)
    with open_vigil() as vigil:
        try:
            keys = keys or [vigil.integrity.configured_public_key()]
        except SigningKeyError as exc:
            # Before the first checkpoint no key need exist: nothing is signed yet, and the
            # events are checked all the same. A stored checkpoint without its key is a fault.
            if trusted or vigil.integrity.checkpoints(limit=1, cursor=None)[0]:
                fail(str(exc), EXIT_USAGE)
        code = run_verify(vigil, keys, trusted, progress=progress, as_json=as_json, views=views)
    raise typer.Exit(code)


def verify_export(
    file: Annotated[Path, typer.Argument(help="A case export (GET /api/v1/cases/{id}/export).")],
    public_key: Annotated[
        list[Path],
        typer.Option("--public-key", help="The ledger's public key (PEM or base64), repeatable."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="The verdict as JSON.")] = False,
) -> None:
    """Check a case export offline (no database): every stored event, inclusion proof and the
    checkpoint's signature. Exits 1 naming the first event that does not verify."""
    try:
        keys = read_keys(public_key)
    except SigningKeyError as exc:
        fail(str(exc), EXIT_USAGE)
    raise typer.Exit(run_verify_export(file, keys, as_json=as_json))


def read_keys(paths: Sequence[Path]) -> list[PublicKey]:
    """Public keys from files; raises SigningKeyError naming the file that is not one."""
    return [read_public_key(path) for path in paths]


def read_checkpoints(paths: Sequence[Path]) -> list[Checkpoint]:
    """Checkpoints an auditor kept (JSON as the API or an export gives them)."""
    found = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and "checkpoint" in data:
                data = data["checkpoint"]  # an export: its checkpoint
            found.append(Checkpoint.from_json(data))
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyError(f"{path} is not a readable checkpoint: {exc}") from None
    return found


def run_verify(
    vigil: Vigil,
    keys: Sequence[PublicKey],
    trusted: Sequence[Checkpoint],
    *,
    progress: bool,
    as_json: bool,
    views: bool = True,
) -> int:
    """Verify the whole log (and the views and keys); print the verdict; the exit code."""
    head = int(vigil.event_log.recorder.max_notification_id() or 0)
    with typer.progressbar(
        length=max(1, head),
        label="Verifying the log",
        file=sys.stderr,
        hidden=not progress,
        show_pos=True,
    ) as bar:

        def advance(done: int, total: int) -> None:
            bar.length = max(1, total)
            bar.update(done - bar.pos)

        report = vigil.integrity.verify(keys, trusted=trusted, progress=advance, views=views)
    if as_json:
        typer.echo(json.dumps(report_json(report)))
    else:
        for line in report_lines(report):
            typer.echo(line)
    return EXIT_OK if report.ok else EXIT_MISMATCH


def report_json(report: VerifyReport) -> dict[str, Any]:
    first = report.first
    return {
        "ok": report.ok,
        "events": report.events,
        "ledger_size": report.ledger_size,
        "checkpoints": report.checkpoints,
        "snapshots": report.snapshots,
        "snapshots_unsigned": report.snapshots_unsigned,
        "pending": report.pending,
        "unsigned": report.unsigned,
        "seconds": round(report.seconds, 3),
        "views_seconds": None if report.views_seconds is None else round(report.views_seconds, 3),
        "key_ids": report.key_ids,
        "first": None if first is None else finding_json(first),
        "findings": [finding_json(f) for f in report.findings],
    }


def finding_json(finding: Finding) -> dict[str, Any]:
    found = {
        "kind": finding.kind,
        "tree_index": finding.tree_index,
        "notification_id": finding.notification_id,
        "version": finding.version,
        "aggregate_id": finding.aggregate_id,
        "detail": finding.detail,
    }
    if finding.view is not None:
        found["view"] = finding.view
    if finding.key_id is not None:
        found["key_id"] = finding.key_id
    return found


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def report_lines(report: VerifyReport) -> list[str]:
    rate = report.events / report.seconds if report.seconds > 0 else 0.0
    keys = _count(len(report.key_ids), "key", "keys").split(" ", 1)[1]
    keys = f"{keys} {', '.join(report.key_ids)}" if report.key_ids else "no key"
    unsigned = (
        f" ({report.snapshots_unsigned:,} unsigned, ignored)" if report.snapshots_unsigned else ""
    )
    summary = (
        f"{_count(report.events, 'event', 'events')}, "
        f"{_count(report.ledger_size, 'leaf', 'leaves')}, "
        f"{_count(report.checkpoints, 'checkpoint', 'checkpoints')} "
        f"({keys}), "
        f"{_count(report.snapshots, 'snapshot', 'snapshots')}{unsigned} in {report.seconds:.1f} s "
        f"({rate:,.0f} events/s)"
    )
    if report.views_seconds is not None:
        summary += f"; views compared with their rebuild in {report.views_seconds:.1f} s"
    first = report.first
    if first is None:
        lines = [f"OK: the log matches the hash ledger: {summary}."]
        if not report.checkpoints:
            lines.append(
                "Nothing is signed yet: the store holds no checkpoint. The notary (in `vigil "
                "serve` or `vigil project`) signs the first after VIGIL_CHECKPOINT_EVERY_EVENTS "
                "events, or VIGIL_CHECKPOINT_EVERY_SECONDS seconds after the log grew."
            )
        if report.pending:
            lines.append(
                f"{_count(report.pending, 'newer event is', 'newer events are')} not in the "
                "ledger yet (pending)."
            )
        if report.unsigned:
            lines.append(
                f"{_count(report.unsigned, 'leaf is', 'leaves are')} after the last checkpoint "
                "(unsigned)."
            )
        return lines
    lines = [f"FAIL: {first}", f"checked: {summary}"]
    others = [f for f in report.findings if f is not first]
    lines.extend(f"also: {f}" for f in others[:MAX_FINDINGS_SHOWN])
    return lines


def run_verify_export(path: Path, keys: Sequence[PublicKey], *, as_json: bool) -> int:
    """Check an export file offline; print the verdict; the exit code."""
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        typer.echo(f"vigil: cannot read {path}: {exc.strerror}", err=True)
        return EXIT_USAGE
    except ValueError as exc:
        typer.echo(f"vigil: {path} is not JSON: {exc}", err=True)
        return EXIT_USAGE
    if not isinstance(document, dict):
        typer.echo(f"vigil: {path} is not a case export", err=True)
        return EXIT_USAGE
    findings = check_export(document, signature_check(keys))
    events = document.get("events")
    count = len(events) if isinstance(events, list) else 0
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": not findings,
                    "case_id": document.get("case_id"),
                    "events": count,
                    "findings": [finding_json(f) for f in findings],
                }
            )
        )
    elif not findings:
        checkpoint = document.get("checkpoint") or {}
        typer.echo(
            f"OK: {count} events of case {document.get('case_id')} are in the log as stored, "
            f"proven against the checkpoint at tree size {checkpoint.get('tree_size')} signed "
            f"by key {checkpoint.get('key_id')} at {checkpoint.get('signed_at')}."
        )
    else:
        typer.echo(f"FAIL: {findings[0]}")
        for finding in findings[1:MAX_FINDINGS_SHOWN]:
            typer.echo(f"also: {finding}")
    return EXIT_MISMATCH if findings else EXIT_OK
