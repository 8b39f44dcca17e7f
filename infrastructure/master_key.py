"""The master key: it wraps every data subject's key (``infrastructure.keys``). Read from the
settings (``VIGIL_MASTER_KEY`` or ``VIGIL_MASTER_KEY_FILE``); outside production, made once under
the data directory when missing. Keys for other purposes are derived from it (``derive_key``).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from contextlib import suppress
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from infrastructure.files import make_private_dir
from infrastructure.settings import Settings

MASTER_KEY_FILE = "master.key"


class MasterKeyError(RuntimeError):
    """The master key is missing, malformed, or not the one this store's keys were made with."""


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{where} is not base64") from None
    if len(key) != 32:
        raise MasterKeyError(f"{where} must be 32 bytes (base64 of 32 random bytes)")
    return key


def new_master_key() -> str:
    """A new master key, base64: what to put in VIGIL_MASTER_KEY or the key file."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_master_key(settings: Settings) -> bytes:
    """The master key from settings; outside production, made under the data dir if missing."""
    if settings.master_key is not None:
        return _decode_key(settings.master_key.get_secret_value(), "VIGIL_MASTER_KEY")
    if settings.master_key_file is not None:
        try:
            text = settings.master_key_file.read_text()
        except OSError as exc:
            raise MasterKeyError(f"cannot read VIGIL_MASTER_KEY_FILE: {exc.strerror}") from None
        return _decode_key(text, "VIGIL_MASTER_KEY_FILE")
    if settings.environment == "production":
        raise MasterKeyError(
            "set VIGIL_MASTER_KEY (base64 of 32 random bytes) or VIGIL_MASTER_KEY_FILE: "
            "in production Vigil does not make a master key of its own"
        )
    path = settings.data_dir / MASTER_KEY_FILE
    return _decode_key(_read_or_create(path), str(path))


def _read_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text()
    make_private_dir(path.parent)
    # Written whole to a private temporary file, then linked into place: a process starting at
    # the same moment either links first or reads the complete file the other linked.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_master_key() + "\n")
        with suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text()


def derive_key(master: bytes, purpose: bytes) -> bytes:
    """A key for ``purpose``, derived from the master key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)
