"""French rules, applied only where their data is present so international resources pass.

Incoming: an INS-NIR must pass its key check (Corsica's 2A/2B included) and an RPPS number must
be 11 digits with its Luhn key. Outgoing: under the identity-vigilance rules (RNIV) a Patient's
INS leaves the server only when the identity is qualified, as the FR Core extension
``fr-core-identity-reliability`` (sub-extension ``identityStatus``) records it; without that
extension the identity counts as provisional.
"""

from __future__ import annotations

from typing import Any

from maillage.api.errors import FHIRError
from maillage.care.identifiers import (
    INS_NIR_SYSTEM,
    RPPS_SYSTEM,
    IdentityStatus,
    validate_nir,
    validate_rpps,
    without_unqualified_ins,
)

IDENTITY_RELIABILITY = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
)
_STATUS_CODES = {
    "PROV": IdentityStatus.PROVISOIRE,
    "RECUP": IdentityStatus.RECUPEREE,
    "VALI": IdentityStatus.VALIDEE,
    "QUAL": IdentityStatus.QUALIFIEE,
}
_IDENTIFIER_RULES = {
    ("Patient", INS_NIR_SYSTEM): validate_nir,
    ("Practitioner", RPPS_SYSTEM): validate_rpps,
}


def check(body: dict[str, Any]) -> None:
    """422 when an INS-NIR or RPPS identifier is malformed."""
    for index, identifier in enumerate(body.get("identifier") or []):
        rule = _IDENTIFIER_RULES.get((body["resourceType"], identifier.get("system")))
        if rule is None:
            continue
        try:
            rule(str(identifier.get("value", "")))
        except ValueError as error:
            where = f"{body['resourceType']}.identifier[{index}].value"
            issue = {
                "severity": "error",
                "code": "business-rule",
                "diagnostics": str(error),
                "expression": [where],
            }
            raise FHIRError(422, str(error), code="business-rule", issues=[issue]) from error


def identity_status(patient: dict[str, Any]) -> IdentityStatus:
    """The RNIV status a Patient carries, provisional when it says nothing."""
    for extension in patient.get("extension") or []:
        if extension.get("url") != IDENTITY_RELIABILITY:
            continue
        for part in extension.get("extension") or []:
            if part.get("url") == "identityStatus":
                code = (part.get("valueCoding") or {}).get("code")
                if code in _STATUS_CODES:
                    return _STATUS_CODES[code]
    return IdentityStatus.PROVISOIRE


def outgoing(body: dict[str, Any]) -> dict[str, Any]:
    """The resource as it may leave the server (a Patient's INS only if qualified)."""
    if body.get("resourceType") != "Patient":
        return body
    return without_unqualified_ins(body, identity_status(body))
