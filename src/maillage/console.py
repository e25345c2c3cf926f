"""Terminal output shared by the commands: progress (a spinner per step, timed when it ends),
warnings and errors on standard error; results on standard output, so that
``maillage diagnose > log.txt`` keeps the summary and the terminal still shows the progress;
one clear line (exit 2) for every failure a user can act on."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from maillage.errors import CommandError, InputError

if TYPE_CHECKING:
    from maillage.config import Settings

console = Console(stderr=True)
results = Console(soft_wrap=True)

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show a spinner while ``label`` runs, then a tick with its duration."""
    start = time.perf_counter()
    with console.status(f"{label}…", spinner="dots"):
        yield
    console.print(f"[green]✓[/green] {label} [dim]({time.perf_counter() - start:.1f} s)[/dim]")


def settings_or_exit() -> Settings:
    """The server settings for a command; a bad ``MAILLAGE_*`` variable prints why and exits 2."""
    from maillage.config import ConfigurationError, load_settings

    try:
        return load_settings()
    except ConfigurationError as error:
        for problem in error.problems:
            typer.echo(f"configuration error: {problem}", err=True)
        raise typer.Exit(2) from error


@contextlib.contextmanager
def command_failures() -> Iterator[None]:
    """End a command on bad input, a refused output folder, an unreachable server or a disk
    error with one line and exit 2, and on Ctrl-C with exit 130, instead of a traceback.

    The commands write their files atomically, so in every case nothing is left half-written.
    """
    try:
        yield
    except KeyboardInterrupt:
        # Straight to stderr: Ctrl-C may have stopped Rich half-way through its own output.
        typer.echo("interrompu : aucun résultat n'a été écrit", err=True)
        raise typer.Exit(INTERRUPTED) from None
    except (InputError, CommandError, ValueError) as error:
        console.print(f"[red]erreur :[/red] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(2) from None
    except OSError as error:
        console.print(f"[red]erreur :[/red] {escape(_os_error(error))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _os_error(error: OSError) -> str:
    """``chemin : raison`` for a system error (permission, disk full, missing file)."""
    if error.filename is not None and error.strerror:
        return f"{error.filename} : {error.strerror}"
    return str(error)
