"""Loader for the Annuaire Santé open extract ``PS_LibreAcces_Personne_activite``.

One row per activity of a practitioner; a practitioner (``Identification nationale PP``) counts
once, as one FTE split evenly across the distinct current communes where they practise.
Salaried activity counts only in a *centre de santé*: ``Code secteur d'activité`` SA05 in the
ANS nomenclature TRE_R02-SecteurActivite (https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite),
also recognised by its label in case a release renumbers it. Hospital salaried doctors are
left out because they do not offer the ambulatory primary care that access indicators measure.
The national file (~2 M rows) is read with pyarrow, only the needed columns, in a few seconds
and bounded memory.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from maillage.errors import InputError
from maillage.tabular import first_undecodable_line
from maillage.territory.codes import CommuneResolver
from maillage.territory.professions import get_profession
from maillage.territory.supply import SupplyInput

PP = "Identification nationale PP"
PROFESSION = "Code profession"
SAVOIR_FAIRE = "Code savoir-faire"
MODE = "Code mode exercice"
POSTCODE = "Code postal (coord. structure)"
COMMUNE = "Code commune (coord. structure)"
COUNTRY = "Code pays (coord. structure)"
COUNTRY_LABEL = "Libellé pays (coord. structure)"
SECTOR = "Code secteur d'activité"
SECTOR_LABEL = "Libellé secteur d'activité"
COLUMNS = [
    PP,
    PROFESSION,
    SAVOIR_FAIRE,
    MODE,
    POSTCODE,
    COMMUNE,
    COUNTRY,
    COUNTRY_LABEL,
    SECTOR,
    SECTOR_LABEL,
]
BLOCK_BYTES = 16 << 20  # bytes pyarrow parses at a time: memory stays bounded by a few blocks
#: Told (bytes read, file size) as the extract is read, e.g. to drive a progress bar.
Progress = Callable[[int, int], None]
CENTRE_DE_SANTE = "SA05"
FRANCE_CODES = ("", "99000", "99100")  # empty in most rows; 99100 is France in the INSEE COG
MAX_DROPPED_SHARE = 0.05
EXAMPLES = 5
REASONS = (
    "adresse à l'étranger",
    "ni code commune ni code postal",
    "code commune inconnu",
    "pas de code commune et un code postal inconnu",
)
APPORTIONED = len(REASONS)  # a row placed by the shared-postcode rule, not dropped
SHARED_POSTCODE = (
    "pas de code commune et un code postal desservant plusieurs communes : la part du praticien "
    "en ce lieu est répartie entre les communes du code postal au prorata de leur population"
)


def _check_header(path: Path) -> None:
    """Fail early, naming the file, on an empty file, a wrong delimiter or a missing column."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header:
        raise InputError(
            path, "fichier vide : ligne d'en-tête de l'extraction Annuaire Santé attendue", line=1
        )
    if "|" not in header:
        found = max([";", ",", "\t"], key=header.count)
        raise InputError(
            path,
            f"mauvais séparateur {found!r} : l'extraction Annuaire Santé est séparée par '|'",
            line=1,
        )
    names = header.split("|")
    for column in COLUMNS:
        if column not in names:
            raise InputError(
                path, "colonne manquante de l'extraction Annuaire Santé", line=1, column=column
            )


def _line_of(path: Path, text: str) -> int | None:
    """The 1-based line holding ``text`` (error path only: pyarrow's threads do not count)."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return next((n for n, line in enumerate(handle, 1) if line.rstrip("\r\n") == text), None)


class _Progressing(io.FileIO):
    """The file read by pyarrow, telling ``report`` how many bytes it has read so far."""

    def __init__(self, path: Path, report: Progress) -> None:
        super().__init__(path, "rb")
        self._report = report
        self._size = path.stat().st_size

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self._report(self.tell(), self._size)
        return data


class Extract(NamedTuple):
    """The needed columns of an extract's rows, the identifiers kept as codes into
    ``identifiers`` (about as many as rows: only the examples of dropped rows need the text)."""

    rows: pd.DataFrame
    identifiers: pa.Array


def _batches(
    path: Path, columns: list[str], progress: Progress | None = None
) -> Iterator[pa.RecordBatch]:
    """``columns`` of the extract, as text, one block of :data:`BLOCK_BYTES` at a time; a
    malformed row or a byte that is not UTF-8 ends the reading with the line at fault."""
    invalid: list[pa_csv.InvalidRow] = []

    def skip(row: pa_csv.InvalidRow) -> Literal["skip"]:
        invalid.append(row)
        return "skip"

    empty = True
    try:
        with _Progressing(path, progress or (lambda done, total: None)) as source:
            reader = pa_csv.open_csv(
                source,
                read_options=pa_csv.ReadOptions(encoding="utf-8", block_size=BLOCK_BYTES),
                parse_options=pa_csv.ParseOptions(
                    delimiter="|", quote_char=False, invalid_row_handler=skip
                ),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=columns,
                    column_types=dict.fromkeys(columns, pa.string()),
                    strings_can_be_null=False,
                ),
            )
            for batch in reader:
                empty = empty and batch.num_rows == 0
                yield batch
    except pa.ArrowInvalid as error:
        line = first_undecodable_line(path) if "UTF8" in str(error) else None
        reason = "texte non UTF-8" if line else f"extraction illisible ({error})"
        raise InputError(path, reason, line=line) from None
    if invalid:
        row = invalid[0]
        raise InputError(
            path,
            f"{row.actual_columns} champs alors que l'en-tête en a {row.expected_columns} "
            f"({len(invalid)} lignes dans ce cas)",
            line=row.number or _line_of(path, row.text),
        )
    if empty:
        raise InputError(path, "aucune ligne de données après l'en-tête", line=2)


def _read(path: Path, progress: Progress | None = None) -> Extract:
    """The needed columns, stripped and dictionary-encoded batch by batch: the national file
    (~1 GB, ~2 M rows) is never held whole, only each column's codes and distinct values, and
    every later step works on the distinct values."""
    pieces: list[list[pa.DictionaryArray]] = [[] for _ in COLUMNS]
    for batch in _batches(path, COLUMNS, progress):
        for piece, name in zip(pieces, COLUMNS, strict=True):
            encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(batch[name]))
            piece.append(cast(pa.DictionaryArray, encoded))
    table = pa.table([pa.chunked_array(p) for p in pieces], names=COLUMNS).unify_dictionaries()
    ids = [cast(pa.DictionaryArray, chunk) for chunk in table[PP].chunks]
    rows = table.drop_columns([PP]).to_pandas()
    rows[PP] = pd.Categorical.from_codes(
        np.concatenate([chunk.indices.to_numpy() for chunk in ids]),
        dtype=pd.CategoricalDtype(pd.RangeIndex(len(ids[0].dictionary))),
        validate=False,
    )
    return Extract(rows, ids[0].dictionary)


def _on_distinct(column: pd.Series, function: Callable[[pd.Index], Any]) -> np.ndarray:
    """``function`` applied to the distinct values of a categorical column, spread to its rows."""
    return np.asarray(function(column.cat.categories))[column.cat.codes.to_numpy()]


def _select(rows: pd.DataFrame, profession: str, modes: Iterable[str]) -> pd.DataFrame:
    """Rows of the chosen profession and modes of practice (salaried: centres de santé only)."""
    spec = get_profession(profession)
    rows = rows[rows[PROFESSION] == spec.code_profession]
    if spec.savoir_faire is not None:
        qualified = rows[SAVOIR_FAIRE].isin(list(spec.savoir_faire))
        rows = rows[qualified.groupby(rows[PP].cat.codes.to_numpy()).transform("any")]
    centre = (rows[SECTOR] == CENTRE_DE_SANTE) | _on_distinct(
        rows[SECTOR_LABEL], lambda labels: labels.str.contains("centre de sant", case=False)
    )
    mode = rows[MODE]
    return rows[mode.isin(list(modes)) & ((mode != "S") | centre)]


def _locate(
    rows: pd.DataFrame, resolver: CommuneResolver
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Each row's place of practice and, for dropped rows, why.

    A place is a current commune (named by the row's commune code, or by a postcode serving
    one commune) or a postcode serving several communes, which ``SHARED_POSTCODE`` spreads
    over them by population. Returns the place of each row (``-1``: dropped), each row's
    reason (a position in ``REASONS``; ``APPORTIONED``; -1 for a row placed exactly) and the
    ``place, commune, share`` table that spreads places over communes (a place's shares sum
    to 1).
    """
    commune, postcode = rows[COMMUNE], rows[POSTCODE]
    has_commune = (commune != "").to_numpy()
    has_postcode = (postcode != "").to_numpy()
    french = rows[COUNTRY].isin(FRANCE_CODES).to_numpy() | _on_distinct(
        rows[COUNTRY_LABEL], lambda labels: labels.str.lower() == "france"
    )
    odd_postcode = _on_distinct(postcode, lambda codes: ~codes.str.fullmatch(r"\d{5}"))
    # Work on the distinct values: commune codes first, then postcodes. Category codes are
    # widened to int64 before any arithmetic: pandas stores them in int8 below 128 values,
    # int16 below 32,768, and a sum past those bounds raises or wraps round.
    postcodes = postcode.cat.categories
    served, served_commune, share = resolver.postcode_shares(postcodes)
    n_served = np.bincount(served, minlength=len(postcodes))
    by_postcode = np.full(len(postcodes), "", dtype=object)
    single = n_served[served] == 1
    by_postcode[served[single]] = served_commune[single]
    by_postcode[n_served > 1] = "postcode " + postcodes[n_served > 1]
    vocabulary = np.concatenate([resolver.resolve(commune.cat.categories), by_postcode])
    ids, places = pd.factorize(vocabulary)
    key = np.where(
        has_commune,
        commune.cat.codes.to_numpy().astype(np.int64),
        len(commune.cat.categories) + postcode.cat.codes.to_numpy().astype(np.int64),
    )
    unresolved = (vocabulary == "")[key]
    shared = ~has_commune & (n_served > 1)[np.maximum(key - len(commune.cat.categories), 0)]
    reason = np.select(
        [
            ~french | (has_postcode & odd_postcode),
            ~has_commune & ~has_postcode,
            has_commune & unresolved,
            unresolved,
            shared,
        ],
        [*range(len(REASONS)), APPORTIONED],
        default=-1,
    )
    named = pd.Series(places)
    exact = np.flatnonzero((named != "") & ~named.str.startswith("postcode "))
    multiple = n_served[served] > 1
    spread = pd.DataFrame(
        {
            "place": np.concatenate([exact, ids[len(commune.cat.categories) + served[multiple]]]),
            "commune": np.concatenate([np.asarray(places)[exact], served_commune[multiple]]),
            "share": np.concatenate([np.ones(len(exact)), share[multiple]]),
        }
    )
    dropped = (reason >= 0) & (reason != APPORTIONED)
    return np.where(dropped, -1, ids[key]), reason, spread


def _distinct(codes: np.ndarray) -> int:
    """How many distinct non-negative integer codes (a bincount beats a hash-based unique)."""
    return int(np.count_nonzero(np.bincount(codes, minlength=1)))


def _tally(
    rows: pd.DataFrame, identifiers: pa.Array, label: np.ndarray, flagged: np.ndarray
) -> list[dict]:
    """Per label of the ``flagged`` rows: activity rows, practitioners and a few examples a user
    can look up in the extract."""
    bad = rows[flagged][[COMMUNE, POSTCODE, COUNTRY]].astype(str)
    person = rows[PP].cat.codes.to_numpy()[flagged]
    bad[PP] = identifiers.take(pa.array(person)).to_numpy(zero_copy_only=False)
    example = (
        bad[PP]
        + ": commune '"
        + bad[COMMUNE]
        + "', postcode '"
        + bad[POSTCODE]
        + "', country '"
        + bad[COUNTRY]
        + "'"
    )
    grouped = bad.assign(label=label[flagged], example=example).groupby("label")
    return [
        {
            "reason": name,
            "count": len(group),
            "practitioners": int(group[PP].nunique()),
            "examples": group["example"].head(EXAMPLES).tolist(),
        }
        for name, group in grouped
    ]


def _fte_by_commune(
    person: np.ndarray, place: np.ndarray, spread: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """One FTE per practitioner, split evenly over their distinct places, then each place's
    part over its communes by ``spread``'s shares. Returns the supply rows (one per
    practitioner and commune) and each (person, place) pair's FTE, to report what was spread."""
    pairs = pd.DataFrame({"person": person, "place": place}).drop_duplicates()
    pairs["fte"] = 1.0 / np.bincount(pairs["person"].to_numpy())[pairs["person"].to_numpy()]
    located = pairs.merge(spread, on="place")
    located["fte"] *= located["share"]
    by_commune = located.groupby(["person", "commune"], sort=False, as_index=False)["fte"].sum()
    table = pd.DataFrame(
        {
            "code_commune": by_commune["commune"].astype(str),
            "fte": by_commune["fte"].to_numpy(float),
            "age": np.nan,
            "activity": np.nan,
        }
    )
    return table, pairs.set_index("place")["fte"]


def load_annuaire(
    path: str | Path,
    profession: str = "generaliste",
    modes: Iterable[str] = ("L", "S"),
    resolver: CommuneResolver | None = None,
    progress: Progress | None = None,
) -> SupplyInput:
    """Practitioners of ``profession`` from an Annuaire Santé extract, 1 FTE each.

    ``modes`` are ``Code mode exercice`` values (L libéral, S salarié, B bénévole). Rows with
    only a postcode serving several communes are spread over them by population and listed
    under ``apportioned``. Raises ``InputError`` on a malformed file or when more than 5 % of
    practitioners have no usable French address.
    """
    extract = read_extract(path, progress)
    return supply_from_extract(extract, path, profession, modes, resolver)


def read_extract(path: str | Path, progress: Progress | None = None) -> Extract:
    """The extract's needed columns, every row checked (the costly part: read it once to
    locate several professions)."""
    path = Path(path)
    _check_header(path)
    return _read(path, progress)


def supply_from_extract(
    extract: Extract,
    path: str | Path,
    profession: str = "generaliste",
    modes: Iterable[str] = ("L", "S"),
    resolver: CommuneResolver | None = None,
) -> SupplyInput:
    """``load_annuaire`` on an extract already read by ``read_extract``."""
    path, modes = Path(path), tuple(modes)
    rows = _select(extract.rows, profession, modes)
    place, reason, spread = _locate(rows, resolver or CommuneResolver())
    person = rows[PP].cat.codes.to_numpy().astype(np.int64)
    keep = place >= 0
    practitioners = _distinct(person)
    lost = practitioners - _distinct(person[keep])
    labels = np.asarray([*REASONS, SHARED_POSTCODE])[np.maximum(reason, 0)]
    dropped = _tally(rows, extract.identifiers, labels, ~keep)
    if practitioners and lost / practitioners > MAX_DROPPED_SHARE:
        detail = "; ".join(f"{d['reason']}: {d['practitioners']}" for d in dropped)
        raise InputError(
            path,
            f"{lost} sur {practitioners} praticiens ({lost / practitioners:.1%}) sans adresse "
            f"française utilisable, au-delà de la limite de {MAX_DROPPED_SHARE:.0%} ({detail})",
        )
    table, pair_fte = _fte_by_commune(person[keep], place[keep], spread)
    apportioned = _tally(rows, extract.identifiers, labels, reason == APPORTIONED)
    for entry in apportioned:
        shared = np.unique(place[reason == APPORTIONED])
        entry["fte"] = float(pair_fte[pair_fte.index.isin(shared)].sum())
    return SupplyInput(
        table=table,
        path=str(path),
        format="annuaire",
        profession=profession,
        dropped=dropped,
        apportioned=apportioned,
        notes=[
            f"{practitioners} praticiens retenus, {lost} écartés faute d'adresse utilisable",
            f"modes d'exercice {sorted(modes)} ; activité salariée comptée seulement en centre "
            f"de santé ({CENTRE_DE_SANTE})",
            "une ligne sans code commune dont le code postal dessert plusieurs communes est "
            "répartie entre elles au prorata de leur population municipale (voir 'apportioned')",
            "âge inconnu : l'extraction ouverte ne donne pas la date de naissance, aucun filtre "
            "d'âge ne s'applique",
            "activité inconnue : chaque praticien compte pour 1 ETP",
        ],
    )


ACTIVITY_COLUMNS = [PP, PROFESSION, POSTCODE, COMMUNE]


class Activities(NamedTuple):
    """The activity rows of some practitioners (:data:`ACTIVITY_COLUMNS`, trimmed) and how many
    rows the extract has."""

    rows: pd.DataFrame
    read: int


def activities_of(
    path: str | Path, identifiers: Iterable[str], progress: Progress | None = None
) -> Activities:
    """The rows whose ``Identification nationale PP`` is one of ``identifiers``: the extract is
    filtered block by block, so memory holds one block and the matches, whatever its size."""
    path = Path(path)
    _check_header(path)
    wanted = pa.array(sorted(set(identifiers)), pa.string())
    kept: list[pa.Table] = []
    read = 0
    for batch in _batches(path, ACTIVITY_COLUMNS, progress):
        read += batch.num_rows
        ids = pc.utf8_trim_whitespace(batch[PP])
        match = pc.is_in(ids, value_set=wanted)
        if pc.any(match).as_py():
            columns = [pc.utf8_trim_whitespace(batch[name]) for name in ACTIVITY_COLUMNS]
            kept.append(pa.table(columns, names=ACTIVITY_COLUMNS).filter(match))
    if not kept:
        return Activities(pd.DataFrame(columns=ACTIVITY_COLUMNS, dtype=str), read)
    return Activities(pa.concat_tables(kept).to_pandas(), read)
