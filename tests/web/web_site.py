"""The application under test: a server with its web pages, and accounts of every role."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import make_url

from maillage.care.site_import import INSEE_EXTENSION, INSEE_SYSTEM
from maillage.config import Settings
from maillage.jobs.queue import JobSettings, job_queue
from maillage.server import create_app
from maillage.store import audit, resources
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.store.users import create_user

SRC = Path(__file__).parents[2] / "src"
SECRET = "web-test-secret-" + "y" * 40
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: The links each role's account needs (see ``maillage users create``).
LINKS = {
    "patient": {"patient": "Patient/p1"},
    "site-professional": {"site": "Location/s1"},
    "practitioner": {"practitioner": "Practitioner/d1"},
}


@dataclass
class Site:
    """The application under test and how to get a logged-in browser session of any role."""

    app: FastAPI
    files_dir: Path

    def user(self, role: str) -> str:
        """Create an account of ``role``; returns its e-mail (the password is ``PASSWORD``)."""
        email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
        with transaction(self.app.state.sessions) as session:
            create_user(session, email, PASSWORD, role, **LINKS.get(role, {}))
        return email

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://127.0.0.1")

    def logged_in(self, role: str) -> TestClient:
        client = self.client()
        login(client, self.user(role))
        return client


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/connexion").text)
    form = {"email": email, "password": password, "csrf_token": token}
    response = client.post("/connexion", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text


def make_site(tmp_path: Path, jobs: JobSettings, **settings: Any) -> Site:
    """A server with the web pages installed, as ``create_app`` will, on a fresh SQLite file
    unless ``settings`` names another ``database_url``."""
    files_dir = tmp_path / "files"
    defaults = {
        "database_url": f"sqlite:///{tmp_path / 'web.sqlite'}",
        "secret_key": SECRET,
        "files_dir": files_dir,
        "login_rate_limit": "1000/minute",
    }
    config = Settings(**(defaults | settings))
    app = create_app(config)  # pages included; the jobs go to the private queue
    app.state.job_queue = job_queue(jobs)
    return Site(app, files_dir)


def store(site: Site, *bodies: dict[str, Any]) -> None:
    """Write resources with their own ids through the store layer, as the API does."""
    zone = site.app.state.settings.zone
    with transaction(site.app.state.sessions) as session:
        for body in bodies:
            resources.save(session, body, zone, resource_id=body["id"])


def audited(site: Site, interaction: str, entity: str) -> list[str]:
    """The outcomes of the AuditEvents of ``interaction`` naming ``entity`` in the order they
    were recorded (queued events chained first)."""
    audit.drain(site.app.state.sessions, site.app.state.settings.zone)
    with transaction(site.app.state.sessions) as session:
        rows = session.execute(select(Resource).where(Resource.resource_type == "AuditEvent"))
        events = sorted((row.body for row in rows.scalars()), key=lambda e: e["recorded"])
    return [
        e["outcome"]
        for e in events
        if e["subtype"][0]["code"] == interaction
        and {"what": {"reference": entity}} in e.get("entity", [])
    ]


def registry_site(ident: str, code: str, status: str) -> dict[str, Any]:
    """A registry Location whose address carries its INSEE commune code (what plans count)."""
    extension = {"url": INSEE_EXTENSION, "valueCoding": {"system": INSEE_SYSTEM, "code": code}}
    return {
        "resourceType": "Location",
        "id": ident,
        "name": f"Site {ident}",
        "status": status,
        "address": {"extension": [extension], "city": ident},
    }


def run_cli(site: Site, *args: str) -> None:
    """``maillage ARGS`` on the site's files directory and database, as an analyst runs it."""
    env = os.environ | {
        "MAILLAGE_FILES_DIR": str(site.files_dir),
        "MAILLAGE_DATABASE_URL": site.app.state.settings.database_url,
        "PYTHONPATH": str(SRC),
    }
    done = subprocess.run(
        [sys.executable, "-m", "maillage.cli", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr + done.stdout


def location(ident: str, name: str, city: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": ident,
        "name": name,
        "status": "active",
        "address": {"line": ["1 place de la Mairie"], "postalCode": "08110", "city": city},
        **extra,
    }


@contextmanager
def counted(net: Site) -> Iterator[list[str]]:
    """The SQL statements the server sends meanwhile."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        statements.append(statement)

    engine = net.app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextmanager
def fresh_database(postgres_url: str, suffix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database beside the test run's (``postgres_url``), named after
    it and ``suffix``, dropped on the way out: for module-scoped networks that the per-test
    emptying of the shared database must not touch."""
    server = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"{make_url(postgres_url).database}_{suffix}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()
