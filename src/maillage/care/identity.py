"""Identity-vigilance rules (RNIV) on a Patient's identity and its INS.

The status lives in FR Core's ``fr-core-identity-reliability`` extension (sub-extension
``identityStatus``, codes PROV, RECUP, VALI, QUAL; read by :mod:`maillage.care.french`).
Once an identity is « qualifiée » its traits (birth name, first names, birth date, sex, birth
place code) and its INS are frozen: an ordinary write that changes them is a conflict (409);
only the identity-vigilance action (:meth:`maillage.care.repository.Repository.correct_identity`,
a coordinator with a reason, audited) may. « qualifiée » requires the INS to be checked
against the INSi teleservice: an :class:`IdentityService` is the door to it. None is shipped
(its specification is released only to accredited vendors), so without one an identity can
be raised to « validée » by hand, never to « qualifiée ».
"""

from __future__ import annotations

from typing import Any, Protocol

from maillage.care.errors import Conflict, Unprocessable
from maillage.care.french import identity_status
from maillage.care.identifiers import INS_SYSTEMS, IdentityStatus

Body = dict[str, Any]
BIRTH_PLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
"""The birth place extension FR Core's Patient profile uses (its INSEE code in the address)."""


class IdentityService(Protocol):
    """The INSi teleservice, as an accredited vendor's client implements it."""

    def verify(self, patient: Body) -> bool:
        """Whether INSi confirms the Patient's INS with its traits (operation « vérifier »)."""
        ...


def traits(patient: Body) -> tuple[Any, ...]:
    """The RNIV traits and the INS of a Patient: what a qualified identity keeps."""
    names = patient.get("name") or []
    official = [name for name in names if name.get("use") == "official"] or names[:1]
    birth_name = [(n.get("family"), tuple(n.get("given") or [])) for n in official]
    birth_place = [
        extension.get("valueAddress")
        for extension in patient.get("extension") or []
        if extension.get("url") == BIRTH_PLACE
    ]
    ins = sorted(
        (identifier.get("system"), identifier.get("value"))
        for identifier in patient.get("identifier") or []
        if identifier.get("system") in INS_SYSTEMS
    )
    return (birth_name, patient.get("birthDate"), patient.get("gender"), birth_place, ins)


def check(
    body: Body, previous: Body | None, *, vigilance: bool, service: IdentityService | None
) -> None:
    """Refuse a write that breaks the RNIV rules (see the module's docstring)."""
    was = identity_status(previous) if previous is not None else IdentityStatus.PROVISOIRE
    now = identity_status(body)
    if now is IdentityStatus.QUALIFIEE and was is not IdentityStatus.QUALIFIEE:
        if service is None:
            raise Conflict(
                "an identity becomes « qualifiée » only once INSi confirmed its INS, and no "
                "identity service is configured: « validée » is the highest status by hand"
            )
        if not service.verify(body):
            raise Unprocessable("INSi does not confirm this INS with these traits")
    frozen = previous is not None and was is IdentityStatus.QUALIFIEE
    if frozen and not vigilance:
        assert previous is not None
        if now is not IdentityStatus.QUALIFIEE or traits(body) != traits(previous):
            raise Conflict(
                "the identity is « qualifiée »: its traits, INS and status change only through "
                "the identity-vigilance action ($identity-vigilance, with a reason)"
            )
