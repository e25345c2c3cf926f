"""An output directory is replaced whole or not at all."""

import pytest

from maillage.outputs.atomic import atomic_directory


def test_success_replaces_previous_content(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with atomic_directory(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failure_leaves_nothing_half_written(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_directory(out) as tmp:
        (tmp / "communes.csv").write_text("partial")
        raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    with pytest.raises(ValueError), atomic_directory(out):
        raise ValueError("bad input")
    assert (out / "summary.json").read_text() == "{}"
