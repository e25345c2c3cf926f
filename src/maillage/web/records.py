"""Patient records for the care pages, read and written through the principal's repository.

The pages call :class:`maillage.care.repository.Repository`, exactly as ``/fhir`` does, so the
role check, the patient-compartment policy, the workflow rules (booking, video room, Task
states, compte rendu outbox) and the audit trail are the network's. A refusal comes back as a
:class:`PageError` with a French message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request

from maillage.api.deps import repository_for
from maillage.api.errors import status_of
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository, Work
from maillage.store import search
from maillage.store.database import transaction
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


def french(error: DomainError) -> str:
    """The French sentence shown for a refusal of the network."""
    status = status_of(error)
    return MESSAGES.get(status, f"L'opération a été refusée ({status}).")


@contextmanager
def refusals() -> Iterator[None]:
    """Show the network's refusals (403, 404, 409, 422…) as French error pages."""
    try:
        yield
    except DomainError as error:
        raise PageError(status_of(error), french(error)) from error


def find(
    request: Request,
    principal: Principal,
    resource_type: str,
    query: list[tuple[str, str]],
    count: int = 200,
) -> list[Body]:
    """Search as ``GET /fhir/{type}`` does: restricted to the principal's patients, audited,
    and the bodies as clients see them (attachments inlined)."""
    repository = repository_for(request, principal)
    with refusals():
        page = repository.search(resource_type, [*query, ("_count", str(count))])
    return [repository.outgoing(row.body) for row in page.rows]


def get(request: Request, principal: Principal, resource_type: str, resource_id: str) -> Body:
    """Read as ``GET /fhir/{type}/{id}`` does (403 without a care relationship, audited)."""
    repository = repository_for(request, principal)
    with refusals():
        row = repository.read(resource_type, resource_id)
    return repository.outgoing(row.body)


@contextmanager
def writing(request: Request, principal: Principal) -> Iterator[Work]:
    """One transaction of writes: all stored, or none when the network refuses one."""
    repository: Repository = repository_for(request, principal)
    with repository.writing() as work:
        yield work


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
