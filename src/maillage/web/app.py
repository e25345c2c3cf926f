"""Mount the web pages on the server's FastAPI app (one call from ``create_app``)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from maillage.jobs.queue import JobSettings, job_queue
from maillage.web import (
    consultations,
    diagnostics,
    followup,
    login,
    network,
    plans,
    sites,
    teleconsultation,
    teleexpertise_pages,
)
from maillage.web.rendering import EXCEPTION_HANDLERS


def install(app: FastAPI, jobs: JobSettings | None = None) -> None:
    """Add the pages, their error pages and ``/static`` to ``app`` (built by ``create_app``).

    The app must carry ``state.settings``, ``state.sessions`` and ``state.login_limiter``; the
    job queue comes from ``MAILLAGE_REDIS_URL``/``MAILLAGE_JOBS_QUEUE`` unless ``jobs`` is given.
    """
    app.state.job_queue = job_queue(jobs)
    for exception, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exception, handler)
    app.include_router(login.router)
    app.include_router(diagnostics.router)
    app.include_router(plans.router)
    app.include_router(sites.router)
    app.include_router(network.router)
    app.include_router(teleconsultation.router)
    app.include_router(consultations.router)
    app.include_router(teleexpertise_pages.router)
    app.include_router(followup.router)
    static = StaticFiles(directory=str(files("maillage.web") / "static"))
    app.mount("/static", static, name="static")
