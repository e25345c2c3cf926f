"""What an access value means to its reader: the indicator's name, its unit, the scale at which
it is shown and the zoning thresholds, so that every legend, tooltip and table says
"APL 1,3 consultation/an/habitant — sous-dotée (≤ 2,5)" rather than a bare "1.3".

The GPs' APL is in consultations a year per (standardised) inhabitant (DREES, Études et
Résultats n° 795). The floating-catchment methods give FTE per inhabitant, shown per 100,000
inhabitants as DREES publishes densities and the other professions' APL (Études et Résultats
n° 1100).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from maillage.access.apl import apl_profile
from maillage.french_format import number, numbers_column

PER_100K = 100_000.0
CLASS_NAMES = {"sous-dotee": "sous-dotée", "intermediaire": "intermédiaire", "dotee": "dotée"}


@dataclass(frozen=True)
class Measure:
    """An access indicator as shown: ``shown = value × scale`` in ``unit``."""

    name: str
    unit: str
    scale: float
    thresholds: tuple[float, float] | None
    digits: int = 2

    def suffix(self, separator: str = " ") -> str:
        """The unit after a value ("" for a measure without unit)."""
        return f"{separator}{self.unit}" if self.unit else ""

    def value(self, value: float) -> str:
        """'1,3 consultation/an/habitant'; 'sans donnée' for NaN."""
        if not np.isfinite(value):
            return "sans donnée"
        return f"{number(value * self.scale, self.digits)}{self.suffix()}"

    def values(self, values: pd.Series, signed: bool = False) -> pd.Series:
        """A column of values with their unit ('sans donnée' where missing)."""
        text = numbers_column(values.astype(float) * self.scale, self.digits, signed)
        return (text + self.suffix()).where(text != "", "sans donnée")

    def class_labels(self) -> dict[str, str]:
        """Each zoning class with its bounds: 'sous-dotée (≤ 2,5)'; empty without thresholds."""
        if self.thresholds is None:
            return {}
        low, high = (number(t * self.scale, self.digits) for t in self.thresholds)
        return {
            "sous-dotee": f"sous-dotée (≤ {low})",
            "intermediaire": f"intermédiaire ({low} – {high}]",
            "dotee": f"dotée (> {high})",
        }

    def describe(self, values: pd.Series, classes: pd.Series | None = None) -> pd.Series:
        """'APL 1,3 consultation/an/habitant — sous-dotée (≤ 2,5)' per row (tooltips)."""
        text = self.name + " " + self.values(values)
        if classes is None:
            return text
        labels = self.class_labels()
        named = classes.map(labels).astype(object).fillna("non classée")
        return text + " — " + named


def measure_of(
    method: str, profession: str, thresholds: tuple[float, float] | None, *, women: bool = False
) -> Measure:
    """The measure a diagnosis computed (``thresholds``: those it classified with;
    ``women``: a midwives' APL counted per woman). An APL is already in its profession's
    unit (:func:`maillage.access.apl.apl_profile`); the floating-catchment methods give FTE
    per inhabitant, shown per 100,000."""
    if method == "apl":
        profile = apl_profile(profession)
        if profile.offer == "acts":
            return Measure("APL", "consultation/an/habitant", 1.0, thresholds, digits=1)
        return Measure("APL", profile.unit(women=women), 1.0, thresholds, digits=1)
    return Measure(method.upper(), "ETP pour 100 000 habitants", PER_100K, thresholds, digits=1)


def measure_in(summary: dict) -> Measure:
    """The measure of a run from its summary.json."""
    used = summary.get("parameters", {}).get("thresholds_used")
    return measure_of(
        summary.get("method", "apl"),
        summary.get("profession", "generaliste"),
        (float(used[0]), float(used[1])) if used else None,
        women=str(summary.get("unit", "")).endswith("femmes"),
    )
