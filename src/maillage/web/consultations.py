"""The remote doctor's day: their teleconsultations, and the compte rendu of each.

Writing the compte rendu stores, in one transaction, the teleconsultation Encounter (class
``VR``, finished, with the act code the doctor bills) and the DocumentReference naming it; the
server's own rules then queue the report in the outbox for the patient's médecin traitant,
exactly as when the API receives them.
"""

from __future__ import annotations

import base64
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.api.auth import Principal
from maillage.api.encounters import ACT_URL, NGAP_SYSTEM, VIRTUAL
from maillage.api.errors import FHIRError
from maillage.care import acts
from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import utcnow
from maillage.web import records
from maillage.web.navigation import DOCTORS
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import french_moment, local, video_link

router = APIRouter(include_in_schema=False)
Doctor = Annotated[Principal, Depends(allowed(DOCTORS))]
#: The acts a remote doctor bills for a teleconsultation.
DOCTOR_ACTS = ("TCG", "TC")


def _names(request: Request, body: dict[str, Any]) -> dict[str, str]:
    """Patient and site names of an appointment (already read under the policy)."""
    shown = {"patient": "—", "site": "à domicile"}
    with transaction(request.app.state.sessions) as session:
        for participant in body.get("participant", []):
            kind, _, ident = (participant.get("actor") or {}).get("reference", "").partition("/")
            row = resources.get(session, kind, ident) if kind in ("Patient", "Location") else None
            if row is not None and kind == "Patient":
                shown["patient"] = records.person_name(row.body)
            elif row is not None:
                shown["site"] = row.body.get("name") or ident
    return shown


@router.get("/consultations", response_class=HTMLResponse)
def day(
    request: Request,
    principal: Doctor,
    jour: Annotated[date | None, Query()] = None,
) -> HTMLResponse:
    """The doctor's appointments of one day (today by default), in time order."""
    chosen = jour or utcnow().astimezone(request.app.state.settings.zone).date()
    query = [("practitioner", principal.practitioner or ""), ("date", chosen.isoformat())]
    found = records.find(request, principal, "Appointment", query)
    zone = request.app.state.settings.zone
    rows = [
        {
            "id": body["id"],
            "heure": local(body["start"], zone).strftime("%H:%M") if body.get("start") else "",
            "statut": body.get("status", ""),
            "motif": body.get("description", ""),
            **_names(request, body),
        }
        for body in sorted(found, key=lambda b: b.get("start", ""))
    ]
    return render(request, "soins/journee.html", {"jour": chosen, "rdvs": rows})


def _encounter_of(request: Request, principal: Principal, appointment_id: str) -> dict | None:
    found = records.find(
        request, principal, "Encounter", [("appointment", f"Appointment/{appointment_id}")]
    )
    return found[0] if found else None


@router.get("/consultations/{appointment_id}", response_class=HTMLResponse)
def consultation(request: Request, appointment_id: str, principal: Doctor) -> HTMLResponse:
    """One teleconsultation: the video room, and the compte rendu form (or the one written)."""
    body = records.get(request, principal, "Appointment", appointment_id)
    encounter = _encounter_of(request, principal, appointment_id)
    reports = []
    if encounter is not None:
        query = [("encounter", f"Encounter/{encounter['id']}")]
        for document in records.find(request, principal, "DocumentReference", query):
            attachment = (document.get("content") or [{}])[0].get("attachment", {})
            text = base64.b64decode(attachment.get("data", "")).decode("utf-8", "replace")
            reports.append(
                {
                    "date": french_moment(document.get("date"), request.app.state.settings.zone),
                    "texte": text,
                }
            )
    context = {
        "rdv": body,
        "debut": french_moment(body.get("start"), request.app.state.settings.zone),
        "video": video_link(request, principal, appointment_id),
        "termine": encounter is not None and encounter.get("status") == "finished",
        "comptes_rendus": reports,
        "actes": [(code, acts.act(code).label) for code in DOCTOR_ACTS],
        **_names(request, body),
    }
    return render(request, "soins/consultation.html", context)


def report_bodies(
    principal: Principal, appointment: dict[str, Any], act: str, text: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The finished VR Encounter and its compte rendu (text/plain, final) for the outbox."""
    patient = next(
        p["actor"]["reference"]
        for p in appointment.get("participant", [])
        if (p.get("actor") or {}).get("reference", "").startswith("Patient/")
    )
    place = [
        {"location": {"reference": p["actor"]["reference"]}}
        for p in appointment.get("participant", [])
        if (p.get("actor") or {}).get("reference", "").startswith("Location/")
    ]
    coding = {"system": NGAP_SYSTEM, "code": act, "display": acts.act(act).label}
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": VIRTUAL},
        "subject": {"reference": patient},
        "appointment": [{"reference": f"Appointment/{appointment['id']}"}],
        "participant": [{"individual": {"reference": principal.practitioner}}],
        "period": {"start": appointment["start"], "end": appointment["end"]},
        "extension": [{"url": ACT_URL, "valueCoding": coding}],
        **({"location": place} if place else {}),
    }
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": {"text": "Compte rendu de téléconsultation"},
        "subject": {"reference": patient},
        "date": resources.instant(utcnow()),
        "author": [{"reference": principal.practitioner}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode()).decode(),
                    "title": "Compte rendu de téléconsultation",
                }
            }
        ],
    }
    return encounter, document


@router.post("/consultations/{appointment_id}/compte-rendu", response_class=HTMLResponse)
def write_report(
    request: Request,
    appointment_id: str,
    principal: Doctor,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Finish the teleconsultation and send its compte rendu to the médecin traitant."""
    text, act = str(form.get("compte_rendu", "")).strip(), str(form.get("acte", ""))
    if not text or act not in DOCTOR_ACTS:
        raise PageError(422, "Écrivez le compte rendu et choisissez l'acte réalisé.")
    body = records.get(request, principal, "Appointment", appointment_id)
    if _encounter_of(request, principal, appointment_id) is not None:
        raise PageError(409, "Le compte rendu de cette consultation est déjà écrit.")
    encounter, document = report_bodies(principal, body, act, text)
    try:
        with records.writing(request, principal) as writer:
            stored = writer.save(encounter)
            document["context"] = {"encounter": [{"reference": f"Encounter/{stored.id}"}]}
            writer.save(document)
    except FHIRError as error:
        raise PageError(error.status, records.french(error)) from error
    return RedirectResponse(f"/consultations/{appointment_id}", status_code=303)
