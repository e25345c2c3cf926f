"""The datasets page: analysts read the registry, admins upload (streamed, own limit, audited)
and remove; a bad file is a French error naming line and column, and registers nothing."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from web_site import Site, csrf_of, make_site

from maillage.jobs.queue import JobSettings
from maillage.store import audit
from maillage.store.database import transaction
from maillage.store.models import Resource
from maillage.web.dataset_pages import UPLOAD_PATH

DATA = Path(__file__).parents[1] / "territory" / "data"
ANNUAIRE = DATA / "PS_LibreAcces_Personne_activite_sample.txt"
#: Small limits, so that the tests cross them with small bodies.
REQUEST_LIMIT, UPLOAD_LIMIT = 4096, 64 * 1024


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = make_site(
        tmp_path,
        JobSettings(redis_url="redis://127.0.0.1:1/0"),
        max_request_bytes=REQUEST_LIMIT,
        max_dataset_upload_bytes=UPLOAD_LIMIT,
    )
    yield built
    built.app.state.engine.dispose()


def upload(client, body: bytes, name: str, kind: str, **fields: str):
    token = csrf_of(client.get("/").text)
    params = {"type": kind, "fichier": name, **fields}
    return client.post(UPLOAD_PATH, params=params, content=body, headers={"X-CSRF-Token": token})


def registry_files(site: Site) -> list[Path]:
    root = site.files_dir / "datasets"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


def dataset_audits(site: Site) -> list[dict]:
    audit.drain(site.app.state.sessions, site.app.state.settings.zone)  # queued events chained
    with transaction(site.app.state.sessions) as session:
        bodies = session.scalars(
            select(Resource.body).where(Resource.resource_type == "AuditEvent")
        ).all()
    return [
        b
        for b in bodies
        if any(
            e["what"].get("identifier", {}).get("system") == "urn:maillage:dataset"
            for e in b.get("entity", [])
        )
    ]


def test_an_admin_uploads_an_annuaire_extract_over_the_request_limit(site: Site) -> None:
    body = ANNUAIRE.read_bytes()
    assert REQUEST_LIMIT < len(body) < UPLOAD_LIMIT
    admin = site.logged_in("admin")
    response = upload(admin, body, "PS_LibreAcces.txt", "annuaire", date="2024-07-01")
    assert response.status_code == 201, response.text
    dataset_id = f"annuaire-{hashlib.sha256(body).hexdigest()[:12]}"
    assert f"/jeux-de-donnees/{dataset_id}" in response.text
    stored = [p for p in registry_files(site) if p.parent.name == "objects"]
    assert [p.read_bytes() for p in stored] == [body]  # the temporary upload is gone
    assert upload(admin, body, "encore.txt", "annuaire").status_code == 200  # same dataset

    listing = html.unescape(site.logged_in("planner").get("/jeux-de-donnees").text)
    assert "PS_LibreAcces.txt" in listing and "01/07/2024" in listing
    assert "27 lignes d'activité" in listing and "adresse à l'étranger" in listing
    assert hashlib.sha256(body).hexdigest()[:12] in listing
    assert UPLOAD_PATH not in listing  # planners read, admins add
    detail = html.unescape(site.logged_in("coordinator").get(f"/jeux-de-donnees/{dataset_id}").text)
    assert "Médecins généralistes" in detail and "21 ETP" in detail
    assert "Supprimer" not in detail

    outcomes = [(a["subtype"][0]["code"], a["outcome"]) for a in dataset_audits(site)]  # unordered
    assert outcomes == [("create", "0"), ("create", "0")]
    # Elsewhere the request limit stays.
    token = csrf_of(admin.get("/").text)
    big = admin.post("/admin/comptes", data={"email": "x" * REQUEST_LIMIT, "csrf_token": token})
    assert big.status_code == 413


def test_a_bad_file_registers_nothing_and_says_where(site: Site) -> None:
    admin = site.logged_in("admin")
    body = b"origin,destination,minutes\n55001,55002,3\n55001,55003,abc\n"
    response = upload(admin, body, "temps.csv", "matrix")
    assert response.status_code == 422
    shown = html.unescape(response.text)
    assert "temps.csv, ligne 3, colonne 'minutes'" in shown and "Rien n'a été enregistré" in shown
    assert [p.name for p in registry_files(site)] == []  # no object, no manifest, no upload
    assert [a["outcome"] for a in dataset_audits(site)] == ["4"]
    assert upload(admin, body, "temps.csv", "inconnu").status_code == 422


def test_only_admins_upload_and_remove(site: Site) -> None:
    planner = site.logged_in("planner")
    assert upload(planner, ANNUAIRE.read_bytes(), "a.txt", "annuaire").status_code == 403
    assert registry_files(site) == []
    assert site.logged_in("patient").get("/jeux-de-donnees").status_code == 403
    admin = site.logged_in("admin")
    response = upload(admin, b"id,name,code_commune\ne1,MSP,55545\n", "sites.csv", "sites")
    assert response.status_code == 201
    dataset_id = next(p.stem for p in registry_files(site) if p.parent.name == "manifests")
    token = csrf_of(planner.get("/").text)
    removal = f"/jeux-de-donnees/{dataset_id}/suppression"
    assert planner.post(removal, data={"csrf_token": token}).status_code == 403
    page = admin.get(f"/jeux-de-donnees/{dataset_id}").text
    removed = admin.post(removal, data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert removed.status_code == 303
    assert registry_files(site) == []
    assert admin.get(f"/jeux-de-donnees/{dataset_id}").status_code == 404
    assert sorted(a["subtype"][0]["code"] for a in dataset_audits(site)) == ["create", "delete"]


def test_an_upload_over_its_own_limit_is_refused(site: Site) -> None:
    admin = site.logged_in("admin")
    response = upload(admin, b"x" * (UPLOAD_LIMIT + 1), "gros.csv", "matrix")
    assert response.status_code == 413
    assert registry_files(site) == []

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(UPLOAD_LIMIT // 1024 + 2):
            yield b"y" * 1024

    token = csrf_of(admin.get("/").text)
    response = admin.post(
        UPLOAD_PATH,
        params={"type": "matrix", "fichier": "gros.csv"},
        content=chunked(),
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 413
    assert [p for p in registry_files(site) if p.parent.name != "objects"] == []
    assert list((site.files_dir / "datasets" / "objects").iterdir()) == []


def test_an_upload_without_the_csrf_token_is_refused(site: Site) -> None:
    admin = site.logged_in("admin")
    response = admin.post(
        UPLOAD_PATH, params={"type": "sites", "fichier": "s.csv"}, content=b"id,name\n"
    )
    assert response.status_code == 403
    assert registry_files(site) == []
