"""Remote-monitoring alerts, raised by the rq worker, never in the request that stored the data.

:func:`evaluate` runs a patient's rules over their whole de-duplicated series; a rule that fires
with no open alert for the patient opens one: a Flag on the patient and a Communication to the
care team, plus an ``alert`` row whose partial unique index keeps one open alert per rule and
patient even when two workers evaluate at once (the loser's transaction rolls back).
:func:`escalate` tells the coordinator about an alert still unacknowledged after
``MAILLAGE_ALERT_ESCALATION_MINUTES``; it is queued for that time when the alert opens.
Both are idempotent, so rq's retries and re-sent measurements are harmless.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import audit, monitoring
from maillage.config import Settings
from maillage.jobs.queue import job_queue
from maillage.store import resources
from maillage.store.database import make_engine, session_factory, transaction
from maillage.store.models import Alert, AlertRule, Measurement, SearchEntry, utcnow
from maillage.store.search_params import PATIENT

ALERT_CATEGORY = {"system": "urn:maillage:monitoring", "code": "alert"}
ESCALATION_CATEGORY = {"system": "urn:maillage:monitoring", "code": "alert-escalation"}
WORKER = audit.Access(None, "maillage-worker", "create")
"""Audit agent for writes the worker makes on its own (no user behind them)."""


@cache
def _context() -> tuple[Settings, sessionmaker[Session]]:
    """Settings and sessions of this worker process (``MAILLAGE_*`` as for the server)."""
    settings = Settings()
    return settings, session_factory(make_engine(settings.sqlalchemy_url))


def _rule(row: AlertRule) -> monitoring.ThresholdRule | monitoring.TrendRule:
    if row.kind == "threshold":
        return monitoring.ThresholdRule(row.code, row.unit, row.above, row.below)
    assert row.change is not None and row.window_hours is not None
    return monitoring.TrendRule(row.code, row.unit, row.change, timedelta(hours=row.window_hours))


def _team(session: Session, patient: str) -> list[str]:
    """Members of the patient's active care teams (the alert's recipients)."""
    team_ids = select(SearchEntry.resource_id).where(
        SearchEntry.resource_type == "CareTeam",
        SearchEntry.param == PATIENT,
        SearchEntry.value == patient,
    )
    members: dict[str, None] = {}
    for team_id in session.execute(team_ids).scalars():
        team = resources.get(session, "CareTeam", team_id)
        if team is None or team.deleted or team.body.get("status") not in (None, "active"):
            continue
        for participant in team.body.get("participant", []):
            reference = (participant.get("member") or {}).get("reference")
            if reference:
                members[reference] = None
    return list(members)


def _write(session: Session, settings: Settings, body: dict[str, Any]) -> str:
    row = resources.save(session, body, settings.zone)
    reference = f"{row.resource_type}/{row.id}"
    entities = [body["subject"]["reference"], reference]
    audit.record(session, settings, WORKER, entities, audit.SUCCESS, "remote-monitoring worker")
    return reference


def _open_alert(
    session: Session, settings: Settings, rule: AlertRule, evidence: monitoring.Evidence
) -> Alert:
    now = resources.instant(utcnow())
    subject = {"reference": rule.patient}
    what = f"{rule.title}: {evidence.value:g} {rule.unit} at {evidence.at.isoformat()}"
    if evidence.baseline_value is not None:
        what += f" (from {evidence.baseline_value:g} {rule.unit})"
    flag = _write(
        session,
        settings,
        {
            "resourceType": "Flag",
            "status": "active",
            "category": [{"coding": [ALERT_CATEGORY]}],
            "code": {"text": what},
            "subject": subject,
            "period": {"start": now},
        },
    )
    communication = _write(
        session,
        settings,
        {
            "resourceType": "Communication",
            "status": "completed",
            "category": [{"coding": [ALERT_CATEGORY]}],
            "priority": "urgent",
            "subject": subject,
            "about": [{"reference": flag}],
            "recipient": [{"reference": m} for m in _team(session, rule.patient)],
            "sent": now,
            "payload": [{"contentString": what}],
        },
    )
    alert = Alert(
        id=resources.new_id(),
        rule_id=rule.id,
        patient=rule.patient,
        flag=flag,
        communication=communication,
        opened=utcnow(),
    )
    session.add(alert)
    session.flush()
    return alert


def _observations(session: Session, patient: str) -> list[dict[str, Any]]:
    ids = select(Measurement.observation_id).where(Measurement.subject == patient)
    rows = [resources.get(session, "Observation", i) for i in session.execute(ids).scalars()]
    return [r.body for r in rows if r is not None and not r.deleted]


def evaluate(patient: str) -> list[str]:
    """Open the alerts a patient's measurements call for; returns the new alerts' ids."""
    settings, sessions = _context()
    opened: list[str] = []
    with transaction(sessions) as session:
        rules = session.execute(select(AlertRule).where(AlertRule.patient == patient)).scalars()
        observations = _observations(session, patient)
        for rule in list(rules):
            alerts = session.execute(
                select(Alert).where(Alert.rule_id == rule.id, Alert.patient == patient)
            ).scalars()
            closed = [a.closed for a in alerts]
            if any(c is None for c in closed):
                continue
            since = max((c for c in closed if c is not None), default=None)
            series = monitoring.observation_series(observations, rule.code, rule.unit)
            found = _rule(rule).evaluate(series, since=since)
            if found.fired and found.evidence is not None:
                try:
                    with session.begin_nested():
                        opened.append(_open_alert(session, settings, rule, found.evidence).id)
                except IntegrityError:
                    continue  # another worker opened it first
    queue = job_queue()
    for alert_id in opened:
        queue.enqueue_in(
            timedelta(minutes=settings.alert_escalation_minutes),
            escalate,
            alert_id,
            retry=Retry(max=3, interval=[5, 30, 120]),
        )
    return opened


def escalate(alert_id: str) -> bool:
    """Tell the coordinator about an alert left unacknowledged past the delay (once)."""
    settings, sessions = _context()
    with transaction(sessions) as session:
        alert = session.get(Alert, alert_id)
        due = utcnow() - timedelta(minutes=settings.alert_escalation_minutes)
        if alert is None or alert.acknowledged or alert.closed or alert.escalated:
            return False
        if alert.opened > due:
            return False
        _write(
            session,
            settings,
            {
                "resourceType": "Communication",
                "status": "completed",
                "category": [{"coding": [ESCALATION_CATEGORY]}],
                "priority": "stat",
                "subject": {"reference": alert.patient},
                "about": [{"reference": alert.flag}, {"reference": alert.communication}],
                "sent": resources.instant(utcnow()),
                "payload": [
                    {
                        "contentString": "Alert not acknowledged by the care team within "
                        f"{settings.alert_escalation_minutes} minutes"
                    }
                ],
            },
        )
        alert.escalated = utcnow()
    return True
