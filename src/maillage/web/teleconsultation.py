"""Assisted teleconsultation at a site: the nurse finds a slot and books it for a patient.

A bookable time is a free slot of a remote doctor's schedule matched by a free slot, at the same
time, of a schedule of the nurse's own site (its room or equipment). Booking posts the same
Appointment as ``POST /fhir/Appointment``: both slots are taken in one transaction or neither,
and a slot taken meanwhile comes back as a French message instead of a 409 outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care import appointments, codes, video
from maillage.care.errors import Conflict, DomainError
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, instant
from maillage.web import records
from maillage.web.navigation import CARE_TEAMS, NURSES
from maillage.web.records import PageRepo
from maillage.web.records import french_moment as french_moment
from maillage.web.records import local as local
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Nurse = Annotated[Principal, Depends(allowed(NURSES))]
#: Who may open a booked teleconsultation (the policy then checks the patient).
Carer = Annotated[Principal, Depends(allowed(CARE_TEAMS))]
Body = dict[str, Any]
TELECONSULTATION = {"coding": [{"system": codes.WORKFLOW_SYSTEM, "code": codes.TELECONSULTATION}]}
CONFLICT = "Ce créneau vient d'être réservé ou n'est plus libre : choisissez-en un autre."
#: How far ahead the booking form looks for common free times.
HORIZON = timedelta(days=14)


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


def openings(repository: Repository, site: str | None, doctor: str | None = None) -> list[Opening]:
    """Times in the coming two weeks when a remote doctor and a room of ``site`` are both free,
    soonest first; without a site (a follow-up at home), the doctors' free times alone.
    ``doctor`` keeps only that practitioner's times (to move one of their appointments).

    Every doctor's and room's openings come in a constant number of statements (schedules,
    their free slots, the doctors' names), unpaged, whatever the number of doctors."""
    zone = repository.settings.zone
    now = datetime.now(UTC)
    upcoming = [
        ("status", "free"),
        ("start", "ge" + instant(now)),
        ("start", "lt" + instant(now + HORIZON)),
        ("_sort", "start"),
    ]
    rooms: dict[tuple[str, str], str] = {}
    if site:
        schedules = records.everything(repository, "Schedule", [("actor", site)])
        for slot in _free_slots(repository, schedules, upcoming):
            rooms.setdefault((slot["start"], slot["end"]), slot["id"])
    wanted = [("actor", doctor)] if doctor else []
    doctors = {}
    for schedule in records.everything(repository, "Schedule", wanted):
        actors = [
            a["reference"]
            for a in schedule.get("actor", [])
            if a.get("reference", "").startswith("Practitioner/")
        ]
        if schedule.get("active") is not False and actors:
            doctors[schedule["id"]] = actors[0]
    people = records.by_ids(
        repository, "Practitioner", {ref.split("/", 1)[1] for ref in doctors.values()}
    )
    found = []
    schedules = [{"id": ident} for ident in doctors]
    for slot in _free_slots(repository, schedules, upcoming):
        reference = doctors[records.reference_id(slot.get("schedule"), "Schedule") or ""]
        name = f"Dr {records.person_name(people.get(reference.split('/', 1)[1]))}"
        room = rooms.get((slot["start"], slot["end"])) if site else ""
        if room is not None:
            when = french_moment(slot["start"], zone)
            label = f"{when} – {local(slot['end'], zone):%H:%M} avec {name}"
            found.append(
                Opening(slot["id"], room, reference, name, slot["start"], slot["end"], label)
            )
    return sorted(found, key=lambda o: (o.start, o.doctor_name))


def _free_slots(
    repository: Repository, schedules: list[Body], upcoming: list[tuple[str, str]]
) -> list[Body]:
    """The upcoming free slots of all ``schedules`` at once."""
    if not schedules:
        return []
    names = ",".join(f"Schedule/{schedule['id']}" for schedule in schedules)
    return records.everything(repository, "Slot", [("schedule", names), *upcoming])


def site_patients(repository: Repository) -> list[dict[str, str]]:
    """The patients the policy lets this professional see, by name."""
    found = records.find(repository, "Patient", [])
    rows = [{"id": p["id"], "nom": records.person_name(p)} for p in found]
    return sorted(rows, key=lambda row: row["nom"])


def _form(
    request: Request, repository: Repository, error: str | None = None, status: int = 200
) -> HTMLResponse:
    principal = repository.principal
    if principal is None or principal.site is None:
        raise PageError(403, "Votre compte n'est rattaché à aucun site.")
    context = {
        "patients": site_patients(repository),
        "creneaux": openings(repository, principal.site),
        "erreur": error,
    }
    return render(request, "soins/reserver.html", context, status=status)


@router.get("/teleconsultations/nouvelle", response_class=HTMLResponse)
def booking_form(request: Request, _principal: Nurse, repository: PageRepo) -> HTMLResponse:
    """The booking form: a patient of the site, a common free time, the reason."""
    return _form(request, repository)


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
        "created": instant(datetime.now(UTC))[:10],
        "slot": chosen.slots,
        "participant": [
            {"actor": {"reference": actor}, "status": "accepted"} for actor in people if actor
        ],
    }


@router.post("/teleconsultations", response_class=HTMLResponse)
def book(
    request: Request,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Book, or show the form again with a French explanation (a taken slot is a 409)."""
    assert principal.site is not None
    patient, choice = str(form.get("patient", "")), str(form.get("creneau", ""))
    reason = str(form.get("motif", "")).strip()[:500]
    chosen = next((o for o in openings(repository, principal.site) if o.value == choice), None)
    if not patient or chosen is None:
        return _form(
            request,
            repository,
            error=CONFLICT if choice else "Choisissez un patient et un créneau.",
            status=409 if choice else 422,
        )
    try:
        with records.writing(repository) as writer:
            row = writer.save(appointment(principal, patient, chosen, reason))
    except DomainError as error:
        failure = records.page_error(error, CONFLICT if isinstance(error, Conflict) else None)
        return _form(request, repository, error=failure.message, status=failure.status)
    return RedirectResponse(f"/teleconsultations/{row.id}", status_code=303)


def video_link(repository: Repository, appointment: Body) -> str | None:
    """The caller's own link to the video room of an appointment they read (signed when a
    Jitsi secret is configured)."""
    principal = repository.principal
    assert principal is not None
    moderator = principal.role is not Role.SITE_PROFESSIONAL
    user = video.VideoUser(principal.email, principal.email, moderator=moderator)
    with records.refusals():
        return appointments.video_url(repository.settings, appointment, user)


def participants(repository: Repository, body: Body) -> list[dict[str, Any]]:
    """Who takes part in an appointment, by name (read under the policy: one search per
    type)."""
    names = []
    for participant in body.get("participant", []):
        reference = (participant.get("actor") or {}).get("reference", "")
        kind, _, ident = reference.partition("/")
        if kind in ("Patient", "Practitioner", "Location"):
            names.append((kind, ident))
    found = {
        kind: records.by_ids(repository, kind, {i for k, i in names if k == kind})
        for kind in {kind for kind, _ in names}
    }
    shown = []
    for kind, ident in names:
        row = found[kind].get(ident)
        label = (
            (row.get("name") if kind == "Location" else records.person_name(row)) if row else ident
        )
        shown.append({"type": kind, "nom": label})
    return shown


@router.get("/teleconsultations/{appointment_id}", response_class=HTMLResponse)
def confirmation(
    request: Request, appointment_id: str, _principal: Carer, repository: PageRepo
) -> HTMLResponse:
    """The booked teleconsultation: when, who, where, the video room and the invitation."""
    body = records.get(repository, "Appointment", appointment_id)
    zone = repository.settings.zone
    context = {
        "rdv": body,
        "debut": french_moment(body.get("start"), zone),
        "fin": local(body["end"], zone).strftime("%H:%M") if body.get("end") else "",
        "participants": participants(repository, body),
        "video": video_link(repository, body),
    }
    return render(request, "soins/confirmation.html", context)


@router.get("/teleconsultations/{appointment_id}/invitation.ics")
def invitation(appointment_id: str, _principal: Carer, repository: PageRepo) -> Response:
    """The ICS invitation, the same file as ``GET /fhir/Appointment/{id}/$ics``."""
    with records.refusals():
        content = repository.ics(appointment_id)
    headers = {
        "Content-Disposition": f'attachment; filename="teleconsultation-{appointment_id}.ics"'
    }
    return Response(content, media_type="text/calendar; charset=utf-8", headers=headers)
