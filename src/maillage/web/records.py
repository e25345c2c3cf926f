"""Patient records for the care pages, read and written through the principal's repository.

The pages call :class:`maillage.care.repository.Repository`, exactly as ``/fhir`` does, so the
role check, the patient-compartment policy, the workflow rules (booking, video room, Task
states, compte rendu outbox) and the audit trail are the network's. A page receives its
repository from :data:`PageRepo` (a FastAPI ``Depends`` provider); a refusal comes back as a
:class:`PageError` with a French message, mapped here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request

from maillage import french_format
from maillage.api.deps import repository_for
from maillage.api.errors import status_of
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.repository import Repository, Work
from maillage.web.rendering import PageError, signed_in

Body = dict[str, Any]
MESSAGES = {
    401: "Connectez-vous pour accéder à ce dossier.",
    403: "Vous n'avez pas accès à ce dossier patient.",
    404: "Cet élément n'existe pas ou a été supprimé.",
    409: "L'opération est en conflit avec une modification récente : rechargez la page.",
    410: "Cet élément a été supprimé.",
    412: "Ce dossier a été modifié entre-temps : rechargez la page et recommencez.",
    422: (
        "Le dossier ne permet pas cette opération (consentement retiré, données incomplètes "
        "ou règle du réseau non respectée)."
    ),
}


def page_repository(
    request: Request, principal: Annotated[Principal, Depends(signed_in)]
) -> Repository:
    """The repository of the page's signed-in account (anonymous visitors log in first)."""
    return repository_for(request, principal)


PageRepo = Annotated[Repository, Depends(page_repository)]


def french(error: DomainError) -> str:
    """The French sentence shown for a refusal of the network."""
    status = status_of(error)
    return MESSAGES.get(status, f"L'opération a été refusée ({status}).")


def page_error(error: DomainError, message: str | None = None) -> PageError:
    """The French error page of a refusal, with the status the API would answer (``message``:
    the page's own wording of it, such as a slot taken meanwhile)."""
    return PageError(status_of(error), message or french(error))


@contextmanager
def refusals() -> Iterator[None]:
    """Show the network's refusals (403, 404, 409, 422…) as French error pages."""
    try:
        yield
    except DomainError as error:
        raise page_error(error) from error


def find(
    repository: Repository,
    resource_type: str,
    query: list[tuple[str, str]],
    count: int = 200,
) -> list[Body]:
    """Search as ``GET /fhir/{type}`` does: restricted to the principal's patients, audited,
    and the bodies as clients see them (attachments inlined)."""
    with refusals():
        page = repository.search(resource_type, [*query, ("_count", str(count))])
    return [repository.outgoing(row.body) for row in page.rows]


def get(repository: Repository, resource_type: str, resource_id: str) -> Body:
    """Read as ``GET /fhir/{type}/{id}`` does (403 without a care relationship, audited)."""
    with refusals():
        row = repository.read(resource_type, resource_id)
    return repository.outgoing(row.body)


def by_ids(repository: Repository, resource_type: str, ids: set[str]) -> dict[str, Body]:
    """The resources of ``resource_type`` among ``ids`` the principal may see, by id: one
    audited search (``_id=a,b,…``) whatever their number."""
    if not ids:
        return {}
    return {
        body["id"]: body
        for body in everything(repository, resource_type, [("_id", ",".join(sorted(ids)))])
    }


def everything(
    repository: Repository, resource_type: str, query: list[tuple[str, str]]
) -> list[Body]:
    """Every match of a search the principal may see, unpaged (one statement: no silent cap
    on the rows a form offers)."""
    with refusals():
        rows = repository.search_all(resource_type, query)
    return [repository.outgoing(row.body) for row in rows]


@contextmanager
def writing(repository: Repository) -> Iterator[Work]:
    """One transaction of writes: all stored, or none when the network refuses one."""
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


def local(text: str, zone: ZoneInfo) -> datetime:
    """An ISO instant in the network's time zone (``MAILLAGE_TIMEZONE``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(zone)


def french_moment(text: str | None, zone: ZoneInfo) -> str:
    """« lundi 2 mars 2026 à 09:00 » from an ISO instant, in the network's time zone."""
    if not text:
        return "—"
    return french_format.day_and_time(local(text, zone))
