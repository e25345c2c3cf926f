"""JSON for the summaries people and tools read: numpy scalars and paths written plainly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def to_json(data: Any) -> str:
    """Indented UTF-8 JSON (accents kept) of ``data``, numpy scalars and paths included."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
