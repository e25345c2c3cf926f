"""`maillage datasets add|list|show|remove`: the registry from the command line."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from maillage.console import console
from maillage.datasets.validation import KINDS
from maillage.errors import InputError

if TYPE_CHECKING:
    from rich.progress import TaskID

STAGES = {"copie": "Copie et empreinte SHA-256", "validation": "Validation complète"}


def add(
    file: Annotated[Path, typer.Argument(help="Le fichier à enregistrer.")],
    kind: Annotated[str, typer.Option(help=" | ".join(KINDS))],
    label: Annotated[
        str | None, typer.Option(help="Un nom lisible (par défaut : le nom du fichier).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Date que décrivent les données, AAAA-MM-JJ (p. ex. date d'extraction)."),
    ] = None,
) -> None:
    """Validate FILE fully with its loader, store it once by checksum and record it."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from maillage.datasets.catalogue import Catalogue, DatasetError

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGES[stage], total=total)
        bar.update(tasks[stage], completed=done)

    try:
        with bar:
            dataset, new = Catalogue().add(file, kind, label, as_of, progress)
    except (InputError, DatasetError) as error:
        console.print(f"[red]erreur :[/red] {error}")
        console.print("Rien n'a été enregistré.")
        raise typer.Exit(code=2) from None
    verb = "enregistré" if new else "déjà enregistré"
    console.print(f"[green]✓[/green] Jeu de données {verb} : [bold]{dataset.id}[/bold]")
    console.print(f"Utilisation : --supply/--ages/--travel/--existing dataset:{dataset.id}")


def list_datasets() -> None:
    """The registered datasets."""
    from rich.console import Console
    from rich.table import Table

    from maillage.datasets.catalogue import Catalogue

    table = Table(title="Jeux de données")
    table.add_column("id", no_wrap=True)
    for column in ("type", "libellé", "date", "lignes", "taille"):
        table.add_column(column, overflow="fold")
    for d in Catalogue().list():
        rows = ", ".join(f"{k} {v:,}" for k, v in d.rows.items() if isinstance(v, int))
        table.add_row(
            d.id,
            d.kind,
            d.label,
            d.as_of or "",
            rows.replace(",", " "),
            f"{d.size_bytes / 1e6:.1f} Mo",
        )
    Console().print(table)


def show(dataset_id: Annotated[str, typer.Argument(help="Identifiant du jeu de données.")]) -> None:
    """A dataset's manifest (JSON): checksum, counts, rows left out and why."""
    from maillage.datasets.catalogue import Catalogue, DatasetError

    catalogue = Catalogue()
    try:
        dataset = catalogue.get(dataset_id)
    except DatasetError as error:
        console.print(f"[red]erreur :[/red] {error}")
        raise typer.Exit(code=2) from None
    manifest = asdict(dataset) | {"path": str(catalogue.path_of(dataset))}
    typer.echo(json.dumps(manifest, ensure_ascii=False, indent=2))


def remove(
    dataset_id: Annotated[str, typer.Argument(help="Identifiant du jeu de données.")],
) -> None:
    """Forget a dataset and delete the registry's copy (never the file it came from)."""
    from maillage.datasets.catalogue import Catalogue, DatasetError

    try:
        dataset = Catalogue().remove(dataset_id)
    except DatasetError as error:
        console.print(f"[red]erreur :[/red] {error}")
        raise typer.Exit(code=2) from None
    console.print(f"[green]✓[/green] Jeu de données supprimé : {dataset.id}")


def register(app: typer.Typer) -> None:
    datasets = typer.Typer(
        help="Fichiers d'entrée enregistrés (jeux de données).", no_args_is_help=True
    )
    datasets.command(
        help="Valider FILE entièrement avec son chargeur, le stocker une fois par empreinte "
        "et l'enregistrer."
    )(add)
    datasets.command("list", help="Les jeux de données enregistrés.")(list_datasets)
    datasets.command(
        help="Le manifeste d'un jeu de données (JSON) : empreinte, effectifs, lignes écartées "
        "et pourquoi."
    )(show)
    datasets.command(
        help="Oublier un jeu de données et supprimer la copie du registre (jamais le fichier "
        "d'origine)."
    )(remove)
    app.add_typer(datasets, name="datasets")
