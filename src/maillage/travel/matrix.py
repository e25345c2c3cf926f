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

A national matrix has millions of pairs but some 35,000 distinct ids, so ids are dictionary-
encoded (pyarrow; Parquet's text columns are read as dictionaries) and matched to places once
per distinct id (numpy searchsorted); each pair is then two integers and a float, and no Python
runs per pair.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NoReturn, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scipy import sparse

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
_TEXT_IDS = pa.dictionary(pa.int32(), pa.string())


@dataclass(frozen=True)
class EncodedMatrix:
    """A matrix file's reachable pairs as positions in its distinct ids."""

    ids: np.ndarray  # str, distinct, stripped
    origin: np.ndarray  # int32 positions in ids
    destination: np.ndarray  # int32 positions in ids
    minutes: np.ndarray  # float64
    unreachable: int = 0  # pairs listed without a time (blank, null)

    def __len__(self) -> int:
        return len(self.minutes)


@dataclass(frozen=True)
class MatrixFile:
    """A travel-time file, read once, answering ``pairs`` for any places it names."""

    path: Path
    crow_fly: CrowFly = field(default_factory=CrowFly)

    @cached_property
    def encoded(self) -> EncodedMatrix:
        """The file's reachable pairs, validated."""
        return read_matrix(Path(self.path))

    def pairs(self, origins: Places, destinations: Places, cutoff_minutes: float) -> TravelPairs:
        """The file's pairs within ``cutoff_minutes``, plus the intra-commune ones it lacks."""
        matrix = self.encoded
        pair, o, d = _pairs_of(
            matrix.minutes <= cutoff_minutes, matrix.origin, matrix.destination, matrix.ids,
            origins, destinations,
        )  # fmt: skip
        # a commune to itself, when the file does not give it: the crow-fly intra term
        codes = np.unique(np.concatenate([origins.code_commune, destinations.code_commune]))
        given = matrix.ids[matrix.origin[matrix.origin == matrix.destination]]
        lacking = ~np.isin(codes, given)
        every = np.arange(len(codes))
        _, own_o, own_d = _pairs_of(lacking, every, every, codes, origins, destinations)
        own_minutes = self.crow_fly.intra_minutes(intra_area(origins, destinations, own_o, own_d))
        near = own_minutes <= cutoff_minutes
        return TravelPairs(
            len(origins),
            len(destinations),
            np.concatenate([o, own_o[near]]).astype(np.int32),
            np.concatenate([d, own_d[near]]).astype(np.int32),
            np.concatenate([matrix.minutes[pair], own_minutes[near]]),
        )


def _pairs_of(
    wanted: np.ndarray,
    origin: np.ndarray,
    destination: np.ndarray,
    ids: np.ndarray,
    origins: Places,
    destinations: Places,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``wanted`` pairs of positions in ``ids`` as pairs of places: ``(pair, origin place,
    destination place)``, a pair repeated for each place its ids stand for, left out when
    none. Communes have one place each: then two lookups and one mask do it all."""
    from_places = _places_of(ids, origins.code_commune)
    same = destinations.code_commune is origins.code_commune  # communes to communes
    to_places = from_places if same else _places_of(ids, destinations.code_commune)
    single_o, single_d = _single(from_places), _single(to_places)
    if single_o is not None and single_d is not None:
        o, d = single_o[origin], single_d[destination]
        pair = np.flatnonzero(wanted & (o >= 0) & (d >= 0))
        return pair, o[pair], d[pair]
    pair = np.flatnonzero(wanted)
    kept, o = _expand(np.arange(len(pair)), origin[pair], from_places)
    step, d = _expand(np.arange(len(kept)), destination[pair[kept]], to_places)
    return pair[kept[step]], o[step], d


def _single(places: tuple[np.ndarray, np.ndarray]) -> np.ndarray | None:
    """Each id's one place (-1: none), or None when an id has several."""
    starts, order = places
    counts = np.diff(starts)
    if counts.max(initial=0) > 1:
        return None
    place = np.full(len(counts), -1)
    place[counts == 1] = order
    return place


def _places_of(ids: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each id, the places lying in the commune it names, as CSR ``(starts, order)``: id
    ``k``'s places are ``order[starts[k]:starts[k + 1]]`` (several sites share a commune)."""
    sorter = np.argsort(ids)
    found = sorter[np.minimum(np.searchsorted(ids, codes, sorter=sorter), len(ids) - 1)]
    position = np.where(ids[found] == codes, found, -1)
    order = np.argsort(position, kind="stable")
    order = order[position[order] >= 0]
    counts = np.bincount(position[order], minlength=len(ids))
    return np.concatenate([[0], np.cumsum(counts)]), order


def _expand(
    pair: np.ndarray, key: np.ndarray, places: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Each pair repeated once per place of its ``key`` id: (pair, place) positions."""
    starts, order = places
    count = np.diff(starts)[key]
    first = np.repeat(starts[key], count)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(count) - count, count)
    return np.repeat(pair, count), order[first + offset]


def read_matrix(path: Path) -> EncodedMatrix:
    """Any accepted layout, validated, as reachable pairs of ids."""
    if not path.is_file():
        raise InputError(path, "fichier de temps de trajet introuvable")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _encode(path, _read_osrm_json(path), tuple(COLUMNS), first_line=None)
    if suffix in (".parquet", ".pq"):
        return _encode(path, *_read_parquet(path), first_line=None)
    return _read_csv(path)


def _read_parquet(path: Path) -> tuple[pa.Table, tuple[str, str, str]]:
    """The layout's columns (text ids as dictionaries, minutes as float64) and the layout."""
    try:
        schema = pq.read_schema(path)
        layout = _layout(path, schema.names, first_line=None)
        text = [n for n in layout[:2] if pa.types.is_string(schema.field(n).type)]
        table = pq.read_table(path, columns=list(layout), read_dictionary=text)
        minutes = table[layout[2]].cast(pa.float64())
        return pa.table([table[layout[0]], table[layout[1]], minutes], names=COLUMNS), layout
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, f"pas une matrice Parquet lisible ({error})") from None


def _read_csv(path: Path) -> EncodedMatrix:
    """pyarrow reads a well-formed file fast; any fault sends it to pandas, which names the
    line and column at fault (the error path only)."""
    with parsing(path), path.open("r", encoding="utf-8") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header:
        raise InputError(path, "fichier vide : ligne d'en-tête attendue")
    names = next(csv.reader([header]))
    layout = _layout(path, [name.strip() for name in names], first_line=2)
    try:
        table = pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(layout),
                # ids hashed into a dictionary while parsing: no text column materialised
                column_types=dict(zip(layout, [_TEXT_IDS, _TEXT_IDS, pa.float64()], strict=True)),
                strings_can_be_null=False,
            ),
        )
        return _encode(path, table.rename_columns(COLUMNS), layout, first_line=None, strict=True)
    except (pa.ArrowInvalid, _Fault):
        with parsing(path):
            raw = pd.read_csv(
                path, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding="utf-8"
            )
        return _encode(path, _validate(path, raw, first_line=2), layout, first_line=2)


class _Fault(Exception):
    """A fault the fast CSV path saw; pandas' slower path locates it for the user."""


def _layout(path: Path, names: list[str], first_line: int | None) -> tuple[str, str, str]:
    """The layout whose columns the file has."""
    layout = next((cols for cols in LAYOUTS if set(cols) <= set(names)), None)
    if layout is None:
        raise InputError(
            path,
            "colonnes attendues origin,destination,minutes (ou from_id,to_id,travel_time de r5py) "
            f"séparées par des virgules ; trouvé {names}",
            line=1 if first_line else None,
        )
    return layout


def _encode(
    path: Path,
    table: pa.Table | pd.DataFrame,
    layout: tuple[str, ...],
    first_line: int | None,
    strict: bool = False,
) -> EncodedMatrix:
    """Ids as positions in the distinct stripped ids; every cell checked, a fault named by
    the file's column (``layout``). ``strict``: raise ``_Fault`` instead (the caller then
    re-reads the file the slow way, which names the line)."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table[COLUMNS], preserve_index=False)
    if table.num_rows == 0:
        raise InputError(path, "aucun temps de trajet dans le fichier")

    def fail(row: int, column: str, reason: str) -> NoReturn:
        if strict:
            raise _Fault
        where = f"ligne {row + 1} : " if first_line is None else ""
        line = None if first_line is None else row + first_line
        raise InputError(path, where + reason, line=line, column=layout[COLUMNS.index(column)])

    table = table.unify_dictionaries()
    (origin_codes, origin_ids), (destination_codes, destination_ids) = (
        _dictionary(table[column]) for column in ("origin", "destination")
    )
    # one vocabulary for both columns, ids stripped: "55001 " is 55001
    both = cast(
        pa.DictionaryArray,
        pc.dictionary_encode(
            pc.utf8_trim_whitespace(pa.concat_arrays([origin_ids, destination_ids]))
        ),
    )
    position = both.indices.to_numpy()
    ids = both.dictionary.to_numpy(zero_copy_only=False).astype(str)
    origin = position[: len(origin_ids)][origin_codes]
    destination = position[len(origin_ids) :][destination_codes]
    for empty in np.flatnonzero(ids == ""):  # at most one
        for column, values in (("origin", origin), ("destination", destination)):
            blank = values == empty
            if blank.any():
                fail(int(np.argmax(blank)), column, "identifiant vide")
    minutes = table["minutes"].to_numpy().astype(float, copy=False)
    bad = (minutes < 0) | np.isinf(minutes)
    if bad.any():
        row = int(np.argmax(bad))
        fail(
            row,
            "minutes",
            f"le temps de trajet doit être un nombre de minutes >= 0, pas {minutes[row]}",
        )
    if _has_duplicates(origin, destination, len(ids)):
        key = origin.astype(np.int64) * len(ids) + destination
        duplicated = pd.Series(key).duplicated().to_numpy()
        fail(int(np.argmax(duplicated)), "destination", "cette paire figure deux fois")
    reachable = ~np.isnan(minutes)
    if reachable.all():
        return EncodedMatrix(ids, origin, destination, minutes)
    return EncodedMatrix(
        ids,
        origin[reachable],
        destination[reachable],
        minutes[reachable],
        unreachable=int(np.count_nonzero(~reachable)),
    )


def _has_duplicates(origin: np.ndarray, destination: np.ndarray, n: int) -> bool:
    """Whether a pair is listed twice: a sparse matrix sums duplicates by counting sort, no
    hashing nor sorting of the millions of pairs."""
    counts = sparse.csr_matrix((np.ones(len(origin), np.int8), (origin, destination)), shape=(n, n))
    counts.sum_duplicates()
    return bool(counts.nnz < len(origin))


def _dictionary(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Each row's position (int32) among the column's distinct values, and those values as
    text; a null id becomes the empty one. A dictionary column (Parquet's text columns) is
    used as it is; a text column is hashed once, never matched to places pair by pair."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column.cast(pa.string()))
    if column.num_chunks == 0:
        return np.empty(0, np.int32), pa.array([""])
    chunks = [cast(pa.DictionaryArray, chunk) for chunk in column.chunks]
    values = pa.concat_arrays([chunks[0].dictionary.cast(pa.string()), pa.array([""])])
    null = len(values) - 1
    codes = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in chunks]
    codes = [np.where(np.isnan(c), null, c) if c.dtype.kind == "f" else c for c in codes]
    return np.concatenate(codes).astype(np.int32, copy=False), values


def _validate(path: Path, raw: pd.DataFrame, first_line: int | None) -> pd.DataFrame:
    """Rename the recognised layout, check every cell, keep the reachable pairs."""
    layout = next((cols for cols in LAYOUTS if set(cols) <= set(raw.columns)), None)
    if layout is None:
        raise InputError(
            path,
            "colonnes attendues origin,destination,minutes (ou from_id,to_id,travel_time de r5py) "
            f"séparées par des virgules ; trouvé {list(raw.columns)}",
            line=1 if first_line else None,
        )
    table = raw[list(layout)].set_axis(COLUMNS, axis=1)
    if table.empty:
        raise InputError(path, "aucun temps de trajet dans le fichier")

    def fail(row: int, column: str, reason: str) -> NoReturn:
        where = f"ligne {row + 1} : " if first_line is None else ""
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
            row,
            "minutes",
            f"le temps de trajet doit être un nombre de minutes >= 0, pas {text.iloc[row]!r}",
        )
    duplicated = table.duplicated(["origin", "destination"]).to_numpy()
    if duplicated.any():
        fail(int(np.argmax(duplicated)), "destination", "cette paire figure deux fois")
    table["minutes"] = minutes
    return table[~np.isnan(minutes)].reset_index(drop=True)


def _read_osrm_json(path: Path) -> pd.DataFrame:
    """An OSRM ``table`` answer with ``origin_ids``/``destination_ids`` added beside it."""
    try:
        answer = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        raise InputError(path, f"pas un document JSON : {error}", line=line) from None
    if not isinstance(answer, dict):
        raise InputError(path, "objet JSON attendu, contenant une réponse OSRM table")
    for key in ("durations", "origin_ids", "destination_ids"):
        if not isinstance(answer.get(key), list):
            raise InputError(
                path,
                f"liste manquante {key!r} : une réponse OSRM table doit avoir ses 'durations' "
                "et les identifiants de ses sources et destinations en 'origin_ids' et "
                "'destination_ids'",
                column=key,
            )
    origin_ids = [str(i) for i in answer["origin_ids"]]
    destination_ids = [str(i) for i in answer["destination_ids"]]
    try:
        seconds = np.array(answer["durations"], dtype=float)  # null -> nan
    except (TypeError, ValueError):
        raise InputError(
            path, "durations doit être des lignes de nombres ou de null", column="durations"
        ) from None
    if seconds.shape != (len(origin_ids), len(destination_ids)):
        raise InputError(
            path,
            f"durations a {seconds.shape[0] if seconds.ndim else 0} lignes, attendu "
            f"{len(origin_ids)} lignes de {len(destination_ids)} (une par identifiant d'origine "
            "et de destination)",
            column="durations",
        )
    if (seconds < 0).any():
        raise InputError(path, "durations doit être >= 0 secondes", column="durations")
    o, d = np.nonzero(np.isfinite(seconds))
    table = pd.DataFrame(
        {
            "origin": np.asarray(origin_ids, dtype=object)[o],
            "destination": np.asarray(destination_ids, dtype=object)[d],
            "minutes": seconds[o, d] / 60.0,
        }
    )
    if table.duplicated(["origin", "destination"]).any():
        raise InputError(path, "un identifiant figure deux fois dans origin_ids ou destination_ids")
    return table
