"""What the hash ledger commits to: the leaf of a stored event, and a signed checkpoint.

**Leaf data** (the bytes hashed as ``SHA-256(0x00 || data)``) is the event *exactly as stored*
in the events table, length-prefixed so no two events encode alike, all integers big-endian::

    u8   format           = 1
    u64  notification_id  the event's position in the log (PostgreSQL notification_id,
                          SQLite rowid); ids may have gaps, so the leaf records it
    u16  len(originator)  then the originator id: 16 bytes of the UUID as stored
    u64  originator_version
    u32  len(topic)       then the topic, UTF-8 (``module:Class``)
    u32  len(state)       then the state column's raw bytes (never decoded nor decrypted, so
                          crypto-shredding a data subject's key leaves every leaf intact)

Leaf ``i`` of the tree is the ``i``-th event in notification (commit) order.

**Checkpoint**: tree size, root hash, the moment of signing (milliseconds since the Unix epoch,
UTC) and the signing key's id. The Ed25519 signature covers this UTF-8 text, every line ending
in ``\\n`` (in the spirit of the C2SP tlog-checkpoint note body)::

    vigil-checkpoint/v1
    <tree size, decimal>
    <root hash, standard base64>
    <timestamp, decimal milliseconds>
    <key id>

A key id is the first 8 bytes, in hex, of SHA-256 over the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from domain.integrity.merkle import HASH_SIZE, LEAF_PREFIX

LEAF_FORMAT = 1
CHECKPOINT_HEADER = "vigil-checkpoint/v1"

_HEAD = struct.Struct(">BQH")  # format, notification id, len(originator)
_HASHED_HEAD = struct.Struct(">cBQH")  # the same behind the RFC 6962 leaf prefix
_VERSION_TOPIC = struct.Struct(">QI")
_LENGTH = struct.Struct(">I")


def leaf_data(
    notification_id: int, originator_id: bytes, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The canonical encoding of one stored event (see the module docstring)."""
    encoded_topic = topic.encode()
    return (
        _HEAD.pack(LEAF_FORMAT, notification_id, len(originator_id))
        + originator_id
        + _VERSION_TOPIC.pack(originator_version, len(encoded_topic))
        + encoded_topic
        + _LENGTH.pack(len(state))
        + state
    )


def event_leaf_hash(
    notification_id: int, originator_id: bytes, originator_version: int, topic: str, state: bytes
) -> bytes:
    """``leaf_hash(leaf_data(...))`` in one pass (the hot path of the notary and of verify)."""
    encoded_topic = topic.encode()
    return hashlib.sha256(
        _HASHED_HEAD.pack(LEAF_PREFIX, LEAF_FORMAT, notification_id, len(originator_id))
        + originator_id
        + _VERSION_TOPIC.pack(originator_version, len(encoded_topic))
        + encoded_topic
        + _LENGTH.pack(len(state))
        + state
    ).digest()


def originator_bytes(originator_id: UUID | str) -> bytes:
    """The stored originator id as leaf bytes: a UUID's 16 bytes. A non-UUID text id (which
    Vigil never writes; only a tampered SQLite row could hold one) is its UTF-8 text, so it
    cannot collide with a UUID's encoding of another length."""
    if isinstance(originator_id, UUID):
        return originator_id.bytes
    text = originator_id
    if len(text) == 32 and text == text.lower():
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return text.encode()


def key_id_of(public_key: bytes) -> str:
    """The id of an Ed25519 public key (its raw 32 bytes)."""
    return hashlib.sha256(public_key).digest()[:8].hex()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log's first ``tree_size`` events have root ``root_hash``."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return checkpoint_message(self.tree_size, self.root_hash, self.timestamp_ms, self.key_id)

    @property
    def signed_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    def to_json(self) -> dict[str, object]:
        """The checkpoint as the API and exports carry it (hashes and signature in base64)."""
        return {
            "tree_size": self.tree_size,
            "root_hash": b64(self.root_hash),
            "timestamp_ms": self.timestamp_ms,
            "signed_at": self.signed_at.isoformat(timespec="milliseconds"),
            "key_id": self.key_id,
            "signature": b64(self.signature),
            "signed_message": self.message().decode(),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Checkpoint:
        """Read a checkpoint from its JSON form; raises ValueError when malformed. The
        ``signed_message`` shown beside it is ignored: the message is always rebuilt."""
        try:
            tree_size = data["tree_size"]
            timestamp_ms = data["timestamp_ms"]
            key_id = data["key_id"]
            root = unb64(str(data["root_hash"]))
            signature = unb64(str(data["signature"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"a checkpoint needs {exc}") from None
        if not isinstance(tree_size, int) or not isinstance(timestamp_ms, int):
            raise ValueError("a checkpoint's tree_size and timestamp_ms are integers")
        if not isinstance(key_id, str) or len(root) != HASH_SIZE:
            raise ValueError("a checkpoint needs a key id and a 32-byte root hash")
        return cls(tree_size, root, timestamp_ms, key_id, signature)


def checkpoint_message(tree_size: int, root_hash: bytes, timestamp_ms: int, key_id: str) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return (
        f"{CHECKPOINT_HEADER}\n{tree_size}\n{b64(root_hash)}\n{timestamp_ms}\n{key_id}\n".encode()
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base64: {text[:20]!r}") from exc
