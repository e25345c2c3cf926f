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
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import remote_rules
from maillage.care.codes import TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import DomainError, PreconditionFailed
from maillage.care.principal import Principal
from maillage.care.repository import Repository, instant
from maillage.care.task_state import TaskStatus
from maillage.care.teleexpertise import OPEN, POOLS, URGENT, claim, in_pool, is_pooled
from maillage.web import records
from maillage.web.navigation import DOCTORS, NURSES
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import french_moment, specialties
from maillage.web.teleexpertise_files import FILE_TYPES, MAX_FILES

router = APIRouter(include_in_schema=False)
Specialist = Annotated[Principal, Depends(allowed(DOCTORS))]
#: Who reads a request: its specialist, and its requester (a GP or a site's nurse).
Carer = Annotated[Principal, Depends(allowed(DOCTORS | NURSES))]
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


def request_id(task: Body) -> str | None:
    """The ServiceRequest a Task carries out (``basedOn``, or ``focus`` in older records)."""
    return next(
        (
            ident
            for item in [*task.get("basedOn", []), task.get("focus")]
            if (ident := records.reference_id(item, "ServiceRequest"))
        ),
        None,
    )


def summaries(repository: Repository, tasks: list[Body]) -> list[dict[str, Any]]:
    """What rows and the detail show of each Task: the patient, the question, who asked and
    who answers (by name), the due date, whether it is overdue, the status; one search per
    type referenced, whatever the number of Tasks."""
    asked = records.by_ids(repository, "ServiceRequest", {i for t in tasks if (i := request_id(t))})
    patients = _referenced(repository, "Patient", [t.get("for") for t in tasks])
    people = [ref for t in tasks for ref in (t.get("requester"), t.get("owner"))]
    named = {kind: _referenced(repository, kind, people) for kind in ("Practitioner", *POOLS)}
    zone, now = repository.settings.zone, datetime.now(UTC)
    rows = []
    for task in tasks:
        question = asked.get(request_id(task) or "", {})
        due = ((task.get("restriction") or {}).get("period") or {}).get("end")
        owner = _name(named, task.get("owner"))
        rows.append(
            {
                "id": task["id"],
                "statut": task["status"],
                "libelle": STATUS_LABELS.get(task["status"], task["status"]),
                "patient": records.person_name(patients.get(_ident(task.get("for")))),
                "demandeur": _name(named, task.get("requester")) or "—",
                "destinataire": owner or "—",
                "question": "; ".join(r.get("text", "") for r in question.get("reasonCode", [])),
                "notes": [n.get("text", "") for n in question.get("note", [])],
                "urgente": question.get("priority", task.get("priority")) in URGENT,
                "pieces": [
                    ident
                    for item in question.get("supportingInfo", [])
                    if (ident := records.reference_id(item, "DocumentReference"))
                ],
                "echeance": french_moment(due, zone),
                "en_retard": task["status"] in OPEN
                and bool(due)
                and records.local(str(due), zone) < now,
                "demande_le": french_moment(task.get("authoredOn"), zone),
                "a_completer": task["status"] == TaskStatus.ON_HOLD,
                "complement_recu": task["status"] == TaskStatus.IN_PROGRESS
                and bool(complement_ids(task)),
                "equipe": owner if is_pooled(task) else None,
                "requester": (task.get("requester") or {}).get("reference"),
            }
        )
    return rows


def _ident(reference: Body | None) -> str:
    return (reference or {}).get("reference", "").partition("/")[2]


def _referenced(repository: Repository, kind: str, references: list[Body | None]) -> dict:
    """The resources of ``kind`` these references name, by id (one search)."""
    return records.by_ids(
        repository, kind, {i for r in references if (i := records.reference_id(r, kind))}
    )


def _name(named: dict[str, dict[str, Body]], reference: Body | None) -> str | None:
    """A person as « Dr Léa MOREAU » (a doctor), « Sophie GILLET, Infirmier » (another
    professional), or a team by its name."""
    kind, _, ident = (reference or {}).get("reference", "").partition("/")
    body = named.get(kind, {}).get(ident)
    if body is None:
        return None
    if kind != "Practitioner":
        return str(body.get("name") or "équipe")
    if specialties(body) or any(
        str((q.get("code") or {}).get("text", "")).startswith("Médecin")
        for q in body.get("qualification") or []
    ):
        return f"Dr {records.person_name(body)}"
    titles = [
        str((q.get("code") or {}).get("text"))
        for q in body.get("qualification") or []
        if (q.get("code") or {}).get("text")
    ]
    return ", ".join([records.person_name(body), *titles[:1]])


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
    """Open requests assigned to the specialist and those of their pools not yet taken, the
    soonest due first (overdue ones flagged), then the recently answered."""
    with records.refusals():
        pools = repository.pools()
    owners = ("owner", ",".join([principal.practitioner or "", *pools]))
    opened = records.find(repository, "Task", [owners, ("code", CODE), ("status", ",".join(OPEN))])
    mine = ("owner", principal.practitioner or "")
    done = records.find(
        repository, "Task", [mine, ("code", CODE), ("status", "completed")], count=20
    )
    never = "9999"
    by_due = sorted(
        opened, key=lambda t: (t.get("restriction") or {}).get("period", {}).get("end") or never
    )
    shown = [t for t in by_due if not is_pooled(t) or in_pool(t, principal)]
    rows = summaries(repository, [*shown, *done])
    context = {
        "ouvertes": [r for r in rows[: len(shown)] if not r["equipe"]],
        "en_commun": [r for r in rows[: len(shown)] if r["equipe"]],
        "repondues": rows[len(shown) :],
    }
    return render(request, "soins/teleexpertises.html", context)


def _task(repository: Repository, principal: Principal, task_id: str, *, reading: bool) -> Body:
    """The Task, once it is the specialist's own or still waiting in one of their pools (or,
    ``reading``, one the principal asked for)."""
    task = records.get(repository, "Task", task_id)
    owner = (task.get("owner") or {}).get("reference")
    asker = reading and (task.get("requester") or {}).get("reference") == principal.practitioner
    if owner != principal.practitioner and not in_pool(task, principal) and not asker:
        raise PageError(403, "Cette demande de télé-expertise ne vous est pas adressée.")
    return task


COMPLEMENT = "complément"
"""The Task.input type of a requester's complement (a text DocumentReference)."""
COMPLEMENT_FILE = "pièce jointe du complément"
"""The Task.input type of a file sent with a complement (it ``appends`` the complement)."""


def complement_ids(task: Body, kinds: tuple[str, ...] = (COMPLEMENT, COMPLEMENT_FILE)) -> list[str]:
    """The DocumentReferences the requester sent as complements (and their files)."""
    return [
        ident
        for item in task.get("input", [])
        if (item.get("type") or {}).get("text") in kinds
        and (ident := records.reference_id(item.get("valueReference"), "DocumentReference"))
    ]


def exchanges(repository: Repository, task: Body) -> list[dict[str, Any]]:
    """The specialist's questions and the requester's complements, oldest first: each question
    from the Task version that put it on hold (its history, one audited read), each complement
    with its files (one audited search)."""
    zone = repository.settings.zone
    shown: list[dict[str, Any]] = []
    with records.refusals():
        versions = repository.history("Task", task["id"])
    people = _referenced(repository, "Practitioner", [v.body.get("owner") for v in versions])
    before: tuple[str, Any] = ("", None)
    for version in versions:
        body = version.body
        state = (body["status"], body.get("statusReason"))
        reason = (body.get("statusReason") or {}).get("text")
        if state[0] == TaskStatus.ON_HOLD and reason and state != before:
            at = instant(version.last_updated)
            who = _name({"Practitioner": people}, body.get("owner")) or "Le spécialiste"
            shown.append({"le": at, "de": who, "texte": reason, "genre": "question", "pieces": []})
        before = state
    documents = records.by_ids(repository, "DocumentReference", set(complement_ids(task)))
    authors = _referenced(
        repository, "Practitioner", [(d.get("author") or [None])[0] for d in documents.values()]
    )
    for ident in complement_ids(task, (COMPLEMENT,)):
        document = documents.get(ident)
        if document is None:
            continue
        files = [
            _piece(d)
            for d in documents.values()
            if any(
                r.get("code") == "appends"
                and records.reference_id(r.get("target"), "DocumentReference") == ident
                for r in d.get("relatesTo", [])
            )
        ]
        content = (document.get("content") or [{}])[0].get("attachment", {})
        author = _name({"Practitioner": authors}, (document.get("author") or [None])[0])
        shown.append(
            {
                "le": str(document.get("date") or document["meta"]["lastUpdated"]),
                "de": author or "Le demandeur",
                "texte": base64.b64decode(content.get("data", "")).decode("utf-8", "replace"),
                "genre": "complement",
                "pieces": files,
            }
        )
    shown.sort(key=lambda e: records.local(e["le"], zone))
    return [{**e, "le": french_moment(e["le"], zone)} for e in shown]


@router.get("/teleexpertises/{task_id}", response_class=HTMLResponse)
def detail(request: Request, task_id: str, principal: Carer, repository: PageRepo) -> HTMLResponse:
    """One request: for its specialist with the actions its status allows, for its requester
    with the answer once given, or the complement form while the specialist waits for one."""
    return detail_page(request, repository, principal, task_id)


def detail_page(
    request: Request,
    repository: Repository,
    principal: Principal,
    task_id: str,
    error: PageError | None = None,
    typed: str = "",
) -> HTMLResponse:
    """The request's page; ``error`` and ``typed``: a refused complement, shown again."""
    task = _task(repository, principal, task_id, reading=True)
    row = summaries(repository, [task])[0]
    documents = (
        records.everything(repository, "DocumentReference", [("_id", ",".join(row["pieces"]))])
        if row["pieces"]
        else []
    )
    context = {
        "t": row,
        "version": task["meta"]["versionId"],
        "reponse": answer_text(repository, task),
        "pieces": [_piece(d) for d in documents],
        "echanges": exchanges(repository, task),
        "demandeur_vue": row["requester"] == principal.practitioner
        and (task.get("owner") or {}).get("reference") != principal.practitioner,
        "signalement": te2_flag(repository, task),
        "erreur": error.message if error else None,
        "saisi": typed,
        "types": ", ".join(FILE_TYPES.values()),
        "max_fichiers": MAX_FILES,
        "taille_max": french_format.number(repository.settings.max_attachment_bytes / 2**20, 0),
    }
    status = error.status if error else 200
    return render(request, "soins/teleexpertise.html", context, status=status)


def _piece(document: Body) -> dict[str, str]:
    """A file's link text: its name and kind."""
    content = (document.get("content") or [{}])[0].get("attachment", {})
    return {
        "id": document["id"],
        "titre": str(content.get("title") or document.get("description") or "pièce jointe"),
        "type": str(content.get("contentType", "")),
    }


@router.get("/teleexpertises/{task_id}/pieces/{document_id}")
def attachment(task_id: str, document_id: str, principal: Carer, repository: PageRepo) -> Response:
    """A file attached to the request, for its specialist and its requester."""
    task = _task(repository, principal, task_id, reading=True)
    if document_id not in [*summaries(repository, [task])[0]["pieces"], *complement_ids(task)]:
        raise PageError(404, "Cette pièce jointe n'appartient pas à la demande.")
    body = records.get(repository, "DocumentReference", document_id)
    content = (body.get("content") or [{}])[0].get("attachment", {})
    name = quote(str(content.get("title") or "piece-jointe"))
    return Response(
        base64.b64decode(content.get("data", "")),
        media_type=content.get("contentType", "application/octet-stream"),
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


def te2_flag(repository: Repository, task: Body) -> str | None:
    """The flag when this télé-expertise is (or, answered now, would be) beyond the fourth
    TE2 of its calendar year for this patient and requested doctor: one audited search of
    the doctor's answered requests for the patient, kept to that year by their answer date
    (a flag, never a block)."""
    owner, patient = (task.get("owner") or {}).get("reference"), task.get("for") or {}
    if not owner or not patient.get("reference") or is_pooled(task):
        return None
    answered = ((task.get("executionPeriod") or {}).get("end") or "")[:10]
    day = answered or repository.settings.today().isoformat()
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
    task = _task(repository, principal, task_id, reading=False)
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
