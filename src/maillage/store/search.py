"""FHIR search as SQL: query-string parsing, one sub-query per parameter, paging.

Repeated parameters are ANDed, comma-separated values ORed, as the FHIR search rules say.
Supported: tokens (``code``, ``system|code``, ``|code``, ``system|``), strings (starts-with, or
``:exact``), references (``Type/id`` or a bare id), dates with the ``eq ne lt le gt ge`` prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    func,
    literal,
    not_,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session

from maillage.store.models import (
    RESOURCES,
    SEARCH_INDEX,
    SLOT_CALENDAR,
    Resource,
    SearchEntry,
    StoredResource,
)
from maillage.store.search_params import (
    ANSWERED_BY,
    CALENDAR_ONLY,
    PARAMS,
    PATIENT,
    SearchParam,
    is_date,
    normalise_text,
    param,
    parse_date_range,
)

_NAMING_PATIENTS = sorted(
    kind
    for kind, specs in PARAMS.items()
    if kind != "Patient" and any(spec.name in ("patient", PATIENT) for spec in specs)
)
"""The types whose resources may name a patient, Patient aside: listed, so that a lookup of a
patient's records probes the index per type rather than reading all of it."""
RESULT_PARAMS = {"_count", "_offset", "_format", "_sort", "_total"}
DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
MODIFIERS = {
    "token": {"", "not"},
    "string": {"", "exact", "contains"},
    "reference": {""},
    "date": {""},
}


SEARCH_DATE = re.compile(
    r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?",
    re.ASCII,
)
"""A date as FHIR search writes it (extended ISO 8601, to the day, minute, second or below):
``datetime.fromisoformat`` also reads ``20260101`` or ``10:00:00.Z``, which FHIR does not."""


class SearchError(ValueError):
    """A search the server cannot run: unknown parameter, bad value or modifier."""


@dataclass(frozen=True)
class Criterion:
    """One ``name[:modifier]=v1,v2`` query parameter, resolved against the declared ones."""

    spec: SearchParam
    modifier: str
    values: tuple[str, ...]


def parse(resource_type: str, query: list[tuple[str, str]]) -> tuple[list[Criterion], list[str]]:
    """Criteria from the query string, and the ids asked for with ``_id``."""
    criteria: list[Criterion] = []
    ids: list[str] = []
    for key, raw in query:
        name, colon, modifier = key.partition(":")
        if name in RESULT_PARAMS:
            continue
        values = tuple(v for v in raw.split(",") if v)
        if name == "_id":
            if colon:  # ``_id:not`` read as ``_id`` would answer the very ids it excludes
                raise SearchError(f"modifier {modifier!r} is not supported on '_id'")
            if not values:
                raise SearchError("search parameter '_id' has no value")
            ids.extend(values)
            continue
        spec = param(resource_type, name)
        if spec is None:
            raise SearchError(f"unknown search parameter {name!r} for {resource_type}")
        if modifier not in MODIFIERS[spec.kind] or (colon and not modifier):
            raise SearchError(f"modifier {modifier!r} is not supported on {name!r}")
        if not values:
            raise SearchError(f"search parameter {name!r} has no value")
        if any("\x00" in v for v in values):
            raise SearchError(f"search parameter {name!r} holds a NUL character")
        criteria.append(Criterion(spec, modifier, values))
    return criteria, ids


@dataclass(frozen=True)
class Columns:
    """Where a criterion's values are compared: the search index by default, or the columns
    of a table that holds some parameters side by side (the slot calendar)."""

    value: Any = SEARCH_INDEX.c.value
    system: Any = SEARCH_INDEX.c.system
    low: Any = SEARCH_INDEX.c.low
    high: Any = SEARCH_INDEX.c.high


INDEX = Columns()
CALENDAR_STATUS = Columns(value=SLOT_CALENDAR.c.status, system=null())
"""A slot's status, held by the calendar alone (a code without a system)."""


#: One value's test: its form (what decides the SQL) and the values the SQL compares with.
Test = tuple[str, dict[str, Any]]


def _token(value: str) -> Test:
    if "|" not in value:
        return "code", {"code": value}
    system, code = value.split("|", 1)
    if not system:
        return "no-system", {"code": code}
    if not code:
        return "system", {"system": system}
    return "system-code", {"system": system, "code": code}


def _string(value: str, modifier: str) -> Test:
    text = normalise_text(value)
    if modifier == "exact":
        return "equal", {"value": text}
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "like", {"value": f"%{escaped}%" if modifier == "contains" else f"{escaped}%"}


def _reference(spec: SearchParam, value: str) -> Test:
    if "/" in value:
        return "equal", {"value": value}
    if len(spec.targets) == 1:
        return "equal", {"value": f"{spec.targets[0]}/{value}"}
    return "like", {"value": f"%/{value}"}


def _date(value: str, zone: ZoneInfo) -> Test:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    if not SEARCH_DATE.fullmatch(text):
        raise SearchError(f"{text!r} is not a FHIR date")
    try:
        low, high = parse_date_range(text, zone)
    except ValueError as error:
        raise SearchError(f"{text!r} is not a FHIR date") from error
    return prefix, {"low": low, "high": high}


def tests(criterion: Criterion, zone: ZoneInfo) -> list[Test]:
    """The tests of a criterion's values (ORed), checked and normalised."""
    spec = criterion.spec
    if spec.kind == "token":
        return [_token(v) for v in criterion.values]
    if spec.kind == "string":
        return [_string(v, criterion.modifier) for v in criterion.values]
    if spec.kind == "reference":
        return [_reference(spec, v) for v in criterion.values]
    return [_date(v, zone) for v in criterion.values]


def sql_of(form: str, at: Columns, bound: dict[str, Any]) -> ColumnElement[bool]:
    """The SQL of one test of form ``form`` on the columns ``at``; ``bound`` maps the test's
    value names to bind parameters (or to the values themselves)."""
    if form == "code":
        return at.value == bound["code"]
    if form == "equal":
        return at.value == bound["value"]
    if form == "no-system":
        return and_(at.system.is_(None), at.value == bound["code"])
    if form == "system":
        return at.system == bound["system"]
    if form == "system-code":
        return and_(at.system == bound["system"], at.value == bound["code"])
    if form == "like":
        return at.value.like(bound["value"], escape="\\")
    low, high = bound["low"], bound["high"]
    within = and_(at.low >= low, at.high <= high)
    return {
        "eq": within,
        "ne": not_(within),
        "lt": at.low < low,
        "gt": at.high > high,
        "le": or_(at.low < low, within),
        "ge": or_(at.high > high, within),
    }[form]


def condition(criterion: Criterion, zone: ZoneInfo, at: Columns = INDEX) -> ColumnElement[bool]:
    """The SQL test of one criterion (its values ORed) on the search index (or ``at``)."""
    return or_(*(sql_of(form, at, values) for form, values in tests(criterion, zone)))


def matching(resource_type: str, param_name: str, condition: ColumnElement[bool]) -> Select[Any]:
    """Ids of the resources of a type whose index rows for ``param_name`` meet ``condition``.

    The rows are named as the partial index that holds them is (``low``, or ``value``, not
    null): a condition such as ``high > x`` or ``system = y`` alone does not tell PostgreSQL
    or SQLite that the index covers it.
    """
    stored = SEARCH_INDEX.c.low if is_date(resource_type, param_name) else SEARCH_INDEX.c.value
    source = ANSWERED_BY.get((resource_type, param_name))
    if source is not None:  # the rows of the untyped parameter, of the right types
        spec = param(resource_type, param_name)
        assert spec is not None
        types = or_(*(SEARCH_INDEX.c.value.like(f"{target}/%") for target in spec.targets))
        condition, param_name = and_(condition, types), source
    return select(SearchEntry.resource_id).where(
        SearchEntry.resource_type == resource_type,
        SearchEntry.param == param_name,
        stored.is_not(None),
        condition,
    )


def statement(
    resource_type: str,
    criteria: Sequence[Criterion],
    ids: Sequence[str],
    zone: ZoneInfo,
    restrict: ColumnElement[bool] | None = None,
) -> Select[Resource]:
    """The SELECT of live resources matching every criterion (and ``restrict``, for access)."""
    query = select(Resource).where(
        Resource.resource_type == resource_type, Resource.deleted.is_(False)
    )
    if ids:
        query = query.where(Resource.id.in_(ids))
    for criterion in criteria:
        if (resource_type, criterion.spec.name) in CALENDAR_ONLY:
            inner = select(SLOT_CALENDAR.c.id).where(condition(criterion, zone, CALENDAR_STATUS))
        else:
            inner = matching(resource_type, criterion.spec.name, condition(criterion, zone))
        if criterion.modifier == "not":
            query = query.where(Resource.id.not_in(inner))
        else:
            query = query.where(Resource.id.in_(inner))
    if restrict is not None:
        query = query.where(restrict)
    return query


def order(resource_type: str, sort: str | None) -> list[ColumnElement[Any]]:
    """ORDER BY for ``_sort`` (a date parameter, ``-`` for descending), ending on a stable key.

    Without ``_sort`` resources come in the order they were last updated, slots by start (a
    booking client wants the soonest; the slot calendar reads them in that order).
    """
    if not sort and resource_type == "Slot":
        sort = "start"
    if not sort:
        return [RESOURCES.c.last_updated, RESOURCES.c.id]
    name = sort.removeprefix("-")
    spec = param(resource_type, name)
    if spec is None or spec.kind != "date" or "," in sort:
        raise SearchError(f"_sort supports one date parameter of {resource_type}, not {sort!r}")
    earliest = (
        select(func.min(SearchEntry.low))
        .where(
            SearchEntry.resource_type == resource_type,
            SearchEntry.resource_id == Resource.id,
            SearchEntry.param == name,
        )
        .scalar_subquery()
    )
    if sort.startswith("-"):
        return [earliest.desc(), RESOURCES.c.id.desc()]
    return [earliest.asc(), RESOURCES.c.id]


def page(
    connection: Connection,
    query: Select[Resource],
    ordering: list[ColumnElement[Any]],
    count: int,
    offset: int,
) -> tuple[list[StoredResource], int]:
    """One page in the given order and the total number of matches.

    The total rides along as a window count, so a page costs one statement; only a page with
    no row (``_count=0``, or past the end) needs a separate count. Rows come as plain rows of
    the resource table (read-only), which costs far less than loading ORM objects.
    """
    counted = query.add_columns(func.count().over().label("total"))
    statement = counted.order_by(*ordering).limit(count).offset(offset)
    found = connection.execute(statement).all()
    if found:
        return list(found), found[0].total
    if count == 0 or offset > 0:
        counted_all = select(func.count()).select_from(query.subquery())
        return [], connection.execute(counted_all).scalar_one()
    return [], 0


def param_is(param_column: Any, name: str) -> ColumnElement[bool]:
    """``param_column = name`` with the name written into the SQL, not bound: a plan made for
    any value (a prepared statement's generic plan) could not use a partial index whose
    predicate names the parameter (the ``_actor`` rows' index)."""
    condition: ColumnElement[bool] = param_column == literal(name, literal_execute=True)
    return condition


def names_patient(session: Session, reference: str) -> bool:
    """Whether any indexed resource other than a Patient names ``reference`` as its patient."""
    found = select(SearchEntry.resource_id).where(
        SearchEntry.resource_type.in_(_NAMING_PATIENTS),
        SearchEntry.param == PATIENT,
        SearchEntry.value == reference,
    )
    return session.execute(found.limit(1)).first() is not None
