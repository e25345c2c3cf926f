"""SQLAlchemy Core queries as psycopg's SQL, for what runs on the asynchronous pool without
SQLAlchemy's execution: slot searches, bookings, principals read again (issue 23)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import ClauseElement
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect

_PSYCOPG = psycopg_dialect()

Statement = tuple[str, dict[str, Any]]
"""psycopg's SQL (named placeholders) and its parameters."""


def compiled(statement: ClauseElement, **values: Any) -> Statement:
    """A Core query as psycopg's SQL (lists of values expanded in place), with the values of
    its constant parameters (e.g. the resource type) and ``values``."""
    sql, constants = _compiled(statement)
    return sql, {**constants, **values}


@lru_cache(maxsize=512)
def _compiled(statement: ClauseElement) -> Statement:
    """Compiled once per statement object: a constant query, or a slot search's statement
    cached per shape, costs its compilation (about half a millisecond) once, not per request."""
    sql = statement.compile(dialect=_PSYCOPG, compile_kwargs={"render_postcompile": True})
    return str(sql), dict(sql.params)
