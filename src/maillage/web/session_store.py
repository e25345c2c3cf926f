"""Open page sessions kept on the server, so that logging out ends a session for good.

A signed cookie alone stays valid until it expires: whoever copied it before the logout could
replay it. Each logged-in cookie therefore names a random session id, kept here while the
session is open (renewed with each page) and removed at logout; a cookie whose id is not kept
is anonymous. Redis shares the open sessions between worker processes; the in-memory store is
for development (one process).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from redis import Redis

PREFIX = "maillage:web-session:"


class SessionStore(Protocol):
    def keep(self, session_id: str, seconds: int) -> None:
        """Open the session, or renew it, for ``seconds`` from now."""

    def is_open(self, session_id: str) -> bool:
        """Whether the session is open (kept, not expired, not closed)."""

    def close(self, session_id: str) -> None:
        """End the session: its cookie no longer signs anyone in."""


class MemorySessions:
    """Open sessions in this process's memory."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def keep(self, session_id: str, seconds: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._until = {k: t for k, t in self._until.items() if t > now}
            self._until[session_id] = now + seconds

    def is_open(self, session_id: str) -> bool:
        return self._until.get(session_id, 0.0) > time.monotonic()

    def close(self, session_id: str) -> None:
        with self._lock:
            self._until.pop(session_id, None)


class RedisSessions:
    """Open sessions as expiring Redis keys, shared by every worker process."""

    def __init__(self, url: str) -> None:
        self.redis = Redis.from_url(url)

    def keep(self, session_id: str, seconds: int) -> None:
        self.redis.set(PREFIX + session_id, b"1", ex=seconds)

    def is_open(self, session_id: str) -> bool:
        return bool(self.redis.exists(PREFIX + session_id))

    def close(self, session_id: str) -> None:
        self.redis.delete(PREFIX + session_id)


def session_store(url: str) -> SessionStore:
    """The store named by ``url``: ``memory://`` or a ``redis://`` URL."""
    return MemorySessions() if url.startswith("memory://") else RedisSessions(url)
