"""The FHIR R4 REST interactions at ``/fhir``: read, vread, search, create, update, delete.

Each route parses the request, calls the principal's :class:`~maillage.care.repository.Repository`
(which checks access, applies the network's rules and audits patient data) and shapes the
answer: ETag, Last-Modified and Location headers, searchset Bundles. Refusals are the
repository's domain errors, answered by :mod:`maillage.api.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from maillage.api import content
from maillage.api.capability import capability_statement
from maillage.api.deps import Repo, started
from maillage.api.direct_route import RepositoryRoute
from maillage.api.errors import FHIR_JSON, FHIRResponse
from maillage.care.errors import DomainError
from maillage.care.repository import Page, Repository, StoredResource

router = APIRouter(prefix="/fhir", tags=["fhir"], dependencies=[Depends(content.json_only)])


def resource_response(
    repository: Repository, row: StoredResource, status: int = 200
) -> FHIRResponse:
    """A resource version as clients see it, with its ETag and Last-Modified (and Location
    when created)."""
    headers = {
        "ETag": f'W/"{row.version_id}"',
        "Last-Modified": row.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    if status == 201:
        headers["Location"] = f"{row.resource_type}/{row.id}/_history/{row.version_id}"
    return FHIRResponse(repository.outgoing(row.body), status_code=status, headers=headers)


async def decoded(
    request: Request,
    repository: Repository,
    resource_type: str,
    interaction: str,
    entities: Sequence[str] = (),
) -> Any:
    """The request's JSON document; a body the server cannot take is refused through the
    repository, so that the refusal of a patient-data write is audited."""
    raw = await request.body()
    try:
        return content.decode(raw, request.headers.get("content-type"))
    except DomainError as error:
        await run_in_threadpool(repository.refused, resource_type, interaction, error, entities)


@router.get("/metadata")
def metadata(request: Request, since: Annotated[str, Depends(started)]) -> FHIRResponse:
    """The CapabilityStatement (public, as FHIR expects)."""
    return FHIRResponse(capability_statement(_base(request), since))


async def search_type(resource_type: str, request: Request, repository: Repo) -> Response:
    """Search, answered with a ``searchset`` Bundle paged by ``_count`` and ``_offset``,
    sorted by ``_sort`` when given."""
    page = await repository.search_async(resource_type, request.query_params.multi_items())
    if page.outgoing is not None:
        return Response(pasted(request, resource_type, page), media_type=FHIR_JSON)
    return FHIRResponse(bundle(request, repository, resource_type, page))


# The slot search, the busiest request, resolves its inputs without FastAPI's dependencies.
router.add_api_route(
    "/{resource_type}", search_type, methods=["GET"], route_class_override=RepositoryRoute
)


def _search_entries(
    base: str, repository: Repository, rows: Sequence[StoredResource]
) -> list[dict[str, Any]]:
    """The matches of a search page, and one outcome entry naming the records whose attached
    content could not be read (sent without it): one bad record never fails a whole search."""
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    for row in rows:
        body, unread = repository.outgoing_or_omit(row.body)
        problems += [f"{row.resource_type}/{row.id}: {problem}" for problem in unread]
        entries.append(
            {
                "fullUrl": f"{base}/{row.resource_type}/{row.id}",
                "resource": body,
                "search": {"mode": "match"},
            }
        )
    if problems:
        issues = [
            {"severity": "warning", "code": "incomplete", "diagnostics": problem}
            for problem in problems
        ]
        outcome = {"resourceType": "OperationOutcome", "issue": issues}
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    return entries


def bundle(
    request: Request, repository: Repository, resource_type: str, page: Page
) -> dict[str, Any]:
    """A searchset Bundle of one page, with its self, next and previous links."""
    base = _base(request)
    entries = _search_entries(base, repository, page.rows)
    return envelope(request, base, resource_type, page) | {"entry": entries}


def pasted(request: Request, resource_type: str, page: Page) -> bytes:
    """The searchset Bundle of a page whose bodies came as outgoing JSON text (slot
    searches): pasted between the entries' other members, never parsed nor serialised again
    (which was a third of a slot search's CPU)."""
    base, outgoing = _base(request), page.outgoing or []
    head = orjson.dumps(envelope(request, base, resource_type, page)).decode()
    # The base as a JSON string less its closing quote, once: a type and an id need no
    # escaping (FHIR restricts both to letters, digits, '-' and '.').
    prefix = orjson.dumps(f"{base}/").decode()[:-1]
    entries = ",".join(
        f'{{"fullUrl":{prefix}{row.resource_type}/{row.id}",'
        f'"resource":{text},"search":{{"mode":"match"}}}}'
        for row, text in zip(page.rows, outgoing, strict=True)
    )
    return f'{head[:-1]},"entry":[{entries}]}}'.encode()


def _base(request: Request) -> str:
    return str(request.base_url) + "fhir"


def envelope(request: Request, base: str, resource_type: str, page: Page) -> dict[str, Any]:
    """A searchset Bundle's members but its entries: type, total (when counted) and the
    self, next and previous links (``base``: the server's FHIR base, as :func:`_base`)."""
    # The query string as the client sent it, less _offset: re-encoding its parameters cost
    # a fifth of a slot search's CPU.
    raw = request.scope["query_string"].decode("latin-1")
    kept = "&".join(p for p in raw.split("&") if p and not p.startswith("_offset="))
    count, offset = page.count, page.offset

    def link(relation: str, at: int) -> dict[str, str]:
        query = f"{kept}&_offset={at}".lstrip("&") if at else kept
        return {"relation": relation, "url": f"{base}/{resource_type}?{query}".rstrip("?")}

    links = [link("self", offset)]
    if count and page.more:
        links.append(link("next", offset + count))
    if offset:
        links.append(link("previous", max(offset - count, 0)))
    counted = {} if page.total is None else {"total": page.total}
    return {"resourceType": "Bundle", "type": "searchset", **counted, "link": links}


@router.get("/{resource_type}/{resource_id}")
def read(resource_type: str, resource_id: str, repository: Repo) -> Response:
    """Read the current version."""
    return resource_response(repository, repository.read(resource_type, resource_id))


@router.get("/{resource_type}/{resource_id}/_history/{version}")
def vread(
    resource_type: str,
    resource_id: str,
    version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    repository: Repo,
) -> Response:
    """Read one version, as it was written."""
    return resource_response(repository, repository.vread(resource_type, resource_id, version))


async def create(resource_type: str, request: Request, repository: Repo) -> Response:
    """Create with a server-assigned id (``If-None-Exist``: unless one resource matches).
    An Appointment goes through the repository's booking entry point."""
    payload = await decoded(request, repository, resource_type, "create")
    condition = request.headers.get("if-none-exist")
    if resource_type == "Appointment":
        written = await repository.book(payload, if_none_exist=condition)
    else:
        written = await run_in_threadpool(
            lambda: repository.create(resource_type, payload, if_none_exist=condition)
        )
    return resource_response(repository, written.row, 201 if written.created else 200)


# A booking is a create: the second busiest request, resolved as the search is.
router.add_api_route(
    "/{resource_type}", create, methods=["POST"], route_class_override=RepositoryRoute
)


async def search_slots(request: Request, repository: Repo) -> Response:
    """``GET /fhir/Slot``: :func:`search_type` of Slots, on its own static path."""
    return await search_type("Slot", request, repository)


async def book(request: Request, repository: Repo) -> Response:
    """``POST /fhir/Appointment``: :func:`create` of an Appointment, on its own static path."""
    return await create("Appointment", request, repository)


#: The two busiest requests (endpoint, static path, method), answered as the generic routes
#: above answer them.
LANES = ((search_slots, "/fhir/Slot", "GET"), (book, "/fhir/Appointment", "POST"))


def busiest_first(app: FastAPI) -> None:
    """Put :data:`LANES` before every other route of ``app``.

    FastAPI tries an app's routers in turn, each its routes, and the generic routes come
    after those of three routers: finding one for a slot search cost about 45 µs, a tenth of
    an uncached search's CPU. A static path matched first costs one regular expression. The
    lanes stay out of the OpenAPI document, where the generic routes describe them; a test
    checks that without the lanes the same requests reach the same endpoints.
    """
    for endpoint, path, method in reversed(LANES):
        app.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            route_class_override=RepositoryRoute,
            include_in_schema=False,
        )
        app.router.routes.insert(0, app.router.routes.pop())


@router.put("/{resource_type}/{resource_id}")
async def update(
    resource_type: str, resource_id: str, request: Request, repository: Repo
) -> Response:
    """Update, or create with the client's id (update as create); ``If-Match`` refuses it
    when the resource changed meanwhile."""
    entities = [f"{resource_type}/{resource_id}"]
    payload = await decoded(request, repository, resource_type, "update", entities)
    if_match = request.headers.get("if-match")
    if resource_type == "Appointment":
        written = await repository.book(payload, resource_id, if_match=if_match)
    else:
        written = await run_in_threadpool(
            lambda: repository.update(resource_type, resource_id, payload, if_match=if_match)
        )
    return resource_response(repository, written.row, 201 if written.created else 200)


@router.delete("/{resource_type}/{resource_id}")
def delete(resource_type: str, resource_id: str, repository: Repo) -> Response:
    """Delete softly: the resource leaves reads and searches, its versions are kept."""
    repository.delete(resource_type, resource_id)
    return Response(status_code=204)
