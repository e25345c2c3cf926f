"""``maillage practitioners check``: each network practitioner against a registered Annuaire
Santé extract (RPPS known, profession, commune), read through the system repository."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from stdnum import luhn
from typer.testing import CliRunner

from maillage.care.acts import PROFESSION_SYSTEM
from maillage.care.identifiers import RPPS_SYSTEM
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, system_repository
from maillage.care.site_import import INSEE_EXTENSION, INSEE_SYSTEM
from maillage.cli import app
from maillage.config import load_settings
from maillage.datasets.catalogue import Catalogue

HEADER = (
    Path(__file__).parents[1] / "territory" / "data" / "PS_LibreAcces_Personne_activite_sample.txt"
)


def _rpps(body: str) -> str:
    return body + luhn.calc_check_digit(body)


DOCTOR, NURSE, ABSENT, NO_ADDRESS = (_rpps(f"1000000{n:03d}") for n in (101, 102, 103, 104))


@pytest.fixture
def network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite network the CLI's settings name, with five practitioners."""
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'maillage.sqlite'}")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    monkeypatch.setenv("MAILLAGE_FILES_DIR", str(tmp_path / "files"))
    settings = load_settings()
    system = system_repository(settings, migrate=True)
    admin = Principal(user_id=1, email="admin@example.org", role=Role.ADMIN)
    repository = Repository(system.sessions, settings, admin)
    for rpps, profession, commune, family in (
        (DOCTOR, "10", "57463", "Metz"),  # practises at a Metz postcode-only row
        (NURSE, "10", "75056", "Paris"),  # a nurse in the Annuaire, in Paris 15e
        (ABSENT, "10", "55029", "Absent"),
        (NO_ADDRESS, "10", None, "Sans adresse"),
        (None, "60", "55029", "Sans RPPS"),
    ):
        body: dict = {
            "resourceType": "Practitioner",
            "name": [{"family": family, "given": ["Dr"]}],
            "qualification": [
                {"code": {"coding": [{"system": PROFESSION_SYSTEM, "code": profession}]}}
            ],
        }
        if rpps:
            body["identifier"] = [{"system": RPPS_SYSTEM, "value": rpps}]
        if commune:
            extension = {
                "url": INSEE_EXTENSION,
                "valueCoding": {"system": INSEE_SYSTEM, "code": commune},
            }
            body["address"] = [{"extension": [extension], "use": "work"}]
        repository.create("Practitioner", body)
    return tmp_path


def _extract(path: Path, rows: list[dict[str, str]]) -> Path:
    header = HEADER.read_text(encoding="utf-8").splitlines()[0]
    names = header.split("|")
    lines = [header] + ["|".join(row.get(name, "") for name in names) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _activity(rpps: str, profession: str, commune: str, postcode: str) -> dict[str, str]:
    return {
        "Type d'identifiant PP": "8",
        "Identifiant PP": rpps,
        "Identification nationale PP": f"8{rpps}",
        "Code profession": profession,
        "Code mode exercice": "L",
        "Code commune (coord. structure)": commune,
        "Code postal (coord. structure)": postcode,
    }


def test_each_practitioner_is_checked_against_a_registered_extract(network: Path) -> None:
    extract = _extract(
        network / "annuaire.txt",
        [
            _activity(DOCTOR, "10", "67482", "67000"),
            _activity(DOCTOR, "10", "", "57000"),  # postcode only: Metz
            _activity(NURSE, "60", "75115", "75015"),  # arrondissement code
            _activity(NO_ADDRESS, "10", "55545", "55100"),
            _activity(_rpps("1000000999"), "10", "55029", "55000"),  # not in the network
        ],
    )
    dataset, _ = Catalogue().add(extract, "annuaire")
    out = network / "report.csv"
    result = CliRunner().invoke(
        app, ["practitioners", "check", "--annuaire", f"dataset:{dataset.id}", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "lignes de l'extraction lues" in result.output
    report = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("nom")
    columns = ["rpps_connu", "profession_concorde", "commune_concorde"]
    assert report.loc["Dr Metz", columns].tolist() == ["oui", "oui", "oui"]
    assert report.loc["Dr Metz", "communes_annuaire"] == "57463;67482"
    assert report.loc["Dr Paris", columns].tolist() == ["oui", "non", "oui"]
    assert report.loc["Dr Paris", "professions_annuaire"] == "60"
    assert report.loc["Dr Absent", columns].tolist() == ["non", "sans objet", "sans objet"]
    assert report.loc["Dr Sans adresse", columns].tolist() == ["oui", "oui", "sans objet"]
    assert report.loc["Dr Sans RPPS", columns].tolist() == ["sans objet"] * 3
    assert len(report) == 5


def test_a_wrong_kind_of_dataset_or_a_broken_extract_is_one_line_exit_2(network: Path) -> None:
    broken = network / "broken.txt"
    broken.write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["practitioners", "check", "--annuaire", str(broken)])
    assert result.exit_code == 2
    assert "mauvais séparateur" in result.output
    result = CliRunner().invoke(app, ["practitioners", "check", "--annuaire", "dataset:nope"])
    assert result.exit_code == 2
    assert "jeu de données inconnu" in result.output
