"""`maillage plan` end to end: diagnosis → candidate sites → model → solve → simulated impact.

The planning engine (:mod:`maillage.planning.problem`, :func:`~maillage.planning.solve.solve`)
knows nothing of communes; this module turns a diagnosis and a list of sites into its arrays
and turns its answer back into named sites.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version

import numpy as np
import pandas as pd

from maillage.diagnosis.pipeline import Diagnosis, Step, quiet_step, run_diagnosis
from maillage.planning.candidates import load_candidates, site_places
from maillage.planning.explanation import explain
from maillage.planning.greedy import Progress
from maillage.planning.parameters import PlanParameters
from maillage.planning.problem import Objective, PlanningProblem, underserved_weights
from maillage.planning.scenario import SITE_TELECONSULTATIONS, Impact, simulate
from maillage.planning.solution import Solution
from maillage.planning.solve import solve
from maillage.territory.communes import communes_places, load_communes
from maillage.territory.sites import Sites, load_sites_csv
from maillage.travel.provider import provider_from_option

#: GP consultations a year per inhabitant, to turn demand into the acts a capacitated site
#: absorbs: the DREES national mean APL of 4.11 consultations a year per inhabitant (2015;
#: Vergier & Chaput, Les Dossiers de la DREES n° 17, 2017) — also the APL's own unit.
CONSULTATIONS_PER_INHABITANT = 4.11
UNITS = {
    "underserved": "habitants pondérés par le déficit max(0, T2 − accès) / T2",
    "sous-dotees": "habitants pondérés par le déficit max(0, T1 − accès) / T1",
    "coverage": "habitants",
    "pmedian": "habitants × minutes",
    "lscp": "nouveaux sites",
    "pcenter": "minutes",
}
#: The solver's objective behind each of the plan's.
MODEL_OBJECTIVE: dict[str, Objective] = {
    "underserved": "coverage",
    "sous-dotees": "coverage",
    "coverage": "coverage",
    "pmedian": "pmedian",
    "lscp": "lscp",
    "pcenter": "pcenter",
}
SYNTHETIC_WARNING = (
    "SYNTHETIC : le diagnostic derrière ce plan utilise une offre de soins synthétique "
    "(praticiens fictifs)"
)


@dataclass(frozen=True)
class Plan:
    """The chosen sites in rank order, the existing ones, the certificate and the impact."""

    diagnosis: Diagnosis
    sites: pd.DataFrame  # rank, site_id, name, code_commune, departement, lon, lat, cost, …
    existing: pd.DataFrame
    solution: Solution
    impact: Impact
    summary: dict

    @property
    def synthetic(self) -> bool:
        return self.diagnosis.synthetic


def run_plan(
    params: PlanParameters, step: Step = quiet_step, on_progress: Progress | None = None
) -> Plan:
    """Diagnose the area, choose ``params.sites`` new sites, and simulate their effect."""
    began = time.perf_counter()
    diagnosis = run_diagnosis(params.diagnosis, step)
    area = diagnosis.communes
    thresholds = diagnosis.summary["parameters"]["thresholds_used"]
    with step("Sites candidats"):
        communes = load_communes()
        candidates = load_candidates(params.candidates, communes)
        existing = load_sites_csv(params.existing, communes) if params.existing else None
        sites, is_existing = _site_table(candidates, existing, area, communes)

    located = area[np.isfinite(area.lon) & np.isfinite(area.lat)]
    position = pd.Index(communes.code_commune).get_indexer(located.code_commune)
    places = communes_places(communes).subset(position)
    population = located.population.fillna(0.0).to_numpy(dtype=float)
    demand = _demand(params, population, located.access.to_numpy(dtype=float), thresholds)
    if params.served_by_supply:
        # Communes the diagnosis finds with a practitioner within --no-care-minutes need no site.
        demand = np.where(located.no_care.to_numpy(dtype=float) == 0.0, 0.0, demand)
    with step("Temps de trajet vers les sites"):
        provider = provider_from_option(
            params.diagnosis.travel,
            speed_kmh=params.diagnosis.speed_kmh,
            circuity=params.diagnosis.circuity,
            osrm_timeout=params.diagnosis.osrm_timeout,
        )
        pairs = provider.pairs(places, site_places(sites, communes), params.minutes)

    problem = PlanningProblem(
        demand=demand,
        pairs=pairs,
        p=int((~is_existing).sum()) if params.sites is None else params.sites,
        minutes=params.minutes,
        objective=MODEL_OBJECTIVE[params.objective],
        existing=is_existing,
        cost=_costs(params, sites, is_existing),
        budget=params.budget,
        group=sites.departement.to_numpy(dtype=str),
        min_per_group=_per_department(params.min_per_department, area),
        max_per_group=_per_department(params.max_per_department, area),
        capacity=params.capacity,
        load=None if params.capacity is None else population * CONSULTATIONS_PER_INHABITANT,
        unserved_penalty=params.unserved_penalty,
    )
    solution = solve(
        problem, time_limit=params.time_limit, population=population, on_progress=on_progress
    )
    chosen = sites.iloc[solution.sites].reset_index(drop=True)
    chosen.insert(0, "rank", [s.rank for s in solution.sequence])
    chosen["gain"] = [s.gain for s in solution.sequence]
    chosen["population_covered"] = [s.covered for s in solution.sequence]

    teleconsultations = params.capacity or SITE_TELECONSULTATIONS
    impact = simulate(
        params.diagnosis,
        chosen.code_commune.to_numpy(),
        teleconsultations,
        thresholds,
        step,
        before=diagnosis,
    )
    summary = _summary(
        params, diagnosis, candidates, existing, solution, problem, impact, population, began
    )
    summary["explanation"] = explain(params, problem, located, chosen, population, thresholds)
    return Plan(
        diagnosis, chosen, sites[is_existing].reset_index(drop=True), solution, impact, summary
    )


def _site_table(
    candidates: Sites, existing: Sites | None, area: pd.DataFrame, communes: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """New candidates inside the area, then the existing sites (wherever they are)."""
    new = candidates.table[candidates.table.code_commune.isin(area.code_commune)]
    if new.empty:
        raise ValueError(f"aucun site candidat ({candidates.source}) dans la zone")
    parts = [new] if existing is None else [new, existing.table]
    sites = pd.concat(parts, ignore_index=True)
    departement = communes.set_index("code_commune").departement
    sites["departement"] = departement.reindex(sites.code_commune).to_numpy()
    is_existing = np.arange(len(sites)) >= len(new)
    return sites, is_existing


def _demand(
    params: PlanParameters,
    population: np.ndarray,
    access: np.ndarray,
    thresholds: tuple[float, float] | None,
) -> np.ndarray:
    """Demand weight per commune: population, or population × deficit below the upper
    threshold T2 (``underserved``) or the lower one T1 (``sous-dotees``: only the communes
    the zoning calls sous-dotées weigh)."""
    if params.objective not in ("underserved", "sous-dotees"):
        return population
    if thresholds is None:
        raise ValueError(
            f"--objective {params.objective} demande des seuils de zonage : donner "
            "--thresholds T1,T2 (seuils publiés seulement pour --method apl "
            "--profession generaliste)"
        )
    threshold = thresholds[1] if params.objective == "underserved" else thresholds[0]
    return underserved_weights(population, access, threshold)


def _costs(
    params: PlanParameters, sites: pd.DataFrame, is_existing: np.ndarray
) -> np.ndarray | None:
    """Cost per site when a budget bounds them (existing sites cost nothing more)."""
    if params.budget is None:
        return None
    cost = sites.cost.to_numpy(dtype=float)
    if np.isnan(cost[~is_existing]).any():
        raise ValueError(
            "--budget demande un coût pour chaque candidat : utiliser csv:FICHIER avec une "
            "colonne cost"
        )
    return np.where(is_existing, 0.0, cost)


def _per_department(quota: int | None, area: pd.DataFrame) -> dict[str, int] | None:
    """A quota for each department of the area (departments outside it hold existing sites)."""
    if quota is None:
        return None
    if quota < 0:
        raise ValueError("les quotas par département doivent être positifs ou nuls")
    return dict.fromkeys(area.departement.unique().astype(str), quota)


def _finite(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded gap is written as null."""
    return value if value is not None and math.isfinite(value) else None


def _summary(
    params: PlanParameters,
    diagnosis: Diagnosis,
    candidates: Sites,
    existing: Sites | None,
    solution: Solution,
    problem: PlanningProblem,
    impact: Impact,
    population: np.ndarray,
    began: float,
) -> dict:
    inputs = dict(diagnosis.summary["inputs"])
    inputs["candidates"] = candidates.provenance() | {"inside_area": int((~problem.existing).sum())}
    if existing is not None:
        inputs["existing"] = existing.provenance()
    open_sites = problem.existing.copy()
    open_sites[solution.sites] = True
    reach = problem.reach
    covered = np.zeros(problem.n_demand, dtype=bool)
    covered[reach.origin[open_sites[reach.destination]]] = True
    summary = {
        "objective": solution.objective,
        "bound": _finite(solution.bound),
        "gap": _finite(solution.gap),
        "objective_name": params.objective,
        "sense": "maximise" if problem.maximise else "minimise",
        "unit": UNITS[params.objective],
        "solver": solution.solver,
        "status": solution.status,
        "greedy_objective": solution.start_objective,
        "times": solution.times | {"total": time.perf_counter() - began},
        "area": diagnosis.summary["area"],
        "sites": len(solution.sites),
        "existing_sites": int(problem.existing.sum()),
        "population": float(population.sum()),
        "population_within_minutes": float(population[covered].sum()),
        "parameters": params.to_summary()
        | {
            "thresholds_used": diagnosis.summary["parameters"]["thresholds_used"],
            "consultations_per_inhabitant": CONSULTATIONS_PER_INHABITANT,
        },
        "inputs": inputs,
        "provenance": {
            "maillage": version("maillage"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "diagnosis": {
                "method": diagnosis.summary["method"],
                "profession": diagnosis.summary["profession"],
                "demand": diagnosis.summary["demand"],
            },
        },
        "synthetic": diagnosis.synthetic,
        "scenario": impact.summary,
    }
    if diagnosis.synthetic:
        summary["warning"] = SYNTHETIC_WARNING
    return summary
