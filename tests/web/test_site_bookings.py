"""The site's bookings: the nurse lists her site's teleconsultations, cancels one with a
reason, moves one to another joint opening, prints the list and downloads an invitation, all
through the network's rules (slots freed and taken, the policy, the audit)."""

from __future__ import annotations

import re

import pytest
from care_network import build, slot, tomorrow
from fastapi.testclient import TestClient
from icalendar import Calendar
from web_site import Site, csrf_of, store

from maillage.store import resources
from maillage.store.database import transaction


@pytest.fixture
def net(site: Site) -> Site:
    built = build(site)
    store(built, slot("d1-10", "dr-d1", "10"), slot("room-10", "room", "10"))
    return built


def slot_status(net: Site, *ids: str) -> list[str]:
    with transaction(net.app.state.sessions) as session:
        return [resources.read(session, "Slot", i).body["status"] for i in ids]


def booked(nurse: TestClient, choice: str = "d1-08 room-08", reason: str = "Toux") -> str:
    """Book through the booking form; the appointment's id."""
    token = csrf_of(nurse.get("/teleconsultations/nouvelle").text)
    form = {"csrf_token": token, "patient": "p1", "creneau": choice, "motif": reason}
    response = nurse.post("/teleconsultations", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def post(nurse: TestClient, path: str, **form: str) -> object:
    token = csrf_of(nurse.get("/site/rendez-vous").text)
    return nurse.post(path, data={"csrf_token": token, **form}, follow_redirects=False)


def test_the_site_list_shows_upcoming_bookings_with_birth_dates(net: Site) -> None:
    store(net, {**_patient(net), "birthDate": "1941-03-12"})
    nurse = net.logged_in("site-professional")
    ident = booked(nurse)
    page = nurse.get("/site/rendez-vous")
    assert page.status_code == 200
    assert "Jeanne Dupont" in page.text and "né(e) le 12/03/1941" in page.text
    assert "Dr Claire Martin" in page.text and "Toux" in page.text and "Réservé" in page.text
    assert f'href="/site/rendez-vous/{ident}"' in page.text
    assert f'href="/teleconsultations/{ident}/invitation.ics"' in page.text
    printed = nurse.get("/site/rendez-vous/impression")
    assert printed.status_code == 200 and "Jeanne Dupont" in printed.text
    assert "<form" not in printed.text.split("<main", 1)[1]
    ics = nurse.get(f"/teleconsultations/{ident}/invitation.ics")
    assert Calendar.from_ical(ics.content).walk("VEVENT")[0]["SUMMARY"]


def _patient(net: Site) -> dict:
    with transaction(net.app.state.sessions) as session:
        return resources.read(session, "Patient", "p1").body


def test_the_nurse_cancels_with_a_reason_and_the_slots_are_freed(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    ident = booked(nurse)
    assert slot_status(net, "d1-08", "room-08") == ["busy", "busy"]
    path = f"/site/rendez-vous/{ident}/annulation"
    assert post(nurse, path, motif="  ").status_code == 422
    done = post(nurse, path, motif="Résident hospitalisé")
    assert done.status_code == 303 and done.headers["location"].endswith("fait=annule")
    assert "Le rendez-vous est annulé" in nurse.get(done.headers["location"]).text
    assert slot_status(net, "d1-08", "room-08") == ["free", "free"]
    with transaction(net.app.state.sessions) as session:
        body = resources.read(session, "Appointment", ident).body
    assert body["status"] == "cancelled"
    assert body["cancelationReason"]["text"] == "Résident hospitalisé"


def test_the_nurse_moves_to_another_joint_opening_of_the_same_doctor(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    ident = booked(nurse)
    detail = nurse.get(f"/site/rendez-vous/{ident}").text
    offered = re.findall(r'<option value="([^"]+)"', detail)
    # d1's other times with a free room of the site; never d2's, never the taken 08:00.
    assert offered == ["d1-09 room-09", "d1-10 room-10"]
    moved = post(nurse, f"/site/rendez-vous/{ident}/deplacement", creneau="d1-10 room-10")
    assert moved.status_code == 303, moved.text
    assert slot_status(net, "d1-08", "room-08", "d1-10", "room-10") == [
        "free",
        "free",
        "busy",
        "busy",
    ]
    stale = post(nurse, f"/site/rendez-vous/{ident}/deplacement", creneau="d1-08 roomb-08")
    assert stale.status_code == 409 and "Ce créneau vient" in stale.text


def test_another_sites_appointment_is_neither_shown_nor_changed(net: Site) -> None:
    store(
        net,
        {
            "resourceType": "Appointment",
            "id": "elsewhere",
            "status": "booked",
            "start": f"{tomorrow()}T11:00:00Z",
            "end": f"{tomorrow()}T11:20:00Z",
            "participant": [
                {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/d1"}, "status": "accepted"},
                {"actor": {"reference": "Location/s1"}, "status": "accepted"},
            ],
        },
        {
            "resourceType": "Appointment",
            "id": "other-site",
            "status": "booked",
            "start": f"{tomorrow()}T12:00:00Z",
            "end": f"{tomorrow()}T12:20:00Z",
            "participant": [
                {"actor": {"reference": "Patient/p9"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/d1"}, "status": "accepted"},
            ],
        },
    )
    nurse = net.logged_in("site-professional")
    page = nurse.get("/site/rendez-vous").text
    assert "/site/rendez-vous/elsewhere" in page and "other-site" not in page
    assert "Pierre Ailleurs" not in page
    assert nurse.get("/site/rendez-vous/other-site").status_code == 403
    refused = post(nurse, "/site/rendez-vous/other-site/annulation", motif="x")
    assert refused.status_code == 403


def test_only_site_professionals_reach_the_site_list(net: Site) -> None:
    for role in ("practitioner", "planner", "patient"):
        assert net.logged_in(role).get("/site/rendez-vous").status_code == 403
