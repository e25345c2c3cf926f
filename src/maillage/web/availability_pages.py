"""Availability: the network's coordinators set the weekly opening hours of every doctor's and
room's schedule, a doctor those of their own (the policy's rule, in the repository), and record
exceptions (holidays, absences) on which no slot is offered.

A template (days of the week, hours, a break, the slot length, a range of days) is previewed
first: the page lists the slots it would create, less the schedule's exceptions, computed by
the same function that ``Schedule/$generate-slots`` then runs. Generating and recording an
exception go through the principal's repository; both are idempotent per slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care import scheduling
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository, instant
from maillage.web import records
from maillage.web.navigation import SCHEDULERS
from maillage.web.records import PageRepo, local
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.teleconsultation import HORIZON

router = APIRouter(include_in_schema=False)
Scheduler = Annotated[Principal, Depends(allowed(SCHEDULERS))]
Body = dict[str, Any]
PAGE = "/disponibilites"
WEEKDAYS = tuple(zip(scheduling.DAYS, french_format.weekdays(), strict=True))
SLOT_LABELS = {"free": "libre", "busy": "réservé", "busy-unavailable": "indisponible"}
#: The form's defaults: weekdays 09:00–12:00 in 20-minute slots over four weeks.
DEFAULT_FORM = {
    "jours": ["mon", "tue", "wed", "thu", "fri"],
    "de": "09:00",
    "a": "12:00",
    "pause_de": "",
    "pause_a": "",
    "duree": "20",
}


@dataclass(frozen=True)
class Agenda:
    """A schedule the principal may set, as the page names it."""

    id: str
    label: str
    body: Body


def agendas(repository: Repository) -> list[Agenda]:
    """The schedules the principal may set, named after their doctor or room (three
    statements whatever their number)."""
    with records.refusals():
        schedules = repository.plannable_schedules()
    actors = [
        ((s.get("actor") or [{}])[0].get("reference") or "").partition("/") for s in schedules
    ]
    names = {
        kind: records.by_ids(repository, kind, {i for k, _, i in actors if k == kind and i})
        for kind in ("Practitioner", "Location")
    }
    found = []
    for schedule, (kind, _, ident) in zip(schedules, actors, strict=True):
        row = names.get(kind, {}).get(ident)
        if kind == "Practitioner":
            label = f"Dr {records.person_name(row)}"
        else:
            label = f"Salle — {(row or {}).get('name') or ident}"
        if schedule.get("comment"):
            label = f"{label} ({schedule['comment']})"
        found.append(Agenda(schedule["id"], label, schedule))
    return sorted(found, key=lambda a: a.label)


def by_day(times: Iterable[tuple[date, str]]) -> list[dict[str, Any]]:
    """Times grouped under their day, in order."""
    days: dict[date, list[str]] = {}
    for day, text in times:
        days.setdefault(day, []).append(text)
    return [
        {"jour": french_format.day(day, long=True), "heures": shown}
        for day, shown in sorted(days.items())
    ]


def upcoming_slots(repository: Repository, schedule_id: str) -> list[dict[str, Any]]:
    """The schedule's slots of the coming two weeks, by day, with their status (one search)."""
    zone, now = repository.settings.zone, datetime.now(UTC)
    query = [
        ("schedule", f"Schedule/{schedule_id}"),
        ("start", "ge" + instant(now)),
        ("start", "lt" + instant(now + HORIZON)),
        ("_sort", "start"),
    ]
    found = records.everything(repository, "Slot", query)
    return by_day(
        (
            local(s["start"], zone).date(),
            f"{local(s['start'], zone):%H:%M} ({SLOT_LABELS.get(s['status'], s['status'])})",
        )
        for s in found
    )


class FormProblem(ValueError):
    """A field of the template form the page explains in French."""


def _date(form: FormData, name: str, label: str) -> date:
    try:
        return date.fromisoformat(str(form.get(name, "")))
    except ValueError as error:
        raise FormProblem(f"{label} : indiquez une date (jj/mm/aaaa).") from error


def _time(form: FormData, name: str, label: str) -> time:
    try:
        return time.fromisoformat(str(form.get(name, "")))
    except ValueError as error:
        raise FormProblem(f"{label} : indiquez une heure (hh:mm).") from error


def _period(form: FormData, start: str, end: str, label: str) -> list[Body]:
    opening, closing = _time(form, start, f"{label} (début)"), _time(form, end, f"{label} (fin)")
    if opening >= closing:
        raise FormProblem(f"{label} : l'heure de fin doit suivre l'heure de début.")
    return [
        {"name": "availableStartTime", "valueTime": f"{opening:%H:%M:%S}"},
        {"name": "availableEndTime", "valueTime": f"{closing:%H:%M:%S}"},
    ]


def template_parameters(form: FormData) -> Body:
    """The ``$generate-slots`` Parameters the form describes (:class:`FormProblem` when a
    field is wrong, in French)."""
    first, last = _date(form, "debut", "Premier jour"), _date(form, "fin", "Dernier jour")
    if not timedelta(0) <= last - first < timedelta(days=scheduling.MAX_DAYS):
        raise FormProblem(
            f"Le dernier jour suit le premier, au plus {scheduling.MAX_DAYS - 1} jours après."
        )
    days = [day for day in form.getlist("jours") if day in scheduling.DAYS]
    if not days:
        raise FormProblem("Cochez au moins un jour de la semaine.")
    minutes = str(form.get("duree", ""))
    if not (minutes.isdigit() and 5 <= int(minutes) <= 240):
        raise FormProblem("Durée d'un créneau : de 5 à 240 minutes.")
    hours = _period(form, "de", "a", "Horaires")
    parameters: list[Body] = [
        {"name": "start", "valueDate": first.isoformat()},
        {"name": "end", "valueDate": last.isoformat()},
        {"name": "slotMinutes", "valuePositiveInt": int(minutes)},
        {
            "name": "availability",
            "part": [*({"name": "daysOfWeek", "valueCode": d} for d in days), *hours],
        },
    ]
    if form.get("pause_de") or form.get("pause_a"):
        pause = _period(form, "pause_de", "pause_a", "Pause")
        parameters.append(
            {
                "name": "break",
                "part": [
                    {"name": "start", "valueTime": pause[0]["valueTime"]},
                    {"name": "end", "valueTime": pause[1]["valueTime"]},
                ],
            }
        )
    return {"resourceType": "Parameters", "parameter": parameters}


def preview(repository: Repository, agenda: Agenda, parameters: Body) -> list[dict[str, Any]]:
    """The slots the template would create on this schedule, outside its exceptions."""
    try:
        template, first, last = scheduling.template_of(parameters, repository.settings.timezone)
    except DomainError as error:
        raise FormProblem(f"Modèle refusé : {error.message}") from error
    slots = scheduling.planned(template, first, last, scheduling.absences(agenda.body))
    zone = template.zone
    return by_day(
        (start.astimezone(zone).date(), f"{start.astimezone(zone):%H:%M}") for start, _ in slots
    )


def _page(
    request: Request,
    repository: Repository,
    chosen: str | None,
    *,
    form: dict[str, Any] | None = None,
    previewed: list[dict[str, Any]] | None = None,
    message: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = agendas(repository)
    agenda = next((a for a in found if a.id == chosen), None)
    if chosen and agenda is None:
        raise PageError(403, "Vous ne pouvez pas régler les disponibilités de cet agenda.")
    today = repository.settings.today()
    values = {
        **DEFAULT_FORM,
        "debut": (today + timedelta(days=1)).isoformat(),
        "fin": (today + timedelta(days=28)).isoformat(),
        "absence_du": "",
        "absence_au": "",
        "motif": "",
        **(form or {}),
    }
    context = {
        "agendas": found,
        "agenda": agenda,
        "valeurs": values,
        "jours_semaine": WEEKDAYS,
        "apercu": previewed,
        "apercu_total": sum(len(d["heures"]) for d in previewed or []),
        "creneaux": upcoming_slots(repository, agenda.id) if agenda else [],
        "absences": [
            {
                "du": french_format.day(a.first, long=True),
                "au": french_format.day(a.last, long=True),
                "premier": a.first.isoformat(),
                "dernier": a.last.isoformat(),
                "motif": a.reason,
            }
            for a in scheduling.absences(agenda.body)
        ]
        if agenda
        else [],
        "message": message,
        "erreur": error,
    }
    return render(request, "soins/disponibilites.html", context, status=status)


@router.get(PAGE, response_class=HTMLResponse)
def availability(
    request: Request,
    _principal: Scheduler,
    repository: PageRepo,
    agenda: Annotated[str | None, Query()] = None,
    crees: Annotated[int | None, Query()] = None,
    existants: Annotated[int | None, Query()] = None,
    retires: Annotated[int | None, Query()] = None,
    reserves: Annotated[int | None, Query()] = None,
    liberes: Annotated[int | None, Query()] = None,
) -> HTMLResponse:
    """The schedules the principal may set; for the one chosen, its coming slots, its
    exceptions and the template and exception forms."""
    message = None
    if crees is not None:
        message = f"{crees} créneau(x) créé(s), {existants or 0} existai(en)t déjà."
    elif retires is not None:
        message = f"Absence enregistrée : {retires} créneau(x) libre(s) retiré(s)."
        if reserves:
            message += (
                f" {reserves} créneau(x) déjà réservé(s) : déplacez ou annulez ces rendez-vous."
            )
    elif liberes is not None:
        message = f"Absence supprimée : {liberes} créneau(x) de nouveau libre(s)."
    return _page(request, repository, agenda, message=message)


def _kept(form: FormData) -> dict[str, Any]:
    """What was typed, to show the form again as it was."""
    kept: dict[str, Any] = {k: str(v) for k, v in form.items() if k not in ("csrf_token", "jours")}
    kept["jours"] = [str(day) for day in form.getlist("jours")]
    return kept


def _typed_again(
    request: Request, repository: Repository, agenda: str, form: FormData, problem: FormProblem
) -> HTMLResponse:
    """The page again with what was typed and what is wrong in it (422)."""
    return _page(request, repository, agenda, form=_kept(form), error=str(problem), status=422)


@router.post(f"{PAGE}/modele", response_class=HTMLResponse)
def template(
    request: Request,
    _principal: Scheduler,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Preview the template's slots (``action=apercu``) or create them (``action=generer``)."""
    chosen = str(form.get("agenda", ""))
    agenda = next((a for a in agendas(repository) if a.id == chosen), None)
    if agenda is None:
        raise PageError(403, "Vous ne pouvez pas régler les disponibilités de cet agenda.")
    try:
        parameters = template_parameters(form)
        previewed = preview(repository, agenda, parameters)
    except FormProblem as problem:
        return _typed_again(request, repository, chosen, form, problem)
    if form.get("action") != "generer":
        return _page(request, repository, chosen, form=_kept(form), previewed=previewed)
    with records.refusals():
        outcome = repository.generate_slots(agenda.id, parameters)
    return _back(agenda.id, outcome, crees="created", existants="existing")


def _back(agenda: str, outcome: dict[str, Any], **counts: str) -> RedirectResponse:
    """Back to ``agenda``'s page, telling the operation's counts: each query name of
    ``counts`` takes the value of the output parameter it names."""
    outputs = {p["name"]: p["valueInteger"] for p in outcome["parameter"]}
    told = {name: outputs[output] for name, output in counts.items()}
    return RedirectResponse(f"{PAGE}?{urlencode({'agenda': agenda} | told)}", status_code=303)


def _absence_days(form: FormData) -> tuple[date, date]:
    """The first and last days of the absence in ``form``."""
    first = _date(form, "absence_du", "Absence, premier jour")
    return first, _date(form, "absence_au", "Absence, dernier jour")


@router.post(f"{PAGE}/absences", response_class=HTMLResponse)
def absence(
    request: Request,
    _principal: Scheduler,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Record a holiday or an absence: no slot on those days, the free ones withdrawn."""
    chosen = str(form.get("agenda", ""))
    try:
        first, last = _absence_days(form)
        reason = str(form.get("motif", "")).strip()[:200]
        if last < first:
            raise FormProblem("Absence : le dernier jour suit le premier.")
        if not reason:
            raise FormProblem("Absence : indiquez le motif (congés, formation…).")
    except FormProblem as problem:
        return _typed_again(request, repository, chosen, form, problem)
    with records.refusals():
        outcome = repository.add_absence(chosen, scheduling.Absence(first, last, reason))
    return _back(chosen, outcome, retires="withdrawn", reserves="booked")


@router.post(f"{PAGE}/absences/suppression", response_class=HTMLResponse)
def absence_removal(
    _principal: Scheduler,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Remove a recorded absence: the slots it withdrew are offered again."""
    chosen = str(form.get("agenda", ""))
    try:
        first, last = _absence_days(form)
    except FormProblem as problem:
        raise PageError(422, str(problem)) from problem
    absence = scheduling.Absence(first, last, str(form.get("motif", "")))
    with records.refusals():
        outcome = repository.remove_absence(chosen, absence)
    return _back(chosen, outcome, liberes="freed")
