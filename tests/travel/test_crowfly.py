from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from places_factory import make_places

from maillage.travel.crowfly import CrowFly


def as_dict(pairs):
    return {
        (int(o), int(d)): m
        for o, d, m in zip(pairs.origin, pairs.destination, pairs.minutes, strict=True)
    }


def test_minutes_follow_distance_circuity_and_speed():
    model = CrowFly(speed_kmh=60.0, circuity=1.25)
    places = make_places([0.0, 8000.0], [0.0, 0.0])
    pairs = as_dict(model.pairs(places, places, 20.0))
    assert pairs[(0, 1)] == pytest.approx(8 * 1.25)  # 10 km of road at 1 km/min
    # Own commune: 2/3 · sqrt(10 km² / π) = 1.189 km straight, × 1.25 at 1 km/min.
    assert pairs[(0, 0)] == pytest.approx(2 / 3 * np.sqrt(10 / np.pi) * 1.25)


def test_zones_never_pair_and_cutoff_is_inclusive():
    model = CrowFly(speed_kmh=60.0, circuity=1.0)
    places = make_places([0.0, 10_000.0, 0.0], [0.0, 0.0, 0.0], zone=[2154, 2154, 5490])
    pairs = as_dict(model.pairs(places, places, 10.0))
    assert (0, 1) in pairs and pairs[(0, 1)] == pytest.approx(10.0)
    assert (0, 2) not in pairs and (2, 0) not in pairs
    assert (2, 2) in pairs


def test_site_in_own_commune_takes_intra_term_even_far_from_its_centre():
    model = CrowFly(speed_kmh=60.0, circuity=1.0)
    communes = make_places([0.0], [0.0], codes=["97302"], area_km2=[400.0], zone=[2972])
    sites = make_places(
        [30_000.0], [0.0], codes=["97302"], ids=["site-1"], area_km2=[np.nan], zone=[2972]
    )
    pairs = as_dict(model.pairs(communes, sites, 20.0))
    assert pairs == {(0, 0): pytest.approx(2 / 3 * np.sqrt(400 / np.pi))}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 50_000), st.floats(0, 50_000), st.sampled_from([2154, 2975])),
        min_size=1,
        max_size=40,
    ),
    st.floats(1.0, 40.0),
)
def test_pairs_equal_brute_force(points, cutoff):
    x, y, zone = (np.array(v) for v in zip(*points, strict=True))
    places = make_places(x, y, zone=zone, area_km2=np.linspace(1, 50, len(x)))
    model = CrowFly()
    distance = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    minutes = model.minutes(distance)
    np.fill_diagonal(minutes, model.intra_minutes(places.area_km2))
    expected = (minutes <= cutoff) & (zone[:, None] == zone[None, :])
    got = model.pairs(places, places, cutoff)
    dense = np.full(minutes.shape, np.nan)
    dense[got.origin, got.destination] = got.minutes
    np.testing.assert_array_equal(np.isfinite(dense), expected)
    # atol: a microsecond; the tree and the brute force differ on subnormal distances only.
    np.testing.assert_allclose(dense[expected], minutes[expected], rtol=1e-12, atol=1e-8)
    assert len(got) == expected.sum()


def test_rejects_impossible_parameters():
    with pytest.raises(ValueError):
        CrowFly(speed_kmh=0.0)
    with pytest.raises(ValueError):
        CrowFly(circuity=0.9)
