"""The append-only audit trail: AuditEvents chained by SHA-256 so that tampering shows.

Each link's hash is ``sha256(prev_hash + canonical JSON of the stored AuditEvent)``. Appends are
serialised (an advisory lock on PostgreSQL, the write lock on SQLite) and ``prev_hash`` is unique,
so the chain cannot fork even under concurrent writers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from maillage.store import resources
from maillage.store.models import AuditLink, Resource

GENESIS = "0" * 64
_LOCK_KEY = 0x6D61696C  # "mail": the advisory lock serialising appends on PostgreSQL


def canonical(body: dict[str, Any]) -> bytes:
    """The bytes hashed for one event: sorted keys, no spaces, UTF-8."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The hash of one link of the chain."""
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def append(session: Session, event: dict[str, Any], zone: ZoneInfo) -> Resource:
    """Store an AuditEvent and chain it after the last one, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    last = session.execute(select(AuditLink).order_by(AuditLink.seq.desc()).limit(1)).scalar()
    prev_hash, seq = (last.hash, last.seq + 1) if last else (GENESIS, 1)
    row = resources.save(session, event, zone)
    session.add(
        AuditLink(
            seq=seq, event_id=row.id, prev_hash=prev_hash, hash=link_hash(prev_hash, row.body)
        )
    )
    session.flush()
    return row


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
    """Walk the chain from the first link, recomputing every hash against the stored events."""
    problems: list[str] = []
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    query = (
        select(AuditLink, Resource)
        .outerjoin(
            Resource,
            (Resource.resource_type == "AuditEvent") & (Resource.id == AuditLink.event_id),
        )
        .order_by(AuditLink.seq)
    )
    for link, event in session.execute(query):
        checked += 1
        if link.seq != expected_seq:
            problems.append(f"link {expected_seq} is missing (next is {link.seq})")
        if link.prev_hash != expected_prev:
            problems.append(f"link {link.seq} does not follow the previous one")
        if event is None:
            problems.append(f"link {link.seq}: AuditEvent/{link.event_id} was removed")
        elif event.version_id != 1 or link_hash(link.prev_hash, event.body) != link.hash:
            problems.append(f"link {link.seq}: AuditEvent/{link.event_id} was altered")
        expected_prev, expected_seq = link.hash, link.seq + 1
    orphans = session.execute(
        select(Resource.id).where(
            Resource.resource_type == "AuditEvent",
            Resource.id.not_in(select(AuditLink.event_id)),
        )
    ).scalars()
    problems.extend(f"AuditEvent/{orphan} is outside the chain" for orphan in orphans)
    return ChainReport(checked, problems)
