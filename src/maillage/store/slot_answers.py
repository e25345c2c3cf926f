"""Answers of slot searches kept per schedule, dropped whenever one of its slots changes.

A booking client asks the same questions again and again ("the free slots of this schedule
from that day on"); between two bookings of a schedule the answer does not change. Each server
process keeps the pages it answered, per schedule, and drops a schedule's pages:

- in the process that wrote, as soon as its transaction committed (the store notes the
  schedules of the slots a transaction writes, a booking's included, and
  :meth:`SlotAnswers.follow` drops them at the commit), so a client reads its own writes;
- in every process, when PostgreSQL announces the schedule (``NOTIFY slot_calendar``) to the
  connection :func:`listen` keeps. A trigger on the slot calendar sends it at the commit of
  whatever wrote the slot (another server process, a job, SQL by hand), except a booking's one
  call (migration 0016): a ``NOTIFY`` in its transaction made every booking's commit queue
  for PostgreSQL's one notification lock, so its process announces the schedules after the
  commit instead (:meth:`SlotAnswers.announce`, sent by :func:`announce`: those of all the
  bookings committed meanwhile in one transaction).

A page is kept only if no drop of its schedule happened while it was read, so a page read
before a commit is never kept after that commit's drop. While the listening connection is down
nothing is served nor kept (a drop could be missed). Another process's page can still be
stale for the moment a notification takes (or, should a process die between a booking's commit
and its announcement, until the page's time is up): booking a slot it shows then gets 409 (the
slot's compare-and-set and the booked periods decide), never a second booking.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Hashable, Iterable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from maillage.store.search_params import normalise_reference

logger = logging.getLogger(__name__)
CHANNEL = "slot_calendar"
RETRY_S = 1.0
ANNOUNCE = "SELECT pg_notify(%(channel)s, schedule) FROM unnest(%(schedules)s::text[]) AS schedule"


class SlotAnswers:
    """Pages of slot searches by schedule, for ``seconds`` at most, ``limit`` in all."""

    def __init__(self, seconds: float, limit: int = 20_000) -> None:
        self.seconds, self.limit = seconds, limit
        self.listening = False
        self._pages: dict[str, dict[Hashable, tuple[float, Any]]] = {}
        self._drops: dict[str, int] = {}
        self._epoch = 0  # counts the times every page was forgotten
        self._size = 0
        self._lock = threading.Lock()  # writes commit in worker threads, searches on the loop
        self._unannounced: set[str] = set()
        self._due: asyncio.Event | None = None  # made by the loop that announces

    def mark(self, schedule: str) -> Mark | None:
        """Where the drops of ``schedule`` stand before a page is read (None: keep nothing)."""
        if not self.listening or self.seconds <= 0:
            return None
        return self._epoch, self._drops.get(schedule, 0)

    def get(self, schedule: str, key: Hashable) -> Any | None:
        """A page kept for ``key``, unless too old or not listening."""
        if not self.listening:
            return None
        found = self._pages.get(schedule, {}).get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def keep(self, schedule: str, key: Hashable, mark: Mark | None, page: Any) -> None:
        """Keep ``page`` if ``schedule`` was not dropped since ``mark`` was taken."""
        with self._lock:
            if mark is None or not self.listening or mark != self.mark(schedule):
                return
            if self._size >= self.limit:
                self._forget()
            self._pages.setdefault(schedule, {})[key] = (time.monotonic() + self.seconds, page)
            self._size += 1

    def drop(self, schedules: Iterable[str]) -> None:
        """Drop the pages of ``schedules``."""
        with self._lock:
            for schedule in schedules:
                self._drops[schedule] = self._drops.get(schedule, 0) + 1
                self._size -= len(self._pages.pop(schedule, {}))

    def announce(self, schedules: set[str]) -> None:
        """Drop the pages of ``schedules``, whose slots a committed booking took, and have
        :func:`announce` tell every process (on the event loop)."""
        self.drop(schedules)
        self._unannounced |= schedules
        if self._due is not None:
            self._due.set()

    async def unannounced(self) -> AsyncIterator[set[str]]:
        """The schedules to announce, as they come: each time all those queued meanwhile."""
        self._due = asyncio.Event()
        while True:
            if not self._unannounced:
                await self._due.wait()
            self._due.clear()
            schedules, self._unannounced = self._unannounced, set()
            yield schedules

    def forget(self) -> None:
        """Drop every page (the listening connection went down, or came up)."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        self._epoch += 1
        self._pages.clear()
        self._size = 0

    def follow(self, sessions: sessionmaker[Session]) -> None:
        """At each commit of a session of ``sessions``, drop the pages of the schedules whose
        slots it wrote (noted by :func:`touched`)."""

        def committed(session: Session) -> None:
            self.drop(session.info.pop(SCHEDULES, ()))

        def rolled_back(session: Session) -> None:
            session.info.pop(SCHEDULES, None)

        event.listen(sessions, "after_commit", committed)
        event.listen(sessions, "after_rollback", rolled_back)


Mark = tuple[int, int]
SCHEDULES = "maillage.slot_schedules"


def touched(session: Session, *bodies: dict[str, Any] | None) -> None:
    """Note, in ``session``, the schedules of the slot versions (old, new) it writes."""
    noted: set[str] = session.info.setdefault(SCHEDULES, set())
    for body in bodies:
        reference = ((body or {}).get("schedule") or {}).get("reference")
        schedule = normalise_reference(reference) if isinstance(reference, str) else None
        if schedule:
            noted.add(schedule)


async def listen(url: str, answers: SlotAnswers) -> None:
    """Keep a connection listening to the slot calendar's notifications and drop the pages of
    the schedules announced; on a lost connection, stop serving pages and connect again."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                answers.forget()  # whatever changed while nobody listened
                answers.listening = True
                async for notification in connection.notifies():
                    answers.drop({notification.payload})
        except psycopg.Error as error:
            logger.warning("slot answers: listening connection lost (%s), retrying", error)
        finally:
            answers.listening = False
            answers.forget()
        await asyncio.sleep(RETRY_S)


async def announce(pool: AsyncConnectionPool, answers: SlotAnswers) -> None:
    """Send ``NOTIFY slot_calendar`` for the schedules :meth:`SlotAnswers.announce` queued, all
    those queued meanwhile in one transaction: one such commit at a time per process, however
    many bookings. On a failure, keep them for the next try."""
    async for schedules in answers.unannounced():
        try:
            async with pool.connection() as connection:
                await connection.execute(
                    ANNOUNCE, {"channel": CHANNEL, "schedules": sorted(schedules)}
                )
        except psycopg.Error as error:
            logger.warning("slot answers: announcement not sent (%s), retrying", error)
            answers.announce(schedules)
            await asyncio.sleep(RETRY_S)
