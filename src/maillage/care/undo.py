"""Undoing a no-show or a cancellation shortly after it was marked (issue #18).

The rule: an Appointment whose latest version made it ``noshow`` or ``cancelled`` may go back
to the status it had just before (one still to take place: pending, booked, arrived,
checked-in), and to no other,

* within ``MAILLAGE_UNDO_MINUTES`` (15 by default; 0: never) of that change, by the server's
  clock;
* by the account that made the change, or an admin or coordinator.

The window counts from the change, not from the appointment's start: a no-show is marked once
the appointment has begun, and the window alone bounds how late it may be undone. Who changed
the status, and when, are the server's own records: the ``urn:maillage:status-by`` tag it
stamps on the version that changed it (:func:`maillage.care.policy.stamped`; a client's tag of
that system is dropped) and the version's ``lastUpdated``; the status before is the previous
version's. Anything else is refused with 409 (``business-rule``). The return is a write like
any other: the booking rules take the slots and hold the participants again, so a slot taken
or a participant booked meanwhile is a 409 (``conflict``), never a double booking.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from maillage.care import policy
from maillage.care.appointments import UPCOMING
from maillage.care.errors import Conflict
from maillage.care.principal import Principal
from maillage.store.models import ResourceVersion, utcnow

UNDONE = frozenset({"noshow", "cancelled"})
"""The statuses a doctor's change may be undone from."""

Body = dict[str, Any]


def reopens(previous: Body | None, body: Body) -> bool:
    """Whether this write takes an appointment back from a no-show or a cancellation."""
    return (
        previous is not None and previous.get("status") in UNDONE and body.get("status") in UPCOMING
    )


def refusal(
    principal: Principal,
    window: timedelta,
    changed: ResourceVersion,
    before: ResourceVersion | None,
    wanted: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why ``principal`` may not undo the change that ``changed`` (the current version) made
    after ``before`` (the version preceding it), back to ``wanted`` (default: the status
    before), at ``now`` (naive UTC); None when they may."""
    status = changed.body.get("status")
    earlier = (before.body if before is not None else {}).get("status")
    if earlier not in UPCOMING or changed.body.get("status") not in UNDONE:
        return f"the appointment's last change did not make it {status}; book a new one"
    if wanted is not None and wanted != earlier:
        return f"the appointment was {earlier} before it was {status}; it goes back only to that"
    mine = policy.status_changer(changed.body) == str(principal.user_id)
    if not mine and principal.role not in policy.FULL_ACCESS:
        return f"only whoever made it {status}, or a coordinator, may undo it"
    if (now or utcnow()) >= changed.last_updated + window:
        minutes = int(window.total_seconds() // 60)
        return f"it was made {status} more than {minutes} minutes ago; book a new one"
    return None


def check(
    session: Session,
    principal: Principal,
    window: timedelta,
    appointment_id: str,
    previous: Body,
    body: Body,
) -> None:
    """Refuse (409) taking ``previous`` (the stored appointment) back to ``body``'s status
    outside the rule."""
    version = int((previous.get("meta") or {}).get("versionId", 0))
    found = versions(session, [(appointment_id, version)])
    changed, before = found.get((appointment_id, version)), found.get((appointment_id, version - 1))
    reason = (
        "the appointment's versions are not known"
        if changed is None
        else refusal(principal, window, changed, before, body.get("status"))
    )
    if reason:
        raise Conflict(
            f"Appointment/{appointment_id} cannot be undone: {reason}", code="business-rule"
        )


def versions(
    session: Session, wanted: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], ResourceVersion]:
    """Each of these Appointment versions and the one before it, by (id, version): one
    statement."""
    pairs = [(ident, v) for ident, version in wanted for v in (version, version - 1) if v > 0]
    if not pairs:
        return {}
    statement = select(ResourceVersion).where(
        ResourceVersion.resource_type == "Appointment",
        or_(*(and_(ResourceVersion.id == i, ResourceVersion.version_id == v) for i, v in pairs)),
    )
    return {(row.id, row.version_id): row for row in session.execute(statement).scalars()}


def deadline(changed: ResourceVersion, window: timedelta) -> datetime:
    """When the window to undo the change ``changed`` made closes (naive UTC)."""
    return changed.last_updated + window
