"""Site registry pages read the FHIR store: list, map, search by commune, paging, and the detail
with organisation, equipment and modalities."""

from __future__ import annotations

import re

import pytest
from web_site import Site, location, store

from maillage.care.site_import import EQUIPMENT_SYSTEM, MODALITIES, MODALITY_SYSTEM
from maillage.store import resources
from maillage.store.database import transaction
from maillage.web.sites import IN_SERVICE_COLOUR, OUT_OF_SERVICE_COLOUR

ELDERLY_HOME = "Établissement pour personnes âgées"


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """This module's page tests run on SQLite and on PostgreSQL."""
    return site_on_each_database


@pytest.fixture
def network(site: Site) -> Site:
    store(
        site,
        {"resourceType": "Organization", "id": "msp-carignan", "name": "MSP de Carignan"},
        location(
            "carignan",
            "Cabine de téléconsultation de Carignan",
            "Carignan",
            type=[{"text": "Maison de santé pluriprofessionnelle"}],
            managingOrganization={
                "reference": "Organization/msp-carignan",
                "display": "MSP de Carignan",
            },
            position={"latitude": 49.63, "longitude": 5.17},
        ),
        location("sedan", "EHPAD de Sedan", "Sedan", status="suspended"),
        {
            "resourceType": "HealthcareService",
            "id": "tlc-carignan",
            "name": "Téléconsultation assistée",
            "location": [{"reference": "Location/carignan"}],
            "type": [{"coding": [{"code": "TLC", "display": "Téléconsultation assistée"}]}],
        },
    )
    return site


def test_the_list_shows_every_site(network: Site) -> None:
    page = network.logged_in("planner").get("/sites")
    assert page.status_code == 200
    assert "2 sites" in page.text
    assert '<a href="/sites/carignan">Cabine de téléconsultation de Carignan</a>' in page.text
    assert "Maison de santé pluriprofessionnelle" in page.text and "Suspendu" in page.text


def test_the_list_searches_by_commune(network: Site) -> None:
    page = network.logged_in("coordinator").get("/sites", params={"commune": "sed"})
    assert "1 site pour « sed »" in page.text
    assert "EHPAD de Sedan" in page.text and "Carignan</a>" not in page.text


def test_the_detail_shows_organisation_and_modalities(network: Site) -> None:
    page = network.logged_in("admin").get("/sites/carignan")
    assert page.status_code == 200
    for text in ("MSP de Carignan", "49.63, 5.17", "Téléconsultation assistée", "08110 Carignan"):
        assert text in page.text
    assert "Aucune modalité" in network.logged_in("admin").get("/sites/sedan").text


def test_the_list_maps_the_located_sites(network: Site) -> None:
    store(
        network,
        location("rocroi", "Ancien site de Rocroi", "Rocroi", status="inactive",
                 position={"latitude": 49.93, "longitude": 4.52}),
    )  # fmt: skip
    html = network.logged_in("planner").get("/sites").text
    assert "Carte des sites" in html and "2 sites localisés sur 3" in html
    titles = re.findall(r'<circle class="site"[^>]*fill="([^"]+)"><title>([^<]+)</title>', html)
    assert titles == [
        (IN_SERVICE_COLOUR, "Cabine de téléconsultation de Carignan — En service"),
        (OUT_OF_SERVICE_COLOUR, "Ancien site de Rocroi — Fermé"),
    ]
    assert "<title>Ardennes (08)</title>" in html and 'aria-label="Ardennes (08)"' in html
    legend = re.search(r'aria-label="Légende des sites">(.*?)</div>', html, re.S).group(1)
    assert "Site en service" in legend and "Site suspendu ou fermé" in legend


def test_a_search_maps_only_the_sites_it_found(network: Site) -> None:
    client = network.logged_in("planner")
    assert "Carte des sites" not in client.get("/sites", params={"commune": "sedan"}).text
    found = client.get("/sites", params={"commune": "carig"}).text
    assert "1 site localisé sur 1 pour « carig »" in found
    assert found.count('<circle class="site"') == 1


def test_the_detail_shows_equipment_and_modalities_of_an_imported_site(site: Site) -> None:
    equipment = [
        {"coding": [{"system": EQUIPMENT_SYSTEM, "code": code}]}
        for code in ("chariot", "stethoscope-connecte", "spirometre-usb")
    ]
    store(
        site,
        {"resourceType": "Organization", "id": "ehpad-verdun", "name": "EHPAD de Verdun",
         "type": [{"coding": [{"code": "EHPAD", "display": ELDERLY_HOME}]}]},
        location("verdun", "Site de Verdun", "Verdun", type=equipment,
                 managingOrganization={"reference": "Organization/ehpad-verdun"}),
        *(
            {
                "resourceType": "HealthcareService",
                "id": f"verdun-{code}",
                "name": f"{MODALITIES[code]} — Site de Verdun",
                "active": code != "tele-expertise",
                "location": [{"reference": "Location/verdun"}],
                "type": [{"coding": [{"system": MODALITY_SYSTEM, "code": code}]}],
            }
            for code in ("teleconsultation-suivi", "tele-expertise")
        ),
    )  # fmt: skip
    html = site.logged_in("coordinator").get("/sites/verdun").text
    equipment_list = re.search(r'<dl class="fiche" id="equipement">(.*?)</dl>', html, re.S)
    assert re.findall(r"<dd>([^<]*)</dd>", equipment_list.group(1)) == [
        "Chariot de télémédecine",
        "Stéthoscope connecté, spirometre usb",
    ]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td>[^<]*</td><td>([^<]*)</td>', html)
    assert sorted(rows) == [
        ("Télé-expertise", "Arrêtée"),
        ("Téléconsultation de suivi", "Proposée"),
    ]
    assert "<dd>EHPAD de Verdun</dd>" in html and "Organization/" not in html
    assert f"<dt>Type</dt><dd>{ELDERLY_HOME}</dd>" in html
    listed = site.logged_in("planner").get("/sites").text
    assert "<td>EHPAD de Verdun</td>" in listed


def test_deleted_and_unknown_sites_are_404(network: Site) -> None:
    with transaction(network.app.state.sessions) as session:
        resources.delete(session, "Location", "sedan")
    client = network.logged_in("planner")
    assert client.get("/sites/sedan").status_code == 404
    assert client.get("/sites/nowhere").status_code == 404
    assert "1 site." in client.get("/sites").text


def test_long_lists_are_paged(site: Site) -> None:
    store(site, *(location(f"s{i:03d}", f"Site {i:03d}", "Reims") for i in range(55)))
    client = site.logged_in("planner")
    first = client.get("/sites")
    assert "55 sites" in first.text and "page 1 sur 2" in first.text
    assert first.text.count('<a href="/sites/s') == 50
    second = client.get("/sites", params={"page": 2})
    assert second.text.count('<a href="/sites/s') == 5 and "Page précédente" in second.text


@pytest.mark.parametrize("role", ["patient", "practitioner", "site-professional"])
def test_care_roles_do_not_reach_the_registry_pages(network: Site, role: str) -> None:
    client = network.logged_in(role)
    assert client.get("/sites").status_code == 403
    assert client.get("/sites/carignan").status_code == 403
