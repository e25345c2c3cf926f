"""The roadmap projects on pages (``/projets``): each site or MSP project with its stages,
funding by funder, people trained and requests to the regional hotline.

A thin door over :class:`maillage.care.projects.Projects` (what ``/api/projects`` serves):
those who read aggregates see the projects, the network's operators record them. Each change
is one versioned write of the project as it is now (:meth:`Projects.amend`), so two people
adding a funding and a trainee at once both keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from maillage import french_format
from maillage.care.errors import DomainError
from maillage.care.principal import Principal
from maillage.care.projects import (
    KIND_LABELS,
    REQUEST_LABELS,
    STAGE_LABELS,
    ProjectIn,
    ProjectOut,
    Projects,
    SupportRequest,
)
from maillage.care.repository import Repository
from maillage.web import records
from maillage.web.navigation import ANALYSTS, OPERATORS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
Operator = Annotated[Principal, Depends(allowed(OPERATORS))]
Form = Annotated[FormData, Depends(checked_form)]
REFUSED = (
    "Saisie refusée : vérifiez les champs (texte requis, montant positif avec deux décimales au "
    "plus, dates valides ; les étapes se suivent dans l'ordre, chacune une fois, à des dates "
    "croissantes)."
)


def _projects(repository: PageRepo) -> Projects:
    return Projects(repository.sessions, _principal_of(repository))


def _principal_of(repository: Repository) -> Principal:
    assert repository.principal is not None  # PageRepo's account is signed in
    return repository.principal


RoadmapProjects = Annotated[Projects, Depends(_projects)]


def _site_names(repository: Repository) -> dict[str, str]:
    """Site names by ``Location/id`` (the registry, read once)."""
    return {f"Location/{b['id']}": b.get("name") or b["id"] for b in repository.sites()}


def _row(project: ProjectOut, sites: dict[str, str]) -> dict[str, Any]:
    return {
        "projet": project,
        "type": KIND_LABELS[project.kind],
        "site": sites.get(project.location or "", project.location or ""),
        "etape": STAGE_LABELS[project.stage] if project.stage else "aucune",
        "financement": float(sum(f.amount_euros for f in project.funding)),
        "formes": len(project.trained),
        "demandes": sum(r.status == "open" for r in project.support_requests),
    }


@router.get("/projets", response_class=HTMLResponse)
def project_list(
    request: Request, principal: Analyst, projects: RoadmapProjects, repository: PageRepo
) -> HTMLResponse:
    """Every project with its current stage, funding, people trained and open requests."""
    with records.refusals():
        found = projects.find()
    sites = _site_names(repository)
    context = {
        "projets": [_row(p, sites) for p in found],
        "modifiable": principal.role in OPERATORS,
        "types": KIND_LABELS,
        "sites": sorted(sites.items(), key=lambda item: item[1]),
    }
    return render(request, "projets.html", context)


@router.post("/projets")
def project_create(_principal: Operator, projects: RoadmapProjects, form: Form) -> Response:
    """Start following a project (a site's, or an MSP's creation or extension)."""
    location = str(form.get("location", "")).strip() or None
    try:
        project = ProjectIn.model_validate(
            {"name": _text(form, "nom"), "kind": _text(form, "type"), "location": location}
        )
    except ValidationError as error:
        raise PageError(422, REFUSED) from error
    with records.refusals():
        created = projects.create(project)
    return RedirectResponse(f"/projets/{created.id}", status_code=303)


@router.get("/projets/{project_id}", response_class=HTMLResponse)
def project_detail(
    request: Request,
    project_id: str,
    principal: Analyst,
    projects: RoadmapProjects,
    repository: PageRepo,
) -> HTMLResponse:
    """One project: its stages, funding, trainees and hotline requests, and the forms that
    add to them."""
    with records.refusals():
        project = projects.read(project_id)
    context = {
        **_row(project, _site_names(repository)),
        "modifiable": principal.role in OPERATORS,
        "etapes": STAGE_LABELS,
        "statuts": REQUEST_LABELS,
        "aujourdhui": repository.settings.today().isoformat(),
        "jour": french_format.day,
    }
    return render(request, "projet.html", context)


def _amended(
    projects: Projects, project_id: str, change: Callable[[ProjectIn], dict[str, Any]]
) -> Response:
    """Apply ``change`` (the fields it replaces) and go back to the project's page; a change
    the project's rules refuse is a French 422 page."""

    def amend(current: ProjectIn) -> ProjectIn:
        return ProjectIn.model_validate(current.model_dump() | change(current))

    try:
        projects.amend(project_id, amend)
    except (ValidationError, ValueError) as error:
        raise PageError(422, REFUSED) from error
    except DomainError as error:
        raise records.page_error(error) from error
    return RedirectResponse(f"/projets/{project_id}", status_code=303)


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _euros(text: str) -> Decimal:
    """« 12 500,50 » or « 12500.50 » as euros."""
    cleaned = "".join(text.split()).replace("\u202f", "").replace(",", ".")
    try:
        return Decimal(cleaned)
    except InvalidOperation as error:
        raise PageError(422, REFUSED) from error


@router.post("/projets/{project_id}/etape")
def record_stage(
    project_id: str, _principal: Operator, projects: RoadmapProjects, form: Form
) -> Response:
    """Record the next stage reached, and when."""
    reached = {"stage": _text(form, "etape"), "date": _text(form, "date")}
    return _amended(
        projects,
        project_id,
        lambda p: {"stages": [*p.model_dump()["stages"], reached]},
    )


@router.post("/projets/{project_id}/financement")
def add_funding(
    project_id: str, _principal: Operator, projects: RoadmapProjects, form: Form
) -> Response:
    """Record a funding granted, by whom and when."""
    granted = {
        "amount_euros": _euros(_text(form, "montant")),
        "funder": _text(form, "financeur"),
        "granted": _text(form, "date"),
    }
    return _amended(
        projects, project_id, lambda p: {"funding": [*p.model_dump()["funding"], granted]}
    )


@router.post("/projets/{project_id}/formation")
def add_trainee(
    project_id: str, _principal: Operator, projects: RoadmapProjects, form: Form
) -> Response:
    """Record a person trained to use the site's equipment."""
    trainee = {
        "name": _text(form, "nom"),
        "role": _text(form, "fonction") or None,
        "trained": _text(form, "date"),
    }
    return _amended(
        projects, project_id, lambda p: {"trained": [*p.model_dump()["trained"], trainee]}
    )


@router.post("/projets/{project_id}/hotline")
def open_request(
    project_id: str, _principal: Operator, projects: RoadmapProjects, form: Form
) -> Response:
    """Record a request sent to the regional hotline."""
    try:
        support = SupportRequest.model_validate(
            {"opened": _text(form, "date"), "subject": _text(form, "objet")}
        )
    except ValidationError as error:
        raise PageError(422, REFUSED) from error
    with records.refusals():
        projects.open_support_request(project_id, support)
    return RedirectResponse(f"/projets/{project_id}", status_code=303)


@router.post("/projets/{project_id}/hotline/{request_id}")
def answer_request(
    project_id: str, request_id: str, _principal: Operator, projects: RoadmapProjects, form: Form
) -> Response:
    """Record the hotline's answer to a request, or close it."""
    status, answer = _text(form, "statut"), _text(form, "reponse") or None

    def answered(current: ProjectIn) -> dict[str, Any]:
        requests = current.model_dump()["support_requests"]
        if not any(r["id"] == request_id for r in requests):
            raise PageError(404, "Cette demande n'existe pas.")
        return {
            "support_requests": [
                r | {"status": status, "answer": answer or r["answer"]}
                if r["id"] == request_id
                else r
                for r in requests
            ]
        }

    return _amended(projects, project_id, answered)
