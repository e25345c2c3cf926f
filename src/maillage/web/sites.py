"""Site registry pages: the network's telemedicine sites (FHIR Location) as a list, a map and
in detail (modalities offered, telemedicine station and connected devices).

They read the registry through the principal's repository (the same searches as
``/fhir/Location``), so what a coordinator sees here is what the API serves. Sites are registry
data, not patient data: planners see them too. The map is inline SVG drawn from department
outlines (no tile server), like the access maps.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData

from maillage.care.errors import DomainError, Gone, NotFound
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.care.site_editing import STATUSES, SiteEdit, SiteEditError, edit_site, site_record
from maillage.care.site_import import (
    EQUIPMENT_SYSTEM,
    MODALITIES,
    MODALITY_SYSTEM,
    ORGANIZATION_TYPES,
)
from maillage.outputs.choropleth import Marker, sites_svg
from maillage.planning.outputs import EXISTING_COLOUR
from maillage.territory.outlines import departement_outlines, departements_at
from maillage.web import records
from maillage.web.navigation import ANALYSTS, OPERATORS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
Operator = Annotated[Principal, Depends(allowed(OPERATORS))]
PAGE_SIZE = 50
STATUS_LABELS = {"active": "En service", "suspended": "Suspendu", "inactive": "Fermé"}
#: Marker colours of the registry map: sites in service stand out, the others are grey.
IN_SERVICE_COLOUR, OUT_OF_SERVICE_COLOUR = "#08519c", EXISTING_COLOUR
#: The telemedicine station of a site (codes of ``urn:maillage:equipment``, see site_import).
STATIONS = {"cabine": "Cabine de télémédecine", "chariot": "Chariot de télémédecine"}
#: Connected devices commonly used at a site; other codes are shown as written.
DEVICES = {
    "stethoscope-connecte": "Stéthoscope connecté",
    "otoscope-connecte": "Otoscope connecté",
    "dermatoscope-connecte": "Dermatoscope connecté",
    "tensiometre": "Tensiomètre",
    "oxymetre": "Oxymètre",
    "ecg": "Électrocardiographe (ECG)",
    "thermometre": "Thermomètre",
    "glucometre": "Glucomètre",
    "spirometre": "Spiromètre",
    "camera-examen": "Caméra d'examen",
}


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


def _equipment(body: dict[str, Any]) -> tuple[list[str], list[str]]:
    """French names of the site's station (cabine, chariot) and connected devices."""
    codes = [
        coding.get("code", "")
        for concept in body.get("type") or []
        for coding in concept.get("coding") or []
        if coding.get("system") == EQUIPMENT_SYSTEM
    ]
    stations = [STATIONS[c] for c in codes if c in STATIONS]
    devices = [DEVICES.get(c, c.replace("-", " ")) for c in codes if c and c not in STATIONS]
    return stations, devices


def site_summary(body: dict[str, Any], managers: dict[str, dict]) -> dict[str, Any]:
    """The fields a list row and the detail page show, from a Location body
    (``managers``: :func:`organisations` of the page's sites)."""
    address = body.get("address") or {}
    managing = body.get("managingOrganization") or {}
    manager = managers.get(managing.get("reference", ""), {})
    kinds = [
        concept
        for concept in body.get("type") or []
        if all(c.get("system") != EQUIPMENT_SYSTEM for c in concept.get("coding") or [])
    ]
    stations, devices = _equipment(body)
    return {
        "id": body["id"],
        "nom": body.get("name") or body["id"],
        "type": concept_text(kinds) or manager.get("type", ""),
        "commune": " ".join(filter(None, (address.get("postalCode"), address.get("city")))),
        "adresse": ", ".join(address.get("line") or []),
        "statut": STATUS_LABELS.get(body.get("status", ""), body.get("status", "")),
        "organisation": managing.get("display")
        or manager.get("nom")
        or managing.get("reference", ""),
        "description": body.get("description", ""),
        "position": body.get("position"),
        "telecom": [t.get("value") for t in body.get("telecom") or [] if t.get("value")],
        "postes": stations,
        "dispositifs": devices,
    }


def organisations(repository: Repository, bodies: list[dict[str, Any]]) -> dict[str, dict]:
    """Name and type of the sites' managing organisations by reference, read in one search
    (imported sites name their Organization by reference only, and their kind — MSP, EHPAD —
    is the Organization's type)."""
    references = {(b.get("managingOrganization") or {}).get("reference", "") for b in bodies} - {""}
    ids = {r.removeprefix("Organization/") for r in references}
    return {
        f"Organization/{ident}": {
            "nom": body.get("name", ""),
            "type": concept_text(body.get("type")),
        }
        for ident, body in records.by_ids(repository, "Organization", ids).items()
    }


def located_sites(bodies: list[dict[str, Any]]) -> pd.DataFrame:
    """``id``, ``nom``, ``status``, ``lon``, ``lat`` of the sites with coordinates."""
    frame = pd.json_normalize(bodies) if bodies else pd.DataFrame()
    columns = {"id": "id", "name": "nom", "status": "status",
               "position.longitude": "lon", "position.latitude": "lat"}  # fmt: skip
    frame = frame.reindex(columns=list(columns)).rename(columns=columns)
    frame[["lon", "lat"]] = frame[["lon", "lat"]].apply(pd.to_numeric, errors="coerce")
    frame["nom"] = frame.nom.fillna(frame.id).astype(str)
    return frame[np.isfinite(frame.lon) & np.isfinite(frame.lat)].reset_index(drop=True)


def all_sites(repository: Repository, query: list[tuple[str, str]]) -> list[dict]:
    """Bodies of every live site matching ``query``, unpaged (for maps)."""
    return records.everything(repository, "Location", query)


def registry_map(sites: pd.DataFrame) -> Markup:
    """The sites over the outlines of their departments, in service or not by colour."""
    if sites.empty:
        return Markup("")
    in_service = sites.status.eq("active").to_numpy()
    colours = np.where(in_service, IN_SERVICE_COLOUR, OUT_OF_SERVICE_COLOUR)
    labels = sites.nom + " — " + sites.status.map(STATUS_LABELS).fillna("statut inconnu")
    markers = [
        Marker(lon, lat, label, colour)
        for lon, lat, label, colour in zip(sites.lon, sites.lat, labels, colours, strict=True)
    ]
    codes = set(departements_at(sites.lon.to_numpy(), sites.lat.to_numpy()))
    return Markup(sites_svg(departement_outlines(codes), markers))


@router.get("/sites", response_class=HTMLResponse)
def site_list(
    request: Request,
    _principal: Analyst,
    repository: PageRepo,
    commune: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    """All sites, optionally those of one commune (by name, prefix match), fifty per page, and
    on a map all the sites the search found."""
    query = [("address-city", commune.strip())] if commune.strip() else []
    paging = [("_count", str(PAGE_SIZE)), ("_offset", str((page - 1) * PAGE_SIZE))]
    with records.refusals():
        found = repository.search("Location", [*query, *paging])
    bodies = [repository.outgoing(row.body) for row in found.rows]
    managers = organisations(repository, bodies)
    sites = [site_summary(body, managers) for body in bodies]
    located = located_sites(all_sites(repository, query))
    total = found.matches
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "sites": sites,
        "total": total,
        "commune": commune,
        "page": page,
        "pages": pages,
        "carte": registry_map(located),
        "localises": len(located),
        "marqueurs": [
            ("Site en service", IN_SERVICE_COLOUR, "circle"),
            ("Site suspendu ou fermé", OUT_OF_SERVICE_COLOUR, "circle"),
        ],
    }
    return render(request, "sites.html", context)


@router.get("/sites/{site_id}", response_class=HTMLResponse)
def site_detail(
    request: Request, site_id: str, principal: Analyst, repository: PageRepo
) -> HTMLResponse:
    """One site with its organisation, its equipment and the modalities offered there."""
    try:
        body = repository.outgoing(repository.read("Location", site_id).body)
    except (NotFound, Gone) as error:
        raise PageError(404, "Ce site n'existe pas.") from error
    except DomainError as error:
        raise records.page_error(error) from error
    site = site_summary(body, organisations(repository, [body]))
    query = [("location", f"Location/{site_id}")]
    offered = [
        {
            "modalite": _modality(service),
            "nom": service.get("name", ""),
            "actif": service.get("active", True),
        }
        for service in records.everything(repository, "HealthcareService", query)
    ]
    context = {"site": site, "services": offered, "modifiable": principal.role in OPERATORS}
    return render(request, "site.html", context)


def _edit_form(
    request: Request,
    site_id: str,
    body: dict[str, Any],
    edit: SiteEdit,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The edit form of a site, filled with ``edit`` (and the refusal of a sent one)."""
    devices = {**STATIONS, **DEVICES} | {c: c for c in edit.equipment if c not in DEVICES}
    context = {
        "id": site_id,
        "nom_actuel": body.get("name") or site_id,
        "valeurs": edit,
        "types": {key: label for key, (_, label) in ORGANIZATION_TYPES.items()},
        "statuts": {s: STATUS_LABELS[s] for s in STATUSES},
        "equipements": devices,
        "modalites": MODALITIES,
        "erreur": error,
    }
    return render(request, "site_modifier.html", context, status=status)


@router.get("/sites/{site_id}/modifier", response_class=HTMLResponse)
def site_edit_form(
    request: Request, site_id: str, _principal: Operator, repository: PageRepo
) -> HTMLResponse:
    """The form that changes a site's name, kind, status, equipment, modalities and FINESS."""
    with records.refusals():
        record = site_record(repository, site_id)
    return _edit_form(request, site_id, record.location, record.current)


@router.post("/sites/{site_id}/modifier", response_class=HTMLResponse)
def site_edit(
    request: Request,
    site_id: str,
    _principal: Operator,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Write the site's new record, unless it changed since the form was read (409/412)."""
    version = str(form.get("version", ""))
    edit = SiteEdit(
        name=str(form.get("nom", "")),
        kind=str(form.get("type", "")),
        status=str(form.get("statut", "")),
        equipment=tuple(str(v) for v in form.getlist("equipement")),
        modalities=tuple(str(v) for v in form.getlist("modalite")),
        finess_et=str(form.get("finess", "")),
        version=int(version) if version.isdigit() else 0,
    )
    try:
        with records.refusals():
            edit_site(repository, site_id, edit)
    except SiteEditError as error:
        with records.refusals():
            body = repository.read("Location", site_id).body
        return _edit_form(request, site_id, body, edit, str(error), status=422)
    return RedirectResponse(f"/sites/{site_id}", status_code=303)


def _modality(service: dict[str, Any]) -> str:
    """The French name of a service's modality (``urn:maillage:modality``), else its type."""
    code = next(
        (
            c.get("code")
            for concept in service.get("type") or []
            for c in concept.get("coding") or []
            if c.get("system") == MODALITY_SYSTEM
        ),
        None,
    )
    return MODALITIES.get(code or "", "") or concept_text(service.get("type"))
