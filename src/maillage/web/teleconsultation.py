"""Assisted teleconsultation at a site: the nurse finds a slot and books it for a patient.

A bookable time is a free slot of a remote doctor's schedule matched by a free slot, at the same
time, of a schedule of the nurse's own site (its room or equipment). Booking posts the same
Appointment as ``POST /fhir/Appointment``: both slots are taken in one transaction or neither,
and a slot taken meanwhile comes back as a French message instead of a 409 outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.api.errors import status_of
from maillage.care import appointments, codes, video
from maillage.care.errors import Conflict, DomainError
from maillage.care.principal import Principal
from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import utcnow
from maillage.store.users import Role
from maillage.web import records
from maillage.web.navigation import CARE_TEAMS, NURSES
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Nurse = Annotated[Principal, Depends(allowed(NURSES))]
#: Who may open a booked teleconsultation (the policy then checks the patient).
Carer = Annotated[Principal, Depends(allowed(CARE_TEAMS))]
TELECONSULTATION = {"coding": [{"system": codes.WORKFLOW_SYSTEM, "code": codes.TELECONSULTATION}]}
CONFLICT = "Ce créneau vient d'être réservé ou n'est plus libre : choisissez-en un autre."
#: How far ahead the booking form looks for common free times.
HORIZON = timedelta(days=14)
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = tuple(
    [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ]
)


def french_moment(text: str | None, zone: ZoneInfo) -> str:
    """« lundi 2 mars 2026 à 09:00 » from an ISO instant, in the network's time zone."""
    if not text:
        return "—"
    moment = local(text, zone)
    day = f"{DAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    return f"{day} à {moment:%H:%M}"


def local(text: str, zone: ZoneInfo) -> datetime:
    """An ISO instant in the network's time zone (``MAILLAGE_TIMEZONE``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone)


@dataclass(frozen=True)
class Opening:
    """A time both a remote doctor and the site's room are free."""

    doctor_slot: str
    room_slot: str
    doctor: str
    doctor_name: str
    start: str
    end: str
    label: str

    @property
    def value(self) -> str:
        """The form value: the slot ids it takes (the doctor's alone for a home follow-up)."""
        return " ".join(slot for slot in (self.doctor_slot, self.room_slot) if slot)

    @property
    def slots(self) -> list[dict[str, str]]:
        """The Appointment's ``slot`` references."""
        return [{"reference": f"Slot/{slot}"} for slot in self.value.split()]


def openings(request: Request, site: str | None, doctor: str | None = None) -> list[Opening]:
    """Times in the coming two weeks when a remote doctor and a room of ``site`` are both free,
    soonest first; without a site (a follow-up at home), the doctors' free times alone.
    ``doctor`` keeps only that practitioner's times (to move one of their appointments)."""
    zone = request.app.state.settings.zone
    now = utcnow()
    upcoming = [
        ("status", "free"),
        ("start", "ge" + resources.instant(now)),
        ("start", "lt" + resources.instant(now + HORIZON)),
    ]
    rooms = {}
    for schedule in records.registry(request, "Schedule", [("actor", site)] if site else []):
        for slot in records.registry(
            request, "Slot", [("schedule", f"Schedule/{schedule['id']}"), *upcoming], sort="start"
        ):
            rooms.setdefault((slot["start"], slot["end"]), slot["id"])
    found = []
    for schedule in records.registry(request, "Schedule", [("actor", doctor)] if doctor else []):
        if schedule.get("active") is False:
            continue
        doctors = [
            a["reference"]
            for a in schedule.get("actor", [])
            if a.get("reference", "").startswith("Practitioner/")
        ]
        if not doctors:
            continue
        person = records.registry(request, "Practitioner", [("_id", doctors[0].split("/")[1])])
        name = f"Dr {records.person_name(person[0] if person else None)}"
        query = [("schedule", f"Schedule/{schedule['id']}"), *upcoming]
        for slot in records.registry(request, "Slot", query, sort="start"):
            room = rooms.get((slot["start"], slot["end"])) if site else ""
            if room is not None:
                when = french_moment(slot["start"], zone)
                label = f"{when} – {local(slot['end'], zone):%H:%M} avec {name}"
                found.append(
                    Opening(slot["id"], room, doctors[0], name, slot["start"], slot["end"], label)
                )
    return sorted(found, key=lambda o: (o.start, o.doctor_name))


def site_patients(request: Request, principal: Principal) -> list[dict[str, str]]:
    """The patients the policy lets this professional see, by name."""
    found = records.find(request, principal, "Patient", [])
    rows = [{"id": p["id"], "nom": records.person_name(p)} for p in found]
    return sorted(rows, key=lambda row: row["nom"])


def _form(
    request: Request, principal: Principal, error: str | None = None, status: int = 200
) -> HTMLResponse:
    if principal.site is None:
        raise PageError(403, "Votre compte n'est rattaché à aucun site.")
    context = {
        "patients": site_patients(request, principal),
        "creneaux": openings(request, principal.site),
        "erreur": error,
    }
    return render(request, "soins/reserver.html", context, status=status)


@router.get("/teleconsultations/nouvelle", response_class=HTMLResponse)
def booking_form(request: Request, principal: Nurse) -> HTMLResponse:
    """The booking form: a patient of the site, a common free time, the reason."""
    return _form(request, principal)


def appointment(principal: Principal, patient: str, chosen: Opening, reason: str) -> dict[str, Any]:
    """The Appointment the API expects: patient, remote doctor, nurse and site, both slots."""
    people = [f"Patient/{patient}", chosen.doctor, principal.practitioner, principal.site]
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "serviceType": [TELECONSULTATION],
        "description": reason or "Téléconsultation assistée",
        "start": chosen.start,
        "end": chosen.end,
        "created": resources.instant(utcnow())[:10],
        "slot": chosen.slots,
        "participant": [
            {"actor": {"reference": actor}, "status": "accepted"} for actor in people if actor
        ],
    }


@router.post("/teleconsultations", response_class=HTMLResponse)
def book(
    request: Request, principal: Nurse, form: Annotated[FormData, Depends(checked_form)]
) -> Response:
    """Book, or show the form again with a French explanation (a taken slot is a 409)."""
    assert principal.site is not None
    patient, choice = str(form.get("patient", "")), str(form.get("creneau", ""))
    reason = str(form.get("motif", "")).strip()[:500]
    chosen = next((o for o in openings(request, principal.site) if o.value == choice), None)
    if not patient or chosen is None:
        return _form(
            request,
            principal,
            error=CONFLICT if choice else "Choisissez un patient et un créneau.",
            status=409 if choice else 422,
        )
    try:
        with records.writing(request, principal) as writer:
            row = writer.save(appointment(principal, patient, chosen, reason))
    except DomainError as error:
        message = CONFLICT if isinstance(error, Conflict) else records.french(error)
        return _form(request, principal, error=message, status=status_of(error))
    return RedirectResponse(f"/teleconsultations/{row.id}", status_code=303)


def video_link(request: Request, principal: Principal, appointment_id: str) -> str | None:
    """The caller's own link to the video room (signed when a Jitsi secret is configured)."""
    settings = request.app.state.settings
    moderator = principal.role is not Role.SITE_PROFESSIONAL
    user = video.VideoUser(principal.email, principal.email, moderator=moderator)
    with transaction(request.app.state.sessions) as session:
        row = resources.read(session, "Appointment", appointment_id)
        if appointments.room(row.body) is None:
            return None
        return appointments.invitation(session, settings, row, user).video_url


@router.get("/teleconsultations/{appointment_id}", response_class=HTMLResponse)
def confirmation(request: Request, appointment_id: str, principal: Carer) -> HTMLResponse:
    """The booked teleconsultation: when, who, where, the video room and the invitation."""
    body = records.get(request, principal, "Appointment", appointment_id)
    zone = request.app.state.settings.zone
    names = []
    for participant in body.get("participant", []):
        reference = (participant.get("actor") or {}).get("reference", "")
        kind, _, ident = reference.partition("/")
        if kind in ("Patient", "Practitioner", "Location"):
            names.append((kind, ident))
    with transaction(request.app.state.sessions) as session:
        shown = []
        for kind, ident in names:
            row = resources.get(session, kind, ident)
            label = (
                (row.body.get("name") if kind == "Location" else records.person_name(row.body))
                if row
                else ident
            )
            shown.append({"type": kind, "nom": label})
    context = {
        "rdv": body,
        "debut": french_moment(body.get("start"), zone),
        "fin": local(body["end"], zone).strftime("%H:%M") if body.get("end") else "",
        "participants": shown,
        "video": video_link(request, principal, appointment_id),
    }
    return render(request, "soins/confirmation.html", context)


@router.get("/teleconsultations/{appointment_id}/invitation.ics")
def invitation(request: Request, appointment_id: str, principal: Carer) -> Response:
    """The ICS invitation, the same file as ``GET /fhir/Appointment/{id}/$ics``."""
    records.get(request, principal, "Appointment", appointment_id)
    with records.refusals(), transaction(request.app.state.sessions) as session:
        row = resources.read(session, "Appointment", appointment_id)
        content = appointments.ics(session, request.app.state.settings, row, principal)
    headers = {
        "Content-Disposition": f'attachment; filename="teleconsultation-{appointment_id}.ics"'
    }
    return Response(content, media_type="text/calendar; charset=utf-8", headers=headers)
