from __future__ import annotations

import numpy as np
import pandas as pd

from maillage.access.apl import DEFAULT_ACTS_PER_FTE, DREES_STEPS, apl_supply


def test_drees_steps_weigh_one_two_thirds_one_third():
    np.testing.assert_allclose(
        DREES_STEPS(np.array([10.0, 10.5, 15.0, 19.0, 20.0, 21.0])),
        [1, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0],
    )


def test_supply_floors_caps_activity_and_drops_gps_over_65():
    table = pd.DataFrame(
        {
            "code_commune": ["55001", "55001", "55002", "55002", "55003", "55003"],
            "fte": [1.0, 1.0, 1.0, 0.5, 1.0, 1.0],
            "age": [40, 66, 65, np.nan, 30, 50],
            "activity": [2000, 5000, 9000, 5000, np.nan, 4000],
        }
    )
    acts = apl_supply(table, np.array(["55003", "55002", "55001", "55404"]))
    np.testing.assert_allclose(acts, [DEFAULT_ACTS_PER_FTE + 4000, 6000 + 0.5 * 5000, 3600, 0.0])


def test_supply_without_age_or_activity_uses_fte_times_default_acts():
    table = pd.DataFrame({"code_commune": ["01001", "01001"], "fte": [1.0, 0.25]})
    np.testing.assert_allclose(apl_supply(table, np.array(["01001"])), [1.25 * 4800])
