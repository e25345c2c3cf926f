"""Text drawn from geometries alone, computed once and kept beside the commune table.

A commune's GeoJSON geometry and its simplified SVG path on a map panel never change between
runs, yet computing them (GEOS writers, simplification, projection) was most of a national
diagnosis' output time. An entry is named by a digest of the exact WKB values and of all else
its text depends on (kind, parameters, shapely and GEOS versions), so that a hit gives, byte
for byte, the text the computation would give. Entries are written atomically (a temporary
file renamed into place); one unreadable or inconsistent is ignored and rebuilt; the least
recently used beyond :data:`KEPT` per kind are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely

from maillage.territory.communes import cache_folder

#: Bump when what an entry holds, or how it is laid out, changes.
FORMAT = 1
#: Fewer geometries than this cost less to compute than to hash and read: never cached.
MIN_CACHED = 1_000
#: Entries kept per kind (a national run, regions and departments each make their own).
KEPT = 24
FOLDER = "geometry-text"


def cached_lines(
    kind: str,
    wkb: np.ndarray,
    parameters: str,
    compute: Callable[[np.ndarray], list[str]],
) -> list[bytes]:
    """``compute(geometries of wkb)`` (lines of text without a newline, as UTF-8 bytes),
    read from the cache when these WKB values (None where missing) and ``parameters`` were
    computed before, else computed and kept."""
    if len(wkb) < MIN_CACHED:
        return [line.encode() for line in compute(shapely.from_wkb(wkb))]
    key = _digest(kind, wkb, parameters)
    path = cache_folder() / FOLDER / f"{kind}-{key}.txt"
    lines = _read(path, key)
    if lines is None:
        text = "\n".join(compute(shapely.from_wkb(wkb))).encode()
        _write(path, _header(key, text) + b"\n" + text, kind)
        lines = text.split(b"\n")
    return lines


def _digest(kind: str, wkb: np.ndarray, parameters: str) -> str:
    """The entry's name: every WKB value (length-prefixed, None marked) and the context."""
    digest = hashlib.blake2b(digest_size=20)
    context = f"{FORMAT}|{kind}|{parameters}|{shapely.__version__}|{shapely.geos_version_string}"
    digest.update(context.encode())
    for value in wkb:
        if value is None:
            digest.update(b"N")
        else:
            digest.update(b"B" + len(value).to_bytes(8, "little"))
            digest.update(value)
    return digest.hexdigest()


def _header(key: str, text: bytes | memoryview) -> bytes:
    """An entry's first line: its key, and its text's length and CRC-32 (a damaged entry is
    told from a whole one)."""
    return f"maillage {FORMAT} {key} {len(text)} {zlib.crc32(text):08x}".encode()


def _read(path: Path, key: str) -> list[bytes] | None:
    """The entry's lines, or None when it is absent or not exactly the text written for
    ``key``."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    end = data.find(b"\n")
    if end < 0 or data[:end] != _header(key, memoryview(data)[end + 1 :]):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by the pruning
    return data.split(b"\n")[1:]


def _write(path: Path, data: bytes, kind: str) -> None:
    """``data`` at ``path`` all at once, then the oldest entries of ``kind`` beyond
    :data:`KEPT` removed. A cache that cannot be written costs time, never the run."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(partial, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
        entries = sorted(path.parent.glob(f"{kind}-*.txt"), key=_used, reverse=True)
        for old in entries[KEPT:]:
            old.unlink(missing_ok=True)


def _used(path: Path) -> float:
    """When an entry was last written or read (0 if it vanished meanwhile)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
