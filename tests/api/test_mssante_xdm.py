"""A compte rendu leaves as an MSSanté message: mutual TLS, CDA R2 level 1 in IHE XDM, X-MSS-*.

The SMTP server (aiosmtpd, STARTTLS required) trusts only certificates of a test CA made here
and refuses a client that shows none; what it receives is unpacked and read back.
"""

from __future__ import annotations

import base64
import io
import socket
import ssl
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from api_server import Server, qualify
from fhir_samples import (
    VALID_NIR,
    VALID_RPPS,
    encounter,
    identity_status,
    network,
    pdf_report,
    practitioner,
)
from mtls_certificates import Pki, make_pki
from sqlalchemy import select

from maillage.care.delivery import deliver_due
from maillage.config import Settings
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage

GP_EMAIL = "dr.generaliste@medecin.mssante.fr"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HL7 = {"h": "urn:hl7-org:v3"}
RIM = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"


class Mailbox:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 2.0.0 OK"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def mssante(pki: Pki) -> Iterator[tuple[Mailbox, str]]:
    """An MSSanté-like server: STARTTLS mandatory, client certificate of the test CA required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    context.verify_mode = ssl.CERT_REQUIRED
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    yield mailbox, f"smtp+starttls://127.0.0.1:{port}"
    controller.stop()


def _network(server: Server, coordinator: dict[str, str], status: str) -> None:
    # The document is built when the report is written: the custodian is the server's setting.
    server.settings.custodian_id = "1550000001"
    server.settings.custodian_name = "Réseau SYNTHÉTIQUE de télémédecine"
    gp = {**practitioner("gp"), "telecom": [{"system": "email", "value": GP_EMAIL}]}
    server.put(gp, coordinator)
    for body in network():
        if body["id"] == "patient-2":
            body["generalPractitioner"] = [{"reference": "Practitioner/gp"}]
            body["identifier"] = [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": VALID_NIR}]
            body["extension"] = [identity_status(status)]
            if status == "QUAL":
                qualify(server, body)
                continue
        server.put(body, coordinator)
    teleconsultation = encounter("tc-1", "patient-2", "site-2")
    teleconsultation["period"] = {"start": "2026-03-02T09:00:00+01:00"}
    server.put(teleconsultation, coordinator)


def _post_report(server: Server, coordinator: dict[str, str]) -> None:
    body = pdf_report("patient-2", "tc-1", "doctor", PDF)
    created = server.client.post("/fhir/DocumentReference", json=body, headers=coordinator)
    assert created.status_code == 201, created.text


def _settings(server: Server, smtp_url: str, pki: Pki, *, with_cert: bool) -> Settings:
    return server.settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "smtp_ca_file": pki.ca,
            "smtp_client_cert": pki.client_cert if with_cert else None,
            "smtp_client_key": pki.client_key if with_cert else None,
        }
    )


def _received(mailbox: Mailbox) -> EmailMessage:
    [envelope] = mailbox.received
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=email_policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def _xdm(mail: EmailMessage) -> zipfile.ZipFile:
    [archive] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/zip"]
    return zipfile.ZipFile(io.BytesIO(archive.get_content()))


def test_refused_without_a_client_certificate_then_sent_with_it(
    server: Server, coordinator: dict[str, str], mssante: tuple[Mailbox, str], pki: Pki
) -> None:
    mailbox, smtp_url = mssante
    _network(server, coordinator, "QUAL")
    _post_report(server, coordinator)
    sessions = server.app.state.sessions

    anonymous = _settings(server, smtp_url, pki, with_cert=False)
    assert deliver_due(sessions, anonymous) == {"pending": 1}
    assert mailbox.received == []
    with transaction(sessions) as session:
        [row] = session.execute(select(OutboxMessage)).scalars()
        assert row.attempts == 1 and row.last_error
        row.next_attempt_at = row.created  # due again now

    assert deliver_due(sessions, _settings(server, smtp_url, pki, with_cert=True)) == {"sent": 1}
    mail = _received(mailbox)

    # Référentiel socle MSSanté #2, ECO.2.4.1 and ECO.2.4.2.
    assert mail["X-MSS-CODECDA"] == "11488-4"
    assert mail["X-MSS-INS"] == "O"
    headers = "\n".join(f"{name}: {value}" for name, value in mail.items())
    assert VALID_NIR not in headers

    # IHE XDM layout (ITI TF-2b §3.32.4.1.4).
    media = _xdm(mail)
    assert sorted(media.namelist()) == [
        "IHE_XDM/SUBSET01/DOC0001.XML",
        "IHE_XDM/SUBSET01/METADATA.XML",
        "INDEX.HTM",
        "README.TXT",
    ]
    assert "IHE_XDM/SUBSET01/DOC0001.XML" in media.read("INDEX.HTM").decode()
    cda_bytes = media.read("IHE_XDM/SUBSET01/DOC0001.XML")

    # CDA R2 level 1 header (CI-SIS structuration minimale) and the PDF body.
    cda = ET.fromstring(cda_bytes)
    assert cda.find("h:typeId", HL7).get("extension") == "POCD_HD000040"  # type: ignore[union-attr]
    code = cda.find("h:code", HL7)
    assert (code.get("code"), code.get("codeSystem")) == ("11488-4", "2.16.840.1.113883.6.1")  # type: ignore[union-attr]
    patient_id = cda.find("h:recordTarget/h:patientRole/h:id", HL7)
    assert patient_id.attrib == {"root": "1.2.250.1.213.1.4.8", "extension": VALID_NIR}  # type: ignore[union-attr]
    author_id = cda.find("h:author/h:assignedAuthor/h:id", HL7)
    assert author_id.attrib == {"root": "1.2.250.1.71.4.2.1", "extension": "8" + VALID_RPPS}  # type: ignore[union-attr]
    custodian = cda.find("h:custodian/h:assignedCustodian/h:representedCustodianOrganization", HL7)
    assert custodian.find("h:id", HL7).get("extension") == "1550000001"  # type: ignore[union-attr]
    text = cda.find("h:component/h:nonXMLBody/h:text", HL7)
    assert text.get("mediaType") == "application/pdf" and text.get("representation") == "B64"  # type: ignore[union-attr]
    assert base64.b64decode(text.text or "") == PDF  # type: ignore[union-attr]

    # METADATA.XML describes that very document with the configured codes.
    metadata = ET.fromstring(media.read("IHE_XDM/SUBSET01/METADATA.XML"))
    slots = {
        slot.get("name"): slot.find(f"{RIM}ValueList/{RIM}Value").text  # type: ignore[union-attr]
        for slot in metadata.iter(f"{RIM}Slot")
        if slot.get("name") in {"size", "URI", "sourcePatientId"}
    }
    assert slots == {
        "size": str(len(cda_bytes)),
        "URI": "DOC0001.XML",
        "sourcePatientId": f"{VALID_NIR}^^^&1.2.250.1.213.1.4.8&ISO",
    }
    nodes = {c.get("nodeRepresentation") for c in metadata.iter(f"{RIM}Classification")}
    assert {"11488-4", "10", "urn:ihe:iti:xds-sd:pdf:2008", "AMBULATOIRE", "SA05"} <= nodes


def test_unqualified_identity_sends_no_ins(
    server: Server, coordinator: dict[str, str], mssante: tuple[Mailbox, str], pki: Pki
) -> None:
    mailbox, smtp_url = mssante
    _network(server, coordinator, "VALI")
    _post_report(server, coordinator)
    settings = _settings(server, smtp_url, pki, with_cert=True)
    assert deliver_due(server.app.state.sessions, settings) == {"sent": 1}
    mail = _received(mailbox)
    assert mail["X-MSS-CODECDA"] == "11488-4"
    assert "X-MSS-INS" not in mail
    assert VALID_NIR.encode() not in mailbox.received[0].content  # type: ignore[operator]
    cda = ET.fromstring(_xdm(mail).read("IHE_XDM/SUBSET01/DOC0001.XML"))
    assert cda.find("h:recordTarget/h:patientRole/h:id", HL7).get("nullFlavor") == "UNK"  # type: ignore[union-attr]


def test_production_refuses_mssante_without_tls_or_certificate() -> None:
    base = {"env": "production", "secret_key": "x" * 40, "custodian_id": "1550000001"}
    with pytest.raises(ValueError, match="TLS"):
        Settings(**base, smtp_url="smtp://mail.example")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="MAILLAGE_SMTP_CLIENT_CERT"):
        Settings(**base, smtp_url="smtps://mail.example")  # type: ignore[arg-type]
