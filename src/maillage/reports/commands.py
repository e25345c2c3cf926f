"""``maillage report``: the network's evaluation report (see :mod:`maillage.reports.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    region: Annotated[
        str | None, typer.Option(help="Region (code or name); default Grand Est (44).")
    ] = None,
    department: Annotated[
        str | None, typer.Option(help="Restrict to one department (code or name).")
    ] = None,
    supply: Annotated[
        Path | None,
        typer.Option(help="GP supply (Annuaire Santé extract); default: SYNTHETIC practitioners."),
    ] = None,
    period: Annotated[
        int | None,
        typer.Option(help="Calendar year evaluated; default: the year of the latest activity."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("evaluation"),
    overwrite: Annotated[
        bool, typer.Option(help="Replace a previous output of this command in --out.")
    ] = False,
) -> None:
    """Write report.html, report.pdf, indicators.csv/json and access_simulation.csv.

    Indicators come from the network's database (MAILLAGE_DATABASE_URL); the access part
    re-runs the diagnosis with the measured teleconsultations as supply (a SIMULATION).
    """
    from maillage.api.commands import _settings
    from maillage.console import command_failures
    from maillage.diagnosis.parameters import DiagnosisParameters
    from maillage.reports.atomic import check_output
    from maillage.reports.report import evaluate, write_report
    from maillage.store.database import make_engine, session_factory, upgrade

    settings = _settings()
    with command_failures():
        check_output(out, "report", overwrite=overwrite)
        engine = make_engine(settings.sqlalchemy_url)
        upgrade(engine)
        params = DiagnosisParameters(region=region, department=department, supply=supply)
        with session_factory(engine)() as session:
            result = evaluate(session, params, period, settings.zone)
        written = write_report(result, out, overwrite=overwrite)
    for path in written:
        typer.echo(str(path))
    if result.synthetic:
        typer.echo("SYNTHETIC: the report uses invented data (demo network or GP supply)")


def register(app: typer.Typer) -> None:
    """Add ``maillage report`` to the ``maillage`` command."""
    app.command("report")(report)
