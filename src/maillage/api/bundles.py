"""``POST /fhir`` with a transaction Bundle: every entry stored, or none (device gateways).

Entries are creates (``POST Type``, honouring ``ifNoneExist``) and updates (``PUT Type/id``),
each with the same authorisation, validation, rules and audit as a single request, all in one
database transaction (:meth:`maillage.care.repository.Repository.transaction`): the first
refused entry rolls everything back and its error, prefixed with the entry's index, is the
answer. ``urn:uuid:`` full URLs of created entries may be referenced by the other entries.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from maillage.api import content
from maillage.api.deps import Repo
from maillage.api.errors import FHIRResponse
from maillage.care.repository import instant

router = APIRouter(tags=["fhir"], dependencies=[Depends(content.json_only)])


@router.post("/fhir")
async def transaction_bundle(request: Request, repository: Repo) -> Response:
    """Process a transaction Bundle atomically and answer a transaction-response Bundle."""
    payload = content.decode(await request.body(), request.headers.get("content-type"))
    written = await run_in_threadpool(repository.transaction, payload)
    return FHIRResponse(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "fullUrl": f"{request.base_url}fhir/{row.resource_type}/{row.id}",
                    "resource": repository.outgoing(row.body),
                    "response": {
                        "status": "201 Created" if created else "200 OK",
                        "location": f"{row.resource_type}/{row.id}/_history/{row.version_id}",
                        "etag": f'W/"{row.version_id}"',
                        "lastModified": instant(row.last_updated),
                    },
                }
                for row, created in ((w.row, w.created) for w in written)
            ],
        }
    )
