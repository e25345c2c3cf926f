"""`maillage plan`: where to open the next N sites, with a certified gap and simulated impact.

The options ``plan`` shares with ``diagnose`` (area, supply, travel, method…) reuse the very
``typer.Option`` declarations of :func:`maillage.diagnosis.commands.diagnose`, so both commands
keep one name, help text and meaning for each.
"""

from __future__ import annotations

import contextlib
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from maillage.console import console, step
from maillage.diagnosis.commands import diagnose, diagnosis_parameters
from maillage.diagnosis.parameters import DEFAULT_STEPS
from maillage.errors import InputError
from maillage.planning.parameters import (
    CANDIDATES_HELP,
    DEFAULT_MINUTES,
    DEFAULT_TIME_LIMIT,
    PlanParameters,
)

if TYPE_CHECKING:
    import pandas as pd

    from maillage.planning.greedy import Progress as ProgressHook

_SHARED = typing.get_type_hints(diagnose, include_extras=True)
Region = _SHARED["region"]
Department = _SHARED["department"]
Profession = _SHARED["profession"]
Supply = _SHARED["supply"]
SupplyFormat = _SHARED["supply_format"]
Ages = _SHARED["ages"]
Travel = _SHARED["travel"]
SpeedKmh = _SHARED["speed_kmh"]
Circuity = _SHARED["circuity"]
Method = _SHARED["method"]
Steps = _SHARED["steps"]
Catchment = _SHARED["catchment"]
Beta = _SHARED["beta"]
Thresholds = _SHARED["thresholds"]
NoCareMinutes = _SHARED["no_care_minutes"]

STAGES = {
    "greedy": "Glouton paresseux (CELF)",
    "swap": "Échanges de sites",
    "build": "Construction du modèle HiGHS",
    "mip": "Optimisation exacte (HiGHS)",
    "sequence": "Classement des sites",
    "done": "Résolution terminée",
}


def plan(
    sites: Annotated[int, typer.Option(min=1, help="Number of new sites to open.")],
    region: Region = None,
    department: Department = None,
    candidates: Annotated[str, typer.Option(help=CANDIDATES_HELP)] = "communes",
    existing: Annotated[
        Path | None,
        typer.Option(help="Sites already open: CSV id,name,code_commune[,lon,lat], or dataset:ID."),
    ] = None,
    objective: Annotated[str, typer.Option(help="underserved | coverage | pmedian")] = (
        "underserved"
    ),
    minutes: Annotated[float, typer.Option(help="Reach of a site (minutes).")] = DEFAULT_MINUTES,
    capacity: Annotated[
        float | None, typer.Option(help="Teleconsultations a year per site (e.g. 2000).")
    ] = None,
    budget: Annotated[float | None, typer.Option(help="Bound on the summed cost.")] = None,
    unserved_penalty: Annotated[
        float | None, typer.Option(help="p-median minutes for the unserved (cut-off + 10).")
    ] = None,
    min_per_department: Annotated[int | None, typer.Option(help="New sites at least.")] = None,
    max_per_department: Annotated[int | None, typer.Option(help="New sites at most.")] = None,
    time_limit: Annotated[
        float, typer.Option(help="Seconds for the exact solver.")
    ] = DEFAULT_TIME_LIMIT,
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
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("out/plan"),
) -> None:
    """Choose where to open the next N sites; certify the gap; simulate the access gained."""
    from maillage.datasets.references import resolve_references
    from maillage.planning.outputs import write_plan
    from maillage.planning.pipeline import run_plan

    try:
        options, datasets = resolve_references(locals())
        params = PlanParameters(
            diagnosis=diagnosis_parameters(options),
            sites=sites,
            candidates=options["candidates"],
            existing=options["existing"],
            objective=objective,
            minutes=minutes,
            capacity=capacity,
            budget=budget,
            unserved_penalty=unserved_penalty,
            min_per_department=min_per_department,
            max_per_department=max_per_department,
            time_limit=time_limit,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            with solving_progress() as on_progress:
                result = run_plan(params, step, on_progress)
        for w in caught:
            console.print(f"[yellow]attention:[/yellow] {w.message}")
        result.summary["datasets"] = [d.reference() for d in datasets]
        with step(f"Écriture de {out}"):
            write_plan(result, out)
    except (InputError, ValueError, FileNotFoundError) as error:
        console.print(f"[red]erreur:[/red] {error}")
        raise typer.Exit(code=2) from None
    print_plan(result.summary, result.sites, out)


@contextlib.contextmanager
def solving_progress() -> Iterator[ProgressHook]:
    """A Rich progress bar fed by the solver's ``on_progress(stage, fraction)`` hook."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task("Résolution", total=None, visible=False)

    def on_progress(stage: str, fraction: float | None) -> None:
        bar.update(
            task,
            description=STAGES.get(stage, stage),
            total=None if fraction is None else 1.0,
            completed=fraction or 0.0,
            visible=True,
        )

    with bar:
        yield on_progress


def print_plan(summary: dict, sites: pd.DataFrame, out: Path) -> None:
    """The ranked sites, the certificate and the simulated effect, as a planner reads them."""
    table = Table(
        title=f"{summary['area']} — {summary['sites']} sites ({summary['objective_name']})"
    )
    table.add_column("rang", justify="right")
    table.add_column("site")
    table.add_column("commune")
    table.add_column("gain", justify="right")
    table.add_column("population à portée", justify="right")
    for row in sites.itertuples():
        table.add_row(
            str(row.rank), row.name, row.code_commune, _n(row.gain), _n(row.population_covered)
        )
    console.print(table)
    bound, gap = summary["bound"], summary["gap"]
    console.print(
        f"Objectif {_n(summary['objective'])} ({summary['unit']}) · borne "
        f"{'—' if bound is None else _n(bound)} · écart "
        f"{'non certifié' if gap is None else f'{gap:.3%}'} · solveur {summary['solver']} "
        f"({summary['status']})"
    )
    leaving = summary["scenario"]["population_leaving_sous_dotee"]
    if leaving is not None:
        console.print(
            f"[bold]SIMULATION[/bold] : {_n(leaving)} habitants quitteraient la classe sous-dotée"
        )
    if summary["synthetic"]:
        console.print(
            "[bold yellow]SYNTHETIC[/bold yellow] offre de soins synthétique "
            "(démonstration) — pas des praticiens réels."
        )
    console.print(
        f"Résultats : {out}/ (sites.csv, impact.csv, plan.geojson, carte.html, summary.json)"
    )


def _n(value: float) -> str:
    """A whole number the French way: 12 345."""
    return f"{value:,.0f}".replace(",", "\u202f")


def register(app: typer.Typer) -> None:
    app.command()(plan)
