"""The plan's objective and choices put into words (French) for the people who read the plan.

A plan is only trusted when its reader can see what was optimised and why the sites landed
where they did: ``summary.json`` keeps these sentences and figures under ``explanation``,
and the CLI and the map print them. The shares by zoning class say where the objective's
weight lies (the default ``underserved`` weight is mostly in populous « intermédiaire »
communes, which is why its sites go there) and where the chosen sites are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from babel.numbers import format_decimal, format_percent

from maillage.planning.covering import unreachable
from maillage.planning.parameters import OBJECTIVE_LABELS, PlanParameters
from maillage.planning.problem import PlanningProblem

LOCALE = "fr_FR"
#: Zoning classes as the diagnosis writes them, and as a reader names them.
CLASS_NAMES = {
    "sous-dotee": "sous-dotées",
    "intermediaire": "intermédiaires",
    "dotee": "dotées",
    "non classée": "non classées",
}


def explain(
    params: PlanParameters,
    problem: PlanningProblem,
    communes: pd.DataFrame,
    chosen: pd.DataFrame,
    population: np.ndarray,
    thresholds: tuple[float, float] | None,
) -> dict:
    """``objectif`` (what was maximised or minimised), ``pourquoi`` (why these sites), the
    share of chosen sites and of the objective's weight in each zoning class, and the
    population no candidate reaches. ``communes`` are the problem's origins (with
    ``code_commune`` and ``classe``), ``chosen`` the new sites (with ``code_commune``)."""
    classes = communes["classe"].fillna("").astype(str).to_numpy()
    site_class = (
        pd.Series(classes, index=communes.code_commune.to_numpy())
        .reindex(chosen.code_commune.to_numpy())
        .fillna("")
        .to_numpy()
    )
    sites_by_class = _shares(site_class, np.ones(len(site_class)))
    weight_by_class = _shares(classes, problem.demand)
    out = unreachable(problem) if problem.objective in ("lscp", "pcenter") else None
    return {
        "objectif_nom": OBJECTIVE_LABELS[params.objective],
        "objectif": _objective(params, problem, thresholds),
        "pourquoi": _why(params, sites_by_class, weight_by_class, len(chosen)),
        "sites_par_classe": sites_by_class,
        "poids_par_classe": weight_by_class,
        "hors_de_portee": None
        if out is None
        else {
            "communes": int(out.sum()),
            "population": float(population[out].sum()),
            "codes": communes.code_commune.to_numpy()[out].tolist(),
        },
    }


def _shares(classes: np.ndarray, weight: np.ndarray) -> dict[str, float]:
    """Share of ``weight`` in each zoning class, classes named as the diagnosis writes them."""
    total = float(np.sum(weight))
    if total <= 0:
        return {}
    sums = pd.Series(weight, dtype=float).groupby(classes).sum()
    return {str(k) or "non classée": float(v / total) for k, v in sums.items() if v > 0}


def _objective(
    params: PlanParameters, problem: PlanningProblem, thresholds: tuple[float, float] | None
) -> str:
    minutes = _n(params.minutes)
    reach = f"à moins de {minutes} min (trajet estimé) d'un nouveau site"
    if params.objective == "underserved" and thresholds is not None:
        return (
            f"Maximiser la population {reach}, chaque commune pesant sa population × son "
            f"déficit d'accès sous le seuil haut (max(0, {_n(thresholds[1])} − APL) / "
            f"{_n(thresholds[1])}) : une commune dotée ne pèse rien, une commune sans accès "
            "pèse toute sa population, une commune intermédiaire peuplée pèse beaucoup."
        )
    if params.objective == "sous-dotees" and thresholds is not None:
        return (
            f"Maximiser la population des communes sous-dotées {reach}, chaque commune "
            f"pesant sa population × son déficit sous le seuil bas (max(0, "
            f"{_n(thresholds[0])} − APL) / {_n(thresholds[0])}) : seules les communes "
            "sous-dotées pèsent, d'autant plus que leur accès est faible."
        )
    if params.objective == "coverage":
        return f"Maximiser la population {reach} ou d'un site existant."
    if params.objective == "pmedian":
        return (
            "Minimiser le temps de trajet total (habitants × minutes) jusqu'au site le plus "
            f"proche ; un habitant à plus de {minutes} min de tout site compte "
            f"{_n(problem.penalty)} min."
        )
    served = (
        f", les communes ayant déjà un praticien à moins de "
        f"{_n(params.diagnosis.no_care_minutes)} min étant considérées comme servies"
        if params.served_by_supply
        else ""
    )
    if params.objective == "lscp":
        return (
            "Ouvrir le moins de sites possible pour que chaque habitant soit à moins de "
            f"{minutes} min d'un site, nouveau ou existant{served}."
        )
    return (
        f"Avec {problem.p} nouveaux sites, minimiser le pire temps de trajet d'un habitant "
        f"jusqu'au site le plus proche (trajets jusqu'à {minutes} min){served}."
    )


def _why(
    params: PlanParameters,
    sites_by_class: dict[str, float],
    weight_by_class: dict[str, float],
    n_sites: int,
) -> str:
    where = _where(sites_by_class)
    if params.objective == "lscp" and n_sites == 0:
        return "Les sites existants et l'offre de soins couvrent déjà tous les habitants."
    if params.objective == "lscp":
        return (
            f"Les {n_sites} sites forment la plus petite couverture trouvée (minimale à l'écart "
            "certifié près) : chaque habitant est à portée d'au moins un site. "
            f"{where}"
        )
    if params.objective == "pcenter":
        return (
            "Les sites réduisent d'abord le trajet de la commune la plus éloignée ; les sites "
            f"restants réduisent ensuite le temps de trajet total. {where}"
        )
    weight = _where(weight_by_class, "du poids de l'objectif")
    advice = (
        " Pour viser d'abord les communes sous-dotées : --objective sous-dotees."
        if params.objective == "underserved"
        else ""
    )
    return (
        "Chaque site est, dans l'ordre de sites.csv, celui qui ajoute le plus à l'objectif "
        "après les précédents (colonne gain) ; l'ensemble est optimal à l'écart certifié "
        f"près. {weight} {where}{advice}"
    )


def _where(shares: dict[str, float], what: str = "des sites choisis") -> str:
    if not shares:
        return ""
    parts = [
        f"{format_percent(share, locale=LOCALE)} en communes {CLASS_NAMES.get(name, name)}"
        for name, share in sorted(shares.items(), key=lambda item: -item[1])
    ]
    return f"Répartition {what} : {', '.join(parts)}."


def _n(value: float) -> str:
    return format_decimal(value, format="#,##0.##", locale=LOCALE)
