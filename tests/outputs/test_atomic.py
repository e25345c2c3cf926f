"""An output directory is replaced whole or not at all, and only when it is a previous output."""

import json

import pytest

from maillage.outputs.atomic import MARKER, OutputRefused, atomic_directory


def test_success_replaces_previous_content(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out, "diagnose") as tmp:
        (tmp / "old.txt").write_text("old")
        (tmp / "maps").mkdir()
        (tmp / "maps" / "old.svg").write_text("<svg/>")
    with atomic_directory(out, "diagnose", overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "new.txt"]
    assert json.loads((out / MARKER).read_text())["files"] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError), atomic_directory(out, "diagnose") as tmp:
        (tmp / "communes.csv").write_text("partial")
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_run(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out, "diagnose") as tmp:
        (tmp / "summary.json").write_text("{}")
    with pytest.raises(ValueError), atomic_directory(out, "diagnose", overwrite=True):
        raise ValueError("bad input")
    assert (out / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_empty_folder_is_filled(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with atomic_directory(out, "plan") as tmp:
        (tmp / "sites.csv").write_text("rank\n")
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "sites.csv"]


@pytest.mark.parametrize(
    "marker",
    [
        None,
        "not json",
        json.dumps({"command": "plan", "files": ["a.txt"]}),
        json.dumps({"command": "diagnose", "files": "a.txt"}),
    ],
)
def test_a_folder_that_is_not_a_previous_output_is_never_touched(tmp_path, marker):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("mine")
    if marker is not None:
        (out / MARKER).write_text(marker)
    with pytest.raises(OutputRefused), atomic_directory(out, "diagnose", overwrite=True) as tmp:
        (tmp / "a.txt").write_text("theirs")
    assert (out / "a.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_symbolic_link_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputRefused), atomic_directory(link, "diagnose"):
        pass
    assert link.is_symlink() and list(real.iterdir()) == []


def test_a_file_added_during_the_run_stops_the_replacement(tmp_path):
    out = tmp_path / "out"
    with atomic_directory(out, "diagnose") as tmp:
        (tmp / "summary.json").write_text("{}")
    with (
        pytest.raises(OutputRefused, match=r"notes\.txt"),
        atomic_directory(out, "diagnose", overwrite=True) as tmp,
    ):
        (tmp / "summary.json").write_text('{"new": 1}')
        (out / "notes.txt").write_text("written by hand meanwhile")
    assert (out / "summary.json").read_text() == "{}"
    assert (out / "notes.txt").read_text() == "written by hand meanwhile"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
