"""What a plan was asked for, validated once, light to import (the CLI reads its defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from maillage.diagnosis.parameters import DiagnosisParameters

CANDIDATES_HELP = "communes | mairies | finess:FICHIER[:CATÉGORIES] | csv:FICHIER | dataset:ID"
OBJECTIVES = ("underserved", "sous-dotees", "coverage", "pmedian", "lscp", "pcenter")
#: What each objective optimises, as the web form and the outputs name it.
OBJECTIVE_LABELS = {
    "underserved": "Population sous-dotée ou intermédiaire couverte (pondérée par le déficit)",
    "sous-dotees": "Population des communes sous-dotées couverte (pondérée par le déficit)",
    "coverage": "Population couverte",
    "pmedian": "Temps de trajet moyen (p-médian)",
    "lscp": "Nombre minimal de sites pour couvrir toute la population (LSCP)",
    "pcenter": "Pire temps de trajet (p-centre)",
}
#: Objectives where ``lscp`` chooses the number of sites itself; all others take ``--sites``.
CHOOSES_ITS_SITES = ("lscp",)
#: Full-weight reach of the DREES APL (weight 1 under 10 minutes): a site within it counts
#: fully for the people it serves.
DEFAULT_MINUTES = 10.0
DEFAULT_TIME_LIMIT = 60.0


@dataclass(frozen=True)
class PlanParameters:
    """The options of ``maillage plan``; ``diagnosis`` holds those it shares with ``diagnose``."""

    diagnosis: DiagnosisParameters
    sites: int | None
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
    served_by_supply: bool = False

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"--objective doit valoir {', '.join(OBJECTIVES)}, pas {self.objective!r}"
            )
        if self.objective in CHOOSES_ITS_SITES and self.sites is not None:
            raise ValueError(
                f"--objective {self.objective} choisit lui-même le nombre de sites : "
                "retirez --sites"
            )
        if self.objective not in CHOOSES_ITS_SITES and self.sites is None:
            raise ValueError(f"--objective {self.objective} demande --sites")
        if self.sites is not None and self.sites < 1:
            raise ValueError("--sites doit valoir au moins 1")
        if self.served_by_supply and self.objective not in ("lscp", "pcenter"):
            raise ValueError("--served-by-supply ne s'applique qu'aux objectifs lscp et pcenter")
        for name in ("minutes", "time_limit", "capacity"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"--{name.replace('_', '-')} doit être positif")
        if self.budget is not None and self.budget < 0:
            raise ValueError("--budget doit être positif ou nul")

    def to_summary(self) -> dict:
        """JSON-ready parameters, the diagnosis' ones nested, paths as strings."""
        flat = {k: v for k, v in asdict(self).items() if k != "diagnosis"}
        flat["existing"] = None if self.existing is None else str(self.existing)
        return flat | {"diagnosis": self.diagnosis.to_summary()}
