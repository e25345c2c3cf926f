"""Users' comma-separated files, read as strings, with errors that point at the file, the line
and the column to mend (line 1 is the header, as an editor shows it)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

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
            path, f"not UTF-8 text ({error.reason})", line=first_undecodable_line(path)
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(path, "empty file: expected a header line", line=1) from None
    except pd.errors.ParserError as error:
        found = re.search(r"(?:line|row) (\d+)", str(error))
        raise InputError(
            path, f"malformed row: {error}", line=int(found.group(1)) if found else None
        ) from None


def read_csv_strings(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """The file as stripped strings, after checking it is non-empty, comma-separated, has the
    ``required`` columns and at least one data row."""
    if not path.is_file():
        raise InputError(path, "no such file")
    with parsing(path), path.open("r", encoding="utf-8-sig") as handle:
        header = handle.readline().strip()
    if not header:
        raise InputError(path, f"empty file: expected the header {','.join(required)}", line=1)
    names = [name.strip() for name in header.split(",")]
    for other in (";", "\t", "|"):
        if required[0] not in names and required[0] in header.split(other):
            raise InputError(path, f"wrong delimiter {other!r}: expected ','", line=1)
    for column in required:
        if column not in names:
            raise InputError(path, "missing column", line=1, column=column)
    with parsing(path):
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if table.empty:
        raise InputError(path, "no data rows after the header", line=2)
    table.columns = table.columns.str.strip()
    return table.apply(lambda column: column.str.strip())


def fail_at(path: Path, bad: pd.Series, column: str, reason: str, values: pd.Series) -> None:
    """Raise for the first flagged row, naming its line, the column and the value."""
    if bad.any():
        position = int(np.argmax(bad.to_numpy()))
        raise InputError(
            path, f"{reason}: {values.iloc[position]!r}", line=position + 2, column=column
        )
