"""Scheduling operations: ``Schedule/{id}/$generate-slots`` and ``Appointment/{id}/$ics``.

The availability template of ``$generate-slots`` is described in
:mod:`maillage.care.scheduling`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from maillage.api import content
from maillage.api.deps import Repo
from maillage.api.errors import FHIRResponse

router = APIRouter(prefix="/fhir", tags=["scheduling"])


@router.post("/Schedule/{schedule_id}/$generate-slots", dependencies=[Depends(content.json_only)])
async def generate_slots_operation(
    schedule_id: str, request: Request, repository: Repo
) -> Response:
    """Generate a Schedule's free Slots from an availability template (coordinators, admins)."""
    payload = content.decode(await request.body(), request.headers.get("content-type"))
    return FHIRResponse(await run_in_threadpool(repository.generate_slots, schedule_id, payload))


@router.get("/Appointment/{appointment_id}/$ics")
def ics(appointment_id: str, repository: Repo) -> Response:
    """The appointment's iCalendar invitation (CANCEL once cancelled), audited as a read.

    With ``MAILLAGE_JITSI_SECRET`` set, the video link in it is signed for the caller.
    """
    content = repository.ics(appointment_id)
    return Response(content, media_type="text/calendar; charset=utf-8")
