"""The address the login limits count: X-Forwarded-For only from a configured trusted proxy."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from api_server import MAILLAGE, free_port


def _statuses_of_forged_attempts(tmp_path: Path, trusted: str) -> list[int]:
    """Six failed logins, each for another account and claiming another forwarded address."""
    port = free_port()
    env = {
        **os.environ,
        "MAILLAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'proxy.sqlite'}",
        "MAILLAGE_SECRET_KEY": "proxy-test-" + "x" * 32,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
        "MAILLAGE_LOGIN_RATE_LIMIT": "5/minute",
        "MAILLAGE_TRUSTED_PROXIES": trusted,
        "MAILLAGE_ACCESS_LOG": "false",
    }
    server = subprocess.Popen(
        [MAILLAGE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, ready = time.monotonic() + 60, False
        while not ready and time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/fhir/metadata", timeout=5).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.3)
        assert ready, server.stdout.read().decode() if server.stdout else ""
        return [
            httpx.post(
                f"{base}/auth/token",
                data={"username": f"nobody{i}@example.org", "password": "wrong"},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
                timeout=10,
            ).status_code
            for i in range(6)
        ]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_forwarded_address_from_loopback_is_ignored_by_default(tmp_path: Path) -> None:
    statuses = _statuses_of_forged_attempts(tmp_path, "[]")
    assert statuses == [401] * 5 + [429]


def test_forwarded_address_from_a_trusted_proxy_is_the_client(tmp_path: Path) -> None:
    statuses = _statuses_of_forged_attempts(tmp_path, '["127.0.0.1"]')
    assert statuses == [401] * 6
