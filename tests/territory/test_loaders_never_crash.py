"""Whatever a file holds, a loader either reads it or raises ``InputError`` naming the file
(the CLI's exit 2 with file, line and column): never another exception, which would reach
the user as a traceback."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from extracts import FIELDS
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.errors import InputError
from maillage.territory.ages import load_population_by_age
from maillage.territory.annuaire import load_annuaire
from maillage.territory.codes import CommuneResolver
from maillage.territory.finess import load_finess
from maillage.territory.supply_csv import load_supply_csv
from maillage.travel.matrix import read_matrix

HEADERS = {
    "annuaire": "|".join(FIELDS),
    "finess": "finess;etalab;39;2024-07-02",
    "supply": "code_commune,fte,profession,age,activity",
    "ages": "CODGEO;P21_POP0014;P21_POP1529;P21_POP3044;P21_POP4559;P21_POP6074;P21_POP7589;"
    "P21_POP90P",
    "matrix": "origin,destination,minutes",
}
CELLS = st.sampled_from(
    ["", "01001", "2A004", "75056", "1", "-3", "1e400", "nan", "x", "é", '"', "|", ";", ",",
     "\t", "\x00", "10", "SM54", "L", "structureet", "geolocalisation", "9A", "1,5", "  "]
)  # fmt: skip
LINES = st.lists(CELLS, max_size=60).map("".join)


def files(kind: str) -> st.SearchStrategy[bytes]:
    """Near-valid text (the right header, rows of plausible and hostile cells) or any bytes."""
    text = st.lists(LINES, max_size=8).map(lambda rows: "\n".join([HEADERS[kind], *rows]))
    return st.one_of(
        text.map(lambda t: t.encode("utf-8")),
        text.map(lambda t: t.encode("latin-1", "replace")),
        st.binary(max_size=300),
    )


def never_crashes(load: Callable[[Path], object], content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        try:
            load(path)
        except InputError as error:
            assert error.path == str(path)


@settings(max_examples=150, deadline=None)
@given(content=files("annuaire"))
def test_annuaire(content: bytes) -> None:
    never_crashes(lambda p: load_annuaire(p, resolver=_resolver()), content, "extract.txt")


@settings(max_examples=150, deadline=None)
@given(content=files("finess"))
def test_finess(content: bytes) -> None:
    never_crashes(load_finess, content, "finess.csv")


@settings(max_examples=150, deadline=None)
@given(content=files("supply"))
def test_supply_csv(content: bytes) -> None:
    never_crashes(lambda p: load_supply_csv(p, "generaliste", ["01001", "2A004"]), content, "s.csv")


@settings(max_examples=150, deadline=None)
@given(content=files("ages"))
def test_ages(content: bytes) -> None:
    never_crashes(load_population_by_age, content, "ages.csv")


@settings(max_examples=150, deadline=None)
@given(content=files("matrix"), suffix=st.sampled_from([".csv", ".parquet", ".json"]))
def test_matrix(content: bytes, suffix: str) -> None:
    never_crashes(read_matrix, content, "matrix" + suffix)


_RESOLVER: list[CommuneResolver] = []


def _resolver() -> CommuneResolver:
    if not _RESOLVER:
        _RESOLVER.append(CommuneResolver())
    return _RESOLVER[0]
