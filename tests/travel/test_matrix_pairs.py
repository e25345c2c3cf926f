"""The matrix file's pairs, found through its distinct ids, equal a plain join of the file's
rows with the places (the reference: one merge on the codes as text), for CSV and Parquet,
sites sharing a commune, ids written with spaces, blank times and missing own pairs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from places_factory import make_places

from maillage.travel.crowfly import CrowFly
from maillage.travel.matrix import MatrixFile

CODES = [f"{55000 + i}" for i in range(12)]


def reference(rows: pd.DataFrame, origins, destinations, cutoff: float) -> set:
    """The pairs as the documentation states them, by a string merge, plus own pairs."""
    listed = rows.assign(
        origin=rows.origin.str.strip(),
        destination=rows.destination.str.strip(),
        minutes=pd.to_numeric(rows.minutes.replace("", np.nan)),
    ).dropna(subset=["minutes"])
    o = pd.DataFrame({"origin": origins.code_commune, "o": range(len(origins))})
    d = pd.DataFrame({"destination": destinations.code_commune, "d": range(len(destinations))})
    found = listed[listed.minutes <= cutoff].merge(o).merge(d)
    got = {(r.o, r.d, round(r.minutes, 9)) for r in found.itertuples()}
    given = set(listed.origin[listed.origin == listed.destination])
    intra = CrowFly().intra_minutes(10.0)
    for i, code in enumerate(origins.code_commune):
        for j, other in enumerate(destinations.code_commune):
            if code == other and code not in given and intra <= cutoff:
                got.add((i, j, round(intra, 9)))
    return got


@settings(max_examples=60, deadline=None)
@given(
    pairs=st.sets(st.tuples(st.sampled_from(CODES), st.sampled_from(CODES)), max_size=60),
    data=st.data(),
    cutoff=st.sampled_from([5.0, 20.0, 60.0]),
    sites=st.lists(st.sampled_from(CODES), min_size=1, max_size=6),
    parquet=st.booleans(),
)
def test_pairs_equal_a_plain_join(pairs, data, cutoff, sites, parquet) -> None:
    pairs = sorted(pairs)
    minutes = data.draw(
        st.lists(
            st.one_of(st.just(""), st.floats(0, 90).map(lambda m: repr(round(m, 3)))),
            min_size=len(pairs),
            max_size=len(pairs),
        )
    )
    space = data.draw(st.sampled_from(["", " "]))
    rows = pd.DataFrame(
        {
            "origin": [space + o for o, _ in pairs],
            "destination": [d + space for _, d in pairs],
            "minutes": minutes,
        }
    )
    communes = make_places(np.arange(8) * 3000.0, [0.0] * 8, codes=CODES[:8])
    places = make_places(
        [0.0] * len(sites), [0.0] * len(sites), codes=sites,
        ids=[f"s{i}" for i in range(len(sites))], area_km2=[np.nan] * len(sites),
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        if parquet:
            path = Path(tmp) / "m.parquet"
            table = rows.assign(minutes=pd.to_numeric(rows.minutes.replace("", np.nan)))
            table.to_parquet(path)
        else:
            path = Path(tmp) / "m.csv"
            rows.to_csv(path, index=False)
        if rows.empty:
            return
        got = MatrixFile(path).pairs(communes, places, cutoff)
    triples = {
        (int(o), int(d), round(float(m), 9))
        for o, d, m in zip(got.origin, got.destination, got.minutes, strict=True)
    }
    assert len(triples) == len(got)
    assert triples == reference(rows, communes, places, cutoff)
