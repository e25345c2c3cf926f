"""Planner pages: the plan form (where to open the next N sites) and a plan job's result.

The result shows access before and after the new sites, the certified optimality gap and the
sites in the order they should open, as ``maillage plan`` writes them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care.principal import Principal
from maillage.care.registry_sites import registry_sites
from maillage.jobs.diagnosis import DIAGNOSIS
from maillage.jobs.plan import PLAN, enqueue_plan
from maillage.jobs.results import JobResult
from maillage.planning.outputs import EXISTING, EXISTING_COLOUR, NEW, NEW_COLOUR
from maillage.planning.parameters import (
    CHOOSES_ITS_SITES,
    DEFAULT_MINUTES,
    OBJECTIVE_LABELS,
    OBJECTIVES,
)
from maillage.web import jobs
from maillage.web.dataset_choices import dataset_fields, read_dataset_choices
from maillage.web.diagnostics import area_fields, read_area, result_context
from maillage.web.jobs import FilesDir, Jobs
from maillage.web.navigation import ANALYSTS
from maillage.web.records import PageRepo, refusals
from maillage.web.rendering import allowed, render
from maillage.web.session import checked_form

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]
MAX_SITES = 500
#: The form's objectives: those that take a number of sites (``lscp`` chooses its own).
FORM_OBJECTIVES = tuple(o for o in OBJECTIVES if o not in CHOOSES_ITS_SITES)


def _form(
    files_dir: Path, values: dict[str, str], errors: list[str] | None = None
) -> dict[str, Any]:
    objectives = {o: OBJECTIVE_LABELS[o] for o in FORM_OBJECTIVES}
    return {
        **area_fields(),
        **dataset_fields(files_dir),
        "objectifs": objectives,
        "valeurs": values,
        "erreurs": errors or [],
    }


def _number(text: str, kind: type[int] | type[float], low: float, high: float) -> float | None:
    try:
        value = kind(text.replace(",", "."))
    except ValueError:
        return None
    return value if low <= value <= high else None


@router.get("/plans/nouveau", response_class=HTMLResponse)
def plan_form(request: Request, _principal: Analyst, files: FilesDir) -> HTMLResponse:
    values = {
        "territoire": "region:44",
        "profession": "generaliste",
        "methode": "apl",
        "sites": "10",
        "objectif": "underserved",
        "minutes": f"{DEFAULT_MINUTES:g}",
    }
    return render(request, "plan_formulaire.html", _form(files, values))


@router.post("/plans", response_class=HTMLResponse)
def start_plan(
    request: Request,
    principal: Analyst,
    files: FilesDir,
    queue: Jobs,
    repository: PageRepo,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Check the choices, queue the plan and go to its progress page."""
    values, diagnosis, errors = read_area(form)
    chosen, datasets, dataset_errors = read_dataset_choices(form, files)
    values, diagnosis, errors = values | chosen, diagnosis | datasets, errors + dataset_errors
    values |= {k: str(form.get(k, "")).strip() for k in ("sites", "objectif", "minutes")}
    values["registre"] = "oui" if form.get("registre") else ""
    sites = _number(values["sites"], int, 1, MAX_SITES)
    minutes = _number(values["minutes"], float, 1, 120)
    if sites is None:
        errors.append(f"Le nombre de sites est un entier de 1 à {MAX_SITES}.")
    if values["objectif"] not in FORM_OBJECTIVES:
        errors.append("Choisissez un objectif de la liste.")
    if minutes is None:
        errors.append("La portée d'un site est un nombre de minutes entre 1 et 120.")
    if errors:
        return render(request, "plan_formulaire.html", _form(files, values, errors), status=422)
    parameters: dict[str, Any] = {
        "diagnosis": diagnosis,
        "sites": sites,
        "objective": values["objectif"],
        "minutes": minutes,
    }
    if values["registre"]:
        with refusals():
            parameters["existing_sites"] = registry_sites(repository)
    job = jobs.queue_or_503(lambda: enqueue_plan(queue, parameters, files, principal.email))
    return RedirectResponse(f"/plans/{job.id}", status_code=303)


def _plan_context(result: JobResult, files_dir: Path) -> dict[str, Any]:
    """The chosen sites in opening order, read from the result's ``sites.csv`` (its existing
    sites left out); the link to the access map, where they show beside the existing sites,
    once a diagnosis has drawn one."""
    with (result.directory / "sites.csv").open(encoding="utf-8", newline="") as handle:
        sites = [s for s in csv.DictReader(handle) if s.get("status") != EXISTING]
    colours = {NEW: NEW_COLOUR, EXISTING: EXISTING_COLOUR}
    diagnosed = JobResult.latest(DIAGNOSIS, files_dir) is not None
    return {
        **result_context(),
        "cartes": result.maps,
        "carte_acces": diagnosed,
        "sites": sites,
        "objectifs": OBJECTIVE_LABELS,
        "couleurs": colours,
    }


@router.get("/plans/{job_id}", response_class=HTMLResponse)
def plan_page(
    request: Request, job_id: str, _principal: Analyst, files: FilesDir, queue: Jobs
) -> HTMLResponse:
    return jobs.job_page(
        request, files, queue, PLAN, job_id, "plan.html", lambda r: _plan_context(r, files)
    )


@router.get("/plans/{job_id}/progression", response_class=HTMLResponse)
def plan_progress(request: Request, job_id: str, _principal: Analyst, queue: Jobs) -> HTMLResponse:
    return jobs.progress_fragment(request, queue, PLAN, job_id)


@router.get("/plans/{job_id}/telecharger/{name}")
def plan_download(job_id: str, name: str, _principal: Analyst, files: FilesDir) -> FileResponse:
    return jobs.download(files, PLAN, job_id, name)
