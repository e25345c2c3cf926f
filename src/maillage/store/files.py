"""Attachment contents on disk, outside the database, named by their SHA-256.

Content addressing makes writes idempotent (the same ECG sent twice is one file) and lets every
read prove the bytes are those that were stored. A file written for a transaction that later
rolls back stays as an unreferenced, harmless blob.

Names are made by the server only: :func:`get` accepts nothing but 64 lower-case hexadecimal
digits, checked before any file-system access, opens regular files only and reads at most
``limit`` bytes, hashing them as they come.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

_NAME = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class FileCorrupted(Exception):
    """A stored file is missing, too large, or no longer matches its checksum."""


def is_name(text: object) -> bool:
    """Whether ``text`` is a name the file store makes (a SHA-256 in lower-case hex)."""
    return isinstance(text, str) and _NAME.fullmatch(text) is not None


def _path(root: Path, sha256: str) -> Path:
    if not is_name(sha256):
        raise FileCorrupted("the attachment reference is not a name of the file store")
    return root / sha256[:2] / sha256


def put(root: Path, content: bytes) -> str:
    """Store ``content`` (atomically: temporary file, then rename) and return its SHA-256."""
    sha256 = hashlib.sha256(content).hexdigest()
    target = _path(root, sha256)
    if target.exists():
        return sha256
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    Path(handle.name).replace(target)
    return sha256


def get(root: Path, sha256: str, *, limit: int) -> bytes:
    """The content stored under ``sha256``, at most ``limit`` bytes, verified against it."""
    path = _path(root, sha256)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        raise FileCorrupted(f"attachment {sha256} is missing from the file store") from error
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileCorrupted(f"attachment {sha256} is not a regular file")
        digest, parts, size = hashlib.sha256(), [], 0
        while chunk := handle.read(min(_CHUNK, limit + 1 - size)):
            size += len(chunk)
            if size > limit:
                raise FileCorrupted(
                    f"attachment {sha256} is over the limit of {limit} bytes "
                    "(MAILLAGE_MAX_ATTACHMENT_BYTES)"
                )
            digest.update(chunk)
            parts.append(chunk)
    if digest.hexdigest() != sha256:
        raise FileCorrupted(f"attachment {sha256} fails its checksum")
    return b"".join(parts)
