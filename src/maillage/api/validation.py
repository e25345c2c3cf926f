"""Incoming resources: JSON decoding, R4 validation with ``fhir.resources`` (R4B models), then
the French rules of :mod:`maillage.api.french`.

The stored body is the client's JSON once it has validated, so nothing is lost to a re-encoding.
"""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from maillage.api import french
from maillage.api.errors import FHIRError

JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")


def decode(raw: bytes, content_type: str | None) -> Any:
    """The JSON document of a request body; other media types get 415."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in JSON_TYPES:
        raise FHIRError(415, f"send application/fhir+json, not {media or 'nothing'}")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FHIRError(400, f"body is not valid JSON: {error}") from error


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
    try:
        get_fhir_model_class(resource_type).model_validate(payload)
    except ValidationError as error:
        raise FHIRError(
            400, f"invalid {resource_type}", code="structure", issues=_issues(error)
        ) from error
    french.check(payload)
    return payload
