"""Site registry pages: the network's telemedicine sites (FHIR Location) as a list and in detail.

They read the FHIR store through the server's own store layer (the same search index as
``/fhir/Location``), so what a coordinator sees here is what the API serves. Sites are registry
data, not patient data: planners see them too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from maillage.api.auth import Principal
from maillage.config import Settings
from maillage.store import resources, search
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.web.navigation import ANALYSTS
from maillage.web.rendering import PageError, allowed, render

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
PAGE_SIZE = 50
STATUS_LABELS = {"active": "En service", "suspended": "Suspendu", "inactive": "Fermé"}


def concept_text(concepts: list[dict[str, Any]] | dict[str, Any] | None) -> str:
    """A readable label of CodeableConcept(s): their text, else codings' display, else codes."""
    if not concepts:
        return ""
    labels = []
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        codings = concept.get("coding") or []
        label = concept.get("text") or next(
            (
                c.get("display") or c.get("code")
                for c in codings
                if c.get("display") or c.get("code")
            ),
            "",
        )
        if label:
            labels.append(label)
    return ", ".join(labels)


def site_summary(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a list row and the detail page show, from a Location body."""
    address = body.get("address") or {}
    managing = body.get("managingOrganization") or {}
    return {
        "id": body["id"],
        "nom": body.get("name") or body["id"],
        "type": concept_text(body.get("type")),
        "commune": " ".join(filter(None, (address.get("postalCode"), address.get("city")))),
        "adresse": ", ".join(address.get("line") or []),
        "statut": STATUS_LABELS.get(body.get("status", ""), body.get("status", "")),
        "organisation": managing.get("display") or managing.get("reference", ""),
        "description": body.get("description", ""),
        "position": body.get("position"),
        "telecom": [t.get("value") for t in body.get("telecom") or [] if t.get("value")],
    }


def _search(
    session: Session,
    settings: Settings,
    resource_type: str,
    query: list[tuple[str, str]],
    offset: int,
) -> tuple[list[Resource], int]:
    criteria, ids = search.parse(resource_type, query)
    statement = search.statement(resource_type, criteria, ids, settings.zone)
    return search.page(session, statement, search.order(resource_type, None), PAGE_SIZE, offset)


@router.get("/sites", response_class=HTMLResponse)
def site_list(
    request: Request,
    _principal: Analyst,
    commune: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """All sites, optionally those of one commune (by name, prefix match), fifty per page."""
    query = [("address-city", commune.strip())] if commune.strip() else []
    with transaction(request.app.state.sessions) as session:
        rows, total = _search(
            session, request.app.state.settings, "Location", query, (page - 1) * PAGE_SIZE
        )
        sites = [site_summary(row.body) for row in rows]
    pages = max(1, -(-total // PAGE_SIZE))
    context = {"sites": sites, "total": total, "commune": commune, "page": page, "pages": pages}
    return render(request, "sites.html", context)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_detail(request: Request, site_id: str, _principal: Analyst) -> HTMLResponse:
    """One site with its organisation and the services (modalities) offered there."""
    with transaction(request.app.state.sessions) as session:
        row = resources.get(session, "Location", site_id)
        if row is None or row.deleted:
            raise PageError(404, "Ce site n'existe pas.")
        site = site_summary(row.body)
        query = [("location", f"Location/{site_id}")]
        services, _total = _search(
            session, request.app.state.settings, "HealthcareService", query, 0
        )
        offered = [
            {
                "nom": s.body.get("name", ""),
                "type": concept_text(s.body.get("type")),
                "actif": s.body.get("active", True),
            }
            for s in services
        ]
    return render(request, "site.html", {"site": site, "services": offered})
