"""Sending comptes rendus to the médecin traitant by e-mail (MSSanté is SMTP) with retries.

The server writes each message to an outbox table in the transaction that produces the report;
a worker then calls :func:`deliver` and records the outcome with :func:`after_attempt`, a pure
function, so that the retry schedule is decided here and tested without a clock.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from urllib.parse import unquote, urlsplit

REPORT_MEDIA_TYPES = frozenset({"application/pdf", "text/html", "text/plain"})


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    report: bytes,
    report_filename: str,
    report_media_type: str = "application/pdf",
    sent_at: datetime | None = None,
) -> EmailMessage:
    """A message with a plain-text body and the report attached (PDF, HTML or text).

    The Message-ID is set here so that the outbox row keeps it and a resend is recognisable.
    """
    if report_media_type not in REPORT_MEDIA_TYPES:
        raise ValueError(
            f"report media type {report_media_type!r} is not one of "
            f"{', '.join(sorted(REPORT_MEDIA_TYPES))}"
        )
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["Date"] = format_datetime(sent_at or datetime.now(UTC))
    message.set_content(body)
    maintype, subtype = report_media_type.split("/")
    message.add_attachment(report, maintype=maintype, subtype=subtype, filename=report_filename)
    return message


@dataclass(frozen=True)
class SmtpTarget:
    """Where to deliver, parsed from MAILLAGE_SMTP_URL.

    ``smtp://`` plain SMTP (port 25), ``smtp+starttls://`` SMTP upgraded with STARTTLS
    (port 587), ``smtps://`` SMTP over TLS (port 465); user and password, percent-encoded,
    enable AUTH.
    """

    scheme: str
    host: str
    port: int
    username: str | None = None
    password: str | None = None


_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``smtp[s|+starttls]://[user:password@]host[:port]``."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise ValueError(
            f"SMTP URL scheme must be one of {', '.join(_DEFAULT_PORTS)}, got {parts.scheme!r}"
        )
    if not parts.hostname:
        raise ValueError(f"SMTP URL {url!r} has no host")
    return SmtpTarget(
        scheme=parts.scheme,
        host=parts.hostname,
        port=parts.port or _DEFAULT_PORTS[parts.scheme],
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class DeliveryError(Exception):
    """A failed delivery; ``permanent`` when retrying cannot help (5xx: unknown mailbox …)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.permanent = permanent
        super().__init__(reason)


def deliver(
    message: EmailMessage,
    smtp_url: str,
    *,
    timeout: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Send one message; raise DeliveryError, telling transient from permanent failures."""
    target = parse_smtp_url(smtp_url)
    context = ssl_context or ssl.create_default_context()
    try:
        if target.scheme == "smtps":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with client:
            if target.scheme == "smtp+starttls":
                client.starttls(context=context)
            if target.username is not None:
                client.login(target.username, target.password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise DeliveryError(
            f"recipients refused: {error.recipients}", permanent=all(c >= 500 for c in codes)
        ) from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(
            f"SMTP {error.smtp_code}: {error.smtp_error!r}", permanent=error.smtp_code >= 500
        ) from error
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}", permanent=False) from error
    if refused:
        codes = [code for code, _ in refused.values()]
        raise DeliveryError(
            f"some recipients refused: {refused}", permanent=all(c >= 500 for c in codes)
        )


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: wait ``first_delay × factor^(n−1)`` after the n-th failure, capped."""

    max_attempts: int = 8
    first_delay: timedelta = timedelta(minutes=1)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.factor < 1:
            raise ValueError("backoff factor must be at least 1")

    def delay(self, failures: int) -> timedelta:
        """Wait after the given number of consecutive failures (1 for the first)."""
        return min(self.first_delay * self.factor ** (failures - 1), self.max_delay)


@dataclass(frozen=True)
class DeliveryState:
    """What the outbox row records between attempts."""

    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None


def after_attempt(
    state: DeliveryState,
    policy: RetryPolicy,
    *,
    now: datetime,
    error: DeliveryError | None = None,
) -> DeliveryState:
    """The row's state after one attempt made at ``now`` (``error`` None: it was sent).

    A permanent error, or the last allowed attempt failing, ends in ``failed`` for a human
    to handle; otherwise the next attempt is scheduled after the backoff delay.
    """
    if state.status is not DeliveryStatus.PENDING:
        raise ValueError(f"message already {state.status}; no further attempt is due")
    attempts = state.attempts + 1
    if error is None:
        return DeliveryState(DeliveryStatus.SENT, attempts, None, None)
    if error.permanent or attempts >= policy.max_attempts:
        return DeliveryState(DeliveryStatus.FAILED, attempts, None, str(error))
    return DeliveryState(DeliveryStatus.PENDING, attempts, now + policy.delay(attempts), str(error))
