"""What a diagnosis was asked for, validated once so that every later step can trust it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

METHODS = ("apl", "e2sfca", "2sfca", "gravity")
PROFESSIONS = ("generaliste", "infirmier", "kinesitherapeute", "sage-femme", "dentiste")
SUPPLY_FORMATS = ("annuaire", "csv")

#: DREES APL steps for GPs (method of 2015), also the default E2SFCA steps. Every profession's
#: APL starts from them: the others' steps were not found (``maillage.access.apl.APL_PROFILES``).
DEFAULT_STEPS = "10:1,15:2/3,20:1/3"
DEFAULT_CATCHMENT_MINUTES = 20.0
DEFAULT_BETA = 1.0
DEFAULT_NO_CARE_MINUTES = 20.0


@dataclass(frozen=True)
class DiagnosisParameters:
    """The options of ``maillage diagnose``, with their documented defaults."""

    region: str | None = None  # None and no department: Grand Est (44)
    department: str | None = None
    profession: str = "generaliste"
    supply: Path | None = None
    supply_format: str = "annuaire"
    ages: Path | None = None
    travel: str = "crow-fly"
    speed_kmh: float | None = None
    circuity: float | None = None
    osrm_timeout: float | None = None  # None: the OSRM client's default (10 s)
    method: str = "apl"
    steps: str = DEFAULT_STEPS
    catchment: float = DEFAULT_CATCHMENT_MINUTES
    beta: float = DEFAULT_BETA
    thresholds: str | None = None
    no_care_minutes: float = DEFAULT_NO_CARE_MINUTES
    modes: tuple[str, ...] = field(default=("L", "S"))

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method doit valoir {', '.join(METHODS)}, pas {self.method!r}")
        if self.profession not in PROFESSIONS:
            raise ValueError(
                f"--profession doit valoir {', '.join(PROFESSIONS)}, pas {self.profession!r}"
            )
        if self.supply_format not in SUPPLY_FORMATS:
            raise ValueError(
                f"--supply-format doit valoir {', '.join(SUPPLY_FORMATS)}, "
                f"pas {self.supply_format!r}"
            )
        for name in ("catchment", "no_care_minutes", "beta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"--{name.replace('_', '-')} doit être positif")
        if self.osrm_timeout is not None and not 0 < self.osrm_timeout <= 3600:
            raise ValueError("--osrm-timeout doit être compris entre 0 et 3600 secondes")

    def to_summary(self) -> dict:
        """JSON-ready parameters, paths as strings."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}
