"""Editing a site on a page (``/sites/{id}/modifier``): name, kind, status, equipment,
modalities and FINESS written to the Location, its Organization and its services, by the
network's operators only, refused whole when a field is wrong or the site changed meanwhile."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_site import Site, csrf_of, location, store

from maillage.care.identifiers import FINESS_SYSTEM, ID_NAT_STRUCT_SYSTEM
from maillage.care.site_import import (
    Site as Row,
)
from maillage.care.site_import import (
    location_body,
    organization_body,
    service_body,
)
from maillage.store import resources
from maillage.store.database import transaction

FINESS = "010000024"
ROW = Row(
    "rocroi", "EHPAD de Rocroi", "08367", "Rocroi", 4.52, 49.93, "msp",
    modalities=("teleconsultation-assistee", "tele-expertise"),
    equipment=("cabine", "otoscope-connecte"),
)  # fmt: skip


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """An imported site (Organization, Location, two services), on SQLite and PostgreSQL."""
    services = [
        {**service_body(ROW, m, "org-rocroi", "rocroi"), "id": f"hs-{m}"} for m in ROW.modalities
    ]
    store(
        site_on_each_database,
        {**organization_body(ROW), "id": "org-rocroi"},
        {**location_body(ROW, "org-rocroi"), "id": "rocroi"},
        *services,
    )
    return site_on_each_database


def read(site: Site, kind: str, ident: str) -> dict[str, Any]:
    with transaction(site.app.state.sessions) as session:
        row = resources.get(session, kind, ident)
        assert row is not None
        return dict(row.body)


def send(client: TestClient, site_id: str, **changes: Any) -> Any:
    page = client.get(f"/sites/{site_id}/modifier")
    assert page.status_code == 200, page.text
    form: dict[str, Any] = {
        "csrf_token": csrf_of(page.text),
        "version": read_version(page.text),
        "nom": "EHPAD de Rocroi",
        "type": "msp",
        "statut": "active",
        "equipement": ["cabine", "otoscope-connecte"],
        "modalite": ["teleconsultation-assistee", "tele-expertise"],
        "finess": "",
    } | changes
    return client.post(f"/sites/{site_id}/modifier", data=form, follow_redirects=False)


def read_version(html: str) -> str:
    marker = 'name="version" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_a_coordinator_edits_every_field_of_a_site(site: Site) -> None:
    client = site.logged_in("coordinator")
    assert "Modifier ce site" in client.get("/sites/rocroi").text
    sent = send(
        client,
        "rocroi",
        nom="EHPAD Les Tilleuls de Rocroi",
        type="ehpad",
        statut="suspended",
        equipement=["chariot", "ecg"],
        modalite=["teleconsultation-assistee", "telesurveillance"],
        finess=FINESS,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/sites/rocroi")
    detail = client.get("/sites/rocroi").text
    for text in (
        "EHPAD Les Tilleuls de Rocroi",
        "Établissement d'hébergement pour personnes âgées dépendantes",
        "Suspendu",
        "Chariot de télémédecine",
        "Électrocardiographe (ECG)",
        "Télésurveillance",
    ):
        assert text in detail.replace("&#39;", "'"), text
    assert "Otoscope" not in detail
    assert read(site, "HealthcareService", "hs-tele-expertise")["active"] is False
    location_now = read(site, "Location", "rocroi")
    assert location_now["meta"]["versionId"] == "2"
    assert {"system": FINESS_SYSTEM, "value": FINESS, "type": {"text": "FINESS ET"}} in (
        location_now["identifier"]
    )
    assert location_now["address"]["city"] == "Rocroi"  # what the edit does not own is kept
    organization = read(site, "Organization", "org-rocroi")
    assert organization["type"][0]["coding"][0]["code"] == "EHPAD"


def test_a_bad_field_writes_nothing(site: Site) -> None:
    client = site.logged_in("admin")
    refused = send(client, "rocroi", nom="Rocroi", finess="010000025")
    assert refused.status_code == 422
    assert "Numéro FINESS invalide : 010000025." in refused.text
    assert 'value="Rocroi"' in refused.text  # the form keeps what was sent
    assert read(site, "Location", "rocroi")["name"] == "EHPAD de Rocroi"


def test_a_site_changed_meanwhile_is_not_overwritten(site: Site) -> None:
    client = site.logged_in("admin")
    assert send(client, "rocroi", nom="Premier").status_code == 303
    stale = send(client, "rocroi", nom="Second", version="1")
    assert stale.status_code in (409, 412) and "rechargez la page" in stale.text
    assert read(site, "Location", "rocroi")["name"] == "Premier"


def test_a_site_without_organisation_gets_one(site: Site) -> None:
    store(site, location("sedan", "Cabine de Sedan", "Sedan"))
    client = site.logged_in("admin")
    assert send(client, "sedan", nom="Cabine de Sedan", type="pharmacie").status_code == 303
    reference = read(site, "Location", "sedan")["managingOrganization"]["reference"]
    organization = read(site, "Organization", reference.split("/")[1])
    assert organization["type"][0]["coding"][0]["code"] == "PHARMACIE"
    assert "Pharmacie d&#39;officine" in client.get("/sites/sedan").text


def test_planners_read_sites_but_do_not_edit_them(site: Site) -> None:
    planner = site.logged_in("planner")
    assert "Modifier ce site" not in planner.get("/sites/rocroi").text
    assert planner.get("/sites/rocroi/modifier").status_code == 403
    token = csrf_of(planner.get("/sites/rocroi").text)
    form = {"csrf_token": token, "nom": "X", "type": "msp", "statut": "active", "version": "1"}
    assert planner.post("/sites/rocroi/modifier", data=form).status_code == 403
    assert read(site, "Location", "rocroi")["name"] == "EHPAD de Rocroi"


def test_the_idnatstruct_derived_from_the_finess_follows_it(site: Site) -> None:
    """An imported site's Organization has idNatStruct 1 + FINESS ET: a new FINESS on the page
    moves it too (a stale national structure id would name another establishment)."""
    row = replace(ROW, site_id="bourg", finess_et=FINESS, id_nat_struct=f"1{FINESS}")
    store(
        site,
        {**organization_body(row), "id": "org-bourg"},
        {**location_body(row, "org-bourg"), "id": "bourg"},
    )
    client = site.logged_in("coordinator")
    assert send(client, "bourg", finess="010780054").status_code == 303
    national = [
        i["value"]
        for i in read(site, "Organization", "org-bourg")["identifier"]
        if i["system"] == ID_NAT_STRUCT_SYSTEM
    ]
    assert national == ["1010780054"]
