"""Each kind of dataset read in full by the loader that will use it, and described in counts.

A file is registered only once its loader has read every row: the errors a run would meet
(file, line, column) are met at registration instead, and the manifest records what the loader
found and what it left out, and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from maillage.errors import InputError
from maillage.territory.professions import PROFESSIONS

KINDS = ("annuaire", "finess", "ages", "supply-csv", "matrix", "sites")
#: The supply the diagnosis options take from each kind, as ``--supply-format``.
SUPPLY_FORMATS = {"annuaire": "annuaire", "supply-csv": "csv"}


@dataclass
class Description:
    """Row counts, rows left out (with the reason) and notes, as the manifest keeps them."""

    rows: dict = field(default_factory=dict)
    dropped: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def describe(kind: str, path: Path, progress: Callable[[int, int], None]) -> Description:
    """Read ``path`` as ``kind`` with its loader; ``InputError`` if any row is bad."""
    return _DESCRIBERS[kind](path, progress)


def _annuaire(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.territory.annuaire import read_extract, supply_from_extract
    from maillage.territory.codes import CommuneResolver

    extract = read_extract(path, progress)
    resolver = CommuneResolver()
    found = Description(rows={"activity_rows": len(extract.rows)})
    for profession in PROFESSIONS:
        try:
            supply = supply_from_extract(extract, path, profession, resolver=resolver)
        except InputError as error:  # usable for the other professions
            found.notes.append(f"{profession} : inutilisable ({error.reason})")
            continue
        summary = supply.to_summary()
        found.rows[profession] = {
            "practitioner_rows": summary["practitioner_rows"],
            "fte": summary["fte"],
            "communes_with_supply": summary["communes_with_supply"],
        }
        found.dropped += [{"profession": profession, **d} for d in supply.dropped]
        found.dropped += [
            {"profession": profession, "placed_by_rule": True, **a} for a in supply.apportioned
        ]
    return found


def _supply_csv(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.territory.communes import load_communes
    from maillage.territory.supply_csv import load_supply_csv

    known = load_communes().code_commune
    found = Description()
    for profession in PROFESSIONS:
        supply = load_supply_csv(path, profession, known)
        if len(supply.table):
            found.rows[profession] = {"rows": len(supply.table), "fte": supply.table.fte.sum()}
    return found


def _ages(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.territory.ages import BANDS, load_population_by_age

    ages = load_population_by_age(path)
    population = float(ages[BANDS].to_numpy().sum())
    return Description(
        rows={"communes": len(ages), "population": population},
        notes=[f"recensement {ages.attrs['census_year']}"],
    )


def _finess(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.territory.finess import load_finess

    facilities = load_finess(path)
    located = int(facilities.lon.notna().sum())
    return Description(
        rows={"facilities": len(facilities), "geolocated": located},
        notes=[
            f"{len(facilities) - located} établissements sans ligne de géolocalisation "
            "(sans position)"
        ],
    )


def _matrix(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.travel.matrix import read_matrix

    matrix = read_matrix(path)
    return Description(
        rows={"pairs": len(matrix), "ids": len(matrix.ids)},
        dropped=[]
        if not matrix.unreachable
        else [
            {"reason": "pas de temps de trajet (paire injoignable)", "count": matrix.unreachable}
        ],
    )


def _sites(path: Path, progress: Callable[[int, int], None]) -> Description:
    from maillage.territory.communes import load_communes
    from maillage.territory.sites import load_sites_csv

    sites = load_sites_csv(path, load_communes())
    return Description(rows={"sites": len(sites.table)}, notes=sites.notes)


_DESCRIBERS: dict[str, Callable[[Path, Callable[[int, int], None]], Description]] = {
    "annuaire": _annuaire,
    "supply-csv": _supply_csv,
    "ages": _ages,
    "finess": _finess,
    "matrix": _matrix,
    "sites": _sites,
}
