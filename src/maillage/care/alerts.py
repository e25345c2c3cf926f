"""Remote-monitoring alert rules and alerts: what a care team sets and what the worker raises.

A care team stores rules per patient (a threshold, or a trend within some hours). The worker,
never the request that stored the data, runs :func:`evaluate` over the patient's whole
de-duplicated series; a rule that fires with no open alert for the patient opens one: a Flag on
the patient and a Communication to the care team, plus an ``alert`` row whose partial unique
index keeps one open alert per rule and patient even when two workers evaluate at once (the
loser's savepoint rolls back). :func:`escalate` tells the coordinator about an alert still
unacknowledged after ``MAILLAGE_ALERT_ESCALATION_MINUTES``. Both are idempotent, so rq's
retries and re-sent measurements are harmless.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage import french_format
from maillage.care import audit, monitoring
from maillage.care.errors import Unprocessable
from maillage.config import Settings
from maillage.store import resources
from maillage.store.models import Alert, AlertRule, Measurement, SearchEntry, utcnow
from maillage.store.search_params import PATIENT

ALERT_CATEGORY = {"system": "urn:maillage:monitoring", "code": "alert"}
ESCALATION_CATEGORY = {"system": "urn:maillage:monitoring", "code": "alert-escalation"}
WORKER = audit.Access(None, "maillage-worker", "create")
"""Audit agent for writes the worker makes on its own (no user behind them)."""
EVALUATE_JOB = "maillage.jobs.alerts.evaluate"
ESCALATE_JOB = "maillage.jobs.alerts.escalate"
"""The worker's jobs, queued by name so that the domain never imports the job runners."""
RETRY = Retry(max=3, interval=[5, 30, 120])
"""A failed job (database briefly unreachable…) is retried after 5 s, 30 s, 2 min."""
Body = dict[str, Any]


MAX_WINDOW_HOURS = 24 * 366
"""Longest trend window: a year of measurements (a longer one would never let a rule fire)."""
MAX_MEASURE = 1e6
"""Largest threshold or change, in the rule's unit: far above any monitored measurement."""
_MEASURE = Field(None, ge=-MAX_MEASURE, le=MAX_MEASURE)


class RuleIn(BaseModel):
    """An alert rule: a threshold (``above``/``below``) or a trend (``change`` within hours)."""

    model_config = ConfigDict(allow_inf_nan=False)

    patient: str | None = Field(None, pattern=r"^Patient/[A-Za-z0-9\-.]{1,64}$")
    care_plan: str | None = Field(None, pattern=r"^CarePlan/[A-Za-z0-9\-.]{1,64}$")
    kind: Literal["threshold", "trend"]
    code: str
    unit: str
    above: float | None = _MEASURE
    below: float | None = _MEASURE
    change: float | None = _MEASURE
    window_hours: float | None = Field(None, gt=0, le=MAX_WINDOW_HOURS)
    title: str = Field(..., min_length=1, max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> RuleIn:
        if (self.patient is None) == (self.care_plan is None):
            raise ValueError("give either patient or care_plan")
        if self.code not in monitoring.UNITS or self.unit not in monitoring.UNITS[self.code]:
            raise ValueError(f"unit {self.unit!r} is not monitored for LOINC {self.code!r}")
        if self.kind == "threshold" and self.above is None and self.below is None:
            raise ValueError("a threshold rule needs above or below")
        if self.kind == "trend" and (not self.change or self.window_hours is None):
            raise ValueError("a trend rule needs a non-zero change and window_hours")
        return self


def rule_json(rule: AlertRule) -> dict[str, Any]:
    """A stored rule as the API and the pages show it."""
    return {
        "id": rule.id,
        "patient": rule.patient,
        "care_plan": rule.care_plan,
        "kind": rule.kind,
        "code": rule.code,
        "unit": rule.unit,
        "above": rule.above,
        "below": rule.below,
        "change": rule.change,
        "window_hours": rule.window_hours,
        "title": rule.title,
    }


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API and the pages show it."""

    def moment(value: Any) -> str | None:
        return None if value is None else resources.instant(value)

    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "patient": alert.patient,
        "flag": alert.flag,
        "communication": alert.communication,
        "opened": moment(alert.opened),
        "acknowledged": moment(alert.acknowledged),
        "acknowledged_by": alert.acknowledged_by,
        "escalated": moment(alert.escalated),
        "closed": moment(alert.closed),
    }


def rule_patient(session: Session, rule: RuleIn) -> str:
    """The patient a rule is for: given, or the subject of its care plan."""
    if rule.care_plan is None:
        assert rule.patient is not None
        return rule.patient
    try:
        plan = resources.read(session, *rule.care_plan.split("/"))
    except resources.StoreError as error:
        raise Unprocessable(f"{rule.care_plan}: {error}") from error
    patient = (plan.body.get("subject") or {}).get("reference")
    if not patient:
        raise Unprocessable(f"{rule.care_plan} has no subject patient")
    return str(patient)


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


def _write(session: Session, settings: Settings, body: Body) -> str:
    row = resources.save(session, body, settings.zone)
    reference = f"{row.resource_type}/{row.id}"
    entities = [body["subject"]["reference"], reference]
    audit.record(session, WORKER, entities, audit.SUCCESS, "remote-monitoring worker")
    return reference


UNITS = {"mm[Hg]": "mmHg", "/min": "battements/min"}
"""How a UCUM unit reads in French where its code does not."""


def alert_text(rule: AlertRule, evidence: monitoring.Evidence, zone: ZoneInfo) -> str:
    """« Prise de poids : 82,6 kg le samedi 5 décembre 2026 à 09:00 (contre 80 kg) », in the
    network's time zone, as the care team reads it on the Flag and the message."""
    unit = UNITS.get(rule.unit, rule.unit)
    when = french_format.day_and_time(evidence.at.astimezone(zone))
    what = f"{rule.title} : {french_format.number(evidence.value, 1)} {unit} le {when}"
    if evidence.baseline_value is not None:
        what += f" (contre {french_format.number(evidence.baseline_value, 1)} {unit})"
    return what


def _open_alert(
    session: Session, settings: Settings, rule: AlertRule, evidence: monitoring.Evidence
) -> Alert:
    now = resources.instant(utcnow())
    subject = {"reference": rule.patient}
    what = alert_text(rule, evidence, settings.zone)
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


def _observations(session: Session, patient: str) -> list[Body]:
    ids = select(Measurement.observation_id).where(Measurement.subject == patient)
    rows = [resources.get(session, "Observation", i) for i in session.execute(ids).scalars()]
    return [r.body for r in rows if r is not None and not r.deleted]


def evaluate(session: Session, settings: Settings, patient: str) -> list[str]:
    """Open the alerts a patient's measurements call for; returns the new alerts' ids."""
    opened: list[str] = []
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
    return opened


def escalate(session: Session, settings: Settings, alert_id: str) -> bool:
    """Tell the coordinator about an alert left unacknowledged past the delay (once)."""
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


def acknowledge(
    session: Session, settings: Settings, alert: Alert, who: str, *, closing: bool
) -> None:
    """A team member has seen the alert (it will not be escalated); ``closing``: the episode is
    handled, the Flag becomes inactive and the rule may fire again later."""
    now = utcnow()
    if alert.acknowledged is None:
        alert.acknowledged, alert.acknowledged_by = now, who
    if closing and alert.closed is None:
        alert.closed = now
        flag = resources.read(session, *alert.flag.split("/"))
        period = {**flag.body.get("period", {}), "end": resources.instant(now)}
        resources.save(
            session,
            {**flag.body, "status": "inactive", "period": period},
            settings.zone,
            resource_id=flag.id,
        )
