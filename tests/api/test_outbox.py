"""The compte rendu goes to the médecin traitant through the outbox, delivered over SMTP to a
real local server (aiosmtpd) that first fails transiently, then accepts."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from typing import Any

import pytest
import typer
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from api_server import Server
from fhir_samples import document, encounter, network, practitioner
from sqlalchemy import select
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.care.delivery import deliver_due
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage, utcnow

GP_EMAIL = "dr.generaliste@mssante.example"
REPORT = b"Compte rendu : TA 13/8, poursuite du traitement."


class FlakyMailbox:
    """An SMTP handler refusing the first ``failures`` messages with 451, then keeping them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.answer = "451 4.3.0 Mailbox temporarily unavailable"
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.failures:
            self.failures -= 1
            return self.answer
        self.received.append(envelope)
        return "250 2.0.0 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[FlakyMailbox, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = FlakyMailbox(failures=1)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    gp = {
        **practitioner("gp", rpps="10000000017"),
        "telecom": [{"system": "email", "value": GP_EMAIL}],
    }
    server.put(gp, coordinator)
    for body in network():
        if body["id"] == "patient-2":
            body["generalPractitioner"] = [{"reference": "Practitioner/gp"}]
        server.put(body, coordinator)
    teleconsultation = encounter("tc-1", "patient-2", "site-2")
    teleconsultation["period"] = {"start": "2026-03-02T09:00:00+01:00"}
    server.put(teleconsultation, coordinator)
    office = encounter("office-1", "patient-2", "site-2")
    office["class"] = {**office["class"], "code": "AMB"}
    server.put(office, coordinator)
    return server


def report(encounter_id: str, **changes: Any) -> dict[str, Any]:
    body = document("x", "patient-2")
    del body["id"]
    body["context"] = {"encounter": [{"reference": f"Encounter/{encounter_id}"}]}
    body["content"] = [
        {"attachment": {"contentType": "text/plain", "data": base64.b64encode(REPORT).decode()}}
    ]
    return {**body, **changes}


def queued(net: Server) -> list[OutboxMessage]:
    with transaction(net.app.state.sessions) as session:
        return list(session.execute(select(OutboxMessage)).scalars())


def test_report_is_delivered_after_a_transient_failure(
    net: Server,
    coordinator: dict[str, str],
    admin: dict[str, str],
    mailbox: tuple[FlakyMailbox, str],
) -> None:
    handler, smtp_url = mailbox
    doctor = net.headers("practitioner", practitioner="Practitioner/doctor")
    created = net.client.post("/fhir/DocumentReference", json=report("tc-1"), headers=doctor)
    assert created.status_code == 201, created.text
    [message] = queued(net)
    assert (message.recipient, message.status) == (GP_EMAIL, "pending")
    settings = net.settings.model_copy(update={"smtp_url": smtp_url})
    sessions, now = net.app.state.sessions, utcnow()

    assert deliver_due(sessions, settings, now=now) == {"pending": 1}
    [message] = queued(net)
    assert message.attempts == 1 and "451" in (message.last_error or "")
    assert deliver_due(sessions, settings, now=now + timedelta(seconds=30)) == {}
    assert deliver_due(sessions, settings, now=now + timedelta(minutes=2)) == {"sent": 1}
    assert deliver_due(sessions, settings, now=now + timedelta(hours=1)) == {}

    [envelope] = handler.received
    assert envelope.rcpt_tos == [GP_EMAIL]
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=email_policy.default)
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content().encode() == REPORT
    assert "patient-2" not in mail["Subject"] and "Jeanne" in mail["Subject"]
    [message] = queued(net)
    assert (message.status, message.attempts, message.sent is not None) == ("sent", 2, True)

    query = f"/fhir/AuditEvent?entity={message.source}&patient=Patient/patient-2"
    events = net.client.get(query, headers=admin).json()["entry"]
    exports = [e["resource"] for e in events if e["resource"]["type"]["code"] == "110106"]
    assert sorted(e["outcome"] for e in exports) == ["0", "4"]


def test_only_final_teleconsultation_reports_are_sent(
    net: Server, coordinator: dict[str, str]
) -> None:
    post = net.client.post
    preliminary = report("tc-1", docStatus="preliminary")
    draft = post("/fhir/DocumentReference", json=preliminary, headers=coordinator)
    assert draft.status_code == 201
    office = post("/fhir/DocumentReference", json=report("office-1"), headers=coordinator)
    assert office.status_code == 201
    assert queued(net) == []
    final = {**draft.json(), "docStatus": "final"}
    path = f"/fhir/DocumentReference/{final['id']}"
    assert net.client.put(path, json=final, headers=coordinator).status_code == 200
    assert [m.source for m in queued(net)] == [path.removeprefix("/fhir/")]


def test_image_report_for_the_gp_is_refused(net: Server, coordinator: dict[str, str]) -> None:
    body = report("tc-1")
    body["content"][0]["attachment"]["contentType"] = "image/png"
    response = net.client.post("/fhir/DocumentReference", json=body, headers=coordinator)
    assert response.status_code == 422
    assert queued(net) == []


def test_cli_delivers_the_outbox(
    net: Server,
    coordinator: dict[str, str],
    mailbox: tuple[FlakyMailbox, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler, smtp_url = mailbox
    handler.failures = 0
    assert net.client.post("/fhir/DocumentReference", json=report("tc-1"), headers=coordinator)
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", net.settings.database_url)
    cli = typer.Typer()
    register(cli)
    runner = CliRunner()
    assert runner.invoke(cli, ["outbox", "deliver"]).exit_code == 2  # no SMTP server configured
    monkeypatch.setenv("MAILLAGE_SMTP_URL", smtp_url)
    result = runner.invoke(cli, ["outbox", "deliver"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert len(handler.received) == 1


def test_permanent_refusal_fails_at_once(
    net: Server, coordinator: dict[str, str], mailbox: tuple[FlakyMailbox, str]
) -> None:
    handler, smtp_url = mailbox
    handler.answer = "550 5.1.1 Mailbox unknown"
    assert net.client.post("/fhir/DocumentReference", json=report("tc-1"), headers=coordinator)
    settings = net.settings.model_copy(update={"smtp_url": smtp_url})
    assert deliver_due(net.app.state.sessions, settings) == {"failed": 1}
    [message] = queued(net)
    assert (message.status, message.attempts, message.next_attempt_at) == ("failed", 1, None)
    assert "550" in (message.last_error or "")
