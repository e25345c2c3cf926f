"""Remote monitoring on the server: device-measurement ingestion rules, alert rules and alerts.

Ingestion path: an Observation with a ``device`` and a LOINC code is a device measurement. It
must pass :func:`maillage.care.monitoring.validate_device_observation` (422 otherwise), and its
identity (subject, device, code, effective time) is unique in the ``measurement`` table, so a
re-sent copy is answered with the stored one. Other Observations follow plain FHIR.

Once committed, each measurement queues an evaluation of the patient's alert rules on the rq
queue (:mod:`maillage.jobs.alerts`); the worker, not the request, raises alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import Select, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage.api.auth import optional_principal, required_principal
from maillage.api.errors import FHIRError
from maillage.care import audit, monitoring, policy
from maillage.care.principal import Principal
from maillage.jobs.alerts import evaluate
from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import Alert, AlertRule, Measurement, Resource, utcnow
from maillage.store.search_params import normalise_reference

logger = logging.getLogger(__name__)
Body = dict[str, Any]
RETRY = Retry(max=3, interval=[5, 30, 120])
"""A failed evaluation (database briefly unreachable…) is retried after 5 s, 30 s, 2 min."""


def is_measurement(body: Body) -> bool:
    """Whether an Observation takes the device ingestion path (a device and a LOINC code)."""
    if body.get("resourceType") != "Observation" or "device" not in body:
        return False
    codings = (body.get("code") or {}).get("coding", [])
    return any(c.get("system") == monitoring.LOINC for c in codings)


def check_device_observation(body: Body) -> None:
    """422 for a device measurement monitoring cannot use (unknown code, wrong unit…)."""
    if is_measurement(body):
        try:
            monitoring.validate_device_observation(body)
        except ValueError as error:
            raise FHIRError(422, str(error), code="code-invalid") from error


def stored_copy(session: Session, body: Body) -> Resource | None:
    """The Observation already stored for this measurement, if it is a re-sent one."""
    if not is_measurement(body):
        return None
    key = monitoring.measurement_key(body)
    found = session.execute(
        select(Measurement.observation_id).where(
            Measurement.subject == key.subject,
            Measurement.device == key.device,
            Measurement.code == key.code,
            Measurement.effective == key.effective,
        )
    ).scalar()
    return None if found is None else resources.read(session, "Observation", found)


def index_measurement(session: Session, row: Resource) -> None:
    """Record the identity of a stored measurement (409 if a concurrent copy won the race)."""
    if row.resource_type != "Observation":
        return
    session.execute(delete(Measurement).where(Measurement.observation_id == row.id))
    if not is_measurement(row.body):
        return
    try:
        with session.begin_nested():
            session.execute(
                insert(Measurement).values(
                    observation_id=row.id, **monitoring.measurement_key(row.body)._asdict()
                )
            )
    except IntegrityError as error:
        raise FHIRError(409, "this measurement was stored meanwhile; send it again") from error


def after_commit(app: FastAPI, rows: list[Resource]) -> None:
    """Queue an evaluation of alert rules for each patient with new measurements."""
    queue_evaluations(
        app, {monitoring.measurement_key(r.body).subject for r in rows if is_measurement(r.body)}
    )


def queue_evaluations(app: FastAPI, patients: set[str]) -> None:
    """Queue one rule evaluation per patient; a Redis outage is logged, the data stays stored."""
    for patient in sorted(patients):
        try:
            app.state.job_queue.enqueue(evaluate, patient, retry=RETRY)
        except RedisError:
            logger.exception("alert evaluation for %s not queued: Redis unavailable", patient)


router = APIRouter(prefix="/api/monitoring", tags=["remote monitoring"])


def _caller(request: Request) -> Principal:
    """The caller. These routes serve patient data, so an anonymous or badly authenticated
    request is audited before its 401, as on ``/fhir``."""
    try:
        return required_principal(optional_principal(request))
    except FHIRError as error:
        named = normalise_reference(request.query_params.get("patient", ""))
        with transaction(request.app.state.sessions) as session:
            audit.record(
                session,
                request.app.state.settings,
                _access(request, None, _interaction(request)),
                [named] if named and named.startswith("Patient/") else [],
                audit.SERIOUS_FAILURE,
                f"{error.status} {error.diagnostics}",
            )
        raise


Caller = Annotated[Principal, Depends(_caller)]


def _interaction(request: Request) -> str:
    """The REST interaction a monitoring request amounts to, for its AuditEvent."""
    if request.method == "GET":
        return "search-type"
    return "create" if request.url.path.endswith("/rules") else "update"


class RuleIn(BaseModel):
    """An alert rule: a threshold (``above``/``below``) or a trend (``change`` within hours)."""

    model_config = ConfigDict(allow_inf_nan=False)

    patient: str | None = Field(None, pattern=r"^Patient/[A-Za-z0-9\-.]{1,64}$")
    care_plan: str | None = Field(None, pattern=r"^CarePlan/[A-Za-z0-9\-.]{1,64}$")
    kind: Literal["threshold", "trend"]
    code: str
    unit: str
    above: float | None = None
    below: float | None = None
    change: float | None = None
    window_hours: float | None = Field(None, gt=0)
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


def _access(request: Request, principal: Principal | None, interaction: str) -> audit.Access:
    return audit.Access(principal, request.client.host if request.client else "", interaction)


class _NotInTeam(Exception):
    """Raised inside the work's transaction; audited and answered once it has rolled back."""

    def __init__(self, patient: str) -> None:
        self.patient = patient
        super().__init__(f"only the care team of {patient} follows its monitoring")


def _check_team(session: Session, principal: Principal, patient: str) -> None:
    """Refuse unless the principal runs the network or is in one of the patient's teams."""
    if principal.role not in policy.FULL_ACCESS | policy.CARE_ROLES or policy.refused_patients(
        session, principal, {patient}, "CareTeam"
    ):
        raise _NotInTeam(patient)


@contextmanager
def _team_work(request: Request, principal: Principal, interaction: str) -> Iterator[Session]:
    """One transaction of team work; a refusal is audited in its own and answered 403."""
    sessions = request.app.state.sessions
    access = _access(request, principal, interaction)
    try:
        with transaction(sessions) as session:
            yield session
    except _NotInTeam as refused:
        with transaction(sessions) as own:
            audit.record(
                own,
                request.app.state.settings,
                access,
                [refused.patient],
                audit.SERIOUS_FAILURE,
                f"403 {refused}",
            )
        raise FHIRError(403, str(refused)) from refused


def rule_json(rule: AlertRule) -> dict[str, Any]:
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


def _rule_patient(session: Session, rule: RuleIn) -> str:
    """The patient a rule is for: given, or the subject of its care plan."""
    if rule.care_plan is None:
        assert rule.patient is not None
        return rule.patient
    try:
        plan = resources.read(session, *rule.care_plan.split("/"))
    except resources.StoreError as error:
        raise FHIRError(422, f"{rule.care_plan}: {error}") from error
    patient = (plan.body.get("subject") or {}).get("reference")
    if not patient:
        raise FHIRError(422, f"{rule.care_plan} has no subject patient")
    return patient


@router.post("/rules", status_code=201)
def create_rule(rule: RuleIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Store a rule for a patient, or for the patient of a care plan."""
    settings = request.app.state.settings
    with _team_work(request, principal, "create") as session:
        patient = _rule_patient(session, rule)
        _check_team(session, principal, patient)
        row = AlertRule(id=resources.new_id(), **{**rule.model_dump(), "patient": patient})
        session.add(row)
        session.flush()
        access = _access(request, principal, "create")
        audit.record(session, settings, access, [patient], audit.SUCCESS)
    queue_evaluations(request.app, {patient})  # measurements already there count too
    return rule_json(row)


@router.put("/rules/{rule_id}")
def update_rule(rule_id: str, rule: RuleIn, request: Request, principal: Caller) -> dict[str, Any]:
    """Change a rule's thresholds or wording; it stays the same patient's (422 otherwise).

    An alert already open stays open: the new thresholds count from the next measurement.
    """
    settings = request.app.state.settings
    with _team_work(request, principal, "update") as session:
        row = session.get(AlertRule, rule_id)
        if row is None:
            raise FHIRError(404, f"alert rule {rule_id} is not known")
        _check_team(session, principal, row.patient)
        if _rule_patient(session, rule) != row.patient:
            raise FHIRError(422, "a rule cannot move to another patient; create a new one")
        for key, value in rule.model_dump(exclude={"patient"}).items():
            setattr(row, key, value)
        access = _access(request, principal, "update")
        audit.record(session, settings, access, [row.patient], audit.SUCCESS)
    queue_evaluations(request.app, {row.patient})
    return rule_json(row)


@router.get("/rules")
def list_rules(patient: str, request: Request, principal: Caller) -> list[dict[str, Any]]:
    """A patient's alert rules, oldest first, for their care team."""
    query = select(AlertRule).where(AlertRule.patient == patient)
    query = query.order_by(AlertRule.created, AlertRule.id)
    return _team_list(request, principal, patient, query, rule_json)


@router.get("/alerts")
def list_alerts(patient: str, request: Request, principal: Caller) -> list[dict[str, Any]]:
    """A patient's alerts, newest first, for their care team."""
    query = select(Alert).where(Alert.patient == patient).order_by(Alert.opened.desc())
    return _team_list(request, principal, patient, query, alert_json)


def _team_list(
    request: Request,
    principal: Principal,
    patient: str,
    query: Select[Any],
    as_json: Callable[[Any], dict[str, Any]],
) -> list[dict[str, Any]]:
    """The rows of ``query`` about ``patient`` as JSON, for a member of their care team; the
    reading is audited."""
    settings = request.app.state.settings
    with _team_work(request, principal, "search-type") as session:
        _check_team(session, principal, patient)
        found = [as_json(row) for row in session.execute(query).scalars()]
        access = _access(request, principal, "search-type")
        audit.record(session, settings, access, [patient], audit.SUCCESS)
    return found


def _change(request: Request, principal: Principal, alert_id: str, closing: bool) -> Alert:
    settings = request.app.state.settings
    with _team_work(request, principal, "update") as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise FHIRError(404, f"alert {alert_id} is not known")
        _check_team(session, principal, alert.patient)
        now = utcnow()
        if alert.acknowledged is None:
            alert.acknowledged, alert.acknowledged_by = now, principal.email
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
        access = _access(request, principal, "update")
        audit.record(session, settings, access, [alert.patient, alert.flag], audit.SUCCESS)
    return alert


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    """A team member has seen the alert: it will not be escalated (it stays open)."""
    return alert_json(_change(request, principal, alert_id, closing=False))


@router.post("/alerts/{alert_id}/close")
def close(alert_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    """The episode is handled: the Flag becomes inactive and the rule may fire again later."""
    return alert_json(_change(request, principal, alert_id, closing=True))
