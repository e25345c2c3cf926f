"""Solver progress that keeps moving while HiGHS works, and the stages' names for people.

No HiGHS callback fires during some long steps (presolve, crossover, the model hand-over),
so a display fed only by callbacks freezes there. HiGHS releases the GIL while it solves
(highspy's ``Highs.run``), which lets a daemon thread report ``(stage, elapsed / budget)``
every :data:`INTERVAL` seconds instead.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator

Progress = Callable[[str, float | None], None]

#: Seconds between two heartbeats: often enough to look alive, rare enough to cost nothing.
INTERVAL = 0.5

#: Each solver stage as the CLI and the job pages name it.
STAGE_LABELS = {
    "greedy": "Glouton paresseux (CELF)",
    "swap": "Échanges de sites",
    "build": "Construction du modèle HiGHS",
    "lagrangian": "Borne lagrangienne (sous-gradient)",
    "lp": "Borne par relaxation linéaire (HiGHS)",
    "restricted": "Modèle exact restreint (HiGHS)",
    "mip": "Optimisation exacte (HiGHS)",
    "cover": "Couverture minimale (HiGHS)",
    "radius": "Recherche du rayon minimal (HiGHS)",
    "sequence": "Classement des sites",
    "done": "Résolution terminée",
}


@contextlib.contextmanager
def heartbeat(report: Progress | None, stage: str, seconds: float) -> Iterator[None]:
    """Report ``stage`` now, then every :data:`INTERVAL` seconds until the block ends, with
    the share of ``seconds`` (the step's time budget; None when unbounded) spent so far."""
    if report is None:
        yield
        return
    began = time.perf_counter()
    stop = threading.Event()

    def fraction() -> float | None:
        if not math.isfinite(seconds):
            return None
        return min((time.perf_counter() - began) / seconds, 1.0)

    def beat() -> None:
        while not stop.wait(INTERVAL):
            report(stage, fraction())

    report(stage, fraction())
    thread = threading.Thread(target=beat, name=f"heartbeat-{stage}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
