"""The community report's figures: new members welcomed, flags, and engagement with its spikes.

Counted from the report facts in a scope, like every other kind (``builders``): the welcome
clock of each member who joined the forum in the period (started when their account was made
there, due by the SLA policy and calendar in force then, stopped by their first welcome recorded
by ``as_of``); every flag (a case opened from one, a flag raised on a case) by its category and
its case's channel; and the topics and posts a forum's deliveries brought, per category and
local day.

A **spike** ("watch for increase in engagement on particular subjects", seed 000): a day whose
posts in a category exceed ``spike_multiple`` times the median posts a day of that category over
the ``TRAILING_DAYS`` days before it (a day without a post counts as 0), and number at least
``SPIKE_MINIMUM_POSTS`` (so that 3 posts after a silent month are not a spike). The trailing
days before the period's first day are read with the same ``as_of`` rule as the period's. The
multiple is a setting (``VIGIL_ENGAGEMENT_SPIKE_MULTIPLE``); the document states the rule used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median
from typing import Any

from application.reports.builders import Built, _counted, _round, clock_status
from projections.report_queries import ReportFacts, Row, Scope

DEFAULT_SPIKE_MULTIPLE = 2.0
# A day needs at least this many posts in a category to be marked a spike.
SPIKE_MINIMUM_POSTS = 5
# The days before a day whose median posts it is compared with.
TRAILING_DAYS = 28
# A day is judged only with at least this many days of history before it (half the window).
MINIMUM_HISTORY_DAYS = TRAILING_DAYS // 2

WELCOME_STATUSES = {
    "met": "welcomed in time",
    "breached": "welcomed late",
    "open": "not yet welcomed, within target",
    "open_overdue": "not yet welcomed, overdue",
}
_NO_CATEGORY = "uncategorised"


@dataclass(frozen=True)
class _Where:
    """A forum category of a service: its id (when the forum gave one), else its slug."""

    service: str
    category_id: int | None
    slug: str | None

    def key(self) -> tuple[str, int, str]:
        return (self.service, -1 if self.category_id is None else self.category_id, self.slug or "")


def _where(row: Row) -> _Where:
    raw = row["category_id"]
    category_id = int(raw) if raw is not None else None
    # One category per forum id, whatever slug it had; a slug alone only when there is no id.
    slug = None if category_id is not None else row["category"]
    return _Where(str(row["service"]), category_id, slug)


def community(
    facts: ReportFacts, scope: Scope, *, spike_multiple: float = DEFAULT_SPIKE_MULTIPLE
) -> Built:
    out = Built()
    _new_members(facts, scope, out)
    _flags(facts, scope, out)
    _engagement(facts, scope, out, spike_multiple)
    return out


def _new_members(facts: ReportFacts, scope: Scope, out: Built) -> None:
    clocks = facts.clocks(scope, ("new_member_welcomed",))
    out.judged(clocks)
    joined = len(facts.facts(scope, "member_joined"))
    statuses = Counter(clock_status(row, scope.as_of) for row in clocks)
    in_time = statuses["met"]
    decided = in_time + statuses["breached"] + statuses["open_overdue"]
    out.tables["new_members.summary"] = [
        {
            "joined": joined,
            "welcomed_in_time": in_time,
            "welcomed_late": statuses["breached"],
            "not_yet_welcomed": statuses["open"] + statuses["open_overdue"],
            # Of the members whose clock has run its course (welcomed, or past due): one still
            # within its target is neither in time nor late yet.
            "in_time_percent": _round(100 * in_time / decided) if decided else None,
            "targets": sorted({str(row["target"]) for row in clocks}),
        }
    ]
    out.tables["new_members.by_status"] = [
        {"status": label, "members": statuses.get(status, 0)}
        for status, label in WELCOME_STATUSES.items()
    ]


def _flags(facts: ReportFacts, scope: Scope, out: Built) -> None:
    flags = facts.facts(scope, "flag")
    out.judged(flags)
    t = out.tables
    t["flags.by_category"] = _counted(flags, lambda r: r["category"], "category", "flags")
    t["flags.by_channel"] = _counted(flags, lambda r: r["channel"], "channel", "flags")
    pairs = Counter((r["category"] or "unspecified", r["channel"] or "unspecified") for r in flags)
    t["flags.by_category_and_channel"] = [
        {"category": category, "channel": channel, "flags": n}
        for (category, channel), n in sorted(pairs.items())
    ]


def _engagement(facts: ReportFacts, scope: Scope, out: Built, multiple: float) -> None:
    window = Scope(
        scope.start - timedelta(days=TRAILING_DAYS), scope.end, scope.service, scope.as_of
    )
    rows = facts.activity_counts(window)
    # Engagement history begins with a service's first recorded topic or post: days before it
    # are not quiet days (Vigil could not see them), so they are not in a day's trailing window.
    history = {
        service: date.fromisoformat(day)
        for service, day in facts.first_activity_days(window).items()
    }
    out.judged(r for r in rows if r["local_date"] >= scope.start.isoformat())
    posts: dict[_Where, Counter[date]] = defaultdict(Counter)
    topics: dict[_Where, Counter[date]] = defaultdict(Counter)
    slugs: dict[_Where, str] = {}
    for row in rows:  # in log order: the latest slug a category was named by stands
        where = _where(row)
        day = date.fromisoformat(row["local_date"])
        (topics if row["kind"] == "topic" else posts)[where][day] += int(row["n"])
        if row["category"]:
            slugs[where] = row["category"]

    def label(where: _Where) -> str:
        if where in slugs:
            return slugs[where]
        return _NO_CATEGORY if where.category_id is None else f"category {where.category_id}"

    entries: list[tuple[date, int, dict[str, Any]]] = []
    by_category: list[dict[str, Any]] = []
    for rank, where in enumerate(sorted(set(posts) | set(topics), key=_Where.key)):
        named = {"service": where.service, "category": label(where),
                 "category_id": where.category_id}  # fmt: skip
        counted = {"topics": 0, "posts": 0, "spike_days": 0}
        day = scope.start
        while day <= scope.end:
            n_posts, n_topics = posts[where][day], topics[where][day]
            if n_posts or n_topics:
                first = history.get(where.service, day)
                before = [
                    day - timedelta(days=i)
                    for i in range(1, TRAILING_DAYS + 1)
                    if day - timedelta(days=i) >= first
                ]
                # Judged only on enough history: at least half the window since it began.
                judged = len(before) >= MINIMUM_HISTORY_DAYS
                trailing = median(posts[where][d] for d in before) if judged else None
                spike = (
                    trailing is not None
                    and n_posts >= SPIKE_MINIMUM_POSTS
                    and n_posts > multiple * trailing
                )
                entries.append((day, rank, {
                    "date": day, **named, "topics": n_topics, "posts": n_posts,
                    "trailing_median": None if trailing is None else _round(trailing),
                    "spike": spike,
                }))  # fmt: skip
                counted["topics"] += n_topics
                counted["posts"] += n_posts
                counted["spike_days"] += int(spike)
            day += timedelta(days=1)
        if counted["topics"] or counted["posts"]:
            by_category.append({**named, **counted})
    # By day, then category (in the order of by_category).
    days = [row for _, _, row in sorted(entries, key=lambda e: (e[0], e[1]))]
    t = out.tables
    t["engagement.by_category"] = by_category
    t["engagement.by_day"] = days
    t["engagement.spikes"] = [
        {k: v for k, v in row.items() if k != "spike"} for row in days if row["spike"]
    ]
    t["engagement.rule"] = [
        {
            "multiple": multiple,
            "minimum_posts": SPIKE_MINIMUM_POSTS,
            "trailing_days": TRAILING_DAYS,
            "minimum_history_days": MINIMUM_HISTORY_DAYS,
        }
    ]
