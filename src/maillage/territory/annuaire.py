"""Loader for the Annuaire Santé open extract ``PS_LibreAcces_Personne_activite``.

One row per activity of a practitioner; a practitioner (``Identification nationale PP``) counts
once, as one FTE split evenly across the distinct current communes where they practise.
Salaried activity counts only in a *centre de santé*: ``Code secteur d'activité`` SA05 in the
ANS nomenclature TRE_R02-SecteurActivite (https://mos.esante.gouv.fr/NOS/TRE_R02-SecteurActivite),
also recognised by its label in case a release renumbers it. Hospital salaried doctors are
left out because they do not offer the ambulatory primary care that access indicators measure.
The national file (~2 M rows) is read with pyarrow, only the needed columns, in a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pa_csv

from maillage.errors import InputError
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
CENTRE_DE_SANTE = "SA05"
FRANCE_CODES = ("", "99000", "99100")  # empty in most rows; 99100 is France in the INSEE COG
MAX_DROPPED_SHARE = 0.05
EXAMPLES = 5
REASONS = (
    "foreign address",
    "no commune code and no postcode",
    "unknown commune code",
    "no commune code and the postcode names no single commune",
)


def _check_header(path: Path) -> None:
    """Fail early, naming the file, on an empty file, a wrong delimiter or a missing column."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header:
        raise InputError(path, "empty file: expected the Annuaire Santé header line", line=1)
    if "|" not in header:
        found = max([";", ",", "\t"], key=header.count)
        raise InputError(
            path, f"wrong delimiter {found!r}: the Annuaire Santé extract is '|'-separated", line=1
        )
    names = header.split("|")
    for column in COLUMNS:
        if column not in names:
            raise InputError(
                path, "missing column of the Annuaire Santé extract", line=1, column=column
            )


def _line_of(path: Path, text: str) -> int | None:
    """The 1-based line holding ``text`` (error path only: pyarrow's threads do not count)."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return next((n for n, line in enumerate(handle, 1) if line.rstrip("\r\n") == text), None)


def _read(path: Path) -> pd.DataFrame:
    """The needed columns, stripped and dictionary-encoded: the national file has ~2 M rows but
    few distinct values per column, so every later step works on the distinct values."""
    invalid: list[pa_csv.InvalidRow] = []

    def skip(row: pa_csv.InvalidRow) -> Literal["skip"]:
        invalid.append(row)
        return "skip"

    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(encoding="utf-8"),
        parse_options=pa_csv.ParseOptions(
            delimiter="|", quote_char=False, invalid_row_handler=skip
        ),
        convert_options=pa_csv.ConvertOptions(
            include_columns=COLUMNS,
            column_types=dict.fromkeys(COLUMNS, pa.string()),
            strings_can_be_null=False,
        ),
    )
    if invalid:
        row = invalid[0]
        raise InputError(
            path,
            f"{row.actual_columns} fields where the header has {row.expected_columns} "
            f"({len(invalid)} such rows)",
            line=row.number or _line_of(path, row.text),
        )
    encoded = [pc.dictionary_encode(pc.utf8_trim_whitespace(table[name])) for name in COLUMNS]
    return pa.table(encoded, names=COLUMNS).to_pandas()


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
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's current commune, as a position in the returned array of codes, ``-1`` when
    the row is dropped; and the dropped rows' reasons, positions in ``REASONS`` (-1: kept)."""
    commune, postcode = rows[COMMUNE], rows[POSTCODE]
    has_commune = (commune != "").to_numpy()
    has_postcode = (postcode != "").to_numpy()
    french = rows[COUNTRY].isin(FRANCE_CODES).to_numpy() | _on_distinct(
        rows[COUNTRY_LABEL], lambda labels: labels.str.lower() == "france"
    )
    odd_postcode = _on_distinct(postcode, lambda codes: ~codes.str.fullmatch(r"\d{5}"))
    # one vocabulary for both lookups: resolved commune codes, then resolved postcodes
    vocabulary = np.concatenate(
        [
            resolver.resolve(commune.cat.categories),
            resolver.from_postcode(postcode.cat.categories),
        ]
    )
    key = np.where(
        has_commune,
        commune.cat.codes.to_numpy(),
        len(commune.cat.categories) + postcode.cat.codes.to_numpy(),
    )
    unresolved = (vocabulary == "")[key]
    reason = np.select(
        [
            ~french | (has_postcode & odd_postcode),
            ~has_commune & ~has_postcode,
            has_commune & unresolved,
            unresolved,
        ],
        range(len(REASONS)),
        default=-1,
    )
    ids, codes = pd.factorize(vocabulary)
    return np.where(reason < 0, ids[key], -1), reason, np.asarray(codes)


def _distinct(codes: np.ndarray) -> int:
    """How many distinct non-negative integer codes (a bincount beats a hash-based unique)."""
    return int(np.count_nonzero(np.bincount(codes, minlength=1)))


def _dropped(rows: pd.DataFrame, reason: np.ndarray) -> list[dict]:
    """Per reason: activity rows, practitioners and a few examples a user can look up."""
    bad = rows[reason >= 0][[PP, COMMUNE, POSTCODE, COUNTRY]].astype(str)
    bad["reason"] = np.asarray(REASONS)[reason[reason >= 0]]
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
    grouped = bad.assign(example=example).groupby("reason")
    return [
        {
            "reason": reason_name,
            "count": len(group),
            "practitioners": int(group[PP].nunique()),
            "examples": group["example"].head(EXAMPLES).tolist(),
        }
        for reason_name, group in grouped
    ]


def load_annuaire(
    path: str | Path,
    profession: str = "generaliste",
    modes: Iterable[str] = ("L", "S"),
    resolver: CommuneResolver | None = None,
) -> SupplyInput:
    """Practitioners of ``profession`` from an Annuaire Santé extract, 1 FTE each.

    ``modes`` are ``Code mode exercice`` values (L libéral, S salarié, B bénévole). Raises
    ``InputError`` on a malformed file or when more than 5 % of practitioners have no usable
    French address.
    """
    path, modes = Path(path), tuple(modes)
    _check_header(path)
    rows = _select(_read(path), profession, modes)
    commune, reason, codes = _locate(rows, resolver or CommuneResolver())
    person = rows[PP].cat.codes.to_numpy()
    keep = commune >= 0
    practitioners = _distinct(person)
    lost = practitioners - _distinct(person[keep])
    dropped = _dropped(rows, reason)
    if practitioners and lost / practitioners > MAX_DROPPED_SHARE:
        detail = "; ".join(f"{d['reason']}: {d['practitioners']}" for d in dropped)
        raise InputError(
            path,
            f"{lost} of {practitioners} practitioners ({lost / practitioners:.1%}) have no "
            f"usable French address, over the {MAX_DROPPED_SHARE:.0%} limit ({detail})",
        )
    pairs = pd.DataFrame({"person": person[keep], "commune": commune[keep]}).drop_duplicates()
    person, commune = pairs["person"].to_numpy(), pairs["commune"].to_numpy()
    table = pd.DataFrame(
        {
            "code_commune": pd.Series(codes[commune], dtype=str),
            "fte": 1.0 / np.bincount(person)[person],
            "age": np.nan,
            "activity": np.nan,
        }
    )
    return SupplyInput(
        table=table,
        path=str(path),
        format="annuaire",
        profession=profession,
        dropped=dropped,
        notes=[
            f"{practitioners} practitioners selected, {lost} dropped for want of a usable address",
            f"modes of practice {sorted(modes)}; salaried activity counted only in a centre "
            f"de santé ({CENTRE_DE_SANTE})",
            "age unknown: the open extract has no birth date, so no age filter applies",
            "activity unknown: each practitioner counts as 1 FTE",
        ],
    )
