"""Half-open intervals of time ``[start, end)``: merged, clipped and subtracted.

Rota gaps are interval arithmetic: the out-of-hours periods of a service minus the on-call
shifts planned over them; a person's weekly hours are the union of their shifts, so two shifts
planned over the same hours (two roles at once) count once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

Interval = tuple[datetime, datetime]
"""From ``start`` (included) to ``end`` (excluded), aware. Results are in UTC: Python compares
and subtracts two datetimes of the same zone by their wall clocks, which is wrong across a
clock change (an October night would lose its repeated hour)."""


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of ``intervals``, sorted, overlapping and touching ones joined; empty dropped."""
    merged: list[Interval] = []
    in_utc = ((s.astimezone(UTC), e.astimezone(UTC)) for s, e in intervals)
    for start, end in sorted(i for i in in_utc if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of ``intervals`` inside ``[start, end)``, merged."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    return merge((max(s, start), min(e, end)) for s, e in merge(intervals))


def subtract(intervals: Iterable[Interval], removed: Iterable[Interval]) -> list[Interval]:
    """What of ``intervals`` no interval of ``removed`` covers, merged."""
    holes = merge(removed)
    result: list[Interval] = []
    for start, end in merge(intervals):
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                result.append((cursor, h_start))
            cursor = max(cursor, h_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def total_seconds(intervals: Iterable[Interval]) -> float:
    """The length of the union of ``intervals``, in seconds."""
    return sum((end - start).total_seconds() for start, end in merge(intervals))
