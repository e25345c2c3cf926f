"""Incoming resources: R4 validation with ``fhir.resources`` (R4B models), the R4 invariants the
models leave out, then the French rules of :mod:`maillage.care.french`.

The stored body is the client's JSON once it has validated, so nothing is lost to a re-encoding.
Decoding a request's body (media type, JSON) is the door's work: :mod:`maillage.api.content`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from maillage.care import french
from maillage.care.errors import Invalid
from maillage.store.search_params import parse_date_range

MAX_ID_LENGTH = 64
"""The R4 ``id`` datatype: 1 to 64 letters, digits, ``-`` and ``.``."""
UTC = ZoneInfo("UTC")
"""Zone of the instants compared here (any: instants carry their offset)."""
UNDATED_STATUSES = frozenset({"proposed", "cancelled", "waitlist"})
APPOINTMENT_STATUSES = frozenset(
    {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow"}
    | {"entered-in-error", "checked-in", "waitlist"}
)
"""R4 value set appointmentstatus (required binding; the models take any code)."""
PARTICIPANT_STATUSES = frozenset({"accepted", "declined", "tentative", "needs-action"})
"""R4 value set participationstatus (required binding)."""
"""Appointment statuses that may lack start and end (R4 invariant app-3)."""


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


def load_models(resource_types: Iterable[str]) -> None:
    """Build the R4 models of ``resource_types`` now: otherwise the first validation of each
    type imports its module and builds its schema (a worker's first booking took 125-155 ms,
    and 28-35 ms with its models built first)."""
    for resource_type in resource_types:
        get_fhir_model_class(resource_type)


def validate(resource_type: str, payload: Any, resource_id: str | None = None) -> dict[str, Any]:
    """Check a resource sent for ``resource_type`` (and ``resource_id`` on update)."""
    if not isinstance(payload, dict) or payload.get("resourceType") != resource_type:
        raise Invalid(f"expected a resource of type {resource_type}")
    if resource_id is not None and payload.get("id") != resource_id:
        raise Invalid(f"the resource id must be {resource_id!r}, as in the URL")
    if len(str(payload.get("id", ""))) > MAX_ID_LENGTH:
        raise Invalid(f"a resource id has at most {MAX_ID_LENGTH} characters")
    try:
        get_fhir_model_class(resource_type).model_validate(payload)
    except ValidationError as error:
        raise Invalid(
            f"invalid {resource_type}", code="structure", issues=_issues(error)
        ) from error
    except KeyError as error:  # a contained or Bundle resource of a type R4 does not know
        raise Invalid(f"invalid {resource_type}: unknown resource type {error}") from error
    _check_references(payload, in_bundle=resource_type == "Bundle")
    _check_codes(payload)
    _check_times(payload)
    french.check(payload)
    return payload


_LITERAL = re.compile(
    r"(?:https?://[^\s#?]+/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[0-9]{1,10})?",
    re.ASCII,
)
"""A literal reference: ``Type/id`` (or its version), relative or absolute."""
URN_UUID = re.compile(r"urn:uuid:[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", re.ASCII)
_URN_OID = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+", re.ASCII)


def _check_references(body: dict[str, Any], *, in_bundle: bool = False) -> None:
    """Every ``reference`` is ``#contained``, a ``urn:oid:``, or exactly ``Type/id`` of an R4
    type: ``Patient/x/`` or ``patient/x`` would name no patient, and the record would fall
    outside the compartment that protects it. A ``urn:uuid:`` names another entry of a
    transaction Bundle: taken inside one (``in_bundle``), where the transaction replaces it by
    its entry's ``Type/id``; one left in a resource is an entry that is not there."""
    stack: list[Any] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        reference = node.get("reference")
        if isinstance(reference, str) and URN_UUID.fullmatch(reference):
            if not in_bundle:
                raise Invalid(f"reference {reference!r} names no entry of the transaction")
        elif isinstance(reference, str) and not _acceptable(reference):
            raise Invalid(f"reference {reference!r} is not Type/id (nor #id, urn:uuid:, urn:oid:)")
        stack.extend(value for key, value in node.items() if key != "reference")


def _acceptable(reference: str) -> bool:
    if reference.startswith("#") or _URN_OID.fullmatch(reference):
        return True
    match = _LITERAL.fullmatch(reference)
    if match is None:
        return False
    try:
        get_fhir_model_class(match.group(1))
    except (KeyError, ValueError):  # not an R4 type
        return False
    return True


def _check_codes(body: dict[str, Any]) -> None:
    """The required value sets of an Appointment's statuses: a status outside them would let
    it sidestep the booking rules (neither holding time nor final)."""
    if body["resourceType"] != "Appointment":
        return
    if body.get("status") not in APPOINTMENT_STATUSES:
        raise Invalid(f"Appointment.status {body.get('status')!r} is not an appointmentstatus")
    for i, participant in enumerate(body.get("participant") or []):
        if participant.get("status") not in PARTICIPANT_STATUSES:
            raise Invalid(
                f"Appointment.participant[{i}].status {participant.get('status')!r} is not a "
                "participationstatus"
            )


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


def _invariant(message: str) -> Invalid:
    issue = {"severity": "error", "code": "invariant", "diagnostics": message}
    return Invalid(message, code="invariant", issues=[issue])
