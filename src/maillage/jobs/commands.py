"""`maillage worker`: the process that runs queued jobs (the lead's ``cli.py`` calls register)."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    burst: Annotated[
        bool, typer.Option("--burst", help="Stop once the queue is empty (scripts, tests).")
    ] = False,
) -> None:
    """Run background jobs (diagnoses) from the Redis queue until stopped."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from rq import Worker

    from maillage.jobs.queue import JobSettings, job_queue

    settings = JobSettings()
    queue = job_queue(settings)
    try:
        queue.connection.ping()
    except RedisConnectionError as error:
        typer.echo(f"error: Redis unreachable (MAILLAGE_REDIS_URL): {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"worker on queue {settings.jobs_queue!r}")
    Worker([queue], connection=queue.connection).work(burst=burst, with_scheduler=True)


def register(app: typer.Typer) -> None:
    """Add ``maillage worker`` to the ``maillage`` command."""
    app.command("worker")(worker)
