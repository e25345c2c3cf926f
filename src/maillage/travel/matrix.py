"""Travel times read from a file another tool computed (OSRM ``table``, r5py, INSEE Metric).

Accepted layouts, recognised by their columns or keys:

* CSV or Parquet ``origin,destination,minutes`` — INSEE codes, origin = where people live;
* CSV or Parquet ``from_id,to_id,travel_time`` — r5py's ``TravelTimeMatrix`` (minutes);
* JSON: an OSRM ``table`` answer (``durations``, seconds, ``null`` = unreachable). OSRM's answer
  does not carry your ids, so add them beside it, in the order of the coordinates you sent:
  ``{"durations": [[...], ...], "origin_ids": ["55001", ...], "destination_ids": [...]}``.

A pair absent from the file (or empty / null) is unreachable, except a commune to itself: when
the file lacks it, it takes the crow-fly intra-commune time. Places are matched on their
``code_commune``, so sites as destinations take their commune's row. Ids are read as text:
write INSEE codes with their leading zero ("01001"), also in Parquet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa

from maillage.errors import InputError
from maillage.tabular import parsing
from maillage.travel.crowfly import CrowFly, intra_area
from maillage.travel.model import Places, TravelPairs

#: Column names of each tabular layout, mapped to (origin, destination, minutes).
LAYOUTS = (
    ("origin", "destination", "minutes"),
    ("from_id", "to_id", "travel_time"),
)
COLUMNS = ["origin", "destination", "minutes"]


@dataclass(frozen=True)
class MatrixFile:
    """A travel-time file, read once, answering ``pairs`` for any places it names."""

    path: Path
    crow_fly: CrowFly = field(default_factory=CrowFly)

    @cached_property
    def table(self) -> pd.DataFrame:
        """The file as ``origin, destination`` (str) and ``minutes`` (float), reachable only."""
        return read_matrix(Path(self.path))

    def pairs(self, origins: Places, destinations: Places, cutoff_minutes: float) -> TravelPairs:
        """The file's pairs within ``cutoff_minutes``, plus the intra-commune ones it lacks."""
        listed = self.table[self.table.minutes <= cutoff_minutes]
        o = pd.DataFrame({"origin": origins.code_commune, "o": np.arange(len(origins))})
        d = pd.DataFrame(
            {"destination": destinations.code_commune, "d": np.arange(len(destinations))}
        )
        found = listed.merge(o, on="origin").merge(d, on="destination")
        own = o.merge(d, left_on="origin", right_on="destination")
        given = self.table.origin[self.table.origin == self.table.destination]
        own = own[~own.origin.isin(given)]
        own_minutes = self.crow_fly.intra_minutes(
            intra_area(origins, destinations, own.o.to_numpy(), own.d.to_numpy())
        )
        own = own.assign(minutes=own_minutes)[own_minutes <= cutoff_minutes]
        both = pd.concat([found[["o", "d", "minutes"]], own[["o", "d", "minutes"]]])
        return TravelPairs(
            len(origins),
            len(destinations),
            both.o.to_numpy(np.int32),
            both.d.to_numpy(np.int32),
            both.minutes.to_numpy(float),
        )


def read_matrix(path: Path) -> pd.DataFrame:
    """Any accepted layout as ``origin, destination, minutes``, unreachable pairs dropped."""
    if not path.is_file():
        raise InputError(path, "no such travel-time file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_osrm_json(path)
    if suffix in (".parquet", ".pq"):
        try:
            raw = pd.read_parquet(path)
        except (pa.ArrowException, OSError) as error:
            raise InputError(path, f"not a readable Parquet file ({error})") from None
        raw = raw.astype({c: str for c in raw.columns if c not in ("minutes", "travel_time")})
        return _validate(path, raw, first_line=None)
    with parsing(path):
        raw = pd.read_csv(
            path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8"
        )
    return _validate(path, raw, first_line=2)


def _validate(path: Path, raw: pd.DataFrame, first_line: int | None) -> pd.DataFrame:
    """Rename the recognised layout, check every cell, keep the reachable pairs."""
    layout = next((cols for cols in LAYOUTS if set(cols) <= set(raw.columns)), None)
    if layout is None:
        raise InputError(
            path,
            "expected columns origin,destination,minutes (or r5py's from_id,to_id,travel_time) "
            f"separated by commas; found {list(raw.columns)}",
            line=1 if first_line else None,
        )
    table = raw[list(layout)].set_axis(COLUMNS, axis=1)
    if table.empty:
        raise InputError(path, "no travel time in the file")

    def fail(row: int, column: str, reason: str) -> NoReturn:
        where = f"row {row + 1}: " if first_line is None else ""
        line = None if first_line is None else row + first_line
        raise InputError(path, where + reason, line=line, column=layout[COLUMNS.index(column)])

    for column in ("origin", "destination"):
        ids = table[column].str.strip()
        empty = (ids == "") | table[column].isna() | (ids == "None") | (ids == "nan")
        if empty.any():
            fail(int(np.argmax(empty.to_numpy())), column, "empty id")
        table[column] = ids
    text = table.minutes.astype(str).str.strip()
    minutes = pd.to_numeric(table.minutes, errors="coerce").to_numpy(dtype=float)
    blank = text.isin(["", "nan", "NaN", "None", "<NA>"]).to_numpy()
    bad = (np.isnan(minutes) & ~blank) | (minutes < 0) | np.isinf(minutes)
    if bad.any():
        row = int(np.argmax(bad))
        fail(
            row, "minutes", f"travel time must be a number of minutes >= 0, not {text.iloc[row]!r}"
        )
    duplicated = table.duplicated(["origin", "destination"]).to_numpy()
    if duplicated.any():
        fail(int(np.argmax(duplicated)), "destination", "this pair is listed twice")
    table["minutes"] = minutes
    return table[~np.isnan(minutes)].reset_index(drop=True)


def _read_osrm_json(path: Path) -> pd.DataFrame:
    """An OSRM ``table`` answer with ``origin_ids``/``destination_ids`` added beside it."""
    try:
        answer = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise InputError(path, f"not a JSON document: {error}", line=line) from None
    if not isinstance(answer, dict):
        raise InputError(path, "expected a JSON object holding an OSRM table answer")
    for key in ("durations", "origin_ids", "destination_ids"):
        if not isinstance(answer.get(key), list):
            raise InputError(
                path,
                f"missing list {key!r}: an OSRM table answer needs its 'durations' and the ids "
                "of its sources and destinations as 'origin_ids' and 'destination_ids'",
                column=key,
            )
    origin_ids = [str(i) for i in answer["origin_ids"]]
    destination_ids = [str(i) for i in answer["destination_ids"]]
    try:
        seconds = np.array(answer["durations"], dtype=float)  # null -> nan
    except (TypeError, ValueError):
        raise InputError(
            path, "durations must be rows of numbers or null", column="durations"
        ) from None
    if seconds.shape != (len(origin_ids), len(destination_ids)):
        raise InputError(
            path,
            f"durations is {seconds.shape[0] if seconds.ndim else 0} rows, expected "
            f"{len(origin_ids)} rows of {len(destination_ids)} (one per origin and destination id)",
            column="durations",
        )
    if (seconds < 0).any():
        raise InputError(path, "durations must be >= 0 seconds", column="durations")
    o, d = np.nonzero(np.isfinite(seconds))
    table = pd.DataFrame(
        {
            "origin": np.asarray(origin_ids, dtype=object)[o],
            "destination": np.asarray(destination_ids, dtype=object)[d],
            "minutes": seconds[o, d] / 60.0,
        }
    )
    if table.duplicated(["origin", "destination"]).any():
        raise InputError(path, "an id appears twice in origin_ids or destination_ids")
    return table
