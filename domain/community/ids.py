"""Stream ids and refs of community intake: derived from the service and the forum's own ids,
so a delivery, a member or a topic always lands on the same stream (a retry on its first)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

COMMUNITY_NAMESPACE = uuid5(NAMESPACE_URL, "https://vigil.invalid/community")


def intake_id(service: str) -> UUID:
    """The stream of a service's intake settings (secret, account map)."""
    return uuid5(COMMUNITY_NAMESPACE, f"intake/{service}")


def delivery_id(service: str, discourse_event_id: str) -> UUID:
    """The stream of one delivery: Discourse's event id, within the service."""
    return uuid5(COMMUNITY_NAMESPACE, f"delivery/{service}/{discourse_event_id}")


def delivery_content_id(service: str, digest: str) -> UUID:
    """The stream that records a delivery's content was taken (``content_digest``)."""
    return uuid5(COMMUNITY_NAMESPACE, f"delivery-content/{service}/{digest}")


def member_stream_id(ref: str) -> UUID:
    """A member's stream, from their ref."""
    return uuid5(COMMUNITY_NAMESPACE, f"member/{ref}")


def member_id(service: str, forum_user_id: int) -> UUID:
    return member_stream_id(member_ref(service, forum_user_id))


def topic_stream_id(service: str, forum_topic_id: int) -> UUID:
    return uuid5(COMMUNITY_NAMESPACE, f"topic/{service}/{forum_topic_id}")


def member_ref(service: str, forum_user_id: int) -> str:
    """The member as a data subject and a case's subject: ``<service>:user-<forum user id>``
    (a forum's user ids are its own, so the service is part of the ref)."""
    return f"{service}:user-{forum_user_id}"


def named_member_ref(service: str, name_digest: str) -> str:
    """A member known only by username (an old ``flag_created``): a keyed digest of it."""
    return f"{service}:name-{name_digest}"


def service_of_member_ref(ref: str) -> str | None:
    """The service a member ref names, or None if it is not a member ref."""
    for marker in (":user-", ":name-"):
        service, sep, rest = ref.rpartition(marker)
        if sep and service and rest and rest.isalnum() and len(rest) <= 64:
            return service
    return None
