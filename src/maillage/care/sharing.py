"""The MHD share worker: submits the queued ITI-65 Bundles to the Document Recipient.

The Bundles wait in the outbox table beside the e-mails (their recipient is the Document
Recipient's URL), so they get the same claim, retry schedule, dead letter and audit trail
(:func:`maillage.care.delivery.process_due`). Run by ``maillage outbox share``.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import httpx
from sqlalchemy.orm import Session, sessionmaker

from maillage.care.delivery import Channel, process_due
from maillage.care.outbox import DeliveryError, RetryPolicy
from maillage.config import Settings
from maillage.integrations import mhd
from maillage.store.models import OutboxMessage


def share_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    client: httpx.Client | None = None,
    policy: RetryPolicy | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Counter[str]:
    """Submit every Bundle due at ``now``; how many ended sent, pending or failed."""
    if settings.mhd_url is None:
        raise ValueError("MAILLAGE_MHD_URL is not set: there is no Document Recipient")
    token = settings.mhd_token.get_secret_value() if settings.mhd_token else None
    http = client or httpx.Client(timeout=settings.mhd_timeout)

    def send(row: OutboxMessage) -> None:
        try:
            mhd.submit(http, row.recipient, row.message, token)
        except mhd.SubmissionRefused as refused:
            raise DeliveryError(str(refused), permanent=refused.permanent) from refused

    try:
        return process_due(
            sessions, settings, send, Channel.SHARE, policy=policy, now=now, limit=limit
        )
    finally:
        if client is None:
            http.close()
