"""``maillage sites import``: bulk registration of telemedicine sites (see
:mod:`maillage.care.site_import`), through the server's own care repository.

``cli.py`` calls :func:`register`; the server's libraries load only when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

OrganizationType = Literal["msp", "ehpad", "pharmacie", "ch", "cabinet", "cpts"]


def sites_import(
    file: Annotated[Path, typer.Argument(help="CSV of sites, or a plan's sites.csv.")],
    fmt: Annotated[
        Literal["csv", "plan"],
        typer.Option(
            "--format",
            help="csv: id,name,code_commune[,lon,lat][,type][,modalities][,equipment]"
            "[,finess_et,finess_ej][,id_nat_struct,ror_lieu,ror_offres] (lists separated by "
            "';'); plan: the sites.csv written by `maillage plan`.",
        ),
    ] = "csv",
    organization_type: Annotated[
        OrganizationType,
        typer.Option("--organization-type", help="Type of the rows that give none."),
    ] = "msp",
) -> None:
    """Create or update sites (Organization, Location, HealthcareService per modality).

    Re-importing a file updates the sites it names; a bad row refuses the whole file.
    """
    from maillage.care.repository import system_repository
    from maillage.care.site_import import SiteImportError, iter_problems, read_sites
    from maillage.console import settings_or_exit
    from maillage.territory.communes import load_communes

    settings = settings_or_exit()
    try:
        sites = read_sites(file, load_communes(), fmt, organization_type)
        report = system_repository(settings, migrate=True).import_sites(file, sites)
    except SiteImportError as error:
        for problem in iter_problems(error):
            typer.echo(f"error: {problem}", err=True)
        typer.echo("nothing was imported", err=True)
        raise typer.Exit(2) from error
    typer.echo(
        f"{report.sites} sites: {len(report.created)} resources created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
    )


def sites_check_finess(
    finess: Annotated[
        str,
        typer.Option(
            "--finess", help="Extraction FINESS etalab-cs1100507 : fichier ou dataset:ID."
        ),
    ],
) -> None:
    """Vérifie chaque numéro FINESS (ET et EJ) d'une extraction : format et clé de Luhn (corses
    compris). Sortie 1 si un numéro est refusé."""
    from maillage.care.identifiers import validate_finess
    from maillage.console import command_failures
    from maillage.datasets.references import resolve_references
    from maillage.territory.finess import finess_numbers

    with command_failures():
        resolved, _ = resolve_references({"finess": finess})
        path = Path(resolved["finess"])
        numbers = finess_numbers(path)
    refused = 0
    for line, field, number in numbers[["line", "field", "number"]].itertuples(index=False):
        try:
            validate_finess(number)
        except ValueError as error:
            refused += 1
            typer.echo(f"{path}:{line}: {field} {number!r} : {error}")
    typer.echo(f"{len(numbers)} numéros FINESS vérifiés, {refused} refusés", err=True)
    if refused:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``maillage sites import`` and ``check-finess`` to the ``maillage`` command."""
    sites = typer.Typer(help="Telemedicine site registry.", no_args_is_help=True)
    sites.command("import")(sites_import)
    sites.command("check-finess")(sites_check_finess)
    app.add_typer(sites, name="sites")
