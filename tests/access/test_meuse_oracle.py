"""A real department (Meuse, 55) on the crow-fly matrix: our engine equals PySAL access."""

from __future__ import annotations

import numpy as np
import pytest
from pysal_oracle import pysal_access, step_fn

from maillage.access import fca
from maillage.access.apl import DREES_STEPS, apl
from maillage.territory.communes import communes_places, load_communes
from maillage.travel.crowfly import CrowFly


@pytest.fixture(scope="module")
def meuse():
    communes = load_communes()
    meuse = communes[(communes.departement == "55") & communes.population.notna()]
    places = communes_places(meuse.reset_index(drop=True))
    pairs = CrowFly().pairs(places, places, DREES_STEPS.cutoff)
    rng = np.random.default_rng(55)
    fte = np.where(rng.random(len(places)) < 0.15, rng.gamma(2.0, 1.0, len(places)), 0.0)
    return meuse.population.to_numpy(dtype=float), fte, pairs


def test_meuse_e2sfca_equals_pysal(meuse):
    population, fte, pairs = meuse
    assert pairs.n_origins > 400 and len(pairs) > 5 * pairs.n_origins
    ours = fca.e2sfca(population, fte, pairs, DREES_STEPS)
    theirs = pysal_access(
        population, fte, pairs, "enhanced_two_stage_fca", 20.0, step_fn(DREES_STEPS.as_dict())
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)


def test_meuse_apl_equals_pysal_and_conserves_acts(meuse):
    population, fte, pairs = meuse
    acts = fte * 4800
    ours = apl(population, acts, pairs)
    theirs = pysal_access(
        population, acts, pairs, "enhanced_two_stage_fca", 20.0, step_fn(DREES_STEPS.as_dict())
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=0)
    assert population @ ours == pytest.approx(acts.sum(), rel=1e-9)
