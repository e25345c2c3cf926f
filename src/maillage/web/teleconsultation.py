"""Assisted teleconsultation at a site: the nurse finds a slot and books it for a patient.

A bookable time is a free slot of a remote doctor's schedule matched by a free slot, at the same
time, of a schedule of the nurse's own site (its room or equipment). Booking posts the same
Appointment as ``POST /fhir/Appointment``: both slots are taken in one transaction or neither,
and a slot taken meanwhile comes back as a French message instead of a 409 outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import acts, appointments, codes, video
from maillage.care.errors import Conflict, DomainError
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, instant
from maillage.web import identities, pathway_choice, records
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
#: How far ahead the page looks for the first joint opening (« première disponibilité »).
FIRST_HORIZON = timedelta(weeks=8)
AT_HOME = "domicile"


@dataclass(frozen=True)
class Opening:
    """A time a remote doctor and their partner are both free: a room of the site, or a
    liberal nurse at the patient's home (no partner: the doctor alone, a follow-up at home)."""

    doctor_slot: str
    partner_slot: str
    doctor: str
    doctor_name: str
    start: str
    end: str
    label: str
    partner: str = ""

    @property
    def value(self) -> str:
        """The form value: the slot ids it takes (the doctor's alone for a home follow-up)."""
        return " ".join(slot for slot in (self.doctor_slot, self.partner_slot) if slot)

    @property
    def slots(self) -> list[dict[str, str]]:
        """The Appointment's ``slot`` references."""
        return [{"reference": f"Slot/{slot}"} for slot in self.value.split()]


@dataclass(frozen=True)
class Roster:
    """Who has a bookable calendar: remote doctors and liberal nurses (by ``Practitioner/id``,
    with their bodies), and each active schedule's owner (a practitioner or the site)."""

    doctors: dict[str, Body]
    nurses: dict[str, Body]
    owners: dict[str, str]

    def specialties(self) -> dict[str, str]:
        """The doctors' specialties, code → French label, by label."""
        found = {code: label for body in self.doctors.values() for code, label in specialties(body)}
        return dict(sorted(found.items(), key=lambda item: item[1]))

    def schedules(self, owners: set[str]) -> list[str]:
        """The ids of the schedules these owners hold."""
        return [ident for ident, owner in self.owners.items() if owner in owners]


def specialties(practitioner: Body) -> list[tuple[str, str]]:
    """A doctor's specialties (code, label) from the ANS table of ordinal specialties."""
    return [
        (coding["code"], coding.get("display") or coding["code"])
        for qualification in practitioner.get("qualification") or []
        for coding in (qualification.get("code") or {}).get("coding") or []
        if coding.get("system") == acts.SPECIALTY_SYSTEM and coding.get("code")
    ]


def roster(repository: Repository, site: str | None) -> Roster:
    """The active schedules of practitioners and of ``site``'s rooms, and the practitioners,
    told apart by profession (nurses are the liberal nurses who visit patients at home): two
    statements whatever their number."""
    owners: dict[str, str] = {}
    for schedule in records.everything(repository, "Schedule", [("active", "true")]):
        actors = [a.get("reference", "") for a in schedule.get("actor", [])]
        practitioner = next((a for a in actors if a.startswith("Practitioner/")), None)
        if practitioner or site in actors:
            owners[schedule["id"]] = practitioner or str(site)
    people = {ref.split("/", 1)[1] for ref in owners.values() if ref.startswith("Practitioner/")}
    doctors: dict[str, Body] = {}
    nurses: dict[str, Body] = {}
    for ident, body in records.by_ids(repository, "Practitioner", people).items():
        nurse = acts.profession_of(body) is acts.Profession.NURSE
        (nurses if nurse else doctors)[f"Practitioner/{ident}"] = body
    return Roster(doctors, nurses, owners)


@dataclass(frozen=True)
class Wanted:
    """The booking form's filters: which doctors (``Practitioner/id``, comma-separated), which
    specialty, at the site or at home, and which liberal nurse there."""

    doctor: str = ""
    specialty: str = ""
    at_home: bool = False
    nurse: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Wanted:
        """The filters a query string or a form names."""
        return cls(
            str(fields.get("medecin", ""))[:200],
            str(fields.get("specialite", ""))[:20],
            fields.get("lieu") == AT_HOME,
            str(fields.get("infirmier", ""))[:100],
        )

    @property
    def fields(self) -> dict[str, str]:
        """The form fields that carry these filters (the empty ones left out)."""
        named = {
            "medecin": self.doctor,
            "specialite": self.specialty,
            "lieu": AT_HOME if self.at_home else "",
            "infirmier": self.nurse if self.at_home else "",
        }
        return {name: value for name, value in named.items() if value}


def openings(
    repository: Repository,
    site: str | None,
    doctor: str | None = None,
    *,
    wanted: Wanted | None = None,
    window: tuple[datetime, datetime] | None = None,
    team: Roster | None = None,
) -> list[Opening]:
    """Times when a remote doctor and a room of ``site`` are both free (or, at home, a doctor
    and a liberal nurse; without a site, the doctors alone), soonest first, within ``window``
    (the coming two weeks by default, never the past). ``doctor`` keeps only those
    practitioners' times (comma-separated references: to move one of their appointments).

    Every doctor's and partner's openings come in a constant number of statements (schedules,
    practitioners, the doctors' free slots, the partners'), unpaged, whatever their number."""
    wanted = wanted or Wanted(doctor=doctor or "")
    zone = repository.settings.zone
    team = team or roster(repository, site)
    now = datetime.now(UTC)
    first, last = window or (now, now + HORIZON)
    upcoming = [
        ("status", "free"),
        ("start", "ge" + instant(max(first, now))),
        ("start", "lt" + instant(last)),
        ("_sort", "start"),
    ]
    chosen = set(wanted.doctor.split(",")) - {""}
    doctors = {
        ref
        for ref, body in team.doctors.items()
        if (not chosen or ref in chosen)
        and (not wanted.specialty or wanted.specialty in dict(specialties(body)))
    }
    if wanted.at_home:
        partners: set[str] | None = {n for n in team.nurses if wanted.nurse in ("", n)}
    else:
        partners = {site} if site else None
    free: dict[tuple[str, str], tuple[str, str]] = {}
    if partners is not None:
        for slot in _free_slots(repository, team.schedules(partners), upcoming):
            owner = team.owners[records.reference_id(slot.get("schedule"), "Schedule") or ""]
            free.setdefault((slot["start"], slot["end"]), (slot["id"], owner))
    found = []
    for slot in _free_slots(repository, team.schedules(doctors), upcoming):
        reference = team.owners[records.reference_id(slot.get("schedule"), "Schedule") or ""]
        name = f"Dr {records.person_name(team.doctors[reference])}"
        partner = free.get((slot["start"], slot["end"])) if partners is not None else ("", "")
        if partner is None:
            continue
        when = french_moment(slot["start"], zone)
        label = f"{when} – {local(slot['end'], zone):%H:%M} avec {name}"
        if partner[1] in team.nurses:
            label += f" et {records.person_name(team.nurses[partner[1]])} (IDE libéral)"
        found.append(
            Opening(
                slot["id"],
                partner[0],
                reference,
                name,
                slot["start"],
                slot["end"],
                label,
                partner[1],
            )
        )
    return sorted(found, key=lambda o: (o.start, o.doctor_name))


def _free_slots(
    repository: Repository, schedules: list[str], upcoming: list[tuple[str, str]]
) -> list[Body]:
    """The upcoming free slots of all ``schedules`` (ids) at once."""
    if not schedules:
        return []
    names = ",".join(f"Schedule/{ident}" for ident in schedules)
    return records.everything(repository, "Slot", [("schedule", names), *upcoming])


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def week_window(first_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants from Monday 00:00 to the next Monday 00:00, in the network's time zone."""
    start = datetime.combine(first_day, time(0), zone)
    return start, datetime.combine(first_day + timedelta(days=7), time(0), zone)


def calendar(found: list[Opening], first_day: date, zone: ZoneInfo) -> dict[str, Any]:
    """The week as a grid: one column a day (Saturday and Sunday only when open), one row a
    start time, each cell the openings starting then."""
    cells: dict[tuple[str, date], list[Opening]] = {}
    for opening in found:
        moment = local(opening.start, zone)
        cells.setdefault((f"{moment:%H:%M}", moment.date()), []).append(opening)
    days = [first_day + timedelta(days=n) for n in range(7)]
    shown = [d for d in days if d.weekday() < 5 or any(day == d for _, day in cells)]
    hours = sorted({hour for hour, _ in cells})
    return {
        "jours": [
            {"titre": french_format.day(d, long=True), "court": french_format.weekday(d)}
            for d in shown
        ],
        "lignes": [
            {"heure": hour, "cellules": [cells.get((hour, d), []) for d in shown]} for hour in hours
        ],
    }


def _week(text: str) -> date | None:
    try:
        return monday(date.fromisoformat(text)) if text else None
    except ValueError as error:
        raise PageError(422, "La semaine demandée n'est pas une date (aaaa-mm-jj).") from error


def _patient(repository: Repository, patient_id: str) -> Body | None:
    """The chosen patient as the search lists them, with their médecin traitant's reference
    (read under the policy, audited)."""
    if not patient_id:
        return None
    body = records.get(repository, "Patient", patient_id)
    treating: list[Body] = body.get("generalPractitioner") or [{}]
    return identities.summary(body) | {"medecin_traitant": treating[0].get("reference")}


def _form(
    request: Request,
    repository: Repository,
    typed: Mapping[str, Any],
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The booking page: the patient, the filters, the week's calendar and the reason."""
    principal = repository.principal
    if principal is None or principal.site is None:
        raise PageError(403, "Votre compte n'est rattaché à aucun site.")
    wanted, zone = Wanted.of(typed), repository.settings.zone
    team = roster(repository, principal.site)
    asked = _week(str(typed.get("semaine", "")))
    if asked is None:  # the week of the first joint opening
        now = datetime.now(UTC)
        ahead = openings(
            repository, principal.site, wanted=wanted, window=(now, now + FIRST_HORIZON), team=team
        )
        first_day = monday(
            local(ahead[0].start, zone).date() if ahead else now.astimezone(zone).date()
        )
        found = [o for o in ahead if local(o.start, zone).date() < first_day + timedelta(days=7)]
    else:
        first_day = asked
        window = week_window(first_day, zone)
        found = openings(repository, principal.site, wanted=wanted, window=window, team=team)
    patient = _patient(repository, str(typed.get("patient", "")))
    keep = wanted.fields | ({"patient": patient["id"]} if patient else {})
    context = {
        "patient": patient,
        "filtres": wanted,
        "medecins": {ref: f"Dr {records.person_name(b)}" for ref, b in team.doctors.items()},
        "infirmiers": {ref: records.person_name(b) for ref, b in team.nurses.items()},
        "specialites": team.specialties(),
        "semaine": first_day.isoformat(),
        "titre_semaine": french_format.day(first_day, long=True),
        "precedente": urlencode(keep | {"semaine": (first_day - timedelta(days=7)).isoformat()}),
        "suivante": urlencode(keep | {"semaine": (first_day + timedelta(days=7)).isoformat()}),
        "premiere": urlencode(keep),
        "calendrier": calendar(found, first_day, zone),
        "creneaux": found,
        "choisi": str(typed.get("creneau", "")),
        "motif": str(typed.get("motif", ""))[:500],
        "oriente": typed.get("oriente") == pathway_choice.ORIENTED,
        "exceptions": pathway_choice.choices(_listed(typed.get("exception"))),
        "erreur": error,
    }
    return render(request, "soins/reserver.html", context, status=status)


@router.get("/teleconsultations/nouvelle", response_class=HTMLResponse)
def booking_form(request: Request, _principal: Nurse, repository: PageRepo) -> HTMLResponse:
    """The booking page: a patient of the site, a joint opening of the week, the reason."""
    return _form(request, repository, request.query_params)


def _listed(value: object) -> list[str]:
    """A form field that may be given several times, as a list."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def appointment(
    principal: Principal, patient: str, chosen: Opening, reason: str, pathway: list[Body]
) -> dict[str, Any]:
    """The Appointment the API expects: patient, remote doctor, and either the nurse and the
    site (assisted at the site) or the liberal nurse (at home); the slots it takes; who
    oriented the patient or why the pathway does not apply (``pathway`` extensions)."""
    at_site = chosen.partner.startswith("Location/")
    people = [f"Patient/{patient}", chosen.doctor, chosen.partner]
    if at_site:
        people.append(principal.practitioner or "")
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
    } | ({"extension": pathway} if pathway else {})


@router.post("/teleconsultations", response_class=HTMLResponse)
def book(
    request: Request,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Book, or show the page again as it was filled in, with a French explanation (a time
    taken meanwhile is a 409)."""
    assert principal.site is not None
    patient, choice = str(form.get("patient", "")), str(form.get("creneau", ""))
    reason = str(form.get("motif", "")).strip()[:500]
    first_day, now = _week(str(form.get("semaine", ""))), datetime.now(UTC)
    zone = repository.settings.zone
    window = week_window(first_day, zone) if first_day else (now, now + FIRST_HORIZON)
    found = openings(repository, principal.site, wanted=Wanted.of(form), window=window)
    chosen = next((o for o in found if o.value == choice), None)
    typed = dict(form) | {"exception": form.getlist("exception")}
    if not patient or chosen is None:
        error = CONFLICT if choice and patient else "Choisissez un patient et un créneau."
        return _form(request, repository, typed, error, 409 if choice and patient else 422)
    chosen_patient = _patient(repository, patient) or {}
    try:
        pathway = pathway_choice.extensions(
            str(form.get("oriente", "")),
            _listed(typed["exception"]),
            chosen_patient.get("medecin_traitant"),
        )
    except pathway_choice.PathwayProblem as problem:
        return _form(request, repository, typed, str(problem), 422)
    try:
        with records.writing(repository) as writer:
            row = writer.save(appointment(principal, patient, chosen, reason, pathway))
    except DomainError as error:
        failure = records.page_error(error, CONFLICT if isinstance(error, Conflict) else None)
        return _form(request, repository, typed, failure.message, failure.status)
    return RedirectResponse(f"/teleconsultations/{row.id}", status_code=303)


def video_link(repository: Repository, appointment: Body) -> str | None:
    """The caller's own link to the video room of an appointment they read (signed when a
    Jitsi secret is configured)."""
    principal = repository.principal
    assert principal is not None
    moderator = principal.role not in (Role.SITE_PROFESSIONAL, Role.PATIENT)
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
        "fin": french_format.hour(local(body["end"], zone)) if body.get("end") else "",
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
