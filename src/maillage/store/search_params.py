"""Search parameters: which values of a resource are indexed, and how each kind is normalised.

Only the parameters declared here are searchable; the CapabilityStatement is built from the same
table, so what the server announces is exactly what it does. Two hidden parameters drive access
control: ``_patient`` (the patient compartment) and ``_actor`` (the people, sites and
organisations that have a care relationship through the resource). ``_due`` indexes a Task's due
date (``restriction.period.end``) for the télé-expertise overdue list.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

Kind = Literal["token", "string", "reference", "date"]
PATIENT = "_patient"
ACTOR = "_actor"
VOID_APPOINTMENT = frozenset({"cancelled", "entered-in-error"})
"""Appointment statuses that give a site no care relationship: their places are not indexed
as actors, so a cancelled proposal opens no patient's record to a site (the practitioners
named keep theirs: they took part, and read what they cancelled)."""
SITE_TYPES = frozenset({"Location", "Organization", "HealthcareService"})
DUE = "_due"


@dataclass(frozen=True)
class SearchParam:
    """A FHIR search parameter: its name, kind and the dotted paths it reads.

    ``targets`` restricts a reference parameter to references of those resource types.
    """

    name: str
    kind: Kind
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class IndexValue:
    """One row of the search index, before it gets its resource's keys."""

    param: str
    system: str | None = None
    value: str | None = None
    low: datetime | None = None
    high: datetime | None = None


def _p(name: str, kind: Kind, *paths: str, targets: tuple[str, ...] = ()) -> SearchParam:
    return SearchParam(name, kind, paths, targets)


_IDENTIFIER = _p("identifier", "token", "identifier")
_PATIENT_ONLY = ("Patient",)

PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Organization": (
        _IDENTIFIER,
        _p("name", "string", "name", "alias"),
        _p("type", "token", "type"),
        _p("address-city", "string", "address.city"),
        _p("partof", "reference", "partOf"),
        _p("active", "token", "active"),
    ),
    "Location": (
        _IDENTIFIER,
        _p("name", "string", "name", "alias"),
        _p("type", "token", "type"),
        _p("status", "token", "status"),
        _p("address-city", "string", "address.city"),
        _p("address-postalcode", "string", "address.postalCode"),
        # maillage's own: the commune's INSEE code, FR Core's address extension (the only
        # coded extension of an address here), e.g. ``address-insee=55545``.
        _p("address-insee", "token", "address.extension.valueCoding"),
        _p("organization", "reference", "managingOrganization"),
    ),
    "HealthcareService": (
        _IDENTIFIER,
        _p("name", "string", "name"),
        _p("organization", "reference", "providedBy"),
        _p("location", "reference", "location"),
        _p("service-type", "token", "type"),
        _p("active", "token", "active"),
    ),
    "Practitioner": (
        _IDENTIFIER,
        _p("name", "string", "name"),
        _p("family", "string", "name.family"),
        _p("active", "token", "active"),
    ),
    "PractitionerRole": (
        _IDENTIFIER,
        _p("practitioner", "reference", "practitioner"),
        _p("organization", "reference", "organization"),
        _p("location", "reference", "location"),
        _p("role", "token", "code"),
        _p("specialty", "token", "specialty"),
        _p("active", "token", "active"),
    ),
    "Patient": (
        _IDENTIFIER,
        _p("name", "string", "name"),
        _p("family", "string", "name.family"),
        _p("given", "string", "name.given"),
        _p("birthdate", "date", "birthDate"),
        _p("gender", "token", "gender"),
        _p("address-city", "string", "address.city"),
        _p("general-practitioner", "reference", "generalPractitioner"),
        _p("organization", "reference", "managingOrganization"),
        _p(ACTOR, "reference", "generalPractitioner", "managingOrganization"),
    ),
    "Consent": (
        _p("patient", "reference", "patient", targets=_PATIENT_ONLY),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p("date", "date", "dateTime"),
        _p(ACTOR, "reference", "performer", "organization"),
    ),
    "Schedule": (
        _IDENTIFIER,
        _p("actor", "reference", "actor"),
        _p("active", "token", "active"),
        _p("service-type", "token", "serviceType"),
        _p("date", "date", "planningHorizon"),
    ),
    "Slot": (
        _IDENTIFIER,
        _p("schedule", "reference", "schedule"),
        _p("start", "date", "start"),
        _p("status", "token", "status"),
        _p("service-type", "token", "serviceType"),
    ),
    "Appointment": (
        _IDENTIFIER,
        _p("patient", "reference", "participant.actor", targets=_PATIENT_ONLY),
        _p("practitioner", "reference", "participant.actor", targets=("Practitioner",)),
        _p("location", "reference", "participant.actor", targets=("Location",)),
        _p("actor", "reference", "participant.actor"),
        _p("date", "date", "start"),
        _p("status", "token", "status"),
        _p("slot", "reference", "slot"),
        _p("service-type", "token", "serviceType"),
        _p(ACTOR, "reference", "participant.actor"),
    ),
    "Encounter": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("status", "token", "status"),
        _p("class", "token", "class"),
        _p("date", "date", "period"),
        _p("appointment", "reference", "appointment"),
        _p("practitioner", "reference", "participant.individual", targets=("Practitioner",)),
        _p("location", "reference", "location.location"),
        _p(ACTOR, "reference", "participant.individual", "location.location", "serviceProvider"),
    ),
    "DocumentReference": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("status", "token", "status"),
        _p("type", "token", "type"),
        _p("date", "date", "date"),
        _p("encounter", "reference", "context.encounter"),
        _p("author", "reference", "author"),
        _p(ACTOR, "reference", "author", "custodian"),
    ),
    "ServiceRequest": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("requester", "reference", "requester"),
        _p("performer", "reference", "performer"),
        _p("status", "token", "status"),
        _p("intent", "token", "intent"),
        _p("code", "token", "code"),
        _p("authored", "date", "authoredOn"),
        _p(ACTOR, "reference", "requester", "performer"),
    ),
    "Task": (
        _IDENTIFIER,
        _p("patient", "reference", "for", targets=_PATIENT_ONLY),
        _p("owner", "reference", "owner"),
        _p("requester", "reference", "requester"),
        _p("status", "token", "status"),
        _p("code", "token", "code"),
        _p("based-on", "reference", "basedOn"),
        _p("focus", "reference", "focus"),
        _p("authored-on", "date", "authoredOn"),
        _p("modified", "date", "lastModified"),
        _p("period", "date", "executionPeriod"),
        _p(DUE, "date", "restriction.period.end"),
        _p(ACTOR, "reference", "requester", "owner", "restriction.recipient"),
    ),
    "CareTeam": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("participant", "reference", "participant.member"),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p(ACTOR, "reference", "participant.member", "participant.onBehalfOf"),
    ),
    "CarePlan": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("care-team", "reference", "careTeam"),
        _p("performer", "reference", "activity.detail.performer"),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p("date", "date", "period"),
    ),
    "Communication": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("sender", "reference", "sender"),
        _p("recipient", "reference", "recipient"),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p("part-of", "reference", "partOf"),
        _p("based-on", "reference", "basedOn"),
        _p("sent", "date", "sent"),
    ),
    "Observation": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("code", "token", "code"),
        _p("component-code", "token", "component.code"),
        _p("date", "date", "effectiveDateTime", "effectivePeriod", "effectiveInstant"),
        _p("device", "reference", "device"),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p("performer", "reference", "performer"),
        _p(ACTOR, "reference", "performer"),
    ),
    "List": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("code", "token", "code"),
        _p("status", "token", "status"),
        _p("item", "reference", "entry.item"),
        _p("date", "date", "date"),
    ),
    "Flag": (
        _IDENTIFIER,
        _p("patient", "reference", "subject", targets=_PATIENT_ONLY),
        _p("status", "token", "status"),
        _p("category", "token", "category"),
        _p("date", "date", "period"),
        _p("author", "reference", "author"),
    ),
    "Binary": (_p(PATIENT, "reference", "securityContext", targets=_PATIENT_ONLY),),
    "AuditEvent": (
        _p("date", "date", "recorded"),
        _p("agent", "reference", "agent.who"),
        _p("altid", "token", "agent.altId"),
        _p("entity", "reference", "entity.what"),
        _p("patient", "reference", "entity.what", targets=_PATIENT_ONLY),
        _p("action", "token", "action"),
        _p("outcome", "token", "outcome"),
        _p("subtype", "token", "subtype"),
    ),
}


def _answered_by() -> dict[tuple[str, str], str]:
    """Typed reference parameters whose rows would repeat those of an untyped public parameter
    over the same paths: a stored reference names its type, so ``Appointment?patient=Patient/x``
    is ``actor=Patient/x`` (see :func:`maillage.store.search.matching`). Their own rows cost
    every write of a booking three B-tree insertions each (issue 23)."""
    found = {}
    for resource_type, specs in PARAMS.items():
        references = [spec for spec in specs if spec.kind == "reference"]
        untyped = {
            spec.paths: spec.name
            for spec in references
            if not spec.targets and not spec.name.startswith("_")
        }
        for spec in references:
            if spec.targets and spec.paths in untyped:
                found[resource_type, spec.name] = untyped[spec.paths]
    return found


ANSWERED_BY = _answered_by()
"""(resource type, parameter) → the parameter whose index rows answer it."""
CALENDAR_ONLY = frozenset({("Slot", "status")})
"""Parameters only the slot calendar holds (:class:`maillage.store.models.SlotCalendar`,
searched there by :func:`maillage.store.search.statement`): a booking changes a slot's status
and nothing else it indexes, and rewrote the status's search-index row beside the calendar's,
a heap row and two B-tree insertions for each slot it took (issue 23)."""


def public_params(resource_type: str) -> tuple[SearchParam, ...]:
    """The parameters a client may use (hidden access-control ones left out)."""
    return tuple(p for p in PARAMS.get(resource_type, ()) if not p.name.startswith("_"))


def param(resource_type: str, name: str) -> SearchParam | None:
    """Look one public parameter up by name."""
    return next((p for p in public_params(resource_type) if p.name == name), None)


def is_date(resource_type: str, name: str) -> bool:
    """Whether a parameter, hidden or not, indexes dates (its rows fill ``low``/``high``)."""
    return any(p.name == name and p.kind == "date" for p in PARAMS.get(resource_type, ()))


def _walk(node: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path)
        return
    if not path:
        if node is not None:
            yield node
        return
    if isinstance(node, dict):
        yield from _walk(node.get(path[0]), path[1:])


def normalise_text(text: str) -> str:
    """Case- and accent-insensitive form used for string parameters (FHIR's default match)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def normalise_reference(reference: str) -> str | None:
    """``Type/id`` from a relative or absolute literal reference, or None (e.g. ``#contained``)."""
    match = _REFERENCE.search(reference)
    return match.group(1) if match else None


def _tokens(value: Any) -> Iterator[tuple[str | None, str]]:
    if isinstance(value, bool):
        yield None, str(value).lower()
    elif isinstance(value, str):
        yield None, value
    elif isinstance(value, dict):
        if "coding" in value:
            for coding in value["coding"]:
                yield from _tokens(coding)
        elif "value" in value:
            yield value.get("system"), str(value["value"])
        elif "code" in value:
            yield value.get("system"), str(value["code"])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "postalCode"):
            for item in _walk(value.get(key), []):
                if isinstance(item, str):
                    yield item


_LEAP_SECOND = re.compile(r"(T\d{2}:\d{2}):60(\.\d+)?")


def parse_moment(text: str) -> datetime:
    """A FHIR dateTime or instant with a time, naive when it has no offset. A leap second
    (``23:59:60``, valid FHIR, unknown to ``datetime``) is the last instant of its minute."""
    return datetime.fromisoformat(_LEAP_SECOND.sub(r"\1:59.999999", text).replace("Z", "+00:00"))


@lru_cache(maxsize=4096)
def parse_date_range(text: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The closed UTC range a FHIR date, dateTime or instant covers at its precision.

    Values without an offset are read in ``zone``; ``2026`` covers the whole year. Ranges are
    clamped to what ``datetime`` holds, so that dates of year 1 or 9999 (valid FHIR) index and
    search instead of overflowing. Kept for the last values read (an immutable answer): slot
    searches ask for the same days again and again, and a booking reads its start and end in
    its index rows, its period and its policy.
    """
    text = text.strip()
    if re.fullmatch(r"\d{4}", text, re.ASCII):
        start, unit = datetime(int(text), 1, 1), "year"
    elif re.fullmatch(r"\d{4}-\d{2}", text, re.ASCII):
        year, month = map(int, text.split("-"))
        start, unit = datetime(year, month, 1), "month"
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):
        start, unit = datetime.combine(date.fromisoformat(text), time()), "day"
    else:
        moment = parse_moment(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        utc = _to_utc(moment)
        precision = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
        try:
            return utc, utc + precision - timedelta(microseconds=1)
        except OverflowError:
            return utc, datetime.max
    low = _to_utc(start.replace(tzinfo=zone))
    end = _following(start, unit)
    if end is None:
        return low, datetime.max
    return low, _to_utc(end.replace(tzinfo=zone)) - timedelta(microseconds=1)


def _following(start: datetime, unit: str) -> datetime | None:
    """The start of the next year, month or day; None past the year 9999."""
    try:
        if unit == "year":
            return start.replace(year=start.year + 1)
        if unit == "month":
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start + timedelta(days=1)
    except (ValueError, OverflowError):
        return None


def _to_utc(moment: datetime) -> datetime:
    offset = moment.utcoffset()
    assert offset is not None
    try:
        return (moment - offset).replace(tzinfo=None)
    except OverflowError:  # within hours of the year 1 or 9999: the earliest or latest instant
        return datetime.min if moment.year == 1 else datetime.max


def _dates(value: Any, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    if isinstance(value, str):
        yield parse_date_range(value, zone)
    elif isinstance(value, dict) and ("start" in value or "end" in value):
        low = parse_date_range(value["start"], zone)[0] if "start" in value else datetime.min
        high = parse_date_range(value["end"], zone)[1] if "end" in value else datetime.max
        yield low, high


def _values(spec: SearchParam, body: dict[str, Any], zone: ZoneInfo) -> Iterator[IndexValue]:
    for path in spec.paths:
        for found in _walk(body, path.split(".")):
            if spec.kind == "token":
                for system, code in _tokens(found):
                    yield IndexValue(spec.name, system=system, value=code[:255])
            elif spec.kind == "string":
                for text in _strings(found):
                    yield IndexValue(spec.name, value=normalise_text(text)[:255])
            elif spec.kind == "reference":
                target = found.get("reference") if isinstance(found, dict) else None
                ref = normalise_reference(target) if target else None
                if ref and (not spec.targets or ref.split("/")[0] in spec.targets):
                    yield IndexValue(spec.name, value=ref)
            else:
                for low, high in _dates(found, zone):
                    yield IndexValue(spec.name, low=low, high=high)


def _site_actor(row: IndexValue) -> bool:
    return row.param == ACTOR and str(row.value).split("/")[0] in SITE_TYPES


_COMPARTMENT_SOURCES = frozenset({"patient", PATIENT})
"""The parameters whose values :func:`extract` copies into the compartment rows."""


def patients_of(
    resource_type: str, resource_id: str, body: dict[str, Any], zone: ZoneInfo
) -> set[str]:
    """The patients a resource is about: the values of its compartment rows (:func:`extract`),
    reading only the parameters they come from (a booking asks before its index rows exist,
    and all of an Appointment's rows cost it twice as much, issue 23)."""
    found = {
        row.value
        for spec in PARAMS.get(resource_type, ())
        if spec.name in _COMPARTMENT_SOURCES
        for row in _values(spec, body, zone)
        if row.value
    }
    return found | {f"Patient/{resource_id}"} if resource_type == "Patient" else found


def extract(
    resource_type: str, resource_id: str, body: dict[str, Any], zone: ZoneInfo
) -> list[IndexValue]:
    """All index rows of a resource, deduplicated, including the hidden compartment rows."""
    rows: dict[IndexValue, None] = {}
    for spec in PARAMS.get(resource_type, ()):
        for row in _values(spec, body, zone):
            rows[row] = None
    if resource_type == "Patient":
        rows[IndexValue(PATIENT, value=f"Patient/{resource_id}")] = None
    for row in list(rows):
        if row.param == "patient":
            rows[IndexValue(PATIENT, value=row.value)] = None
    void = resource_type == "Appointment" and body.get("status") in VOID_APPOINTMENT
    return [
        row
        for row in rows
        if (resource_type, row.param) not in ANSWERED_BY and not (void and _site_actor(row))
    ]
