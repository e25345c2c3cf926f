"""Télé-expertise work lists at ``/api/teleexpertise``: the overdue list and response times.

Both go through the same authentication, compartment check and audit as ``/fhir``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import and_

from maillage.api.errors import FHIRResponse
from maillage.api.fhir import MAX_COUNT, Exchange, OptionalPrincipal, bundle
from maillage.care import policy
from maillage.care.teleexpertise import OPEN, steps
from maillage.store import resources, search
from maillage.store.database import transaction
from maillage.store.models import Resource, SearchEntry, utcnow
from maillage.store.search_params import DUE

router = APIRouter(prefix="/api/teleexpertise", tags=["télé-expertise"])


@router.get("/overdue")
def overdue(request: Request, principal: OptionalPrincipal) -> Response:
    """Open Tasks past their due date that the caller may see, as a searchset Bundle."""
    exchange = Exchange(request, principal, "Task", "search-type")
    who = exchange.authorize(write=False)
    late = Resource.id.in_(search.matching("Task", DUE, SearchEntry.high < utcnow()))
    restriction = policy.search_restriction(who, "Task")
    if restriction is not None:
        late = and_(late, restriction)
    with exchange.failures():
        criteria, _ = search.parse("Task", [("status", ",".join(OPEN))])
        statement = search.statement("Task", criteria, [], exchange.settings.zone, late)
        with transaction(exchange.sessions) as session:
            ordering = search.order("Task", None)
            rows, total = search.page(session.connection(), statement, ordering, MAX_COUNT, 0)
            for row in rows:
                exchange.entities.extend(sorted(exchange.compartment(row.id, row.body)))
            exchange.succeeded(session)
    return FHIRResponse(bundle(request, "Task", rows, total, MAX_COUNT, 0))


@router.get("/{task_id}/steps")
def task_steps(task_id: str, request: Request, principal: OptionalPrincipal) -> dict[str, Any]:
    """When the Task first reached each status, for response-time reporting."""
    exchange = Exchange(request, principal, "Task", "read")
    exchange.entities.append(f"Task/{task_id}")
    exchange.authorize(write=False)
    with exchange.failures(), transaction(exchange.sessions) as session:
        row = resources.read(session, "Task", task_id)
        exchange.check_patients(session, exchange.compartment(row.id, row.body))
        reached = steps(session, task_id)
        exchange.succeeded(session)
    return {"task": f"Task/{task_id}", "reached": reached}
