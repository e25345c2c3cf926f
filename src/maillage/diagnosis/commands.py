"""`maillage diagnose`: the CLI contract other tools drive (keep the option names)."""

from __future__ import annotations

import warnings
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from maillage.console import console, step
from maillage.diagnosis.parameters import DEFAULT_STEPS, DiagnosisParameters
from maillage.errors import InputError


def diagnose(
    region: Annotated[
        str | None, typer.Option(help="Region code or name, or 'all' for France (default 44).")
    ] = None,
    department: Annotated[str | None, typer.Option(help="Department code, e.g. 55 or 2A.")] = None,
    profession: Annotated[
        str, typer.Option(help="generaliste|infirmier|kinesitherapeute|sage-femme|dentiste")
    ] = "generaliste",
    supply: Annotated[
        Path | None,
        typer.Option(help="Practitioners file or dataset:ID (default: SYNTHETIC set)."),
    ] = None,
    supply_format: Annotated[str, typer.Option(help="annuaire|csv")] = "annuaire",
    ages: Annotated[
        Path | None, typer.Option(help="INSEE population by age per commune, or dataset:ID.")
    ] = None,
    travel: Annotated[
        str, typer.Option(help="crow-fly | matrix:FILE | dataset:ID | osrm:URL")
    ] = "crow-fly",
    speed_kmh: Annotated[float | None, typer.Option(help="Crow-fly speed (km/h).")] = None,
    circuity: Annotated[float | None, typer.Option(help="Crow-fly detour factor.")] = None,
    method: Annotated[str, typer.Option(help="apl|e2sfca|2sfca|gravity")] = "apl",
    steps: Annotated[str, typer.Option(help="Step weights 'minutes:weight,…'.")] = DEFAULT_STEPS,
    catchment: Annotated[float, typer.Option(help="2SFCA/gravity cut-off (min).")] = 20.0,
    beta: Annotated[float, typer.Option(help="Gravity decay exponent.")] = 1.0,
    thresholds: Annotated[str | None, typer.Option(help="Zoning thresholds 'T1,T2'.")] = None,
    no_care_minutes: Annotated[float, typer.Option(help="Minutes for 'no care'.")] = 20.0,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/diagnostic"),
) -> None:
    """Diagnose access to care for every commune of an area (default: Grand Est)."""
    from maillage.datasets.references import resolve_references
    from maillage.diagnosis.outputs import write_outputs
    from maillage.diagnosis.pipeline import run_diagnosis

    try:
        options, datasets = resolve_references(locals())
        params = diagnosis_parameters(options)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            diagnosis = run_diagnosis(params, step)
        for w in caught:
            console.print(f"[yellow]attention:[/yellow] {w.message}")
        diagnosis.summary["datasets"] = [d.reference() for d in datasets]
        with step(f"Écriture de {out}"):
            write_outputs(diagnosis, out)
    except (InputError, ValueError, FileNotFoundError) as error:
        console.print(f"[red]erreur:[/red] {error}")
        raise typer.Exit(code=2) from None
    print_summary(diagnosis.summary, out)


def diagnosis_parameters(options: dict[str, Any]) -> DiagnosisParameters:
    """The diagnosis settings among a command's options (``diagnose`` and ``plan`` share them)."""
    names = {f.name for f in fields(DiagnosisParameters)}
    return DiagnosisParameters(**{k: v for k, v in options.items() if k in names})


def print_summary(summary: dict, out: Path) -> None:
    """The table a planner reads first: population per zoning class."""
    table = Table(title=f"{summary['area']} — {summary['method'].upper()} {summary['profession']}")
    table.add_column("classe")
    table.add_column("population", justify="right")
    table.add_column("part", justify="right")
    total = sum(summary["totals_by_class"].values()) or 1.0
    for name, pop in summary["totals_by_class"].items():
        table.add_row(name, f"{pop:,.0f}".replace(",", " "), f"{pop / total:.1%}")
    console.print(table)
    without = summary["population_without_care"]
    console.print(
        f"Communes : {summary['communes']:,}  ·  population sans praticien à "
        f"{without['minutes']:g} min : {without['population']:,.0f}".replace(",", " ")
    )
    if any(i["synthetic"] for i in summary["inputs"].values()):
        console.print(
            "[bold yellow]SYNTHETIC[/bold yellow] offre de soins synthétique "
            "(démonstration) — pas des praticiens réels."
        )
    console.print(
        f"Résultats : {out}/ (communes.csv, communes.parquet, communes.geojson, "
        "carte.html, summary.json)"
    )


def register(app: typer.Typer) -> None:
    app.command()(diagnose)
