"""``vigil verify``'s checks of what the application role could change beside the log: the
views (their tracking positions and their rows) and the subject keys.

The hash ledger proves the log; everything else in the database is derived from it or stands
beside it, writable by the role Vigil runs as. So each is held against the log:

- **view-skipped**: a view's tracking position is not the count of events it applied (moved
  past events it never applied, moved back, or beyond the log's head). Named by view and
  position.
- **view-mismatch**: a view rebuilt aside from the log, at the live view's position, holds other
  rows than the live view (a row deleted, added or altered). Named by view, table and the
  first log position among the rows that differ (where the table has positions).
- **view-not-compared**: the live view's position stayed out of the rebuild's reach.
- **key-destroyed-without-erasure**: a subject key reads as destroyed (its personal data shows
  as erased) but no ``SubjectErased`` in the log names it. Named by key id.

No finding carries a row's content or personal data: names, counts, positions and key ids.
"""

from __future__ import annotations

import time
from typing import Any

from domain.integrity.export import Finding
from domain.subject.events import SubjectErased
from infrastructure.keys import SubjectKeyring
from infrastructure.persistence import view_decoder
from projections.projector import Projector

ERASURE_TOPIC = f"{SubjectErased.__module__}:{SubjectErased.__qualname__}"
READ_BATCH = 1000


def check_view_positions(projector: Projector) -> list[Finding]:
    """Every view's tracking position against the count of events it applied."""
    return [
        Finding(
            "view-skipped",
            f"view {found.view}: {found.describe()}",
            notification_id=found.position,
            view=found.view,
        )
        for found in projector.continuity()
        if not found.consistent
    ]


def check_view_rows(projector: Projector) -> list[Finding]:
    """Every view against the same view rebuilt aside from the log."""
    differences, not_compared = projector.compare_with_rebuild()
    findings = [
        Finding(
            "view-mismatch",
            f"view {difference.view}: {difference.describe()}",
            notification_id=difference.first_position,
            view=difference.view,
        )
        for difference in differences
    ]
    findings.extend(
        Finding(
            "view-not-compared",
            f"view {name}: its position stayed out of reach of its rebuild from the log (see "
            "view-skipped), so its rows were not compared",
            view=name,
        )
        for name in not_compared
    )
    return findings


def erased_key_ids(event_log: Any) -> set[str]:
    """The key ids every ``SubjectErased`` in the log names."""
    decode = view_decoder(event_log)
    named: set[str] = set()
    start = 1
    while True:
        notifications = event_log.recorder.select_notifications(
            start=start, limit=READ_BATCH, topics=[ERASURE_TOPIC]
        )
        for notification in notifications:
            event = decode(notification)
            if isinstance(event, SubjectErased):
                named.update(event.key_ids)
        if len(notifications) < READ_BATCH:
            return named
        start = notifications[-1].id + 1


def check_subject_keys(event_log: Any, keyring: SubjectKeyring) -> list[Finding]:
    """Every destroyed subject key against the erasures recorded in the log."""
    destroyed = keyring.destroyed_key_ids()
    if not destroyed:
        return []
    recorded = erased_key_ids(event_log)
    return [
        Finding(
            "key-destroyed-without-erasure",
            f"subject key {key_id} is destroyed (what it sealed reads as erased) but no "
            "SubjectErased in the log names it",
            key_id=key_id,
        )
        for key_id in destroyed
        if key_id not in recorded
    ]


def check_beside_the_log(
    event_log: Any, projector: Projector | None, keyring: SubjectKeyring | None, *, views: bool
) -> tuple[list[Finding], float]:
    """The checks above (the row comparison only with ``views``): findings, and the seconds
    the comparison took (0 without it)."""
    findings: list[Finding] = []
    if keyring is not None:
        findings.extend(check_subject_keys(event_log, keyring))
    seconds = 0.0
    if projector is not None:
        findings.extend(check_view_positions(projector))
        if views:
            started = time.perf_counter()
            findings.extend(check_view_rows(projector))
            seconds = time.perf_counter() - started
    return findings, seconds
