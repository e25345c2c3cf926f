"""FHIR search as SQL: query-string parsing, one sub-query per parameter, paging.

Repeated parameters are ANDed, comma-separated values ORed, as the FHIR search rules say.
Supported: tokens (``code``, ``system|code``, ``|code``, ``system|``), strings (starts-with, or
``:exact``), references (``Type/id`` or a bare id), dates with the ``eq ne lt le gt ge`` prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from maillage.store.models import Resource, SearchEntry, StoredResource
from maillage.store.search_params import (
    SearchParam,
    normalise_text,
    param,
    parse_date_range,
)

RESULT_PARAMS = {"_count", "_offset", "_format", "_sort"}
DATE_PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge")
MODIFIERS = {
    "token": {"", "not"},
    "string": {"", "exact", "contains"},
    "reference": {""},
    "date": {""},
}


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
        name, _, modifier = key.partition(":")
        if name in RESULT_PARAMS:
            continue
        if name == "_id":
            ids.extend(v for v in raw.split(",") if v)
            continue
        spec = param(resource_type, name)
        if spec is None:
            raise SearchError(f"unknown search parameter {name!r} for {resource_type}")
        if modifier not in MODIFIERS[spec.kind]:
            raise SearchError(f"modifier {modifier!r} is not supported on {name!r}")
        values = tuple(v for v in raw.split(",") if v)
        if not values:
            raise SearchError(f"search parameter {name!r} has no value")
        if any("\x00" in v for v in values):
            raise SearchError(f"search parameter {name!r} holds a NUL character")
        criteria.append(Criterion(spec, modifier, values))
    return criteria, ids


def _token(value: str) -> ColumnElement[bool]:
    if "|" not in value:
        return SearchEntry.value == value
    system, code = value.split("|", 1)
    if not system:
        return and_(SearchEntry.system.is_(None), SearchEntry.value == code)
    if not code:
        return SearchEntry.system == system
    return and_(SearchEntry.system == system, SearchEntry.value == code)


def _string(value: str, modifier: str) -> ColumnElement[bool]:
    text = normalise_text(value)
    if modifier == "exact":
        return SearchEntry.value == text
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%" if modifier == "contains" else f"{escaped}%"
    return SearchEntry.value.like(pattern, escape="\\")


def _reference(spec: SearchParam, value: str) -> ColumnElement[bool]:
    if "/" in value:
        return SearchEntry.value == value
    targets = spec.targets
    if len(targets) == 1:
        return SearchEntry.value == f"{targets[0]}/{value}"
    return SearchEntry.value.like(f"%/{value}")


def _date(value: str, zone: ZoneInfo) -> ColumnElement[bool]:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        low, high = parse_date_range(text, zone)
    except ValueError as error:
        raise SearchError(f"{text!r} is not a FHIR date") from error
    within = and_(SearchEntry.low >= low, SearchEntry.high <= high)
    return {
        "eq": within,
        "ne": not_(within),
        "lt": SearchEntry.low < low,
        "gt": SearchEntry.high > high,
        "le": or_(SearchEntry.low < low, within),
        "ge": or_(SearchEntry.high > high, within),
    }[prefix]


def _condition(criterion: Criterion, zone: ZoneInfo) -> ColumnElement[bool]:
    spec = criterion.spec
    options: list[ColumnElement[bool]] = []
    for value in criterion.values:
        if spec.kind == "token":
            options.append(_token(value))
        elif spec.kind == "string":
            options.append(_string(value, criterion.modifier))
        elif spec.kind == "reference":
            options.append(_reference(spec, value))
        else:
            options.append(_date(value, zone))
    return or_(*options)


def matching(resource_type: str, param_name: str, condition: ColumnElement[bool]) -> Select[Any]:
    """Ids of the resources of a type whose index rows for ``param_name`` meet ``condition``."""
    return select(SearchEntry.resource_id).where(
        SearchEntry.resource_type == resource_type, SearchEntry.param == param_name, condition
    )


def statement(
    resource_type: str,
    criteria: list[Criterion],
    ids: list[str],
    zone: ZoneInfo,
    restrict: ColumnElement[bool] | None = None,
) -> Select[tuple[Resource]]:
    """The SELECT of live resources matching every criterion (and ``restrict``, for access)."""
    query = select(Resource).where(
        Resource.resource_type == resource_type, Resource.deleted.is_(False)
    )
    if ids:
        query = query.where(Resource.id.in_(ids))
    for criterion in criteria:
        inner = matching(resource_type, criterion.spec.name, _condition(criterion, zone))
        if criterion.modifier == "not":
            query = query.where(Resource.id.not_in(inner))
        else:
            query = query.where(Resource.id.in_(inner))
    if restrict is not None:
        query = query.where(restrict)
    return query


def order(resource_type: str, sort: str | None) -> list[ColumnElement[Any]]:
    """ORDER BY for ``_sort`` (a date parameter, ``-`` for descending), ending on a stable key.

    Without ``_sort`` resources come in the order they were last updated.
    """
    if not sort:
        return [Resource.last_updated, Resource.id]
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
    key = earliest.desc() if sort.startswith("-") else earliest.asc()
    return [key, Resource.id]


def page(
    session: Session,
    query: Select[tuple[Resource]],
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
    found = session.connection().execute(statement).all()
    if found:
        return list(found), found[0].total
    if count == 0 or offset > 0:
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        return [], total
    return [], 0
