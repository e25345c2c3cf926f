"""A plan (where to open the next N sites) as a background job, with its before/after maps."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rq import Queue, get_current_job
from rq.job import Job

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.jobs.progress import StepRecorder
from maillage.jobs.results import MapPanel, ResultKind, enqueue, write_maps
from maillage.planning.parameters import PlanParameters

if TYPE_CHECKING:
    from maillage.planning.pipeline import Plan

#: Diagnosis (5 steps), candidates, travel to sites, simulation (5), writing, maps.
PLAN = ResultKind(
    folder="plans",
    downloads={"csv": "sites.csv", "impact": "impact.csv", "geojson": "plan.geojson"},
    total_steps=14,
)
SOLVER_STAGES = {
    "greedy": "glouton",
    "swap": "échanges",
    "build": "construction du modèle exact",
    "lp": "borne par relaxation",
    "restricted": "modèle exact restreint",
    "sequence": "ordre d'ouverture",
    "done": "terminée",
}


def plan_parameters(parameters: dict[str, Any]) -> PlanParameters:
    """``{"diagnosis": {...}, "sites": N, ...}`` (JSON-friendly) as validated parameters."""
    options = {k: v for k, v in parameters.items() if k != "diagnosis"}
    return PlanParameters(DiagnosisParameters(**parameters["diagnosis"]), **options)


def enqueue_plan(queue: Queue, parameters: dict[str, Any], files_dir: Path, owner: str) -> Job:
    """Queue a plan of ``parameters`` (see :func:`plan_parameters`), checked first."""
    plan_parameters(parameters)
    return enqueue(queue, PLAN, run_plan_job, parameters, files_dir, owner)


def run_plan_job(parameters: dict[str, Any], out: str) -> dict[str, Any]:
    """Worker side: diagnose, choose the sites, simulate, write the files and the maps."""
    from maillage.planning.outputs import write_plan
    from maillage.planning.pipeline import run_plan

    job = get_current_job()
    if job is None:
        raise RuntimeError("run_plan_job runs inside `maillage worker`")
    recorder = StepRecorder(job, PLAN.total_steps)

    def solver_progress(stage: str, fraction: float | None) -> None:
        share = "" if fraction is None else f" {fraction:.0%}"
        recorder.note(f"Optimisation : {SOLVER_STAGES.get(stage, stage)}{share}")

    plan = run_plan(plan_parameters(parameters), recorder.step, solver_progress)
    target = Path(out)
    with recorder.step("Écriture des résultats"):
        write_plan(plan, target)
    with recorder.step("Dessin des cartes"):
        write_maps(target, before_after_maps(plan))
    return {"area": plan.summary["area"], "sites": plan.summary["sites"]}


def before_after_maps(plan: Plan) -> list[MapPanel]:
    """Access before and after the new sites (drawn on both), as ``maillage plan``'s map."""
    from maillage.planning.outputs import EXISTING_COLOUR, NEW_COLOUR
    from maillage.reports.choropleth import Marker, choropleth_svg

    impact = plan.impact.table
    base = plan.diagnosis.communes[["code_commune", "nom", "departement", "geometry"]]
    markers = [
        Marker(s.lon, s.lat, f"n° {s.rank} — {s.name} ({s.code_commune})", NEW_COLOUR)
        for s in plan.sites.itertuples()
    ] + [
        Marker(s.lon, s.lat, f"existant — {s.name} ({s.code_commune})", EXISTING_COLOUR)
        for s in plan.existing.itertuples()
    ]
    maps = []
    for when, title in (("before", "Avant : diagnostic"), ("after", "Après : simulation")):
        table = base.merge(
            impact[["code_commune", f"access_{when}", f"classe_{when}"]], on="code_commune"
        )
        svg, legend = choropleth_svg(table, f"access_{when}", f"classe_{when}", markers)
        maps.append(MapPanel(title, svg, legend))
    return maps
