"""What the contact context refuses. Each rule has its class; the one mapping gives each its
status by its base: ``InvalidCommand`` 422, ``RuleViolation`` 409, ``NotPermitted`` 403,
``ItemNotFound`` 404."""

from __future__ import annotations

from domain.errors import InvalidCommand, ItemNotFound, NotPermitted, RuleViolation

# --- what (404) -------------------------------------------------------------------------------


class ContactNotFound(ItemNotFound):
    """No such contact, or one the person may not see (answered alike)."""

    title = "Contact not found"


class ReviewNotFound(ItemNotFound):
    title = "Review not found"


class FollowUpNotFound(ItemNotFound):
    title = "Follow-up not found"


class LinkedCaseNotFound(ItemNotFound):
    """The case a contact is to join does not exist, or the person cannot see it (a restricted
    case answers as a missing one): named in the body, so 422."""

    title = "No such case"


# --- who (403) --------------------------------------------------------------------------------


class ReviewerIsHandler(NotPermitted):
    """A contact is reviewed by someone other than its handler."""

    title = "A contact is reviewed by someone other than its handler"


class NotTheHandler(NotPermitted):
    """Only the contact's handler acknowledges or disputes its review's feedback."""

    title = "Only the contact's handler answers its feedback"


class NotALead(NotPermitted):
    """Only a safeguarding lead resolves a disputed review."""

    title = "Only a safeguarding lead resolves a dispute"


class NotTheAssignee(NotPermitted):
    """A follow-up's attempts and completion are recorded by its assignee, or by a coordinator
    or safeguarding lead (who manage follow-ups)."""

    title = "Not the follow-up's assignee"


# --- the contact's state (409) ----------------------------------------------------------------


class ContactAlreadyLogged(RuleViolation):
    title = "Contact already logged"


class AlreadyLinkedToCase(RuleViolation):
    """A contact names one case: the one its concern opened or joined."""

    title = "Contact already linked to a case"


class AlreadyReviewed(RuleViolation):
    """One review per reviewer: a second review of a contact is a calibration by someone
    else."""

    title = "Already reviewed by you"


class ResolverNotApart(RuleViolation):
    """A dispute is resolved by a lead other than the reviewer and the handler."""

    title = "A dispute is resolved by a second person"


class FeedbackAlreadyAnswered(RuleViolation):
    """A review's feedback is acknowledged or disputed, once: one or the other."""

    title = "Feedback already answered"


class NotDisputed(RuleViolation):
    """Only a disputed review is resolved, and once."""

    title = "Review not disputed"


class FollowUpAlreadyCompleted(RuleViolation):
    """A follow-up is completed once; nothing is attempted after its completion."""

    title = "Follow-up already completed"


# --- input the contact makes wrong (422) ------------------------------------------------------


class CompletionIncomplete(InvalidCommand):
    """An advocacy letter's completion carries the letter; a multi-agency meeting's its
    attendees and decisions; other follow-ups carry neither."""

    title = "Completion does not fit the follow-up"
