"""A plan (where to open the next N sites) as a background job, with its before/after maps."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rq import Queue
from rq.job import Job

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.jobs.progress import StepRecorder
from maillage.jobs.results import MapPanel, ResultKind, enqueue, job_catalogue, write_maps
from maillage.planning.parameters import PlanParameters
from maillage.planning.progress import STAGE_LABELS
from maillage.territory.sites import write_sites_csv

#: Diagnosis (5 steps), candidates, travel to sites, simulation (5), writing, maps.
PLAN = ResultKind(
    folder="plans",
    downloads={"csv": "sites.csv", "impact": "impact.csv", "geojson": "plan.geojson"},
    total_steps=14,
)


def plan_parameters(parameters: dict[str, Any]) -> PlanParameters:
    """``{"diagnosis": {...}, "sites": N, ...}`` (JSON-friendly) as validated parameters;
    ``existing_sites`` (rows of a sites file) is the door's business, see :func:`run_plan_job`."""
    options = {k: v for k, v in parameters.items() if k not in ("diagnosis", "existing_sites")}
    return PlanParameters(DiagnosisParameters(**parameters["diagnosis"]), **options)


def enqueue_plan(queue: Queue, parameters: dict[str, Any], files_dir: Path, owner: str) -> Job:
    """Queue a plan of ``parameters`` (see :func:`plan_parameters`), checked first."""
    plan_parameters(parameters)
    return enqueue(queue, PLAN, run_plan_job, parameters, files_dir, owner)


def run_plan_job(parameters: dict[str, Any], out: str) -> dict[str, Any]:
    """Worker side: diagnose, choose the sites, simulate, write the files and the maps."""
    from maillage.datasets.references import resolve_references
    from maillage.planning.outputs import before_after_maps, write_plan
    from maillage.planning.pipeline import run_plan

    recorder = StepRecorder.for_current_job(PLAN.total_steps)

    def solver_progress(stage: str, fraction: float | None) -> None:
        share = "" if fraction is None else f" {fraction:.0%}"
        recorder.note(f"Optimisation : {STAGE_LABELS.get(stage, stage)}{share}")

    diagnosis, datasets = resolve_references(parameters["diagnosis"], job_catalogue(Path(out)))
    with tempfile.TemporaryDirectory() as scratch:
        existing = _existing_file(parameters.get("existing_sites"), Path(scratch))
        resolved = plan_parameters({**parameters, "diagnosis": diagnosis} | existing)
        plan = run_plan(resolved, recorder.step, solver_progress)
    plan.summary["datasets"] = [d.reference() for d in datasets]
    target = Path(out)
    with recorder.step("Dessin des cartes"):
        maps = before_after_maps(plan)
    with recorder.step("Écriture des résultats"):
        write_plan(plan, target, maps)
        write_maps(target, [MapPanel(*m) for m in maps])
    return {"area": plan.summary["area"], "sites": plan.summary["sites"]}


def _existing_file(rows: list[dict[str, Any]] | None, scratch: Path) -> dict[str, Any]:
    """The registry's sites the form sent, as the sites file ``--existing`` reads."""
    if not rows:
        return {}
    return {"existing": write_sites_csv(rows, scratch / "sites-registre.csv")}
