"""The document metadata codes of a compte rendu, in one table the operator may override.

Each default names its source. Override with ``MAILLAGE_DOCUMENT_CODES`` (JSON object whose keys
are the table's keys and whose values are ``{"code", "system", "display"}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Code:
    """One coded value and the reference text that sets it."""

    code: str
    system: str
    display: str
    source: str = ""

    @property
    def oid(self) -> str:
        """The OID of the code system (CDA and XDS use OIDs, FHIR URIs)."""
        return _OIDS.get(self.system, self.system.removeprefix("urn:oid:"))

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


LOINC = "http://loinc.org"
_OIDS = {LOINC: "2.16.840.1.113883.6.1"}
_JDV = "urn:oid:1.2.250.1.213.1.1.4"

DEFAULT_CODES: dict[str, Code] = {
    # Document type: LOINC 11488-4 "Consult note" (compte rendu de consultation), listed in
    # the ANS value set JDV_J07-XdsTypeCode-CISIS (CI-SIS, Nomenclatures des objets de santé).
    "type": Code("11488-4", LOINC, "Compte rendu de consultation", "CI-SIS JDV_J07"),
    # Class code: "10" Compte rendu, ANS TRE_A03-ClasseDocument (CI-SIS JDV_J06).
    "class": Code("10", f"{_JDV}.5", "Compte rendu", "CI-SIS JDV_J06 / TRE_A03"),
    # Format: CDA R2 level 1 with a PDF body, IHE PCC "urn:ihe:iti:xds-sd:pdf:2008"
    # (CI-SIS JDV_J10-XdsFormatCode-CISIS).
    "format": Code(
        "urn:ihe:iti:xds-sd:pdf:2008",
        "urn:oid:1.3.6.1.4.1.19376.1.2.3",
        "Document à corps non structuré en PDF/A-1",
        "CI-SIS JDV_J10",
    ),
    # Practice setting: ANS TRE_A01 "AMBULATOIRE" for a teleconsultation network
    # (CI-SIS JDV_J04-XdsPracticeSettingCode-CISIS).
    "practice_setting": Code("AMBULATOIRE", f"{_JDV}.1", "Ambulatoire", "CI-SIS JDV_J04 / TRE_A01"),
    # Healthcare facility type: ANS TRE_A00 "SA05" Centre de santé for a territorial network
    # (CI-SIS JDV_J02-XdsHealthcareFacilityTypeCode-CISIS).
    "facility_type": Code(
        "SA05", "urn:oid:1.2.250.1.71.4.2.4", "Centre de santé", "CI-SIS JDV_J02 / TRE_A00"
    ),
    # Confidentiality: HL7 "N" normal (CI-SIS JDV_J58 / HL7 v3 Confidentiality).
    "confidentiality": Code("N", "urn:oid:2.16.840.1.113883.5.25", "Normal", "CI-SIS JDV_J58"),
}


def document_codes(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Code]:
    """The table with the operator's overrides applied (unknown keys are refused)."""
    codes = dict(DEFAULT_CODES)
    for key, value in (overrides or {}).items():
        if key not in codes:
            raise ValueError(
                f"document code {key!r} is not one of {', '.join(sorted(DEFAULT_CODES))}"
            )
        missing = {"code", "system", "display"} - set(value)
        if missing:
            raise ValueError(f"document code {key!r} lacks {', '.join(sorted(missing))}")
        codes[key] = Code(
            value["code"], value["system"], value["display"], "MAILLAGE_DOCUMENT_CODES"
        )
    return codes
