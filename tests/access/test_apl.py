from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.access import apl as apl_module
from maillage.access.apl import (
    APL_PROFILES,
    DEFAULT_ACTS_PER_FTE,
    DREES_STEPS,
    apl,
    apl_profile,
    apl_supply,
)
from maillage.access.zoning import PUBLISHED_THRESHOLDS
from maillage.diagnosis.parameters import PROFESSIONS
from maillage.travel.model import TravelPairs

NON_GP = [p for p in APL_PROFILES if p != "generaliste"]


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


# Golden case, by hand. Commune A (demand 1,000) and B (demand 3,000), 12 minutes apart
# (weight 2/3), each reaching itself in 2 minutes (weight 1). Practitioners all in A: two aged
# 40 and 50 with activities 3,000 and unknown, one aged 70 (left out).
PAIRS = TravelPairs(
    2,
    2,
    np.array([0, 0, 1, 1], np.int32),
    np.array([0, 1, 0, 1], np.int32),
    np.array([2.0, 12.0, 12.0, 2.0]),
)
DEMAND = np.array([1_000.0, 3_000.0])
IN_A = pd.DataFrame(
    {
        "code_commune": ["A", "A", "A"],
        "fte": [1.0, 1.0, 1.0],
        "age": [40, 50, 70],
        "activity": [3_000.0, np.nan, 5_000.0],
    }
)
# Weighted demand seen from A: 1,000 + 3,000·2/3 = 3,000; from B nothing is offered.


def test_gp_golden_case_in_consultations_per_inhabitant():
    acts = apl_supply(IN_A, np.array(["A", "B"]), apl_profile("generaliste"))
    np.testing.assert_allclose(acts, [3_600 + 4_800, 0.0])  # floor, default, over 65 out
    access = apl(DEMAND, acts, PAIRS, profile=apl_profile("generaliste"))
    np.testing.assert_allclose(access, [8_400 / 3_000, 2 / 3 * 8_400 / 3_000])


@pytest.mark.parametrize("profession", NON_GP)
def test_other_professions_golden_case_in_fte_per_100_000(profession: str):
    profile = apl_profile(profession)
    fte = apl_supply(IN_A, np.array(["A", "B"]), profile)
    np.testing.assert_allclose(fte, [2.0, 0.0])  # FTE, activity ignored, over 65 out
    access = apl(DEMAND, fte, PAIRS, profile=profile)
    np.testing.assert_allclose(access, [2 / 3_000 * 1e5, 2 / 3 * 2 / 3_000 * 1e5])  # 66.7, 44.4


def test_units_per_profession():
    assert apl_profile("generaliste").unit() == "consultations par an et par habitant"
    assert apl_profile("infirmier").unit() == "ETP pour 100 000 habitants"
    assert apl_profile("sage-femme").unit(women=True) == "ETP pour 100 000 femmes"
    assert apl_profile("sage-femme").demand == "women"


def test_every_profession_has_a_cited_profile_and_thresholds_only_for_gps():
    assert set(APL_PROFILES) == set(PROFESSIONS)
    for profile in APL_PROFILES.values():
        assert set(profile.sources) == {"offer", "max_age", "steps", "demand", "unit", "thresholds"}
        assert all(profile.sources.values())
    assert {p for (m, p) in PUBLISHED_THRESHOLDS if m == "apl"} == {"generaliste"}
    for profession in NON_GP:
        profile = apl_profile(profession)
        assert (profile.offer, profile.per) == ("fte", 100_000.0)
        assert "not found" in profile.sources["steps"]


supply_rows = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.floats(0.05, 1.0),
        st.one_of(st.none(), st.integers(25, 75)),
        st.one_of(st.none(), st.floats(0.0, 20_000.0)),
    ),
    min_size=1,
    max_size=12,
)


def _table(rows: list[tuple]) -> pd.DataFrame:
    code, fte, age, activity = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "code_commune": list(code),
            "fte": list(fte),
            "age": [np.nan if a is None else a for a in age],
            "activity": [np.nan if a is None else a for a in activity],
        }
    )


@settings(max_examples=60, deadline=None)
@given(rows=supply_rows, constants=st.tuples(*[st.floats(1.0, 50_000.0)] * 3))
def test_no_other_profession_uses_the_gp_act_constants(rows, constants):
    table = _table(rows)
    codes = np.array(["A", "B", "C"])
    for profession in NON_GP:
        profile = apl_profile(profession)
        before = apl_supply(table, codes, profile)
        low, high, default = [*sorted(constants[:2]), constants[2]]
        with mock.patch.multiple(
            apl_module, MIN_ACTS=low, MAX_ACTS=high, DEFAULT_ACTS_PER_FTE=default
        ):
            np.testing.assert_array_equal(apl_supply(table, codes, profile), before)
        np.testing.assert_array_equal(
            apl_supply(table.assign(activity=np.nan), codes, profile), before
        )
        kept = ~(table.age > 65)
        assert before.sum() == pytest.approx(table.fte[kept].sum())


def test_patching_the_gp_constants_changes_the_gp_supply():
    # The invariance above means something: the same patch moves the GPs' acts.
    codes = np.array(["A", "B"])
    before = apl_supply(IN_A, codes, apl_profile("generaliste"))
    with mock.patch.multiple(apl_module, MIN_ACTS=1.0, DEFAULT_ACTS_PER_FTE=1.0):
        np.testing.assert_allclose(
            apl_supply(IN_A, codes, apl_profile("generaliste")), [3_000 + 1, 0.0]
        )
    assert before[0] == 8_400


@settings(max_examples=60, deadline=None)
@given(
    rows=supply_rows,
    demand=st.lists(st.floats(1.0, 1e5), min_size=3, max_size=3),
    minutes=st.lists(st.floats(0.0, 30.0), min_size=6, max_size=6),
    profession=st.sampled_from(sorted(APL_PROFILES)),
)
def test_apl_conserves_supply_in_the_profiles_unit(rows, demand, minutes, profession):
    # Every commune reaches itself within 10 minutes, so all supply is seen by someone:
    # Σ demand·APL = per × offered supply (acts for GPs, FTE for the others).
    profile = apl_profile(profession)
    o, d = np.array([0, 1, 2, 0, 0, 1, 1, 2, 2]), np.array([0, 1, 2, 1, 2, 0, 2, 0, 1])
    pairs = TravelPairs(3, 3, o.astype(np.int32), d.astype(np.int32), np.r_[[5.0] * 3, minutes])
    supply = apl_supply(_table(rows), np.array(["A", "B", "C"]), profile)
    access = apl(np.array(demand), supply, pairs, profile=profile)
    assert np.array(demand) @ access == pytest.approx(profile.per * supply.sum(), rel=1e-9)
