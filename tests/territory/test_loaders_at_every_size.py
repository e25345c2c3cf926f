"""The loaders find, commune by commune, the supply a file was written with, at every extract
size: one commune, a department (Corsica, overseas, the cities with arrondissements among
them), a region, the whole country; with rows naming a commune by an older code or only by a
postcode, alone or shared with other communes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from extracts import (
    draw_extract,
    reference,
    write_annuaire,
    write_finess,
    write_supply_csv,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from maillage.errors import InputError
from maillage.territory.annuaire import MAX_DROPPED_SHARE, SHARED_POSTCODE, load_annuaire
from maillage.territory.codes import CommuneResolver
from maillage.territory.finess import load_finess
from maillage.territory.supply_csv import load_supply_csv

DEPARTMENTS = ["01", "2A", "2B", "13", "55", "67", "69", "75", "971", "972", "973", "974", "976"]
SCOPES = ["commune", "department", "region", "country"]
SLOW = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
weights = st.tuples(*[st.floats(0.05, 1.0)] * 4, *[st.sampled_from([0.0, 0.001, 0.01])] * 2).map(
    np.asarray
)


def assert_same_supply(found: pd.Series, truth: pd.Series) -> None:
    codes = found.index.union(truth.index)
    np.testing.assert_allclose(
        found.reindex(codes, fill_value=0.0).to_numpy(),
        truth.reindex(codes, fill_value=0.0).to_numpy(),
        rtol=1e-12,
        atol=1e-12,
        err_msg="FTE per commune differs from what the file was written with",
    )


@SLOW
@given(
    scope=st.sampled_from(SCOPES),
    department=st.sampled_from(DEPARTMENTS),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    mix=weights,
)
@example(scope="department", department="55", seed=1, n=600, mix=np.asarray([1, 0, 0, 0.1, 0, 0]))
@example(scope="commune", department="2A", seed=2, n=3, mix=np.asarray([1, 1, 1, 1, 0, 0]))
def test_annuaire_supply_is_what_was_written(
    resolver: CommuneResolver, scope: str, department: str, seed: int, n: int, mix: np.ndarray
) -> None:
    ref = reference()
    rng = np.random.default_rng(seed)
    extract = draw_extract(ref, ref.scope(scope, rng, department), rng, n, mix)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_annuaire(Path(tmp) / "extract.txt", extract.rows)
        practitioners = extract.rows.pp.nunique()
        if extract.dropped_practitioners / practitioners > MAX_DROPPED_SHARE:
            with pytest.raises(InputError, match="no usable French address"):
                load_annuaire(path, resolver=resolver)
            return
        supply = load_annuaire(path, resolver=resolver)
    assert_same_supply(supply.table.groupby("code_commune")["fte"].sum(), extract.truth)
    rows = extract.rows
    spread = (rows.code == "") & (rows.kind == "shared postcode")
    assert sum(a["count"] for a in supply.apportioned) == spread.sum()
    assert all(a["reason"] == SHARED_POSTCODE for a in supply.apportioned)
    assert sum(d["count"] for d in supply.dropped) == rows.kind.isin(["foreign", "nowhere"]).sum()


def test_a_national_extract_past_int16_codes(resolver: CommuneResolver, tmp_path: Path) -> None:
    """Over 32,768 distinct commune codes and postcodes together: the sum of pandas' int16
    category codes used to wrap round and place rows in wrong communes."""
    ref = reference()
    rng = np.random.default_rng(15)
    mix = np.asarray([0.55, 0.05, 0.2, 0.2, 0.0, 0.0])
    extract = draw_extract(ref, ref.communes, rng, 60_000, mix)
    rows = extract.rows
    assert rows.code.nunique() + rows.postcode.nunique() > 2**15
    supply = load_annuaire(write_annuaire(tmp_path / "france.txt", rows), resolver=resolver)
    assert_same_supply(supply.table.groupby("code_commune")["fte"].sum(), extract.truth)


def test_the_rule_for_a_shared_postcode(resolver: CommuneResolver, tmp_path: Path) -> None:
    """A row with only 55100's postcode: no commune is named, so its FTE goes to every commune
    the postcode serves, by population, and the summary says so."""
    rows = pd.DataFrame(
        {"pp": [1], "kind": ["shared postcode"], "commune": [""], "code": [""],
         "postcode": ["55100"], "country": [""]}
    )  # fmt: skip
    supply = load_annuaire(write_annuaire(tmp_path / "one.txt", rows), resolver=resolver)
    ref = reference()
    served = ref.postcodes[ref.postcodes.postcode == "55100"].code_commune
    population = ref.communes.set_index("code_commune").population.reindex(served)
    assert_same_supply(
        supply.table.groupby("code_commune")["fte"].sum(), population / population.sum()
    )
    assert supply.apportioned == [
        {
            "reason": SHARED_POSTCODE,
            "count": 1,
            "practitioners": 1,
            "fte": 1.0,
            "examples": ["800000000001: commune '', postcode '55100', country ''"],
        }
    ]
    assert supply.to_summary()["apportioned"] == supply.apportioned


@SLOW
@given(
    scope=st.sampled_from(SCOPES),
    department=st.sampled_from(DEPARTMENTS),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 2000),
)
def test_finess_communes_are_what_was_written(
    scope: str, department: str, seed: int, n: int
) -> None:
    ref = reference()
    rng = np.random.default_rng(seed)
    communes = ref.scope(scope, rng, department).code_commune.to_numpy()
    chosen = communes[rng.integers(0, len(communes), n)]
    categories = rng.choice(["124", "355", "500", "620"], n)
    with tempfile.TemporaryDirectory() as tmp:
        facilities = load_finess(write_finess(Path(tmp) / "finess.csv", chosen, categories))
    truth = pd.Series(1.0, index=pd.MultiIndex.from_arrays([chosen, categories]))
    found = facilities.groupby(["code_commune", "category"]).size().astype(float)
    assert_same_supply(found, truth.groupby(level=[0, 1]).sum())


@SLOW
@given(
    scope=st.sampled_from(SCOPES),
    department=st.sampled_from(DEPARTMENTS),
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
)
def test_supply_csv_is_what_was_written(scope: str, department: str, seed: int, n: int) -> None:
    ref = reference()
    rng = np.random.default_rng(seed)
    communes = ref.scope(scope, rng, department).code_commune.to_numpy()
    chosen = communes[rng.integers(0, len(communes), n)]
    fte = rng.random(n) * 3
    with tempfile.TemporaryDirectory() as tmp:
        path = write_supply_csv(Path(tmp) / "supply.csv", chosen, fte)
        supply = load_supply_csv(path, "generaliste", ref.communes.code_commune)
    truth = pd.Series(fte).groupby(chosen).sum()
    assert_same_supply(supply.table.groupby("code_commune")["fte"].sum(), truth)
