"""Outbox delivery against a real SMTP server (aiosmtpd on loopback) and the retry policy."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import given
from hypothesis import strategies as st

from maillage.care.outbox import (
    DeliveryError,
    DeliveryState,
    DeliveryStatus,
    RetryPolicy,
    after_attempt,
    build_message,
    deliver,
    parse_smtp_url,
)

NOW = datetime(2026, 5, 4, 10, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Mailbox:
    """aiosmtpd handler: keeps what it receives, can answer 451 to the first N messages."""

    def __init__(self, busy_for: int = 0) -> None:
        self.busy_for = busy_for
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("unknown@"):
            return "550 5.1.1 mailbox unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.busy_for > 0:
            self.busy_for -= 1
            return "451 4.3.0 try again later"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, str]]:
    mailbox = Mailbox(busy_for=1)
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()


def _report() -> EmailMessage:
    return build_message(
        sender="teleconsultation@maillage.example",
        recipient="dr.traitant@medecin.mssante.fr",
        subject="Compte rendu de téléconsultation du 4 mai 2026",
        body="Veuillez trouver ci-joint le compte rendu.",
        report=PDF,
        report_filename="compte-rendu.pdf",
        sent_at=NOW,
    )


def test_transient_failure_then_retry_delivers(smtp_server: tuple[Mailbox, str]) -> None:
    mailbox, url = smtp_server
    policy = RetryPolicy(max_attempts=3, first_delay=timedelta(minutes=2))
    message = _report()

    with pytest.raises(DeliveryError) as first:
        deliver(message, url, timeout=5)
    assert not first.value.permanent
    state = after_attempt(DeliveryState(), policy, now=NOW, error=first.value)
    assert state == DeliveryState(
        DeliveryStatus.PENDING, 1, NOW + timedelta(minutes=2), state.last_error
    )
    assert "451" in (state.last_error or "")
    assert mailbox.received == []

    deliver(message, url, timeout=5)
    state = after_attempt(state, policy, now=state.next_attempt_at)
    assert state == DeliveryState(DeliveryStatus.SENT, 2)

    ((sender, recipients, content),) = mailbox.received
    assert (sender, recipients) == (
        "teleconsultation@maillage.example",
        ["dr.traitant@medecin.mssante.fr"],
    )
    received = email.message_from_bytes(content, policy=email_policy.default)
    assert received["Message-ID"] == message["Message-ID"]
    (attachment,) = received.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "compte-rendu.pdf"
    assert attachment.get_content() == PDF


def test_unknown_mailbox_is_a_permanent_failure(smtp_server: tuple[Mailbox, str]) -> None:
    _, url = smtp_server
    message = _report()
    message.replace_header("To", "unknown@medecin.mssante.fr")
    with pytest.raises(DeliveryError) as refused:
        deliver(message, url, timeout=5)
    assert refused.value.permanent
    state = after_attempt(DeliveryState(), RetryPolicy(), now=NOW, error=refused.value)
    assert state.status is DeliveryStatus.FAILED and state.next_attempt_at is None


def test_no_server_is_a_transient_failure() -> None:
    with pytest.raises(DeliveryError) as refused:
        deliver(_report(), f"smtp://127.0.0.1:{_free_port()}", timeout=5)
    assert not refused.value.permanent


def test_smtp_urls() -> None:
    target = parse_smtp_url("smtps://mss%40maillage.example:p%3Ass@smtp.mssante.example")
    assert (target.host, target.port, target.username, target.password) == (
        "smtp.mssante.example",
        465,
        "mss@maillage.example",
        "p:ss",
    )
    assert parse_smtp_url("smtp+starttls://relay.example").port == 587
    assert parse_smtp_url("smtp://localhost:2525").port == 2525
    with pytest.raises(ValueError, match="scheme"):
        parse_smtp_url("http://relay.example")
    with pytest.raises(ValueError, match="no host"):
        parse_smtp_url("smtp://")


def test_report_media_type_is_checked() -> None:
    with pytest.raises(ValueError, match="media type"):
        build_message(
            sender="a@b.example",
            recipient="c@d.example",
            subject="s",
            body="b",
            report=b"x",
            report_filename="x.exe",
            report_media_type="application/octet-stream",
        )


def test_backoff_golden() -> None:
    policy = RetryPolicy(
        max_attempts=10, first_delay=timedelta(minutes=1), max_delay=timedelta(hours=1)
    )
    assert [policy.delay(n) for n in range(1, 9)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=0, max_value=12))
def test_attempts_never_exceed_the_policy(max_attempts: int, failures: int) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    state, now, error = DeliveryState(), NOW, DeliveryError("451", permanent=False)
    for _ in range(failures):
        if state.status is not DeliveryStatus.PENDING:
            break
        state = after_attempt(state, policy, now=now, error=error)
        if state.next_attempt_at is not None:
            assert state.next_attempt_at > now
            now = state.next_attempt_at
    assert state.attempts == min(failures, max_attempts)
    assert (state.status is DeliveryStatus.FAILED) == (failures >= max_attempts)
    with pytest.raises(ValueError, match="already"):
        after_attempt(DeliveryState(DeliveryStatus.SENT, 1), policy, now=NOW)
