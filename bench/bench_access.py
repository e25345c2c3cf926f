"""National E2SFCA and APL on every commune (crow-fly, 20 min): maillage against PySAL access.

Both engines get identical inputs (the same pairs, demand and supply; PySAL's DataFrames are
built outside the timed region). Supply is a seeded SYNTHETIC draw of ~85 GPs per 100,000
inhabitants, which is all a timing needs. Prints pair count, travel-matrix build time, our
compute time (median of several runs), PySAL's, the ratio (target ≥ 50×) and peak RSS, and
asserts agreement to 1e-9 relative.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from access import Access, weights
from maillage.access.apl import DEFAULT_ACTS_PER_FTE, DREES_STEPS, apl
from maillage.access.fca import e2sfca
from maillage.territory.communes import communes_places, load_communes
from maillage.travel.crowfly import CrowFly
from maillage.travel.model import TravelPairs

RUNS = 7
TARGET_RATIO = 50.0
RTOL = 1e-9


def timed(work: Callable[[], object], runs: int) -> tuple[float, object]:
    """Median wall seconds of ``runs`` calls, and the last result."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pysal_model(demand: np.ndarray, supply: dict[str, np.ndarray], pairs: TravelPairs) -> Access:
    """PySAL's ``Access`` on the same arrays (origins and destinations are the same communes)."""
    ids = np.arange(len(demand))
    return Access(
        demand_df=pd.DataFrame({"geoid": ids, "pop": demand}),
        demand_index="geoid",
        demand_value="pop",
        supply_df=pd.DataFrame({"geoid": ids, **supply}),
        supply_index="geoid",
        supply_value=list(supply),
        cost_df=pd.DataFrame(
            {"origin": pairs.origin, "dest": pairs.destination, "cost": pairs.minutes}
        ),
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )


def main() -> None:
    communes = load_communes()
    communes = communes[np.isfinite(communes.x) & np.isfinite(communes.y)].reset_index(drop=True)
    places = communes_places(communes)
    demand = communes.population.fillna(0.0).to_numpy(dtype=float)
    rng = np.random.default_rng(2017)
    fte = rng.poisson(demand * 85e-5).astype(float)  # SYNTHETIC
    acts = fte * DEFAULT_ACTS_PER_FTE

    build_s, pairs = timed(lambda: CrowFly().pairs(places, places, DREES_STEPS.cutoff), 3)
    ours_e2sfca_s, ours_e2sfca = timed(lambda: e2sfca(demand, fte, pairs, DREES_STEPS), RUNS)
    ours_apl_s, ours_apl = timed(lambda: apl(demand, acts, pairs), RUNS)
    ours_rss = peak_rss_mib()

    model = pysal_model(demand, {"fte": fte, "acts": acts}, pairs)
    step_fn = weights.step_fn(DREES_STEPS.as_dict())
    results = {}
    pysal_s = {}
    for column in ("fte", "acts"):
        start = time.perf_counter()
        result = model.enhanced_two_stage_fca(
            name=column, supply_values=column, weight_fn=step_fn, max_cost=DREES_STEPS.cutoff
        )
        pysal_s[column] = time.perf_counter() - start
        results[column] = result[f"{column}_{column}"].reindex(np.arange(len(demand)))

    print(f"communes            {len(places):>12,}")
    print(f"pairs <= 20 min     {len(pairs):>12,}   (crow-fly defaults {CrowFly()})")
    print(f"travel build        {build_s * 1e3:>12.1f} ms (median of 3)")
    rows = (("E2SFCA", ours_e2sfca_s, pysal_s["fte"]), ("APL", ours_apl_s, pysal_s["acts"]))
    for label, ours, theirs in rows:
        ratio = theirs / ours
        verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
        print(
            f"{label:<8} maillage {ours * 1e3:8.2f} ms (median of {RUNS})   PySAL {theirs:7.2f} s"
            f"   ratio {ratio:7.0f}x  (target >= {TARGET_RATIO:.0f}x: {verdict})"
        )
    print(
        f"peak RSS            {ours_rss:>12.0f} MiB after maillage, "
        f"{peak_rss_mib():.0f} MiB after PySAL"
    )

    for label, ours, column in (("E2SFCA", ours_e2sfca, "fte"), ("APL", ours_apl, "acts")):
        theirs = results[column].fillna(0.0).to_numpy()
        worst = np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300))
        print(f"{label:<8} max relative difference to PySAL: {worst:.2e}")
        np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)
    print(f"agreement <= {RTOL:g} relative: ok")


if __name__ == "__main__":
    main()
