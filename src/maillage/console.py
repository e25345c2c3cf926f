"""Terminal feedback shared by the commands: a spinner per step, timed when it ends."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from rich.console import Console

console = Console(stderr=True)


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    """Show a spinner while ``label`` runs, then a tick with its duration."""
    start = time.perf_counter()
    with console.status(f"{label}…", spinner="dots"):
        yield
    console.print(f"[green]✓[/green] {label} [dim]({time.perf_counter() - start:.1f} s)[/dim]")
