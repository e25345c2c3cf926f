"""Whole-database backups: ``pg_dump``/``pg_restore`` for PostgreSQL, SQLite's online backup API
for the embedded file.

Both sides write only what they create: a backup goes to a new file (through a temporary name,
renamed when complete), and a restore goes only into an empty database, so neither can overwrite
a user's file or mix two networks. The password travels in ``PGPASSWORD``, never on a command
line that other users of the machine can read.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

from maillage.store import statistics


class BackupError(RuntimeError):
    """A backup or restore that could not be done; its message says why, in English."""


def backup(url: str, target: Path) -> None:
    """Copy the database at ``url`` (a SQLAlchemy URL) to the new file ``target``."""
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder")
    partial = target.with_name(f".{target.name}.partial")
    parsed = make_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            _sqlite_copy(_sqlite_file(parsed, must_exist=True), partial)
        else:
            _run(["pg_dump", "--format=custom", f"--file={partial}"], parsed)
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)


def restore(url: str, source: Path) -> None:
    """Load the backup ``source`` into the empty database at ``url``, then analyse it, so that
    the first pages are not planned on the statistics of empty tables."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = _sqlite_file(parsed, must_exist=False)
        if target.exists() and target.stat().st_size:
            raise BackupError(f"{target} is not empty: restore into a new database file")
        _sqlite_copy(source, target)
    else:
        engine = create_engine(url)
        try:
            tables = inspect(engine).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise BackupError(
                f"database {parsed.database} is not empty: restore into a new database"
            )
        command = ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner"]
        _run(command, parsed, source)
    engine = create_engine(url)
    try:
        statistics.analyze_database(engine)
    finally:
        engine.dispose()


def _sqlite_file(url: URL, must_exist: bool) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    path = Path(url.database)
    if must_exist and not path.is_file():
        raise BackupError(f"{path} does not exist")
    return path


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy even while the server writes."""
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


def _run(command: list[str], url: URL, source: Path | None = None) -> None:
    """Run a PostgreSQL client tool against ``url``, the password in its environment."""
    environment = {**os.environ}
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    libpq = url.set(drivername="postgresql", password=None).render_as_string()
    arguments = [*command, f"--dbname={libpq}", *([str(source)] if source else [])]
    try:
        done = subprocess.run(arguments, env=environment, capture_output=True, text=True)
    except FileNotFoundError as error:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools)") from error
    if done.returncode:
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()}")
