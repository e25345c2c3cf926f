"""French health identifiers: INS-NIR for patients, RPPS for practitioners, FINESS and ROR
identifiers for sites, identity status.

The server validates these only when their identifier system is present, so that international
resources without French identifiers are accepted unchanged.
"""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any

from stdnum import luhn
from stdnum.fr import nir as stdnum_nir
from stdnum.fr import siren, siret

INS_NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
"""INS built on the NIR (the person's social-security number)."""
INS_NIA_SYSTEM = "urn:oid:1.2.250.1.213.1.4.9"
"""INS built on the NIA, the waiting number given before a NIR is assigned."""
INS_TEST_SYSTEMS = frozenset({"urn:oid:1.2.250.1.213.1.4.10", "urn:oid:1.2.250.1.213.1.4.11"})
"""INS-NIR of test and demonstration identities issued by the INSi teleservice."""
INS_SYSTEMS = frozenset({INS_NIR_SYSTEM, INS_NIA_SYSTEM, *INS_TEST_SYSTEMS})
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
FINESS_SYSTEM = "http://finess.sante.gouv.fr"
"""FINESS identifier system of the ANS FR Core profiles (Organization.identifier, slice finess)."""

# ROR (Répertoire opérationnel des ressources) identifiers, as the ANS ROR FHIR implementation
# guide (https://interop.esante.gouv.fr/ig/fhir/ror, profiles ror-organization, ror-location,
# ror-healthcareservice; source github.com/ansforge/IG-fhir-repertoire-offre-ressources-sante)
# and the ROR FHIR API documentation (github.com/ansforge/ROR-fhir-documentation, pages
# resources/organization, location, healthcare-service) give them.
ID_NAT_STRUCT_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
"""idNatStruct of a structure (ROROrganization slice idNatSt, type TRE_G07 code 40): the CI-SIS
national structure identifier, a one-digit kind then the number (1 FINESS, 2 SIREN, 3 SIRET,
0 and 4 the ADELI and RPPS "rang" of a professional's cabinet)."""
STRUCTURE_ID_TYPE_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G07-TypeIdentifiantStructure/FHIR/"
    "TRE-G07-TypeIdentifiantStructure"
)
ROR_LOCATION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/JDV_J236-TypologieIdentifiantLieu-ROR/FHIR/"
    "JDV-J236-TypologieIdentifiantLieu-ROR"
)
"""The system the ROR API documentation searches a place's identifier under
(``Location?identifier=<this>|XXX``); the ror-location profile slices Location.identifier by
type (TRE_R354 code 25, the place's identifier known to the ROR)."""
ROR_LOCATION_TYPE_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R354-TypeIdentifiantRessourceOperationnelle/FHIR/"
    "TRE-R354-TypeIdentifiantRessourceOperationnelle"
)
ROR_OFFER_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R355-TypeIdentifiantOffre/FHIR/TRE-R355-TypeIdentifiantOffre"
"""identifiantOffre of a ror-healthcareservice (unique and persistent nationally; type TRE_R355
code 35). The guide fixes no system for it, so its type's code system names the namespace."""

_ID_NAT_STRUCT_KINDS = {
    "0": "ADELI rang",
    "1": "FINESS",
    "2": "SIREN",
    "3": "SIRET",
    "4": "RPPS rang",
}

NIR_SEX_DIGITS: dict[str, str] = {
    "1": "male",
    "2": "female",
    "3": "male, foreign-born person under provisional registration",
    "4": "female, foreign-born person under provisional registration",
    "7": "male, temporary number (NIA) pending registration",
    "8": "female, temporary number (NIA) pending registration",
}
"""First NIR digit. 1 and 2 are the RNIPP's; 3/4 and 7/8 are the provisional and temporary
numbers that health insurers hand out before the INSEE registers the person. They share the
NIR layout and its key, so they are accepted; whether a 7/8 number is an INS-NIR or an INS-NIA
is a matter of the identifier system, not of this check."""

_CORSICA = {"2A": "19", "2B": "18"}


def nir_key(first13: str) -> str:
    """The two-digit NIR key: 97 − (number mod 97), with 2A → 19 and 2B → 18 for Corsica.

    Corsican departments replace their letters by the number the INSEE used before 1976,
    which is what makes the body a number at all.
    """
    if len(first13) != 13:
        raise ValueError(f"NIR body must have 13 characters, got {len(first13)}")
    department = first13[5:7]
    digits = first13[:5] + _CORSICA.get(department, department) + first13[7:]
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(
            "NIR body must be digits, except the department (characters 6-7) which may be 2A or 2B"
        )
    return stdnum_nir.calc_check_digits(digits + "00")


def validate_nir(value: str) -> None:
    """Check a 15-character NIR (13-character body + key); raise ValueError saying what is wrong.

    The value must be compact (no spaces), as an identifier is stored. Month and place codes are
    not range-checked: the INSEE uses pseudo-months (20 and above) for incomplete civil records
    and historical place codes, so only the layout, sex digit and key are reliable checks.
    """
    if len(value) != 15:
        raise ValueError(f"NIR must have 15 characters (13 + 2-digit key), got {len(value)}")
    if value[0] not in NIR_SEX_DIGITS:
        raise ValueError(
            f"NIR sex digit {value[0]!r} is not one of {', '.join(sorted(NIR_SEX_DIGITS))}"
        )
    key = value[13:]
    if not (key.isascii() and key.isdigit()):
        raise ValueError(f"NIR key {key!r} must be two digits")
    expected = nir_key(value[:13])
    if key != expected:
        raise ValueError(f"NIR key {key} does not match the number (expected {expected})")


def validate_rpps(value: str) -> None:
    """Check an RPPS number: 11 digits whose last one is a Luhn check digit.

    The ANS describes the RPPS identifier as 11 digits ending in a Luhn key; the Annuaire Santé
    publishes it prefixed by ``8`` as the national PP identifier (``810001045367``), which is
    refused here with a hint.
    """
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"RPPS number must contain digits only, got {value!r}")
    if len(value) == 12 and value.startswith("8"):
        raise ValueError(
            "RPPS number has 11 digits; this looks like the national PP identifier "
            f"(8 + RPPS): use {value[1:]}"
        )
    if len(value) != 11:
        raise ValueError(f"RPPS number must have 11 digits, got {len(value)}")
    if luhn.checksum(value) != 0:
        expected = luhn.calc_check_digit(value[:-1])
        raise ValueError(f"RPPS check digit {value[-1]} is wrong (Luhn expects {expected})")


def validate_idnat_ps(value: str) -> None:
    """Check a professional's national identifier (idNat_PS), Pro Santé Connect's
    ``SubjectNameID``: ``8`` + the RPPS number, or ``0`` + the 9-digit ADELI number.

    A bare 11-digit RPPS is refused, so that an account is never matched on it (the ANS
    « Identification nationale PP » is the prefixed form).
    """
    if not (value.isascii() and value.isdigit()):
        raise ValueError(f"idNat_PS must contain digits only, got {value!r}")
    if len(value) == 11:
        raise ValueError(
            f"{value} is a bare RPPS number; the idNat_PS of an RPPS professional is 8 + RPPS "
            f"(8{value})"
        )
    if value.startswith("8") and len(value) == 12:
        validate_rpps(value[1:])
    elif not (value.startswith("0") and len(value) == 10):
        raise ValueError(
            "idNat_PS must be 8 followed by the 11-digit RPPS, or 0 followed by the 9-digit "
            f"ADELI number; got {value!r}"
        )


_FINESS_CORSICA = {"2A": "21", "2B": "22"}
"""Digits a Corsican department's letter takes in the FINESS key: A → 1, B → 2."""


def validate_finess(value: str) -> None:
    """Check a FINESS number (ET or EJ): 9 characters, a department code then digits, and a
    Luhn check digit computed on the first 8 characters.

    The layout is the one the FINESS publication's schemas give (``typeNumeroFiness``,
    ``[0-9][0-9A-Z][0-9]{7}``, in the standard flux XSDs such as ``cs1400101.xsd`` of
    github.com/ansforge/finess), narrowed to the letters departments use (2A, 2B). The key rule
    is the Luhn formula (as for RPPS); it was checked on the real numbers of the FINESS extract
    fixture (010000024, 010780054, 970100012, 970100103). No published text gives the key of a
    Corsican number; the letter counts as its rank in the alphabet (2A → 21, 2B → 22), the only
    rule that fits the 21 Corsican numbers published in official acts (arrêté du 4 mars 2015,
    JORF, annex: 2A0000154, 2B0004246, 2B0000038, 2B0005342, 2B0005359; ARS Corse acts in the
    2A and 2B prefectures' recueils des actes administratifs 2024-2025, e.g. CH d'Ajaccio
    2A0000014, CH de Bastia 2B0000020), where 2A → 20 and the NIR's 2A → 19 / 2B → 18 fit none.
    """
    if len(value) != 9:
        raise ValueError(f"FINESS number must have 9 characters, got {len(value)}")
    department, rest = value[:2], value[2:]
    if not (value.isascii() and rest.isdigit()):
        raise ValueError(f"FINESS number must end with 7 digits, got {value!r}")
    if not (department.isdigit() or department in _FINESS_CORSICA):
        raise ValueError(f"FINESS department code {department!r} must be two digits or 2A/2B")
    digits = _FINESS_CORSICA.get(department, department) + rest
    if luhn.checksum(digits) != 0:
        expected = luhn.calc_check_digit(digits[:-1])
        raise ValueError(f"FINESS check digit {value[-1]} is wrong (Luhn expects {expected})")


def validate_id_nat_struct(value: str) -> None:
    """Check an idNatStruct: its kind digit, then a FINESS, SIREN or SIRET number checked as
    such (a cabinet's ADELI or RPPS rang is checked for digits only: its layout is the
    professional's number then a rank the directories assign)."""
    kind, number = value[:1], value[1:]
    if kind not in _ID_NAT_STRUCT_KINDS:
        kinds = ", ".join(f"{k} {name}" for k, name in _ID_NAT_STRUCT_KINDS.items())
        raise ValueError(f"idNatStruct must start with its kind ({kinds}), got {value!r}")
    if kind == "1":
        validate_finess(number)
    elif kind in "23":
        checker = siren if kind == "2" else siret
        if not checker.is_valid(number):
            name = _ID_NAT_STRUCT_KINDS[kind]
            raise ValueError(f"idNatStruct {value!r}: {number!r} is not a valid {name} number")
    elif not (number.isascii() and number.isdigit()):
        raise ValueError(f"idNatStruct {value!r} must be digits after its kind")


def validate_ror_id(value: str) -> None:
    """Check a ROR place or offer identifier: the ROR assigns them (``24/1073``: region code,
    slash, number in the IG's example), so only printable text without spaces is required."""
    if not (0 < len(value) <= 64 and value.isprintable()) or any(c.isspace() for c in value):
        raise ValueError(f"ROR identifier {value!r} must be 1 to 64 characters without spaces")


class IdentityStatus(StrEnum):
    """Identity status under the national identity-vigilance rules (RNIV).

    ``recuperee`` means the INS was fetched from the INSi teleservice without a check of an
    identity document; ``validee`` means a document was checked but the INS not fetched;
    only ``qualifiee`` (both) lets the INS be used and shared.
    """

    PROVISOIRE = "provisoire"
    RECUPEREE = "recuperee"
    VALIDEE = "validee"
    QUALIFIEE = "qualifiee"


def ins_may_be_sent(status: IdentityStatus | str) -> bool:
    """Whether the INS may be sent to another system: only for a qualified identity (RNIV)."""
    return IdentityStatus(status) is IdentityStatus.QUALIFIEE


def without_unqualified_ins(
    patient: dict[str, Any], status: IdentityStatus | str
) -> dict[str, Any]:
    """A copy of a FHIR Patient without its INS identifiers unless the identity is qualified.

    Used on every outgoing Patient: storing an unqualified INS is allowed, sharing it is not.
    """
    result = copy.deepcopy(patient)
    if ins_may_be_sent(status) or "identifier" not in result:
        return result
    kept = [i for i in result["identifier"] if i.get("system") not in INS_SYSTEMS]
    if kept:
        result["identifier"] = kept
    else:
        del result["identifier"]
    return result
