"""The booking page's week calendar (issue 17): joint openings of a doctor and a room of the
site, or of a doctor and a liberal nurse at the patient's home; filters by doctor, specialty
and place; previous and next week and the first free opening; a conflict keeps the form."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from care_network import DOCTOR_EMAIL, build, person, schedule, slot, tomorrow
from sqlalchemy import select
from test_care_pages import slot_status
from web_site import Site, csrf_of, store

from maillage.care.acts import SPECIALTY_SYSTEM
from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage
from maillage.web.teleconsultation import monday

GENERAL_PRACTICE = {"system": SPECIALTY_SYSTEM, "code": "SM54", "display": "Médecine générale"}


@pytest.fixture
def site(site_on_each_database: Site) -> Site:
    """The calendar reads the slot calendar of each back-end."""
    return site_on_each_database


def liberal_nurse(net: Site) -> None:
    """Practitioner/n1, a liberal nurse free tomorrow at 08:00, and d1's specialty."""
    store(
        net,
        person(
            "Practitioner",
            "n1",
            "Sophie",
            "Infirmière",
            qualification=[{"code": {"text": "Infirmière diplômée d'État"}}],
        ),
        schedule("ide-n1", "Practitioner/n1"),
        slot("n1-08", "ide-n1", "08"),
        person(
            "Practitioner",
            "d1",
            "Claire",
            "Martin",
            qualification=[{"code": {"coding": [GENERAL_PRACTICE]}}],
            telecom=[{"system": "email", "value": "dr.martin@mssante.example"}],
        ),
    )


def offered(html: str) -> list[str]:
    return re.findall(r'name="creneau" value="([^"]+)"', html)


def later(net: Site, days: int) -> str:
    """A joint opening of d1 and the room ``days`` after tomorrow; its week's Monday."""
    day = (tomorrow() + timedelta(days=days)).isoformat()
    for ident, owner in ((f"d1-{days}", "dr-d1"), (f"room-{days}", "room")):
        store(
            net, slot(ident, owner, "10") | {"start": f"{day}T10:00:00Z", "end": f"{day}T10:20:00Z"}
        )
    return monday(date.fromisoformat(day)).isoformat()


def test_the_week_of_the_first_opening_then_the_next_weeks(site: Site) -> None:
    net = build(site)
    week = later(net, 21)
    nurse = net.logged_in("site-professional")
    first = nurse.get("/teleconsultations/nouvelle?patient=p1").text
    assert sorted(offered(first)) == ["d1-08 room-08", "d1-09 room-09", "d2-08 room-08"]
    assert "Créneaux communs libres, semaine du" in first and 'scope="row">' in first
    assert "Jeanne Dupont" in first
    there = nurse.get(f"/teleconsultations/nouvelle?patient=p1&semaine={week}").text
    assert offered(there) == ["d1-21 room-21"]
    following = re.search(r'href="/teleconsultations/nouvelle\?([^"]+)">Semaine suivante', there)
    assert following and "patient=p1" in following.group(1)
    empty = nurse.get("/teleconsultations/nouvelle?" + following.group(1).replace("&amp;", "&"))
    assert (
        offered(empty.text) == [] and "Aucun créneau commun n'est libre cette semaine" in empty.text
    )
    first_free = re.search(
        r'href="/teleconsultations/nouvelle\?([^"]*)">Première disponibilité', there
    )
    assert first_free and first_free.group(1) == "patient=p1"


def test_filters_by_doctor_and_specialty(site: Site) -> None:
    net = build(site)
    liberal_nurse(net)
    nurse = net.logged_in("site-professional")
    by_doctor = nurse.get("/teleconsultations/nouvelle?medecin=Practitioner/d2").text
    assert offered(by_doctor) == ["d2-08 room-08"]
    assert '<option value="SM54">Médecine générale</option>' in by_doctor
    by_specialty = nurse.get("/teleconsultations/nouvelle?specialite=SM54").text
    assert offered(by_specialty) == ["d1-08 room-08", "d1-09 room-09"]
    assert "Sophie Infirmière" not in re.sub(
        r"<select id=\"infirmier\".*?</select>", "", by_specialty, flags=re.S
    )


def test_a_conflict_keeps_the_patient_the_reason_and_the_filters(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/teleconsultations/nouvelle?patient=p1&medecin=Practitioner/d1").text
    with transaction(net.app.state.sessions) as session:  # someone else takes d1 at 08:00
        taken = resources.read(session, "Slot", "d1-08").body | {"status": "busy"}
        resources.save(session, taken, net.app.state.settings.zone, resource_id="d1-08")
    form = {
        "csrf_token": csrf_of(page),
        "patient": "p1",
        "creneau": "d1-08 room-08",
        "motif": "Plaie du talon à revoir",
        "medecin": "Practitioner/d1",
        "semaine": re.search(r'name="semaine" value="([^"]+)"', page).group(1),
    }
    refused = nurse.post("/teleconsultations", data=form)
    assert refused.status_code == 409
    assert "Ce créneau vient" in refused.text
    assert 'value="Plaie du talon à revoir"' in refused.text
    assert "Jeanne Dupont" in refused.text and 'name="patient" value="p1"' in refused.text
    assert '<option value="Practitioner/d1" selected>' in refused.text
    assert offered(refused.text) == ["d1-09 room-09"]
    assert slot_status(net, "room-08") == ["free"]


def test_a_home_teleconsultation_with_a_liberal_nurse(site: Site) -> None:
    net = build(site)
    liberal_nurse(net)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/teleconsultations/nouvelle?patient=p1&lieu=domicile").text
    assert offered(page) == ["d1-08 n1-08", "d2-08 n1-08"]
    assert "et Sophie Infirmière (IDE libéral)" in page
    form = {
        "csrf_token": csrf_of(page),
        "patient": "p1",
        "creneau": "d1-08 n1-08",
        "motif": "Ulcère de jambe",
        "lieu": "domicile",
    }
    booked = nurse.post("/teleconsultations", data=form, follow_redirects=False)
    assert booked.status_code == 303, booked.text
    ident = booked.headers["location"].rsplit("/", 1)[1]
    with transaction(net.app.state.sessions) as session:
        body = resources.read(session, "Appointment", ident).body
    actors = sorted(p["actor"]["reference"] for p in body["participant"])
    assert actors == ["Patient/p1", "Practitioner/d1", "Practitioner/n1"]  # no site, no room
    assert slot_status(net, "d1-08", "n1-08", "room-08") == ["busy", "busy", "free"]
    shown = nurse.get(booked.headers["location"]).text
    assert "Sophie Infirmière" in shown and "Téléconsultation réservée" in shown


def test_the_confirmation_goes_to_the_patients_organisation_without_her_own_address(
    site: Site,
) -> None:
    net = build(site)
    mailbox = "accueil@ehpad.mssante.invalid"
    store(
        net,
        {
            "resourceType": "Organization",
            "id": "msp",
            "name": "EHPAD des Tilleuls",
            "telecom": [{"system": "email", "value": mailbox}],
        },
        person(
            "Patient",
            "p2",
            "Rose",
            "Blanc",
            managingOrganization={"reference": "Organization/msp"},
            telecom=[{"system": "email", "value": "rose.blanc@example.org"}],
        ),
    )
    nurse = net.logged_in("site-professional")
    for patient, choice in (("p1", "d1-08 room-08"), ("p2", "d1-09 room-09")):
        page = nurse.get(f"/teleconsultations/nouvelle?patient={patient}").text
        form = {"csrf_token": csrf_of(page), "patient": patient, "creneau": choice}
        assert (
            nurse.post("/teleconsultations", data=form, follow_redirects=False).status_code == 303
        )
    with transaction(net.app.state.sessions) as session:
        sent = session.execute(select(OutboxMessage.patient, OutboxMessage.recipient)).all()
    told = sorted((patient, recipient) for patient, recipient in sent if recipient != DOCTOR_EMAIL)
    # Jeanne Dupont has no address: her EHPAD is told; Rose Blanc is told herself, not the EHPAD.
    assert told == [("Patient/p1", mailbox), ("Patient/p2", "rose.blanc@example.org")]
