"""``maillage demo seed``: the SYNTHETIC demonstration network (see :mod:`maillage.demo.seed`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer


def demo_seed(
    accounts_file: Annotated[
        Path,
        typer.Option("--accounts-file", help="Where the demo accounts' passwords go (mode 0600)."),
    ] = Path("demo-accounts.txt"),
    scale: Annotated[
        float,
        typer.Option(help="Share of a full year's activity to generate (0 < scale ≤ 1)."),
    ] = 1.0,
    diagnosis: Annotated[
        bool,
        typer.Option(help="Also draw the access map (a Grand Est diagnosis, a few seconds)."),
    ] = True,
) -> None:
    """Fill the network with a year of SYNTHETIC activity and one demo account per role.

    Refused in production mode. The passwords are written once, to a file only you can read.
    """
    if os.environ.get("MAILLAGE_ENV", "").strip().lower() == "production":
        typer.echo("error: MAILLAGE_ENV=production: demonstration data is refused", err=True)
        raise typer.Exit(2)
    from maillage.console import settings_or_exit
    from maillage.demo.seed import DemoRefused, seed
    from maillage.store.database import make_engine, session_factory, upgrade
    from maillage.store.users import AccountError

    settings = settings_or_exit()
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    started = time.perf_counter()
    try:
        report = seed(session_factory(engine), settings, accounts_file, scale=scale)
    except (DemoRefused, AccountError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    written = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts.items()))
    seconds = time.perf_counter() - started
    typer.echo(f"SYNTHETIC demonstration network written in {seconds:.1f} s: {written}")
    typer.echo(f"demo accounts and passwords: {report.accounts_file} (readable by you only)")
    if diagnosis:
        typer.echo(f"access map of Grand Est drawn: {access_map(settings.files_dir)}")


def access_map(files_dir: Path) -> Path:
    """The Grand Est diagnosis (embedded data, SYNTHETIC supply) written as a finished job, so
    that the access map and the network's under-served share show at once."""
    import uuid

    from maillage.diagnosis.pipeline import quiet_step
    from maillage.jobs.diagnosis import DIAGNOSIS, write_diagnosis_result

    target = DIAGNOSIS.directory(files_dir, uuid.uuid4().hex)
    write_diagnosis_result({}, target, quiet_step)
    return target


def register(app: typer.Typer) -> None:
    """Add ``maillage demo seed`` to the ``maillage`` command."""
    demo = typer.Typer(help="SYNTHETIC demonstration data.", no_args_is_help=True)
    demo.command("seed")(demo_seed)
    app.add_typer(demo, name="demo")
