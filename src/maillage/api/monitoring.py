"""Remote monitoring at ``/api/monitoring``: a care team's alert rules and alerts, in JSON,
and the server's own: the audit chainer's lag (``/api/monitoring/audit-outbox``).

The rules and alerts themselves are :mod:`maillage.care.alerts`; device measurements arrive as
Observations on ``/fhir`` (:mod:`maillage.care.ingestion`). These routes serve patient data:
every one, allowed or refused (anonymous callers included), is audited by the repository.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from maillage.api.deps import Repo
from maillage.care.alerts import RuleIn, alert_json, rule_json

router = APIRouter(prefix="/api/monitoring", tags=["remote monitoring"])


@router.post("/rules", status_code=201)
def create_rule(rule: RuleIn, repository: Repo) -> dict[str, Any]:
    """Store a rule for a patient, or for the patient of a care plan."""
    return rule_json(repository.create_rule(rule))


@router.put("/rules/{rule_id}")
def update_rule(rule_id: str, rule: RuleIn, repository: Repo) -> dict[str, Any]:
    """Change a rule's thresholds or wording; it stays the same patient's (422 otherwise).

    An alert already open stays open: the new thresholds count from the next measurement.
    """
    return rule_json(repository.update_rule(rule_id, rule))


@router.get("/rules")
def list_rules(patient: str, repository: Repo) -> list[dict[str, Any]]:
    """A patient's alert rules, oldest first, for their care team."""
    return [rule_json(rule) for rule in repository.alert_rules(patient)]


@router.get("/alerts")
def list_alerts(patient: str, repository: Repo) -> list[dict[str, Any]]:
    """A patient's alerts, newest first, for their care team."""
    return [alert_json(alert) for alert in repository.patient_alerts(patient)]


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: str, repository: Repo) -> dict[str, Any]:
    """A team member has seen the alert: it will not be escalated (it stays open)."""
    return alert_json(repository.acknowledge_alert(alert_id))


@router.post("/alerts/{alert_id}/close")
def close(alert_id: str, repository: Repo) -> dict[str, Any]:
    """The episode is handled: the Flag becomes inactive and the rule may fire again later."""
    return alert_json(repository.acknowledge_alert(alert_id, closing=True))


@router.get("/audit-outbox")
def audit_outbox(repository: Repo) -> dict[str, Any]:
    """The AuditEvents queued and not chained yet, and how long the oldest has waited (the
    chainer's lag, in seconds), for admins and the DPO: alert when it grows."""
    backlog = repository.audit_backlog()
    return {"pending": backlog.pending, "oldestAgeSeconds": backlog.lag_seconds}
