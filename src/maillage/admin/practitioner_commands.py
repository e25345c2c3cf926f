"""``maillage practitioners check``: the network's practitioners against an Annuaire Santé
extract (see :mod:`maillage.care.practitioner_check`), read through the system repository.

``cli.py`` calls :func:`register`; the server's libraries load only when it runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def practitioners_check(
    annuaire: Annotated[
        str,
        typer.Option(
            "--annuaire",
            help="Extraction PS_LibreAcces_Personne_activite : un fichier ou dataset:ID.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Fichier CSV du rapport (sinon la sortie standard)."),
    ] = None,
    csv_dialect: Annotated[
        str, typer.Option("--csv-dialect", help="standard ou excel-fr.")
    ] = "standard",
) -> None:
    """Vérifie chaque praticien du réseau dans l'Annuaire Santé : RPPS connu, profession et
    commune d'exercice concordantes (une ligne CSV par praticien)."""
    from maillage.care.practitioner_check import check, network_practitioners
    from maillage.care.repository import system_repository
    from maillage.console import command_failures, console, settings_or_exit
    from maillage.datasets.references import resolve_references
    from maillage.tabular import csv_dialect as dialect_of
    from maillage.tabular import csv_text, write_csv

    settings = settings_or_exit()
    with command_failures():
        dialect = dialect_of(csv_dialect)
        resolved, _ = resolve_references({"annuaire": annuaire})
        practitioners = network_practitioners(system_repository(settings, migrate=True))
        start = time.perf_counter()
        report = check(practitioners, Path(resolved["annuaire"]))
        seconds = time.perf_counter() - start
        if output is None:
            typer.echo(csv_text(report.table, dialect), nl=False)
        else:
            write_csv(report.table, output, dialect)
        console.print(report.summary(), soft_wrap=True)
        console.print(
            f"{report.rows_read} lignes de l'extraction lues en {seconds:.1f} s", soft_wrap=True
        )


def register(app: typer.Typer) -> None:
    """Add ``maillage practitioners check`` to the ``maillage`` command."""
    practitioners = typer.Typer(help="Praticiens du réseau.", no_args_is_help=True)
    practitioners.command("check")(practitioners_check)
    app.add_typer(practitioners, name="practitioners")
