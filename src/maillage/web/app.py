"""Mount the web pages on the server's FastAPI app (one call from ``create_app``)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from maillage.web import (
    accounts,
    audit_pages,
    availability_pages,
    care_plans,
    consultations,
    dataset_pages,
    declared_activity,
    diagnostics,
    followup,
    identities,
    login,
    network,
    patient_space,
    plans,
    projects,
    psc_login,
    second_factor,
    site_bookings,
    sites,
    teleconsultation,
    teleexpertise_pages,
    teleexpertise_requests,
)
from maillage.web.rendering import EXCEPTION_HANDLERS, html_for_browsers

#: Failures a browser sees as a French page, with the status their API answer would carry.
BROWSER_STATUSES = {HTTPException: 500, RequestValidationError: 422, Exception: 500}


def install(app: FastAPI) -> None:
    """Add the pages, their error pages and ``/static`` to ``app`` (built by ``create_app``).

    The app must carry ``state.settings``, ``state.sessions``, ``state.login_limiter`` and
    ``state.job_queue`` (where the pages' diagnoses and plans go).
    """
    for exception, handler in EXCEPTION_HANDLERS.items():
        app.add_exception_handler(exception, handler)
    for failure, default in BROWSER_STATUSES.items():  # the API's handlers are installed first
        app.add_exception_handler(
            failure, html_for_browsers(app.exception_handlers[failure], default)
        )
    app.include_router(login.router)
    app.include_router(second_factor.router)
    app.include_router(psc_login.router)
    app.include_router(diagnostics.router)
    app.include_router(plans.router)
    app.include_router(dataset_pages.router)
    app.include_router(sites.router)
    app.include_router(network.router)
    app.include_router(teleconsultation.router)
    app.include_router(identities.router)
    app.include_router(consultations.router)
    app.include_router(site_bookings.router)
    app.include_router(availability_pages.router)
    app.include_router(declared_activity.router)
    app.include_router(teleexpertise_requests.router)  # before /teleexpertises/{task_id}
    app.include_router(teleexpertise_pages.router)
    app.include_router(followup.router)
    app.include_router(care_plans.router)
    app.include_router(accounts.router)
    app.include_router(audit_pages.router)
    app.include_router(patient_space.router)
    app.include_router(projects.router)
    static = StaticFiles(directory=str(files("maillage.web") / "static"))
    app.mount("/static", static, name="static")
