"""Incoming resources: JSON decoding, R4 validation with ``fhir.resources`` (R4B models), then
the French rules of :mod:`maillage.care.french`.

The stored body is the client's JSON once it has validated, so nothing is lost to a re-encoding.
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from maillage.api.errors import FHIRError
from maillage.care import french
from maillage.store.search_params import parse_date_range

JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
#: What ``_format`` and ``Accept`` may ask for: JSON, or anything.
_JSON_FORMATS = {*JSON_TYPES, "json"}
_JSON_RANGES = {*_JSON_FORMATS, "*/*", "application/*"}


async def json_only(request: Request) -> None:
    """406 when a client asks for another format than JSON (``_format`` or ``Accept``): the
    server speaks FHIR JSON only, as its CapabilityStatement says; answering JSON to a client
    that asked for XML would look like a success it cannot read. (Async: it does no I/O, and
    FastAPI would run a plain function in a worker thread, one more hop per request.)"""
    wanted = request.query_params.get("_format")
    if wanted is not None and wanted.split(";")[0].strip().lower() not in _JSON_FORMATS:
        raise FHIRError(406, f"only application/fhir+json is served, not _format={wanted}")
    accept = request.headers.get("accept")
    if accept and not {r.split(";")[0].strip().lower() for r in accept.split(",")} & _JSON_RANGES:
        raise FHIRError(406, f"only application/fhir+json is served, not {accept}")


MAX_DEPTH = 100
"""Deepest nesting of JSON objects and arrays accepted: far above what FHIR resources need,
far below what makes the recursive parser and validators overflow."""
MAX_ID_LENGTH = 64
"""The R4 ``id`` datatype: 1 to 64 letters, digits, ``-`` and ``.``."""
UTC = ZoneInfo("UTC")
"""Zone of the instants compared here (any: instants carry their offset)."""
UNDATED_STATUSES = frozenset({"proposed", "cancelled", "waitlist"})
"""Appointment statuses that may lack start and end (R4 invariant app-3)."""


def decode(raw: bytes, content_type: str | None) -> Any:
    """The JSON document of a request body; other media types get 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise FHIRError(415, f"send application/fhir+json, not {media or 'nothing'}")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FHIRError(400, f"body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise FHIRError(400, f"JSON nests deeper than {MAX_DEPTH} levels") from error
    _check_document(document)
    return document


def _check_document(document: Any) -> None:
    """400 for JSON nested deeper than :data:`MAX_DEPTH` or holding a NUL character (no FHIR
    string may, and PostgreSQL refuses it); walked without recursion."""
    stack = [(document, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                raise FHIRError(400, "JSON strings may not contain the NUL character")
            continue
        if isinstance(node, dict):
            node = [*node, *node.values()]
        if isinstance(node, list):
            if level == MAX_DEPTH:
                raise FHIRError(400, f"JSON nests deeper than {MAX_DEPTH} levels")
            stack.extend((child, level + 1) for child in node)


def _issues(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "severity": "error",
            "code": "structure" if item["type"] == "extra_forbidden" else "value",
            "diagnostics": item["msg"],
            "expression": [".".join(str(part) for part in item["loc"]) or "(root)"],
        }
        for item in error.errors(include_url=False)
    ]


def validate(resource_type: str, payload: Any, resource_id: str | None = None) -> dict[str, Any]:
    """Check a resource sent for ``resource_type`` (and ``resource_id`` on update)."""
    if not isinstance(payload, dict) or payload.get("resourceType") != resource_type:
        raise FHIRError(400, f"expected a {resource_type} resource")
    if resource_id is not None and payload.get("id") != resource_id:
        raise FHIRError(400, f"the resource id must be {resource_id!r}, as in the URL")
    if len(str(payload.get("id", ""))) > MAX_ID_LENGTH:
        raise FHIRError(400, f"a resource id has at most {MAX_ID_LENGTH} characters")
    try:
        get_fhir_model_class(resource_type).model_validate(payload)
    except ValidationError as error:
        raise FHIRError(
            400, f"invalid {resource_type}", code="structure", issues=_issues(error)
        ) from error
    _check_times(payload)
    french.check(payload)
    return payload


def _check_times(body: dict[str, Any]) -> None:
    """The R4 rules on an Appointment's or Slot's times that the models do not check: start no
    later than end, and an Appointment undated only while proposed, cancelled or waitlisted
    (invariants app-2 and app-3). A booked appointment without times would hold no period, and
    so escape the rule that one person is never booked twice at once."""
    start, end = body.get("start"), body.get("end")
    kind = body["resourceType"]
    if kind == "Appointment" and (start is None or end is None):
        if start is not None or end is not None:
            raise _invariant("app-2: an Appointment has both start and end, or neither")
        if body.get("status") not in UNDATED_STATUSES:
            raise _invariant(f"app-3: a {body.get('status')} Appointment needs start and end")
    reversed_times = (
        kind in ("Appointment", "Slot")
        and start
        and end
        and parse_date_range(start, UTC)[0] > parse_date_range(end, UTC)[0]
    )
    if reversed_times:
        raise _invariant(f"{kind}.start {start} is after its end {end}")


def _invariant(message: str) -> FHIRError:
    issue = {"severity": "error", "code": "invariant", "diagnostics": message}
    return FHIRError(400, message, code="invariant", issues=[issue])
