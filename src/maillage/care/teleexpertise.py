"""Télé-expertise: a ServiceRequest (the question) and its Task (the expert's work).

A request is recognised by the code ``urn:maillage:workflow|tele-expertise`` on the
ServiceRequest and its Task. On every write of such a Task the server:

* checks the status change against the FHIR Task state machine (409 when refused);
* fills the due date (``restriction.period.end``, days per specialty from
  ``MAILLAGE_EXPERTISE_DUE_DAYS``, one day at most for an urgent request) and who may take a
  pooled request (``restriction.recipient``: the organisation of a HealthcareService, the
  practitioner of a PractitionerRole), so that the pool's professionals see it;
* stamps ``lastModified`` and ``executionPeriod`` (start when work starts, end when it ends);
* records the Assurance Maladie act: RQD on the request, TE2 on the Task when answered.

A request is *pooled* while its ``owner`` is a HealthcareService or a PractitionerRole rather
than one Practitioner. A professional is in the pool when one of the references they act as is
among its ``restriction.recipient``; taking it (:func:`claim`) makes them the owner and accepts
it, as in the FHIR Task workflow, so that it leaves the other members' inboxes.

Each write is a new version of the Task with its time, so response times are read from the
history (:func:`steps`).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from maillage.care import acts, policy
from maillage.care.codes import TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import Conflict, Forbidden, Unprocessable
from maillage.care.principal import Principal
from maillage.care.task_state import TERMINAL, TaskStatus, TransitionError, check_transition
from maillage.config import Settings
from maillage.store import resources, search
from maillage.store.models import Resource, ResourceVersion, SearchEntry, utcnow
from maillage.store.search_params import DUE, normalise_reference

OPEN = (
    TaskStatus.REQUESTED,
    TaskStatus.RECEIVED,
    TaskStatus.ACCEPTED,
    TaskStatus.READY,
    TaskStatus.IN_PROGRESS,
    TaskStatus.ON_HOLD,
)
STARTED = frozenset({TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS})
#: Owners that stand for a group of professionals, and the search parameters naming members.
POOLS = {
    "HealthcareService": ("organization",),
    "PractitionerRole": ("practitioner", "organization"),
}
#: A pooled request is taken before work on it starts.
CLAIMABLE = frozenset({TaskStatus.REQUESTED, TaskStatus.RECEIVED})
#: Task priorities that shorten the due date to :data:`URGENT_DAYS`.
URGENT = frozenset({"urgent", "asap", "stat"})
URGENT_DAYS = 1

Body = dict[str, Any]


def overdue(
    zone: ZoneInfo, now: datetime, restriction: ColumnElement[bool] | None = None
) -> Select[Resource]:
    """The open Tasks whose due date is past at ``now`` (naive UTC), within ``restriction``
    (a principal's access)."""
    late = Resource.id.in_(search.matching("Task", DUE, SearchEntry.high < now))
    criteria, _ = search.parse("Task", [("status", ",".join(OPEN))])
    condition = late if restriction is None else and_(late, restriction)
    return search.statement("Task", criteria, [], zone, condition)


def is_expertise(body: Body) -> bool:
    """Whether a ServiceRequest or Task is a télé-expertise one."""
    codings = (body.get("code") or {}).get("coding", [])
    return any(
        c.get("system") == WORKFLOW_SYSTEM and c.get("code") == TELE_EXPERTISE for c in codings
    )


def _check_acts(body: Body, context: acts.ActContext) -> None:
    for code in acts.act_codes(body):
        try:
            acts.check_act(code, context)
        except ValueError as error:
            raise Unprocessable(str(error)) from error


def prepare_request(body: Body) -> Body:
    """A télé-expertise ServiceRequest with its requester's act (RQD) and authoring time."""
    if not is_expertise(body):
        return body
    _check_acts(body, acts.ActContext.TELE_EXPERTISE_REQUESTER)
    body = copy.deepcopy(body)
    body.setdefault("authoredOn", resources.instant(utcnow()))
    acts.record_act(body, "RQD")
    return body


def prepare_task(session: Session, settings: Settings, body: Body, current: Body | None) -> Body:
    """Check a Task's status change; for télé-expertise, stamp dates, recipients and acts."""
    if current is not None:
        try:
            check_transition(
                current["status"], body["status"], status_reason=body.get("statusReason")
            )
        except TransitionError as error:
            raise Conflict(str(error), code="business-rule") from error
    if not is_expertise(body):
        return body
    _check_acts(body, acts.ActContext.TELE_EXPERTISE_EXPERT)
    body = copy.deepcopy(body)
    now = utcnow()
    stamp = resources.instant(now)
    body["lastModified"] = stamp
    restriction = body.setdefault("restriction", {})
    if current is None:
        body.setdefault("authoredOn", stamp)
        days = _due_days(session, settings, body)
        if body.get("priority") in URGENT:
            days = min(days, URGENT_DAYS)
        restriction.setdefault("period", {}).setdefault(
            "end", resources.instant(now + timedelta(days=days))
        )
    recipients = restriction.setdefault("recipient", [])
    for reference in _pool_members(session, body.get("owner")):
        if {"reference": reference} not in recipients:
            recipients.append({"reference": reference})
    if not recipients:
        del restriction["recipient"]
    status = TaskStatus(body["status"])
    period = body.setdefault("executionPeriod", {})
    if status in STARTED:
        period.setdefault("start", stamp)
    if status in TERMINAL:
        period.setdefault("end", stamp)
    if not period:
        del body["executionPeriod"]
    if status is TaskStatus.COMPLETED:
        acts.record_act(body, "TE2")
    return body


def _referenced(session: Session, reference: str | None) -> Body | None:
    target = normalise_reference(reference or "")
    if target is None:
        return None
    row = resources.get(session, *target.split("/", 1))
    return None if row is None or row.deleted else row.body


def due_days(settings: Settings, performer_type: Body | None) -> int:
    """Days allowed to answer a request for the specialty asked for (``performerType``)."""
    days = settings.expertise_due_days
    for coding in (performer_type or {}).get("coding", []):
        if coding.get("code") in days:
            return days[coding["code"]]
    return days.get("default", 7)


def _due_days(session: Session, settings: Settings, task: Body) -> int:
    """Days allowed for the specialty the Task's requests (``basedOn``) ask for."""
    requests = (_referenced(session, item.get("reference")) for item in task.get("basedOn", []))
    codings = [
        coding
        for request in requests
        for coding in ((request or {}).get("performerType") or {}).get("coding", [])
    ]
    return due_days(settings, {"coding": codings})


def _pool_members(session: Session, owner: Body | None) -> list[str]:
    """Who stands behind a pooled owner: a service's organisation, a role's practitioner."""
    reference = normalise_reference((owner or {}).get("reference", ""))
    body = _referenced(session, reference)
    if body is None:
        return []
    keys: tuple[str, ...]
    if body["resourceType"] == "HealthcareService":
        keys = ("providedBy",)
    elif body["resourceType"] == "PractitionerRole":
        keys = ("practitioner", "organization")
    else:
        return []
    return [body[key]["reference"] for key in keys if body.get(key, {}).get("reference")]


def is_pooled(task: Body) -> bool:
    """Whether the Task is still owned by a pool (a service or a role), not by one person."""
    owner = normalise_reference((task.get("owner") or {}).get("reference", "")) or ""
    return owner.partition("/")[0] in POOLS


def in_pool(task: Body, principal: Principal) -> bool:
    """Whether ``principal`` is among the recipients the server stamped on a pooled Task."""
    recipients = {
        normalise_reference(r.get("reference", ""))
        for r in (task.get("restriction") or {}).get("recipient", [])
    }
    return is_pooled(task) and bool(recipients & principal.acts_as)


def pools_of(session: Session, principal: Principal) -> list[str]:
    """The pooled owners ``principal`` belongs to (the inverse of :func:`_pool_members`), so
    that an inbox can search ``Task?owner=`` for them too."""
    found = set()
    for kind, params in POOLS.items():
        found |= {
            f"{kind}/{ident}"
            for ident in session.execute(
                select(SearchEntry.resource_id)
                .join(
                    Resource,
                    (Resource.resource_type == SearchEntry.resource_type)
                    & (Resource.id == SearchEntry.resource_id),
                )
                .where(
                    SearchEntry.resource_type == kind,
                    SearchEntry.param.in_(params),
                    SearchEntry.value.in_(principal.acts_as),
                    Resource.deleted.is_(False),
                )
            ).scalars()
        }
    return sorted(found)


def claim(task: Body, principal: Principal) -> Body:
    """The changes of a pooled Task taken by ``principal``: they own it and it is accepted.

    403 for someone outside the pool, 409 once another member has taken it or it is closed.
    """
    if not is_pooled(task) or task.get("status") not in CLAIMABLE:
        raise Conflict("this request has already been taken", code="business-rule")
    if principal.practitioner is None or not in_pool(task, principal):
        raise Forbidden("only a member of the pool may take this request")
    return {"owner": {"reference": principal.practitioner}, "status": TaskStatus.ACCEPTED.value}


def check_taking(current: Body | None, body: Body, principal: Principal) -> None:
    """A pooled request passes to one professional only when a member of the pool takes it
    for themselves (as :func:`claim` does); admins and coordinators may assign it."""
    if current is None or not is_pooled(current) or is_pooled(body):
        return
    if principal.role in policy.FULL_ACCESS:
        return
    owner = normalise_reference((body.get("owner") or {}).get("reference", ""))
    if owner != principal.practitioner or not in_pool(current, principal):
        raise Forbidden("only a member of the pool may take this request")


def steps(session: Session, task_id: str) -> dict[str, str]:
    """When the Task first reached each status, from its version history (response times)."""
    rows = session.execute(
        select(ResourceVersion)
        .where(ResourceVersion.resource_type == "Task", ResourceVersion.id == task_id)
        .order_by(ResourceVersion.version_id)
    ).scalars()
    reached: dict[str, str] = {}
    for row in rows:
        reached.setdefault(row.body["status"], resources.instant(row.last_updated))
    return reached
