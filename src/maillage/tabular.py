"""Comma-separated files: users' files read as strings, with errors that point at the file, the
line and the column to mend (line 1 is the header, as an editor shows it), and the one writer
of every CSV the product exports, in a standard or a French-Excel dialect."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from maillage.errors import InputError


def first_undecodable_line(path: Path, encoding: str = "utf-8") -> int | None:
    """The 1-based line holding the first bytes that are not ``encoding`` (error path only)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


@contextmanager
def parsing(path: Path) -> Iterator[None]:
    """The text decoder's and pandas' parser errors as ``InputError`` naming the file and, when
    known, the line: a malformed file must never reach a user as a traceback."""
    try:
        yield
    except UnicodeDecodeError as error:
        raise InputError(
            path, f"texte non UTF-8 ({error.reason})", line=first_undecodable_line(path)
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "fichier vide : ligne d'en-tête attendue", line=1) from None
    except pd.errors.ParserError as error:
        found = re.search(r"(?:line|row) (\d+)", str(error))
        raise InputError(
            path, f"ligne mal formée : {error}", line=int(found.group(1)) if found else None
        ) from None


def read_csv_strings(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """The file as stripped strings, after checking it is non-empty, comma-separated, has the
    ``required`` columns and at least one data row."""
    if not path.is_file():
        raise InputError(path, "fichier introuvable")
    with parsing(path), path.open("r", encoding="utf-8-sig") as handle:
        header = handle.readline().strip()
    if not header:
        raise InputError(path, f"fichier vide : en-tête attendu {','.join(required)}", line=1)
    names = [name.strip() for name in header.split(",")]
    for other in (";", "\t", "|"):
        if required[0] not in names and required[0] in header.split(other):
            raise InputError(path, f"mauvais séparateur {other!r} : ',' attendu", line=1)
    for column in required:
        if column not in names:
            raise InputError(path, "colonne manquante", line=1, column=column)
    with parsing(path):
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if table.empty:
        raise InputError(path, "aucune ligne de données après l'en-tête", line=2)
    table.columns = table.columns.str.strip()
    return table.apply(lambda column: column.str.strip())


def fail_at(path: Path, bad: pd.Series, column: str, reason: str, values: pd.Series) -> None:
    """Raise for the first flagged row, naming its line, the column and the value."""
    if bad.any():
        position = int(np.argmax(bad.to_numpy()))
        raise InputError(
            path, f"{reason} : {values.iloc[position]!r}", line=position + 2, column=column
        )


@dataclass(frozen=True)
class CsvDialect:
    """How the product's CSV exports are spelt: one writer, two dialects.

    ``standard`` is RFC 4180 with a decimal point, for tools; ``excel-fr`` is what French
    Excel opens in columns on a double-click: ``;`` between fields, a decimal comma and a UTF-8
    byte-order mark (without it Excel reads accents as Windows-1252).
    """

    name: str
    delimiter: str
    decimal: str
    bom: bool


STANDARD = CsvDialect("standard", ",", ".", bom=False)
EXCEL_FR = CsvDialect("excel-fr", ";", ",", bom=True)
CSV_DIALECTS = {dialect.name: dialect for dialect in (STANDARD, EXCEL_FR)}
#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def csv_dialect(name: str) -> CsvDialect:
    """The dialect called ``name`` (an option's value), or a French error listing the choices."""
    if name not in CSV_DIALECTS:
        raise ValueError(f"--csv-dialect doit valoir {' ou '.join(CSV_DIALECTS)}, pas {name!r}")
    return CSV_DIALECTS[name]


def csv_text(table: pd.DataFrame, dialect: CsvDialect = STANDARD, digits: int | None = None) -> str:
    """``table`` as CSV text (no byte-order mark): floats with every digit (or rounded to
    ``digits`` decimals when given) and the dialect's decimal separator, text cells that a
    spreadsheet would run as a formula prefixed with ``'``; numbers are never altered."""
    cells = pd.DataFrame(
        {name: _cells(column, dialect, digits) for name, column in table.items()},
        index=table.index,
    )
    # CRLF ends rows (RFC 4180), so that a cell holding a lone carriage return is quoted too
    return cells.to_csv(index=False, sep=dialect.delimiter, lineterminator="\r\n")


def csv_bytes(
    table: pd.DataFrame, dialect: CsvDialect = STANDARD, digits: int | None = None
) -> bytes:
    """The file's bytes, byte-order mark included where the dialect wants one (downloads)."""
    return ("\ufeff" if dialect.bom else "").encode() + csv_text(table, dialect, digits).encode(
        "utf-8"
    )


def write_csv(
    table: pd.DataFrame, path: Path, dialect: CsvDialect = STANDARD, digits: int | None = None
) -> None:
    """Write ``table`` to ``path`` in ``dialect`` (see :func:`csv_text`)."""
    path.write_bytes(csv_bytes(table, dialect, digits))


def _cells(column: pd.Series, dialect: CsvDialect, digits: int | None) -> pd.Series:
    """One column's cells as strings ("" where missing), vectorised per type."""
    if pd.api.types.is_bool_dtype(column):
        return column.map({True: "true", False: "false"}).fillna("").astype(str)
    if pd.api.types.is_float_dtype(column):
        return _floats(column.to_numpy(dtype=float), dialect, digits, column.index)
    if pd.api.types.is_integer_dtype(column):
        return column.astype(str).where(column.notna(), "")
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        text = column.fillna("").astype(str)
        return text.where(~text.str.match(FORMULA_START), "'" + text)
    return column.map(lambda value: _cell(value, dialect, digits))


def _floats(
    values: np.ndarray, dialect: CsvDialect, digits: int | None, index: pd.Index
) -> pd.Series:
    """Shortest decimal spelling that reads back exactly (Arrow's, as the Parquet reader's) of
    each float, rounded first to ``digits`` decimals only when asked: by default every digit
    is kept (an FTE-per-inhabitant access around 0.0009 needs them)."""
    shown_values = values if digits is None else np.round(values, digits)
    text = pc.cast(pa.array(shown_values, from_pandas=True), pa.string())
    shown = pd.Series(text.to_numpy(zero_copy_only=False), index=index).fillna("")
    return shown.str.replace(".", dialect.decimal, regex=False) if dialect.decimal != "." else shown


def _cell(value: object, dialect: CsvDialect, digits: int | None) -> str:
    """A cell of a mixed column (e.g. a table of indicators of several kinds)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return str(_floats(np.array([value], dtype=float), dialect, digits, pd.RangeIndex(1))[0])
    if isinstance(value, str) and FORMULA_START.match(value):
        return "'" + value
    return str(value)
