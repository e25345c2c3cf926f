"""Transaction Bundles: their entries checked, and references between entries resolved.

Entries are creates (``POST Type``, honouring ``ifNoneExist``) and updates (``PUT Type/id``,
honouring ``ifMatch``); ``urn:uuid:`` full URLs of created entries may be referenced by the other
entries. As FHIR requires, no two entries share a full URL or write the same resource.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from maillage.care import policy, validation
from maillage.care.calls import Call
from maillage.care.errors import DomainError, Invalid, TooLarge

Body = dict[str, Any]


def entries(bundle: Any, limit: int) -> list[Body]:
    """The entries of a well-formed transaction Bundle of at most ``limit`` entries (refused
    otherwise; counted first, so that an oversized Bundle costs no validation)."""
    sent = bundle.get("entry") if isinstance(bundle, dict) else None
    if isinstance(sent, list) and len(sent) > limit:
        raise TooLarge(f"a transaction Bundle takes at most {limit} entries, not {len(sent)}")
    validation.validate("Bundle", bundle)
    if bundle.get("type") != "transaction":
        raise Invalid(f"POST /fhir takes a transaction Bundle, not {bundle.get('type')!r}")
    entries: list[Body] = bundle.get("entry") or []
    full_urls: set[str] = set()
    written: set[str] = set()
    for i, entry in enumerate(entries):
        method = (entry.get("request") or {}).get("method")
        url = (entry.get("request") or {}).get("url", "")
        resource = entry.get("resource")
        if method not in ("POST", "PUT") or not isinstance(resource, dict):
            raise Invalid(f"Bundle.entry[{i}]: only POST and PUT with a resource are taken")
        if resource.get("resourceType") not in policy.SUPPORTED_TYPES:
            raise Invalid(f"Bundle.entry[{i}]: resource type not supported")
        if method == "PUT" and not isinstance(resource.get("id"), str):
            raise Invalid(f"Bundle.entry[{i}]: a PUT names the resource's id")
        expected = (
            resource.get("resourceType")
            if method == "POST"
            else f"{resource.get('resourceType')}/{resource.get('id')}"
        )
        if url.split("?")[0].strip("/") != expected:
            raise Invalid(f"Bundle.entry[{i}].request.url {url!r} must be {expected!r}")
        if not isinstance((entry.get("request") or {}).get("ifMatch", ""), str):
            raise Invalid(f"Bundle.entry[{i}].request.ifMatch must be a string")
        full_url = entry.get("fullUrl")
        if isinstance(full_url, str):
            _check_full_url(i, full_url, full_urls)
        if method == "PUT" and expected in written:
            raise Invalid(f"Bundle.entry[{i}] writes {expected} again: one entry per resource")
        written.add(expected)
    return entries


def _check_full_url(index: int, full_url: str, seen: set[str]) -> None:
    """A ``urn:uuid:`` full URL is a UUID; no two entries share one (which would a reference
    name?)."""
    is_urn = full_url.lower().startswith("urn:uuid:")
    if is_urn and not validation.URN_UUID.fullmatch(full_url):
        raise Invalid(f"Bundle.entry[{index}].fullUrl {full_url!r} is not a urn:uuid: UUID")
    key = full_url.lower() if is_urn else full_url
    if key in seen:
        raise Invalid(f"Bundle.entry[{index}].fullUrl {full_url!r} is already another entry's")
    seen.add(key)


def resolved(resource: Body, mapping: dict[str, str]) -> Body:
    """The resource with ``urn:uuid:`` references to other entries replaced by ``Type/id``."""
    if not mapping:
        return resource
    text = json.dumps(resource)
    for urn, reference in mapping.items():
        text = text.replace(json.dumps(urn), json.dumps(reference))
    result: Body = json.loads(text)
    return result


def failed_entry(call: Call, index: int, error: Exception) -> NoReturn:
    """Audit the failed entry (the transaction has rolled back) and raise its refusal,
    prefixed with the entry's index."""
    try:
        with call.failures():
            raise error
    except DomainError as failed:
        raise type(failed)(
            f"Bundle.entry[{index}]: {failed.message}", code=failed.code, issues=failed.issues
        ) from error
    raise AssertionError("unreachable")  # pragma: no cover
