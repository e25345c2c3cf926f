"""``POST /fhir`` with a transaction Bundle: every entry stored, or none (device gateways).

Entries are creates (``POST Type``, honouring ``ifNoneExist``) and updates (``PUT Type/id``).
Each goes through the same authorisation, validation, workflow rules and audit as a single
request (:func:`maillage.api.fhir.store`), all in one database transaction: the first refused
entry rolls everything back and its error, prefixed with the entry's index, is the answer.
``urn:uuid:`` full URLs of created entries may be referenced by the other entries.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from maillage.api import content, monitoring
from maillage.api.errors import FHIRError, FHIRResponse
from maillage.api.fhir import Exchange, OptionalPrincipal, conditional_match, outgoing, store
from maillage.care import validation
from maillage.store import resources, search
from maillage.store.database import transaction
from maillage.store.models import Resource

router = APIRouter(tags=["fhir"], dependencies=[Depends(content.json_only)])
Body = dict[str, Any]


@router.post("/fhir")
async def transaction_bundle(request: Request, principal: OptionalPrincipal) -> Response:
    """Process a transaction Bundle atomically and answer a transaction-response Bundle."""
    payload = content.decode(await request.body(), request.headers.get("content-type"))
    return await run_in_threadpool(_process, request, principal, payload)


def _entries(payload: Any) -> list[Body]:
    """The entries of a well-formed transaction Bundle (400 otherwise)."""
    validation.validate("Bundle", payload)
    if payload.get("type") != "transaction":
        raise FHIRError(400, f"POST /fhir takes a transaction Bundle, not {payload.get('type')!r}")
    entries = payload.get("entry") or []
    for i, entry in enumerate(entries):
        method = (entry.get("request") or {}).get("method")
        url = (entry.get("request") or {}).get("url", "")
        resource = entry.get("resource")
        if method not in ("POST", "PUT") or not isinstance(resource, dict):
            raise FHIRError(400, f"Bundle.entry[{i}]: only POST and PUT with a resource are taken")
        expected = resource.get("resourceType") if method == "POST" else _type_and_id(resource)
        if url.split("?")[0].strip("/") != expected:
            raise FHIRError(400, f"Bundle.entry[{i}].request.url {url!r} must be {expected!r}")
    return entries


def _type_and_id(resource: Body) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _process(request: Request, principal: Any, payload: Any) -> Response:
    entries = _entries(payload)
    exchanges = [
        Exchange(
            request,
            principal,
            entry["resource"]["resourceType"],
            "create" if entry["request"]["method"] == "POST" else "update",
        )
        for entry in entries
    ]
    for exchange in exchanges:  # before the transaction: a refusal is audited in its own
        exchange.authorize(write=True)
    at = 0
    try:
        with transaction(request.app.state.sessions) as session:
            results: list[tuple[Resource, bool]] = []
            targets = _targets(session, entries, exchanges)
            mapping = {
                entry["fullUrl"]: f"{entry['resource']['resourceType']}/{target}"
                for entry, (target, _) in zip(entries, targets, strict=True)
                if str(entry.get("fullUrl", "")).startswith("urn:uuid:")
            }
            for index, (entry, exchange, (target, existing)) in enumerate(
                zip(entries, exchanges, targets, strict=True)
            ):
                at = index
                if existing is not None:
                    results.append((existing, False))
                    continue
                put = entry["request"]["method"] == "PUT"
                body = _resolved(entry["resource"], mapping)
                body = validation.validate(exchange.resource_type, body, target if put else None)
                results.append(
                    store(exchange, session, body, target if put else None, new_id=target)
                )
    except (FHIRError, resources.StoreError, search.SearchError) as error:
        _answer_failure(exchanges[at], at, error)
    monitoring.after_commit(request.app, [row for row, _ in results])
    settings = request.app.state.settings
    return FHIRResponse(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "fullUrl": f"{request.base_url}fhir/{row.resource_type}/{row.id}",
                    "resource": outgoing(settings, row.body),
                    "response": {
                        "status": "201 Created" if created else "200 OK",
                        "location": f"{row.resource_type}/{row.id}/_history/{row.version_id}",
                        "etag": f'W/"{row.version_id}"',
                        "lastModified": resources.instant(row.last_updated),
                    },
                }
                for row, created in results
            ],
        }
    )


def _answer_failure(exchange: Exchange, index: int, error: Exception) -> NoReturn:
    """Audit the failed entry (the transaction has rolled back) and answer its error."""
    try:
        with exchange.failures():
            raise error
    except FHIRError as failed:
        raise FHIRError(
            failed.status,
            f"Bundle.entry[{index}]: {failed.diagnostics}",
            code=failed.code,
            issues=failed.issues,
        ) from error


def _targets(
    session: Session, entries: list[Body], exchanges: list[Exchange]
) -> list[tuple[str, Resource | None]]:
    """Each entry's id, and the resource an ``ifNoneExist`` condition already matches."""
    found: list[tuple[str, Resource | None]] = []
    for entry, exchange in zip(entries, exchanges, strict=True):
        if entry["request"]["method"] == "PUT":
            found.append((entry["resource"]["id"], None))
            continue
        condition = entry["request"].get("ifNoneExist")
        match = conditional_match(session, exchange, condition) if condition else None
        found.append((match.id if match else resources.new_id(), match))
    return found


def _resolved(resource: Body, mapping: dict[str, str]) -> Body:
    """The resource with ``urn:uuid:`` references to other entries replaced by ``Type/id``."""
    if not mapping:
        return resource
    text = json.dumps(resource)
    for urn, reference in mapping.items():
        text = text.replace(json.dumps(urn), json.dumps(reference))
    result: Body = json.loads(text)
    return result
