"""Attachment contents on disk, outside the database, named by their SHA-256.

Content addressing makes writes idempotent (the same ECG sent twice is one file) and lets every
read prove the bytes are those that were stored. A file written for a transaction that later
rolls back stays as an unreferenced, harmless blob.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class FileCorrupted(Exception):
    """A stored file is missing or no longer matches its checksum."""


def _path(root: Path, sha256: str) -> Path:
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


def get(root: Path, sha256: str) -> bytes:
    """The content stored under ``sha256``, verified against it."""
    try:
        content = _path(root, sha256).read_bytes()
    except OSError as error:
        raise FileCorrupted(f"attachment {sha256} is missing from the file store") from error
    if hashlib.sha256(content).hexdigest() != sha256:
        raise FileCorrupted(f"attachment {sha256} fails its checksum")
    return content
