"""Serving: ``--workers N`` migrates once, then N processes answer, connections spread among
them; each sizes its threads."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


def _environment(tmp_path: Path) -> dict[str, str]:
    """A server's settings on a fresh SQLite file under ``tmp_path``."""
    return {
        **os.environ,
        "MAILLAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite'}",
        "MAILLAGE_SECRET_KEY": "serve-test-" + "x" * 32,
        "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
    }


def _workers(pid: int) -> list[int]:
    return [c for c in _children(pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def _served_connections(port: int) -> set[str]:
    """Inodes of the established TCP sockets whose local port is ``port`` (the server's ends)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                found.add(fields[9])
    return found


def _held_by(pid: int, inodes: set[str]) -> int:
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        held += target.startswith("socket:[") and target[8:-1] in inodes
    return held


@contextlib.contextmanager
def _served(tmp_path: Path, workers: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = _environment(tmp_path)
    command = [MAILLAGE, "serve", "--port", str(port), "--workers", str(workers)]
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
        yield port, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_several_workers_serve_a_fresh_database(tmp_path: Path) -> None:
    with _served(tmp_path, 2) as (_, server):
        assert len(_workers(server.pid)) == 2


def test_connections_opened_together_spread_among_the_workers(tmp_path: Path) -> None:
    """Kept-alive connections opened at once (a load balancer's pool, a load generator) are
    served by every worker, not all by the one that woke first. Each lands on a worker by a
    hash of its addresses: 24 all on one of 2 workers would happen once in 8 million runs."""
    with _served(tmp_path, 2) as (port, server), contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
            for _ in range(24)
        ]
        for client in clients:
            client.sendall(b"GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for client in clients:
            assert client.recv(12) == b"HTTP/1.1 200"
        connections = _served_connections(port)
        held = [_held_by(worker, connections) for worker in _workers(server.pid)]
    assert sum(held) == 24
    assert min(held) > 0, held


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


def test_a_server_process_builds_the_models_of_the_types_it_accepts_before_any_request(
    tmp_path: Path,
) -> None:
    """The first request of each type does not pay for importing and building its FHIR model
    (a worker's first booking took 125-155 ms instead of 6-8 ms). In a process of its own:
    ``serving_app`` freezes the garbage collector."""
    probe = (
        "import sys\n"
        "from maillage.care.policy import SUPPORTED_TYPES\n"
        "from maillage.server import serving_app\n"
        "serving_app()\n"
        "print(sorted(t for t in SUPPORTED_TYPES\n"
        "             if f'fhir.resources.R4B.{t.lower()}' not in sys.modules))\n"
    )
    env = _environment(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_port_taken_by_another_program_is_a_clear_start_up_failure(tmp_path: Path) -> None:
    """Exit 3 (uvicorn's start-up failure) with one line naming the address, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _environment(tmp_path)
        command = [MAILLAGE, "serve", "--port", str(port), "--workers", "2"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr
