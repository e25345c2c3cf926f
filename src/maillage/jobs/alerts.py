"""The rq jobs of remote monitoring: thin runners of :mod:`maillage.care.alerts` in a worker.

:func:`evaluate` runs a patient's rules and queues, for each alert it opens, an
:func:`escalate` for ``MAILLAGE_ALERT_ESCALATION_MINUTES`` later. The server queues these jobs
by name (:data:`maillage.care.alerts.EVALUATE_JOB`), never importing this module.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from rq import Retry
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import alerts
from maillage.config import Settings
from maillage.jobs.queue import job_queue
from maillage.store.database import make_engine, session_factory, transaction


@cache
def _context() -> tuple[Settings, sessionmaker[Session]]:
    """Settings and sessions of this worker process (``MAILLAGE_*`` as for the server)."""
    settings = Settings()
    return settings, session_factory(make_engine(settings.sqlalchemy_url))


def evaluate(patient: str) -> list[str]:
    """Open the alerts a patient's measurements call for; returns the new alerts' ids."""
    settings, sessions = _context()
    with transaction(sessions) as session:
        opened = alerts.evaluate(session, settings, patient)
    queue = job_queue()
    for alert_id in opened:
        queue.enqueue_in(
            timedelta(minutes=settings.alert_escalation_minutes),
            alerts.ESCALATE_JOB,
            alert_id,
            retry=Retry(max=3, interval=[5, 30, 120]),
        )
    return opened


def escalate(alert_id: str) -> bool:
    """Tell the coordinator about an alert left unacknowledged past the delay (once)."""
    settings, sessions = _context()
    with transaction(sessions) as session:
        return alerts.escalate(session, settings, alert_id)
