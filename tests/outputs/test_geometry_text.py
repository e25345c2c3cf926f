"""The geometry text cache: a cached run writes byte for byte what an uncached one writes, only
in the cache folder and ``--out``; an entry damaged or left half-written is ignored and
rebuilt."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from maillage.diagnosis.outputs import write_outputs
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import Diagnosis, run_diagnosis
from maillage.outputs import geometry_text
from maillage.territory.communes import CACHE_ENV, cache_path, load_communes

#: The files whose text is drawn from the communes' polygons.
DRAWN = ("communes.geojson", "carte.html")


@pytest.fixture(scope="module")
def bretagne() -> Diagnosis:
    """A region of 1,200 communes: above the size from which geometry text is cached."""
    diagnosis = run_diagnosis(DiagnosisParameters(region="53"))
    assert len(diagnosis.communes) > geometry_text.MIN_CACHED
    return diagnosis


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder but for the commune table (rebuilding it takes seconds)."""
    load_communes()
    folder = tmp_path / "cache"
    folder.mkdir()
    shutil.copy(cache_path(), folder / cache_path().name)
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


def written(diagnosis: Diagnosis, out: Path) -> dict[str, bytes]:
    write_outputs(diagnosis, out)
    return {name: (out / name).read_bytes() for name in DRAWN}


def entries(cache: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((cache / geometry_text.FOLDER).iterdir())}


def test_a_cached_run_writes_what_an_uncached_one_writes(
    bretagne: Diagnosis, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as uncached:
        uncached.setattr(geometry_text, "MIN_CACHED", 10**9)
        computed = written(bretagne, tmp_path / "uncached")
    assert not (cache / geometry_text.FOLDER).exists()
    first = written(bretagne, tmp_path / "first")  # computes and keeps the text
    kept = entries(cache)
    assert sorted(name.split("-")[0] for name in kept) == ["geojson", "svg"]
    second = written(bretagne, tmp_path / "second")  # reads it
    assert entries(cache) == kept
    assert first == computed and second == computed
    assert b'"name":"SYNTHETIC supply' in second["communes.geojson"]
    assert "SYNTHETIC" in second["carte.html"].decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "first", "second", "uncached"]
    assert sorted(p.name for p in cache.iterdir()) == [cache_path().name, geometry_text.FOLDER]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: b"",
        lambda data: data[:-9] + b"#" + data[-8:],  # one character changed, length kept
        lambda data: b"maillage 1 0000 12 00000000\nnot the text",
    ],
    ids=["truncated", "empty", "altered", "foreign"],
)
def test_a_damaged_entry_is_ignored_and_rebuilt(
    bretagne: Diagnosis, cache: Path, tmp_path: Path, damage
) -> None:
    expected = written(bretagne, tmp_path / "first")
    kept = entries(cache)
    for name, data in kept.items():
        (cache / geometry_text.FOLDER / name).write_bytes(damage(data))
    again = written(bretagne, tmp_path / "again")
    assert again == expected
    assert entries(cache) == kept


def test_entries_beyond_the_kept_number_are_removed(
    bretagne: Diagnosis, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(geometry_text, "KEPT", 1)
    written(bretagne, tmp_path / "region")
    region = entries(cache)
    finistere = run_diagnosis(DiagnosisParameters(department="29"))
    monkeypatch.setattr(geometry_text, "MIN_CACHED", 10)
    written(finistere, tmp_path / "department")
    kept = entries(cache)
    assert len(kept) == 2 and not set(kept) & set(region)
    assert not list((cache / geometry_text.FOLDER).glob(".*"))  # no temporary file left
