"""The diagnosis as a background job: the pipeline with progress, its files and its map."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from rq import Queue
from rq.job import Job

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.jobs.progress import StepRecorder
from maillage.jobs.results import MapPanel, ResultKind, enqueue, job_catalogue, write_maps

#: The five pipeline steps, writing the outputs, drawing the map.
DIAGNOSIS = ResultKind(
    folder="diagnostics",
    downloads={"csv": "communes.csv", "geojson": "communes.geojson"},
    total_steps=7,
)


def enqueue_diagnosis(queue: Queue, parameters: dict[str, Any], files_dir: Path, owner: str) -> Job:
    """Queue a diagnosis of ``parameters`` (``DiagnosisParameters`` fields), checked first."""
    DiagnosisParameters(**parameters)
    return enqueue(queue, DIAGNOSIS, run_diagnosis_job, parameters, files_dir, owner)


def run_diagnosis_job(parameters: dict[str, Any], out: str) -> dict[str, Any]:
    """Worker side: run the pipeline step by step, recording progress, then write the files."""
    recorder = StepRecorder.for_current_job(DIAGNOSIS.total_steps)
    return write_diagnosis_result(parameters, Path(out), recorder.step)


def write_diagnosis_result(
    parameters: dict[str, Any], target: Path, step: Callable[[str], AbstractContextManager]
) -> dict[str, Any]:
    """Run the pipeline and write what the map pages read (outputs, ``cartes.json``) into
    ``target``; ``step`` shows the progress. Also used by the demo seed, outside any worker."""
    from maillage.access.measure import measure_in
    from maillage.datasets.references import resolve_references
    from maillage.diagnosis.outputs import write_outputs
    from maillage.diagnosis.pipeline import run_diagnosis
    from maillage.outputs.choropleth import choropleth_svg

    resolved, datasets = resolve_references(parameters, job_catalogue(target))
    diagnosis = run_diagnosis(DiagnosisParameters(**resolved), step)
    diagnosis.summary["datasets"] = [d.reference() for d in datasets]
    with step("Écriture des résultats"):
        write_outputs(diagnosis, target)
    with step("Dessin de la carte"):
        svg, legend = choropleth_svg(diagnosis.communes, measure=measure_in(diagnosis.summary))
        write_maps(target, [MapPanel("Accessibilité par commune", svg, legend)])
    return {"area": diagnosis.summary["area"], "communes": diagnosis.summary["communes"]}
