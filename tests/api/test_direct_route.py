"""The search and create routes resolve their inputs themselves, without FastAPI's
dependencies (issue 23).

They must document, refuse and audit as routes with dependencies would, and a route of their
kind that declares an input its handler does not give must never be built.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from api_server import Server
from fastapi import APIRouter, Depends, FastAPI, Request
from fhir_samples import organization
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from maillage.api import fhir
from maillage.api.deps import Repo, settings
from maillage.api.direct_route import RepositoryRoute
from maillage.config import Settings


def test_the_search_and_the_create_are_documented_with_their_path_parameter(
    server: Server,
) -> None:
    schema = server.client.get("/openapi.json").json()
    for method in ("get", "post"):
        operation = schema["paths"]["/fhir/{resource_type}"][method]
        assert [p["name"] for p in operation["parameters"]] == ["resource_type"]
    assert not {path for _, path, _ in fhir.LANES} & set(schema["paths"])


def test_the_busiest_requests_reach_the_endpoints_the_generic_routes_would(
    server: Server, coordinator: dict[str, str]
) -> None:
    """The lanes matched first shadow no other route: without them, the same requests go to
    the generic search and create that the lanes call."""
    app, reached = server.app, []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        reached.append(scope["endpoint"])

    client = TestClient(recording)

    def send_each() -> None:
        for _, path, method in fhir.LANES:
            client.request(method, path, headers=coordinator, json={})

    send_each()
    lanes = app.router.routes[: len(fhir.LANES)]
    assert [(r.path, r.methods) for r in lanes] == [(p, {m}) for _, p, m in fhir.LANES]
    del app.router.routes[: len(fhir.LANES)]
    try:
        send_each()
    finally:
        app.router.routes[:0] = lanes
    assert reached == [fhir.search_slots, fhir.book, fhir.search_type, fhir.create]


def test_a_search_page_links_to_the_host_the_client_addressed(
    server: Server, coordinator: dict[str, str]
) -> None:
    """The FHIR base of a Bundle's links is kept per Host header, never one client's for all."""
    for host in ("fhir.example.org", "maillage.example.net:8443", "fhir.example.org"):
        found = server.client.get("/fhir/Slot", headers={**coordinator, "Host": host})
        assert found.json()["link"][0]["url"] == f"http://{host}/fhir/Slot"
    odd = server.client.get("/fhir/Slot", headers={**coordinator, "Host": "a b"})
    assert odd.json()["link"][0]["url"] == "http://testserver/fhir/Slot"


def test_a_search_or_a_create_is_refused_for_its_format_or_token_and_audited(
    net: Server, coordinator: dict[str, str]
) -> None:
    client = net.client
    wants_xml = {**coordinator, "Accept": "application/fhir+xml"}
    assert client.get("/fhir/Patient", headers=wants_xml).status_code == 406
    assert client.get("/fhir/Patient?_format=xml", headers=coordinator).status_code == 406
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    refused = client.get("/fhir/Patient?name=durand", headers=forged)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    audit = client.get("/fhir/AuditEvent?outcome=8", headers=net.headers("admin"))
    events = [entry["resource"] for entry in audit.json()["entry"]]
    searches = [e for e in events if e["subtype"][0]["code"] == "search-type"]
    assert searches[0]["outcomeDesc"].startswith("401 invalid token")
    created = client.post("/fhir/Organization", json=organization("o-9"), headers=forged)
    assert created.status_code == 401
    sent_as_xml = {**coordinator, "Content-Type": "application/fhir+xml"}
    assert (
        client.post("/fhir/Organization", content=b"<a/>", headers=sent_as_xml).status_code == 415
    )
    assert (
        client.post("/fhir/Organization", json=organization("o-9"), headers=wants_xml).status_code
        == 406
    )
    assert (
        client.post("/fhir/Organization", json=organization("o-9"), headers=coordinator).status_code
        == 201
    )
    found = client.get("/fhir/Organization", headers=coordinator)
    assert found.status_code == 200
    assert found.json()["type"] == "searchset"
    assert found.json()["entry"]


async def _with_query(resource_type: str, request: Request, repository: Repo, q: str = "") -> None:
    """Declares a query parameter, which the route's handler would not give."""


async def _with_settings(
    resource_type: str,
    request: Request,
    repository: Repo,
    chosen: Annotated[Settings, Depends(settings)],
) -> None:
    """Declares a provider the route's handler does not call."""


async def _without_request(resource_type: str, repository: Repo) -> None:
    """Declares no request, which the handler passes by name."""


def _synchronous(resource_type: str, request: Request, repository: Repo) -> None:
    """Not a coroutine function: the handler awaits what the endpoint returns."""


@pytest.mark.parametrize("endpoint", [_with_query, _with_settings, _without_request, _synchronous])
def test_a_route_declaring_other_inputs_is_refused_when_built(endpoint: object) -> None:
    router = APIRouter()
    with pytest.raises(
        TypeError,
        match="coroutine function that takes its path parameters, the request and the repository",
    ):
        router.add_api_route(
            "/{resource_type}", endpoint, methods=["GET"], route_class_override=RepositoryRoute
        )
        FastAPI().include_router(router)
