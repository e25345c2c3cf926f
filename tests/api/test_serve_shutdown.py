"""``maillage serve`` stops within a few seconds of SIGTERM: requests in flight are answered
when they can be, abandoned ones do not hold the process, and the pools are closed."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import maillage

MAILLAGE = str(Path(sys.executable).with_name("maillage"))
SOURCE = str(Path(maillage.__file__).parents[1])
STOPS_WITHIN_S = 5.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
    port = _free_port()
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


@pytest.mark.parametrize("released_after_s", [1.0, None])
def test_a_request_in_flight_is_answered_or_abandoned_in_time(
    serving: Running, database_url: str, released_after_s: float | None
) -> None:
    """SQLite's write lock held elsewhere stalls a login (busy timeout: 30 s). Released a second
    after SIGTERM, the login is answered before the server stops; never released, the server
    stops anyway within a few seconds."""
    if not database_url.startswith("sqlite"):
        pytest.skip("the stalled request is made with SQLite's write lock")
    holder = sqlite3.connect(
        database_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    answers: list[int | str] = []
    login = threading.Thread(target=_log_in, args=(serving.base, answers))
    login.start()
    time.sleep(1.0)  # the login now waits for the lock
    if released_after_s is not None:
        threading.Timer(released_after_s, holder.rollback).start()
    took = serving.stop()
    login.join(timeout=60)
    holder.close()
    assert took < STOPS_WITHIN_S
    if released_after_s is not None:
        assert answers == [401], answers
    assert "Application shutdown complete" in serving.log()
