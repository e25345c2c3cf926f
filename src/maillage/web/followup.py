"""A patient's follow-up for their care team: monitoring charts, alert rules and open alerts.

Access is the monitoring API's: only the network's coordinators and members of one of the
patient's care teams get in (the same check, refusal audit, rule storage, acknowledgement and
closing as ``/api/monitoring/rules`` and ``/api/monitoring/alerts``); the measurements are read
as ``/fhir/Observation`` would. Planners and patients never reach these pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care import alerts as care_alerts
from maillage.care import ingestion, monitoring
from maillage.care.repository import Repository, instant
from maillage.french_format import fixed
from maillage.web import records
from maillage.web.care_plans import Follower, shown_plan
from maillage.web.charts import Point, line_chart
from maillage.web.navigation import ROLE_LABELS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import french_moment

router = APIRouter(include_in_schema=False)
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
def followed(request: Request, _principal: Follower, repository: PageRepo) -> HTMLResponse:
    """The patients whose care team the professional belongs to (all, for coordinators)."""
    teams = records.find(repository, "CareTeam", [("status", "active")])
    ids = {ident for t in teams if (ident := records.reference_id(t.get("subject"), "Patient"))}
    found = records.by_ids(repository, "Patient", ids)
    patients = [
        {"id": ident, "nom": records.person_name(found.get(ident))} for ident in sorted(ids)
    ]
    return render(
        request, "soins/patients.html", {"patients": sorted(patients, key=lambda p: p["nom"])}
    )


def charts(
    observations: list[dict[str, Any]], rules: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """One chart per monitored series the patient has measurements of, with the thresholds of
    its rules drawn; and, in French, the measurements that cannot be read (left out of the
    charts rather than failing the page)."""
    measured, unreadable = [], []
    for observation in observations:
        if not ingestion.is_measurement(observation):
            continue
        try:
            monitoring.validate_device_observation(observation)
            monitoring.effective_utc(observation)
        except (ValueError, KeyError, TypeError):
            unreadable.append(
                f"La mesure {observation.get('id', '')} n'est pas lisible (valeur, unité ou date "
                "invalide) : elle n'est pas tracée. Corrigez-la ou signalez-la au coordinateur."
            )
            continue
        measured.append(observation)
    drawn = []
    for code, unit, title in SERIES:
        series = monitoring.observation_series(measured, code, unit)
        if series.empty:
            continue
        moments = pd.DatetimeIndex(series.index).to_pydatetime()
        points = [Point(at, float(v)) for at, v in zip(moments, series.to_numpy(), strict=True)]
        limits = tuple(
            float(rule[key])
            for rule in rules
            if rule["code"] == code and rule["kind"] == "threshold" and rule["unit"] == unit
            for key in ("above", "below")
            if rule[key] is not None
        )
        svg = line_chart(f"{title} ({unit})", unit, points, f"courbe-{code}", limits)
        drawn.append({"titre": title, "svg": svg})
    return drawn, unreadable


def flag_titles(repository: Repository, flags: set[str]) -> dict[str, str]:
    """The alerts' wording, kept on their Flags by the alert worker, by Flag reference."""
    found = records.by_ids(repository, "Flag", {f.partition("/")[2] for f in flags})
    return {
        flag: ((found.get(flag.partition("/")[2]) or {}).get("code") or {}).get("text") or "Alerte"
        for flag in flags
    }


TEAM_MESSAGE = {"system": "urn:maillage:care-team", "code": "message"}
"""The category of a message between the members of a patient's care team."""


def team_notes(repository: Repository, patient: str) -> dict[str, list[dict[str, Any]]]:
    """The patient's care plans (those under way first, then by creation) and the care
    team's latest messages, newest first (the alert messages aside: the alerts show them), with
    their senders by name."""
    zone = repository.settings.zone
    plans = records.find(repository, "CarePlan", [("patient", patient)], count=50)
    plans.sort(key=lambda p: (p.get("status") != "active", str(p.get("created", "")), p["id"]))
    query = [("patient", patient), ("category", _token(TEAM_MESSAGE)), ("_sort", "-sent")]
    messages = records.find(repository, "Communication", query, count=30)
    senders = records.by_ids(
        repository,
        "Practitioner",
        {i for m in messages if (i := records.reference_id(m.get("sender"), "Practitioner"))},
    )
    return {
        "plans": [shown_plan(plan) for plan in plans],
        "messages": [
            {
                "de": records.person_name(
                    senders.get(records.reference_id(m.get("sender"), "Practitioner") or "")
                ),
                "le": french_moment(m.get("sent"), zone),
                "texte": " ".join(p.get("contentString", "") for p in m.get("payload", [])),
            }
            for m in messages
        ],
    }


def _token(coding: dict[str, str]) -> str:
    return f"{coding['system']}|{coding['code']}"


def acknowledgers(repository: Repository, emails: set[str]) -> dict[str, str]:
    """Who acknowledged alerts, by their account's e-mail: the professional's name, else the
    account's role (« coordination du réseau »), never the address."""
    accounts = repository.colleagues(emails)
    ids = {
        i
        for ref, _ in accounts.values()
        if (i := records.reference_id({"reference": ref or ""}, "Practitioner"))
    }
    people = records.by_ids(repository, "Practitioner", ids)
    named = {}
    for email, (reference, role) in accounts.items():
        body = people.get((reference or "").partition("/")[2])
        named[email] = records.person_name(body) if body else ROLE_LABELS[role]
    return named


def rule_text(rule: dict[str, Any]) -> str:
    """« Poids au-dessus de 90 kg ou en dessous de 60 kg » — what makes the rule fire."""
    name = next((title for code, _unit, title in SERIES if code == rule["code"]), rule["code"])
    unit = rule["unit"]
    if rule["kind"] == "trend":
        hours = fixed(rule["window_hours"], 0)
        return f"{name} : variation de {fixed(rule['change'], 1)} {unit} en {hours} h"
    limits = [
        f"{label} {fixed(rule[key], 1)} {unit}"
        for key, label in (("above", "au-dessus de"), ("below", "en dessous de"))
        if rule[key] is not None
    ]
    return f"{name} {' ou '.join(limits)}"


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def follow_up(
    request: Request, patient_id: str, _principal: Follower, repository: PageRepo
) -> HTMLResponse:
    """Charts of the monitoring series, the alert rules, and the open alerts with buttons to
    acknowledge or close them."""
    reference = f"Patient/{patient_id}"
    with records.refusals():
        alerts = [care_alerts.alert_json(a) for a in repository.patient_alerts(reference)]
        rules = [care_alerts.rule_json(r) for r in repository.alert_rules(reference)]
    patient = records.get(repository, "Patient", patient_id)
    observations = records.everything(repository, "Observation", [("patient", reference)])
    labels = flag_titles(repository, {a["flag"] for a in alerts})
    seen_by = acknowledgers(repository, {a["acknowledged_by"] for a in alerts} - {None})
    zone = repository.settings.zone
    shown = [
        {
            **alert,
            "titre": labels[alert["flag"]],
            "vue_par": seen_by.get(alert["acknowledged_by"]),
            "ouverte_le": french_moment(alert["opened"], zone),
            "vue_le": french_moment(alert["acknowledged"], zone) if alert["acknowledged"] else None,
        }
        for alert in alerts
        if alert["closed"] is None
    ]
    drawn, unreadable = charts(observations, rules)
    context = {
        **team_notes(repository, f"Patient/{patient_id}"),
        "patient": {"id": patient_id, "nom": records.person_name(patient)},
        "courbes": drawn,
        "illisibles": unreadable,
        "alertes": shown,
        "regles": [{**rule, "texte": rule_text(rule)} for rule in rules],
    }
    return render(request, "soins/suivi_patient.html", context)


def _rule(repository: Repository, patient_id: str, rule_id: str) -> dict:
    """One of the patient's rules, read as the monitoring API lists them (team check)."""
    with records.refusals():
        stored = repository.alert_rules(f"Patient/{patient_id}")
        rules = [care_alerts.rule_json(rule) for rule in stored]
    found = next((rule for rule in rules if rule["id"] == rule_id), None)
    if found is None:
        raise PageError(404, "Cette règle d'alerte n'existe pas pour ce patient.")
    return found


def _rule_form(
    request: Request,
    repository: Repository,
    patient_id: str,
    values: dict[str, Any],
    action: str,
    error: str | None = None,
) -> HTMLResponse:
    """The rule form of a patient of the follower's care team: the team check and the read
    of the patient (audited, refused or not) come before the patient's name is shown, an
    invalid form's page included."""
    with records.refusals():
        repository.alert_rules(f"Patient/{patient_id}")
    patient = records.get(repository, "Patient", patient_id)
    context = {
        "patient": {"id": patient_id, "nom": records.person_name(patient)},
        "mesures": [(f"{code}|{unit}", f"{title} ({unit})") for code, unit, title in SERIES],
        "valeurs": values,
        "action": action,
        "erreur": error,
    }
    return render(request, "soins/regle.html", context, status=422 if error else 200)


class _InvalidRule(Exception):
    """The rule form is incomplete: shown again with a French explanation."""


INVALID_RULE = "Donnez un titre, la mesure suivie et au moins un seuil (nombre)."


def _number(text: str) -> float | None:
    """A threshold as typed (« 37,5 » or « 37.5 »), None when left empty."""
    text = text.strip().replace(",", ".")
    return float(text) if text else None


def _posted_rule(patient_id: str, form: FormData) -> care_alerts.RuleIn:
    """The threshold rule the form describes, checked by the monitoring API's own model."""
    code, _, unit = str(form.get("mesure", "")).partition("|")
    try:
        return care_alerts.RuleIn(
            patient=f"Patient/{patient_id}",
            care_plan=None,
            kind="threshold",
            code=code,
            unit=unit,
            above=_number(str(form.get("au_dessus", ""))),
            below=_number(str(form.get("en_dessous", ""))),
            title=str(form.get("titre", "")).strip(),
            window_hours=None,
        )
    except ValueError as error:  # pydantic's ValidationError is one too
        raise _InvalidRule from error


def _form_values(form: FormData) -> dict[str, Any]:
    keys = ("titre", "mesure", "au_dessus", "en_dessous")
    return {key: str(form.get(key, "")) for key in keys}


@router.get("/patients/{patient_id}/regles/nouvelle", response_class=HTMLResponse)
def new_rule(
    request: Request, patient_id: str, _principal: Follower, repository: PageRepo
) -> HTMLResponse:
    """The form of a new threshold rule (the team's, checked before it shows)."""
    return _rule_form(request, repository, patient_id, {}, f"/patients/{patient_id}/regles")


@router.post("/patients/{patient_id}/regles", response_class=HTMLResponse)
def create_rule(
    request: Request,
    patient_id: str,
    _principal: Follower,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Store the rule as ``POST /api/monitoring/rules`` does (team members only, audited)."""
    try:
        rule = _posted_rule(patient_id, form)
    except _InvalidRule:
        action = f"/patients/{patient_id}/regles"
        return _rule_form(request, repository, patient_id, _form_values(form), action, INVALID_RULE)
    with records.refusals():
        repository.create_rule(rule)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.get("/patients/{patient_id}/regles/{rule_id}", response_class=HTMLResponse)
def edit_rule(
    request: Request, patient_id: str, rule_id: str, _principal: Follower, repository: PageRepo
) -> HTMLResponse:
    """The form of an existing threshold rule, filled in."""
    rule = _rule(repository, patient_id, rule_id)
    if rule["kind"] != "threshold":
        raise PageError(409, "Seules les règles de seuil se modifient ici.")
    values = {
        "titre": rule["title"],
        "mesure": f"{rule['code']}|{rule['unit']}",
        "au_dessus": "" if rule["above"] is None else f"{rule['above']:g}",
        "en_dessous": "" if rule["below"] is None else f"{rule['below']:g}",
    }
    action = f"/patients/{patient_id}/regles/{rule_id}"
    return _rule_form(request, repository, patient_id, values, action)


@router.post("/patients/{patient_id}/regles/{rule_id}", response_class=HTMLResponse)
def update_rule(
    request: Request,
    patient_id: str,
    rule_id: str,
    _principal: Follower,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Change the rule as ``PUT /api/monitoring/rules/{id}`` does."""
    _rule(repository, patient_id, rule_id)
    try:
        rule = _posted_rule(patient_id, form)
    except _InvalidRule:
        action = f"/patients/{patient_id}/regles/{rule_id}"
        return _rule_form(request, repository, patient_id, _form_values(form), action, INVALID_RULE)
    with records.refusals():
        repository.update_rule(rule_id, rule)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/alertes/{alert_id}", response_class=HTMLResponse)
def acknowledge(
    request: Request,
    patient_id: str,
    alert_id: str,
    _principal: Follower,
    repository: PageRepo,
    _form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Mark the alert as seen (it is no longer escalated), as the monitoring API does."""
    with records.refusals():
        repository.acknowledge_alert(alert_id)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/alertes/{alert_id}/cloture", response_class=HTMLResponse)
def close(
    request: Request,
    patient_id: str,
    alert_id: str,
    _principal: Follower,
    repository: PageRepo,
    _form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """The episode is handled: the alert and its Flag close, as the monitoring API does."""
    with records.refusals():
        repository.acknowledge_alert(alert_id, closing=True)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.post("/patients/{patient_id}/messages", response_class=HTMLResponse)
def write_message(
    patient_id: str,
    principal: Follower,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """A message to the patient's care team, stored as a Communication about the patient
    (members of the team only, as the policy says; audited)."""
    text = str(form.get("message", "")).strip()
    if not text or len(text) > 2000:
        raise PageError(422, "Écrivez un message de 2 000 caractères au plus.")
    message: dict[str, Any] = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [TEAM_MESSAGE]}],
        "subject": {"reference": f"Patient/{patient_id}"},
        "sent": instant(datetime.now(UTC)),
        "payload": [{"contentString": text}],
    }
    if principal.practitioner:
        message["sender"] = {"reference": principal.practitioner}
    with records.refusals(), records.writing(repository) as writer:
        writer.save(message)
    return RedirectResponse(f"/patients/{patient_id}#messages", status_code=303)
