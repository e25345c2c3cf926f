"""A patient's follow-up for their care team: monitoring charts and open alerts.

Access is the monitoring API's: only the network's coordinators and members of one of the
patient's care teams get in (the same check, refusal audit and acknowledgement as
``/api/monitoring/alerts``); the measurements are read as ``/fhir/Observation`` would.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from maillage.api import monitoring as monitoring_api
from maillage.api.auth import Principal
from maillage.care import monitoring
from maillage.store import resources
from maillage.store.database import transaction
from maillage.web import records
from maillage.web.charts import Point, line_chart
from maillage.web.navigation import CARE_TEAMS
from maillage.web.rendering import allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import french_moment

router = APIRouter(include_in_schema=False)
Follower = Annotated[Principal, Depends(allowed(CARE_TEAMS))]
#: What is charted: (LOINC code, unit, French title).
SERIES = (
    (monitoring.WEIGHT, "kg", "Poids"),
    (monitoring.SYSTOLIC, "mm[Hg]", "Pression artérielle systolique"),
    (monitoring.DIASTOLIC, "mm[Hg]", "Pression artérielle diastolique"),
    (monitoring.HEART_RATE, "/min", "Fréquence cardiaque"),
    (monitoring.SPO2, "%", "Saturation en oxygène"),
    (monitoring.GLUCOSE, "mg/dL", "Glycémie"),
)


@router.get("/patients", response_class=HTMLResponse)
def followed(request: Request, principal: Follower) -> HTMLResponse:
    """The patients whose care team the professional belongs to (all, for coordinators)."""
    teams = records.find(request, principal, "CareTeam", [("status", "active")])
    ids = sorted(
        {ident for t in teams if (ident := records.reference_id(t.get("subject"), "Patient"))}
    )
    with transaction(request.app.state.sessions) as session:
        rows = [(ident, resources.get(session, "Patient", ident)) for ident in ids]
    patients = [
        {"id": ident, "nom": records.person_name(row.body if row else None)} for ident, row in rows
    ]
    return render(
        request, "soins/patients.html", {"patients": sorted(patients, key=lambda p: p["nom"])}
    )


def charts(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One chart per monitored series the patient has measurements of."""
    measured = [o for o in observations if monitoring_api.is_measurement(o)]
    drawn = []
    for code, unit, title in SERIES:
        series = monitoring.observation_series(measured, code, unit)
        if series.empty:
            continue
        points = [Point(at.to_pydatetime(), float(v)) for at, v in series.items()]
        drawn.append(
            {"titre": title, "svg": line_chart(f"{title} ({unit})", unit, points, f"courbe-{code}")}
        )
    return drawn


def flag_title(session: Session, flag: str) -> str:
    """The alert's wording, kept on its Flag by the alert worker."""
    kind, _, ident = flag.partition("/")
    row = resources.get(session, kind, ident)
    return ((row.body.get("code") or {}).get("text") if row else None) or "Alerte"


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def follow_up(request: Request, patient_id: str, principal: Follower) -> HTMLResponse:
    """Charts of the monitoring series and the alerts, open ones with an acknowledge button."""
    reference = f"Patient/{patient_id}"
    with records.refusals():
        alerts = monitoring_api.list_alerts(reference, request, principal)
    patient = records.get(request, principal, "Patient", patient_id)
    observations = records.find(
        request, principal, "Observation", [("patient", reference)], count=500
    )
    with transaction(request.app.state.sessions) as session:
        labels = {a["flag"]: flag_title(session, a["flag"]) for a in alerts}
    shown = [
        {
            **alert,
            "titre": labels[alert["flag"]],
            "ouverte_le": french_moment(alert["opened"], request.app.state.settings.zone),
            "vue_le": french_moment(alert["acknowledged"], request.app.state.settings.zone)
            if alert["acknowledged"]
            else None,
        }
        for alert in alerts
        if alert["closed"] is None
    ]
    context = {
        "patient": {"id": patient_id, "nom": records.person_name(patient)},
        "courbes": charts(observations),
        "alertes": shown,
    }
    return render(request, "soins/suivi_patient.html", context)


@router.post("/patients/{patient_id}/alertes/{alert_id}", response_class=HTMLResponse)
def acknowledge(
    request: Request,
    patient_id: str,
    alert_id: str,
    principal: Follower,
    _form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Mark the alert as seen (it is no longer escalated), as the monitoring API does."""
    with records.refusals():
        monitoring_api.acknowledge(alert_id, request, principal)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)
