"""Pages shared by every kind of job: progress (polled by htmx), result, downloads.

A job page shows the result once the worker has written it, and the progress until then.
Tables computed at request time (the network page's) download the same way as a job's files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job

from maillage.jobs.progress import Progress, read_progress
from maillage.jobs.results import JobResult, ResultKind, is_job_id
from maillage.tabular import STANDARD, CsvDialect, csv_bytes
from maillage.web.rendering import PageError, render

UNREACHABLE = "Le service de calcul (Redis) est indisponible : réessayez plus tard."
MEDIA_TYPES = {"csv": "text/csv", "impact": "text/csv", "geojson": "application/geo+json"}
EXTENSIONS = {"csv": "csv", "impact": "csv", "geojson": "geojson"}


def files_dir(request: Request) -> Path:
    """Where the jobs write their results (a ``Depends`` provider: :data:`FilesDir`)."""
    return Path(request.app.state.settings.files_dir)


FilesDir = Annotated[Path, Depends(files_dir)]


def job_queue(request: Request) -> Queue:
    """The queue of the analyses (a ``Depends`` provider: :data:`Jobs`)."""
    found: Queue = request.app.state.job_queue
    return found


Jobs = Annotated[Queue, Depends(job_queue)]


def queue_or_503(enqueue: Callable[[], Job]) -> Job:
    """Run ``enqueue``; an unreachable Redis becomes a French 503 page."""
    try:
        return enqueue()
    except RedisError as error:
        raise PageError(503, UNREACHABLE) from error


def progress_of(queue: Queue, kind: ResultKind, job_id: str) -> Progress:
    if not is_job_id(job_id):
        raise PageError(404, "Ce calcul n'existe pas.")
    try:
        job = Job.fetch(job_id, connection=queue.connection)
        return read_progress(job, kind.total_steps)
    except NoSuchJobError as error:
        raise PageError(404, "Ce calcul n'existe pas ou a expiré.") from error
    except RedisError as error:
        raise PageError(503, UNREACHABLE) from error


def job_page(
    request: Request,
    files: Path,
    queue: Queue,
    kind: ResultKind,
    job_id: str,
    template: str,
    context: Callable[[JobResult], dict[str, Any]],
) -> HTMLResponse:
    """``template`` with the result when it is there, otherwise the job's progress."""
    result = JobResult.find(kind, files, job_id)
    if result is not None:
        return render(request, template, {"resultat": result, **context(result)})
    progress = progress_of(queue, kind, job_id)
    base = f"/{kind.folder}/{job_id}"
    return render(request, "suivi.html", {"base": base, "progression": progress})


def progress_fragment(
    request: Request, queue: Queue, kind: ResultKind, job_id: str
) -> HTMLResponse:
    """The polled fragment; once the job is done it asks htmx to reload the whole page."""
    progress = progress_of(queue, kind, job_id)
    headers = {"HX-Refresh": "true"} if progress.finished else None
    context = {"base": f"/{kind.folder}/{job_id}", "progression": progress}
    return render(request, "_progression.html", context, headers=headers)


def download(files: Path, kind: ResultKind, job_id: str, name: str) -> FileResponse:
    """One of the result's files, as an attachment named after the job."""
    result = JobResult.find(kind, files, job_id)
    path = result.download(name) if result else None
    if path is None:
        raise PageError(404, "Ce fichier n'existe pas.")
    filename = f"{kind.folder}-{name}-{job_id}.{EXTENSIONS[name]}"
    return FileResponse(path, media_type=MEDIA_TYPES[name], filename=filename)


def csv_attachment(table: pd.DataFrame, filename: str, dialect: CsvDialect = STANDARD) -> Response:
    """``table`` as a CSV attachment named ``filename``, typed like a job's CSV files, written
    by the product's one CSV writer (formula-looking text neutralised; ``excel-fr`` for French
    Excel)."""
    return Response(
        csv_bytes(table, dialect),
        media_type=MEDIA_TYPES["csv"],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
