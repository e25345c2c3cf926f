"""AuditEvents for patient-data access: who, what, when, from where, and the outcome.

Events follow the FHIR RESTful-interaction pattern (type ``rest``, subtype the interaction), so
admins search them with the standard AuditEvent parameters (agent, altid, entity, patient, date,
outcome, subtype).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from maillage.care.principal import Principal
from maillage.store import audit
from maillage.store.models import utcnow
from maillage.store.resources import instant

ACTIONS = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "search-type": "E",
    "update": "U",
    "delete": "D",
}
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = "0", "4", "8"
USER_SYSTEM = "urn:maillage:user"


@dataclass(frozen=True)
class Access:
    """One interaction to audit: who asked, from where, and which interaction."""

    principal: Principal | None
    address: str
    interaction: str


def event(
    access: Access, entities: list[str], outcome: str, description: str | None = None
) -> dict[str, Any]:
    """The AuditEvent body for one access; ``entities`` are ``Type/id`` references."""
    principal = access.principal
    if principal is None:
        agent: dict[str, Any] = {"who": {"display": "anonymous"}, "requestor": True}
    else:
        acting = principal.practitioner or principal.patient
        who: dict[str, Any] = (
            {"reference": acting}
            if acting
            else {"identifier": {"system": USER_SYSTEM, "value": principal.email}}
        )
        agent = {
            "who": who,
            "altId": principal.email,
            "requestor": True,
            "role": [{"text": principal.role.value}],
        }
    agent["network"] = {"address": access.address, "type": "2"}
    body: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [
            {"system": "http://hl7.org/fhir/restful-interaction", "code": access.interaction}
        ],
        "action": ACTIONS[access.interaction],
        "recorded": instant(utcnow()),
        "outcome": outcome,
        "agent": [agent],
        "source": {"observer": {"display": "maillage"}},
    }
    if description:
        body["outcomeDesc"] = description
    if entities:
        body["entity"] = [{"what": {"reference": ref}} for ref in dict.fromkeys(entities)]
    return body


def record(
    session: Session,
    access: Access,
    entities: list[str],
    outcome: str,
    description: str | None = None,
) -> None:
    """Queue the event for the hash-chained trail, in the caller's transaction."""
    audit.append(session, event(access, entities, outcome, description))
