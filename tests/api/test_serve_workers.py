"""Serving: ``--workers N`` migrates once, then N processes answer; each sizes its threads."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from anyio.to_thread import current_default_thread_limiter
from api_server import MAILLAGE, free_port
from fastapi.testclient import TestClient

from maillage.config import Settings
from maillage.server import create_app


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()]


def test_several_workers_serve_a_fresh_database(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MAILLAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite'}",
        "MAILLAGE_SECRET_KEY": "workers-test-" + "x" * 32,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
    }
    command = [MAILLAGE, "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline, response = time.monotonic() + 90, None
        while response is None and time.monotonic() < deadline and server.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=5)
            except httpx.HTTPError:
                time.sleep(0.5)
        assert response is not None, server.stdout.read().decode() if server.stdout else ""
        assert response.status_code == 200
        assert response.json()["resourceType"] == "CapabilityStatement"
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in _children(server.pid)]
        assert sum(b"spawn_main" in c for c in commands) == 2
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_request_thread_pool_has_the_configured_size(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'threads.sqlite'}",
        secret_key="threads-test-" + "x" * 32,
        files_dir=tmp_path / "files",
        request_threads=7,
    )
    with TestClient(create_app(settings)) as client:
        tokens = client.portal.call(lambda: current_default_thread_limiter().total_tokens)
    assert tokens == 7
