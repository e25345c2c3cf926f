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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from maillage import french_format
from maillage.care.acts import SPECIALTY_SYSTEM
from maillage.care.codes import TELE_EXPERTISE, WORKFLOW_SYSTEM
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.web import identities, records
from maillage.web.navigation import DOCTORS, NURSES
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import specialties
from maillage.web.teleexpertise_pages import CODE, summaries

router = APIRouter(include_in_schema=False)
Requester = Annotated[Principal, Depends(allowed(NURSES | DOCTORS))]
#: What a requester may attach: a letter or result (PDF) and photographs.
FILE_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
MAX_FILES = 5
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


def _files(repository: Repository, form: FormData) -> list[tuple[str, str, bytes]]:
    """The attached files (name, media type, bytes); a French error names the refused one."""
    uploads = [f for f in form.getlist("pieces") if isinstance(f, UploadFile) and f.filename]
    if len(uploads) > MAX_FILES:
        raise PageError(422, f"Joignez au plus {MAX_FILES} fichiers.")
    limit = repository.settings.max_attachment_bytes
    files = []
    for upload in uploads:
        name = upload.filename or ""
        kind = (upload.content_type or "").split(";")[0].strip()
        if kind not in FILE_TYPES or kind not in repository.settings.attachment_types:
            raise PageError(
                415, f"« {name} » n'est ni un PDF ni une image JPEG ou PNG : joignez ces formats."
            )
        content = upload.file.read(limit + 1)
        if len(content) > limit:
            size = french_format.number(limit / 2**20, 0)
            raise PageError(413, f"« {name} » dépasse la taille maximale de {size} Mo.")
        if not content:
            raise PageError(422, f"« {name} » est vide.")
        files.append((name, kind, content))
    return files


def document(requester: str, patient: str, name: str, kind: str, content: bytes) -> Body:
    """One attached file as a DocumentReference about the patient, by the requester."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"text": "Pièce jointe de télé-expertise"},
        "subject": {"reference": patient},
        "author": [{"reference": requester}],
        "description": name,
        "content": [
            {
                "attachment": {
                    "contentType": kind,
                    "data": base64.b64encode(content).decode("ascii"),
                    "title": name,
                }
            }
        ],
    }


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
        files = _files(repository, form)
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
            documents = [writer.save(document(requester, patient, *f)) for f in files]
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
