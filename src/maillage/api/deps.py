"""The inputs of every route and page, as FastAPI ``Depends`` providers, in one place.

The routes read no application state themselves (settings, session factory, job queue, pools):
they receive it from these providers (the bearer-token check in :mod:`maillage.api.auth` reads
the signing key and the principals' cache), so that the same domain calls run from a job, the
CLI or a test without a request. The principal of an API request comes from its bearer token;
a token that proves no principal is kept as the refusal the repository audits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from maillage.api import auth, errors
from maillage.care.errors import Unauthenticated
from maillage.care.principal import Principal
from maillage.care.repository import JobQueue, Repository
from maillage.config import Settings


def settings(request: Request) -> Settings:
    """The server's settings."""
    found: Settings = request.app.state.settings
    return found


def sessions(request: Request) -> sessionmaker[Session]:
    """The database session factory."""
    found: sessionmaker[Session] = request.app.state.sessions
    return found


def job_queue(request: Request) -> JobQueue:
    """The queue of the worker's jobs."""
    found: JobQueue = request.app.state.job_queue
    return found


def started(request: Request) -> str:
    """When this server process started (the CapabilityStatement's date)."""
    found: str = request.app.state.started
    return found


def login_limiter(request: Request) -> auth.LoginLimiter:
    """The limiter of login attempts (one per server process)."""
    found: auth.LoginLimiter = request.app.state.login_limiter
    return found


def client_address(request: Request) -> str:
    """The client's address, which login attempts are counted by."""
    return request.client.host if request.client else "unknown"


async def credentials(request: Request) -> Principal | Unauthenticated | None:
    """The principal of the bearer token (None: anonymous), or the refusal it earned."""
    try:
        return await auth.optional_principal_async(request)
    except Unauthenticated as refusal:
        return refusal


def repository_for(request: Request, principal: Principal | Unauthenticated | None) -> Repository:
    """The repository of ``principal`` acting through ``request`` (pages pass their session's
    principal; API routes get theirs from :func:`repository`)."""
    state = request.app.state
    refused = principal if isinstance(principal, Unauthenticated) else None
    return Repository(
        state.sessions,
        state.settings,
        principal if isinstance(principal, Principal) else None,
        address=request.client.host if request.client else "",
        refusal=refused,
        jobs=state.job_queue,
        reads=state.reads,
        answers=state.slot_answers,
        explain=errors.explain,
    )


async def repository(
    request: Request,
    principal: Annotated[Principal | Unauthenticated | None, Depends(credentials)],
) -> Repository:
    """The repository of the request's principal. (Async: it does no I/O, and FastAPI would
    run a plain function in a worker thread, one more hop per request.)"""
    return repository_for(request, principal)


Repo = Annotated[Repository, Depends(repository)]
AppSettings = Annotated[Settings, Depends(settings)]
Sessions = Annotated[sessionmaker[Session], Depends(sessions)]
LoginLimits = Annotated[auth.LoginLimiter, Depends(login_limiter)]
ClientAddress = Annotated[str, Depends(client_address)]
