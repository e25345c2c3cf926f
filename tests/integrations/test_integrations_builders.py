"""The national-format builders on their own: XDM metadata agrees with the document it
describes, the archive is reproducible, the code table refuses what it does not know."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime

import pytest

from maillage.integrations import cda, xdm
from maillage.integrations.metadata import DEFAULT_CODES, document_codes

RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _cda(ins: str | None, ins_root: str = cda.INS_NIR_ROOT) -> bytes:
    return cda.build(
        cda.CdaDocument(
            document_id="1",
            id_root="2.25.7",
            title="Compte rendu SYNTHÉTIQUE",
            effective=WHEN,
            type_code=DEFAULT_CODES["type"],
            confidentiality=DEFAULT_CODES["confidentiality"],
            patient=cda.Person("Lefèvre", "Jeanne", "F", "1948-03-02", ins=ins, ins_root=ins_root),
            author=cda.Person("Martin", "Claire"),
            custodian=cda.Custodian("1.2.250.1.71.4.2.2", "1550000001", "Réseau SYNTHÉTIQUE"),
            pdf=b"%PDF-1.4\n%%EOF\n",
        )
    )


def test_metadata_hash_and_size_describe_the_document() -> None:
    document = _cda("255081416802538")
    entry = xdm.Entry(
        "2.25.7.1", "2.25.8", "1.2.250.1.71.4.2.2", "p^^^&1.2&ISO", WHEN, "t", document_codes()
    )
    first = xdm.archive(entry, document)
    assert first == xdm.archive(entry, document)  # same input, same bytes
    media = zipfile.ZipFile(io.BytesIO(first))
    assert media.read("IHE_XDM/SUBSET01/DOC0001.XML") == document
    metadata = ET.fromstring(media.read("IHE_XDM/SUBSET01/METADATA.XML"))
    slots = {
        s.get("name"): s.find(f"{RIM}ValueList/{RIM}Value").text  # type: ignore[union-attr]
        for s in metadata.iter(f"{RIM}Slot")
    }
    assert slots["hash"] == hashlib.sha1(document).hexdigest()
    assert slots["size"] == str(len(document))
    assert slots["creationTime"] == "20260302093000"


def test_test_identity_keeps_its_own_oid_and_unknown_author_is_null_flavoured() -> None:
    root = ET.fromstring(_cda("255081416802538", "1.2.250.1.213.1.4.10"))
    hl7 = {"h": cda.HL7}
    patient = root.find("h:recordTarget/h:patientRole/h:id", hl7)
    assert patient is not None and patient.get("root") == "1.2.250.1.213.1.4.10"
    author = root.find("h:author/h:assignedAuthor/h:id", hl7)
    assert author is not None and author.attrib == {"nullFlavor": "UNK"}


def test_code_table_overrides_and_refusals() -> None:
    cabinet = {"code": "SA07", "system": "urn:oid:1.2.250.1.71.4.2.4", "display": "Cabinet"}
    override = {"facility_type": cabinet}
    codes = document_codes(override)
    assert codes["facility_type"].code == "SA07" and codes["type"] == DEFAULT_CODES["type"]
    assert all(code.source for code in DEFAULT_CODES.values())  # each default names its source
    with pytest.raises(ValueError, match="'kind' is not one of"):
        document_codes({"kind": override["facility_type"]})
    with pytest.raises(ValueError, match="lacks display"):
        document_codes({"type": {"code": "x", "system": "y"}})
