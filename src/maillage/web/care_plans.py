"""Care plans written by the patient's care team from the follow-up page.

A plan is a FHIR R4 CarePlan about the patient: a title, a description, an optional period, its
activities (a line of text and a status each) and its own status. It is written through the
principal's repository, so the care-team policy that guards the team's messages guards the
plans too (members only, refusals and writes audited). An edit carries the version it was made
on (as ``If-Match`` does), so a plan a colleague changed meanwhile is refused and shown again
beside what was typed, never silently overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care.errors import DomainError, PreconditionFailed
from maillage.care.principal import Principal
from maillage.care.repository import Repository, instant
from maillage.web import records
from maillage.web.navigation import CARE_TEAMS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
#: Who reaches a patient's follow-up pages (the repository then checks the care team).
Follower = Annotated[Principal, Depends(allowed(CARE_TEAMS))]
#: What an activity's status reads as (FHIR R4 CarePlan.activity.detail.status).
ACTIVITY_LABELS = {
    "not-started": "À faire",
    "scheduled": "Programmée",
    "in-progress": "En cours",
    "on-hold": "En pause",
    "completed": "Faite",
    "cancelled": "Annulée",
    "stopped": "Arrêtée",
    "unknown": "Inconnu",
    "entered-in-error": "Saisie erronée",
}
#: The statuses a member sets on an activity.
ACTIVITY_CHOICES = ("not-started", "in-progress", "completed")
#: What a plan's status reads as (FHIR R4 CarePlan.status).
PLAN_LABELS = {
    "draft": "Brouillon",
    "active": "En cours",
    "on-hold": "Suspendu",
    "revoked": "Arrêté",
    "completed": "Terminé",
    "entered-in-error": "Saisie erronée",
    "unknown": "Inconnu",
}
#: The statuses a member sets on a plan.
PLAN_CHOICES = ("active", "completed", "revoked")
MAX_ACTIVITIES = 20
BLANK_ROWS = 3
CHANGED = (
    "Ce plan de soins a été modifié entre-temps par un autre membre de l'équipe : sa version "
    "enregistrée est rappelée ci-dessous. Vérifiez votre saisie, conservée, puis enregistrez-la "
    "de nouveau."
)

Body = dict[str, Any]


@dataclass(frozen=True)
class Posted:
    """A plan as the form describes it, checked."""

    title: str
    description: str
    start: date | None
    end: date | None
    status: str
    activities: list[tuple[str, str]]
    """(text, status) per row kept, in the form's order; row ``i`` is stored activity ``i``."""
    rows: list[int]
    """The form row each kept activity comes from (an emptied row removes its activity)."""


def _day(text: str, label: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise PageError(422, f"La date de {label} n'est pas une date (jj/mm/aaaa).") from error


def posted(form: FormData, stored: Body | None) -> Posted:
    """The checked plan of the form; a French 422 names what is wrong. A row's status is one
    of :data:`ACTIVITY_CHOICES` or the one it already has."""
    title = str(form.get("titre", "")).strip()
    if not title or len(title) > 200:
        raise PageError(422, "Donnez au plan un titre de 200 caractères au plus.")
    description = str(form.get("description", "")).strip()
    if len(description) > 2000:
        raise PageError(422, "La description dépasse 2 000 caractères.")
    start, end = _day(str(form.get("debut", "")), "début"), _day(str(form.get("fin", "")), "fin")
    if start and end and end < start:
        raise PageError(422, "La fin du plan précède son début.")
    old = _activities(stored)
    texts, statuses = form.getlist("activite"), form.getlist("statut")
    if len(texts) != len(statuses):
        raise PageError(422, "Le formulaire est incomplet : rechargez la page.")
    kept, rows = [], []
    for row, (text, status) in enumerate(zip(texts, statuses, strict=True)):
        line, status = str(text).strip(), str(status)
        if not line:
            continue
        current = old[row]["statut"] if row < len(old) else None
        if status not in ACTIVITY_CHOICES and status != current:
            raise PageError(422, f"Le statut de l'activité « {line[:80]} » est inconnu.")
        if len(line) > 500:
            raise PageError(422, f"L'activité « {line[:80]}… » dépasse 500 caractères.")
        kept.append((line, status))
        rows.append(row)
    if len(kept) > MAX_ACTIVITIES:
        raise PageError(422, f"Un plan compte au plus {MAX_ACTIVITIES} activités.")
    status = str(form.get("statut_plan", "active"))
    if status not in PLAN_CHOICES and status != (stored or {}).get("status"):
        raise PageError(422, "Le statut du plan est inconnu.")
    return Posted(title, description, start, end, status, kept, rows)


def _activities(plan: Body | None) -> list[dict[str, str]]:
    """The plan's activities as the form and the follow-up page show them."""
    shown = []
    for activity in (plan or {}).get("activity", []):
        detail = activity.get("detail") or {}
        status = str(detail.get("status", "unknown"))
        text = detail.get("description") or (detail.get("code") or {}).get("text") or "Activité"
        shown.append(
            {"texte": str(text), "statut": status, "libelle": ACTIVITY_LABELS.get(status, status)}
        )
    return shown


def shown_plan(plan: Body) -> dict[str, Any]:
    """What the follow-up page and the form show of a stored plan."""
    period = plan.get("period") or {}
    days = [
        f"{label} {french_format.day(date.fromisoformat(str(period[key])[:10]))}"
        for key, label in (("start", "du"), ("end", "au"))
        if period.get(key)
    ]
    status = str(plan.get("status", "unknown"))
    return {
        "id": plan["id"],
        "titre": plan.get("title") or "Plan de soins",
        "description": plan.get("description") or "",
        "periode": " ".join(days),
        "statut": status,
        "libelle": PLAN_LABELS.get(status, status),
        "activites": _activities(plan),
    }


def body_of(patient_id: str, posted: Posted, stored: Body | None, author: str | None) -> Body:
    """The CarePlan to store: the stored one (its other elements kept) with the form's values,
    or a new active plan of the care team by ``author``."""
    plan: Body = (
        {key: value for key, value in stored.items() if key != "meta"}
        if stored
        else {
            "resourceType": "CarePlan",
            "intent": "plan",
            "subject": {"reference": f"Patient/{patient_id}"},
            "created": instant(datetime.now(UTC)),
        }
    )
    if stored is None and author:
        plan["author"] = {"reference": author}
    plan |= {"status": posted.status, "title": posted.title}
    plan.pop("description", None)
    plan.pop("period", None)
    if posted.description:
        plan["description"] = posted.description
    period = {k: d.isoformat() for k, d in (("start", posted.start), ("end", posted.end)) if d}
    if period:
        plan["period"] = period
    old = (stored or {}).get("activity", [])
    activities = []
    for row, (text, status) in zip(posted.rows, posted.activities, strict=True):
        activity = dict(old[row]) if row < len(old) else {}
        activity["detail"] = {**(activity.get("detail") or {}), "description": text}
        activity["detail"]["status"] = status
        activities.append(activity)
    plan.pop("activity", None)
    if activities:
        plan["activity"] = activities
    return plan


def _plan(repository: Repository, patient_id: str, plan_id: str) -> Body:
    """The patient's plan (the team policy checks the read); 404 for another patient's."""
    plan = records.get(repository, "CarePlan", plan_id)
    if records.reference_id(plan.get("subject"), "Patient") != patient_id:
        raise PageError(404, "Ce plan de soins n'existe pas pour ce patient.")
    return plan


def _form(
    request: Request,
    repository: Repository,
    patient_id: str,
    stored: Body | None,
    typed: FormData | None = None,
    error: tuple[int, str] | None = None,
) -> HTMLResponse:
    """The plan form, filled with ``typed`` (a refused form) or the stored plan; the team
    check and the audited read of the patient come before the patient's name is shown."""
    with records.refusals():
        repository.alert_rules(f"Patient/{patient_id}")  # the care team's check
    patient = records.get(repository, "Patient", patient_id)
    rows: list[dict[str, Any]]
    if typed is not None:
        values = {k: str(typed.get(k, "")) for k in ("titre", "description", "debut", "fin")}
        values["statut_plan"] = str(typed.get("statut_plan", "active"))
        rows = [
            {"texte": str(t), "statut": str(s)}
            for t, s in zip(typed.getlist("activite"), typed.getlist("statut"), strict=False)
        ]
    else:
        period = (stored or {}).get("period") or {}
        values = {
            "titre": (stored or {}).get("title", ""),
            "description": (stored or {}).get("description", ""),
            "debut": str(period.get("start", ""))[:10],
            "fin": str(period.get("end", ""))[:10],
            "statut_plan": (stored or {}).get("status", "active"),
        }
        rows = [{"texte": a["texte"], "statut": a["statut"]} for a in _activities(stored)]
    old = _activities(stored)
    rows += [{"texte": "", "statut": "not-started"} for _ in range(BLANK_ROWS)]
    for number, row in enumerate(rows):
        current = old[number]["statut"] if number < len(old) else None
        choices = [*ACTIVITY_CHOICES, *([current] if current not in ACTIVITY_CHOICES else [])]
        row["choix"] = [(s, ACTIVITY_LABELS.get(s, s)) for s in choices if s]
    plan_choices = [*PLAN_CHOICES]
    if stored and stored.get("status") not in PLAN_CHOICES:
        plan_choices.append(stored["status"])
    context = {
        "patient": {"id": patient_id, "nom": records.person_name(patient)},
        "plan": shown_plan(stored) if stored else None,
        "version": (stored or {}).get("meta", {}).get("versionId", ""),
        "valeurs": values,
        "lignes": rows,
        "statuts_plan": [(s, PLAN_LABELS.get(s, s)) for s in plan_choices],
        "erreur": error[1] if error else None,
        "modifie": bool(error and error[0] == 412),
    }
    return render(request, "soins/plan_de_soins.html", context, status=error[0] if error else 200)


@router.get("/patients/{patient_id}/plans/nouveau", response_class=HTMLResponse)
def new_plan(
    request: Request, patient_id: str, _principal: Follower, repository: PageRepo
) -> HTMLResponse:
    """The form of a new care plan (for members of the patient's care team)."""
    return _form(request, repository, patient_id, None)


@router.post("/patients/{patient_id}/plans", response_class=HTMLResponse)
def create_plan(
    request: Request,
    patient_id: str,
    principal: Follower,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Store a new CarePlan about the patient (the team policy decides, audited)."""
    try:
        plan = posted(form, None)
    except PageError as error:
        return _form(request, repository, patient_id, None, form, (error.status, error.message))
    teams = records.find(repository, "CareTeam", [("patient", f"Patient/{patient_id}")], 10)
    body = body_of(patient_id, plan, None, principal.practitioner)
    if teams:
        body["careTeam"] = [{"reference": f"CareTeam/{t['id']}"} for t in teams]
    with records.refusals(), records.writing(repository) as writer:
        writer.save(body)
    return RedirectResponse(f"/patients/{patient_id}#plans", status_code=303)


@router.get("/patients/{patient_id}/plans/{plan_id}", response_class=HTMLResponse)
def edit_plan(
    request: Request, patient_id: str, plan_id: str, _principal: Follower, repository: PageRepo
) -> HTMLResponse:
    """The plan's form, filled in, with the version it shows."""
    return _form(request, repository, patient_id, _plan(repository, patient_id, plan_id))


@router.post("/patients/{patient_id}/plans/{plan_id}", response_class=HTMLResponse)
def update_plan(
    request: Request,
    patient_id: str,
    plan_id: str,
    principal: Follower,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Store the plan's new version, unless a colleague changed it since the form was read
    (the form's version, as ``If-Match``): then the stored version is shown beside the form."""
    stored = _plan(repository, patient_id, plan_id)
    version = str(form.get("version", ""))
    try:
        if not version.isdigit():
            raise PageError(422, "Le formulaire est incomplet : rechargez la page.")
        plan = posted(form, stored)
    except PageError as error:
        return _form(request, repository, patient_id, stored, form, (error.status, error.message))
    body = body_of(patient_id, plan, stored, principal.practitioner)
    try:
        with records.writing(repository) as writer:
            writer.save(body, plan_id, if_match=int(version))
    except PreconditionFailed:
        return _form(request, repository, patient_id, stored, form, (412, CHANGED))
    except DomainError as error:
        raise records.page_error(error) from error
    return RedirectResponse(f"/patients/{patient_id}#plans", status_code=303)
