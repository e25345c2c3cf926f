"""Mount the web pages on the server's FastAPI app (one call from ``create_app``)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from maillage.web import (
    accounts,
    availability_pages,
    consultations,
    declared_activity,
    diagnostics,
    followup,
    identities,
    login,
    network,
    plans,
    site_bookings,
    sites,
    teleconsultation,
    teleexpertise_pages,
)
from maillage.web.rendering import EXCEPTION_HANDLERS


def install(app: FastAPI) -> None:
    """Add the pages, their error pages and ``/static`` to ``app`` (built by ``create_app``).

    The app must carry ``state.settings``, ``state.sessions``, ``state.login_limiter`` and
    ``state.job_queue`` (where the pages' diagnoses and plans go).
    """
    for exception, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exception, handler)
    app.include_router(login.router)
    app.include_router(diagnostics.router)
    app.include_router(plans.router)
    app.include_router(sites.router)
    app.include_router(network.router)
    app.include_router(teleconsultation.router)
    app.include_router(identities.router)
    app.include_router(consultations.router)
    app.include_router(site_bookings.router)
    app.include_router(availability_pages.router)
    app.include_router(declared_activity.router)
    app.include_router(teleexpertise_pages.router)
    app.include_router(followup.router)
    app.include_router(accounts.router)
    static = StaticFiles(directory=str(files("maillage.web") / "static"))
    app.mount("/static", static, name="static")
