"""The remote doctor's day: their teleconsultations, what became of each, and its compte rendu.

Marking a consultation done stores, in one transaction, the teleconsultation Encounter (class
``VR``, finished, with the act code the doctor bills and, when a professional assisted at the
site, the act that fits their profession and place: TLM for a pharmacist, TLL for a nurse on
site, TLD at home) and the Appointment as ``fulfilled``;
writing the compte rendu does the same if not done yet and adds the DocumentReference naming the
Encounter, which the server's own rules queue in the outbox for the patient's médecin traitant.
The doctor may also mark the patient absent (``noshow``), cancel with a reason, or move the
appointment to another of their free times (with a free room of the same site for an assisted
one). Every change is an update of the Appointment through the API's rules (final statuses,
slots freed or taken, invitations sent again), audited as ``PUT /fhir/Appointment`` is. The
day then offers to undo an absence or a cancellation while the rule of
:mod:`maillage.care.undo` allows it (« Annuler cette action »).
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import acts, outbox, remote_flags, remote_rules
from maillage.care.appointments import FINAL, email_of
from maillage.care.codes import ACT_URL, NGAP_SYSTEM, TELE_EXPERTISE, VIRTUAL, WORKFLOW_SYSTEM
from maillage.care.comptes_rendus import RECIPIENT_URL
from maillage.care.errors import Conflict, DomainError, VersionConflict
from maillage.care.principal import Principal
from maillage.care.repository import Repository, Work, instant
from maillage.care.undo import UNDONE
from maillage.web import patient_banner, records
from maillage.web.navigation import DOCTORS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import (
    CONFLICT,
    Opening,
    french_moment,
    local,
    openings,
    video_link,
)

router = APIRouter(include_in_schema=False)
Doctor = Annotated[Principal, Depends(allowed(DOCTORS))]
#: The acts a remote doctor bills for a teleconsultation, as the form names them.
DOCTOR_ACTS = {
    "TCG": "téléconsultation par un médecin généraliste",
    "TC": "téléconsultation par un médecin spécialiste",
}
STATUS_LABELS = {
    "proposed": "Proposé",
    "pending": "En attente",
    "booked": "Réservé",
    "arrived": "Patient arrivé",
    "checked-in": "Patient installé",
    "fulfilled": "Réalisé",
    "cancelled": "Annulé",
    "noshow": "Patient absent",
    "entered-in-error": "Saisi par erreur",
    "waitlist": "Liste d'attente",
}

#: The notice of a change the doctor may still undo on their day.
UNDO_NOTICES = {"noshow": "Consultation marquée absente", "cancelled": "Consultation annulée"}
RETAKEN = "Le créneau a été repris entre-temps : impossible d'annuler."
TOO_LATE = (
    "Cette action ne peut plus être annulée : le délai est passé, ou elle a été faite par un "
    "autre compte."
)

Body = dict[str, Any]


def _names(repository: Repository, bodies: list[Body]) -> dict[str, dict[str, str]]:
    """Patient and site names of appointments already read under the policy, by appointment
    id (one search per type for the whole day)."""
    wanted: dict[str, set[str]] = {"Patient": set(), "Location": set()}
    for body in bodies:
        for participant in body.get("participant", []):
            kind, _, ident = (participant.get("actor") or {}).get("reference", "").partition("/")
            if kind in wanted and ident:
                wanted[kind].add(ident)
    found = {kind: records.by_ids(repository, kind, ids) for kind, ids in wanted.items()}
    names = {}
    for body in bodies:
        shown = {"patient": "—", "site": "à domicile"}
        for participant in body.get("participant", []):
            kind, _, ident = (participant.get("actor") or {}).get("reference", "").partition("/")
            row = found.get(kind, {}).get(ident)
            if row is not None and kind == "Patient":
                shown["patient"] = records.person_name(row)
            elif row is not None:
                shown["site"] = row.get("name") or ident
        names[body["id"]] = shown
    return names


@router.get("/consultations", response_class=HTMLResponse)
def day(
    request: Request,
    principal: Doctor,
    repository: PageRepo,
    jour: Annotated[date | None, Query()] = None,
) -> HTMLResponse:
    """The doctor's appointments of one day (today by default), in time order, each open one
    with the doctor's link to its video room; links to the day before and the day after."""
    return _day_page(request, principal, repository, jour)


def _day_page(
    request: Request,
    principal: Principal,
    repository: Repository,
    jour: date | None,
    message: str | None = None,
) -> HTMLResponse:
    """The day page, with ``message`` (what the doctor's last action did), if any."""
    zone = repository.settings.zone
    chosen = jour or repository.settings.today()
    query = [("practitioner", principal.practitioner or ""), ("date", chosen.isoformat())]
    found = records.find(repository, "Appointment", query)
    names = _names(repository, found)
    flags = pathway_flags(repository, principal.practitioner or "", found)
    rows = [
        {
            "id": body["id"],
            "heure": french_format.hour(local(body["start"], zone)) if body.get("start") else "",
            "statut": STATUS_LABELS.get(body.get("status", ""), body.get("status", "")),
            "motif": body.get("description", ""),
            "signalement": flags.get(body["id"]),
            "video": video_link(repository, body) if body.get("status") not in FINAL else None,
            **names[body["id"]],
        }
        for body in sorted(found, key=lambda b: b.get("start", ""))
    ]
    context = {
        "jour": chosen,
        "titre_jour": french_format.day(chosen, long=True),
        "veille": (chosen - timedelta(days=1)).isoformat(),
        "lendemain": (chosen + timedelta(days=1)).isoformat(),
        "rdvs": rows,
        "a_defaire": _undoable(repository, found, rows),
        "message": message,
        "part_a_distance": remote_share_text(repository, principal, chosen.year),
    }
    return render(request, "soins/journee.html", context)


def _undoable(repository: Repository, bodies: list[Body], rows: list[Body]) -> list[Body]:
    """The day's absences and cancellations the doctor may still undo, each with its notice
    and when the window closes (nothing is asked of the repository on a day without any)."""
    ids = [body["id"] for body in bodies if body.get("status") in UNDONE]
    if not ids:
        return []
    with records.refusals():
        windows = repository.undo_windows(ids)
    statuses = {body["id"]: body["status"] for body in bodies}
    zone = repository.settings.zone
    return [
        {
            "id": row["id"],
            "avis": f"{UNDO_NOTICES[statuses[row['id']]]} ({row['heure']}, {row['patient']})",
            "jusqua": french_format.hour(windows[row["id"]].replace(tzinfo=UTC).astimezone(zone)),
        }
        for row in rows
        if row["id"] in windows
    ]


IN_PERSON = "AMB"
"""The Encounter class (v3 ActCode) of a visit in person: ambulatory."""


def pathway_flags(repository: Repository, doctor: str, bodies: list[Body]) -> dict[str, str]:
    """The coordinated-care-pathway flag of each teleconsultation that has one, by
    appointment id (a flag, never a block): two audited searches for the whole day, the
    patients and their in-person visits."""
    patients = {ref for body in bodies if (ref := _actor(body, "Patient"))}
    if not patients:
        return {}
    found = records.by_ids(repository, "Patient", {ref.split("/", 1)[1] for ref in patients})
    query = [("patient", ",".join(sorted(patients))), ("class", IN_PERSON)]
    visits: dict[str, list[str]] = {}
    for encounter in records.everything(repository, "Encounter", query):
        start = (encounter.get("period") or {}).get("start")
        subject = (encounter.get("subject") or {}).get("reference", "")
        if start:
            visits.setdefault(subject, []).append(start)
    flags = {}
    today = repository.settings.today()
    for body in bodies:
        patient = _actor(body, "Patient") or ""
        facts = remote_flags.teleconsultation(
            body, found.get(patient.partition("/")[2]), doctor, visits.get(patient, []), today
        )
        flag = remote_rules.pathway_flag(facts)
        if flag:
            flags[body["id"]] = flag
    return flags


def remote_acts(repository: Repository, doctor: str, year: int) -> int:
    """The doctor's remote acts of a calendar year: their finished teleconsultations and the
    télé-expertises they answered (two audited searches)."""
    first, last = f"ge{year}-01-01", f"le{year}-12-31"
    encounters = [
        ("practitioner", doctor),
        ("class", VIRTUAL),
        ("status", "finished"),
        ("date", first),
        ("date", last),
    ]
    tasks = [
        ("owner", doctor),
        ("code", f"{WORKFLOW_SYSTEM}|{TELE_EXPERTISE}"),
        ("status", "completed"),
        ("period", first),
        ("period", last),
    ]
    return len(records.everything(repository, "Encounter", encounters)) + len(
        records.everything(repository, "Task", tasks)
    )


def remote_share_text(repository: Repository, principal: Principal, year: int) -> str:
    """The doctor's remote share of the year against their declared annual activity, in
    French, with the 20 % flag when it is exceeded, or « non évaluable »."""
    doctor = principal.practitioner or ""
    ident = doctor.partition("/")[2]
    practitioner = records.by_ids(repository, "Practitioner", {ident} if ident else set())
    declared = remote_flags.declared_activity(practitioner.get(ident))
    done = remote_acts(repository, doctor, year) if doctor else 0
    share = remote_rules.remote_share(done, declared)
    if isinstance(share, str):
        return (
            f"Part de l'activité à distance en {year} : {share} "
            "(aucune activité annuelle déclarée)."
        )
    text = (
        f"Part de l'activité à distance en {year} : {done} actes sur une activité annuelle "
        f"déclarée de {declared}, soit {french_format.percent(share)}."
    )
    flag = remote_rules.remote_share_flag(done, declared)
    return f"{text} Signalement : {flag}." if flag else text


def _encounter_of(repository: Repository, appointment_id: str) -> dict | None:
    found = records.find(
        repository, "Encounter", [("appointment", f"Appointment/{appointment_id}")]
    )
    return found[0] if found else None


def _actor(appointment: Body, resource_type: str) -> str | None:
    """The first participant of that type (``Type/id``), if any."""
    return next(
        (
            reference
            for p in appointment.get("participant", [])
            if (reference := (p.get("actor") or {}).get("reference", "")).startswith(
                f"{resource_type}/"
            )
        ),
        None,
    )


def _own(repository: Repository, principal: Principal, appointment_id: str) -> Body:
    """The appointment, once the policy let the doctor read it and they take part in it."""
    body = records.get(repository, "Appointment", appointment_id)
    if not any(
        (p.get("actor") or {}).get("reference") == principal.practitioner
        for p in body.get("participant", [])
    ):
        raise PageError(403, "Ce rendez-vous n'est pas l'un des vôtres.")
    return body


def _open(body: Body) -> Body:
    """The appointment unless it is already over (the server would refuse the change: 409)."""
    if body.get("status") in FINAL:
        status = str(body["status"])
        label = STATUS_LABELS.get(status, status).lower()
        raise PageError(409, f"Ce rendez-vous est déjà « {label} » : il ne peut plus changer.")
    return body


def _reports(repository: Repository, encounter: Body | None) -> list[Body]:
    if encounter is None:
        return []
    query = [("encounter", f"Encounter/{encounter['id']}")]
    return records.find(repository, "DocumentReference", query)


DELIVERY_LABELS = {
    outbox.DeliveryStatus.PENDING: "en attente d'envoi",
    outbox.DeliveryStatus.SENT: "envoyé",
    outbox.DeliveryStatus.FAILED: "échec de l'envoi",
}


def sent_to(repository: Repository, document: Body, gp: dict[str, str | None]) -> list[str]:
    """What the outbox holds for a compte rendu (« dr.x@… : envoyé »), or why it holds nothing."""
    with records.refusals():
        queued = repository.deliveries(document["id"])
    if queued:
        return [
            f"{'entrepôt de documents partagé' if to.startswith('http') else to} : "
            f"{DELIVERY_LABELS.get(outbox.DeliveryStatus(state), state)}"
            for to, state in queued
        ]
    if _chosen(document):
        return ["Rien n'a été envoyé : le destinataire choisi n'a pas d'adresse de messagerie."]
    if gp["nom"] is None:
        return ["Rien n'a été envoyé : le patient n'a pas de médecin traitant déclaré."]
    return [
        f"Rien n'a été envoyé : le médecin traitant, {gp['nom']}, n'a pas d'adresse de messagerie."
    ]


def _chosen(document: Body) -> str | None:
    """The recipient the doctor chose instead of the médecin traitant, if any."""
    return next(
        (
            (e.get("valueReference") or {}).get("reference")
            for e in document.get("extension", [])
            if e.get("url") == RECIPIENT_URL
        ),
        None,
    )


def recipients(repository: Repository, principal: Principal) -> dict[str, str]:
    """The other doctors a compte rendu may go to: those of the directory with an address."""
    found = {
        f"Practitioner/{body['id']}": f"Dr {records.person_name(body)} ({address})"
        for body in repository.practitioners()
        if (address := email_of(body)) and f"Practitioner/{body['id']}" != principal.practitioner
    }
    return dict(sorted(found.items(), key=lambda item: item[1]))


@router.get("/consultations/{appointment_id}", response_class=HTMLResponse)
def consultation(
    request: Request, appointment_id: str, principal: Doctor, repository: PageRepo
) -> HTMLResponse:
    """One teleconsultation: the patient's banner, the video room, what may still happen to
    it, its compte rendu."""
    body = _own(repository, principal, appointment_id)
    zone = repository.settings.zone
    encounter = _encounter_of(repository, appointment_id)
    status = body.get("status", "")
    ouvert = status not in FINAL
    patient_id = (_actor(body, "Patient") or "").partition("/")[2]
    banner = patient_banner.banner(repository, patient_id) if patient_id else None
    gp = banner["medecin_traitant"] if banner else {"nom": None, "adresse": None}
    reports = []
    for document in _reports(repository, encounter):
        attachment = (document.get("content") or [{}])[0].get("attachment", {})
        text = base64.b64decode(attachment.get("data", "")).decode("utf-8", "replace")
        reports.append(
            {
                "date": french_moment(document.get("date"), zone),
                "texte": text,
                "envois": sent_to(repository, document, gp),
            }
        )
    context = {
        "rdv": body,
        "debut": french_moment(body.get("start"), zone),
        "jour": local(body["start"], zone).date().isoformat() if body.get("start") else "",
        "statut": STATUS_LABELS.get(status, status),
        "ouvert": ouvert,
        "motif_annulation": (body.get("cancelationReason") or {}).get("text"),
        "video": video_link(repository, body) if ouvert else None,
        "acte_requis": encounter is None,
        # the act is chosen once: on the consultation, before its compte rendu
        "compte_rendu_possible": not reports and (encounter is not None or status == "fulfilled"),
        "comptes_rendus": reports,
        "actes": list(DOCTOR_ACTS.items()),
        "patient_id": patient_id,
        "bandeau": banner,
        "destinataires": recipients(repository, principal),
        "creneaux": _moves(repository, principal, body) if ouvert else [],
        "delai_annulation": repository.settings.undo_minutes,
        **_names(repository, [body])[body["id"]],
    }
    return render(request, "soins/consultation.html", context)


def _moves(repository: Repository, principal: Principal, appointment: Body) -> list[Opening]:
    """The doctor's free times the appointment may move to (with a free room of its site)."""
    return openings(repository, _actor(appointment, "Location"), principal.practitioner)


Assistance = tuple[str, str]
"""The assisting professional (``Practitioner/id``) and the act code they bill."""


def _assistance(
    repository: Repository, principal: Principal, appointment: Body
) -> Assistance | None:
    """Who assisted at the site, with the act of their profession and place (no act for a
    profession that bills none, or one the record does not name)."""
    for participant in appointment.get("participant", []):
        reference = (participant.get("actor") or {}).get("reference", "")
        kind, _, ident = reference.partition("/")
        if kind != "Practitioner" or reference == principal.practitioner:
            continue
        profession = acts.profession_of(records.get(repository, "Practitioner", ident))
        if profession not in (acts.Profession.NURSE, acts.Profession.PHARMACIST):
            continue
        at_home = _actor(appointment, "Location") is None
        code = acts.assistance_act(
            profession=profession, during_scheduled_care=False, at_home=at_home
        ).code
        return reference, code
    return None


def _act_extension(code: str) -> Body:
    coding = {"system": NGAP_SYSTEM, "code": code, "display": acts.act(code).label}
    return {"url": ACT_URL, "valueCoding": coding}


def encounter_body(
    principal: Principal, appointment: Body, act: str, assistance: Assistance | None = None
) -> Body:
    """The finished VR Encounter of the consultation, with the act the doctor bills and the
    assistant's, if any."""
    site = _actor(appointment, "Location")
    people = [{"individual": {"reference": principal.practitioner}}]
    extensions = [_act_extension(act)]
    if assistance is not None:
        people.append({"individual": {"reference": assistance[0]}})
        extensions.append(_act_extension(assistance[1]))
    return {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": VIRTUAL},
        "subject": {"reference": _actor(appointment, "Patient")},
        "appointment": [{"reference": f"Appointment/{appointment['id']}"}],
        "participant": people,
        "period": {"start": appointment["start"], "end": appointment["end"]},
        "extension": extensions,
        **({"location": [{"location": {"reference": site}}]} if site else {}),
    }


def report_body(
    principal: Principal, appointment: Body, encounter_id: str, text: str, to: str | None = None
) -> Body:
    """The compte rendu (text/plain, final) of the Encounter, for the outbox: to the médecin
    traitant, or to the Practitioner ``to``."""
    chosen = [{"url": RECIPIENT_URL, "valueReference": {"reference": to}}] if to else []
    return {
        **({"extension": chosen} if chosen else {}),
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": {"text": "Compte rendu de téléconsultation"},
        "subject": {"reference": _actor(appointment, "Patient")},
        "date": instant(datetime.now(UTC)),
        "author": [{"reference": principal.practitioner}],
        "context": {"encounter": [{"reference": f"Encounter/{encounter_id}"}]},
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


def _finish(
    writer: Work, principal: Principal, appointment: Body, act: str, assistance: Assistance | None
) -> str:
    """Store the finished Encounter and mark the Appointment fulfilled; the Encounter's id."""
    encounter = writer.save(encounter_body(principal, appointment, act, assistance))
    if appointment.get("status") != "fulfilled":
        writer.update(appointment, {"status": "fulfilled"})
    return encounter.id


def _done(appointment_id: str) -> RedirectResponse:
    return RedirectResponse(f"/consultations/{appointment_id}", status_code=303)


@router.post("/consultations/{appointment_id}/compte-rendu", response_class=HTMLResponse)
def write_report(
    request: Request,
    appointment_id: str,
    principal: Doctor,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Send the compte rendu to the médecin traitant or the chosen doctor (finishing the
    consultation if needed)."""
    text, act = str(form.get("compte_rendu", "")).strip(), str(form.get("acte", ""))
    to = str(form.get("destinataire", "")) or None
    if to is not None and to not in recipients(repository, principal):
        raise PageError(422, "Ce destinataire n'a pas d'adresse de messagerie dans l'annuaire.")
    body = _own(repository, principal, appointment_id)
    encounter = _encounter_of(repository, appointment_id)
    if not text or (encounter is None and act not in DOCTOR_ACTS):
        raise PageError(422, "Écrivez le compte rendu et choisissez l'acte réalisé.")
    if _reports(repository, encounter):
        raise PageError(409, "Le compte rendu de cette consultation est déjà écrit.")
    assistance = None
    if encounter is None:
        _open(body)
        assistance = _assistance(repository, principal, body)
    with records.refusals(), records.writing(repository) as writer:
        encounter_id = (
            encounter["id"] if encounter else _finish(writer, principal, body, act, assistance)
        )
        writer.save(report_body(principal, body, encounter_id, text, to))
    return _done(appointment_id)


@router.post("/consultations/{appointment_id}/statut", response_class=HTMLResponse)
def change_status(
    request: Request,
    appointment_id: str,
    principal: Doctor,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Consultation done (with its act), patient absent, or cancelled with a reason."""
    action = str(form.get("action", ""))
    body = _open(_own(repository, principal, appointment_id))
    if action == "realisee":
        act = str(form.get("acte", ""))
        if act not in DOCTOR_ACTS:
            raise PageError(422, "Choisissez l'acte réalisé.")
        if _encounter_of(repository, appointment_id) is not None:
            raise PageError(409, "Cette consultation est déjà enregistrée comme réalisée.")
        assistance = _assistance(repository, principal, body)
        with records.refusals(), records.writing(repository) as writer:
            _finish(writer, principal, body, act, assistance)
        return _done(appointment_id)
    if action == "absent":
        changes: Body = {"status": "noshow"}
    elif action == "annuler":
        reason = str(form.get("motif", "")).strip()[:500]
        if not reason:
            raise PageError(422, "Indiquez le motif de l'annulation.")
        changes = {"status": "cancelled", "cancelationReason": {"text": reason}}
    else:
        raise PageError(422, "Action inconnue.")
    with records.refusals(), records.writing(repository) as writer:
        writer.update(body, changes)
    day = local(body["start"], repository.settings.zone).date() if body.get("start") else None
    target = f"/consultations?jour={day.isoformat()}" if day else "/consultations"
    return RedirectResponse(target, status_code=303)  # where it may be undone


@router.post("/consultations/{appointment_id}/retablir", response_class=HTMLResponse)
def undo(
    request: Request,
    appointment_id: str,
    principal: Doctor,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Undo the absence or the cancellation just marked (:mod:`maillage.care.undo`): the
    appointment is booked again on its slots, unless they were taken meanwhile."""
    body = _own(repository, principal, appointment_id)
    try:
        restored = repository.undo(appointment_id).row.body
    except VersionConflict as error:  # the appointment itself changed meanwhile
        raise records.page_error(error) from error
    except Conflict as error:
        raise PageError(409, TOO_LATE if error.code == "business-rule" else RETAKEN) from error
    except DomainError as error:
        raise records.page_error(error) from error
    zone = repository.settings.zone
    start = local(restored["start"], zone) if restored.get("start") else None
    patient = _names(repository, [body])[appointment_id]["patient"]
    when = f"de {french_format.hour(start)} " if start else ""
    message = f"La consultation {when}({patient}) est de nouveau réservée."
    return _day_page(request, principal, repository, start.date() if start else None, message)


@router.post("/consultations/{appointment_id}/deplacement", response_class=HTMLResponse)
def move(
    request: Request,
    appointment_id: str,
    principal: Doctor,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Move the appointment to another free time of the doctor's: the old slots are freed, the
    new ones taken (a time taken meanwhile is a French 409), the invitation sent again."""
    body = _open(_own(repository, principal, appointment_id))
    choice = str(form.get("creneau", ""))
    chosen = next((o for o in _moves(repository, principal, body) if o.value == choice), None)
    if chosen is None:
        raise PageError(409 if choice else 422, CONFLICT if choice else "Choisissez un créneau.")
    moved = {"start": chosen.start, "end": chosen.end, "slot": chosen.slots}
    try:
        with records.writing(repository) as writer:
            writer.update(body, moved)
    except DomainError as error:
        raise records.page_error(
            error, CONFLICT if isinstance(error, Conflict) else None
        ) from error
    return _done(appointment_id)
