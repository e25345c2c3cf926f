"""Change over time: this diagnosis against an earlier run's output directory.

An ARS follows its zoning year after year: which communes and EPCI gained or lost access, and
which changed class. The earlier run is read from what ``maillage diagnose`` left
(``communes.parquet``, ``summary.json``); the EPCI of its communes are today's, so that both
runs are summed over the same territories.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from maillage.diagnosis.pipeline import Diagnosis
from maillage.diagnosis.territories import aggregate
from maillage.errors import InputError

NEEDED = ("code_commune", "population", "access", "classe")
EPCI_COLUMNS = [
    "code",
    "nom",
    "population_before",
    "population_after",
    "access_before",
    "access_after",
    "access_change",
    "classe_before",
    "classe_after",
    "population_sous_dotee_before",
    "population_sous_dotee_after",
    "population_sous_dotee_change",
    "share_fte_aged_60_plus",
]


@dataclass(frozen=True)
class PreviousRun:
    """An earlier diagnosis as read back from its directory."""

    path: Path
    communes: pd.DataFrame
    summary: dict


@dataclass(frozen=True)
class Comparison:
    """Change per commune and per EPCI, and what summary.json says of it."""

    communes: pd.DataFrame
    epci: pd.DataFrame
    summary: dict


def read_run(path: Path) -> PreviousRun:
    """The run in ``path``, or an error saying why it is not a diagnosis' output directory."""
    if not path.is_dir():
        raise InputError(path, "--compare attend le dossier de résultats d'un diagnostic")
    summary_path, table_path = path / "summary.json", path / "communes.parquet"
    for needed in (summary_path, table_path):
        if not needed.is_file():
            raise InputError(
                path, f"pas un dossier de résultats de maillage diagnose : {needed.name} manque"
            )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(summary_path, f"JSON illisible : {error}", line=error.lineno) from None
    if not isinstance(summary, dict) or "method" not in summary:
        raise InputError(summary_path, "résumé sans méthode : pas celui d'un diagnostic")
    communes = pd.read_parquet(table_path)
    for column in NEEDED:
        if column not in communes:
            raise InputError(table_path, "colonne manquante", column=column)
    return PreviousRun(path, communes, summary)


def compare(previous: PreviousRun, diagnosis: Diagnosis, national: pd.DataFrame) -> Comparison:
    """Access after (this run) minus before (``previous``), per commune and per EPCI.

    Both runs must compute the same measure (method and profession): a change from an APL to
    a 2SFCA would mean nothing.
    """
    before_kind = (previous.summary.get("method"), previous.summary.get("profession"))
    after_kind = (diagnosis.summary["method"], diagnosis.summary["profession"])
    if before_kind != after_kind:
        raise ValueError(
            f"--compare : le diagnostic de {previous.path} mesure {'/'.join(map(str, before_kind))}"
            f", celui-ci {'/'.join(after_kind)} ; les valeurs ne se comparent pas"
        )
    after = diagnosis.communes
    before = previous.communes
    communes = _commune_change(before, after)
    epci = _epci_change(previous, diagnosis, national)
    known_before, known_after = communes.access_before.notna(), communes.access_after.notna()
    both = known_before & known_after
    summary = {
        "previous_run": str(previous.path),
        "previous_area": previous.summary.get("area"),
        "communes_compared": int(both.sum()),
        "communes_without_value_before": int((~known_before & known_after).sum()),
        "communes_without_value_after": int((known_before & ~known_after).sum()),
        "communes_changing_class": int(
            (both & (communes.classe_before != communes.classe_after)).sum()
        ),
        "population_gaining": float(communes.population[communes.access_change > 0].sum()),
        "population_losing": float(communes.population[communes.access_change < 0].sum()),
        "files": ["evolution_communes.csv", "evolution_epci.csv", "evolution.html"],
    }
    return Comparison(communes, epci, summary)


def _commune_change(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per commune of either run (outer join on the INSEE code)."""
    left = before[["code_commune", "access", "classe"]].rename(
        columns={"access": "access_before", "classe": "classe_before"}
    )
    right = after[["code_commune", "nom", "epci", "population", "access", "classe"]].rename(
        columns={"access": "access_after", "classe": "classe_after"}
    )
    table = right.merge(left, on="code_commune", how="outer", sort=True)
    table["access_change"] = table.access_after - table.access_before
    return table[
        [
            "code_commune",
            "nom",
            "epci",
            "population",
            "access_before",
            "access_after",
            "access_change",
            "classe_before",
            "classe_after",
        ]
    ]


def _epci_change(
    previous: PreviousRun, diagnosis: Diagnosis, national: pd.DataFrame
) -> pd.DataFrame:
    """Both runs summed over today's EPCI, side by side."""
    thresholds = previous.summary.get("parameters", {}).get("thresholds_used")
    before = _as_commune_results(previous.communes, national)
    summed_before = aggregate(before, "epci", national, tuple(thresholds) if thresholds else None)
    summed_after = diagnosis.territories[diagnosis.territories.level == "epci"]
    keep = ["code", "nom", "population", "access", "classe", "population_sous_dotee"]
    table = summed_after[[*keep, "share_fte_aged_60_plus"]].merge(
        summed_before[keep], on=["code", "nom"], how="outer", suffixes=("_after", "_before")
    )
    table["access_change"] = table.access_after - table.access_before
    table["population_sous_dotee_change"] = (
        table.population_sous_dotee_after - table.population_sous_dotee_before
    )
    return table[EPCI_COLUMNS].sort_values("code", ignore_index=True)


def _as_commune_results(communes: pd.DataFrame, national: pd.DataFrame) -> pd.DataFrame:
    """An earlier run's commune table with the columns :func:`aggregate` sums (today's EPCI;
    zero supply ages, which an earlier table does not keep)."""
    places = national.set_index("code_commune")[["nom", "departement", "region", "epci"]]
    table = communes.drop(columns=[c for c in places.columns if c in communes])
    table = table.join(places, on="code_commune")
    n = len(table)
    defaults = {"demand": np.nan, "supply": 0.0, "no_care": False}
    return table.assign(
        **{k: table.get(k, v) for k, v in defaults.items()},
        fte_aged_60_plus=np.zeros(n),
        fte_age_known=np.zeros(n),
    )
