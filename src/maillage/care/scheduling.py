"""Slots generated from an availability template given as a FHIR ``Parameters`` resource::

    start, end        valueDate, inclusive local days (at most 366 days)
    slotMinutes       valuePositiveInt
    timezone          valueCode, an IANA zone (default MAILLAGE_TIMEZONE; overseas zones too)
    availability *    parts: daysOfWeek (valueCode mon … sun, repeated),
                      availableStartTime, availableEndTime (valueTime)
    break *           parts: start, end (valueTime), cut out of every day

Each slot's id is derived from its schedule and start instant, so re-running the operation over
an overlapping range creates only the missing slots: the primary key makes it idempotent even
between concurrent runs (the loser gets a conflict). Existing slots are left as they are.

A schedule's exceptions (holidays, absences: :data:`maillage.care.codes.ABSENCE_URL`) are
days on which no slot is generated; recording one withdraws the free slots it covers
(``busy-unavailable``, its reason as the slot's comment) and tells how many are already booked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from maillage.care.availability import (
    AvailabilityTemplate,
    Slot,
    generate_slots,
    slot_resources,
)
from maillage.care.codes import ABSENCE_URL
from maillage.care.errors import Unprocessable
from maillage.config import Settings
from maillage.store import resources, search
from maillage.store.models import Resource

MAX_DAYS = 366
GENERATED_YEARS = (1900, 9998)
"""Years slots may be generated in: their instants in UTC stay within ``datetime``'s range."""
SLOT_IDS = uuid.UUID("5b1e0c44-6c55-4b0e-9a57-0d5c1b7f3a10")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Body = dict[str, Any]


_JSON_TYPES: dict[str, type] = {"valuePositiveInt": int}
"""The JSON type of the values that are not strings (the FHIR models also take ``"20"``)."""


def _value(parameter: Body, key: str) -> Any:
    if key not in parameter:
        raise Unprocessable(f"parameter {parameter.get('name')!r} needs {key}")
    value = parameter[key]
    wanted = _JSON_TYPES.get(key, str)
    if not isinstance(value, wanted) or isinstance(value, bool):
        raise Unprocessable(
            f"parameter {parameter.get('name')!r}: {key} must be a JSON {wanted.__name__}"
        )
    return value


def _time(parameter: Body) -> time:
    return time.fromisoformat(_value(parameter, "valueTime"))


def _day(parameter: Body) -> date:
    text = _value(parameter, "valueDate")
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise Unprocessable(f"{parameter['name']} must be a full date, not {text!r}") from error


def _period(parts: list[Body], start: str, end: str) -> tuple[time, time]:
    named = {p["name"]: p for p in parts}
    if start not in named or end not in named:
        raise Unprocessable(f"a period needs the parts {start} and {end}")
    return _time(named[start]), _time(named[end])


def template_of(parameters: Body, default_zone: str) -> tuple[AvailabilityTemplate, date, date]:
    """The availability template and the day range a ``Parameters`` resource describes."""
    weekly: dict[int, list[tuple[time, time]]] = {}
    breaks: list[tuple[time, time]] = []
    singles: dict[str, Body] = {}
    for parameter in parameters.get("parameter", []):
        name, parts = parameter["name"], parameter.get("part", [])
        if name == "availability":
            days = [p.get("valueCode") for p in parts if p["name"] == "daysOfWeek"]
            if not days or not set(days) <= set(DAYS):
                raise Unprocessable(f"availability needs daysOfWeek among {', '.join(DAYS)}")
            period = _period(parts, "availableStartTime", "availableEndTime")
            for day in days:
                weekly.setdefault(DAYS.index(day), []).append(period)
        elif name == "break":
            breaks.append(_period(parts, "start", "end"))
        else:
            singles[name] = parameter
    missing = {"start", "end", "slotMinutes"} - singles.keys()
    if missing or not weekly:
        raise Unprocessable(f"missing parameters: {', '.join(sorted(missing)) or 'availability'}")
    first, last = _day(singles["start"]), _day(singles["end"])
    if not (GENERATED_YEARS[0] <= first.year and last.year <= GENERATED_YEARS[1]):
        raise Unprocessable(
            f"slots are generated from {GENERATED_YEARS[0]} to {GENERATED_YEARS[1]} only"
        )
    if not timedelta(0) <= last - first < timedelta(days=MAX_DAYS):
        raise Unprocessable(f"end must be on or after start, at most {MAX_DAYS} days later")
    zone = _value(singles["timezone"], "valueCode") if "timezone" in singles else default_zone
    try:
        template = AvailabilityTemplate(
            weekly=weekly,
            slot_minutes=_value(singles["slotMinutes"], "valuePositiveInt"),
            timezone=zone,
            breaks=breaks,
        )
    except ValueError as error:
        raise Unprocessable(str(error), code="business-rule") from error
    return template, first, last


def slot_id(schedule_id: str, start: str) -> str:
    """The id of the slot of a schedule starting at ``start`` (the same on every run)."""
    return str(uuid.uuid5(SLOT_IDS, f"Schedule/{schedule_id}|{start}"))


@dataclass(frozen=True)
class Absence:
    """An exception to a schedule's template: the local days ``first``..``last``, and why."""

    first: date
    last: date
    reason: str

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last

    def extension(self) -> Body:
        """The Schedule extension that records it."""
        period = {"start": self.first.isoformat(), "end": self.last.isoformat()}
        return {
            "url": ABSENCE_URL,
            "extension": [
                {"url": "period", "valuePeriod": period},
                {"url": "reason", "valueString": self.reason},
            ],
        }


def _absence_of(extension: Body) -> Absence:
    parts = {part.get("url"): part for part in extension.get("extension") or []}
    period = parts.get("period", {}).get("valuePeriod") or {}
    return Absence(
        date.fromisoformat(period["start"]),
        date.fromisoformat(period["end"]),
        parts.get("reason", {}).get("valueString", ""),
    )


def absences(schedule: Body) -> list[Absence]:
    """The exceptions recorded on a Schedule, earliest first."""
    found = [
        _absence_of(extension)
        for extension in schedule.get("extension") or []
        if extension.get("url") == ABSENCE_URL
    ]
    return sorted(found, key=lambda a: (a.first, a.last))


def planned(
    template: AvailabilityTemplate, first: date, last: date, away: Sequence[Absence] = ()
) -> list[Slot]:
    """The template's slots over first..last, less those on a day of an exception: what
    :func:`generate` creates, and what a page previews."""
    return [
        (start, end)
        for start, end in generate_slots(template, first, last)
        if not any(a.covers(start.astimezone(template.zone).date()) for a in away)
    ]


def generate(session: Session, settings: Settings, schedule_id: str, parameters: Body) -> Body:
    """Create the missing slots of a schedule, outside its exceptions; the outcome counts
    created and existing ones."""
    schedule = resources.read(session, "Schedule", schedule_id)
    template, first, last = template_of(parameters, settings.timezone)
    service = (
        {"serviceType": schedule.body["serviceType"]} if "serviceType" in schedule.body else {}
    )
    made = planned(template, first, last, absences(schedule.body))
    slots = {
        slot_id(schedule_id, slot["start"]): {**slot, **service}
        for slot in slot_resources(f"Schedule/{schedule_id}", made)
    }
    existing = set(
        session.execute(
            select(Resource.id).where(Resource.resource_type == "Slot", Resource.id.in_(slots))
        ).scalars()
    )
    for target, slot in slots.items():
        if target not in existing:
            resources.save(session, slot, settings.zone, resource_id=target)
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "created", "valueInteger": len(slots) - len(existing)},
            {"name": "existing", "valueInteger": len(existing)},
        ],
    }


def _with_extensions(session: Session, settings: Settings, schedule: Resource, kept: list) -> Body:
    """Store the schedule with these extensions (refused if it changed meanwhile)."""
    body = {key: value for key, value in schedule.body.items() if key not in ("meta", "extension")}
    body |= {"extension": kept} if kept else {}
    resources.save(
        session, body, settings.zone, resource_id=schedule.id, if_match=schedule.version_id
    )
    return body


def _slots_within(
    session: Session, settings: Settings, schedule_id: str, absence: Absence
) -> list[Resource]:
    """The schedule's slots starting on the absence's local days."""
    query = [
        ("schedule", f"Schedule/{schedule_id}"),
        ("start", f"ge{absence.first.isoformat()}"),
        ("start", f"lt{(absence.last + timedelta(days=1)).isoformat()}"),
    ]
    criteria, _ = search.parse("Slot", query)
    return list(session.scalars(search.statement("Slot", criteria, [], settings.zone)))


def _set_status(session: Session, settings: Settings, row: Resource, changes: Body) -> None:
    body = {key: value for key, value in row.body.items() if key not in ("meta", "comment")}
    resources.save(
        session, body | changes, settings.zone, resource_id=row.id, if_match=row.version_id
    )


def add_absence(session: Session, settings: Settings, schedule_id: str, absence: Absence) -> Body:
    """Record an exception on a schedule and withdraw the free slots of its days; the outcome
    counts the slots withdrawn and those already booked (to move or cancel)."""
    if absence.last < absence.first:
        raise Unprocessable("an absence ends on or after the day it starts")
    if not absence.reason.strip():
        raise Unprocessable("an absence needs a reason")
    schedule = resources.read(session, "Schedule", schedule_id)
    _with_extensions(
        session, settings, schedule, [*schedule.body.get("extension", []), absence.extension()]
    )
    rows = _slots_within(session, settings, schedule_id, absence)
    free = [row for row in rows if row.body.get("status") == "free"]
    for row in free:
        _set_status(
            session, settings, row, {"status": "busy-unavailable", "comment": absence.reason}
        )
    booked = sum(1 for row in rows if row.body.get("status") == "busy")
    return {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "withdrawn", "valueInteger": len(free)},
            {"name": "booked", "valueInteger": booked},
        ],
    }


def remove_absence(
    session: Session, settings: Settings, schedule_id: str, absence: Absence
) -> Body:
    """Remove an exception from a schedule and free again the slots it withdrew (those of its
    days still unavailable for its reason, outside any other exception); the outcome counts
    them."""
    schedule = resources.read(session, "Schedule", schedule_id)
    extensions = schedule.body.get("extension", [])
    kept = [
        e for e in extensions if not (e.get("url") == ABSENCE_URL and _absence_of(e) == absence)
    ]
    if len(kept) == len(extensions):
        raise Unprocessable("this schedule has no such absence")
    others = absences(_with_extensions(session, settings, schedule, kept))
    zone = settings.zone
    freed = [
        row
        for row in _slots_within(session, settings, schedule_id, absence)
        if row.body.get("status") == "busy-unavailable"
        and row.body.get("comment") == absence.reason
        and not any(other.covers(_local_day(row.body["start"], zone)) for other in others)
    ]
    for row in freed:
        _set_status(session, settings, row, {"status": "free"})
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": "freed", "valueInteger": len(freed)}],
    }


def _local_day(instant: str, zone: ZoneInfo) -> date:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(zone).date()
