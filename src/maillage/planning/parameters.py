"""What a plan was asked for, validated once, light to import (the CLI reads its defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from maillage.diagnosis.parameters import DiagnosisParameters

CANDIDATES_HELP = "communes | mairies | finess:FILE[:CATEGORIES] | csv:FILE | dataset:ID"
OBJECTIVES = ("underserved", "coverage", "pmedian")
#: Full-weight reach of the DREES APL (weight 1 under 10 minutes): a site within it counts
#: fully for the people it serves.
DEFAULT_MINUTES = 10.0
DEFAULT_TIME_LIMIT = 60.0


@dataclass(frozen=True)
class PlanParameters:
    """The options of ``maillage plan``; ``diagnosis`` holds those it shares with ``diagnose``."""

    diagnosis: DiagnosisParameters
    sites: int
    candidates: str = "communes"
    existing: Path | None = None
    objective: str = "underserved"
    minutes: float = DEFAULT_MINUTES
    capacity: float | None = None
    budget: float | None = None
    unserved_penalty: float | None = None
    min_per_department: int | None = None
    max_per_department: int | None = None
    time_limit: float = DEFAULT_TIME_LIMIT

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"--objective must be one of {', '.join(OBJECTIVES)}, not {self.objective!r}"
            )
        if self.sites < 1:
            raise ValueError("--sites must be at least 1")
        for name in ("minutes", "time_limit", "capacity"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} must be positive")
        if self.budget is not None and self.budget < 0:
            raise ValueError("--budget must be non-negative")

    def to_summary(self) -> dict:
        """JSON-ready parameters, the diagnosis' ones nested, paths as strings."""
        flat = {k: v for k, v in asdict(self).items() if k != "diagnosis"}
        flat["existing"] = None if self.existing is None else str(self.existing)
        return flat | {"diagnosis": self.diagnosis.to_summary()}
