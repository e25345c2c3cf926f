"""The network's practitioners checked against an Annuaire Santé extract: is each RPPS known,
does the profession match, does the commune of practice match.

The practitioners are read through a repository (the system's, for ``maillage practitioners
check``), the extract is filtered to their national identifiers (``8`` + RPPS) block by block
(:func:`maillage.territory.annuaire.activities_of`), so the national extract (~2 M rows) is
read in bounded memory. A commune matches when one of the practitioner's activity rows is in
it: the row's commune code brought to the current commune (arrondissements, merged communes),
or, for a row with only a postcode, one of the communes that postcode serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from maillage.care.acts import profession_code
from maillage.care.french import INSEE_EXTENSION
from maillage.care.identifiers import RPPS_SYSTEM
from maillage.care.repository import Repository
from maillage.territory.annuaire import COMMUNE, POSTCODE, PP, PROFESSION, activities_of
from maillage.territory.codes import CommuneResolver

YES, NO, NOT_APPLICABLE = "oui", "non", "sans objet"
COLUMNS = [
    "practitioner",
    "nom",
    "rpps",
    "rpps_connu",
    "profession_reseau",
    "professions_annuaire",
    "profession_concorde",
    "commune_reseau",
    "communes_annuaire",
    "commune_concorde",
]


@dataclass(frozen=True)
class NetworkPractitioner:
    """What the network says of a practitioner: the fields the Annuaire can confirm."""

    id: str
    name: str
    rpps: str
    profession: str
    commune: str


@dataclass(frozen=True)
class CheckReport:
    """One row per network practitioner (:data:`COLUMNS`) and the extract's size."""

    table: pd.DataFrame
    rows_read: int

    def summary(self) -> str:
        """« N praticiens : … » counts of each answer, for the terminal."""
        counts = [
            f"{column} {answer} : {int((self.table[column] == answer).sum())}"
            for column in ("rpps_connu", "profession_concorde", "commune_concorde")
            for answer in (YES, NO)
        ]
        return f"{len(self.table)} praticiens du réseau ; " + ", ".join(counts)


def network_practitioners(repository: Repository) -> list[NetworkPractitioner]:
    """Every live Practitioner the repository reads, with its RPPS, ANS profession code and
    the INSEE code of its first address that has one (empty when the network has none)."""
    found = []
    for body in repository.practitioners():
        found.append(
            NetworkPractitioner(
                id=body["id"],
                name=_name(body),
                rpps=next(
                    (
                        str(i.get("value", ""))
                        for i in body.get("identifier", [])
                        if i.get("system") == RPPS_SYSTEM
                    ),
                    "",
                ),
                profession=profession_code(body) or "",
                commune=_commune(body),
            )
        )
    return found


def _name(body: dict[str, Any]) -> str:
    names = body.get("name") or [{}]
    first = names[0]
    return first.get("text") or " ".join([*first.get("given", []), first.get("family", "")]).strip()


def _commune(body: dict[str, Any]) -> str:
    for address in body.get("address", []):
        for extension in address.get("extension", []):
            if extension.get("url") == INSEE_EXTENSION:
                return str((extension.get("valueCoding") or {}).get("code", ""))
    return ""


def check(
    practitioners: list[NetworkPractitioner],
    annuaire: Path,
    resolver: CommuneResolver | None = None,
) -> CheckReport:
    """Each practitioner against the extract at ``annuaire`` (see the module's docstring)."""
    with_rpps = [p for p in practitioners if p.rpps]
    found = activities_of(annuaire, (f"8{p.rpps}" for p in with_rpps))
    rows = found.rows
    resolver = resolver or CommuneResolver()
    rows["commune"] = resolver.resolve(rows[COMMUNE]) if len(rows) else []
    served, served_commune, _ = resolver.postcode_shares(pd.Index(rows[POSTCODE].unique()))
    by_postcode = pd.DataFrame(
        {"postcode": np.asarray(rows[POSTCODE].unique())[served], "commune": served_commune}
    )
    postcode_only = rows[rows[COMMUNE] == ""][[PP, POSTCODE]].rename(columns={POSTCODE: "postcode"})
    places = pd.concat(
        [
            rows.loc[rows["commune"] != "", [PP, "commune"]],
            postcode_only.merge(by_postcode, on="postcode")[[PP, "commune"]],
        ]
    )
    professions = rows.groupby(PP)[PROFESSION].agg(lambda codes: sorted(set(codes)))
    communes = places.groupby(PP)["commune"].agg(lambda codes: sorted(set(codes)))
    table = pd.DataFrame(
        [_row(p, professions, communes) for p in practitioners], columns=COLUMNS, dtype=str
    )
    return CheckReport(table, found.read)


def _row(p: NetworkPractitioner, professions: pd.Series, communes: pd.Series) -> list[str]:
    key = f"8{p.rpps}"
    known = bool(p.rpps) and key in professions.index
    listed = professions.get(key, []) if known else []
    places = communes.get(key, []) if known else []
    return [
        p.id,
        p.name,
        p.rpps,
        (YES if known else NO) if p.rpps else NOT_APPLICABLE,
        p.profession,
        ";".join(listed),
        _agree(known and bool(p.profession), p.profession in listed),
        p.commune,
        ";".join(places),
        _agree(known and bool(p.commune), p.commune in places),
    ]


def _agree(comparable: bool, same: bool) -> str:
    """« oui »/« non » when both sides say something, else « sans objet »."""
    if not comparable:
        return NOT_APPLICABLE
    return YES if same else NO
