"""Importing sites: FHIR registry resources from a CSV or a plan, idempotent, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from api_server import Server
from sqlalchemy import func, select
from typer.testing import CliRunner

from maillage.admin.site_commands import register
from maillage.care.site_import import (
    INSEE_EXTENSION,
    SiteImportError,
    import_sites,
    read_sites,
)
from maillage.planning.outputs import SITES_COLUMNS
from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.territory.communes import load_communes

HEADER = "id,name,code_commune,lon,lat,type,modalities,equipment\n"
SITES = (
    HEADER
    + "bld-1,MSP de Bar-le-Duc,55029,,,msp,Téléconsultation assistée;télé-expertise,cabine\n"
    + "vrd-1,EHPAD de Verdun,55545,5.38,49.16,EHPAD,teleconsultation-suivi,chariot;tensiometre\n"
)


@pytest.fixture(scope="module")
def communes() -> pd.DataFrame:
    return load_communes()


def _write(tmp_path: Path, text: str, name: str = "sites.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(server: Server, path: Path, communes: pd.DataFrame, **options: str):
    sites = read_sites(path, communes, **options)
    return import_sites(server.app.state.sessions, server.settings, path, sites)


def _count(server: Server, resource_type: str) -> int:
    with transaction(server.app.state.sessions) as session:
        query = select(func.count()).where(Resource.resource_type == resource_type)
        return session.execute(query).scalar_one()


def _search(server: Server, headers: dict[str, str], query: str) -> list[dict]:
    response = server.client.get(f"/fhir/{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def test_import_registers_searchable_sites(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    report = _import(server, _write(tmp_path, SITES), communes)
    assert report.sites == 2
    assert len(report.created) == 2 + 2 + 3  # organisations, locations, modalities
    [site] = _search(server, admin, "Location?identifier=urn:maillage:site|bld-1")
    assert site["name"] == "MSP de Bar-le-Duc"
    assert site["address"]["city"] == "Bar-le-Duc"
    [insee] = site["address"]["extension"]
    assert insee["url"] == INSEE_EXTENSION
    assert insee["valueCoding"]["code"] == "55029"
    bar_le_duc = communes.set_index("code_commune").loc["55029"]
    assert site["position"]["longitude"] == pytest.approx(bar_le_duc.lon, abs=1e-6)
    assert _search(server, admin, "Location?address-insee=55029") == [site]
    [verdun] = _search(server, admin, "Location?address-city=verdun")
    assert verdun["position"] == {"longitude": 5.38, "latitude": 49.16}
    chariots = _search(server, admin, "Location?type=urn:maillage:equipment|chariot")
    assert [s["id"] for s in chariots] == [verdun["id"]]
    ehpads = _search(server, admin, "Organization?type=urn:maillage:organization-type|EHPAD")
    assert verdun["managingOrganization"]["reference"] == f"Organization/{ehpads[0]['id']}"
    services = _search(server, admin, f"HealthcareService?location=Location/{site['id']}")
    codes = {s["type"][0]["coding"][0]["code"] for s in services}
    assert codes == {"teleconsultation-assistee", "tele-expertise"}


def test_reimport_updates_without_duplicating(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    path = _write(tmp_path, SITES)
    _import(server, path, communes)
    [before] = _search(server, admin, "Location?identifier=urn:maillage:site|bld-1")
    again = _import(server, path, communes)
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 7)
    changed = SITES.replace("MSP de Bar-le-Duc", "MSP du Barrois").replace(
        "Téléconsultation assistée;télé-expertise", "telesurveillance"
    )
    report = _import(server, _write(tmp_path, changed), communes)
    assert f"Location/{before['id']}" in report.updated
    assert _count(server, "Location") == 2
    assert _count(server, "Organization") == 2
    [after] = _search(server, admin, "Location?identifier=urn:maillage:site|bld-1")
    assert after["id"] == before["id"]
    assert after["name"] == "MSP du Barrois"
    assert int(after["meta"]["versionId"]) == int(before["meta"]["versionId"]) + 1
    services = _search(server, admin, f"HealthcareService?location=Location/{after['id']}")
    active = {s["type"][0]["coding"][0]["code"]: s["active"] for s in services}
    assert active == {
        "teleconsultation-assistee": False,
        "tele-expertise": False,
        "telesurveillance": True,
    }


def test_bad_rows_are_named_and_nothing_is_written(
    server: Server, tmp_path: Path, communes: pd.DataFrame
) -> None:
    bad = SITES + "x-1,Nowhere,99999,,,,,\nx-2,Somewhere,55029,abc,48,pharmacy,,\n"
    path = _write(tmp_path, bad)
    with pytest.raises(SiteImportError) as refused:
        read_sites(path, communes)
    problems = refused.value.problems
    assert f"{path}:4: column code_commune: unknown commune code '99999'" in problems[0]
    assert any(p.startswith(f"{path}:5: column lon:") for p in problems)
    assert any(p.startswith(f"{path}:5: column type:") for p in problems)
    assert _count(server, "Location") == 0


def test_duplicate_ids_and_missing_columns_are_refused(
    tmp_path: Path, communes: pd.DataFrame
) -> None:
    twice = SITES + "bld-1,Encore,55029,,,,,\n"
    with pytest.raises(SiteImportError, match=r":4: column id: 'bld-1' already on line 2"):
        read_sites(_write(tmp_path, twice), communes)
    with pytest.raises(SiteImportError, match="missing column"):
        read_sites(_write(tmp_path, "name,code_commune\nA,55029\n"), communes)


def test_plan_output_is_imported_with_the_given_type(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    plan = pd.DataFrame(
        [
            [
                1,
                "55029",
                "Bar-le-Duc",
                "55029",
                5.16,
                48.77,
                812.5,
                14985,
                "55",
                1.0,
                "SYNTHETIC",
                "nouveau",
            ],
            [
                None,
                "e1",
                "MSP Verdun",
                "55545",
                5.38,
                49.16,
                None,
                None,
                "55",
                0.0,
                "SYNTHETIC",
                "existant",
            ],
        ],
        columns=SITES_COLUMNS,
    )
    path = tmp_path / "sites.csv"
    plan.to_csv(path, index=False)
    report = _import(server, path, communes, fmt="plan", organization_type="cpts")
    assert report.sites == 1  # the plan's existing site is already someone's, not imported
    [org] = _search(server, admin, "Organization?type=urn:maillage:organization-type|CPTS")
    assert org["identifier"] == [{"system": "urn:maillage:site", "value": "55029"}]


def test_import_is_audited_in_the_chain(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    report = _import(server, _write(tmp_path, SITES), communes)
    [location] = [ref for ref in report.created if ref.startswith("Location/")][:1]
    [event] = _search(server, admin, f"AuditEvent?entity={location}")
    assert event["type"]["code"] == "110107"
    assert "2 sites from sites.csv: 7 created" in event["outcomeDesc"]
    with transaction(server.app.state.sessions) as session:
        assert audit.verify(session).intact


def test_cli_imports_and_refuses(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    cli = typer.Typer()
    register(cli)
    runner = CliRunner()
    good = runner.invoke(cli, ["sites", "import", str(_write(tmp_path, SITES))])
    assert good.exit_code == 0, good.output
    assert "2 sites: 7 resources created" in good.output
    bad = _write(tmp_path, HEADER + "z,Z,00000,,,,,\n", "bad.csv")
    refused = runner.invoke(cli, ["sites", "import", str(bad), "--format", "csv"])
    assert refused.exit_code == 2
    assert "bad.csv:2: column code_commune" in refused.output
    assert "nothing was imported" in refused.output


@pytest.mark.parametrize(
    ("content", "line", "said"),
    [
        (SITES.encode() + b"nul-1,MSP\x00 de Nul,55029,,,,,\n", 4, "NUL"),
        (SITES.encode() + b"bad-1,MSP de Bar\xe9,55029,,,,,\n", 4, "not UTF-8"),
        (b"id,n\xffme,code_commune\nx,A,55029\n", 1, "not UTF-8"),
        (b"id,name,code_commune\x00\nx,A,55029\n", 1, "NUL"),
    ],
)
def test_a_nul_byte_or_bad_encoding_is_named_by_line(
    tmp_path: Path, communes: pd.DataFrame, content: bytes, line: int, said: str
) -> None:
    path = tmp_path / "sites.csv"
    path.write_bytes(content)
    with pytest.raises(SiteImportError) as refused:
        read_sites(path, communes)
    [problem] = refused.value.problems
    assert problem.startswith(f"{path}:{line}: ") and said in problem


@pytest.mark.parametrize(
    "cell",
    ['"=HYPERLINK(""http://evil.example"",""clic"")"', "+33 MSP", "-MSP", "@SUM(A1)", "=1+1"],
)
def test_a_spreadsheet_formula_is_refused_as_a_name(
    tmp_path: Path, communes: pd.DataFrame, cell: str
) -> None:
    path = _write(tmp_path, HEADER + f"f-1,{cell},55029,-1.5,48.7,,,\n")
    with pytest.raises(SiteImportError) as refused:
        read_sites(path, communes)
    [problem] = refused.value.problems
    assert problem.startswith(f"{path}:2: column name: ") and "formula" in problem


def test_cli_names_an_unreadable_file_in_one_line_with_exit_2(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    cli = typer.Typer()
    register(cli)
    path = tmp_path / "sites.csv"
    path.write_bytes(SITES.encode() + b"nul-1,MSP\x00,55029,,,,,\n")
    refused = CliRunner().invoke(cli, ["sites", "import", str(path)])
    assert refused.exit_code == 2
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    assert f"error: {path}:4: " in refused.output and "nothing was imported" in refused.output


def test_finess_numbers_are_imported_and_searchable(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    text = (
        "id,name,code_commune,type,finess_et,finess_ej\n"
        "bourg,CH de Fleyriat,01053,ch,010000024,010780054\n"
        "ajaccio,Pharmacie du Cours,2A004,pharmacie,2A0001012,\n"
    )
    _import(server, _write(tmp_path, text), communes)
    finess = "http://finess.sante.gouv.fr"
    [site] = _search(server, admin, f"Location?identifier={finess}|010000024")
    assert site["name"] == "CH de Fleyriat"
    [legal] = _search(server, admin, f"Organization?identifier={finess}|010780054")
    assert _search(server, admin, f"Organization?identifier={finess}|010000024") == [legal]
    [corsica] = _search(server, admin, f"Location?identifier={finess}|2A0001012")
    assert corsica["name"] == "Pharmacie du Cours"
    assert _search(server, admin, f"Location?identifier={finess}|010780054") == []


def test_a_wrong_finess_key_is_refused_naming_line_and_column(
    tmp_path: Path, communes: pd.DataFrame
) -> None:
    text = "id,name,code_commune,finess_et,finess_ej\nbourg,CH,01053,010000025,01078005\n"
    with pytest.raises(SiteImportError) as refused:
        read_sites(_write(tmp_path, text), communes)
    problems = "\n".join(refused.value.problems)
    assert ":2: column finess_et: FINESS check digit 5 is wrong (Luhn expects 4)" in problems
    assert ":2: column finess_ej: FINESS number must have 9 characters, got 8" in problems


ROR_SITES = (
    "id,name,code_commune,type,modalities,finess_et,id_nat_struct,ror_lieu,ror_offres\n"
    "bourg,CH de Fleyriat,01053,ch,Téléconsultation assistée;tele-expertise,010000024,,"
    "84/1073,teleconsultation-assistee=84/5001;Télé-expertise=84/5002\n"
    "mutuelle,Centre de santé,01053,msp,tele-expertise,,373282932000074,84/1074,\n"
)


def test_ror_identifiers_are_imported_and_searchable(
    server: Server, admin: dict[str, str], tmp_path: Path, communes: pd.DataFrame
) -> None:
    """idNatStruct (given, or 1 + FINESS ET), the ROR place id and offer ids, each under the
    system of the ROR guide, find their resources, with or without the system."""
    _import(server, _write(tmp_path, ROR_SITES), communes)
    nat = "urn:oid:1.2.250.1.71.4.2.2"
    [hospital] = _search(server, admin, f"Organization?identifier={nat}|1010000024")
    assert hospital["name"] == "CH de Fleyriat"
    [idnat] = [i for i in hospital["identifier"] if i["system"] == nat]
    assert idnat["type"]["coding"][0]["code"] == "40"
    [centre] = _search(server, admin, f"Organization?identifier={nat}|373282932000074")
    assert centre["name"] == "Centre de santé"
    lieu = (
        "https://mos.esante.gouv.fr/NOS/JDV_J236-TypologieIdentifiantLieu-ROR/FHIR/"
        "JDV-J236-TypologieIdentifiantLieu-ROR"
    )
    [place] = _search(server, admin, f"Location?identifier={lieu}|84/1073")
    assert place["name"] == "CH de Fleyriat"
    assert _search(server, admin, "Location?identifier=84/1074")[0]["name"] == "Centre de santé"
    offre = (
        "https://mos.esante.gouv.fr/NOS/TRE_R355-TypeIdentifiantOffre/FHIR/"
        "TRE-R355-TypeIdentifiantOffre"
    )
    [service] = _search(server, admin, f"HealthcareService?identifier={offre}|84/5002")
    assert service["type"][0]["coding"][0]["code"] == "tele-expertise"
    assert service["location"] == [{"reference": f"Location/{place['id']}"}]
    assert _search(server, admin, f"HealthcareService?identifier={offre}|84/1073") == []


def test_bad_ror_identifiers_are_refused_naming_line_and_column(
    tmp_path: Path, communes: pd.DataFrame
) -> None:
    text = (
        "id,name,code_commune,modalities,id_nat_struct,ror_lieu,ror_offres\n"
        "a,A,01053,tele-expertise,373282932000075,84/1,telesurveillance=84/9\n"
        "b,B,01053,tele-expertise,9123,84/1,tele-expertise\n"
        "c,C,01053,tele-expertise,1010000025,84 2,\n"
        "d,D,01053,tele-expertise,,84/3,tele-expertise=84/4\n"
        "e,E,01053,tele-expertise,,84/4,\n"
    )
    with pytest.raises(SiteImportError) as refused:
        read_sites(_write(tmp_path, text), communes)
    problems = "\n".join(refused.value.problems)
    assert ":2: column id_nat_struct: idNatStruct '373282932000075': " in problems
    assert "is not a valid SIRET number" in problems
    assert (
        ":2: column ror_offres: 'telesurveillance' is not one of the row's modalities" in problems
    )
    assert ":3: column id_nat_struct: idNatStruct must start with its kind" in problems
    assert (
        ":3: column ror_offres: 'tele-expertise' is not modality=ROR offer identifier" in problems
    )
    assert ":4: column id_nat_struct: FINESS check digit 5 is wrong" in problems
    assert ":4: column ror_lieu: ROR identifier '84 2' must be 1 to 64 characters" in problems
    assert ":6: ROR identifier '84/4' already on line 5" in problems
