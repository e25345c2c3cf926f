"""The outbox worker: delivers due e-mails over SMTP (mutual TLS) and text messages through an
SMS provider, retrying, auditing each try.

Each message is claimed in its own transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
serialises writers), sent, and its new state committed with an AuditEvent, since a message
leaving the server (compte rendu, appointment confirmation) discloses patient data. Run by
``maillage outbox deliver`` (e-mails) and ``maillage outbox sms``, from a timer or with
``--watch``.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import audit as outcomes
from maillage.care import sms
from maillage.care.outbox import (
    DeliveryError,
    DeliveryState,
    DeliveryStatus,
    RetryPolicy,
    after_attempt,
    deliver,
)
from maillage.config import Settings
from maillage.integrations.mssante import client_context
from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage, utcnow
from maillage.store.resources import instant

Send = Callable[[OutboxMessage], None]
"""Sends one row's message, raising DeliveryError when it did not go."""


class Channel(StrEnum):
    """How a row leaves, told by its recipient: an MHD Document Recipient's URL, a ``tel:``
    URI (an SMS) or an e-mail address."""

    EMAIL = "email"
    SHARE = "share"
    SMS = "sms"

    def rows(self) -> Any:
        """The SQL condition selecting this channel's rows."""
        share = OutboxMessage.recipient.startswith("http")
        text = OutboxMessage.recipient.startswith(sms.TEL)
        return {Channel.SHARE: share, Channel.SMS: text, Channel.EMAIL: ~share & ~text}[self]


def _due(now: datetime, channel: Channel) -> Any:
    return (
        (OutboxMessage.status == DeliveryStatus.PENDING.value)
        & (OutboxMessage.next_attempt_at <= now)
        & channel.rows()
    )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The TLS client context: the MSSanté operator's certificate and trust chain when set."""
    return client_context(
        settings.smtp_client_cert, settings.smtp_client_key, settings.smtp_ca_file
    )


def delivery_event(row: OutboxMessage, error: DeliveryError | None) -> dict[str, Any]:
    """The AuditEvent of one delivery attempt (DICOM "Export": data leaving the server)."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {
            "system": "http://dicom.nema.org/resources/ontology/DCM",
            "code": "110106",
            "display": "Export",
        },
        "action": "R",
        "recorded": instant(utcnow()),
        "outcome": outcomes.SUCCESS if error is None else outcomes.MINOR_FAILURE,
        "agent": [
            {"who": {"display": "maillage outbox worker"}, "requestor": True},
            {
                "who": {
                    "identifier": {
                        "system": "urn:ietf:rfc:3986",
                        "value": row.recipient
                        if row.recipient.startswith(("http", sms.TEL))
                        else f"mailto:{row.recipient}",
                    }
                },
                "requestor": False,
            },
        ],
        "source": {"observer": {"display": "maillage"}},
        "entity": [
            {"what": {"reference": reference}}
            for reference in (row.source, row.patient)
            if reference
        ],
    }
    if error is not None:
        event["outcomeDesc"] = f"attempt {row.attempts}: {error}"
    return event


def _attempt(
    session: Session,
    settings: Settings,
    send: Send,
    row: OutboxMessage,
    policy: RetryPolicy,
    now: datetime,
) -> DeliveryStatus:
    error = None
    try:
        send(row)
    except DeliveryError as failure:
        error = failure
    before = DeliveryState(
        DeliveryStatus(row.status), row.attempts, row.next_attempt_at, row.last_error
    )
    state = after_attempt(before, policy, now=now, error=error)
    row.status = state.status.value
    row.attempts = state.attempts
    row.next_attempt_at = state.next_attempt_at
    row.last_error = state.last_error
    if state.status is DeliveryStatus.SENT:
        row.sent = utcnow()
    audit.append(session, delivery_event(row, error))
    return state.status


def deliver_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Counter[str]:
    """Try every e-mail due at ``now`` (naive UTC); how many ended sent, pending or failed."""
    smtp_url = settings.smtp_url
    if smtp_url is None:
        raise ValueError("MAILLAGE_SMTP_URL is not set: there is no server to send mail to")
    context = tls_context(settings)

    def send(row: OutboxMessage) -> None:
        message = message_from_bytes(row.message, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        deliver(message, smtp_url, ssl_context=context)

    return process_due(sessions, settings, send, Channel.EMAIL, policy=policy, now=now, limit=limit)


def send_sms_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Counter[str]:
    """Send every text message due at ``now`` through ``MAILLAGE_SMS_URL``'s provider, over
    one connection; how many ended sent, pending or failed."""
    if settings.sms_url is None:
        raise ValueError("MAILLAGE_SMS_URL is not set: there is no SMS provider")
    sender = sms.sender(settings.sms_url.get_secret_value())

    def send(row: OutboxMessage) -> None:
        sender.send(row.recipient.removeprefix(sms.TEL), row.message.decode())

    try:
        return process_due(
            sessions, settings, send, Channel.SMS, policy=policy, now=now, limit=limit
        )
    finally:
        sender.close()


def process_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    send: Send,
    channel: Channel,
    *,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Counter[str]:
    """Claim each due row of one channel, send it, record the outcome and audit the attempt."""
    policy = policy or RetryPolicy()
    now = now or utcnow()
    with transaction(sessions) as session:
        ids = list(
            session.execute(
                select(OutboxMessage.id)
                .where(_due(now, channel))
                .order_by(OutboxMessage.created)
                .limit(limit)
            ).scalars()
        )
    outcomes: Counter[str] = Counter()
    for message_id in ids:
        with transaction(sessions) as session:
            row = session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.id == message_id, _due(now, channel))
                .with_for_update(skip_locked=True)
            ).scalar()
            if row is not None:  # None: another worker took it meanwhile
                status = _attempt(session, settings, send, row, policy, now)
                outcomes[status.value] += 1
    return outcomes


def failed_messages(sessions: sessionmaker[Session]) -> list[tuple[str, str, str, int, str]]:
    """The dead letters (e-mails, texts and shares ended ``failed``), oldest first: id, source,
    recipient, attempts and last error."""
    with transaction(sessions) as session:
        rows = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.source,
                OutboxMessage.recipient,
                OutboxMessage.attempts,
                OutboxMessage.last_error,
            )
            .where(OutboxMessage.status == DeliveryStatus.FAILED.value)
            .order_by(OutboxMessage.created)
        ).all()
    return [(r[0], r[1], r[2], r[3], r[4] or "") for r in rows]
