"""Terminal output shared by the commands: progress (a spinner per step, timed when it ends),
warnings and errors on standard error; results on standard output, so that
``maillage diagnose > log.txt`` keeps the summary and the terminal still shows the progress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from maillage.config import Settings

console = Console(stderr=True)
results = Console(soft_wrap=True)


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
