"""Files and directories that only Vigil's own user may read: the data directory, the SQLite
store, the key files.

They hold special-category data (or the keys to it), so Vigil creates them owner-only (0700,
0600) whatever the umask; ones that already exist are left as the operator made them.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents owner-only; existing ones are not changed."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process made it at the same moment: it is theirs as they made it
        os.chmod(directory, PRIVATE_DIR_MODE)  # the umask may have taken bits off, or added none


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty and owner-only (its directory too) unless it exists; whether it
    was created."""
    make_private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)
    return True
