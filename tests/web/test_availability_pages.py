"""Availability pages: coordinators set any doctor's or room's weekly hours, a doctor their
own; the preview shows the slots a template makes, generation creates them, and an absence
withdraws the free slots of its days and keeps later generations out of them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from care_network import build, tomorrow
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import Site, csrf_of

from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import Resource

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def net(site: Site) -> Site:
    return build(site)


def slots_of(net: Site, schedule: str) -> dict[str, str]:
    """Each slot of the schedule's id → status, read from the store."""
    with transaction(net.app.state.sessions) as session:
        rows = session.scalars(select(Resource).where(Resource.resource_type == "Slot"))
        return {
            r.id: r.body["status"]
            for r in rows
            if r.body["schedule"]["reference"] == f"Schedule/{schedule}" and not r.deleted
        }


def template(client: TestClient, agenda: str, action: str, **fields: object) -> object:
    token = csrf_of(client.get("/disponibilites").text)
    form = {
        "csrf_token": token,
        "agenda": agenda,
        "action": action,
        "jours": list(EVERY_DAY),
        "de": "09:00",
        "a": "12:00",
        "pause_de": "10:20",
        "pause_a": "10:40",
        "duree": "20",
        "debut": tomorrow().isoformat(),
        "fin": tomorrow().isoformat(),
    } | fields
    return client.post("/disponibilites/modele", data=form, follow_redirects=False)


def options(html: str) -> list[str]:
    return re.findall(r'<option value="[^"]+"[^>]*>([^<]+)</option>', html)


def test_the_coordinator_sets_any_schedule_a_doctor_only_their_own(net: Site) -> None:
    coordinator = net.logged_in("coordinator").get("/disponibilites")
    assert coordinator.status_code == 200
    assert options(coordinator.text) == [
        "Dr Claire Martin",
        "Dr Paul Bernard",
        "Salle — Cabine de Carignan",
        "Salle — Cabine de Carignan",
    ]
    doctor = net.logged_in("practitioner")  # acts as Practitioner/d1
    assert options(doctor.get("/disponibilites").text) == ["Dr Claire Martin"]
    assert doctor.get("/disponibilites?agenda=room").status_code == 403
    refused = template(doctor, "dr-d2", "generer")
    assert refused.status_code == 403
    assert net.logged_in("site-professional").get("/disponibilites").status_code == 403


def test_the_preview_shows_the_slots_and_writes_nothing(net: Site) -> None:
    doctor = net.logged_in("practitioner")
    before = slots_of(net, "dr-d1")
    page = template(doctor, "dr-d1", "apercu", debut="2030-01-07", fin="2030-01-13",
                    jours=["mon", "tue", "wed", "thu", "fri"])  # fmt: skip
    assert page.status_code == 200
    assert "Aperçu : 40 créneau(x)" in page.text  # 8 a day: 09:00–12:00 less the break
    assert "lundi 7 janvier 2030</strong> : 09:00, 09:20, 09:40, 10:00, 10:40" in page.text
    assert "samedi 12 janvier 2030" not in page.text
    assert 'value="2030-01-07"' in page.text  # the form keeps what was typed
    assert slots_of(net, "dr-d1") == before


def test_generation_creates_the_slots_the_doctor_then_sees(net: Site) -> None:
    doctor = net.logged_in("practitioner")
    made = template(doctor, "dr-d1", "generer")
    assert made.status_code == 303, made.text
    # 8 slots tomorrow; 08:00 and 09:00 UTC were there already only if they fall on a
    # generated start, so the counts add up to 8 whatever the season.
    page = doctor.get(made.headers["location"]).text
    created, existing = map(
        int, re.search(r"(\d+) créneau\(x\) créé\(s\), (\d+) exist", page).groups()
    )
    assert created + existing == 8 and created >= 6
    assert "10:40 (libre)" in page and "10:20 (libre)" not in page
    assert len(slots_of(net, "dr-d1")) == 2 + created


def test_an_absence_withdraws_free_slots_and_keeps_generation_out(net: Site) -> None:
    coordinator = net.logged_in("coordinator")
    day = tomorrow().isoformat()
    token = csrf_of(coordinator.get("/disponibilites?agenda=dr-d1").text)
    form = {"csrf_token": token, "agenda": "dr-d1", "absence_du": day, "absence_au": day}
    missing = coordinator.post("/disponibilites/absences", data=form)
    assert missing.status_code == 422 and "indiquez le motif" in missing.text
    done = coordinator.post(
        "/disponibilites/absences", data=form | {"motif": "Congés"}, follow_redirects=False
    )
    assert done.status_code == 303
    page = coordinator.get(done.headers["location"]).text
    assert "2 créneau(x) libre(s) retiré(s)" in page and ": Congés" in page
    assert slots_of(net, "dr-d1") == {"d1-08": "busy-unavailable", "d1-09": "busy-unavailable"}
    with transaction(net.app.state.sessions) as session:
        assert resources.read(session, "Slot", "d1-08").body["comment"] == "Congés"
    preview = template(
        coordinator, "dr-d1", "apercu", fin=(tomorrow() + timedelta(days=1)).isoformat()
    )
    assert "Aperçu : 8 créneau(x)" in preview.text  # the absent day is left out
    assert template(coordinator, "dr-d1", "generer").status_code == 303
    assert len(slots_of(net, "dr-d1")) == 2  # nothing generated on the absent day

    doctor = net.logged_in("practitioner")  # Practitioner/d1 removes the absence again
    removal = {"agenda": "dr-d1", "absence_du": day, "absence_au": day, "motif": "Congés"}
    token = csrf_of(doctor.get("/disponibilites?agenda=dr-d1").text)
    refused = doctor.post(
        "/disponibilites/absences/suppression",
        data=removal | {"csrf_token": token, "motif": "Formation"},
    )
    assert refused.status_code == 422  # no such absence: nothing changes
    removed = doctor.post(
        "/disponibilites/absences/suppression",
        data=removal | {"csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    page = doctor.get(removed.headers["location"]).text
    assert "2 créneau(x) de nouveau libre(s)" in page and "Aucune absence enregistrée" in page
    assert slots_of(net, "dr-d1") == {"d1-08": "free", "d1-09": "free"}
    with transaction(net.app.state.sessions) as session:
        assert "comment" not in resources.read(session, "Slot", "d1-08").body


def test_a_wrong_template_is_explained_in_french_and_kept(net: Site) -> None:
    coordinator = net.logged_in("coordinator")
    page = template(coordinator, "room", "apercu", de="12:00", a="09:00", duree="15")
    assert page.status_code == 422
    assert "heure de fin doit suivre l" in page.text
    assert 'value="15"' in page.text
    none = template(coordinator, "room", "apercu", jours=[])
    assert none.status_code == 422 and "Cochez au moins un jour" in none.text
