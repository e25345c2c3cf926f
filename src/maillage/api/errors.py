"""Every error as a FHIR OperationOutcome: no HTML page, no stack trace, a precise 4xx status.

Handlers cover the domain's refusals (:mod:`maillage.care.errors`, mapped to their status in
:data:`STATUSES`), the application's own :class:`FHIRError`, Starlette's routing errors (404, 405),
FastAPI's request validation (422), the database refusing a value (400: a number out of its
range, a character PostgreSQL cannot store, which only a request can bring in), a database
connection found dead, by SQLAlchemy or by the asynchronous pool's psycopg (503: the pool
replaces it, the client sends again) and, last,
anything unexpected: logged in full server-side, answered with a bare 500 OperationOutcome.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from maillage.care import errors as domain

logger = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"
QUERY_CANCELED = "57014"
"""PostgreSQL's SQLSTATE for a statement cancelled by its timeout or a cancel request."""

# The FHIR issue-type code that best describes each status.
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
}


#: The status answering each domain refusal (the closest class in its MRO counts).
STATUSES: dict[type[domain.DomainError], int] = {
    domain.DomainError: 400,
    domain.Invalid: 400,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.ReadOnly: 405,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.PreconditionFailed: 412,
    domain.TooLarge: 413,
    domain.Unsupported: 415,
    domain.Unprocessable: 422,
}
BEARER = {"WWW-Authenticate": "Bearer"}


def status_of(error: domain.DomainError) -> int:
    """The HTTP status of a domain refusal."""
    return next(STATUSES[kind] for kind in type(error).__mro__ if kind in STATUSES)


def explain(error: domain.DomainError) -> str:
    """A refusal as the audit trail records it: status, then the message."""
    return f"{status_of(error)} {error.message}"


class FHIRResponse(JSONResponse):
    """JSON response labelled ``application/fhir+json``, serialised by orjson (the standard
    library's encoder was 2 % of the server's CPU per booking, issue 23): the same compact,
    unescaped UTF-8 text; what orjson refuses (an integer beyond 64 bits, a non-string key)
    goes through the standard encoder as before."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        try:
            return orjson.dumps(content)
        except orjson.JSONEncodeError:
            return super().render(content)


class FHIRError(Exception):
    """An error answered with an OperationOutcome: status, message, optional issue code."""

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        code: str | None = None,
        issues: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or _ISSUE_CODES.get(status, "processing")
        self.issues = issues
        self.headers = dict(headers or {})


def operation_outcome(
    diagnostics: str, code: str, issues: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An OperationOutcome with one error issue, or the given ones."""
    return {
        "resourceType": "OperationOutcome",
        "issue": issues or [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


def error_response(error: FHIRError) -> FHIRResponse:
    """The HTTP response for a :class:`FHIRError`."""
    body = operation_outcome(error.diagnostics, error.code, error.issues)
    return FHIRResponse(body, status_code=error.status, headers=error.headers)


def from_domain(error: domain.DomainError) -> FHIRError:
    """The FHIR error answering a domain refusal (401s ask for a bearer token)."""
    headers = BEARER if isinstance(error, domain.Unauthenticated) else None
    status = status_of(error)
    return FHIRError(status, error.message, code=error.code, issues=error.issues, headers=headers)


async def _domain_error(_request: Request, error: Exception) -> FHIRResponse:
    assert isinstance(error, domain.DomainError)
    return error_response(from_domain(error))


async def _fhir_error(_request: Request, error: Exception) -> FHIRResponse:
    assert isinstance(error, FHIRError)
    return error_response(error)


async def _http_error(_request: Request, error: Exception) -> FHIRResponse:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    return error_response(FHIRError(error.status_code, detail, headers=error.headers))


async def _validation_error(_request: Request, error: Exception) -> FHIRResponse:
    assert isinstance(error, RequestValidationError)
    issues = [
        {
            "severity": "error",
            "code": "invalid",
            "diagnostics": str(item.get("msg", "invalid")),
            "expression": [".".join(str(part) for part in item.get("loc", ()))],
        }
        for item in error.errors()
    ]
    return error_response(FHIRError(422, "invalid request", issues=issues))


async def _data_error(request: Request, error: Exception) -> FHIRResponse:
    logger.warning("database refused a value on %s %s: %s", request.method, request.url.path, error)
    return error_response(
        FHIRError(400, "a value of the request is out of range or holds a forbidden character")
    )


async def _lost_database(request: Request, error: Exception) -> FHIRResponse:
    assert isinstance(error, DBAPIError)
    if getattr(error.orig, "sqlstate", None) == QUERY_CANCELED:
        logger.warning(
            "statement cancelled on %s %s (over the statement timeout, or its client left)",
            request.method,
            request.url.path,
        )
        return error_response(
            FHIRError(503, "the request ran over the server's time limit", code="timeout")
        )
    if not error.connection_invalidated:
        return await _unexpected(request, error)
    logger.warning("database connection lost on %s %s: %s", request.method, request.url.path, error)
    # The pool has dropped the dead connection: the same request sent again gets a fresh one.
    return error_response(lost_database())


async def _lost_async_connection(request: Request, error: Exception) -> FHIRResponse:
    """A connection of the asynchronous pool died under a search on the event loop.

    What killed it (a restart, a failover) most likely killed the pool's idle connections too:
    they are all tested and the dead ones replaced before the answer, so the client's retry
    gets a live one rather than the next dead one (as SQLAlchemy's pool does on a disconnect).
    """
    logger.warning("database connection lost on %s %s: %s", request.method, request.url.path, error)
    reads: AsyncConnectionPool | None = request.app.state.reads
    if reads is not None:
        await reads.check()
    return error_response(lost_database())


def lost_database() -> FHIRError:
    """The 503 of a request whose database connection died under it: send it again."""
    lost = FHIRError(
        503, "the database connection was lost; send the request again", code="transient"
    )
    lost.headers["Retry-After"] = "1"
    return lost


async def _client_left(request: Request, _error: Exception) -> FHIRResponse:
    """The client went away before its request's body had all come (a tablet's network lost
    mid-upload, a client's own timeout): nothing was decoded nor written, and it is not the
    server's error, so no stack trace in the log (there were two, the second uvicorn's). The
    answer is only for the record: nobody is there to read it."""
    logger.info(
        "client left before the end of its request: %s %s", request.method, request.url.path
    )
    return error_response(FHIRError(400, "the request ended before its body was complete"))


async def _unexpected(request: Request, error: Exception) -> FHIRResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(FHIRError(500, "internal error; the server logged the details"))


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(domain.DomainError, _domain_error)
    app.add_exception_handler(FHIRError, _fhir_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_left)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _lost_database)
    app.add_exception_handler(psycopg.OperationalError, _lost_async_connection)
    app.add_exception_handler(Exception, _unexpected)
