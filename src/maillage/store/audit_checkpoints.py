"""Signed checkpoints of the audit lanes' heads, kept outside the database.

The hash chain shows an altered or removed link in the middle of a lane, but not a lane whose
tail was cut, nor a lane rewritten with recomputed hashes: whoever can write the database can
redo the whole chain. A checkpoint records each lane's last ``(seq, hash)`` in an append-only
JSON-lines file, each line signed with HMAC-SHA256 under a key the database never holds
(``MAILLAGE_AUDIT_CHECKPOINT_KEY``). Verification then requires every checkpointed link to still
be there with the same hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maillage.store.models import AUDIT_LINKS


def _signature(key: bytes, heads: dict[str, list[object]], at: str) -> str:
    message = json.dumps({"at": at, "heads": heads}, sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def heads(session: Session) -> dict[str, list[object]]:
    """Each lane's last link as ``{lane: [seq, hash]}``."""
    last = (
        select(AUDIT_LINKS.c.lane, func.max(AUDIT_LINKS.c.seq).label("seq"))
        .group_by(AUDIT_LINKS.c.lane)
        .subquery()
    )
    query = select(AUDIT_LINKS.c.lane, AUDIT_LINKS.c.seq, AUDIT_LINKS.c.hash).join(
        last, (AUDIT_LINKS.c.lane == last.c.lane) & (AUDIT_LINKS.c.seq == last.c.seq)
    )
    return {str(lane): [seq, digest] for lane, seq, digest in session.execute(query)}


def write(session: Session, path: Path, key: bytes) -> dict[str, list[object]]:
    """Append a signed checkpoint of the lanes' heads to ``path`` (flushed to disk)."""
    current = heads(session)
    at = datetime.now(UTC).isoformat()
    line = {"at": at, "heads": current, "hmac": _signature(key, current, at)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line, sort_keys=True) + "\n")
        file.flush()
        os.fsync(file.fileno())
    return current


def check(session: Session, path: Path, key: bytes) -> list[str]:
    """Problems found against every checkpoint of ``path``: a bad signature, or a
    checkpointed link now missing (tail cut) or with another hash (lane rewritten)."""
    if not path.exists():
        return [f"{path}: no audit checkpoint file"]
    problems: list[str] = []
    stored = {
        (lane, seq): digest
        for lane, seq, digest in session.execute(
            select(AUDIT_LINKS.c.lane, AUDIT_LINKS.c.seq, AUDIT_LINKS.c.hash)
        )
    }
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            line = json.loads(text)
            at, recorded, signature = line["at"], line["heads"], line["hmac"]
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path}, line {number}: not a checkpoint")
            continue
        if not hmac.compare_digest(str(signature), _signature(key, recorded, at)):
            problems.append(f"{path}, line {number}: signature does not match (forged or edited)")
            continue
        for lane, (seq, digest) in recorded.items():
            found = stored.get((int(lane), seq))
            if found is None:
                problems.append(f"link {seq} of lane {lane}, checkpointed at {at}, was removed")
            elif found != digest:
                problems.append(f"link {seq} of lane {lane} differs from its checkpoint of {at}")
    return problems
