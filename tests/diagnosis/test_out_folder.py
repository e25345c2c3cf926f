"""``--out``: a command never deletes or moves what it did not write (diagnose, plan, report)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from maillage.cli import app
from maillage.outputs.atomic import MARKER

runner = CliRunner()
#: Each command with the options of a quick run on a small area.
COMMANDS = {
    "diagnose": ["diagnose", "--department", "55"],
    "plan": ["plan", "--sites", "2", "--department", "55"],
    "report": ["report", "--department", "55", "--period", "2025"],
}


@pytest.fixture(autouse=True)
def empty_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``maillage report`` reads an (empty) network database."""
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'network.sqlite'}")


def user_folder(root: Path) -> Path:
    """A folder of someone's own work: a document and a sub-folder with a file in it."""
    folder = root / "mes-documents"
    (folder / "archives").mkdir(parents=True)
    (folder / "rapport.docx").write_bytes(b"PK\x03\x04 my report")
    (folder / "archives" / "2024.csv").write_text("a,b\n1,2\n")
    return folder


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path below ``root`` (hidden ones too) with its bytes (None for a folder)."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("command", COMMANDS)
def test_a_users_folder_is_refused_and_left_intact(tmp_path: Path, command: str) -> None:
    folder = user_folder(tmp_path)
    before = snapshot(tmp_path)
    for extra in ([], ["--overwrite"]):
        code, output = run(*COMMANDS[command], *extra, "--out", str(folder))
        assert code == 2, output
        assert "n'est pas un résultat" in output and "rien n'a été modifié" in output
        assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_an_existing_file_is_refused(tmp_path: Path, command: str) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mes notes")
    code, output = run(*COMMANDS[command], "--out", str(target))
    assert code == 2, output
    assert "n'est pas un dossier" in output
    assert target.read_text() == "mes notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("command", COMMANDS)
def test_the_current_folder_is_refused_with_nothing_left_behind(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = user_folder(tmp_path)
    monkeypatch.chdir(folder)
    before = snapshot(tmp_path)
    code, output = run(*COMMANDS[command], "--out", ".")
    assert code == 2, output
    assert "dossier courant" in output
    assert snapshot(tmp_path) == before


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished diagnosis of the Meuse."""
    out = tmp_path_factory.mktemp("previous") / "diagnostic"
    code, output = run(*COMMANDS["diagnose"], "--out", str(out))
    assert code == 0, output
    return out


def test_an_output_lists_what_it_wrote(previous: Path) -> None:
    marker = json.loads((previous / MARKER).read_text())
    assert marker["command"] == "diagnose"
    assert set(marker["files"]) == {p.name for p in previous.iterdir()} - {MARKER}


def test_a_previous_output_is_replaced_only_with_overwrite(previous: Path, tmp_path: Path) -> None:
    out = tmp_path / "diagnostic"
    shutil.copytree(previous, out)
    (out / "summary.json").write_text('{"old": true}')
    neighbour = user_folder(tmp_path)
    kept = snapshot(neighbour)
    code, output = run(*COMMANDS["diagnose"], "--out", str(out))
    assert code == 2, output
    assert "--overwrite" in output
    assert (out / "summary.json").read_text() == '{"old": true}'

    code, output = run(*COMMANDS["diagnose"], "--overwrite", "--out", str(out))
    assert code == 0, output
    assert json.loads((out / "summary.json").read_text())["method"] == "apl"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diagnostic", "mes-documents"]
    assert snapshot(neighbour) == kept


def test_a_users_file_inside_a_previous_output_stops_the_overwrite(
    previous: Path, tmp_path: Path
) -> None:
    out = tmp_path / "diagnostic"
    shutil.copytree(previous, out)
    (out / "commentaires.txt").write_text("à garder")
    before = snapshot(tmp_path)
    code, output = run(*COMMANDS["diagnose"], "--overwrite", "--out", str(out))
    assert code == 2, output
    assert "commentaires.txt" in output
    assert snapshot(tmp_path) == before


def test_another_commands_output_is_not_replaced(previous: Path, tmp_path: Path) -> None:
    out = tmp_path / "diagnostic"
    shutil.copytree(previous, out)
    before = snapshot(tmp_path)
    code, output = run(*COMMANDS["plan"], "--overwrite", "--out", str(out))
    assert code == 2, output
    assert "maillage plan" in output
    assert snapshot(tmp_path) == before
