"""Site registry pages read the FHIR store: list, search by commune, paging, detail."""

from __future__ import annotations

import pytest
from web_site import Site, location, store

from maillage.store import resources
from maillage.store.database import transaction


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
    assert "Aucun service" in network.logged_in("admin").get("/sites/sedan").text


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
