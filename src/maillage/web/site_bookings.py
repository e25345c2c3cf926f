"""The site's bookings: the teleconsultations of the nurse's site today and in the coming two
weeks, each of which she may cancel (with a reason), move to another joint opening of the same
doctor and a room of the site, print, or download as an invitation (ICS).

Every read and change goes through the principal's repository, so the patient compartment and
the audit are the network's; a cancel or a move is the same Appointment update as the doctor's
page and ``PUT /fhir/Appointment`` (slots freed or taken, invitations sent again). The list
reads the appointments, their patients and their practitioners in three searches whatever
their number.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care.appointments import FINAL
from maillage.care.errors import Conflict, DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.web import records
from maillage.web.consultations import STATUS_LABELS
from maillage.web.navigation import NURSES
from maillage.web.records import PageRepo, french_moment, local
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import CONFLICT, HORIZON, Opening, openings

router = APIRouter(include_in_schema=False)
Nurse = Annotated[Principal, Depends(allowed(NURSES))]
Body = dict[str, Any]
LIST = "/site/rendez-vous"
#: What the list says once a change is made (``?fait=…`` after the redirect).
DONE = {
    "annule": "Le rendez-vous est annulé ; les participants en sont informés.",
    "deplace": "Le rendez-vous est déplacé ; l'invitation est renvoyée aux participants.",
}


def _site(principal: Principal) -> str:
    if principal.site is None:
        raise PageError(403, "Votre compte n'est rattaché à aucun site.")
    return principal.site


def _references(body: Body, kind: str) -> list[str]:
    """The participants of that type (``Type/id``), in order."""
    return [
        reference
        for p in body.get("participant", [])
        if (reference := (p.get("actor") or {}).get("reference", "")).startswith(f"{kind}/")
    ]


def _ids(bodies: list[Body], kind: str) -> set[str]:
    return {ref.partition("/")[2] for body in bodies for ref in _references(body, kind)}


def birth_date(patient: Body | None) -> str:
    """« né(e) le 12/03/1941 », what tells same-name residents apart ("" when unknown)."""
    text = (patient or {}).get("birthDate", "")
    if len(text) != 10:
        return ""
    return f"né(e) le {french_format.day(date.fromisoformat(text))}"


def rows(repository: Repository, principal: Principal, bodies: list[Body]) -> list[Body]:
    """The appointments as the list shows them: time, patient with birth date, the remote
    doctor(s), reason, status (two searches for every patient and practitioner named)."""
    zone = repository.settings.zone
    patients = records.by_ids(repository, "Patient", _ids(bodies, "Patient"))
    people = records.by_ids(repository, "Practitioner", _ids(bodies, "Practitioner"))
    shown = []
    for body in sorted(bodies, key=lambda b: b.get("start", "")):
        patient_ref = next(iter(_references(body, "Patient")), "")
        patient = patients.get(patient_ref.partition("/")[2])
        doctors = [
            f"Dr {records.person_name(people.get(ref.partition('/')[2]))}"
            for ref in _references(body, "Practitioner")
            if ref != principal.practitioner and ref.partition("/")[2] in people
        ]
        start = local(body["start"], zone) if body.get("start") else None
        status = body.get("status", "")
        shown.append(
            {
                "id": body["id"],
                "jour": start.date() if start else None,
                "quand": french_moment(body.get("start"), zone),
                "heure": f"{start:%H:%M}" if start else "",
                "fin": f"{local(body['end'], zone):%H:%M}" if body.get("end") else "",
                "patient": records.person_name(patient) if patient else "—",
                "naissance": birth_date(patient),
                "medecins": ", ".join(doctors) or "—",
                "motif": body.get("description", ""),
                "statut": STATUS_LABELS.get(status, status),
                "ouvert": status not in FINAL,
            }
        )
    return shown


def upcoming(repository: Repository, site: str, today: date) -> list[Body]:
    """The site's appointments from today to the booking horizon (one audited search)."""
    last = today + timedelta(days=HORIZON.days)
    query = [
        ("location", site),
        ("date", f"ge{today.isoformat()}"),
        ("date", f"le{last.isoformat()}"),
    ]
    return records.everything(repository, "Appointment", query)


def _listing(repository: Repository, principal: Principal) -> tuple[date, list[Body]]:
    today = repository.settings.today()
    found = upcoming(repository, _site(principal), today)
    return today, rows(repository, principal, found)


@router.get(LIST, response_class=HTMLResponse)
def site_bookings(
    request: Request,
    principal: Nurse,
    repository: PageRepo,
    fait: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """Today's and the coming two weeks' teleconsultations of the site."""
    today, shown = _listing(repository, principal)
    context = {
        "aujourdhui": [r for r in shown if r["jour"] == today],
        "a_venir": [r for r in shown if r["jour"] != today],
        "jour": today,
        "message": DONE.get(fait or ""),
        "horizon": HORIZON.days,
    }
    return render(request, "soins/rendez_vous_site.html", context)


@router.get(f"{LIST}/impression", response_class=HTMLResponse)
def printable(request: Request, principal: Nurse, repository: PageRepo) -> HTMLResponse:
    """The same list, for paper: no menu, no forms."""
    today, shown = _listing(repository, principal)
    context = {"rdvs": shown, "jour": today, "horizon": HORIZON.days}
    return render(request, "soins/rendez_vous_site_impression.html", context)


def _of_site(repository: Repository, principal: Principal, appointment_id: str) -> Body:
    """The appointment, once the policy let the professional read it and it is at her site."""
    body = records.get(repository, "Appointment", appointment_id)
    if _site(principal) not in _references(body, "Location"):
        raise PageError(403, "Ce rendez-vous n'a pas lieu sur votre site.")
    return body


def _still_open(body: Body) -> Body:
    status = str(body.get("status", ""))
    if status in FINAL:
        label = STATUS_LABELS.get(status, status).lower()
        raise PageError(409, f"Ce rendez-vous est déjà « {label} » : il ne peut plus changer.")
    return body


def _moves(repository: Repository, principal: Principal, body: Body) -> list[Opening]:
    """Joint openings of the appointment's doctor and a room of the site (the doctor is the
    practitioner with a schedule: one search for all the appointment's practitioners)."""
    doctors = [ref for ref in _references(body, "Practitioner") if ref != principal.practitioner]
    if not doctors:
        return []
    return openings(repository, _site(principal), ",".join(doctors))


@router.get(f"{LIST}/{{appointment_id}}", response_class=HTMLResponse)
def booking(
    request: Request, appointment_id: str, principal: Nurse, repository: PageRepo
) -> HTMLResponse:
    """One appointment of the site: cancel it with a reason or move it."""
    body = _of_site(repository, principal, appointment_id)
    shown = rows(repository, principal, [body])[0]
    context = {
        "rdv": shown,
        "creneaux": _moves(repository, principal, body) if shown["ouvert"] else [],
    }
    return render(request, "soins/rendez_vous_site_detail.html", context)


def _change(repository: Repository, body: Body, changes: Body, fait: str) -> RedirectResponse:
    try:
        with records.writing(repository) as writer:
            writer.update(body, changes)
    except DomainError as error:
        raise records.page_error(
            error, CONFLICT if isinstance(error, Conflict) else None
        ) from error
    return RedirectResponse(f"{LIST}?fait={fait}", status_code=303)


@router.post(f"{LIST}/{{appointment_id}}/annulation", response_class=HTMLResponse)
def cancel(
    appointment_id: str,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Cancel with a reason: the slots are freed and the participants told."""
    reason = str(form.get("motif", "")).strip()[:500]
    if not reason:
        raise PageError(422, "Indiquez le motif de l'annulation.")
    body = _still_open(_of_site(repository, principal, appointment_id))
    changes = {"status": "cancelled", "cancelationReason": {"text": reason}}
    return _change(repository, body, changes, "annule")


@router.post(f"{LIST}/{{appointment_id}}/deplacement", response_class=HTMLResponse)
def move(
    appointment_id: str,
    principal: Nurse,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Move to another joint opening: the old slots freed, the new ones taken (a time taken
    meanwhile is a French 409), the invitation sent again."""
    body = _still_open(_of_site(repository, principal, appointment_id))
    choice = str(form.get("creneau", ""))
    chosen = next((o for o in _moves(repository, principal, body) if o.value == choice), None)
    if chosen is None:
        raise PageError(409 if choice else 422, CONFLICT if choice else "Choisissez un créneau.")
    moved = {"start": chosen.start, "end": chosen.end, "slot": chosen.slots}
    return _change(repository, body, moved, "deplace")
