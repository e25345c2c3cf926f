"""`maillage plan`: where to open the next N sites, with a certified gap and simulated impact.

The options ``plan`` shares with ``diagnose`` (area, supply, travel, method…) are the typed
aliases of :mod:`maillage.diagnosis.options`, so both commands keep one name, help text and
meaning for each.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from maillage import tabular
from maillage.console import command_failures, console, results, step
from maillage.diagnosis.commands import diagnosis_parameters
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
from maillage.diagnosis.parameters import DEFAULT_STEPS
from maillage.french_format import number, percent
from maillage.planning.parameters import (
    CANDIDATES_HELP,
    DEFAULT_MINUTES,
    DEFAULT_TIME_LIMIT,
    PlanParameters,
)
from maillage.planning.progress import STAGE_LABELS

if TYPE_CHECKING:
    import pandas as pd

    from maillage.planning.greedy import Progress as ProgressHook


ExistingSource = Callable[[Path], Path]
"""Writes a named source of existing sites (``--existing registry``) as a sites file in the
given scratch folder and returns its path; supplied by the composition root (``cli.py``), so
that planning never reads the network itself."""
_EXISTING_SOURCES: dict[str, ExistingSource] = {}


def plan(
    sites: Annotated[
        int | None,
        typer.Option(min=1, help="Nombre de nouveaux sites (sauf lscp, qui le choisit)."),
    ] = None,
    region: Region = None,
    department: Department = None,
    candidates: Annotated[str, typer.Option(help=CANDIDATES_HELP)] = "communes",
    existing: Annotated[
        Path | None,
        typer.Option(
            help="Sites déjà ouverts : CSV id,name,code_commune[,lon,lat], dataset:ID, ou "
            "registry (sites ouverts et prévus du registre du réseau)."
        ),
    ] = None,
    objective: Annotated[
        str,
        typer.Option(
            help="Objectif : underserved, sous-dotees, coverage, pmedian, lscp ou pcenter."
        ),
    ] = "underserved",
    minutes: Annotated[float, typer.Option(help="Portée d'un site (minutes).")] = DEFAULT_MINUTES,
    capacity: Annotated[
        float | None, typer.Option(help="Téléconsultations par an et par site (p. ex. 2000).")
    ] = None,
    budget: Annotated[float | None, typer.Option(help="Plafond du coût total.")] = None,
    unserved_penalty: Annotated[
        float | None,
        typer.Option(help="Minutes comptées aux non desservis (p-médian ; défaut : portée + 10)."),
    ] = None,
    min_per_department: Annotated[
        int | None, typer.Option(help="Nouveaux sites au moins, par département.")
    ] = None,
    max_per_department: Annotated[
        int | None, typer.Option(help="Nouveaux sites au plus, par département.")
    ] = None,
    time_limit: Annotated[
        float, typer.Option(help="Secondes accordées au solveur exact.")
    ] = DEFAULT_TIME_LIMIT,
    served_by_supply: Annotated[
        bool,
        typer.Option(
            help="lscp, pcenter : les communes ayant un praticien à moins de "
            "--no-care-minutes sont déjà servies."
        ),
    ] = False,
    profession: Profession = "generaliste",
    supply: Supply = None,
    supply_format: SupplyFormat = "annuaire",
    ages: Ages = None,
    travel: Travel = "crow-fly",
    speed_kmh: SpeedKmh = None,
    circuity: Circuity = None,
    osrm_timeout: OsrmTimeout = None,
    method: Method = "apl",
    steps: Steps = DEFAULT_STEPS,
    catchment: Catchment = 20.0,
    beta: Beta = 1.0,
    thresholds: Thresholds = None,
    no_care_minutes: NoCareMinutes = 20.0,
    out: Annotated[Path, typer.Option(help="Dossier des résultats.")] = Path("out/plan"),
    csv_dialect: CsvDialectName = "standard",
    overwrite: Overwrite = False,
) -> None:
    """Choose where to open the next N sites; certify the gap; simulate the access gained."""
    from maillage.datasets.references import resolve_references
    from maillage.outputs.atomic import check_output
    from maillage.planning.outputs import write_plan
    from maillage.planning.pipeline import run_plan

    with command_failures(), contextlib.ExitStack() as scratch:
        check_output(out, "plan", overwrite=overwrite)
        options, datasets = resolve_references(locals())
        params = PlanParameters(
            diagnosis=diagnosis_parameters(options),
            sites=sites,
            candidates=options["candidates"],
            existing=_existing_file(options["existing"], scratch),
            objective=objective,
            minutes=minutes,
            capacity=capacity,
            budget=budget,
            unserved_penalty=unserved_penalty,
            min_per_department=min_per_department,
            max_per_department=max_per_department,
            time_limit=time_limit,
            served_by_supply=served_by_supply,
        )
        dialect = tabular.csv_dialect(csv_dialect)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            with solving_progress() as on_progress:
                result = run_plan(params, step, on_progress)
        for w in caught:
            console.print(f"[yellow]attention :[/yellow] {w.message}")
        result.summary["datasets"] = [d.reference() for d in datasets]
        with step(f"Écriture de {out}"):
            write_plan(result, out, dialect=dialect, overwrite=overwrite)
    print_plan(result.summary, result.sites, out)


def _existing_file(existing: Path | None, scratch: contextlib.ExitStack) -> Path | None:
    """``--existing``'s file: the one given, or a named source's written for this run."""
    source = _EXISTING_SOURCES.get(str(existing))
    if source is None:
        return existing
    return source(Path(scratch.enter_context(tempfile.TemporaryDirectory())))


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
            description=STAGE_LABELS.get(stage, stage),
            total=None if fraction is None else 1.0,
            completed=fraction or 0.0,
            visible=True,
        )

    with bar:
        yield on_progress


def print_plan(summary: dict, sites: pd.DataFrame, out: Path) -> None:
    """The ranked sites, the certificate and the simulated effect, as a planner reads them
    (standard output)."""
    table = Table(
        title=f"{summary['area']} — {summary['sites']} sites ({summary['objective_name']})"
    )
    table.add_column("rang", justify="right")
    table.add_column("site")
    table.add_column("commune")
    table.add_column("gain", justify="right")
    table.add_column("population à portée", justify="right")
    shown = sites[["rank", "name", "code_commune", "gain", "population_covered"]]
    for rank, name, commune, gain, covered in shown.itertuples(index=False, name=None):
        table.add_row(str(rank), name, commune, number(gain, 0), number(covered, 0))
    results.print(table)
    bound, gap = summary["bound"], summary["gap"]
    explanation = summary["explanation"]
    results.print(f"[bold]Objectif[/bold] : {explanation['objectif']}")
    results.print(f"[bold]Pourquoi ces sites[/bold] : {explanation['pourquoi']}")
    out_of_reach = explanation["hors_de_portee"]
    if out_of_reach and out_of_reach["communes"]:
        results.print(
            f"[yellow]Hors de portée[/yellow] : {out_of_reach['communes']} communes "
            f"({number(out_of_reach['population'], 0)} habitants) sans aucun site candidat à "
            f"moins de {summary['parameters']['minutes']:g} min — comptées à part (summary.json)."
        )
    digits = 1 if summary["unit"] == "minutes" else 0  # a p-center's worst trip
    results.print(
        f"Objectif {number(summary['objective'], digits)} ({summary['unit']}) · borne "
        f"{'—' if bound is None else number(bound, digits)} · écart "
        f"{'non certifié' if gap is None else percent(gap, 3)} · solveur {summary['solver']} "
        f"({summary['status']})"
    )
    leaving = summary["scenario"]["population_leaving_sous_dotee"]
    if leaving is not None:
        results.print(
            f"[bold]SIMULATION[/bold] : {number(leaving, 0)} habitants quitteraient la classe "
            "sous-dotée"
        )
    if summary["synthetic"]:
        results.print(
            "[bold yellow]SYNTHETIC[/bold yellow] offre de soins synthétique "
            "(démonstration) — pas des praticiens réels."
        )
    results.print(
        f"Résultats : {out}/ (sites.csv, impact.csv, plan.geojson, carte.html, summary.json)"
    )


def register(
    app: typer.Typer, existing_sources: Mapping[str, ExistingSource] | None = None
) -> None:
    """Add ``maillage plan``; ``existing_sources`` names what ``--existing`` may read besides
    a file (``registry``: the network's sites)."""
    _EXISTING_SOURCES.update(existing_sources or {})
    app.command(
        help="Où ouvrir les N prochains sites : plan avec écart d'optimalité certifié et "
        "accès simulé (une SIMULATION, pas une prévision)."
    )(plan)
