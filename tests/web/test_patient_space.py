"""« Mon espace »: the patient sees their appointments, documents, measurements, alerts and
who accessed their record; cancels their own future appointment; exports their record."""

from __future__ import annotations

import base64
from html import unescape

import pytest
from care_network import build, follow
from web_site import PASSWORD, Site, csrf_of, login, store

from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.users import create_user

REPORT = "Compte rendu de téléconsultation : examen normal."


@pytest.fixture
def booked(site: Site) -> tuple[Site, str, str]:
    """Patient p1 followed at home, with a compte rendu, and booked by the nurse tomorrow."""
    net = follow(build(site))
    document = {
        "resourceType": "DocumentReference",
        "id": "cr1",
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "date": "2026-11-02T10:00:00+01:00",
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "title": "Compte rendu du 2 novembre",
                    "data": base64.b64encode(REPORT.encode()).decode(),
                }
            }
        ],
    }
    store(net, document)
    nurse = net.user("site-professional")
    client = net.client()
    login(client, nurse)
    token = csrf_of(client.get("/teleconsultations/nouvelle").text)
    form = {"csrf_token": token, "patient": "p1", "creneau": "d1-08 room-08", "motif": "Toux"}
    answer = client.post("/teleconsultations", data=form, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return net, answer.headers["location"].rsplit("/", 1)[1], nurse


def test_the_patient_sees_their_record_and_who_opened_it(booked: tuple[Site, str, str]) -> None:
    net, _appointment, nurse = booked
    page = net.logged_in("patient").get("/mon-espace")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Mon espace — Jeanne Dupont" in text
    assert "Claire Martin" in text and "Confirmé" in text
    assert "quinze minutes avant le rendez-vous" in text  # tomorrow: no link yet
    assert "Compte rendu du 2 novembre" in text
    assert "82,6 kg" in text and "Prise de poids de 2 kg en 48 h" in text
    assert nurse in text, "the nurse's reading at booking is among the accesses"
    assert "Pierre Ailleurs" not in text


def test_the_patient_cancels_their_future_appointment(booked: tuple[Site, str, str]) -> None:
    net, appointment, _nurse = booked
    client = net.logged_in("patient")
    token = csrf_of(client.get("/mon-espace").text)
    done = client.post(
        f"/mon-espace/rendez-vous/{appointment}/annulation",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    with transaction(net.app.state.sessions) as session:
        body = resources.read(session, "Appointment", appointment).body
        slots = [resources.read(session, "Slot", s).body["status"] for s in ("d1-08", "room-08")]
    assert body["status"] == "cancelled" and slots == ["free", "free"]
    again = client.post(
        f"/mon-espace/rendez-vous/{appointment}/annulation", data={"csrf_token": token}
    )
    assert again.status_code == 409


def test_another_patient_can_neither_see_nor_cancel_it(booked: tuple[Site, str, str]) -> None:
    net, appointment, _nurse = booked
    with transaction(net.app.state.sessions) as session:
        create_user(session, "pierre@example.org", PASSWORD, "patient", patient="Patient/p9")
    client = net.client()
    login(client, "pierre@example.org")
    assert "Claire Martin" not in client.get("/mon-espace").text
    token = csrf_of(client.get("/mon-espace").text)
    refused = client.post(
        f"/mon-espace/rendez-vous/{appointment}/annulation", data={"csrf_token": token}
    )
    assert refused.status_code in (403, 404)
    assert client.get("/mon-espace/documents/cr1").status_code in (403, 404)


def test_the_patient_exports_their_record(booked: tuple[Site, str, str]) -> None:
    net, appointment, _nurse = booked
    client = net.logged_in("patient")
    document = client.get("/mon-espace/documents/cr1")
    assert document.status_code == 200 and document.content.decode() == REPORT
    bundle = client.get("/mon-espace/export.json").json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    urls = {entry["fullUrl"] for entry in bundle["entry"]}
    assert {"Patient/p1", f"Appointment/{appointment}", "Observation/w3", "Flag/f1"} <= urls
    assert "Patient/p9" not in urls
    pdf = client.get("/mon-espace/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
