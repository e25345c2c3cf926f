"""Registered datasets: files stored once by checksum, one JSON manifest per dataset."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from maillage.datasets.validation import KINDS, describe
from maillage.errors import InputError

CHUNK_BYTES = 8 << 20  # copied and hashed a chunk at a time: memory stays bounded
#: Told (bytes done, bytes in all) while a file is copied, then while it is validated.
Progress = Callable[[str, int, int], None]


class DatasetError(ValueError):
    """An unknown dataset id, or a dataset of the wrong kind for where it is used."""


@dataclass(frozen=True)
class Dataset:
    """What the registry knows of one dataset; ``stored`` is its file under ``objects/``."""

    id: str
    kind: str
    label: str
    as_of: str | None
    source: str
    added_at: str
    sha256: str
    size_bytes: int
    stored: str
    rows: dict = field(default_factory=dict)
    dropped: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def reference(self) -> dict:
        """How ``summary.json`` names it: enough to find the very file again."""
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "sha256": self.sha256,
            "as_of": self.as_of,
        }


class Catalogue:
    """The registry's folder: ``objects/<sha256><suffix>`` and ``manifests/<id>.json``."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            from maillage.config import files_dir  # the server's settings cost 0.5 s to import

            root = files_dir() / "datasets"
        self.root = root
        self.objects = self.root / "objects"
        self.manifests = self.root / "manifests"

    def path_of(self, dataset: Dataset) -> Path:
        return self.objects / dataset.stored

    def list(self) -> list[Dataset]:
        """Every dataset, oldest first."""
        if not self.manifests.is_dir():
            return []
        found = [self._read(path) for path in self.manifests.glob("*.json")]
        return sorted(found, key=lambda d: (d.added_at, d.id))

    def get(self, dataset_id: str) -> Dataset:
        path = self.manifests / f"{dataset_id}.json"
        if "/" in dataset_id or not path.is_file():
            known = ", ".join(d.id for d in self.list()) or "aucun"
            raise DatasetError(f"jeu de données inconnu : {dataset_id!r} (enregistrés : {known})")
        return self._read(path)

    def add(
        self,
        source: Path,
        kind: str,
        label: str | None = None,
        as_of: str | None = None,
        progress: Progress | None = None,
        origin: str | None = None,
    ) -> tuple[Dataset, bool]:
        """Copy, hash and fully validate ``source``, then record it; ``(dataset, new)``.

        The copy is validated, not the source, so that what is recorded is what is stored.
        On any error nothing is left behind. The same file added again as the same kind is
        the same dataset (``new`` is false). ``origin`` names the file where ``source`` is only
        its temporary copy (an upload's file name): errors, label and source then say it.
        """
        if kind not in KINDS:
            raise DatasetError(f"--kind doit être l'un de {', '.join(KINDS)}, pas {kind!r}")
        if as_of is not None:
            try:
                as_of = date.fromisoformat(as_of).isoformat()
            except ValueError:
                raise DatasetError(
                    f"--as-of doit être une date AAAA-MM-JJ, pas {as_of!r}"
                ) from None
        if not source.is_file():
            raise InputError(source, "fichier introuvable")
        named = origin or str(source)
        report = progress or (lambda stage, done, total: None)
        self.objects.mkdir(parents=True, exist_ok=True)
        self.manifests.mkdir(parents=True, exist_ok=True)
        suffix = "".join(source.suffixes[-1:]).lower()
        with self.partial(suffix) as copy:
            sha256 = _copy_hashing(source, copy, report)
            dataset_id = f"{kind}-{sha256[:12]}"
            manifest = self.manifests / f"{dataset_id}.json"
            if manifest.is_file():
                return self._read(manifest), False
            try:
                found = describe(kind, copy, lambda done, total: report("validation", done, total))
            except InputError as error:  # name the user's file, not the registry's copy
                raise InputError(
                    named, error.reason, line=error.line, column=error.column
                ) from None
            stored = f"{sha256}{suffix}"
            os.replace(copy, self.objects / stored)  # the same bytes if already there
        dataset = Dataset(
            id=dataset_id,
            kind=kind,
            label=label or Path(named).name,
            as_of=as_of,
            source=origin or str(source.resolve()),
            added_at=datetime.now(UTC).isoformat(timespec="seconds"),
            sha256=sha256,
            size_bytes=(self.objects / stored).stat().st_size,
            stored=stored,
            rows=found.rows,
            dropped=found.dropped,
            notes=found.notes,
        )
        _write_atomically(manifest, json.dumps(asdict(dataset), ensure_ascii=False, indent=2))
        return dataset, True

    def remove(self, dataset_id: str) -> Dataset:
        """Forget a dataset and delete the registry's stored copy, unless another dataset
        shares it; the file it was added from is never touched."""
        dataset = self.get(dataset_id)
        (self.manifests / f"{dataset.id}.json").unlink()
        if not any(other.stored == dataset.stored for other in self.list()):
            self.path_of(dataset).unlink(missing_ok=True)
        return dataset

    @contextlib.contextmanager
    def partial(self, suffix: str) -> Iterator[Path]:
        """A temporary file beside the objects, removed unless renamed into place."""
        handle, name = tempfile.mkstemp(prefix=".adding-", suffix=suffix, dir=self.objects)
        os.close(handle)
        path = Path(name)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    @staticmethod
    def _read(path: Path) -> Dataset:
        return Dataset(**json.loads(path.read_text(encoding="utf-8")))


def _copy_hashing(source: Path, target: Path, report: Progress) -> str:
    """Copy ``source`` to ``target`` a chunk at a time; its SHA-256 (hex)."""
    digest = hashlib.sha256()
    total, done = source.stat().st_size, 0
    with source.open("rb") as reader, target.open("wb") as writer:
        while chunk := reader.read(CHUNK_BYTES):
            digest.update(chunk)
            writer.write(chunk)
            done += len(chunk)
            report("copie", done, total)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    """Write beside ``path`` then rename: a reader sees the old manifest or the whole new one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
