"""Roadmap projects on pages (``/projets``) and in the roadmap of ``/reseau``: the operators
record stages, funding by funder, people trained and hotline requests; the roadmap shows them
with its configurable targets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_site import Site, csrf_of, location, make_site, store

from maillage.jobs.queue import JobSettings


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL, with one registered site."""
    store(site_on_each_database, location("rocroi", "EHPAD de Rocroi", "Rocroi"))
    return site_on_each_database


def text(html: str) -> str:
    """The page's text with every kind of space as a plain one (thousands separators)."""
    return re.sub(r"\s+", " ", html)


def post(client: TestClient, path: str, **form: str) -> Any:
    token = csrf_of(client.get("/projets").text)
    return client.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def new_project(client: TestClient, name: str = "Cabine de l'EHPAD de Rocroi") -> str:
    created = post(client, "/projets", nom=name, type="site", location="Location/rocroi")
    assert created.status_code == 303, created.text
    return str(created.headers["location"])


def test_a_coordinator_follows_a_project_from_stage_to_stage(site: Site) -> None:
    client = site.logged_in("coordinator")
    path = new_project(client)
    for stage, day in (("identified", "2025-01-15"), ("funded", "2025-03-01")):
        assert post(client, f"{path}/etape", etape=stage, date=day).status_code == 303
    for funder, amount in (("ARS Grand Est", "50 000"), ("Région Grand Est", "12500,50")):
        sent = post(
            client, f"{path}/financement", financeur=funder, montant=amount, date="2025-03-01"
        )
        assert sent.status_code == 303
    sent = post(client, f"{path}/formation", nom="Claire Martin", fonction="IDE", date="2025-04-02")
    assert sent.status_code == 303
    assert (
        post(client, f"{path}/hotline", objet="Caméra muette", date="2025-04-03").status_code == 303
    )
    detail = client.get(path).text
    request_id = re.search(r'action="/projets/[^/]+/hotline/([^"]+)"', detail)
    assert request_id
    answered = post(
        client,
        f"{path}/hotline/{request_id.group(1)}",
        statut="answered",
        reponse="Pilote mis à jour",
    )
    assert answered.status_code == 303
    shown = text(client.get(path).text)
    for expected in (
        "Identifié le 15/01/2025",
        "Financé le 01/03/2025",
        "62 500,50 €",
        "Claire Martin (IDE)",
        "Répondue",
        "Pilote mis à jour",
        "EHPAD de Rocroi",
    ):
        assert expected in shown, expected
    listed = text(client.get("/projets").text)
    assert "<td>Financé</td>" in listed and "62 500,50" in listed

    roadmap = text(client.get("/reseau", params={"annee": 2025}).text)
    assert re.search(r'<th scope="row">Financé</th><td class="nombre">1</td>', roadmap)
    assert re.search(
        r'<th scope="row">ARS Grand Est</th><td class="nombre">50 000,00</td>', roadmap
    )
    assert "1 personne formée, 62 500,50 € de financements accordés" in roadmap
    assert "ouvertes 0, répondues 1, clôturées 0" in roadmap
    assert "sur un objectif de 200" in roadmap and "sur un objectif de 100" in roadmap


def test_a_stage_out_of_order_is_refused_and_nothing_changes(site: Site) -> None:
    client = site.logged_in("admin")
    path = new_project(client)
    assert post(client, f"{path}/etape", etape="funded", date="2025-03-01").status_code == 303
    refused = post(client, f"{path}/etape", etape="identified", date="2025-04-01")
    assert refused.status_code == 422 and "Saisie refusée" in refused.text
    assert (
        post(
            client, f"{path}/financement", financeur="ARS", montant="-5", date="2025-03-01"
        ).status_code
        == 422
    )
    shown = client.get(path).text
    assert "Identifié le" not in shown and "Aucun financement" in shown


def test_planners_read_projects_but_do_not_record_them(site: Site) -> None:
    path = new_project(site.logged_in("coordinator"))
    planner = site.logged_in("planner")
    assert "Cabine de l&#39;EHPAD de Rocroi" in planner.get("/projets").text
    detail = planner.get(path).text
    assert "form-etape" not in detail and "nouveau-projet" not in planner.get("/projets").text
    assert post(planner, f"{path}/etape", etape="identified", date="2025-01-01").status_code == 403
    assert post(planner, "/projets", nom="X", type="site").status_code == 403
    assert site.logged_in("site-professional").get("/projets").status_code == 403


def test_the_roadmap_targets_come_from_the_settings(tmp_path: Path) -> None:
    built = make_site(
        tmp_path,
        JobSettings(redis_url="redis://127.0.0.1:1/0"),
        roadmap_sites_target=12,
        roadmap_new_sites_target=4,
    )
    page = text(built.logged_in("planner").get("/reseau").text)
    built.app.state.engine.dispose()
    assert "sur un objectif de 12 (0,0 %)" in page and "sur un objectif de 4 (0,0 %)" in page
    assert re.search(r'id="avancement-nouveaux" max="4"', page)
