"""``maillage serve`` stops within a few seconds of SIGTERM: requests in flight are answered
when they can be, abandoned ones do not hold the process, and the pools are closed. A request
whose client goes away has its PostgreSQL statement cancelled at once."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from api_server import MAILLAGE, SOURCE, free_port

STOPS_WITHIN_S = 5.0


class Running:
    def __init__(self, process: subprocess.Popen[bytes], base: str) -> None:
        self.process, self.base = process, base

    def stop(self) -> float:
        """SIGTERM, then the seconds until the process ended (the test fails past 30)."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("maillage serve was still running 30 s after SIGTERM")
        return time.monotonic() - sent

    def log(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.read().decode()


@pytest.fixture
def serving(database_url: str, tmp_path: Path) -> Iterator[Running]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": SOURCE,
        "MAILLAGE_DATABASE_URL": database_url,
        "MAILLAGE_SECRET_KEY": "shutdown-test-" + "x" * 32,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
    }
    process = subprocess.Popen(
        [MAILLAGE, "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{base}/fhir/metadata", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield Running(process, base)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sigterm_after_browsing_stops_at_once(serving: Running) -> None:
    with httpx.Client(base_url=serving.base) as browser:  # keeps its connection alive
        for path in ("/fhir/metadata", "/connexion", "/static/app.css", "/fhir/Patient"):
            assert browser.get(path).status_code < 500
        idle = socket.create_connection(("127.0.0.1", int(serving.base.rsplit(":", 1)[1])))
        with idle:
            took = serving.stop()
    assert took < STOPS_WITHIN_S
    assert "Application shutdown complete" in serving.log()


def _log_in(base: str, answers: list[int | str]) -> None:
    try:
        response = httpx.post(
            f"{base}/auth/token", data={"username": "a@example.org", "password": "x"}, timeout=60
        )
        answers.append(response.status_code)
    except httpx.HTTPError as error:
        answers.append(type(error).__name__)


class WriteLock:
    """Another client's lock that a login must wait for: SQLite's write lock (busy timeout
    30 s), or PostgreSQL's lock on the accounts table (no timeout at all)."""

    def __init__(self, database_url: str, table: str = "app_user") -> None:
        self.sqlite = database_url.startswith("sqlite")
        if self.sqlite:
            self.connection: Any = sqlite3.connect(
                database_url.removeprefix("sqlite:///"), isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            self.connection.execute("BEGIN IMMEDIATE")
        else:
            self.connection = psycopg.connect(database_url.replace("+psycopg", ""))
            self.connection.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        self.connection.rollback()

    def waiting(self) -> int:
        """PostgreSQL backends still waiting for a lock (an abandoned request's statement)."""
        if self.sqlite:
            return 0
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        with psycopg.connect(self.connection.info.dsn, autocommit=True) as other:
            row = other.execute(query + " AND datname = current_database()").fetchone()
        return int(row[0]) if row else 0


@pytest.mark.parametrize("released_after_s", [1.0, None])
def test_a_request_in_flight_is_answered_or_abandoned_in_time(
    serving: Running, database_url: str, released_after_s: float | None
) -> None:
    """A login waits for another client's lock. Released a second after SIGTERM, the login is
    answered before the server stops; never released, the server stops anyway within a few
    seconds, and on PostgreSQL the abandoned statement no longer waits."""
    lock = WriteLock(database_url)
    answers: list[int | str] = []
    login = threading.Thread(target=_log_in, args=(serving.base, answers))
    login.start()
    time.sleep(1.0)  # the login now waits for the lock
    if released_after_s is not None:
        threading.Timer(released_after_s, lock.release).start()
    took = serving.stop()
    login.join(timeout=60)
    assert took < STOPS_WITHIN_S
    if released_after_s is not None:
        assert answers == [401], answers
    else:
        assert lock.waiting() == 0
    lock.release()
    assert "Application shutdown complete" in serving.log()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path", "table"),
    [("POST", "/auth/token", "app_user"), ("GET", "/fhir/Patient", "audit_outbox")],
    ids=["login", "audited-search"],
)
def test_the_statement_of_a_request_its_client_abandoned_is_cancelled(
    serving: Running, database_url: str, method: str, path: str, table: str
) -> None:
    """A request waits for another client's lock (a login with a body, or a search without
    one, refused and audited), and its client gives up after a second: its statement stops
    waiting at once, the lock still held (it would wait out the 30 s statement timeout), and
    the server goes on answering."""
    lock = WriteLock(database_url, table)
    form = {"username": "a@example.org", "password": "x"} if method == "POST" else None
    with pytest.raises(httpx.ReadTimeout):
        httpx.request(method, f"{serving.base}{path}", data=form, timeout=1.0)
    deadline = time.monotonic() + 3.0
    while lock.waiting() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lock.waiting() == 0
    lock.release()
    answer = httpx.request(method, f"{serving.base}{path}", data=form, timeout=10)
    assert answer.status_code == 401
    assert serving.stop() < STOPS_WITHIN_S
    assert "Traceback" not in serving.log()
