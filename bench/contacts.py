"""How fast is a helpline contact logged, and how fast are the contact queue and the list of
contacts awaiting review read, with 100,000 contacts in the store?

Builds a log on PostgreSQL of ``--contacts`` helpline contacts (default 100,000) over the last
60 days, on every channel, a third of them from named callers: six in ten reviewed against a
scorecard (one review in ten a second reviewer's calibration, one in twenty failing the
safeguarding question), most feedback acknowledged, one contact in eight with a follow-up (a
call-back, a letter, a referral...). The contact events are decided in memory by the domain's
own ``decide`` and appended through the ledger in large batches (each contact's events together),
then every view is rebuilt from the log. In the same run, over HTTP (a live server):

(a) logging a contact (``POST /api/v1/contacts``, an anonymous caller: a key of its own) beside
    adding a note to a case (``POST /api/v1/cases/{id}/notes``), alternately, and their ratio;
(b) ``GET /api/v1/queues/contacts_awaiting_review`` (the first page, 50 items) and
    ``GET /api/v1/contacts?reviewed=false`` (the first page), beside the read models.

Each figure is p50/p99 of ``--samples`` requests (default 200), after a warm-up. Goal on the
2-core reference machine: both reads p99 under 50 ms over HTTP.

Usage: python bench/contacts.py [--contacts N | --quick] [--database-url URL] [--keep] [--reuse]
The default URL is postgresql://postgres@127.0.0.1:5432/test?schema=bench_contacts; the schema
is dropped before the run (unless --reuse) and at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

from support import (  # noqa: E402  (bench/support.py)
    Server,
    bench_settings,
    client,
    drop_schema,
    pct,
    rate,
    timed,
)

from domain.contact import commands as cc  # noqa: E402
from domain.contact.decide import ContactContext, ScorecardInForce  # noqa: E402
from domain.contact.decide import decide as decide_contact  # noqa: E402
from domain.contact.events import ContactEvent  # noqa: E402
from domain.contact.state import ContactState, evolve  # noqa: E402
from domain.quality.scoring import Criterion, ScorecardVersion, score_review  # noqa: E402
from domain.shared import Actor, DecisionContext, Role  # noqa: E402
from infrastructure.persistence import is_postgres  # noqa: E402
from interfaces.composition import bootstrap  # noqa: E402
from projections.contact_queues import ContactQueue  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test?schema=bench_contacts"
QUICK_CONTACTS = 5_000
READ_TARGET_MS = 50.0
AWAITING = ContactQueue.CONTACTS_AWAITING_REVIEW
HANDLERS = [Actor(username=f"bench.handler{i}", role=Role.VOLUNTEER) for i in range(12)]
REVIEWERS = [Actor(username=f"bench.reviewer{i}", role=Role.COORDINATOR) for i in range(3)]
LEAD = "bench.lead"  # reads over HTTP: every contact, every queue
WRITER = Actor(username="bench.writer", role=Role.COORDINATOR)  # logs and notes over HTTP
CHANNELS = ("call", "call", "call", "chat", "chat", "sms", "email", "web_form", "bsl_video")
OUTCOMES = (
    *("information_given",) * 6,
    *("signposted",) * 4,
    "referral_made",
    "safeguarding_concern",
    "call_back_arranged",
    "abandoned",
    "silent",
    "other",
)
KINDS = ("call_back", "call_back", "advocacy_letter", "referral", "signposting")
SCORECARD = ScorecardVersion(
    version=1,
    name="Helpline quality (bench)",
    criteria=[
        Criterion(key="greeting", label="Greets", weight=1, max_score=4, critical=False),
        Criterion(key="listening", label="Listens", weight=2, max_score=4, critical=False),
        Criterion(
            key="risk_asked",
            label="Asks about immediate risk",
            weight=2,
            max_score=2,
            critical=True,
            safeguarding=True,
        ),
    ],
    pass_mark=70,
    effective_from=datetime(2020, 1, 1, tzinfo=UTC),
)
IN_FORCE = ScorecardInForce(SCORECARD.version, partial(score_review, SCORECARD))
SUMMARY = "Caller described harassment by a neighbour and asked what they could do next."
FEEDBACK = "Warm opening and good listening; ask about immediate risk before closing."
RATIONALE = "Scored from the recording against the helpline scorecard."


# --- the contacts ------------------------------------------------------------------------------


class ContactBuilder:
    """Contact events decided in memory, as the service would decide them, at the times given."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[ContactEvent] = []
        self.reviewed = 0
        self.awaiting = 0

    def run(
        self,
        state: ContactState | None,
        command: cc.ContactCommandType,
        actor: Actor,
        now: datetime,
        contact_id: UUID | None = None,
    ) -> ContactState:
        ctx = ContactContext(
            decision=DecisionContext(actor=actor, now=now),
            contact_id=contact_id,
            scorecard=IN_FORCE,
        )
        for event in decide_contact(state, command, ctx):
            state = evolve(state, event)
            self.events.append(event)
        assert state is not None
        return state

    def contact(self, n: int, at: datetime) -> None:
        rng = self.rng
        handler = HANDLERS[n % len(HANDLERS)]
        named = n % 3 == 0
        caller = {"anonymous": False, "ref": f"caller-{n % 5000}"} if named else {"anonymous": True}
        logged = cc.LogContact.model_validate(
            {
                "channel": CHANNELS[n % len(CHANNELS)],
                "direction": "outbound" if n % 11 == 0 else "inbound",
                "duration_seconds": rng.randrange(60, 3600),
                "caller": caller,
                "category": "harassment",
                "summary": SUMMARY,
                "outcome": OUTCOMES[n % len(OUTCOMES)],
                "occurred_at": at,
            }
        )
        state = self.run(None, logged, handler, at + timedelta(minutes=5), uuid4())
        if n % 8 == 0:
            schedule = cc.ScheduleFollowUp.model_validate(
                {
                    "kind": KINDS[n % len(KINDS)],
                    "due_at": at + timedelta(days=2),
                    "detail": "Call back once the caller has spoken to the housing officer.",
                    **(
                        {
                            "agency": {"name": "Adult social care", "kind": "adult_social_care"},
                            "consent": "given",
                        }
                        if KINDS[n % len(KINDS)] == "referral"
                        else {}
                    ),
                }
            )
            state = self.run(state, schedule, REVIEWERS[0], at + timedelta(minutes=30))
        if rng.random() >= 0.6:
            self.awaiting += 1
            return
        self.reviewed += 1
        later = at + timedelta(days=rng.uniform(0.5, 4))
        missed = rng.random() < 0.05
        for k, reviewer in enumerate(REVIEWERS[: 2 if rng.random() < 0.1 else 1]):
            scores = {
                "greeting": rng.randint(2, 4),
                "listening": rng.randint(2, 4),
                "risk_asked": 0 if missed and k == 0 else 2,
            }
            review = cc.ReviewContact(scores=scores, feedback=FEEDBACK, rationale=RATIONALE)
            state = self.run(state, review, reviewer, later + timedelta(hours=k))
        if rng.random() < 0.7:
            first = next(iter(state.reviews))
            answer = cc.AcknowledgeFeedback(review_id=first)
            state = self.run(state, answer, handler, later + timedelta(days=1))


def build_contacts(count: int, seed: int, now: datetime) -> ContactBuilder:
    builder = ContactBuilder(random.Random(seed))
    start = now - timedelta(days=60)
    step = timedelta(days=59) / max(1, count)
    for n in range(count):
        builder.contact(n, start + step * n)
    return builder


# --- measuring -----------------------------------------------------------------------------------


def figures(label: str, samples: list[float]) -> str:
    return f"{label}: p50 {pct(samples, 0.5):.2f} ms   p99 {pct(samples, 0.99):.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_CONTACTS:,} contacts")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5000, help="events per append")
    parser.add_argument("--seed", type=int, default=20261117)
    parser.add_argument("--reuse", action="store_true", help="reuse the log left by --keep")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    contacts = QUICK_CONTACTS if args.quick else args.contacts
    url = args.database_url
    if not is_postgres(url):
        parser.error("this benchmark runs on PostgreSQL: pass a postgresql:// URL")
    keys = tempfile.TemporaryDirectory()
    settings = bench_settings(
        url,
        data_dir=Path(keys.name),
        db_pool_size=6,
        db_max_overflow=6,
        # The views are rebuilt in this process (the threaded fill): the figures here are reads.
        rebuild_processes=1,
    )
    if not args.reuse:
        drop_schema(url)
    vigil = bootstrap(settings)
    try:
        head = int(vigil.event_log.recorder.max_notification_id() or 0)
        print(f"store: PostgreSQL ({url})   contacts wanted: {contacts:,}   events: {head:,}")
        if not head:
            for person in (*HANDLERS, *REVIEWERS, WRITER):
                vigil.identity.register(person.username, person.role, actor="bench")
            vigil.identity.register(LEAD, Role.SAFEGUARDING_LEAD, actor="bench")
            started = time.perf_counter()
            built = build_contacts(contacts, args.seed, datetime.now(UTC))
            decided = time.perf_counter() - started
            print(
                f"decided {contacts:,} contacts in memory: {len(built.events):,} events, "
                f"{built.reviewed:,} reviewed, {built.awaiting:,} awaiting review "
                f"({decided:.1f} s)"
            )
            started = time.perf_counter()
            vigil.event_log.save(*vigil.services.default_registration())
            for i in range(0, len(built.events), args.batch):
                vigil.event_log.save(*built.events[i : i + args.batch])
            seconds = time.perf_counter() - started
            print(f"appended the contacts: {rate(len(built.events), seconds)}")
            del built
        head = int(vigil.event_log.recorder.max_notification_id() or 0)
        started = time.perf_counter()
        vigil.projector.rebuild()  # every view from the log, aside then swapped in
        print(f"views rebuilt from the log: {rate(head, time.perf_counter() - started)}")
        reader_token = vigil.identity.issue_token(LEAD, actor="bench")
        writer_token = vigil.identity.issue_token(WRITER.username, actor="bench")
        gc.collect()
        gc.freeze()
        now = datetime.now(UTC)
        counts = {q.name.value: q for q in vigil.contact_queues.counts(as_of=now)}
        awaiting = counts["contacts_awaiting_review"]
        print(
            f"contacts_awaiting_review: {awaiting.total:,} contacts, {awaiting.overdue:,} "
            f"overdue; follow_ups_due: {counts['follow_ups_due'].total:,}"
        )
        with (
            Server(vigil) as server,
            client(server.base_url, reader_token, timeout=30) as reader,
            client(server.base_url, writer_token, timeout=30) as writer,
        ):
            case = writer.post(
                "/api/v1/cases",
                json={
                    "subject": {"kind": "member", "ref": "member-bench"},
                    "source": "helpline_contact",
                    "category": "harassment",
                    "summary": "A caller's neighbour has harassed them for months.",
                },
            )
            case.raise_for_status()
            case_id = case.json()["case"]["id"]
            logs: list[float] = []
            notes: list[float] = []
            contact = {
                "channel": "call",
                "direction": "inbound",
                "caller": {"anonymous": True},
                "category": "harassment",
                "summary": SUMMARY,
                "outcome": "information_given",
            }
            note = {"kind": "fact", "text": "Caller rang again; advice repeated."}
            warm_up = min(20, args.samples)  # not counted: plans cached, pages in memory
            for n in range(args.samples + warm_up):
                for path, body, found in (
                    ("/api/v1/contacts", contact, logs),
                    (f"/api/v1/cases/{case_id}/notes", note, notes),
                ):
                    started = time.perf_counter()
                    answer = writer.post(path, json=body)
                    elapsed = (time.perf_counter() - started) * 1000
                    answer.raise_for_status()
                    if n >= warm_up:
                        found.append(elapsed)
            print(figures("(a) POST /api/v1/contacts (log a contact)", logs))
            print(figures("    POST /api/v1/cases/{id}/notes (a case note)", notes))
            print(
                f"    logging a contact / a case note: {pct(logs, 0.5) / pct(notes, 0.5):.2f}x "
                f"at p50, {pct(logs, 0.99) / pct(notes, 0.99):.2f}x at p99"
            )
            vigil.projector.catch_up()  # the writes above, before the reads are timed

            def http_queue() -> None:
                reader.get("/api/v1/queues/contacts_awaiting_review").raise_for_status()

            def http_list() -> None:
                reader.get("/api/v1/contacts", params={"reviewed": "false"}).raise_for_status()

            model_queue = timed(
                lambda: vigil.contact_queues.items(AWAITING, as_of=datetime.now(UTC)),
                args.samples,
                warm_up,
            )
            http_queue_ms = timed(http_queue, args.samples, warm_up)
            model_list = timed(
                lambda: vigil.contact_summaries.query(reviewed=False), args.samples, warm_up
            )
            http_list_ms = timed(http_list, args.samples, warm_up)
            print(figures("(b) contacts awaiting review, read model (ContactQueues)", model_queue))
            print(figures("    GET /api/v1/queues/contacts_awaiting_review", http_queue_ms))
            print(figures("    contacts not reviewed, read model (ContactSummaries)", model_list))
            print(figures("    GET /api/v1/contacts?reviewed=false", http_list_ms))
        checks = [
            (
                f"GET /queues/contacts_awaiting_review: p99 < {READ_TARGET_MS:.0f} ms over HTTP",
                pct(http_queue_ms, 0.99) < READ_TARGET_MS,
            ),
            (
                f"GET /contacts?reviewed=false: p99 < {READ_TARGET_MS:.0f} ms over HTTP",
                pct(http_list_ms, 0.99) < READ_TARGET_MS,
            ),
        ]
        for label, ok in checks:
            print(f"{'PASS' if ok else 'FAIL'}  {label}")
    finally:
        vigil.close()
        if not (args.keep or args.reuse):
            drop_schema(url)
        keys.cleanup()


if __name__ == "__main__":
    main()
