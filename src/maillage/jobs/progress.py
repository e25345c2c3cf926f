"""Progress of a job, written by the worker into the job's metadata and read by the pages.

A job counts named steps; the pages show "step k of n: label" and a progress bar.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from rq import get_current_job
from rq.job import Job, JobStatus

#: What each queue status means to a person, in French.
STATUS_LABELS = {
    JobStatus.QUEUED: "En attente d'un processus de calcul",
    JobStatus.STARTED: "En cours",
    JobStatus.FINISHED: "Terminé",
    JobStatus.FAILED: "Échec",
    JobStatus.STOPPED: "Arrêté",
    JobStatus.CANCELED: "Annulé",
}


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job: its status, steps done out of the total, and the current step."""

    status: str
    done: int
    total: int
    label: str
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == JobStatus.FINISHED

    @property
    def over(self) -> bool:
        """True once nothing more will happen: the page stops polling."""
        return self.status in (
            JobStatus.FINISHED,
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
        )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(JobStatus(self.status), self.status)


class StepRecorder:
    """A ``step(label)`` context-manager factory, as the pipelines take, saving progress."""

    def __init__(self, job: Job, total: int) -> None:
        self.job = job
        self.total = total
        self.done = 0

    @classmethod
    def for_current_job(cls, total: int) -> StepRecorder:
        """The recorder of the job this worker is running (a job function's first line)."""
        job = get_current_job()
        if job is None:
            raise RuntimeError("job functions run inside `maillage worker`")
        return cls(job, total)

    def _save(self, label: str) -> None:
        self.job.meta.update(done=self.done, total=self.total, label=label)
        self.job.save_meta()

    def note(self, label: str) -> None:
        """Show ``label`` (e.g. a solver stage) without counting a step."""
        self._save(label)

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[None]:
        """Record ``label`` as the running step, then count it done."""
        self._save(label)
        yield
        self.done += 1
        self._save(label)


def read_progress(job: Job, total: int) -> Progress:
    """The job's progress as last saved by the worker (``total`` until the worker says)."""
    status = job.get_status(refresh=True)
    meta = job.get_meta(refresh=True)
    error = None
    if status == JobStatus.FAILED:
        result = job.latest_result()
        text = (result.exc_string if result else None) or ""
        error = text.strip().splitlines()[-1] if text.strip() else "erreur inconnue"
    total = int(meta.get("total", total))
    done = total if status == JobStatus.FINISHED else min(int(meta.get("done", 0)), total)
    return Progress(
        status=str(status.value if status else JobStatus.QUEUED.value),
        done=done,
        total=total,
        label=str(meta.get("label", "")),
        error=error,
    )
