"""Care pages: booking an assisted teleconsultation, the doctor's compte rendu, the
télé-expertise inbox and a patient's follow-up, each through the server's own rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from care_network import DOCTOR_EMAIL, GP_EMAIL, build, expertise, follow, slot, tomorrow, weight
from fastapi.testclient import TestClient
from icalendar import Calendar
from sqlalchemy import select
from web_site import Site, csrf_of, store

from maillage.store import resources
from maillage.store.database import transaction
from maillage.store.models import Alert, AlertRule, OutboxMessage

CARE_PAGES = [
    "/teleconsultations/nouvelle",
    "/consultations",
    "/teleexpertises",
    "/patients",
    "/patients/p1",
]


@pytest.fixture
def net(site: Site) -> Site:
    return build(site)


def slot_status(net: Site, *ids: str) -> list[str]:
    with transaction(net.app.state.sessions) as session:
        return [resources.read(session, "Slot", i).body["status"] for i in ids]


def book(client: TestClient, patient: str, choice: str, reason: str = "Toux") -> object:
    token = csrf_of(client.get("/teleconsultations/nouvelle").text)
    form = {"csrf_token": token, "patient": patient, "creneau": choice, "motif": reason}
    return client.post("/teleconsultations", data=form, follow_redirects=False)


def test_the_nurse_books_a_slot_and_gets_the_room_and_invitation(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    form = nurse.get("/teleconsultations/nouvelle?patient=p1")
    assert form.status_code == 200 and "Jeanne Dupont" in form.text
    assert nurse.get("/teleconsultations/nouvelle?patient=p9").status_code == 403  # the policy
    assert "avec Dr Claire Martin" in form.text and 'value="d1-08 room-08"' in form.text
    assert 'value="d1-09 room-09"' in form.text and "d2-08 room-08" in form.text

    booked = book(nurse, "p1", "d1-08 room-08")
    assert booked.status_code == 303, booked.text
    page = nurse.get(booked.headers["location"])
    assert "Téléconsultation réservée" in page.text and "Cabine de Carignan" in page.text
    assert 'href="https://meet.jit.si/maillage-' in page.text
    assert slot_status(net, "d1-08", "room-08") == ["busy", "busy"]

    ics = nurse.get(booked.headers["location"] + "/invitation.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["URL"]).startswith("https://meet.jit.si/maillage-")
    assert str(event["ATTENDEE"]) == f"mailto:{DOCTOR_EMAIL}"  # the only one with an e-mail


def test_only_the_next_two_weeks_are_offered(net: Site) -> None:
    later = (tomorrow() + timedelta(days=20)).isoformat()
    for ident, schedule in (("d1-later", "dr-d1"), ("room-later", "room")):
        body = slot(ident, schedule, "08") | {
            "start": f"{later}T08:00:00Z",
            "end": f"{later}T08:20:00Z",
        }
        store(net, body)
    form = net.logged_in("site-professional").get("/teleconsultations/nouvelle").text
    assert "d1-08 room-08" in form and "d1-later" not in form


def test_a_conflict_is_a_french_message_and_takes_nothing(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    assert book(nurse, "p1", "d1-08 room-08").status_code == 303
    # Another doctor, another room, the same time: the server refuses the patient twice (409).
    refused = book(nurse, "p1", "d2-08 roomb-08")
    assert refused.status_code == 409
    assert "Ce créneau vient" in refused.text and "Traceback" not in refused.text
    assert slot_status(net, "d2-08", "roomb-08") == ["free", "free"]  # rolled back together
    stale = book(nurse, "p1", "d1-08 room-08")  # a form opened before the booking
    assert stale.status_code == 409 and 'role="alert"' in stale.text


def test_the_nurse_cannot_book_a_patient_of_another_site(net: Site) -> None:
    refused = book(net.logged_in("site-professional"), "p9", "d1-09 room-09")
    assert refused.status_code == 403
    assert "pas accès à ce dossier" in refused.text
    assert slot_status(net, "d1-09", "room-09") == ["free", "free"]


def test_a_withdrawn_consent_stops_the_booking(net: Site) -> None:
    consent = {
        "resourceType": "Consent",
        "id": "c1",
        "status": "inactive",
        "scope": {"coding": [{"code": "treatment"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
    }
    store(net, consent)
    refused = book(net.logged_in("site-professional"), "p1", "d1-08 room-08")
    assert refused.status_code == 422 and "consentement retiré" in refused.text
    assert slot_status(net, "d1-08", "room-08") == ["free", "free"]


def test_the_nurse_cannot_open_another_sites_appointment(net: Site) -> None:
    store(
        net,
        {
            "resourceType": "Appointment",
            "id": "elsewhere",
            "status": "booked",
            "start": "2026-03-02T09:00:00Z",
            "end": "2026-03-02T09:20:00Z",
            "participant": [
                {"actor": {"reference": "Patient/p9"}, "status": "accepted"},
                {"actor": {"reference": "Practitioner/d1"}, "status": "accepted"},
            ],
        },
    )
    nurse = net.logged_in("site-professional")
    assert nurse.get("/teleconsultations/elsewhere").status_code == 403
    assert nurse.get("/teleconsultations/elsewhere/invitation.ics").status_code == 403
    assert net.logged_in("practitioner").get("/teleconsultations/elsewhere").status_code == 200


def test_forms_without_csrf_are_refused(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    form = {"patient": "p1", "creneau": "d1-08 room-08"}
    assert nurse.post("/teleconsultations", data=form).status_code == 403
    assert slot_status(net, "d1-08") == ["free"]


@pytest.mark.parametrize("role", ["planner", "patient"])
def test_planners_and_patients_never_reach_care_pages(net: Site, role: str) -> None:
    client = net.logged_in(role)
    for path in CARE_PAGES:
        assert client.get(path).status_code == 403, path
    menu = client.get("/").text
    assert "Réserver une téléconsultation" not in menu and "Suivi des patients" not in menu


def test_the_doctor_writes_the_compte_rendu_which_goes_to_the_outbox(net: Site) -> None:
    nurse = net.logged_in("site-professional")
    appointment = book(nurse, "p1", "d1-09 room-09").headers["location"].rsplit("/", 1)[1]
    doctor = net.logged_in("practitioner")
    day = doctor.get("/consultations", params={"jour": tomorrow().isoformat()})
    assert "Jeanne Dupont" in day.text and "Cabine de Carignan" in day.text
    assert f'href="/consultations/{appointment}"' in day.text

    page = doctor.get(f"/consultations/{appointment}")
    assert "Téléconsultation de Jeanne Dupont" in page.text and "meet.jit.si" in page.text
    form = {"csrf_token": csrf_of(page.text), "acte": "TCG", "compte_rendu": "Bronchite virale."}
    done = doctor.post(f"/consultations/{appointment}/compte-rendu", data=form)
    assert done.status_code == 200 and "Bronchite virale." in done.text
    assert "Terminer et envoyer" not in done.text
    with transaction(net.app.state.sessions) as session:
        sent = session.execute(select(OutboxMessage)).scalars().all()
    reports = [m for m in sent if m.source.startswith("DocumentReference/")]
    assert [m.recipient for m in reports] == [GP_EMAIL]
    again = doctor.post(f"/consultations/{appointment}/compte-rendu", data=form)
    assert again.status_code == 409


def test_the_specialist_accepts_asks_and_answers_a_tele_expertise(net: Site) -> None:
    expertise(net)
    doctor = net.logged_in("practitioner")
    inbox = doctor.get("/teleexpertises")
    assert "QT long sur" in inbox.text and "Jeanne Dupont" in inbox.text
    page = doctor.get("/teleexpertises/t1")
    token = csrf_of(page.text)

    def task() -> dict:
        with transaction(net.app.state.sessions) as session:
            return resources.read(session, "Task", "t1").body

    assert doctor.post("/teleexpertises/t1", data={"csrf_token": token, "action": "accepter"})
    assert task()["status"] == "accepted"
    asked = {"csrf_token": token, "action": "completer", "texte": "Kaliémie récente ?"}
    page = doctor.post("/teleexpertises/t1", data=asked)
    assert task()["status"] == "on-hold" and "Kaliémie récente ?" in page.text
    answer = {"csrf_token": token, "action": "repondre", "texte": "Arrêt de l'hydroxyzine."}
    page = doctor.post("/teleexpertises/t1", data=answer)
    assert "Vous avez répondu" in page.text and "Arrêt de l&#39;hydroxyzine." in page.text
    done = task()
    assert done["status"] == "completed"
    assert [e["valueCoding"]["code"] for e in done["extension"]] == ["TE2"]  # the server's act
    report = done["output"][0]["valueReference"]["reference"]
    assert report.startswith("DocumentReference/")
    assert "Aucune demande en attente" in doctor.get("/teleexpertises").text


def test_a_finished_tele_expertise_cannot_be_answered_twice(net: Site) -> None:
    expertise(net, status="completed")
    doctor = net.logged_in("practitioner")
    token = csrf_of(doctor.get("/teleexpertises/t1").text)
    answer = {"csrf_token": token, "action": "repondre", "texte": "Encore."}
    refused = doctor.post("/teleexpertises/t1", data=answer)
    assert refused.status_code == 409 and "conflit" in refused.text


@pytest.fixture
def followed(net: Site) -> Site:
    return follow(net)


def test_the_care_team_sees_the_chart_and_acknowledges_the_alert(followed: Site) -> None:
    doctor = followed.logged_in("practitioner")
    listed = doctor.get("/patients")
    assert '<a href="/patients/p1">Jeanne Dupont</a>' in listed.text
    page = doctor.get("/patients/p1")
    assert page.status_code == 200
    assert '<svg class="courbe"' in page.text and 'role="img"' in page.text
    assert "3 mesures" in page.text and "dernière : 82,6 kg" in page.text
    assert page.text.count("<circle") == 3
    assert "Prise de poids de 2 kg en 48 h" in page.text
    form = {"csrf_token": csrf_of(page.text)}
    seen = doctor.post("/patients/p1/alertes/a1", data=form)
    assert seen.status_code == 200 and "Vue le" in seen.text and "Acquitter" not in seen.text
    with transaction(followed.app.state.sessions) as session:
        alert = session.get(Alert, "a1")
        assert alert is not None and alert.acknowledged_by is not None and alert.closed is None
    assert "par Claire Martin." in seen.text and f"par {alert.acknowledged_by}" not in seen.text
    coordinator = followed.logged_in("coordinator")
    with transaction(followed.app.state.sessions) as session:
        session.get(Alert, "a1").acknowledged_by = "gone@example.org"  # type: ignore[union-attr]
    assert "par un compte supprimé." in coordinator.get("/patients/p1").text


def test_follow_up_is_for_the_care_team_only(followed: Site) -> None:
    nurse = followed.logged_in("site-professional")  # the patient's site, but not in the team
    assert "Jeanne Dupont" not in nurse.get("/patients").text
    refused = nurse.get("/patients/p1")
    assert refused.status_code == 403 and "pas accès" in refused.text
    token = csrf_of(refused.text)
    assert nurse.post("/patients/p1/alertes/a1", data={"csrf_token": token}).status_code == 403
    assert followed.logged_in("coordinator").get("/patients/p1").status_code == 200


def test_a_bad_measurement_leaves_the_page_up_with_a_french_message(followed: Site) -> None:
    bad = weight("w9", 1, 80.0)
    bad["valueQuantity"] = {"value": 80.0, "unit": "lb", "system": "http://unitsofmeasure.org"}
    store(followed, bad, weight("w8", 1, 0) | {"valueQuantity": {"unit": "kg"}})
    with transaction(followed.app.state.sessions) as session:
        session.add(
            AlertRule(id="r2", patient="Patient/p1", kind="threshold", code="29463-7",
                      unit="kg", above=90.0, below=60.0, title="Poids hors bornes")
        )  # fmt: skip
    page = followed.logged_in("practitioner").get("/patients/p1")
    assert page.status_code == 200
    assert "La mesure w9 n&#39;est pas lisible" in page.text
    assert "La mesure w8 n&#39;est pas lisible" in page.text
    assert (
        page.text.count('class="seuil"') == 2
        and "Seuils d&#39;alerte : 90,0 kg et 60,0 kg" in page.text
    )
    assert "82,6 kg" in page.text  # the readable weights are still drawn


def test_the_care_team_reads_the_plan_and_writes_to_each_other(followed: Site) -> None:
    store(
        followed,
        {
            "resourceType": "CarePlan",
            "id": "cp1",
            "status": "active",
            "intent": "plan",
            "title": "Insuffisance cardiaque",
            "subject": {"reference": "Patient/p1"},
            "careTeam": [{"reference": "CareTeam/ct1"}],
            "activity": [{"detail": {"status": "in-progress", "description": "Pesée quotidienne"}}],
        },
    )
    doctor = followed.logged_in("practitioner")
    page = doctor.get("/patients/p1")
    assert "Insuffisance cardiaque" in page.text and "Pesée quotidienne" in page.text
    assert "Aucun message." in page.text
    form = {"csrf_token": csrf_of(page.text), "message": "Diurétique augmenté ce matin."}
    written = doctor.post("/patients/p1/messages", data=form)
    assert written.status_code == 200
    assert "<strong>Claire Martin</strong>" in written.text
    assert "Diurétique augmenté ce matin." in written.text
    empty = doctor.post("/patients/p1/messages", data={**form, "message": " "})
    assert empty.status_code == 422 and "Écrivez un message" in empty.text
    nurse = followed.logged_in("site-professional")  # the patient's site, not in the team
    token = csrf_of(nurse.get("/").text)
    refused = nurse.post("/patients/p1/messages", data={"csrf_token": token, "message": "x"})
    assert refused.status_code == 403
