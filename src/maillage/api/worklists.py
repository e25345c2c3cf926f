"""Télé-expertise work lists at ``/api/teleexpertise``: the overdue list and response times.

Both go through the same authentication, compartment check and audit as ``/fhir``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from maillage.api.deps import Repo
from maillage.api.errors import FHIRResponse
from maillage.api.fhir import bundle

router = APIRouter(prefix="/api/teleexpertise", tags=["télé-expertise"])


@router.get("/overdue")
def overdue(request: Request, repository: Repo) -> Response:
    """Open Tasks past their due date that the caller may see, as a searchset Bundle."""
    return FHIRResponse(bundle(request, repository, "Task", repository.overdue_tasks()))


@router.get("/{task_id}/steps")
def task_steps(task_id: str, repository: Repo) -> dict[str, Any]:
    """When the Task first reached each status, for response-time reporting."""
    return {"task": f"Task/{task_id}", "reached": repository.task_steps(task_id)}
