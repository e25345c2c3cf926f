"""Content negotiation and request bodies: the server speaks FHIR JSON only.

A body in another media type is refused (415), as is one that is not JSON, nests deeper than
:data:`MAX_DEPTH` or holds a NUL character (400). These refusals are domain errors so that the
repository audits them like any other refused access to patient data.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from maillage.api.errors import FHIRError
from maillage.care.errors import Invalid, Unsupported

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


def decode(raw: bytes, content_type: str | None) -> Any:
    """The JSON document of a request body; other media types get 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise Unsupported(f"send application/fhir+json, not {media or 'nothing'}")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:  # ValueError: an integer over 4,300 digits
        raise Invalid(f"body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise Invalid(f"JSON nests deeper than {MAX_DEPTH} levels") from error
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
                raise Invalid("JSON strings may not contain the NUL character")
            continue
        if isinstance(node, dict):
            node = [*node, *node.values()]
        if isinstance(node, list):
            if level == MAX_DEPTH:
                raise Invalid(f"JSON nests deeper than {MAX_DEPTH} levels")
            stack.extend((child, level + 1) for child in node)
