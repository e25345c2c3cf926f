"""The FHIR R4 REST interactions at ``/fhir``: read, vread, search, create, update, delete.

Each handler follows the same steps: authenticate, check the role may touch the type, do the
work in one transaction with the patient-compartment check, and audit patient data, allowed or
refused (a refusal is audited in its own transaction, since the work's one is rolled back).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

import psycopg
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Connection, Select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from maillage.api import content, monitoring
from maillage.api.auth import BEARER, optional_principal_async
from maillage.api.capability import capability_statement
from maillage.api.errors import FHIRError, FHIRResponse, from_domain, lost_database
from maillage.care import (
    appointments,
    attachments,
    audit,
    booking,
    comptes_rendus,
    confirmations,
    encounters,
    french,
    policy,
    teleexpertise,
    validation,
)
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.config import Settings
from maillage.store import resources, search, slot_calendar
from maillage.store.database import autocommit, transaction
from maillage.store.models import Resource, ResourceVersion, StoredResource
from maillage.store.search_params import ACTOR, PATIENT, extract
from maillage.store.users import Role

DEFAULT_COUNT, MAX_COUNT = 50, 500
router = APIRouter(prefix="/fhir", tags=["fhir"], dependencies=[Depends(content.json_only)])


async def _credentials(request: Request) -> Principal | FHIRError | None:
    """The principal, or the 401 its token earned, kept so the refusal can be audited."""
    try:
        return await optional_principal_async(request)
    except FHIRError as error:
        return error


OptionalPrincipal = Annotated[Principal | FHIRError | None, Depends(_credentials)]

_STORE_STATUS = {
    resources.NotFound: 404,
    resources.Gone: 410,
    resources.VersionConflict: 409,
    resources.PreconditionFailed: 412,
}


@dataclass
class Exchange:
    """One request on one resource type: its context, and the entities touched so far."""

    request: Request
    credentials: Principal | FHIRError | None
    resource_type: str
    interaction: str
    entities: list[str] = field(default_factory=list)

    @property
    def principal(self) -> Principal | None:
        return self.credentials if isinstance(self.credentials, Principal) else None

    @property
    def settings(self) -> Settings:
        return self.request.app.state.settings

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.request.app.state.sessions

    @property
    def audited(self) -> bool:
        return policy.is_patient_data(self.resource_type)

    def access(self) -> audit.Access:
        client = self.request.client
        return audit.Access(self.principal, client.host if client else "", self.interaction)

    def search_statement(
        self, who: Principal, criteria: list[search.Criterion], ids: list[str]
    ) -> Select[tuple[Resource]]:
        """The SQL of a search, narrowed to what ``who`` may see (patients, sites, teams)."""
        return search.statement(
            self.resource_type,
            criteria,
            ids,
            self.settings.zone,
            policy.search_restriction(who, self.resource_type),
        )

    def authorize(self, *, write: bool) -> Principal:
        """The principal, once the role is allowed the type; otherwise an audited 401/403."""
        if self.resource_type not in policy.SUPPORTED_TYPES:
            raise FHIRError(404, f"resource type {self.resource_type!r} is not supported")
        if write and self.resource_type in policy.READ_ONLY_TYPES:
            raise FHIRError(405, f"{self.resource_type} is written by the server only")
        with self.failures():
            if isinstance(self.credentials, FHIRError):
                raise self.credentials
            if self.principal is None:
                raise FHIRError(401, "authentication required", headers=BEARER)
            reason = policy.type_refusal(self.principal, self.resource_type, write=write)
            if reason:
                raise FHIRError(403, reason)
            return self.principal

    def succeeded(self, session: Session) -> None:
        """Audit a successful access to patient data in the work's own transaction."""
        if self.audited:
            audit.record(session, self.settings, self.access(), self.entities, audit.SUCCESS)

    @contextmanager
    def failures(self) -> Iterator[None]:
        """Turn store errors into FHIR errors and audit the failure of a patient-data access."""
        try:
            yield
        except resources.StoreError as error:
            status = _STORE_STATUS.get(type(error), 400)
            self._audit_failure(status, str(error))
            raise FHIRError(status, str(error)) from error
        except search.SearchError as error:
            self._audit_failure(400, str(error))
            raise FHIRError(400, str(error)) from error
        except FHIRError as error:
            self._audit_failure(error.status, error.diagnostics)
            raise
        except DomainError as error:
            answer = from_domain(error)
            self._audit_failure(answer.status, answer.diagnostics)
            raise answer from error

    def _audit_failure(self, status: int, reason: str) -> None:
        if not self.audited:
            return
        outcome = audit.SERIOUS_FAILURE if status in (401, 403) else audit.MINOR_FAILURE
        with transaction(self.sessions) as session:
            audit.record(
                session, self.settings, self.access(), self.entities, outcome, f"{status} {reason}"
            )

    def compartment(self, resource_id: str, body: dict[str, Any]) -> set[str]:
        """The patients a resource is about."""
        rows = extract(self.resource_type, resource_id, body, self.settings.zone)
        return {row.value for row in rows if row.param == PATIENT and row.value}

    def check_patients(
        self, session: Session, patients: set[str], as_type: str | None = None
    ) -> None:
        """403 unless the principal may see every one of ``patients`` (in ``as_type``, by
        default the exchange's type)."""
        self.entities.extend(sorted(patients))
        assert self.principal is not None
        as_type = self.resource_type if as_type is None else as_type
        refused = policy.refused_patients(session, self.principal, patients, as_type)
        if refused:
            raise FHIRError(403, "no care relationship with " + ", ".join(sorted(refused)))


def outgoing(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """A stored body as clients see it: French rules applied, attachments inlined."""
    return attachments.inline(settings, french.outgoing(body))


def _resource_response(
    settings: Settings, row: StoredResource | ResourceVersion, status: int = 200
) -> FHIRResponse:
    headers = {
        "ETag": f'W/"{row.version_id}"',
        "Last-Modified": row.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    if status == 201:
        headers["Location"] = f"{row.resource_type}/{row.id}/_history/{row.version_id}"
    return FHIRResponse(outgoing(settings, row.body), status_code=status, headers=headers)


def _if_match(request: Request) -> int | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    digits = header.removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise FHIRError(400, f'If-Match must be a version such as W/"3", not {header!r}')
    return int(digits)


@router.get("/metadata")
def metadata(request: Request) -> FHIRResponse:
    """The CapabilityStatement (public, as FHIR expects)."""
    return FHIRResponse(
        capability_statement(str(request.base_url) + "fhir", request.app.state.started)
    )


@router.get("/{resource_type}")
async def search_type(
    resource_type: str, request: Request, principal: OptionalPrincipal
) -> Response:
    """Search, answered with a ``searchset`` Bundle paged by ``_count`` and ``_offset``,
    sorted by ``_sort`` when given.

    On PostgreSQL a search for slots that the slot calendar can answer (a booking client's)
    runs on the event loop through psycopg's asynchronous pool; the others, and every search
    on SQLite, in a worker thread.
    """
    exchange = Exchange(request, principal, resource_type, "search-type")
    reads: AsyncConnectionPool | None = request.app.state.reads
    wanted = None
    if resource_type == "Slot" and reads is not None:
        assert not exchange.audited  # so authorize() and failures() do no I/O here
        exchange.authorize(write=False)
        with exchange.failures():
            wanted = _wanted(request)
            if slot_calendar.answers(wanted.criteria, wanted.ids, wanted.sort):
                rows, total = await _from_calendar(reads, exchange.settings, wanted)
                return FHIRResponse(bundle(request, resource_type, rows, total, *wanted.page))
    return await run_in_threadpool(_search, exchange, wanted)


def _search(exchange: Exchange, wanted: Wanted | None) -> Response:
    """A search in a worker thread (``wanted``: already parsed, or None): audited searches in
    a transaction with their AuditEvent, the others in autocommit."""
    who = exchange.authorize(write=False)
    with exchange.failures():
        wanted = wanted or _wanted(exchange.request)
        if exchange.audited:
            with transaction(exchange.sessions) as session:
                rows, total = _found(exchange, who, session.connection(), wanted)
                for row in rows:
                    exchange.entities.extend(sorted(exchange.compartment(row.id, row.body)))
                exchange.succeeded(session)
        else:  # nothing to audit: one statement, outside any transaction
            with autocommit(exchange.request.app.state.engine) as connection:
                rows, total = _found(exchange, who, connection, wanted)
    request = exchange.request
    return FHIRResponse(bundle(request, exchange.resource_type, rows, total, *wanted.page))


@dataclass(frozen=True)
class Wanted:
    """A parsed search: criteria, ``_id`` values, ``_sort`` and the page asked for."""

    criteria: list[search.Criterion]
    ids: list[str]
    sort: str | None
    count: int
    offset: int

    @property
    def page(self) -> tuple[int, int]:
        """``_count`` and ``_offset``."""
        return self.count, self.offset


def _wanted(request: Request) -> Wanted:
    """The search a request asks for (:class:`search.SearchError` when malformed)."""
    params = request.query_params
    resource_type = request.path_params["resource_type"]
    criteria, ids = search.parse(resource_type, list(params.multi_items()))
    count = _bounded(params.get("_count"), DEFAULT_COUNT, 0, MAX_COUNT)
    offset = _bounded(params.get("_offset"), 0, 0, 10**9)
    return Wanted(criteria, ids, params.get("_sort"), count, offset)


async def _from_calendar(
    reads: AsyncConnectionPool, settings: Settings, wanted: Wanted
) -> tuple[list[StoredResource], int]:
    """A page of slots from the calendar through the asynchronous pool; a lost connection is
    a 503 to retry, as on the other paths."""
    try:
        return await slot_calendar.page_async(
            reads, wanted.criteria, settings.zone, wanted.sort, *wanted.page
        )
    except psycopg.OperationalError as error:
        raise lost_database() from error


def _found(
    exchange: Exchange, who: Principal, connection: Connection, wanted: Wanted
) -> tuple[list[StoredResource], int]:
    """The page and the total: from the slot calendar when it can answer (a booking
    client's search for free slots), else from the search index."""
    criteria, ids, sort = wanted.criteria, wanted.ids, wanted.sort
    if exchange.resource_type == "Slot" and slot_calendar.answers(criteria, ids, sort):
        zone = exchange.settings.zone
        return slot_calendar.page(connection, criteria, zone, sort, wanted.count, wanted.offset)
    ordering = search.order(exchange.resource_type, sort)
    statement = exchange.search_statement(who, criteria, ids)
    return search.page(connection, statement, ordering, wanted.count, wanted.offset)


def _bounded(raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise search.SearchError(f"expected a whole number, got {raw!r}")
    return min(max(int(raw), low), high)


def bundle(
    request: Request,
    resource_type: str,
    rows: Sequence[StoredResource],
    total: int,
    count: int,
    offset: int,
) -> dict[str, Any]:
    base = str(request.base_url) + "fhir"
    # The query string as the client sent it, less _offset: re-encoding its parameters cost
    # a fifth of a slot search's CPU.
    raw = request.scope["query_string"].decode("latin-1")
    kept = "&".join(p for p in raw.split("&") if p and not p.startswith("_offset="))

    def link(relation: str, at: int) -> dict[str, str]:
        query = f"{kept}&_offset={at}".lstrip("&") if at else kept
        return {"relation": relation, "url": f"{base}/{resource_type}?{query}".rstrip("?")}

    links = [link("self", offset)]
    if count and offset + count < total:
        links.append(link("next", offset + count))
    if offset:
        links.append(link("previous", max(offset - count, 0)))
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": [
            {
                "fullUrl": f"{base}/{row.resource_type}/{row.id}",
                "resource": outgoing(request.app.state.settings, row.body),
                "search": {"mode": "match"},
            }
            for row in rows
        ],
    }


@router.get("/{resource_type}/{resource_id}")
def read(
    resource_type: str, resource_id: str, request: Request, principal: OptionalPrincipal
) -> Response:
    """Read the current version."""
    exchange = Exchange(request, principal, resource_type, "read")
    exchange.entities.append(f"{resource_type}/{resource_id}")
    exchange.authorize(write=False)
    with exchange.failures(), transaction(exchange.sessions) as session:
        row = resources.read(session, resource_type, resource_id)
        exchange.check_patients(session, exchange.compartment(row.id, row.body))
        exchange.succeeded(session)
    return _resource_response(exchange.settings, row)


@router.get("/{resource_type}/{resource_id}/_history/{version}")
def vread(
    resource_type: str,
    resource_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    principal: OptionalPrincipal,
) -> Response:
    """Read one version, as it was written."""
    exchange = Exchange(request, principal, resource_type, "vread")
    exchange.entities.append(f"{resource_type}/{resource_id}")
    exchange.authorize(write=False)
    with exchange.failures(), transaction(exchange.sessions) as session:
        row = resources.read_version(session, resource_type, resource_id, version)
        exchange.check_patients(session, exchange.compartment(row.id, row.body))
        exchange.succeeded(session)
    return _resource_response(exchange.settings, row)


@router.post("/{resource_type}")
async def create(resource_type: str, request: Request, principal: OptionalPrincipal) -> Response:
    """Create with a server-assigned id."""
    exchange = Exchange(request, principal, resource_type, "create")
    exchange.authorize(write=True)
    return await run_in_threadpool(_write, exchange, await request.body(), None)


@router.put("/{resource_type}/{resource_id}")
async def update(
    resource_type: str, resource_id: str, request: Request, principal: OptionalPrincipal
) -> Response:
    """Update, or create with the client's id (update as create)."""
    exchange = Exchange(request, principal, resource_type, "update")
    exchange.entities.append(f"{resource_type}/{resource_id}")
    exchange.authorize(write=True)
    return await run_in_threadpool(_write, exchange, await request.body(), resource_id)


def _write(exchange: Exchange, raw: bytes, resource_id: str | None) -> Response:
    """Decode, validate and store a create or update (a malformed body is audited too)."""
    condition = exchange.request.headers.get("if-none-exist") if resource_id is None else None
    with exchange.failures():
        payload = content.decode(raw, exchange.request.headers.get("content-type"))
        body = validation.validate(exchange.resource_type, payload, resource_id)
        if_match = _if_match(exchange.request)
        with transaction(exchange.sessions) as session:
            match = conditional_match(session, exchange, condition) if condition else None
            if match is not None:
                return _resource_response(exchange.settings, match)
            row, created = store(exchange, session, body, resource_id, if_match)
    monitoring.after_commit(exchange.request.app, [row])
    return _resource_response(exchange.settings, row, 201 if created else 200)


def store(
    exchange: Exchange,
    session: Session,
    body: dict[str, Any],
    resource_id: str | None,
    if_match: int | None = None,
    *,
    new_id: str | None = None,
) -> tuple[Resource, bool]:
    """Write one validated resource in the caller's transaction: access rules, workflow rules,
    then the store. Returns the row and whether it was created; a re-sent device measurement
    returns the stored one, not created. ``new_id`` is the id a create gets (default: a new
    one)."""
    resource_type = exchange.resource_type
    current = resources.get(session, resource_type, resource_id) if resource_id else None
    created = current is None or current.deleted
    previous = None if created or current is None else current.body
    _check_write(exchange, session, current, body)
    body = _prepare(exchange, session, body, previous)
    if created and resource_id is None:
        stored = monitoring.stored_copy(session, body)
        if stored is not None:
            exchange.entities.append(f"{resource_type}/{stored.id}")
            exchange.succeeded(session)
            return stored, False
    target = resource_id or new_id or resources.new_id()
    if resource_type == "Appointment":
        booking.apply(session, target, body, previous, exchange.settings.zone)
    row = resources.save(
        session,
        body,
        exchange.settings.zone,
        resource_id=target,
        if_match=if_match,
        new=resource_id is None,
    )
    monitoring.index_measurement(session, row)
    if resource_type == "DocumentReference":
        comptes_rendus.enqueue(session, exchange.settings, row, previous)
    elif resource_type == "Appointment":
        confirmations.enqueue(session, exchange.settings, row, previous)
    exchange.entities.append(f"{resource_type}/{row.id}")
    exchange.succeeded(session)
    return row, created


def _prepare(
    exchange: Exchange, session: Session, body: dict[str, Any], previous: dict[str, Any] | None
) -> dict[str, Any]:
    """The workflow rules of each type, applied before storing (they may refuse with 4xx)."""
    settings, resource_type = exchange.settings, body["resourceType"]
    if resource_type == "Task":
        assert exchange.principal is not None
        teleexpertise.check_taking(previous, body, exchange.principal)
        body = teleexpertise.prepare_task(session, settings, body, previous)
    elif resource_type == "ServiceRequest":
        body = teleexpertise.prepare_request(body)
    elif resource_type == "Observation":
        monitoring.check_device_observation(body)
    elif resource_type == "Appointment":
        body = appointments.prepare(body, previous)
    elif resource_type == "Encounter":
        body = encounters.prepare(body, previous)
    return attachments.store(settings, body)


def _check_write(
    exchange: Exchange, session: Session, current: Resource | None, body: dict[str, Any]
) -> None:
    """Compartment rules on writes: old and new patients must both be the principal's."""
    principal = exchange.principal
    assert principal is not None
    if not exchange.audited:
        return
    patients = set()
    if current is not None and not current.deleted:
        patients |= exchange.compartment(current.id, current.body)
    if exchange.resource_type == "Patient" and (current is None or current.deleted):
        actors = {
            row.value
            for row in extract("Patient", "new", body, exchange.settings.zone)
            if row.param == ACTOR and row.value
        }
        if not policy.may_register_patient(principal, actors):
            raise FHIRError(403, "register a patient under your own site or as their doctor")
    else:
        patients |= exchange.compartment(current.id if current else "new", body)
    if principal.role is Role.PATIENT and not patients:
        raise FHIRError(403, "a patient writes only resources about themselves")
    if exchange.resource_type == "Binary" and not patients and principal.role in policy.CARE_ROLES:
        raise FHIRError(403, "a Binary needs a securityContext naming its Patient")
    new_team = exchange.resource_type == "CareTeam" and (current is None or current.deleted)
    # Anyone caring for the patient may form a team; changing one takes a member.
    exchange.check_patients(session, patients, as_type="" if new_team else None)


def conditional_match(
    session: Session, exchange: Exchange, condition: str
) -> StoredResource | None:
    """The one resource matching a conditional create (``If-None-Exist``, a Bundle entry's
    ``ifNoneExist``): None when nothing matches, 412 when several do."""
    assert exchange.principal is not None
    criteria, ids = search.parse(exchange.resource_type, parse_qsl(condition))
    restriction = policy.search_restriction(exchange.principal, exchange.resource_type)
    statement = search.statement(
        exchange.resource_type, criteria, ids, exchange.settings.zone, restriction
    )
    ordering = search.order(exchange.resource_type, None)
    rows, total = search.page(session.connection(), statement, ordering, 2, 0)
    if total > 1:
        raise FHIRError(412, f"ifNoneExist {condition!r} matches {total} resources")
    if not rows:
        return None
    exchange.entities.append(f"{rows[0].resource_type}/{rows[0].id}")
    exchange.check_patients(session, exchange.compartment(rows[0].id, rows[0].body))
    exchange.succeeded(session)
    return rows[0]


@router.delete("/{resource_type}/{resource_id}")
def delete(
    resource_type: str, resource_id: str, request: Request, principal: OptionalPrincipal
) -> Response:
    """Delete softly: the resource leaves reads and searches, its versions are kept."""
    exchange = Exchange(request, principal, resource_type, "delete")
    exchange.entities.append(f"{resource_type}/{resource_id}")
    exchange.authorize(write=True)
    with exchange.failures(), transaction(exchange.sessions) as session:
        current = resources.read(session, resource_type, resource_id)
        exchange.check_patients(session, exchange.compartment(current.id, current.body))
        if resource_type == "Appointment":
            booking.apply(session, resource_id, None, current.body, exchange.settings.zone)
        resources.delete(session, resource_type, resource_id)
        exchange.succeeded(session)
    return Response(status_code=204)
