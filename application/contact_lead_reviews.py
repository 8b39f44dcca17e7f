"""A safeguarding lead's look at a quality review that failed a safeguarding criterion: what takes
it out of the ``qa_safeguarding_fails`` queue. An event of the contact's own stream
(``domain.contact.lead_review``), written through the one write path like the contact's other
writes, with an Idempotency-Key as every non-case write.

Kept apart from ``application.contacts.ContactService`` (whose fold, the contact's state, has no
need of it): the two write to the same stream through the write path, which orders them (a
write that loses the race decides again on the new state).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from application.contacts import ContactWrite
from application.idempotency import KeyedRequest, WriteKeys
from application.write_path import WritePath, Written
from domain.contact import lead_review
from domain.contact.errors import ContactNotFound
from domain.contact.events import ContactEvent
from domain.contact.lead_review import ReviewSafeguardingFail, UnderLeadReview
from domain.idempotency import IdempotencyKeyUsed
from domain.shared import Actor, DecisionContext
from infrastructure.event_log import EventLog


class ContactLeadReviews:
    """Records a safeguarding lead's look at a safeguarding fail."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        clock: Callable[[], datetime],
        max_clock_skew_seconds: int = 300,
        write_retries: int = 25,
    ) -> None:
        self._event_log = event_log
        self._clock = clock
        self._max_skew = timedelta(seconds=max_clock_skew_seconds)
        self._keys = WriteKeys(event_log)
        self._contacts = WritePath[UnderLeadReview](
            event_log,
            name="contact",
            fold=lead_review.fold,
            version=lambda current: current.state.version,
            retries=write_retries,
            not_found=lambda: ContactNotFound("no such contact"),
        )

    def review(
        self,
        contact_id: UUID,
        command: ReviewSafeguardingFail,
        actor: Actor,
        *,
        request: KeyedRequest | None = None,
    ) -> ContactWrite:
        """Record ``actor``'s look at the review; a retried keyed request answers the first
        time. Safeguarding leads read every contact, so no contact is hidden from them."""

        def decide_now(
            current: UnderLeadReview | None,
        ) -> list[lead_review.SafeguardingFailReviewed]:
            dc = DecisionContext(actor=actor, now=self._clock(), max_clock_skew=self._max_skew)
            return lead_review.decide(current, command, dc)

        return self._contacts.write(
            contact_id,
            decide_now,
            self._answer,
            recall=self._keys.recall(actor.username, request, self._replay),
        )

    @staticmethod
    def _answer(written: Written[UnderLeadReview]) -> ContactWrite:
        assert written.after is not None
        return ContactWrite(written.after.state, list(written.events), written.position)

    def _replay(self, earlier: IdempotencyKeyUsed) -> ContactWrite:
        """The first answer to a keyed look: the contact as it left it, and its event."""
        events = [
            e
            for e in self._event_log.events_of(earlier.target_id, lte=earlier.target_version)
            if isinstance(e, ContactEvent)
        ]
        current = lead_review.fold(None, events)
        assert current is not None  # it holds the keyed write's own event
        position = self._event_log.notification_id_of(earlier.target_id, earlier.target_version)
        return ContactWrite(current.state, events[-1:], position or 0, replayed=True)
