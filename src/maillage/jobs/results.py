"""Where a job leaves its files and how pages find them again.

A job writes under ``MAILLAGE_FILES_DIR/<kind>/<job id>/`` its usual outputs plus
``cartes.json`` — the maps' SVG panels and legends, drawn by the worker so that a page shows a
national map without computing geometry inside a web request. ``cartes.json`` is written last
and marks the result complete. The files outlive the job's record in Redis.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rq import Queue
from rq.job import Job

if TYPE_CHECKING:
    from maillage.datasets.catalogue import Catalogue

MAPS_FILE = "cartes.json"
JOB_TIMEOUT = timedelta(hours=1)
KEEP = timedelta(days=7)
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def is_job_id(text: str) -> bool:
    """Whether ``text`` has the form of our job ids (checked before it names a path or key)."""
    return _JOB_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class ResultKind:
    """A kind of job: its folder, its downloadable files and how many steps it counts."""

    folder: str
    downloads: dict[str, str]
    total_steps: int

    def directory(self, files_dir: Path, job_id: str) -> Path:
        return files_dir / self.folder / job_id


def job_catalogue(out: Path) -> Catalogue:
    """The dataset registry of the files directory a job writes into (``<files>/<kind>/<id>``)."""
    from maillage.datasets.catalogue import Catalogue

    return Catalogue(out.parents[1] / "datasets")


@dataclass(frozen=True)
class MapPanel:
    """One titled map: SVG panels (one per territory piece) and its legend."""

    title: str
    svg: str
    legend: list[tuple[str, str]]


def enqueue(
    queue: Queue,
    kind: ResultKind,
    function: Callable[[dict[str, Any], str], dict[str, Any]],
    parameters: dict[str, Any],
    files_dir: Path,
    owner: str,
) -> Job:
    """Queue ``function(parameters, out)`` with a fresh id that also names its folder."""
    job_id = uuid.uuid4().hex
    return queue.enqueue_call(
        function,
        args=(parameters, str(kind.directory(files_dir, job_id))),
        job_id=job_id,
        timeout=int(JOB_TIMEOUT.total_seconds()),
        result_ttl=int(KEEP.total_seconds()),
        failure_ttl=int(KEEP.total_seconds()),
        description=f"{kind.folder} {parameters}",
        meta={"kind": kind.folder, "owner": owner, "done": 0, "total": kind.total_steps},
    )


def write_maps(out: Path, maps: list[MapPanel]) -> None:
    """Write ``cartes.json`` whole or not at all (readers never see a half-written file)."""
    text = json.dumps([m.__dict__ for m in maps], ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{MAPS_FILE}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, out / MAPS_FILE)


@dataclass(frozen=True)
class JobResult:
    """The files of one finished job."""

    kind: ResultKind
    job_id: str
    directory: Path

    @classmethod
    def find(cls, kind: ResultKind, files_dir: Path, job_id: str) -> JobResult | None:
        """The complete result of ``job_id``, or None (unknown id, still running, failed)."""
        if not is_job_id(job_id):
            return None
        directory = kind.directory(files_dir, job_id)
        return cls(kind, job_id, directory) if (directory / MAPS_FILE).is_file() else None

    @classmethod
    def latest(cls, kind: ResultKind, files_dir: Path) -> JobResult | None:
        """The most recently completed result (the one a map page shows by default)."""
        marks = (files_dir / kind.folder).glob(f"*/{MAPS_FILE}")
        done = [(p.stat().st_mtime, p.parent.name) for p in marks if is_job_id(p.parent.name)]
        if not done:
            return None
        job_id = max(done)[1]
        return cls(kind, job_id, kind.directory(files_dir, job_id))

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.directory / "summary.json").read_text(encoding="utf-8"))

    @property
    def maps(self) -> list[MapPanel]:
        entries = json.loads((self.directory / MAPS_FILE).read_text(encoding="utf-8"))
        return [
            MapPanel(e["title"], e["svg"], [(label, colour) for label, colour in e["legend"]])
            for e in entries
        ]

    def download(self, name: str) -> Path | None:
        """The file behind a download link (e.g. ``csv``), None for names not offered."""
        file = self.kind.downloads.get(name)
        return self.directory / file if file else None
