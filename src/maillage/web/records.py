"""Patient records for the care pages, read and written through the FHIR server's own steps.

The pages call :class:`maillage.api.fhir.Exchange` and :func:`maillage.api.fhir.store`, exactly
as ``/fhir`` does, so the role check, the patient-compartment policy, the workflow rules
(booking, video room, Task states, compte rendu outbox) and the audit trail are the API's. A
refusal of the server comes back as a :class:`PageError` with a French message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from maillage.api.errors import FHIRError
from maillage.api.fhir import Exchange, outgoing, store
from maillage.care import validation
from maillage.care.principal import Principal
from maillage.store import resources, search
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.web.rendering import PageError

Body = dict[str, Any]
MESSAGES = {
    403: "Vous n'avez pas accès à ce dossier patient.",
    404: "Cet élément n'existe pas ou a été supprimé.",
    409: "L'opération est en conflit avec une modification récente : rechargez la page.",
    412: "Ce dossier a été modifié entre-temps : rechargez la page et recommencez.",
    422: (
        "Le dossier ne permet pas cette opération (consentement retiré, données incomplètes "
        "ou règle du réseau non respectée)."
    ),
}


def french(error: FHIRError) -> str:
    """The French sentence shown for a refusal of the server."""
    return MESSAGES.get(error.status, f"L'opération a été refusée ({error.status}).")


@contextmanager
def refusals() -> Iterator[None]:
    """Show the server's refusals (403, 404, 409, 422…) as French error pages."""
    try:
        yield
    except FHIRError as error:
        raise PageError(error.status, french(error)) from error


def find(
    request: Request,
    principal: Principal,
    resource_type: str,
    query: list[tuple[str, str]],
    count: int = 200,
) -> list[Body]:
    """Search as ``GET /fhir/{type}`` does: restricted to the principal's patients, audited,
    and the bodies as clients see them (attachments inlined)."""
    exchange = Exchange(request, principal, resource_type, "search-type")
    with refusals():
        who = exchange.authorize(write=False)
        with exchange.failures():
            criteria, ids = search.parse(resource_type, query)
            statement = exchange.search_statement(who, criteria, ids)
            ordering = search.order(resource_type, None)
            with transaction(exchange.sessions) as session:
                rows, _total = search.page(session.connection(), statement, ordering, count, 0)
                if exchange.audited:
                    for row in rows:
                        exchange.entities.extend(sorted(exchange.compartment(row.id, row.body)))
                exchange.succeeded(session)
    return [outgoing(exchange.settings, row.body) for row in rows]


def get(request: Request, principal: Principal, resource_type: str, resource_id: str) -> Body:
    """Read as ``GET /fhir/{type}/{id}`` does (403 without a care relationship, audited)."""
    exchange = Exchange(request, principal, resource_type, "read")
    exchange.entities.append(f"{resource_type}/{resource_id}")
    with refusals():
        exchange.authorize(write=False)
        with exchange.failures(), transaction(exchange.sessions) as session:
            row = resources.read(session, resource_type, resource_id)
            exchange.check_patients(session, exchange.compartment(row.id, row.body))
            exchange.succeeded(session)
    return outgoing(exchange.settings, row.body)


class Writer:
    """Several writes in one transaction, each with the API's create/update rules."""

    def __init__(self, request: Request, principal: Principal, session: Session) -> None:
        self.request, self.principal, self.session = request, principal, session
        self.exchange: Exchange | None = None

    def save(
        self, body: Body, resource_id: str | None = None, if_match: int | None = None
    ) -> Resource:
        """Create (``resource_id`` None) or update one resource, as POST/PUT would; with
        ``if_match`` (the version the page read), a resource changed meanwhile is a 412."""
        kind = body["resourceType"]
        interaction = "create" if resource_id is None else "update"
        self.exchange = Exchange(self.request, self.principal, kind, interaction)
        if resource_id is not None:
            self.exchange.entities.append(f"{kind}/{resource_id}")
        self.exchange.authorize(write=True)
        checked = validation.validate(kind, body, resource_id)
        row, _created = store(self.exchange, self.session, checked, resource_id, if_match)
        return row

    def update(self, read: Body, changes: Body) -> Resource:
        """Update a resource as the page read it, with ``changes``, unless changed meanwhile."""
        body = {key: value for key, value in read.items() if key != "meta"} | changes
        version = int(read["meta"]["versionId"])
        return self.save(body, read["id"], if_match=version)


@contextmanager
def writing(request: Request, principal: Principal) -> Iterator[Writer]:
    """One transaction of writes: all stored, or none when the server refuses one.

    A refusal is audited (and store errors become FHIR errors) once the work's transaction has
    rolled back, as the API does, so that the audit is kept and SQLite is not locked.
    """
    writer: Writer | None = None
    try:
        with transaction(request.app.state.sessions) as session:
            writer = Writer(request, principal, session)
            yield writer
    except Exception:
        if writer is None or writer.exchange is None:
            raise
        with writer.exchange.failures():
            raise


def reference_id(reference: Body | None, resource_type: str) -> str | None:
    """The id in a ``{"reference": "Type/id"}`` of the given type, or None."""
    text = (reference or {}).get("reference", "")
    kind, _, ident = text.partition("/")
    return ident if kind == resource_type and ident else None


def person_name(body: Body | None) -> str:
    """« Jeanne Dupont » from a Patient or Practitioner body ("inconnu" without a name)."""
    for name in (body or {}).get("name") or []:
        parts = [*name.get("given", []), name.get("family", "")]
        text = name.get("text") or " ".join(p for p in parts if p)
        if text:
            return text
    return "inconnu"


def registry(
    request: Request,
    resource_type: str,
    query: list[tuple[str, str]],
    sort: str | None = None,
    count: int = 500,
) -> list[Body]:
    """Registry resources (schedules, slots, practitioners): no patient data, not audited."""
    settings = request.app.state.settings
    criteria, ids = search.parse(resource_type, query)
    statement = search.statement(resource_type, criteria, ids, settings.zone)
    ordering = search.order(resource_type, sort)
    with transaction(request.app.state.sessions) as session:
        rows, _total = search.page(session.connection(), statement, ordering, count, 0)
    return [row.body for row in rows]
