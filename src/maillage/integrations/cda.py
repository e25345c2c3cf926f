"""A CDA R2 document of level 1: the CI-SIS structured header and the PDF as a nonXMLBody.

Header rules from the ANS CI-SIS « Volet Structuration Minimale de Documents de Santé »
(§3.5): patient identified by the INS (root 1.2.250.1.213.1.4.8) only when the identity is
qualified, author identified by its idNat_PS (root 1.2.250.1.71.4.2.1, "8" + RPPS),
custodian, document type as a LOINC code, body ``nonXMLBody`` base64 PDF.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime

from maillage.integrations.metadata import Code

HL7 = "urn:hl7-org:v3"
INS_NIR_ROOT = "1.2.250.1.213.1.4.8"
IDNAT_PS_ROOT = "1.2.250.1.71.4.2.1"
CISIS_HEADER_TEMPLATE = "1.2.250.1.213.1.1.1.1"
CDA_TYPE_ID = ("2.16.840.1.113883.1.3", "POCD_HD000040")


@dataclass(frozen=True)
class Person:
    """A named person (patient or author); ``ins``/``rpps`` only when they may be shared."""

    family: str
    given: str = ""
    gender: str = "UN"
    birth_date: str | None = None
    ins: str | None = None
    ins_root: str = INS_NIR_ROOT
    """OID of the INS kind: NIR (…4.8), NIA (…4.9), test identities (…4.10, …4.11)."""
    rpps: str | None = None


@dataclass(frozen=True)
class Custodian:
    """The organisation keeping the document (the network's operator)."""

    identifier_root: str
    identifier: str
    name: str


@dataclass(frozen=True)
class CdaDocument:
    document_id: str
    id_root: str
    title: str
    effective: datetime
    type_code: Code
    confidentiality: Code
    patient: Person
    author: Person
    custodian: Custodian
    pdf: bytes


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S%z")


def _sub(parent: ET.Element, tag: str, **attributes: str) -> ET.Element:
    return ET.SubElement(parent, f"{{{HL7}}}{tag}", attributes)


def _name(parent: ET.Element, person: Person) -> None:
    name = _sub(parent, "name")
    if person.given:
        _sub(name, "given").text = person.given
    _sub(name, "family").text = person.family


def _code(parent: ET.Element, tag: str, code: Code) -> None:
    _sub(parent, tag, code=code.code, codeSystem=code.oid, displayName=code.display)


def build(document: CdaDocument) -> bytes:
    """The CDA XML (UTF-8, with declaration)."""
    ET.register_namespace("", HL7)
    root = ET.Element(f"{{{HL7}}}ClinicalDocument")
    _sub(root, "realmCode", code="FR")
    _sub(root, "typeId", root=CDA_TYPE_ID[0], extension=CDA_TYPE_ID[1])
    _sub(root, "templateId", root=CISIS_HEADER_TEMPLATE)
    _sub(root, "id", root=document.id_root, extension=document.document_id)
    _code(root, "code", document.type_code)
    _sub(root, "title").text = document.title
    _sub(root, "effectiveTime", value=_ts(document.effective))
    _code(root, "confidentialityCode", document.confidentiality)
    _sub(root, "languageCode", code="fr-FR")

    role = _sub(_sub(root, "recordTarget"), "patientRole")
    if document.patient.ins:
        _sub(role, "id", root=document.patient.ins_root, extension=document.patient.ins)
    else:
        _sub(role, "id", nullFlavor="UNK")
    patient = _sub(role, "patient")
    _name(patient, document.patient)
    _sub(
        patient,
        "administrativeGenderCode",
        code=document.patient.gender,
        codeSystem="2.16.840.1.113883.5.1",
    )
    if document.patient.birth_date:
        _sub(patient, "birthTime", value=document.patient.birth_date.replace("-", ""))

    author = _sub(root, "author")
    _sub(author, "time", value=_ts(document.effective))
    assigned = _sub(author, "assignedAuthor")
    if document.author.rpps:
        _sub(assigned, "id", root=IDNAT_PS_ROOT, extension=f"8{document.author.rpps}")
    else:
        _sub(assigned, "id", nullFlavor="UNK")
    _name(_sub(assigned, "assignedPerson"), document.author)

    organisation = _sub(
        _sub(_sub(root, "custodian"), "assignedCustodian"), "representedCustodianOrganization"
    )
    _sub(
        organisation,
        "id",
        root=document.custodian.identifier_root,
        extension=document.custodian.identifier,
    )
    _sub(organisation, "name").text = document.custodian.name

    body = _sub(_sub(root, "component"), "nonXMLBody")
    text = _sub(body, "text", mediaType="application/pdf", representation="B64")
    text.text = base64.b64encode(document.pdf).decode("ascii")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
