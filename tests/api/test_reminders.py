"""Day-before reminders and the coordinators' digest reach a real local SMTP server (aiosmtpd)
and a real local SMPP server (npm ``smpp``) at the injected time, and not before."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from api_server import Server
from fhir_samples import location, network, task
from pydantic import SecretStr
from smpp_server import smsc
from sqlalchemy import select
from typer.testing import CliRunner

from maillage.care.delivery import deliver_due, send_sms_due
from maillage.care.errors import Forbidden
from maillage.care.outbox import DeliveryError
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository
from maillage.care.sms import SmppSender, mobile_number
from maillage.cli import app
from maillage.config import Settings
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage

TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
PATIENT_EMAIL, PATIENT_MOBILE = "jeanne.lefevre@example.org", "06 12 34 56 78"
SITE_EMAIL, SITE_MOBILE = "ehpad.verdun@mssante.example", "+33 7 98 76 54 32"
# The appointment is on Tuesday 3 March 2026 at 09:00 in Paris (UTC+1): its reminder is due
# from 10:00 Paris time on Monday 2 March, i.e. 09:00 UTC.
DUE = datetime(2026, 3, 2, 9, 0)


class Inbox:
    """aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(mail, EmailMessage)
        self.received.append(mail)
        return "250 2.0.0 OK"

    def reminders(self) -> list[tuple[str, str]]:
        return [(m["To"], m.get_content()) for m in self.received if "Rappel" in m["Subject"]]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


@pytest.fixture
def smpp(missing_service: Callable[[str], NoReturn]) -> Iterator[smsc.Smsc]:
    problem = smsc.install()
    if problem:
        missing_service(problem)
    with smsc.running() as server:
        yield server


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    site = {
        **location("site-2", "msp-2", city="Verdun", kind="chariot"),
        "name": "EHPAD Les Tilleuls",
        "telecom": [
            {"system": "email", "value": SITE_EMAIL},
            {"system": "sms", "value": SITE_MOBILE},
        ],
    }
    for body in network():
        if body["id"] == "site-2":
            body = site
        if body["id"] == "patient-2":
            body["telecom"] = [
                {"system": "phone", "value": "03 29 00 00 00", "use": "home"},
                {"system": "phone", "value": PATIENT_MOBILE, "use": "mobile"},
                {"system": "email", "value": PATIENT_EMAIL},
            ]
        server.put(body, coordinator)
    return server


def teleconsultation(start: str, end: str) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "serviceType": [TELECONSULTATION],
        "start": start,
        "end": end,
        "participant": [
            {"actor": {"reference": reference}, "status": "accepted"}
            for reference in ("Patient/patient-2", "Practitioner/doctor", "Location/site-2")
        ],
    }


def book(net: Server, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = net.client.post("/fhir/Appointment", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def system(net: Server, **changes: Any) -> tuple[Repository, Settings]:
    settings = net.settings.model_copy(update=changes)
    return Repository.system(net.app.state.sessions, settings), settings


def send_all(net: Server, settings: Settings, now: datetime) -> None:
    sessions = net.app.state.sessions
    assert set(deliver_due(sessions, settings, now=now)) <= {"sent"}
    assert set(send_sms_due(sessions, settings, now=now)) <= {"sent"}


def test_reminder_reaches_smtp_and_smpp_the_day_before_and_not_earlier(
    net: Server,
    coordinator: dict[str, str],
    admin: dict[str, str],
    inbox: tuple[Inbox, str],
    smpp: smsc.Smsc,
) -> None:
    mailbox, smtp_url = inbox
    booked = book(
        net, coordinator, teleconsultation("2026-03-03T09:00:00+01:00", "2026-03-03T09:20:00+01:00")
    )
    book(
        net, coordinator, teleconsultation("2026-03-04T09:00:00+01:00", "2026-03-04T09:20:00+01:00")
    )
    repository, settings = system(net, smtp_url=smtp_url, sms_url=SecretStr(smpp.url))

    early = DUE - timedelta(minutes=1)
    assert repository.queue_reminders(early) == (0, 0)
    send_all(net, settings, early)  # the booking's confirmations only
    assert mailbox.reminders() == [] and smpp.texts() == []

    assert repository.queue_reminders(DUE) == (4, 0)
    send_all(net, settings, DUE)
    assert repository.queue_reminders(DUE + timedelta(hours=3)) == (0, 0)  # once only
    send_all(net, settings, DUE + timedelta(hours=3))

    reminders = dict(mailbox.reminders())
    assert sorted(reminders) == sorted([PATIENT_EMAIL, SITE_EMAIL])
    when = "demain, mardi 3 mars 2026 à 09:00, EHPAD Les Tilleuls, Verdun."
    assert f"Rappel : téléconsultation assistée {when}" in reminders[PATIENT_EMAIL]
    assert (
        "Lien de la visioconférence : https://meet.jit.si/maillage-" in (reminders[PATIENT_EMAIL])
    )
    assert "Patient : Jeanne Lefèvre, avec Claire Martin." in reminders[SITE_EMAIL]
    texts = dict(smpp.texts(count=2))
    assert sorted(texts) == ["33612345678", "33798765432"]
    assert texts["33612345678"].startswith(f"Rappel : téléconsultation assistée {when} Lien")
    assert texts["33798765432"] == f"Rappel : téléconsultation assistée {when}"  # no name
    submitted = [e for e in smpp.events if e["event"] == "submit_sm"]
    assert {(e["source_addr"], e["source_addr_ton"], e["dest_addr_ton"]) for e in submitted} == {
        ("MAILLAGE", 5, 1)
    }

    # The next day's appointment waits for its own day before.
    assert all("4 mars" not in content for _, content in mailbox.reminders())
    assert repository.queue_reminders(DUE + timedelta(days=1)) == (4, 0)

    # Each text leaving the server is audited like an e-mail: an Export to the tel: URI.
    query = f"/fhir/AuditEvent?entity=Appointment/{booked['id']}&_count=100"
    events = [e["resource"] for e in net.client.get(query, headers=admin).json()["entry"]]
    exported = {
        agent["who"]["identifier"]["value"]
        for event in events
        if event["type"]["code"] == "110106"
        for agent in event["agent"]
        if "identifier" in agent.get("who", {})
    }
    assert {"tel:+33612345678", "tel:+33798765432", f"mailto:{PATIENT_EMAIL}"} <= exported


def test_moved_appointment_is_reminded_again_and_cancelled_one_not(
    net: Server, coordinator: dict[str, str]
) -> None:
    kept = book(
        net, coordinator, teleconsultation("2026-03-03T09:00:00+01:00", "2026-03-03T09:20:00+01:00")
    )
    dropped = book(
        net, coordinator, teleconsultation("2026-03-03T10:00:00+01:00", "2026-03-03T10:20:00+01:00")
    )
    cancelled = {**dropped, "status": "cancelled"}
    response = net.client.put(
        f"/fhir/Appointment/{dropped['id']}", json=cancelled, headers=coordinator
    )
    assert response.status_code == 200, response.text
    repository, _ = system(net)
    assert repository.queue_reminders(DUE) == (4, 0)
    moved = {**kept, "start": "2026-03-03T11:00:00+01:00", "end": "2026-03-03T11:20:00+01:00"}
    response = net.client.put(f"/fhir/Appointment/{kept['id']}", json=moved, headers=coordinator)
    assert response.status_code == 200, response.text
    assert repository.queue_reminders(DUE + timedelta(minutes=5)) == (4, 0)
    with transaction(net.app.state.sessions) as session:
        texts = session.execute(
            select(OutboxMessage.source, OutboxMessage.message).where(
                OutboxMessage.recipient == "tel:+33612345678"
            )
        ).all()
    assert {source for source, _ in texts} == {f"Appointment/{kept['id']}"}
    assert sorted(text.decode()[:68] for _, text in texts) == [
        "Rappel : téléconsultation assistée demain, mardi 3 mars 2026 à 09:00",
        "Rappel : téléconsultation assistée demain, mardi 3 mars 2026 à 11:00",
    ]


def test_digest_of_overdue_expertises_once_a_day_to_each_coordinator(
    net: Server, coordinator: dict[str, str], inbox: tuple[Inbox, str]
) -> None:
    mailbox, smtp_url = inbox
    late = {
        **task("late-1", "patient-2", "Practitioner/doctor", "Practitioner/doctor"),
        "description": "Avis sur plaie chronique",
        "restriction": {"period": {"end": "2026-03-01T18:00:00+01:00"}},
    }
    on_time = {**late, "id": "on-time", "restriction": {"period": {"end": "2026-03-09"}}}
    net.put(late, coordinator)
    net.put(on_time, coordinator)
    net.headers("coordinator")  # a second coordinator
    net.headers("practitioner", practitioner="Practitioner/doctor")  # not a coordinator
    repository, settings = system(net, smtp_url=smtp_url)

    assert repository.queue_reminders(DUE - timedelta(minutes=1)) == (0, 0)
    assert repository.queue_reminders(DUE) == (0, 2)
    assert repository.queue_reminders(DUE + timedelta(hours=8)) == (0, 0)
    assert repository.queue_reminders(DUE + timedelta(days=1)) == (0, 2)
    assert deliver_due(net.app.state.sessions, settings, now=DUE + timedelta(days=1)) == {"sent": 4}
    digests = [m for m in mailbox.received if m["Subject"].startswith("Télé-expertises")]
    assert len(digests) == 4 and all(m["To"].startswith("coordinator-") for m in digests)
    assert digests[0]["Subject"] == "Télé-expertises en retard le lundi 2 mars 2026 : 1"
    body = digests[0].get_content()
    assert "- Avis sur plaie chronique (demandée à Practitioner/doctor), attendue le " in body
    assert "dimanche 1 mars 2026 à 18:00 : /teleexpertises/late-1" in body
    assert "on-time" not in body and "Lefèvre" not in body


def test_reminders_need_the_server_itself(net: Server, coordinator: dict[str, str]) -> None:
    user = Repository(
        net.app.state.sessions, net.settings, Principal(1, "c@example.org", Role.COORDINATOR)
    )
    with pytest.raises(Forbidden):
        user.queue_reminders(DUE)


def test_smpp_refusals_tell_permanent_from_transient(smpp: smsc.Smsc) -> None:
    wrong = smpp.url.replace("pw-smpp1", "wrong")
    with SmppSender(wrong, timeout=5) as sender, pytest.raises(DeliveryError) as refused:
        sender.send("+33612345678", "Bonjour")
    assert not refused.value.permanent and "bind" in str(refused.value)
    with SmppSender(smpp.url, timeout=5) as sender, pytest.raises(DeliveryError) as bad:
        sender.send("0612345678", "Bonjour")
    assert bad.value.permanent
    with pytest.raises(ValueError, match="smpp://"):
        SmppSender("http://127.0.0.1:2775")


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("06.12.34.56.78", "+33612345678"),
        ("+262 692 12 34 56", "+262692123456"),
        ("+33 (0)6 12", None),
        ("12345", None),
    ],
)
def test_mobile_numbers(written: str, number: str | None) -> None:
    assert mobile_number(written) == number


def test_commands_queue_and_text_a_reminder_of_tomorrow(
    net: Server, coordinator: dict[str, str], smpp: smsc.Smsc, database_url: str, tmp_path: Any
) -> None:
    """``maillage reminders run`` then ``maillage outbox sms``, on the real clock: a
    reminder hour of 0 makes tomorrow's appointment due all day today."""
    tomorrow = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).date()
    start = f"{tomorrow.isoformat()}T12:00:00+01:00"
    book(net, coordinator, teleconsultation(start, start.replace("T12:00", "T12:20")))
    env = {
        "MAILLAGE_DATABASE_URL": database_url,
        "MAILLAGE_SECRET_KEY": "k" * 40,
        "MAILLAGE_FILES_DIR": str(tmp_path),
        "MAILLAGE_REMINDER_HOUR": "0",
    }
    runner = CliRunner()
    queued = runner.invoke(app, ["reminders", "run"], env=env)
    assert queued.exit_code == 0, queued.output
    assert queued.output.strip() == "0 digests queued, 4 reminders queued"
    again = runner.invoke(app, ["reminders", "run"], env=env)
    assert again.output.strip() == "0 digests queued, 0 reminders queued"
    unset = runner.invoke(app, ["outbox", "sms"], env=env)
    assert unset.exit_code == 2 and "MAILLAGE_SMS_URL" in unset.output
    sent = runner.invoke(app, ["outbox", "sms"], env={**env, "MAILLAGE_SMS_URL": smpp.url})
    assert sent.exit_code == 0, sent.output
    assert sent.output.strip() == "2 sent"
    assert sorted(number for number, _ in smpp.texts(count=2)) == ["33612345678", "33798765432"]
