"""« Mon espace »: what a patient sees of their own record, and their RGPD rights.

Their appointments (with the video link from shortly before the start), the comptes rendus,
their measurements and alerts; cancelling their own future appointment (the network's rule:
nothing else changed); who accessed their record (from the audit trail); and their record
exported as FHIR JSON or PDF (right of access and portability, RGPD art. 15 and 20). Every
read goes through the patient's own repository, so the compartment policy decides what is
theirs.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import weasyprint
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import ingestion
from maillage.care.policy import PATIENT_TYPES
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.web import records
from maillage.web.audit_pages import entry
from maillage.web.navigation import PATIENTS
from maillage.web.records import PageRepo, french_moment
from maillage.web.rendering import PageError, allowed, render, templates
from maillage.web.session import checked_form
from maillage.web.teleconsultation import participants, video_link

router = APIRouter(include_in_schema=False)
Patient = Annotated[Principal, Depends(allowed(PATIENTS))]
Body = dict[str, Any]
#: The video link shows from this long before the start (the waiting room) to the end.
LINK_OPENS = timedelta(minutes=15)
STATUS_LABELS = {
    "booked": "Confirmé",
    "proposed": "Proposé",
    "pending": "En attente",
    "arrived": "En cours",
    "fulfilled": "Réalisé",
    "cancelled": "Annulé",
    "noshow": "Absence",
}
CANCELLED_BY_PATIENT = "Annulé par le patient depuis son espace"


def _own_patient(principal: Principal) -> str:
    if not principal.patient:
        raise PageError(403, "Votre compte n'est lié à aucun dossier patient.")
    return principal.patient


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def appointment_line(repository: Repository, body: Body, now: datetime) -> dict[str, Any]:
    """One appointment as the patient sees it: when, with whom, and what they may do."""
    start, end = _instant(body.get("start")), _instant(body.get("end"))
    status = body.get("status", "")
    opens = closes = None
    if status == "booked" and start is not None and end is not None:
        opens, closes = start - LINK_OPENS, end
    return {
        "id": body["id"],
        "debut": french_moment(body.get("start"), repository.settings.zone),
        "statut": STATUS_LABELS.get(status, status),
        "avec": ", ".join(
            p["nom"] for p in participants(repository, body) if p["type"] != "Patient"
        ),
        "video": video_link(repository, body)
        if opens and closes and opens <= now <= closes
        else None,
        "video_plus_tard": opens is not None and now < opens,
        "annulable": status in ("booked", "proposed", "pending")
        and start is not None
        and now < start,
    }


def measurement_line(body: Body, repository: Repository) -> dict[str, str]:
    """A measurement: what, how much, when."""
    quantity = body.get("valueQuantity") or {}
    value = quantity.get("value")
    when = body.get("effectiveDateTime")
    return {
        "quoi": (body.get("code") or {}).get("text")
        or next((c.get("display", "") for c in (body.get("code") or {}).get("coding", [])), ""),
        "valeur": f"{french_format.fixed(value, 1)} {quantity.get('unit', '')}"
        if value is not None
        else "—",
        "quand": french_moment(when, repository.settings.zone) if when else "—",
    }


def document_line(body: Body, repository: Repository) -> dict[str, str]:
    """A compte rendu: its date and title, to open as a file."""
    attachment = (body.get("content") or [{}])[0].get("attachment", {})
    return {
        "id": body["id"],
        "titre": attachment.get("title") or body.get("description") or "Compte rendu",
        "date": french_moment(body.get("date"), repository.settings.zone),
    }


def _space(repository: Repository, principal: Principal) -> dict[str, Any]:
    patient = _own_patient(principal)
    now = datetime.now(UTC)
    mine = [("patient", patient)]
    appointments = records.find(repository, "Appointment", [*mine, ("_sort", "-date")], 100)
    observations = records.find(repository, "Observation", [*mine, ("_sort", "-date")], 50)
    documents = records.find(repository, "DocumentReference", mine, 50)
    flags = records.find(repository, "Flag", [*mine, ("status", "active")], 50)
    accesses = repository.accesses_to_own_record(50)
    ident = patient.partition("/")[2]
    own = records.by_ids(repository, "Patient", {ident})
    lines = [appointment_line(repository, a, now) for a in appointments]
    return {
        "identite": records.person_name(own.get(ident)) if ident in own else principal.email,
        "a_venir": [line for line in lines if line["annulable"] or line["video"]],
        "passes": [line for line in lines if not (line["annulable"] or line["video"])],
        "documents": [document_line(d, repository) for d in documents],
        "mesures": [
            measurement_line(o, repository) for o in observations if ingestion.is_measurement(o)
        ],
        "alertes": [(f.get("code") or {}).get("text") or "Alerte" for f in flags],
        "acces": [entry(row.body, repository.settings.zone) for row in accesses.rows],
        "acces_total": accesses.total,
    }


@router.get("/mon-espace", response_class=HTMLResponse)
def my_space(request: Request, principal: Patient, repository: PageRepo) -> HTMLResponse:
    """The patient's own page."""
    return render(request, "patient/espace.html", _space(repository, principal))


@router.post("/mon-espace/rendez-vous/{appointment_id}/annulation")
def cancel(
    appointment_id: str,
    principal: Patient,
    repository: PageRepo,
    _form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Cancel one's own future appointment: the status and reason change, nothing else (the
    network frees the slots and sends the cancellation)."""
    _own_patient(principal)
    body = records.get(repository, "Appointment", appointment_id)
    start = _instant(body.get("start"))
    if (
        start is None
        or start <= datetime.now(UTC)
        or body.get("status") in ("cancelled", "fulfilled")
    ):
        raise PageError(409, "Ce rendez-vous ne peut plus être annulé.")
    changes = {"status": "cancelled", "cancelationReason": {"text": CANCELLED_BY_PATIENT}}
    with records.refusals(), records.writing(repository) as writer:
        writer.update(body, changes)
    return RedirectResponse("/mon-espace", status_code=303)


@router.get("/mon-espace/documents/{document_id}")
def document(document_id: str, principal: Patient, repository: PageRepo) -> Response:
    """One compte rendu's file, as the network stored it."""
    _own_patient(principal)
    body = records.get(repository, "DocumentReference", document_id)
    attachment = (body.get("content") or [{}])[0].get("attachment", {})
    if "data" not in attachment:
        raise PageError(404, "Ce document n'a pas de contenu.")
    media = str(attachment.get("contentType") or "application/octet-stream")
    return Response(
        base64.b64decode(attachment["data"]),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="document-{document_id}"'},
    )


def record_bundle(repository: Repository) -> Body:
    """Everything of the patient's compartment, as a FHIR ``collection`` Bundle."""
    entries = [
        {"fullUrl": f"{kind}/{body['id']}", "resource": body}
        for kind in PATIENT_TYPES
        for body in records.everything(repository, kind, [])
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "total": len(entries),
        "entry": entries,
    }


@router.get("/mon-espace/export.json")
def export_json(principal: Patient, repository: PageRepo) -> Response:
    """The patient's record as FHIR JSON (portability)."""
    _own_patient(principal)
    content = json.dumps(record_bundle(repository), ensure_ascii=False, indent=1)
    return Response(
        content.encode(),
        media_type="application/fhir+json",
        headers={"Content-Disposition": 'attachment; filename="mon-dossier.json"'},
    )


@router.get("/mon-espace/export.pdf")
def export_pdf(principal: Patient, repository: PageRepo) -> Response:
    """The patient's record as a readable PDF (right of access)."""
    context = _space(repository, principal) | {
        "edite_le": french_format.day_and_time(
            datetime.now(UTC).astimezone(repository.settings.zone)
        )
    }
    page = templates.get_template("patient/dossier_pdf.html").render(context)
    return Response(
        weasyprint.HTML(string=page).write_pdf(),
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="mon-dossier.pdf"'},
    )
