"""French rules, applied only where their data is present so international resources pass.

Incoming: an INS-NIR must pass its key check (Corsica's 2A/2B included), an RPPS number must
be 11 digits with its Luhn key, and a commune's INSEE code in an address (FR Core extension
``fr-core-address-insee-code``) must have the INSEE layout. Outgoing: under the
identity-vigilance rules (RNIV) a Patient's INS leaves the server only when the identity is
qualified, as the FR Core extension ``fr-core-identity-reliability`` (sub-extension
``identityStatus``) records it; without that extension the identity counts as provisional.
"""

from __future__ import annotations

import re
from typing import Any

from maillage.care.errors import Unprocessable
from maillage.care.identifiers import (
    INS_NIR_SYSTEM,
    INS_TEST_SYSTEMS,
    RPPS_SYSTEM,
    IdentityStatus,
    validate_nir,
    validate_rpps,
    without_unqualified_ins,
)

INSEE_EXTENSION = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code"
"""FR Core's address extension: the commune's INSEE code (a site's, a patient's residence)."""
_INSEE_CODE = re.compile(r"\d{5}|2[AB]\d{3}")
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
    **{("Patient", system): validate_nir for system in (INS_NIR_SYSTEM, *INS_TEST_SYSTEMS)},
    ("Practitioner", RPPS_SYSTEM): validate_rpps,
}
"""The INS-NIR of test and demonstration identities is a NIR too, checked the same way."""


def check(body: dict[str, Any]) -> None:
    """422 when an INS-NIR, an RPPS number or a commune's INSEE code is malformed."""
    kind = body["resourceType"]
    for index, identifier in enumerate(body.get("identifier") or []):
        rule = _IDENTIFIER_RULES.get((kind, identifier.get("system")))
        if rule is None:
            continue
        try:
            rule(str(identifier.get("value", "")))
        except ValueError as error:
            raise _refusal(str(error), f"{kind}.identifier[{index}].value") from error
    addresses = body.get("address") or []
    single = isinstance(addresses, dict)  # Location has one address, the others a list
    for index, address in enumerate([addresses] if single else addresses):
        for extension in address.get("extension") or []:
            code = (extension.get("valueCoding") or {}).get("code", "")
            if extension.get("url") == INSEE_EXTENSION and not _INSEE_CODE.fullmatch(code):
                where = f"{kind}.address{'' if single else f'[{index}]'}"
                raise _refusal(
                    f"commune code {code!r} is not an INSEE code (5 digits, 2A/2B for Corsica)",
                    where,
                )


def _refusal(message: str, where: str) -> Unprocessable:
    issue = {
        "severity": "error",
        "code": "business-rule",
        "diagnostics": message,
        "expression": [where],
    }
    return Unprocessable(message, code="business-rule", issues=[issue])


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
