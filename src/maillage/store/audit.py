"""The append-only audit trail: AuditEvents chained by SHA-256 so that tampering shows.

Each link's hash is ``sha256(prev_hash + canonical JSON of the stored AuditEvent)``. A request
does not store its AuditEvent itself: :func:`append` writes one row of the ``audit_outbox`` in
the request's transaction (nothing is lost, and the request's write set stays small). One
writer at a time, :func:`chain`, turns queued rows into stored AuditEvents linked on
``CHAINER_LANE`` and removes the rows in the same transaction, so a chainer killed midway
loses nothing and chains nothing twice. ``maillage outbox audit`` runs it, and every reader of
the trail drains the outbox first (:func:`drain`), so readers see every committed event.

The trail is made of lanes: earlier versions appended inside each request, on up to 16
parallel chains so as not to serialise every audited write on one lock; those lanes stay
verifiable (and checkpointed), and the single chainer continues lane 0.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, literal_column, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnClause

from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import (
    AUDIT_LINKS,
    AUDIT_OUTBOX,
    SEARCH_INDEX,
    VERSIONS,
    AuditLink,
    Resource,
    utcnow,
)
from maillage.store.search_params import extract

GENESIS = "0" * 64
CHAINER_LANE = 0
BATCH = 500
_LOCK_KEY = 0x6D61696C  # "mail": the key of the chainer's advisory lock on PostgreSQL
#: On PostgreSQL, rows whose inserting transaction and every older one have finished: no
#: row below that line can still appear, so a batch never passes over a row that commits
#: later out of sequence order.
_SETTLED: ColumnClause[int] = literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
)


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes hashed for one event: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The hash of one link of the chain."""
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def append(session: Session, event: dict[str, Any]) -> None:
    """Queue an AuditEvent in the audit outbox, in the caller's transaction (one row)."""
    session.connection().execute(insert(AUDIT_OUTBOX), {"created": utcnow(), "body": event})


def chain(session: Session, zone: ZoneInfo, *, settled: bool = False, limit: int = BATCH) -> int:
    """Store up to ``limit`` queued AuditEvents in sequence order, link them after the last
    link of ``CHAINER_LANE`` and remove their outbox rows, in the caller's transaction; how
    many were chained. Chainers wait for each other (an advisory lock on PostgreSQL; SQLite
    has one writer). ``settled`` takes on PostgreSQL only rows below the snapshot's xmin (the
    worker's batches, in commit order); a reader drains every committed row: each is removed
    once chained, so none is skipped either way."""
    connection = session.connection()
    query = select(AUDIT_OUTBOX.c.id, AUDIT_OUTBOX.c.body).order_by(AUDIT_OUTBOX.c.id)
    if connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key, :lane)")
        connection.execute(lock, {"key": _LOCK_KEY, "lane": CHAINER_LANE})
        if settled:
            query = query.where(AUDIT_OUTBOX.c.txid < _SETTLED)
    rows = connection.execute(query.limit(limit)).all()
    if not rows:
        return 0
    last = connection.execute(
        select(AUDIT_LINKS.c.seq, AUDIT_LINKS.c.hash)
        .where(AUDIT_LINKS.c.lane == CHAINER_LANE)
        .order_by(AUDIT_LINKS.c.seq.desc())
        .limit(1)
    ).first()
    prev_hash, seq = (last.hash, last.seq) if last else (GENESIS, 0)
    links = []
    for event in resources.create_many(session, [row.body for row in rows], zone):
        digest, seq = link_hash(prev_hash, event["body"]), seq + 1
        link = {"event_id": event["id"], "prev_hash": prev_hash, "hash": digest}
        links.append({"lane": CHAINER_LANE, "seq": seq, **link})
        prev_hash = digest
    connection.execute(insert(AUDIT_LINKS), links)
    connection.execute(delete(AUDIT_OUTBOX).where(AUDIT_OUTBOX.c.id.in_([r.id for r in rows])))
    return len(rows)


def drain(sessions: sessionmaker[Session], zone: ZoneInfo, *, settled: bool = False) -> int:
    """Chain the whole outbox, a batch per transaction; how many events were chained."""
    total = 0
    while True:
        with transaction(sessions) as session:
            count = chain(session, zone, settled=settled)
        total += count
        if count < BATCH:
            return total


@dataclass(frozen=True)
class Backlog:
    """The outbox's unchained events: how many, and how long the oldest has waited (seconds;
    0 when none waits)."""

    pending: int
    lag_seconds: float


def backlog(session: Session, now: datetime | None = None) -> Backlog:
    """The chainer's lag at ``now`` (default: now), for monitoring."""
    pending, oldest = session.execute(select(func.count(), func.min(AUDIT_OUTBOX.c.created))).one()
    waited = 0.0 if oldest is None else ((now or utcnow()) - oldest).total_seconds()
    return Backlog(pending, max(waited, 0.0))


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify`: how many links were checked and what was found wrong."""

    checked: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        """True when no link was altered, removed or reordered."""
        return not self.problems


def verify(session: Session) -> ChainReport:
    """Walk each lane from its first link, recomputing every hash against the stored events."""
    problems: list[str] = []
    lane, expected_prev, expected_seq, checked = None, GENESIS, 1, 0
    query = (
        select(AuditLink, Resource)
        .outerjoin(
            Resource,
            (Resource.resource_type == "AuditEvent") & (Resource.id == AuditLink.event_id),
        )
        .order_by(AuditLink.lane, AuditLink.seq)
    )
    for link, event in session.execute(query):
        if link.lane != lane:
            lane, expected_prev, expected_seq = link.lane, GENESIS, 1
        checked += 1
        name = f"link {link.seq} of lane {lane}"
        if link.seq != expected_seq:
            problems.append(f"link {expected_seq} of lane {lane} is missing (next is {link.seq})")
        if link.prev_hash != expected_prev:
            problems.append(f"{name} does not follow the previous one")
        if event is None:
            problems.append(f"{name}: AuditEvent/{link.event_id} was removed")
        elif event.version_id != 1 or link_hash(link.prev_hash, event.body) != link.hash:
            problems.append(f"{name}: AuditEvent/{link.event_id} was altered")
        expected_prev, expected_seq = link.hash, link.seq + 1
    orphans = session.execute(
        select(Resource.id).where(
            Resource.resource_type == "AuditEvent",
            Resource.id.not_in(select(AuditLink.event_id)),
        )
    ).scalars()
    problems.extend(f"AuditEvent/{orphan} is outside the chain" for orphan in orphans)
    return ChainReport(checked, problems)


def _comparable(moment: Any) -> Any:
    """Index dates as stored: naive UTC."""
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def verify_copies(session: Session, zone: ZoneInfo) -> list[str]:
    """Problems in what the chain does not hash: the kept versions of each AuditEvent (exactly
    one, identical to the chained event) and its search index rows (exactly those its body
    gives, so that no event is hidden from ``AuditEvent?`` searches). An offline check."""
    problems: list[str] = []
    events = {
        row.id: row.body
        for row in session.execute(
            select(Resource.id, Resource.body).where(Resource.resource_type == "AuditEvent")
        )
    }
    kept: dict[str, list[tuple[int, bool, dict[str, Any]]]] = {}
    for version in session.execute(
        select(VERSIONS).where(VERSIONS.c.resource_type == "AuditEvent")
    ):
        kept.setdefault(version.id, []).append((version.version_id, version.deleted, version.body))
    indexed: dict[str, Counter[tuple[Any, ...]]] = {}
    columns = ("param", "system", "value", "low", "high")
    for entry in session.execute(
        select(SEARCH_INDEX.c.resource_id, *(SEARCH_INDEX.c[c] for c in columns)).where(
            SEARCH_INDEX.c.resource_type == "AuditEvent"
        )
    ):
        key = tuple(_comparable(part) for part in entry[1:])
        indexed.setdefault(entry.resource_id, Counter())[key] += 1
    for event_id, body in events.items():
        if kept.pop(event_id, None) != [(1, False, body)]:
            problems.append(f"AuditEvent/{event_id}: its kept version was altered or removed")
        expected = Counter(
            tuple(_comparable(getattr(value, c)) for c in columns)
            for value in extract("AuditEvent", event_id, body, zone)
        )
        if indexed.pop(event_id, Counter()) != expected:
            problems.append(f"AuditEvent/{event_id}: its search index rows were altered")
    problems.extend(f"AuditEvent/{orphan}: kept versions without the event" for orphan in kept)
    problems.extend(f"AuditEvent/{orphan}: index rows without the event" for orphan in indexed)
    return problems
