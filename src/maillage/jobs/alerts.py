"""The rq jobs of remote monitoring: thin runners of :mod:`maillage.care.alerts` in a worker.

:func:`evaluate` runs a patient's rules and queues, for each alert it opens, an
:func:`escalate` for ``MAILLAGE_ALERT_ESCALATION_MINUTES`` later. The server queues these jobs
by name (:data:`maillage.care.alerts.EVALUATE_JOB`), never importing this module.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from maillage.care import alerts
from maillage.care.repository import Repository, system_repository
from maillage.config import load_settings
from maillage.jobs.queue import job_queue


@cache
def _repository() -> Repository:
    """The repository of this worker process (``MAILLAGE_*`` as for the server)."""
    return system_repository(load_settings())


def evaluate(patient: str) -> list[str]:
    """Open the alerts a patient's measurements call for; returns the new alerts' ids."""
    repository = _repository()
    opened = repository.evaluate_alerts(patient)
    queue = job_queue()
    for alert_id in opened:
        queue.enqueue_in(
            timedelta(minutes=repository.settings.alert_escalation_minutes),
            alerts.ESCALATE_JOB,
            alert_id,
            retry=alerts.RETRY,
        )
    return opened


def escalate(alert_id: str) -> bool:
    """Tell the coordinator about an alert left unacknowledged past the delay (once)."""
    return _repository().escalate_alert(alert_id)
