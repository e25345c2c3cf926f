"""Regions and departments, and the lookup that turns what a user types into their codes.

Planners type "Grand Est", "grand-est" or "44" alike; the CLI accepts all of them and refuses
anything else with the list of valid choices rather than a silent empty result.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pandas as pd

from maillage.territory.datafrance import read_table


@cache
def regions() -> pd.DataFrame:
    """Current regions: ``code`` ("44"), ``nom`` ("Grand Est"), sorted by code."""
    table = read_table("regions", ["code", "nom"])
    return table.sort_values("code", ignore_index=True)


@cache
def departements() -> pd.DataFrame:
    """Current departments: ``code`` ("2A", "971"), ``nom``, ``region`` code, sorted by code."""
    deps = read_table("departements", ["id", "code", "nom", "region_id"])
    region_codes = read_table("regions", ["id", "code"]).set_index("id")["code"]
    deps["region"] = deps["region_id"].map(region_codes)
    return deps[["code", "nom", "region"]].sort_values("code", ignore_index=True)


@cache
def epcis() -> pd.DataFrame:
    """EPCI à fiscalité propre: ``code`` (SIREN), ``nom``, ``type`` (CC, CA, CU, ME)."""
    return read_table("epci", ["code", "nom", "type"]).sort_values("code", ignore_index=True)


def _normalise(text: str) -> str:
    """Lower case, no accents, hyphens/apostrophes/spaces folded: "Val-d'Oise" → "val d oise"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.split(r"[\s\-'’_]+", plain.lower())).strip()


def _resolve(text: str, table: pd.DataFrame, kind: str) -> str:
    key = _normalise(str(text))
    by_code = dict(zip(table["code"].str.lower(), table["code"], strict=True))
    by_name = dict(zip(table["nom"].map(_normalise), table["code"], strict=True))
    if key in by_code:
        return by_code[key]
    if key in by_name:
        return by_name[key]
    choices = ", ".join(
        f"{code} ({nom})" for code, nom in zip(table["code"], table["nom"], strict=True)
    )
    raise ValueError(f"{kind} {text!r} ; choix possibles : {choices}")


def resolve_region(text: str) -> str:
    """The region code for a code or name, case-, accent- and hyphen-insensitive."""
    return _resolve(text, regions(), "région inconnue")


def resolve_departement(text: str) -> str:
    """The department code for a code or name ("2a", "Corse-du-Sud" → "2A")."""
    return _resolve(text, departements(), "département inconnu")
