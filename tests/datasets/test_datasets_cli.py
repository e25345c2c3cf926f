"""`maillage datasets` and `dataset:ID` in the analytics commands, on real-format files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from maillage.cli import app

DATA = Path(__file__).parents[1] / "territory" / "data"
ANNUAIRE = DATA / "PS_LibreAcces_Personne_activite_sample.txt"
runner = CliRunner()


@pytest.fixture
def files_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "files"
    monkeypatch.setenv("MAILLAGE_FILES_DIR", str(folder))
    return folder


def maillage(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def add(path: Path, kind: str, *options: str) -> str:
    code, output = maillage("datasets", "add", str(path), "--kind", kind, *options)
    assert code == 0, output
    return output.split("dataset:")[-1].split()[0]


def manifest(dataset_id: str) -> dict:
    code, output = maillage("datasets", "show", dataset_id)
    assert code == 0, output
    return json.loads(output)


def stored(files_dir: Path) -> list[Path]:
    return sorted((files_dir / "datasets" / "objects").iterdir())


def test_add_validates_stores_by_checksum_and_records(files_dir: Path) -> None:
    dataset_id = add(ANNUAIRE, "annuaire", "--as-of", "2024-07-01", "--label", "Extrait ARS")
    sha256 = hashlib.sha256(ANNUAIRE.read_bytes()).hexdigest()
    found = manifest(dataset_id)
    assert dataset_id == f"annuaire-{sha256[:12]}"
    assert (found["kind"], found["sha256"], found["as_of"], found["label"]) == (
        "annuaire",
        sha256,
        "2024-07-01",
        "Extrait ARS",
    )
    assert found["source"] == str(ANNUAIRE.resolve())
    lines = ANNUAIRE.read_text(encoding="utf-8").splitlines()
    assert found["rows"]["activity_rows"] == len(lines) - 1
    assert found["rows"]["generaliste"]["fte"] == pytest.approx(21.0)  # as load_annuaire finds
    foreign = [d for d in found["dropped"] if d["reason"] == "adresse à l'étranger"]
    assert foreign and foreign[0]["profession"] == "generaliste"
    assert Path(found["path"]).read_bytes() == ANNUAIRE.read_bytes()
    assert stored(files_dir) == [Path(found["path"])]
    code, listing = maillage("datasets", "list")
    assert code == 0 and dataset_id in listing


def test_the_same_file_is_stored_once(files_dir: Path) -> None:
    first = add(ANNUAIRE, "annuaire")
    code, output = maillage("datasets", "add", str(ANNUAIRE), "--kind", "annuaire")
    assert code == 0 and "déjà enregistré" in output and first in output
    assert len(stored(files_dir)) == 1
    assert len(list((files_dir / "datasets" / "manifests").glob("*.json"))) == 1


@pytest.mark.parametrize(
    ("kind", "text", "where"),
    [
        ("annuaire", "a;b;c\n1;2;3\n", "ligne 1"),
        ("matrix", "origin,destination,minutes\n55001,55002,3\n55001,55003,abc\n", "ligne 3"),
        ("supply-csv", "code_commune,fte\n55029,1\n99999,2\n", "ligne 3, colonne 'code_commune'"),
        ("ages", "CODGEO;P21_POP0014\n55029;3\n", "ligne 1"),
    ],
)
def test_a_bad_file_registers_nothing(files_dir: Path, tmp_path: Path, kind, text, where) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    code, output = maillage("datasets", "add", str(path), "--kind", kind)
    assert code == 2
    flat = " ".join(output.split())
    assert "bad.csv" in flat and where in flat and "Rien n'a été enregistré" in flat
    assert stored(files_dir) == []
    assert list((files_dir / "datasets" / "manifests").iterdir()) == []
    assert path.read_text(encoding="utf-8") == text


def test_bad_options_register_nothing(files_dir: Path) -> None:
    assert maillage("datasets", "add", str(ANNUAIRE), "--kind", "nope")[0] == 2
    assert (
        maillage("datasets", "add", str(ANNUAIRE), "--kind", "annuaire", "--as-of", "07/24")[0] == 2
    )
    assert not (files_dir / "datasets" / "manifests").exists() or not list(
        (files_dir / "datasets" / "manifests").iterdir()
    )


def test_remove_deletes_only_the_registry_copy(files_dir: Path, tmp_path: Path) -> None:
    # one file, valid as sites and as a supply CSV: two datasets sharing one stored copy
    path = tmp_path / "msp.csv"
    path.write_text("id,name,code_commune,fte\ne1,MSP Verdun,55545,2\n", encoding="utf-8")
    sites, supply = add(path, "sites"), add(path, "supply-csv")
    assert len(stored(files_dir)) == 1
    code, output = maillage("datasets", "remove", sites)
    assert code == 0, output
    assert len(stored(files_dir)) == 1 and maillage("datasets", "show", sites)[0] == 2
    assert maillage("datasets", "remove", supply)[0] == 0
    assert stored(files_dir) == []
    assert path.read_text(encoding="utf-8").startswith("id,name")  # the user's file stays
    assert maillage("datasets", "remove", supply)[0] == 2


def meuse_inputs(tmp_path: Path) -> dict[str, Path]:
    """A supply CSV, INSEE ages and an r5py matrix over some communes of the Meuse."""
    codes = ["55545", "55029", "55502", "55181", "55154"]
    supply = tmp_path / "offre.csv"
    supply.write_text("code_commune,fte\n" + "".join(f"{c},{i + 1}\n" for i, c in enumerate(codes)))
    ages = tmp_path / "ages.csv"
    bands = ["0014", "1529", "3044", "4559", "6074", "7589", "90P"]
    rows = [
        f"{c};" + ";".join(str(100 * (i + j + 1)) for j in range(7)) for i, c in enumerate(codes)
    ]
    ages.write_text(
        "CODGEO;" + ";".join(f"P21_POP{b}" for b in bands) + "\n" + "\n".join(rows) + "\n"
    )
    matrix = tmp_path / "temps.csv"
    pairs = [(o, d, 5.0 + 3 * i + j) for i, o in enumerate(codes) for j, d in enumerate(codes)]
    matrix.write_text(
        "from_id,to_id,travel_time\n" + "".join(f"{o},{d},{m}\n" for o, d, m in pairs if o != d)
    )
    return {"supply": supply, "ages": ages, "matrix": matrix}


def test_diagnose_with_datasets_equals_the_files(files_dir: Path, tmp_path: Path) -> None:
    inputs = meuse_inputs(tmp_path)
    supply = add(inputs["supply"], "supply-csv", "--as-of", "2025-01-01")
    ages, matrix = add(inputs["ages"], "ages"), add(inputs["matrix"], "matrix")
    common = ["diagnose", "--department", "55", "--method", "e2sfca"]
    code, output = maillage(
        *common, "--supply", str(inputs["supply"]), "--supply-format", "csv",
        "--ages", str(inputs["ages"]), "--travel", f"matrix:{inputs['matrix']}",
        "--out", str(tmp_path / "files-run"),
    )  # fmt: skip
    assert code == 0, output
    code, output = maillage(
        *common, "--supply", f"dataset:{supply}", "--ages", f"dataset:{ages}",
        "--travel", f"dataset:{matrix}", "--out", str(tmp_path / "dataset-run"),
    )  # fmt: skip
    assert code == 0, output
    by_files = pd.read_csv(tmp_path / "files-run" / "communes.csv", dtype={"code_commune": str})
    by_datasets = pd.read_csv(
        tmp_path / "dataset-run" / "communes.csv", dtype={"code_commune": str}
    )
    pd.testing.assert_frame_equal(by_files, by_datasets)
    assert np.isfinite(by_datasets.access).any() and by_datasets.supply.sum() == 15
    summary = json.loads((tmp_path / "dataset-run" / "summary.json").read_text())
    named = {d["id"]: d for d in summary["datasets"]}
    assert set(named) == {supply, ages, matrix}
    assert named[supply]["sha256"] == hashlib.sha256(inputs["supply"].read_bytes()).hexdigest()
    assert named[supply]["as_of"] == "2025-01-01"
    assert not summary["inputs"]["supply"]["synthetic"]
    plain = json.loads((tmp_path / "files-run" / "summary.json").read_text())
    assert plain["datasets"] == []


def test_plan_with_registered_existing_sites(files_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "existing.csv"
    path.write_text("id,name,code_commune\ne1,MSP Verdun,55545\ne2,MSP Bar-le-Duc,55029\n")
    existing = add(path, "sites")
    out = tmp_path / "plan"
    code, output = maillage(
        "plan", "--sites", "2", "--department", "55", "--existing", f"dataset:{existing}",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["existing_sites"] == 2
    assert [d["id"] for d in summary["datasets"]] == [existing]


def test_a_dataset_of_the_wrong_kind_or_unknown_is_refused(files_dir: Path, tmp_path: Path) -> None:
    ages = add(meuse_inputs(tmp_path)["ages"], "ages")
    # Its own output folder: the default, out/diagnostic, may hold a `make demo` result.
    out = ("--out", str(tmp_path / "out"))
    code, output = maillage("diagnose", "--department", "55", "--supply", f"dataset:{ages}", *out)
    assert code == 2 and "ages" in output
    code, output = maillage("diagnose", "--department", "55", "--travel", "dataset:matrix-0", *out)
    assert code == 2 and "inconnu" in output
