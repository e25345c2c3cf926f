"""Terminal output shared by the commands: progress (a spinner per step, timed when it ends),
warnings and errors on standard error; results on standard output, so that
``maillage diagnose > log.txt`` keeps the summary and the terminal still shows the progress."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console

console = Console(stderr=True)
results = Console(soft_wrap=True)


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show a spinner while ``label`` runs, then a tick with its duration."""
    start = time.perf_counter()
    with console.status(f"{label}…", spinner="dots"):
        yield
    console.print(f"[green]✓[/green] {label} [dim]({time.perf_counter() - start:.1f} s)[/dim]")
