"""Planner pages: the access map, the diagnosis form, a diagnosis job's progress and result.

The form only queues the work (a national diagnosis takes longer than a web request should);
the job page polls its progress with htmx until the worker has written the result. The maps
show the existing sites (the registry's, read at each view) and the planned ones (a finished
plan's) over the access the worker drew: sites are registry data, never patient data.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.diagnosis.parameters import METHODS, PROFESSIONS
from maillage.jobs.diagnosis import DIAGNOSIS, enqueue_diagnosis
from maillage.jobs.plan import PLAN
from maillage.jobs.results import JobResult, MapPanel
from maillage.outputs.choropleth import CLASS_LABELS, Marker, add_markers
from maillage.planning.outputs import EXISTING, EXISTING_COLOUR, NEW_COLOUR
from maillage.territory.geography import departements, regions
from maillage.web import jobs
from maillage.web.dataset_choices import dataset_fields, read_dataset_choices
from maillage.web.jobs import FilesDir, Jobs
from maillage.web.navigation import ANALYSTS
from maillage.web.records import PageRepo
from maillage.web.rendering import PageError, allowed, render
from maillage.web.session import checked_form
from maillage.web.sites import all_sites, located_sites

router = APIRouter(include_in_schema=False)
Analyst = Annotated[Principal, Depends(allowed(ANALYSTS))]

PROFESSION_LABELS = {
    "generaliste": "Médecins généralistes",
    "infirmier": "Infirmiers",
    "kinesitherapeute": "Masseurs-kinésithérapeutes",
    "sage-femme": "Sages-femmes",
    "dentiste": "Chirurgiens-dentistes",
}
METHOD_LABELS = {
    "apl": "APL (DREES)",
    "e2sfca": "E2SFCA",
    "2sfca": "2SFCA",
    "gravity": "Modèle gravitaire",
}
CLASS_NAMES = {**CLASS_LABELS, "non classée": "Non classée"}
#: The marker layers of the access map: (legend, colour, shape).
SITE_LAYERS = [
    ("Sites existants", EXISTING_COLOUR, "circle"),
    ("Sites prévus", NEW_COLOUR, "square"),
]


@cache
def territories() -> dict[str, tuple[str, dict[str, str]]]:
    """Choices of the "territory" field: value → (label, DiagnosisParameters fields)."""
    choices: dict[str, tuple[str, dict[str, str]]] = {
        "france": ("France entière", {"region": "all"})
    }
    for code, name in regions()[["code", "nom"]].itertuples(index=False):
        choices[f"region:{code}"] = (f"{name} (région {code})", {"region": code})
    for code, name in departements()[["code", "nom"]].itertuples(index=False):
        choices[f"departement:{code}"] = (f"{name} ({code})", {"department": code})
    return choices


def area_fields() -> dict[str, Any]:
    """The select lists every analysis form shares (territory, profession, method)."""
    return {
        "territoires": territories(),
        "professions": {p: PROFESSION_LABELS[p] for p in PROFESSIONS},
        "methodes": {m: METHOD_LABELS[m] for m in METHODS},
    }


def read_area(form: FormData) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The submitted area fields, the DiagnosisParameters they mean, and errors in French."""
    values = {k: str(form.get(k, "")) for k in ("territoire", "profession", "methode")}
    territory = territories().get(values["territoire"])
    errors = []
    if territory is None:
        errors.append("Choisissez un territoire de la liste.")
    if values["profession"] not in PROFESSIONS:
        errors.append("Choisissez une profession de la liste.")
    if values["methode"] not in METHODS:
        errors.append("Choisissez une méthode de la liste.")
    parameters = {
        **(territory[1] if territory else {}),
        "profession": values["profession"],
        "method": values["methode"],
    }
    return values, parameters, errors


def result_context(_result: JobResult | None = None) -> dict[str, Any]:
    """French names of the codes a result page shows."""
    return {"classes": CLASS_NAMES, "professions": PROFESSION_LABELS}


def existing_markers(repository: Repository) -> list[Marker]:
    """The registry's sites with coordinates, closed ones left out."""
    sites = located_sites(all_sites(repository, []))
    sites = sites[sites.status.ne("inactive")]
    return [
        Marker(lon, lat, f"Site existant — {name}", EXISTING_COLOUR)
        for lon, lat, name in zip(sites.lon, sites.lat, sites.nom, strict=True)
    ]


def planned_markers(plan: JobResult) -> list[Marker]:
    """The new sites of a finished plan, in opening order (its ``sites.csv``, where the
    existing sites follow them; older plans have no ``status``)."""
    sites = pd.read_csv(
        plan.directory / "sites.csv",
        usecols=lambda c: c in ("rank", "name", "code_commune", "lon", "lat", "status"),
        dtype={"code_commune": str, "name": str, "rank": str},
    )
    if "status" in sites:
        sites = sites[sites.status.ne(EXISTING)]
    labels = "Site prévu n° " + sites["rank"].astype(str) + " — " + sites.name
    labels += " (" + sites.code_commune + ")"
    return [
        Marker(lon, lat, label, NEW_COLOUR, "square")
        for lon, lat, label in zip(sites.lon, sites.lat, labels, strict=True)
    ]


def map_context(
    repository: Repository, result: JobResult, plan: JobResult | None
) -> dict[str, Any]:
    """The result's maps with the existing sites and ``plan``'s sites drawn on them."""
    existing = existing_markers(repository)
    markers = existing + (planned_markers(plan) if plan else [])
    maps, drawn = [], np.zeros(len(markers), dtype=bool)
    for shown in result.maps:
        svg, on_map = add_markers(shown.svg, markers)
        maps.append(MapPanel(shown.title, svg, shown.legend))
        drawn |= on_map
    return {
        **result_context(),
        "cartes": maps,
        "marqueurs": SITE_LAYERS,
        "existants": int(drawn[: len(existing)].sum()),
        "plan": plan,
        "prevus": int(drawn[len(existing) :].sum()),
    }


@router.get("/carte", response_class=HTMLResponse)
def access_map(
    request: Request,
    _principal: Analyst,
    repository: PageRepo,
    files: FilesDir,
    plan: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """The latest finished diagnosis on a map (the regional view planners open first), with
    the sites of the plan ``plan`` (default: the latest finished one)."""
    chosen = JobResult.find(PLAN, files, plan) if plan else JobResult.latest(PLAN, files)
    if plan and chosen is None:
        raise PageError(404, "Ce plan n'existe pas ou n'est pas terminé.")
    result = JobResult.latest(DIAGNOSIS, files)
    context = map_context(repository, result, chosen) if result else {}
    return render(request, "carte.html", {"resultat": result, **context})


@router.get("/diagnostics/nouveau", response_class=HTMLResponse)
def diagnosis_form(request: Request, _principal: Analyst, files: FilesDir) -> HTMLResponse:
    values = {"territoire": "region:44", "profession": "generaliste", "methode": "apl"}
    context = {**area_fields(), **dataset_fields(files), "valeurs": values}
    return render(request, "diagnostic_formulaire.html", context)


@router.post("/diagnostics", response_class=HTMLResponse)
def start_diagnosis(
    request: Request,
    principal: Analyst,
    files: FilesDir,
    queue: Jobs,
    form: Annotated[FormData, Depends(checked_form)],
) -> Response:
    """Check the choices, queue the job and go to its progress page."""
    values, parameters, errors = read_area(form)
    chosen, datasets, dataset_errors = read_dataset_choices(form, files)
    values, parameters, errors = values | chosen, parameters | datasets, errors + dataset_errors
    if errors:
        context = {**area_fields(), **dataset_fields(files), "valeurs": values, "erreurs": errors}
        return render(request, "diagnostic_formulaire.html", context, status=422)
    job = jobs.queue_or_503(lambda: enqueue_diagnosis(queue, parameters, files, principal.email))
    return RedirectResponse(f"/diagnostics/{job.id}", status_code=303)


@router.get("/diagnostics/{job_id}", response_class=HTMLResponse)
def diagnosis_page(
    request: Request,
    job_id: str,
    _principal: Analyst,
    repository: PageRepo,
    files: FilesDir,
    queue: Jobs,
) -> HTMLResponse:
    latest_plan = JobResult.latest(PLAN, files)
    return jobs.job_page(
        request,
        files,
        queue,
        DIAGNOSIS,
        job_id,
        "carte.html",
        lambda result: map_context(repository, result, latest_plan),
    )


@router.get("/diagnostics/{job_id}/progression", response_class=HTMLResponse)
def diagnosis_progress(
    request: Request, job_id: str, _principal: Analyst, queue: Jobs
) -> HTMLResponse:
    return jobs.progress_fragment(request, queue, DIAGNOSIS, job_id)


@router.get("/diagnostics/{job_id}/telecharger/{name}")
def diagnosis_download(
    job_id: str, name: str, _principal: Analyst, files: FilesDir
) -> FileResponse:
    return jobs.download(files, DIAGNOSIS, job_id, name)
