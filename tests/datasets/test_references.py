"""``dataset:ID`` turned into each option's own syntax for the stored file."""

from __future__ import annotations

from pathlib import Path

import pytest

from maillage.datasets.catalogue import Catalogue, DatasetError
from maillage.datasets.references import resolve_references

DATA = Path(__file__).parents[1] / "territory" / "data"


def test_each_option_gets_its_syntax(tmp_path: Path) -> None:
    catalogue = Catalogue(tmp_path / "datasets")
    finess, _ = catalogue.add(DATA / "etalab-cs1100507-stock-sample.csv", "finess")
    supply, _ = catalogue.add(DATA / "supply.csv", "supply-csv")
    options = {
        "supply": Path(f"dataset:{supply.id}"),
        "supply_format": "annuaire",
        "candidates": f"dataset:{finess.id}",
        "travel": "crow-fly",
        "ages": None,
    }
    resolved, used = resolve_references(options, catalogue)
    assert resolved["supply"] == catalogue.path_of(supply)
    assert resolved["supply_format"] == "csv"
    assert resolved["candidates"] == f"finess:{catalogue.path_of(finess)}"
    assert (resolved["travel"], resolved["ages"]) == ("crow-fly", None)
    assert [d.id for d in used] == [supply.id, finess.id]
    assert finess.rows == {"facilities": 6, "geolocated": 5}
    with pytest.raises(DatasetError, match="finess"):
        resolve_references({"existing": f"dataset:{finess.id}"}, catalogue)
