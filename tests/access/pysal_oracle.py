"""PySAL ``access`` run on the same arrays as ours: the reference our engine must equal."""

from __future__ import annotations

import numpy as np
import pandas as pd

from access import Access, weights
from maillage.travel.model import TravelPairs


def pysal_access(
    demand: np.ndarray,
    supply: np.ndarray,
    pairs: TravelPairs,
    method: str,
    max_cost: float,
    weight_fn=None,
) -> np.ndarray:
    """``Access.<method>`` per origin, 0 where PySAL leaves an origin out (NaN)."""
    model = Access(
        demand_df=pd.DataFrame({"geoid": np.arange(len(demand)), "pop": demand}),
        demand_index="geoid",
        demand_value="pop",
        supply_df=pd.DataFrame({"geoid": np.arange(len(supply)), "doc": supply}),
        supply_index="geoid",
        supply_value="doc",
        cost_df=pd.DataFrame(
            {"origin": pairs.origin, "dest": pairs.destination, "cost": pairs.minutes}
        ),
        cost_origin="origin",
        cost_dest="dest",
        cost_name="cost",
    )
    compute = getattr(model, method)
    result = compute(name="x", weight_fn=weight_fn, max_cost=max_cost)
    return result["x_doc"].reindex(np.arange(len(demand))).fillna(0.0).to_numpy()


step_fn = weights.step_fn
gravity_fn = weights.gravity
