"""Follow-up in headless Chromium, on PostgreSQL right after ``maillage demo seed``: the demo
MSP nurse follows a monitored patient of her care team, sees the weight chart with the alert
threshold drawn and the alert worded in French, acknowledges it (named as a person) and closes
it, and writes to the care team; she adds a care plan and marks one of its activities done.
axe-core checks each page."""

from __future__ import annotations

import pytest
from browser_support import coordinator_api, demo_log_in, serious_violations
from playwright.sync_api import Page, expect
from sqlalchemy.engine import make_url

from maillage.care import alerts
from maillage.config import Settings
from maillage.demo.network import SITES
from maillage.demo.seed import stable_id
from maillage.store.database import make_engine, session_factory, transaction

DEMO_DATABASE = "followup"
NURSE = f"Practitioner/{stable_id('Practitioner', SITES[0].site.site_id)}"


@pytest.fixture
def page(demo_page: Page) -> Page:
    return demo_page


def raise_an_alert(demo: tuple[str, dict[str, str]], postgres_url: str) -> str:
    """The coordinator sets a weight threshold on a patient of the nurse's care team (through
    the API); the alert worker's evaluation then runs here, as ``maillage worker`` would. The
    patient's family name."""
    with coordinator_api(demo) as api:
        teams = api.get("/fhir/CareTeam", params={"participant": NURSE}).json()
        patient = teams["entry"][0]["resource"]["subject"]["reference"]
        rule = {
            "patient": patient,
            "kind": "threshold",
            "code": "29463-7",
            "unit": "kg",
            "above": 20.0,
            "title": "Poids au-dessus du seuil",
        }
        created = api.post("/api/monitoring/rules", json=rule)
        assert created.status_code == 201, created.text
        family = str(api.get(f"/fhir/{patient}").json()["name"][0]["family"])
    database = f"{make_url(postgres_url).database}_{DEMO_DATABASE}"
    url = make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            assert alerts.evaluate(session, Settings(database_url=url), patient)
    finally:
        engine.dispose()
    return family


def test_the_nurse_acknowledges_and_closes_an_alert(
    page: Page, demo: tuple[str, dict[str, str]], postgres_url: str
) -> None:
    family = raise_an_alert(demo, postgres_url)
    demo_log_in(page, demo, "site-professional")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Suivi des patients"
    ).click()
    page.get_by_role("link", name=family).first.click()
    expect(page.get_by_role("heading", name="Suivi de")).to_contain_text(family)
    alert = page.locator("li.alerte").filter(has_text="Poids au-dessus du seuil")
    expect(alert).to_contain_text(" kg le ")  # French: value, unit, local day and time
    expect(page.locator("svg.courbe .seuil")).to_have_count(1)
    assert serious_violations(page) == []

    alert.get_by_role("button", name="Acquitter l'alerte").click()
    seen = page.locator("li.alerte").filter(has_text="Poids au-dessus du seuil")
    expect(seen).to_contain_text("Vue le")
    expect(seen).not_to_contain_text("@")  # named, never by address
    seen.get_by_role("button", name="Clore l'alerte").click()
    expect(page.locator("li.alerte").filter(has_text="Poids au-dessus du seuil")).to_have_count(0)

    page.get_by_label("Message à l'équipe de soins").fill("Alerte vue, pesée refaite demain.")
    page.get_by_role("button", name="Envoyer le message").click()
    expect(page.locator("ul.messages")).to_contain_text("Alerte vue, pesée refaite demain.")
    assert serious_violations(page) == []


def test_the_nurse_adds_a_care_plan_and_marks_an_activity_done(
    page: Page, demo: tuple[str, dict[str, str]]
) -> None:
    with coordinator_api(demo) as api:
        teams = api.get("/fhir/CareTeam", params={"participant": NURSE}).json()
        patient = teams["entry"][0]["resource"]["subject"]["reference"]
        family = str(api.get(f"/fhir/{patient}").json()["name"][0]["family"])
    demo_log_in(page, demo, "site-professional")
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Suivi des patients"
    ).click()
    page.get_by_role("link", name=family).first.click()
    page.get_by_role("link", name="Ajouter un plan de soins").click()
    page.get_by_label("Titre du plan").fill("Surveillance de l'insuffisance cardiaque")
    page.get_by_label("Activité 1", exact=True).fill("Pesée quotidienne le matin")
    page.get_by_label("Activité 2", exact=True).fill("Contrôle des œdèmes des chevilles")
    page.get_by_label("Statut de l'activité 2").select_option(label="En cours")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Enregistrer le plan de soins").click()
    plan = page.locator("section.plan").filter(has_text="Surveillance de l'insuffisance")
    expect(plan).to_contain_text("Pesée quotidienne le matin — À faire")
    expect(plan).to_contain_text("Contrôle des œdèmes des chevilles — En cours")

    plan.get_by_role("link", name="Modifier le plan").click()
    page.get_by_label("Statut de l'activité 1").select_option(label="Faite")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Enregistrer le plan de soins").click()
    plan = page.locator("section.plan").filter(has_text="Surveillance de l'insuffisance")
    expect(plan).to_contain_text("Pesée quotidienne le matin — Faite")
    expect(plan).to_contain_text("Statut : En cours")
    assert serious_violations(page) == []
