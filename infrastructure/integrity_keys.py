"""The hash ledger's Ed25519 keys: the signing key (outside the database) and public keys.

The signing key is a PEM (PKCS#8) file: ``VIGIL_SIGNING_KEY_FILE``, or, when that is unset,
``$VIGIL_DATA_DIR/signing-key.pem``, generated at first use with mode 0600 (its path is
logged, never its content). A file named by the setting must exist: Vigil never invents a key
where an operator said one would be. Every process that signs (``vigil serve``, ``vigil
project``) must use the same key, so on a deployment with several containers set the setting
to one shared secret file.

Public keys are read from PEM (SubjectPublicKeyInfo), from a PEM private key, or from the raw
32 bytes in base64 (as ``GET /api/v1/audit/public-key`` gives them).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domain.integrity.ledger import key_id_of
from infrastructure.files import make_private_dir

logger = structlog.get_logger(__name__)

DEFAULT_KEY_FILE_NAME = "signing-key.pem"


class SigningKeyError(ValueError):
    """A key file is missing, unreadable or not an Ed25519 key."""


@dataclass(frozen=True)
class PublicKey:
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id_of(self.raw)

    @property
    def pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def load_public_key(data: bytes) -> PublicKey:
    """A public key from PEM (public or private) or base64 of the raw 32 bytes."""
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        try:
            if b"PRIVATE KEY" in text:
                private = serialization.load_pem_private_key(text, password=None)
                if not isinstance(private, Ed25519PrivateKey):
                    raise SigningKeyError("not an Ed25519 key")
                return PublicKey(private.public_key())
            public = serialization.load_pem_public_key(text)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"not a readable PEM key: {exc}") from None
        if not isinstance(public, Ed25519PublicKey):
            raise SigningKeyError("not an Ed25519 public key")
        return PublicKey(public)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise SigningKeyError("neither PEM nor base64") from None
    if len(raw) != 32:
        raise SigningKeyError(f"a raw Ed25519 public key is 32 bytes, not {len(raw)}")
    return PublicKey(Ed25519PublicKey.from_public_bytes(raw))


def read_public_key(path: Path) -> PublicKey:
    try:
        return load_public_key(path.read_bytes())
    except OSError as exc:
        raise SigningKeyError(f"cannot read the public key {path}: {exc.strerror}") from None


class SigningKey:
    """The ledger's private key, loaded (or generated) on first use."""

    def __init__(self, path: Path, *, generate: bool) -> None:
        self.path = path
        self._generate = generate
        self._key: Ed25519PrivateKey | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, key_file: Path | None, data_dir: Path) -> SigningKey:
        if key_file is not None:
            return cls(key_file, generate=False)
        return cls((data_dir / DEFAULT_KEY_FILE_NAME).resolve(), generate=True)

    def exists(self) -> bool:
        return self._key is not None or self.path.exists()

    def _private(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_generate()
            return self._key

    def _load_or_generate(self) -> Ed25519PrivateKey:
        if not self.path.exists():
            if not self._generate:
                raise SigningKeyError(
                    f"VIGIL_SIGNING_KEY_FILE names {self.path}, which does not exist"
                )
            self._write_new()
        try:
            key = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise SigningKeyError(f"cannot read the signing key {self.path}: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"the signing key {self.path} is not an Ed25519 key")
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            logger.warning("signing_key_readable_by_others", path=str(self.path), mode=oct(mode))
        return key

    def _write_new(self) -> None:
        """Write a fresh key atomically with mode 0600; if another process got there first,
        theirs is kept (link fails on an existing name)."""
        make_private_dir(self.path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temporary, self.path)
            except FileExistsError:
                return
            logger.info("signing_key_generated", path=str(self.path))
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    @property
    def public(self) -> PublicKey:
        return PublicKey(self._private().public_key())

    def sign(self, message: bytes) -> bytes:
        return self._private().sign(message)
