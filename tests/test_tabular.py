"""The one CSV writer: what a reader (Python's csv module, French Excel) gets back."""

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.tabular import CSV_DIALECTS, EXCEL_FR, STANDARD, csv_bytes, csv_dialect

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
floats = st.floats(min_value=-1e9, max_value=1e9) | st.just(math.nan)


def read_back(data: bytes, dialect) -> list[list[str]]:
    """Rows as Python's csv module reads the file, the BOM stripped as Excel does."""
    decoded = data.decode("utf-8-sig" if dialect.bom else "utf-8")
    return list(csv.reader(io.StringIO(decoded, newline=""), delimiter=dialect.delimiter))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(text, floats, st.integers(-(10**9), 10**9), st.booleans()), max_size=6),
    st.sampled_from(list(CSV_DIALECTS.values())),
)
def test_cells_come_back_as_written(rows, dialect):
    table = pd.DataFrame(rows, columns=["nom", "valeur", "nombre", "drapeau"]).astype(
        {"nom": object, "valeur": float, "nombre": "int64", "drapeau": bool}
    )
    data = csv_bytes(table, dialect)
    assert data.startswith(b"\xef\xbb\xbf") == dialect.bom
    header, *cells = read_back(data, dialect)
    assert header == ["nom", "valeur", "nombre", "drapeau"]
    assert len(cells) == len(rows)
    for (name, value, number, flag), (name_cell, value_cell, number_cell, flag_cell) in zip(
        rows, cells, strict=True
    ):
        neutralised = name[:1] in ("=", "+", "-", "@", "\t", "\r")
        assert name_cell == ("'" + name if neutralised else name)
        if math.isnan(value):
            assert value_cell == ""
        else:
            assert "." not in value_cell if dialect is EXCEL_FR else "," not in value_cell
            written = float(value_cell.replace(",", "."))
            assert written == pytest.approx(value, abs=2e-6)  # rounded to 6 decimals
        assert int(number_cell) == number  # a negative number is never prefixed
        assert flag_cell == ("true" if flag else "false")


def test_french_excel_settings_read_numbers_and_formulas_as_excel_would():
    table = pd.DataFrame(
        {"code": ["55029", '=HYPERLINK("x")', "@SUM(A1)"], "access": [1.25, -0.5, np.nan]}
    )
    data = csv_bytes(table, EXCEL_FR)
    read = pd.read_csv(
        io.BytesIO(data), sep=";", decimal=",", encoding="utf-8-sig", dtype={"code": str}
    )
    assert read.code.tolist() == ["55029", '\'=HYPERLINK("x")', "'@SUM(A1)"]
    assert read.access.tolist()[:2] == [1.25, -0.5] and math.isnan(read.access[2])
    assert data.decode("utf-8-sig").splitlines()[1] == "55029;1,25"


def test_mixed_column_keeps_numbers_and_neutralises_text():
    table = pd.DataFrame({"valeur": [3, 2.5, "-x", None, "ok"]}, dtype=object)
    rows = read_back(csv_bytes(table, EXCEL_FR), EXCEL_FR)
    assert [r[0] for r in rows[1:]] == ["3", "2,5", "'-x", "", "ok"]


def test_unknown_dialect_is_refused_in_french():
    assert csv_dialect("excel-fr") is EXCEL_FR and csv_dialect("standard") is STANDARD
    with pytest.raises(ValueError, match="standard ou excel-fr"):
        csv_dialect("excel")
