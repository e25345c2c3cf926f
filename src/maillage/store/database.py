"""Engines, sessions and migrations: one entry point whatever the back-end."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from functools import cache, partial
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, TextClause, bindparam, create_engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

#: How long a pooled PostgreSQL connection may sit unused before it is pinged on checkout.
IDLE_PING_SECONDS = 10.0


def make_engine(url: str, pool_size: int = 10, statement_timeout: float | None = None) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys and write-locking transactions.

    ``pool_size`` PostgreSQL connections stay open; a server gives one per request thread, as
    a connection opened beyond the pool is closed again after use (a new PostgreSQL backend
    for nearly every request, once the threads outnumber the pool).

    ``statement_timeout`` (seconds) makes PostgreSQL cancel any statement running longer, so
    that no request holds a backend and its locks after its client gave up.

    ``BEGIN IMMEDIATE`` takes SQLite's write lock up front: a deferred transaction that reads and
    then writes fails at once when another writer got in between, whatever the busy timeout.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        connect_args = {"options": timeout_option(statement_timeout)} if statement_timeout else {}
        engine = create_engine(url, pool_size=pool_size, max_overflow=20, connect_args=connect_args)
        return _tracking_checkouts(_pinging_idle(engine))
    if parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


#: The driver connections each engine has lent out, with the work (see :func:`cancellable`)
#: each was lent to: a stopping server cancels all their statements, an abandoned request its.
_LENT: weakref.WeakKeyDictionary[Engine, dict[Any, object | None]] = weakref.WeakKeyDictionary()
_WORK: ContextVar[object | None] = ContextVar("maillage_database_work", default=None)


def _tracking_checkouts(engine: Engine) -> Engine:
    """Remember the connections in use and for which work, for :func:`cancel_running`."""
    lent = _LENT.setdefault(engine, {})

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_connection: Any, *_: Any) -> None:
        lent[dbapi_connection] = _WORK.get()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, *_: Any) -> None:
        lent.pop(dbapi_connection, None)

    return engine


@contextmanager
def cancellable() -> Iterator[Callable[[], int]]:
    """Mark the database work done in this context (a request, and the worker threads it
    hands work to, which run in copies of its context) and give the function that cancels its
    running PostgreSQL statements (when its client went away), returning how many it asked."""
    work = object()
    token = _WORK.set(work)
    try:
        yield partial(cancel_running, work=work)
    finally:
        _WORK.reset(token)


def timeout_option(seconds: float) -> str:
    """PostgreSQL's connection option that cancels any statement running over ``seconds``."""
    return f"-c statement_timeout={round(seconds * 1000)}"


def cancel_running(engine: Engine | None = None, *, work: object | None = None) -> int:
    """Cancel the statement each lent-out PostgreSQL connection of ``engine`` (or of every
    engine) is running, or only those lent to ``work``: the requests a stopping server
    abandoned, whose threads then fail at once instead of holding the process, or a request
    whose client went away; PostgreSQL stops working for nobody. Returns how many were asked."""
    engines = [engine] if engine is not None else list(_LENT)
    chosen = [
        dbapi_connection
        for lent in (_LENT.get(e, {}) for e in engines)
        for dbapi_connection, owner in list(lent.items())
        if work is None or owner is work
    ]
    for dbapi_connection in chosen:
        with suppress(Exception):  # a connection that just closed has nothing to cancel
            dbapi_connection.cancel_safe(timeout=1.0)
    return len(chosen)


def _pinging_idle(engine: Engine) -> Engine:
    """Ping a pooled connection before use only when it sat idle ``IDLE_PING_SECONDS``.

    A dead connection (server restarted, idle timeout) is then replaced before a request uses
    it, as ``pool_pre_ping`` does; but a busy server, whose connections come back within
    milliseconds, does not pay one more round trip on every checkout (it did: a tenth of a
    slot search's CPU).
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _stamp(_dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"pooled connection is dead: {error}") from error

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses are built afterwards)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any exception."""
    with sessions.begin() as session:
        yield session


@contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """A connection without a transaction, for reads that need no snapshot of several
    statements: no BEGIN and COMMIT round trips (and no ORM session) around them."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def alembic_config(engine: Engine) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    config = Config()
    config.set_main_option("script_location", str(files("maillage.store") / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (run at start and by ``maillage db upgrade``)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (same keys each) in one statement.

    A plain executemany sends one statement per row (psycopg pipelines them), and SQLAlchemy
    compiles a multi-row ``insert().values()`` anew on every call. PostgreSQL gets one array
    per column (``unnest``): a short statement text whatever the count, which psycopg keeps
    converted (a multi-row VALUES over 4 KB it converts again each time: a seventh of a
    booking's CPU). SQLite gets a multi-row VALUES built once per table, columns and count.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if connection.dialect.name == "postgresql":
        arrays = {name: [row[name] for row in rows] for name in columns}
        connection.execute(_unnest_insert(table, columns), arrays)
        return
    params = {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in columns}
    connection.execute(_multi_row_insert(table, columns, len(rows)), params)


@cache
def _unnest_insert(table: Table, columns: tuple[str, ...]) -> TextClause:
    arrays = ", ".join(f":{name}" for name in columns)
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    )
    return statement.bindparams(
        *(bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in columns)
    )


@cache
def _multi_row_insert(table: Table, columns: tuple[str, ...], count: int) -> TextClause:
    tuples = ", ".join(
        "(" + ", ".join(f":{name}_{i}" for name in columns) + ")" for i in range(count)
    )
    statement = text(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {tuples}")
    return statement.bindparams(
        *(
            bindparam(f"{name}_{i}", type_=table.c[name].type)
            for i in range(count)
            for name in columns
        )
    )
