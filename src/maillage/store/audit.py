"""The append-only audit trail: AuditEvents chained by SHA-256 so that tampering shows.

Each link's hash is ``sha256(prev_hash + canonical JSON of the stored AuditEvent)``. The trail is
made of ``LANES`` parallel chains: one chain would serialise every audited write of the whole
server on one lock held until commit. A writer takes the first free lane (PostgreSQL advisory
locks, tried from a random lane on) and appends there; ``(lane, prev_hash)`` is unique, so a
lane cannot fork even under concurrent writers. SQLite serialises writers anyway: lane 0 only.
Appends lock their lane last, just before the caller commits, to hold it the shortest time.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from maillage.store import resources
from maillage.store.models import AUDIT_LINKS, SEARCH_INDEX, VERSIONS, AuditLink, Resource
from maillage.store.search_params import extract

GENESIS = "0" * 64
LANES = 16
_LOCK_KEY = 0x6D61696C  # "mail": first key of the lanes' advisory locks on PostgreSQL
#: The first lane that is free, tried from ``start`` on (``LIMIT 1`` stops at the first lock
#: taken, so a writer holds one lane only); no row when all are busy.
_FREE_LANE = text(
    "SELECT lane FROM (SELECT (s + :start) % :lanes AS lane FROM generate_series(0, :lanes - 1) s)"
    " AS candidates WHERE pg_try_advisory_xact_lock(:key, lane) LIMIT 1"
)


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes hashed for one event: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The hash of one link of the chain."""
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def append(session: Session, event: dict[str, Any], zone: ZoneInfo) -> Resource:
    """Store an AuditEvent and chain it after the last one of a lane, in the caller's
    transaction."""
    row = resources.save(session, event, zone)
    lane = _lane(session)
    last = (
        session.connection()
        .execute(
            select(AUDIT_LINKS.c.seq, AUDIT_LINKS.c.hash)
            .where(AUDIT_LINKS.c.lane == lane)
            .order_by(AUDIT_LINKS.c.seq.desc())
            .limit(1)
        )
        .first()
    )
    prev_hash, seq = (last.hash, last.seq + 1) if last else (GENESIS, 1)
    link = {"event_id": row.id, "prev_hash": prev_hash, "hash": link_hash(prev_hash, row.body)}
    session.connection().execute(insert(AUDIT_LINKS), {"lane": lane, "seq": seq, **link})
    return row


def _lane(session: Session) -> int:
    """The lane this transaction appends to, locked until it ends (kept for later appends)."""
    transaction = session.get_transaction()
    held = session.info.get("audit_lane")
    if held is not None and held[0] is transaction:
        return held[1]
    lane = 0
    if session.get_bind().dialect.name == "postgresql":
        start = random.randrange(LANES)
        found = session.execute(
            _FREE_LANE, {"start": start, "lanes": LANES, "key": _LOCK_KEY}
        ).scalar()
        lane = start if found is None else found
        if found is None:
            session.execute(
                text("SELECT pg_advisory_xact_lock(:key, :lane)"), {"key": _LOCK_KEY, "lane": lane}
            )
    session.info["audit_lane"] = (transaction, lane)
    return lane


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
