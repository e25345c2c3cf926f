"""Distance-decay weights: a travel time in minutes → how much of a practice a resident sees.

Both families mirror PySAL ``access.weights`` (Saxon et al., *access*, JOSS 2021), vectorised:
``step_fn`` with inclusive upper bounds and ``gravity`` with a minimum distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class StepWeights:
    """Weight ``values[k]`` for minutes in ``(bounds[k-1], bounds[k]]``, 0 beyond the last.

    Inclusive upper bounds, as PySAL ``weights.step_fn``: with "10:1,15:0.5" a 10-minute trip
    weighs 1, a 10.01-minute trip 0.5.
    """

    bounds: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.bounds or len(self.bounds) != len(self.values):
            raise ValueError("--steps demande au moins une paire 'minutes:poids'")
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError(
                f"les bornes de --steps doivent être strictement croissantes, reçu {self.bounds}"
            )
        if self.bounds[0] <= 0 or any(v < 0 for v in self.values):
            raise ValueError("les bornes de --steps doivent être > 0 minutes et les poids >= 0")

    @classmethod
    def parse(cls, text: str) -> StepWeights:
        """``"10:1,15:2/3,20:0.3333"`` (any order; weights as decimals or fractions)."""
        try:
            steps = sorted(
                (float(bound), float(Fraction(weight.strip())))
                for bound, weight in (item.split(":") for item in text.split(","))
            )
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"--steps s'écrit comme '10:1,15:2/3,20:1/3' (minutes:poids), pas {text!r}"
            ) from None
        return cls(tuple(b for b, _ in steps), tuple(v for _, v in steps))

    @property
    def cutoff(self) -> float:
        """Beyond this many minutes the weight is 0: only pairs within it need exist."""
        return self.bounds[-1]

    def as_dict(self) -> dict[float, float]:
        """The ``{bound: weight}`` mapping PySAL ``weights.step_fn`` takes."""
        return dict(zip(self.bounds, self.values, strict=True))

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        """Weight of each travel time (0 past the cut-off)."""
        minutes = np.asarray(minutes, dtype=float)
        # Count the bounds at or above each time (a few byte-wide passes beat searchsorted
        # 3×): all of them → the first weight, none (past the cut-off, or NaN) → 0.
        reached = np.zeros(minutes.shape, dtype=np.min_scalar_type(len(self.bounds)))
        for bound in self.bounds:
            reached += minutes <= bound
        return np.append(0.0, np.asarray(self.values[::-1], dtype=float)).take(reached)


@dataclass(frozen=True)
class GravityWeights:
    """``max(minutes, min_minutes) ** -beta`` up to ``cutoff`` (inclusive), 0 beyond.

    PySAL ``weights.gravity(scale=1, alpha=-beta, min_dist=min_minutes)``; the floor keeps a
    next-door practice from weighing infinitely (a trip counts as at least ``min_minutes``).
    """

    beta: float
    cutoff: float
    min_minutes: float = 1.0

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.cutoff > 0 and self.min_minutes > 0):
            raise ValueError("la gravité demande beta > 0, cutoff > 0 et min_minutes > 0")

    def __call__(self, minutes: np.ndarray) -> np.ndarray:
        """Weight of each travel time (0 past the cut-off)."""
        minutes = np.asarray(minutes, dtype=float)
        decay = np.maximum(minutes, self.min_minutes) ** -self.beta
        return np.where(minutes <= self.cutoff, decay, 0.0)


def gravity_weights(beta: float, cutoff: float, min_minutes: float = 1.0) -> GravityWeights:
    """Gravity decay with exponent ``beta`` cut at ``cutoff`` minutes."""
    return GravityWeights(beta, cutoff, min_minutes)
