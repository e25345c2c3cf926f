"""``maillage report``: the network's evaluation report (see :mod:`maillage.reports.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    region: Annotated[
        str | None, typer.Option(help="Région (code ou nom) ; défaut : Grand Est (44).")
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Se limiter à un département (code ou nom).")
    ] = None,
    supply: Annotated[
        Path | None,
        typer.Option(
            help="Offre de médecins généralistes (extrait de l'Annuaire Santé) ; défaut : "
            "praticiens SYNTHETIC."
        ),
    ] = None,
    period: Annotated[
        int | None,
        typer.Option(help="Année évaluée ; défaut : l'année de la dernière activité."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Dossier des résultats.")] = Path("evaluation"),
    csv_dialect: Annotated[
        str, typer.Option(help="Format des CSV : standard ou excel-fr (Excel en français).")
    ] = "standard",
    overwrite: Annotated[
        bool, typer.Option(help="Remplacer un résultat précédent de cette commande dans --out.")
    ] = False,
) -> None:
    """Write report.html, report.pdf, indicators.csv/json and access_simulation.csv.

    Indicators come from the network's database (MAILLAGE_DATABASE_URL); the access part
    re-runs the diagnosis with the measured teleconsultations as supply (a SIMULATION).
    """
    from maillage.console import command_failures, settings_or_exit
    from maillage.diagnosis.parameters import DiagnosisParameters
    from maillage.outputs.atomic import check_output
    from maillage.reports.evaluation import Targets
    from maillage.reports.report import evaluate, write_report
    from maillage.store.database import make_engine, session_factory, upgrade
    from maillage.tabular import csv_dialect as dialect_named

    settings = settings_or_exit()
    with command_failures():
        check_output(out, "report", overwrite=overwrite)
        engine = make_engine(settings.sqlalchemy_url)
        upgrade(engine)
        params = DiagnosisParameters(region=region, department=department, supply=supply)
        dialect = dialect_named(csv_dialect)
        with session_factory(engine)() as session:
            result = evaluate(session, params, period, settings.zone, Targets.of(settings))
        written = write_report(result, out, dialect, overwrite=overwrite)
    for path in written:
        typer.echo(str(path))
    if result.synthetic:
        typer.echo(
            "SYNTHETIC : le rapport utilise des données inventées (réseau de démonstration "
            "ou offre de médecins généralistes)"
        )


def register(app: typer.Typer) -> None:
    """Add ``maillage report`` to the ``maillage`` command."""
    app.command(
        "report",
        help="Rapport d'évaluation du réseau : report.html, report.pdf, indicators.csv/json "
        "et access_simulation.csv. Indicateurs lus dans la base du réseau "
        "(MAILLAGE_DATABASE_URL) ; l'accès est recalculé avec les téléconsultations mesurées "
        "comptées comme offre (une SIMULATION).",
    )(report)
