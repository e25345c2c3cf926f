"""The requester's side of télé-expertise: a GP or a site's nurse asks a specialist (or the
team of a specialty) about one of their patients, with documents, and follows the answer.

A request is a ServiceRequest (the question, its urgency, the specialty asked for, the
documents as ``supportingInfo``) and its Task (owned by the specialist or the team), written in
one transaction through the requester's repository: the compartment policy, the Task rules of
:mod:`maillage.care.teleexpertise` (due date, the team's recipients, the RQD act) and the audit
apply as they do to the API. Each file is a DocumentReference whose bytes
:mod:`maillage.care.attachments` keeps in the file store.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care.acts import SPECIALTY_SYSTEM
from maillage.care.codes import TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import DomainError, PreconditionFailed
from maillage.care.principal import Principal
from maillage.care.repository import Repository, instant
from maillage.care.task_state import TaskStatus
from maillage.web import identities, records
from maillage.web.navigation import DOCTORS, NURSES
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import specialties
from maillage.web.teleexpertise_files import FILE_TYPES, MAX_FILES, document, files
from maillage.web.teleexpertise_pages import (
    CODE,
    COMPLEMENT,
    COMPLEMENT_FILE,
    detail_page,
    summaries,
)

router = APIRouter(include_in_schema=False)
Requester = Annotated[Principal, Depends(allowed(NURSES | DOCTORS))]
GENERAL_MEDICINE = "SM54"
WORKFLOW = {"coding": [{"system": WORKFLOW_SYSTEM, "code": TELE_EXPERTISE}]}

Body = dict[str, Any]


UNLINKED = (
    "Votre compte n'est rattaché à aucun professionnel de santé : demandez à l'administrateur "
    "du réseau de le relier à votre fiche pour demander des télé-expertises."
)


def _requester(principal: Principal) -> str:
    """The requester's Practitioner reference: a request names a person, never only a site."""
    if principal.practitioner is None:
        raise PageError(403, UNLINKED)
    return principal.practitioner


@dataclass(frozen=True)
class Directory:
    """The doctors one may ask: an ordinal specialty other than general medicine, not oneself."""

    doctors: dict[str, str]
    """``Practitioner/id`` → « Dr Léa MOREAU — Dermatologie », by label."""
    first: dict[str, str]
    """``Practitioner/id`` → the code of their first specialty."""
    specialties: dict[str, str]
    """Specialty code → label, by label."""

    @classmethod
    def of(cls, repository: Repository, principal: Principal) -> Directory:
        doctors: dict[str, str] = {}
        first: dict[str, str] = {}
        found: dict[str, str] = {}
        for body in repository.practitioners():
            reference = f"Practitioner/{body['id']}"
            own = [(c, label) for c, label in specialties(body) if c != GENERAL_MEDICINE]
            if own and reference != principal.practitioner:
                labels = ", ".join(label for _, label in own)
                doctors[reference] = f"Dr {records.person_name(body)} — {labels}"
                first[reference] = own[0][0]
                found.update(own)
        return cls(_by_label(doctors), first, _by_label(found))

    def specialty(self, code: str, owner: str) -> Body | None:
        """The specialty coding asked for: the chosen one, else the named specialist's."""
        code = code or self.first.get(owner, "")
        if code not in self.specialties:
            return None
        return {"system": SPECIALTY_SYSTEM, "code": code, "display": self.specialties[code]}


def _by_label(labels: dict[str, str]) -> dict[str, str]:
    return dict(sorted(labels.items(), key=lambda item: item[1]))


def _form(
    request: Request,
    repository: Repository,
    typed: FormData | dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The request page: the patient (found by name among one's own), the specialist or the
    specialty, the question, the urgency and the files."""
    principal = repository.principal
    assert principal is not None
    _requester(principal)
    known = Directory.of(repository, principal)
    patient_id, name = str(typed.get("patient", "")), str(typed.get("nom", "")).strip()[:100]
    patient = None
    if patient_id:
        patient = identities.summary(records.get(repository, "Patient", patient_id))
    found = []
    if patient is None and name:
        query = identities.search_query(name, "", "")
        found = [identities.summary(b) for b in records.find(repository, "Patient", query, 20)]
    context = {
        "patient": patient,
        "nom": name,
        "trouves": found,
        "specialistes": known.doctors,
        "specialites": known.specialties,
        "saisi": {k: str(typed.get(k, "")) for k in ("specialiste", "specialite", "urgence")},
        "question": str(typed.get("question", ""))[:5000],
        "types": ", ".join(FILE_TYPES.values()),
        "max_fichiers": MAX_FILES,
        "taille_max": french_format.number(repository.settings.max_attachment_bytes / 2**20, 0),
        "erreur": error,
    }
    return render(request, "soins/teleexpertise_demande.html", context, status=status)


@router.get("/teleexpertises/nouvelle", response_class=HTMLResponse)
def request_form(request: Request, _principal: Requester, repository: PageRepo) -> HTMLResponse:
    """The request page; ``?patient=`` names the patient, ``?nom=`` searches one's patients."""
    return _form(request, repository, dict(request.query_params))


def _owner(repository: Repository, doctors: dict[str, str], specialist: str, code: str) -> str:
    """Who receives the request: the named specialist, else the team (a PractitionerRole) of
    the specialty asked for."""
    if specialist:
        if specialist not in doctors:
            raise PageError(422, "Ce spécialiste ne figure pas dans l'annuaire du réseau.")
        return specialist
    if not code:
        raise PageError(422, "Choisissez un spécialiste ou une spécialité.")
    query = [("specialty", f"{SPECIALTY_SYSTEM}|{code}"), ("active", "true")]
    teams = records.find(repository, "PractitionerRole", query, count=1)
    if not teams:
        raise PageError(
            422,
            "Aucune équipe de cette spécialité ne reçoit de demandes en commun : "
            "choisissez un spécialiste.",
        )
    return f"PractitionerRole/{teams[0]['id']}"


def question_bodies(
    requester: str, patient: str, owner: str, question: str, urgent: bool, specialty: Body | None
) -> tuple[Body, Body]:
    """The ServiceRequest and its Task (their links and documents are added when written)."""
    priority = "urgent" if urgent else "routine"
    asked: Body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": priority,
        "code": {**WORKFLOW, "text": "Avis spécialisé (télé-expertise)"},
        "subject": {"reference": patient},
        "requester": {"reference": requester},
        "performer": [{"reference": owner}],
        "reasonCode": [{"text": question}],
    }
    if specialty:
        asked["performerType"] = {"coding": [specialty]}
    task: Body = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": priority,
        "code": WORKFLOW,
        "for": {"reference": patient},
        "requester": {"reference": requester},
        "owner": {"reference": owner},
    }
    return asked, task


@router.post("/teleexpertises/nouvelle", response_class=HTMLResponse)
def ask(
    request: Request,
    principal: Requester,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Send the request; an incomplete form or a refused file shows the page again, as typed,
    with a French explanation."""
    requester = _requester(principal)
    try:
        patient_id = str(form.get("patient", ""))
        if not patient_id:
            raise PageError(422, "Choisissez d'abord le patient.")
        question = str(form.get("question", "")).strip()
        if not question:
            raise PageError(422, "Écrivez la question posée au spécialiste.")
        if len(question) > 5000:
            raise PageError(422, "La question dépasse 5 000 caractères.")
        known = Directory.of(repository, principal)
        code = str(form.get("specialite", ""))
        owner = _owner(repository, known.doctors, str(form.get("specialiste", "")), code)
        attached = files(repository, form)
    except PageError as error:
        return _form(request, repository, form, error.message, error.status)
    patient = f"Patient/{patient_id}"
    asked, task = question_bodies(
        requester,
        patient,
        owner,
        question,
        form.get("urgence") == "urgent",
        known.specialty(code, owner),
    )
    try:
        with records.writing(repository) as writer:
            documents = [writer.save(document(requester, patient, *f)) for f in attached]
            if documents:
                asked["supportingInfo"] = [
                    {"reference": f"DocumentReference/{d.id}"} for d in documents
                ]
            written = writer.save(asked)
            task["basedOn"] = [{"reference": f"ServiceRequest/{written.id}"}]
            task_id = writer.save(task).id
    except DomainError as error:
        refused = records.page_error(error)
        return _form(request, repository, form, refused.message, refused.status)
    return RedirectResponse(f"/teleexpertises/{task_id}", status_code=303)


@router.get("/teleexpertises/demandees", response_class=HTMLResponse)
def my_requests(
    request: Request,
    principal: Requester,
    repository: PageRepo,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """« Mes télé-expertises »: the requester's requests, newest first, with their status (an
    account linked to no professional is told why it has none)."""
    if principal.practitioner is None:
        return render(request, "soins/teleexpertises_demandees.html", {"erreur": UNLINKED})
    query = [
        ("requester", principal.practitioner),
        ("code", CODE),
        ("_sort", "-authored-on"),
        ("_offset", str((page - 1) * 50)),
    ]
    tasks = records.find(repository, "Task", query, count=50)
    return render(
        request,
        "soins/teleexpertises_demandees.html",
        {"demandes": summaries(repository, tasks), "page": page, "suite": len(tasks) == 50},
    )


CHANGED = (
    "La demande a changé entre-temps (le spécialiste l'a modifiée) : relisez-la ; votre "
    "complément, conservé ci-dessous, n'a pas été envoyé."
)


def complement(requester: str, patient: str, text: str) -> Body:
    """The requester's complement as a text DocumentReference about the patient."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Complément de télé-expertise"},
        "subject": {"reference": patient},
        "date": instant(datetime.now(UTC)),
        "author": [{"reference": requester}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(text.encode()).decode("ascii"),
                    "title": "Complément de télé-expertise",
                }
            }
        ],
    }


def _input(kind: str, ident: str) -> Body:
    return {"type": {"text": kind}, "valueReference": {"reference": f"DocumentReference/{ident}"}}


@router.post("/teleexpertises/{task_id}/complement", response_class=HTMLResponse)
def send_complement(
    request: Request,
    task_id: str,
    principal: Requester,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """The requester answers the specialist's question: the complement (text and files) is
    stored and the Task goes back to work (on hold → in progress, the state machine's one way
    back), as of the version the page showed; a refusal shows the page again with the text."""
    requester = _requester(principal)
    task = records.get(repository, "Task", task_id)
    if (task.get("requester") or {}).get("reference") != requester:
        raise PageError(403, "Seul le demandeur complète cette demande de télé-expertise.")
    text = str(form.get("complement", "")).strip()
    version = str(form.get("version", ""))
    try:
        if task["status"] != TaskStatus.ON_HOLD:
            raise PageError(409, "Le spécialiste n'attend pas de complément pour cette demande.")
        if not text or len(text) > 5000:
            raise PageError(422, "Écrivez le complément demandé (5 000 caractères au plus).")
        if not version.isdigit():
            raise PageError(422, "Le formulaire est incomplet : rechargez la page.")
        attached = files(repository, form)
    except PageError as error:
        return detail_page(request, repository, principal, task_id, error, text[:5000])
    patient = task["for"]["reference"]
    try:
        with records.writing(repository) as writer:
            sent = writer.save(complement(requester, patient, text)).id
            inputs = [_input(COMPLEMENT, sent)]
            for name, kind, content in attached:
                body = document(requester, patient, name, kind, content)
                body["relatesTo"] = [
                    {"code": "appends", "target": {"reference": f"DocumentReference/{sent}"}}
                ]
                inputs.append(_input(COMPLEMENT_FILE, writer.save(body).id))
            resumed = {
                key: value for key, value in task.items() if key not in ("meta", "statusReason")
            }
            resumed |= {
                "status": TaskStatus.IN_PROGRESS.value,
                "input": [*task.get("input", []), *inputs],
            }
            writer.save(resumed, task_id, if_match=int(version))
    except PreconditionFailed:
        changed = PageError(412, CHANGED)
        return detail_page(request, repository, principal, task_id, changed, text)
    except DomainError as error:
        raise records.page_error(error) from error
    return RedirectResponse(f"/teleexpertises/{task_id}", status_code=303)
