"""An IHE XDM archive (ITI TF-1 §16, ITI TF-2b §3.32.4.1.4) around one CDA document.

Layout: ``INDEX.HTM`` and ``README.TXT`` at the root of the archive, ``IHE_XDM/SUBSET01/``
with ``METADATA.XML`` (an ebRIM ``SubmitObjectsRequest``: one XDSDocumentEntry, one
XDSSubmissionSet and their association) and the document ``DOC0001.XML``. The codes come
from :mod:`maillage.integrations.metadata`; the attribute UUIDs are those of ITI TF-3 §4.2.5.
"""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import datetime

from maillage.integrations.metadata import Code

SUBSET = "IHE_XDM/SUBSET01"
DOCUMENT_NAME = "DOC0001.XML"
LCM = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
RIM = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
# ITI TF-3 Table 4.2.5-1: classification schemes of the document entry and submission set.
SCHEMES = {
    "class": "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a",
    "type": "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983",
    "format": "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d",
    "practice_setting": "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead",
    "facility_type": "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1",
    "confidentiality": "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f",
}
DOCUMENT_ENTRY = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
SUBMISSION_SET = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
PATIENT_ID_DOC = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
UNIQUE_ID_DOC = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
PATIENT_ID_SET = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
UNIQUE_ID_SET = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
SOURCE_ID_SET = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"


@dataclass(frozen=True)
class Entry:
    """What METADATA.XML says of the document and its submission."""

    document_oid: str
    submission_oid: str
    source_oid: str
    patient_id: str
    """CX form: ``INS^^^&1.2.250.1.213.1.4.8&ISO`` for a qualified identity, else the local id."""
    created: datetime
    title: str
    codes: dict[str, Code]


def _slot(parent: ET.Element, name: str, *values: str) -> None:
    slot = ET.SubElement(parent, f"{{{RIM}}}Slot", name=name)
    values_element = ET.SubElement(slot, f"{{{RIM}}}ValueList")
    for value in values:
        ET.SubElement(values_element, f"{{{RIM}}}Value").text = value


def _name(parent: ET.Element, text: str) -> None:
    name = ET.SubElement(parent, f"{{{RIM}}}Name")
    ET.SubElement(name, f"{{{RIM}}}LocalizedString", value=text)


def _identifier(parent: ET.Element, scheme: str, owner: str, value: str, label: str) -> None:
    element = ET.SubElement(
        parent,
        f"{{{RIM}}}ExternalIdentifier",
        id=f"{owner}-{label}",
        identificationScheme=scheme,
        registryObject=owner,
        value=value,
    )
    _name(element, label)


def metadata(entry: Entry, document: bytes) -> bytes:
    """METADATA.XML for one document of the given bytes."""
    ET.register_namespace("lcm", LCM)
    ET.register_namespace("rim", RIM)
    request = ET.Element(f"{{{LCM}}}SubmitObjectsRequest")
    objects = ET.SubElement(request, f"{{{RIM}}}RegistryObjectList")
    when = entry.created.strftime("%Y%m%d%H%M%S")

    doc = ET.SubElement(
        objects,
        f"{{{RIM}}}ExtrinsicObject",
        id="Document01",
        mimeType="text/xml",
        objectType=DOCUMENT_ENTRY,
    )
    _slot(doc, "creationTime", when)
    _slot(doc, "languageCode", "fr-FR")
    _slot(doc, "hash", hashlib.sha1(document).hexdigest())  # XDS mandates SHA-1
    _slot(doc, "size", str(len(document)))
    _slot(doc, "URI", DOCUMENT_NAME)
    _slot(doc, "sourcePatientId", entry.patient_id)
    _name(doc, entry.title)
    for key, scheme in SCHEMES.items():
        code = entry.codes[key]
        classification = ET.SubElement(
            doc,
            f"{{{RIM}}}Classification",
            id=f"Document01-{key}",
            classificationScheme=scheme,
            classifiedObject="Document01",
            nodeRepresentation=code.code,
        )
        _slot(classification, "codingScheme", code.oid)
        _name(classification, code.display)
    _identifier(doc, PATIENT_ID_DOC, "Document01", entry.patient_id, "XDSDocumentEntry.patientId")
    _identifier(doc, UNIQUE_ID_DOC, "Document01", entry.document_oid, "XDSDocumentEntry.uniqueId")

    package = ET.SubElement(objects, f"{{{RIM}}}RegistryPackage", id="SubmissionSet01")
    _slot(package, "submissionTime", when)
    _name(package, entry.title)
    ET.SubElement(
        package,
        f"{{{RIM}}}Classification",
        id="SubmissionSet01-class",
        classifiedObject="SubmissionSet01",
        classificationNode=SUBMISSION_SET,
    )
    _identifier(
        package, PATIENT_ID_SET, "SubmissionSet01", entry.patient_id, "XDSSubmissionSet.patientId"
    )
    _identifier(
        package, UNIQUE_ID_SET, "SubmissionSet01", entry.submission_oid, "XDSSubmissionSet.uniqueId"
    )
    _identifier(
        package, SOURCE_ID_SET, "SubmissionSet01", entry.source_oid, "XDSSubmissionSet.sourceId"
    )
    association = ET.SubElement(
        objects,
        f"{{{RIM}}}Association",
        id="Association01",
        associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
        sourceObject="SubmissionSet01",
        targetObject="Document01",
    )
    _slot(association, "SubmissionSetStatus", "Original")
    return ET.tostring(request, encoding="utf-8", xml_declaration=True)


README = (
    "Archive IHE XDM produite par maillage (réseau de télémédecine).\r\n"
    "Contenu : un compte rendu au format CDA R2 niveau 1 (corps PDF) dans IHE_XDM/SUBSET01.\r\n"
)


def archive(entry: Entry, cda: bytes) -> bytes:
    """The ZIP bytes of the XDM media (fixed timestamps: the same input gives the same bytes)."""
    index = (
        '<html><head><meta charset="utf-8"><title>IHE XDM</title></head><body>'
        f'<p><a href="{SUBSET}/{DOCUMENT_NAME}">{entry.title}</a></p></body></html>'
    )
    files = {
        "INDEX.HTM": index.encode(),
        "README.TXT": README.encode(),
        f"{SUBSET}/METADATA.XML": metadata(entry, cda),
        f"{SUBSET}/{DOCUMENT_NAME}": cda,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as media:
        for name, content in files.items():
            media.writestr(zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()
