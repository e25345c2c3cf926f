"""Planner pages: the access map, the diagnosis form, a diagnosis job's progress and result.

The form only queues the work (a national diagnosis takes longer than a web request should);
the job page polls its progress with htmx until the worker has written the result.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from maillage.api.auth import Principal
from maillage.diagnosis.parameters import METHODS, PROFESSIONS
from maillage.jobs.diagnosis import DIAGNOSIS, enqueue_diagnosis
from maillage.jobs.results import JobResult
from maillage.reports.choropleth import CLASS_LABELS
from maillage.territory.geography import departements, regions
from maillage.web import jobs
from maillage.web.navigation import ANALYSTS
from maillage.web.rendering import allowed, render
from maillage.web.session import checked_form

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


@router.get("/carte", response_class=HTMLResponse)
def access_map(request: Request, _principal: Analyst) -> HTMLResponse:
    """The latest finished diagnosis on a map (the regional view planners open first)."""
    result = JobResult.latest(DIAGNOSIS, jobs.files_dir(request))
    return render(request, "carte.html", {"resultat": result, **result_context()})


@router.get("/diagnostics/nouveau", response_class=HTMLResponse)
def diagnosis_form(request: Request, _principal: Analyst) -> HTMLResponse:
    values = {"territoire": "region:44", "profession": "generaliste", "methode": "apl"}
    return render(request, "diagnostic_formulaire.html", {**area_fields(), "valeurs": values})


@router.post("/diagnostics", response_class=HTMLResponse)
def start_diagnosis(
    request: Request, principal: Analyst, form: Annotated[FormData, Depends(checked_form)]
) -> Response:
    """Check the choices, queue the job and go to its progress page."""
    values, parameters, errors = read_area(form)
    if errors:
        context = {**area_fields(), "valeurs": values, "erreurs": errors}
        return render(request, "diagnostic_formulaire.html", context, status=422)
    job = jobs.queue_or_503(
        lambda: enqueue_diagnosis(
            jobs.job_queue(request), parameters, jobs.files_dir(request), principal.email
        )
    )
    return RedirectResponse(f"/diagnostics/{job.id}", status_code=303)


@router.get("/diagnostics/{job_id}", response_class=HTMLResponse)
def diagnosis_page(request: Request, job_id: str, _principal: Analyst) -> HTMLResponse:
    return jobs.job_page(request, DIAGNOSIS, job_id, "carte.html", result_context)


@router.get("/diagnostics/{job_id}/progression", response_class=HTMLResponse)
def diagnosis_progress(request: Request, job_id: str, _principal: Analyst) -> HTMLResponse:
    return jobs.progress_fragment(request, DIAGNOSIS, job_id)


@router.get("/diagnostics/{job_id}/telecharger/{name}")
def diagnosis_download(
    request: Request, job_id: str, name: str, _principal: Analyst
) -> FileResponse:
    return jobs.download(request, DIAGNOSIS, job_id, name)
