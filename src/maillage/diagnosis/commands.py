"""`maillage diagnose`: the CLI contract other tools drive (keep the option names)."""

from __future__ import annotations

import warnings
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from maillage import tabular
from maillage.access.measure import measure_in
from maillage.console import command_failures, console, results, step
from maillage.diagnosis.options import (
    Ages,
    Beta,
    Catchment,
    Circuity,
    CsvDialectName,
    Department,
    Method,
    NoCareMinutes,
    OsrmTimeout,
    Overwrite,
    Profession,
    Region,
    SpeedKmh,
    Steps,
    Supply,
    SupplyFormat,
    Thresholds,
    Travel,
)
from maillage.diagnosis.parameters import DEFAULT_STEPS, DiagnosisParameters
from maillage.diagnosis.territories import LEVELS
from maillage.french_format import number, percent
from maillage.outputs.atomic import check_output


def diagnose(
    region: Region = None,
    department: Department = None,
    profession: Profession = "generaliste",
    supply: Supply = None,
    supply_format: SupplyFormat = "annuaire",
    ages: Ages = None,
    travel: Travel = "crow-fly",
    speed_kmh: SpeedKmh = None,
    circuity: Circuity = None,
    method: Method = "apl",
    steps: Steps = DEFAULT_STEPS,
    catchment: Catchment = 20.0,
    beta: Beta = 1.0,
    thresholds: Thresholds = None,
    no_care_minutes: NoCareMinutes = 20.0,
    out: Annotated[Path, typer.Option(help="Dossier des résultats.")] = Path("out/diagnostic"),
    csv_dialect: CsvDialectName = "standard",
    by: Annotated[
        str | None,
        typer.Option(
            help="Carte aussi par territoire : epci, departement ou region "
            "(territories.csv donne toujours les trois niveaux)."
        ),
    ] = None,
    compare: Annotated[
        Path | None,
        typer.Option(
            help="Dossier de résultats d'un diagnostic précédent : écrit l'évolution par "
            "commune et par EPCI (evolution_*.csv, evolution.html)."
        ),
    ] = None,
    osrm_timeout: OsrmTimeout = None,
    overwrite: Overwrite = False,
) -> None:
    """Diagnose access to care for every commune of an area (default: Grand Est)."""
    from maillage.datasets.references import resolve_references
    from maillage.diagnosis.compare import compare as compare_runs
    from maillage.diagnosis.compare import read_run
    from maillage.diagnosis.outputs import write_outputs
    from maillage.diagnosis.pipeline import run_diagnosis
    from maillage.territory.communes import load_communes

    with command_failures():
        check_output(out, "diagnose", overwrite=overwrite)
        options, datasets = resolve_references(locals())
        params = diagnosis_parameters(options)
        dialect = tabular.csv_dialect(csv_dialect)
        if by is not None and by not in LEVELS:
            raise ValueError(f"--by doit valoir {', '.join(LEVELS)}, pas {by!r}")
        previous = read_run(compare) if compare is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            diagnosis = run_diagnosis(params, step)
        for w in caught:
            console.print(f"[yellow]attention :[/yellow] {w.message}")
        diagnosis.summary["datasets"] = [d.reference() for d in datasets]
        comparison = None
        if previous is not None:
            with step(f"Comparaison avec {compare}"):
                comparison = compare_runs(previous, diagnosis, load_communes())
        with step(f"Écriture de {out}"):
            write_outputs(diagnosis, out, dialect, by, comparison, overwrite=overwrite)
    print_summary(diagnosis.summary, out)


def diagnosis_parameters(options: dict[str, Any]) -> DiagnosisParameters:
    """The diagnosis settings among a command's options (``diagnose`` and ``plan`` share them)."""
    names = {f.name for f in fields(DiagnosisParameters)}
    return DiagnosisParameters(**{k: v for k, v in options.items() if k in names})


def print_summary(summary: dict, out: Path) -> None:
    """The table a planner reads first, on standard output: population per zoning class."""
    table = Table(title=f"{summary['area']} — {summary['method'].upper()} {summary['profession']}")
    table.add_column("classe")
    table.add_column("population", justify="right")
    table.add_column("part", justify="right")
    total = sum(summary["totals_by_class"].values()) or 1.0
    labels = measure_in(summary).class_labels()
    for name, pop in summary["totals_by_class"].items():
        table.add_row(labels.get(name, name), number(pop, 0), percent(pop / total))
    results.print(table)
    without = summary["population_without_care"]
    results.print(
        f"Communes : {number(summary['communes'], 0)}  ·  population sans praticien à "
        f"{number(without['minutes'], 0)} min : {number(without['population'], 0)}"
    )
    if any(i["synthetic"] for i in summary["inputs"].values()):
        results.print(
            "[bold yellow]SYNTHETIC[/bold yellow] offre de soins synthétique "
            "(démonstration) — pas des praticiens réels."
        )
    files = ", ".join(sorted(p.name for p in out.iterdir() if not p.name.startswith(".")))
    results.print(f"Résultats : {out}/ ({files})")


def register(app: typer.Typer) -> None:
    app.command(
        help="Diagnostic de l'accès aux soins de chaque commune d'une zone (défaut : Grand "
        "Est). Résultats sur la sortie standard, progression sur la sortie d'erreur."
    )(diagnose)
