"""The server under test and the accounts used to call it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

import maillage
from maillage.api.auth import issue_token
from maillage.care.identity import traits
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository
from maillage.config import Settings
from maillage.store.database import transaction
from maillage.store.models import User

SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery staple"


@cache
def _password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


@dataclass
class Server:
    """The app under test, its client, and a way to get an account of any role."""

    app: FastAPI
    client: TestClient
    settings: Settings

    def headers(self, role: str, **links: str) -> dict[str, str]:
        """Authorization headers for a new account of ``role`` linked to ``links``.

        The account row reuses one password hash: argon2 is slow on purpose, and logging in is
        tested on its own.
        """
        user = User(
            email=f"{role}-{uuid.uuid4().hex[:8]}@example.org",
            password_hash=_password_hash(),
            role=role,
            active=True,
            **links,
        )
        with transaction(self.app.state.sessions) as session:
            session.add(user)
        return {"Authorization": f"Bearer {issue_token(self.settings, user)}"}

    def put(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        """Store a resource with its own id, asserting success."""
        path = f"/fhir/{body['resourceType']}/{body['id']}"
        response = self.client.put(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()


def race_to_book(net: Server, headers: dict[str, str], bodies: list[dict[str, Any]]) -> list[int]:
    """Post the Appointments at once from as many threads; their HTTP statuses, sorted.

    Every thread goes through the server's own client, so the requests run together on the
    app's one event loop, as in a server process. A client of its own would run each request
    on an event loop of its own, where the asynchronous pool opened on the app's loop fails
    (``bound to a different event loop``) as soon as two of them wait for it at once."""
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def book(body: dict[str, Any]) -> None:
        barrier.wait()
        sent = net.client.post("/fhir/Appointment", json=body, headers=headers)
        statuses.append(sent.status_code)

    threads = [threading.Thread(target=book, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


class ConfirmedByInsi:
    """INSi's answer for the identities its test platform confirms: the only way a test
    identity becomes « qualifiée », as no INSi client ships with maillage."""

    def __init__(self, *confirmed: dict[str, Any]) -> None:
        self.confirmed = {json.dumps(traits(body), sort_keys=True) for body in confirmed}

    def verify(self, patient: dict[str, Any]) -> bool:
        return json.dumps(traits(patient), sort_keys=True) in self.confirmed


def qualify(server: Server, patient: dict[str, Any]) -> None:
    """Store a Patient at « qualifiée » as a coordinator whose INSi confirms its traits."""
    coordinator = Principal(0, "insi@example.org", Role.COORDINATOR)
    insi = ConfirmedByInsi(patient)
    repository = Repository(server.app.state.sessions, server.settings, coordinator, identity=insi)
    repository.update("Patient", patient["id"], patient)


MAILLAGE = str(Path(sys.executable).with_name("maillage"))
SOURCE = str(Path(maillage.__file__).parents[1])


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Served:
    """``maillage serve --workers N`` in its own process group, on ``port``, with
    ``environment`` (the ``MAILLAGE_*`` settings); started again as often as a test kills it."""

    def __init__(self, port: int, environment: dict[str, str], workers: int = 1) -> None:
        self.port, self.base, self.workers = port, f"http://127.0.0.1:{port}", workers
        self.env = {**os.environ, "PYTHONPATH": SOURCE, **environment}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, within_s: float = 90) -> None:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [MAILLAGE, "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                httpx.get(f"{self.base}/fhir/metadata", timeout=5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"maillage serve did not answer within {within_s} s")

    def kill(self) -> None:
        """SIGKILL to the server and its workers: no shutdown, no answer to the requests in
        flight."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill_worker(self) -> None:
        """SIGKILL to one worker process (the server starts another)."""
        assert self.process is not None
        tasks = Path(f"/proc/{self.process.pid}/task")
        children = [
            int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()
        ]
        workers = [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        os.kill(workers[0], signal.SIGKILL)
