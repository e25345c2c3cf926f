"""The API's part of the application: its error answers, request limits and routers."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI

from maillage.api import (
    billing,
    bundles,
    errors,
    fhir,
    identity,
    monitoring,
    projects,
    scheduling,
    tokens,
    worklists,
)
from maillage.api.limits import RequestLimits


def install(app: FastAPI, max_request_bytes: int, uploads: Mapping[str, int]) -> None:
    """Add the OperationOutcome error handlers, the request limits (``uploads``: the paths
    with their own limit) and the API's routes, the busiest first."""
    errors.install(app)
    app.add_middleware(RequestLimits, max_bytes=max_request_bytes, uploads=uploads)
    for router in (
        tokens.router,
        scheduling.router,
        identity.router,
        fhir.router,
        projects.router,
        bundles.router,
        worklists.router,
        monitoring.router,
        billing.router,
    ):
        app.include_router(router)
    fhir.busiest_first(app)
