"""``POST /fhir/Patient/{id}/$identity-vigilance``: the identity-vigilance action.

A coordinator corrects a Patient's traits or INS, even once the identity is « qualifiée », with
a reason the audit trail keeps. The body is a FHIR ``Parameters`` with ``resource`` (the
Patient as it must read) and ``reason`` (``valueString``); the rules are
:mod:`maillage.care.identity`'s.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from maillage.api import content
from maillage.api.deps import Repo
from maillage.api.fhir import resource_response
from maillage.care.errors import Invalid

router = APIRouter(prefix="/fhir", tags=["identity"])


def _arguments(payload: Any) -> tuple[Any, str]:
    """The Patient and the reason of the operation's ``Parameters``."""
    if not isinstance(payload, dict) or payload.get("resourceType") != "Parameters":
        raise Invalid("expected a Parameters resource with 'resource' and 'reason'")
    named = {
        part.get("name"): part for part in payload.get("parameter") or [] if isinstance(part, dict)
    }
    reason = (named.get("reason") or {}).get("valueString")
    patient = (named.get("resource") or {}).get("resource")
    if not isinstance(reason, str) or patient is None:
        raise Invalid("Parameters needs 'resource' (the Patient) and 'reason' (valueString)")
    return patient, reason


@router.post("/Patient/{patient_id}/$identity-vigilance", dependencies=[Depends(content.json_only)])
async def identity_vigilance(patient_id: str, request: Request, repository: Repo) -> Response:
    """Correct a (qualified) identity for a reason; coordinators only, audited."""
    payload = content.decode(await request.body(), request.headers.get("content-type"))
    patient, reason = _arguments(payload)
    if_match = request.headers.get("if-match")
    written = await run_in_threadpool(
        lambda: repository.correct_identity(patient_id, patient, reason, if_match=if_match)
    )
    return resource_response(repository, written.row, 200)
