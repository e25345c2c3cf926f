"""The specialist's télé-expertise inbox: requests assigned to them or to their pool, and their
answers.

A pooled request (owned by a HealthcareService or a PractitionerRole, see
:mod:`maillage.care.teleexpertise`) shows in the inbox of every member of the pool until one of
them *takes* it: they become its owner and it is accepted, so it leaves the others' inboxes.
Each action writes the Task through the server's rules (FHIR Task state machine, dates, the
TE2 act on completion): *take*; *accept*; *ask for information* (started, then on hold with the
question as ``statusReason``); *answer* (started, then completed with the report, a
DocumentReference, as its output) — all the steps of one action in one transaction.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care import remote_rules
from maillage.care.codes import TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import DomainError, PreconditionFailed
from maillage.care.principal import Principal
from maillage.care.repository import Repository, instant
from maillage.care.task_state import TaskStatus
from maillage.care.teleexpertise import (
    OPEN,
    claim,
    in_pool,
    is_pooled,
)
from maillage.web import records
from maillage.web.navigation import DOCTORS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import french_moment

router = APIRouter(include_in_schema=False)
Specialist = Annotated[Principal, Depends(allowed(DOCTORS))]
STATUS_LABELS = {
    "requested": "Nouvelle",
    "received": "Reçue",
    "accepted": "Acceptée",
    "ready": "Prête",
    "in-progress": "En cours",
    "on-hold": "Complément demandé",
    "completed": "Répondue",
    "rejected": "Refusée",
    "cancelled": "Annulée",
    "failed": "Échouée",
}
CODE = f"{WORKFLOW_SYSTEM}|{TELE_EXPERTISE}"
TAKEN = "Cette demande a déjà été prise en charge."

Body = dict[str, Any]


def summary(repository: Repository, task: Body) -> dict[str, Any]:
    """What a row and the detail show: the patient, the question, its due date and status."""
    question: Body = {}
    request_id = next(
        (
            ident
            for item in task.get("basedOn", [])
            if (ident := records.reference_id(item, "ServiceRequest"))
        ),
        None,
    )
    if request_id:
        question = records.get(repository, "ServiceRequest", request_id)
    patient = _one(repository, "Patient", task.get("for"))
    requester = _one(repository, "Practitioner", task.get("requester"))
    owner = (task.get("owner") or {}).get("reference", "")
    pool = _one(repository, owner.partition("/")[0], task.get("owner")) if is_pooled(task) else None
    zone = repository.settings.zone
    due = ((task.get("restriction") or {}).get("period") or {}).get("end")
    return {
        "id": task["id"],
        "statut": task["status"],
        "libelle": STATUS_LABELS.get(task["status"], task["status"]),
        "patient": records.person_name(patient),
        "demandeur": f"Dr {records.person_name(requester)}" if requester else "—",
        "question": "; ".join(r.get("text", "") for r in question.get("reasonCode", [])),
        "notes": [n.get("text", "") for n in question.get("note", [])],
        "echeance": french_moment(due, zone),
        "demande_le": french_moment(task.get("authoredOn"), zone),
        "raison": (task.get("statusReason") or {}).get("text"),
        "reponse": answer_text(repository, task),
        "equipe": (pool.get("name") or owner) if pool else None,
    }


def _one(repository: Repository, resource_type: str, reference: Body | None) -> Body | None:
    """The resource a reference of ``resource_type`` names, as the principal may see it
    (None when it names none, or one they may not see)."""
    ident = records.reference_id(reference, resource_type)
    return records.by_ids(repository, resource_type, {ident}).get(ident) if ident else None


def answer_text(repository: Repository, task: Body) -> str | None:
    """The text of the report the Task's output names, once answered."""
    for output in task.get("output", []):
        document_id = records.reference_id(output.get("valueReference"), "DocumentReference")
        if document_id:
            document = records.get(repository, "DocumentReference", document_id)
            attachment = (document.get("content") or [{}])[0].get("attachment", {})
            return base64.b64decode(attachment.get("data", "")).decode("utf-8", "replace")
    return None


@router.get("/teleexpertises", response_class=HTMLResponse)
def inbox(request: Request, principal: Specialist, repository: PageRepo) -> HTMLResponse:
    """Open requests assigned to the specialist, those of their pools not yet taken (oldest
    first), then the recently answered."""
    with records.refusals():
        pools = repository.pools()
    owners = ("owner", ",".join([principal.practitioner or "", *pools]))
    opened = records.find(repository, "Task", [owners, ("code", CODE), ("status", ",".join(OPEN))])
    mine = ("owner", principal.practitioner or "")
    done = records.find(
        repository, "Task", [mine, ("code", CODE), ("status", "completed")], count=20
    )
    by_date = sorted(opened, key=lambda t: t.get("authoredOn", ""))
    context = {
        "ouvertes": [summary(repository, t) for t in by_date if not is_pooled(t)],
        "en_commun": [summary(repository, t) for t in by_date if in_pool(t, principal)],
        "repondues": [summary(repository, t) for t in done],
    }
    return render(request, "soins/teleexpertises.html", context)


def _task(repository: Repository, principal: Principal, task_id: str) -> Body:
    """The Task, once it is the specialist's own or still waiting in one of their pools."""
    task = records.get(repository, "Task", task_id)
    owner = (task.get("owner") or {}).get("reference")
    if owner != principal.practitioner and not in_pool(task, principal):
        raise PageError(403, "Cette demande de télé-expertise ne vous est pas adressée.")
    return task


@router.get("/teleexpertises/{task_id}", response_class=HTMLResponse)
def detail(
    request: Request, task_id: str, principal: Specialist, repository: PageRepo
) -> HTMLResponse:
    """One request with the actions its status allows."""
    task = _task(repository, principal, task_id)
    context = {"t": summary(repository, task), "signalement": te2_flag(repository, task)}
    return render(request, "soins/teleexpertise.html", context)


def te2_flag(repository: Repository, task: Body) -> str | None:
    """The flag when this télé-expertise is (or, answered now, would be) beyond the fourth
    TE2 of its calendar year for this patient and requested doctor: one audited search of
    the doctor's answered requests for the patient, kept to that year by their answer date
    (a flag, never a block)."""
    owner, patient = (task.get("owner") or {}).get("reference"), task.get("for") or {}
    if not owner or not patient.get("reference") or is_pooled(task):
        return None
    answered = ((task.get("executionPeriod") or {}).get("end") or "")[:10]
    day = answered or datetime.now(repository.settings.zone).date().isoformat()
    year = day[:4]
    query = [
        ("owner", owner),
        ("patient", patient["reference"]),
        ("code", CODE),
        ("status", "completed"),
    ]
    rows = [
        {"id": t["id"], "day": end[:10]}
        for t in records.everything(repository, "Task", query)
        if t["id"] != task["id"]
        and (end := (t.get("executionPeriod") or {}).get("end") or "").startswith(year)
    ]
    te2 = pd.DataFrame([*rows, {"id": task["id"], "day": day}]).assign(
        patient=patient["reference"], doctor=owner
    )
    if not bool(remote_rules.te2_over_limit(te2).iloc[-1]):
        return None
    return (
        f"au-delà de la {remote_rules.TE2_PER_YEAR}e TE2 de l'année {year} pour ce patient "
        "et ce médecin requis"
    )


def _moves(status: str, action: str) -> list[TaskStatus]:
    """The statuses to go through for ``action`` from ``status`` (the server checks each);
    taking a pooled request is the one update :func:`claim` describes."""
    if action == "prendre":
        return []
    start = [] if status in ("in-progress",) else [TaskStatus.IN_PROGRESS]
    if status in ("requested", "received"):
        start = [TaskStatus.ACCEPTED, *start]
    if action == "accepter":
        return [TaskStatus.ACCEPTED]
    if action == "completer":
        return [*start, TaskStatus.ON_HOLD]
    return [*start, TaskStatus.COMPLETED]


def report(principal: Principal, task: Body, text: str) -> Body:
    """The specialist's answer as a DocumentReference about the patient."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": {"text": "Réponse de télé-expertise"},
        "subject": task["for"],
        "date": instant(datetime.now(UTC)),
        "author": [{"reference": principal.practitioner}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": "Réponse de télé-expertise",
                }
            }
        ],
    }


@router.post("/teleexpertises/{task_id}", response_class=HTMLResponse)
def act(
    request: Request,
    task_id: str,
    principal: Specialist,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Take a pooled request, accept, ask for information or answer; a refused step (or a
    request taken meanwhile by a colleague) shows a French error page."""
    action, text = str(form.get("action", "")), str(form.get("texte", "")).strip()[:5000]
    if action not in ("prendre", "accepter", "completer", "repondre"):
        raise PageError(422, "Action inconnue.")
    if action in ("completer", "repondre") and not text:
        raise PageError(422, "Écrivez votre question ou votre réponse avant de l'envoyer.")
    task = _task(repository, principal, task_id)
    if (action == "prendre") != is_pooled(task):
        message = "Prenez d'abord cette demande en charge." if is_pooled(task) else TAKEN
        raise PageError(409, message)
    if action == "accepter" and task["status"] not in ("requested", "received"):
        raise PageError(409, "Cette demande a déjà été acceptée.")
    try:
        with records.writing(repository) as writer:
            if action == "prendre":
                writer.update(task, claim(task, principal))
            elif action == "repondre":
                answer = writer.save(report(principal, task, text))
                output = {"reference": f"DocumentReference/{answer.id}"}
                task["output"] = [{"type": {"text": "compte rendu"}, "valueReference": output}]
            for status in _moves(task["status"], action):
                changes: Body = {"status": status.value}
                if status is TaskStatus.ON_HOLD:
                    changes["statusReason"] = {"text": text}
                task = writer.update(task, changes).body
    except DomainError as error:
        taken = action == "prendre" and isinstance(error, PreconditionFailed)
        raise records.page_error(error, TAKEN if taken else None) from error
    return RedirectResponse(f"/teleexpertises/{task_id}", status_code=303)
