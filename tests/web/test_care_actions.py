"""What the care teams do to records from the pages: the doctor closes, cancels, marks absent or
moves a teleconsultation; a specialist takes a request sent to their pool; the care team sets
alert rules and closes alerts — each stored through the server's rules and audited."""

from __future__ import annotations

from typing import Any

import pytest
from care_network import build, follow, pooled_expertise, specialist
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_site import Site, audited, csrf_of, login

from maillage.store import audit, resources
from maillage.store.database import transaction
from maillage.store.models import Alert, AlertRule, OutboxMessage, Resource

Body = dict[str, Any]


@pytest.fixture
def net(site: Site) -> Site:
    return build(site)


def read(net: Site, kind: str, ident: str) -> Body:
    with transaction(net.app.state.sessions) as session:
        return resources.read(session, kind, ident).body


def found(net: Site, kind: str) -> list[Body]:
    if kind == "AuditEvent":  # queued events chained first
        audit.drain(net.app.state.sessions, net.app.state.settings.zone)
    with transaction(net.app.state.sessions) as session:
        rows = session.execute(
            select(Resource).where(Resource.resource_type == kind, Resource.deleted.is_(False))
        ).scalars()
        return [row.body for row in rows]


def booked(net: Site, choice: str) -> str:
    """The nurse books Patient/p1 on ``choice``; the appointment's id."""
    nurse = net.logged_in("site-professional")
    token = csrf_of(nurse.get("/teleconsultations/nouvelle").text)
    form = {"csrf_token": token, "patient": "p1", "creneau": choice, "motif": "Toux"}
    response = nurse.post("/teleconsultations", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def post(client: TestClient, path: str, page: str, **fields: str) -> Any:
    """Post a form of ``page`` (its CSRF token) to ``path``."""
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **fields})


def slots(net: Site, *ids: str) -> list[str]:
    return [read(net, "Slot", ident)["status"] for ident in ids]


def test_the_doctor_marks_the_consultation_done_then_sends_the_report(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    assert "Consultation réalisée" in doctor.get(page).text
    done = post(doctor, f"{page}/statut", page, action="realisee", acte="TCG")
    assert done.status_code == 200
    assert '<dd id="statut">Réalisé</dd>' in done.text and "Patient absent" not in done.text
    assert read(net, "Appointment", ident)["status"] == "fulfilled"
    assert slots(net, "d1-09", "room-09") == ["busy", "busy"]  # a fulfilled one keeps them
    [encounter] = found(net, "Encounter")
    assert encounter["status"] == "finished"
    assert encounter["extension"][0]["valueCoding"]["code"] == "TCG"
    assert audited(net, "update", f"Appointment/{ident}") == ["0"]

    # The act is recorded: the report form asks only for the text, and adds no Encounter.
    assert 'name="acte"' not in done.text and "Envoyer le compte rendu" in done.text
    again = post(doctor, f"{page}/statut", page, action="realisee", acte="TCG")
    assert again.status_code == 409
    sent = post(doctor, f"{page}/compte-rendu", page, compte_rendu="Bronchite virale.")
    assert sent.status_code == 200 and "Bronchite virale." in sent.text
    assert len(found(net, "Encounter")) == 1
    with transaction(net.app.state.sessions) as session:
        messages = session.execute(select(OutboxMessage.source)).scalars().all()
    assert any(source.startswith("DocumentReference/") for source in messages)


def test_the_doctor_cancels_with_a_reason_and_the_slots_are_freed(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    refused = post(doctor, f"{page}/statut", page, action="annuler", motif=" ")
    assert refused.status_code == 422 and "motif de l&#39;annulation" in refused.text
    assert read(net, "Appointment", ident)["status"] == "booked"

    cancelled = post(doctor, f"{page}/statut", page, action="annuler", motif="Patient hospitalisé")
    assert cancelled.status_code == 200 and "Consultation annulée (" in cancelled.text
    shown = doctor.get(page).text
    assert '<dd id="statut">Annulé</dd>' in shown
    assert "Patient hospitalisé" in shown and "Consultation réalisée" not in shown
    stored = read(net, "Appointment", ident)
    assert stored["status"] == "cancelled"
    assert stored["cancelationReason"] == {"text": "Patient hospitalisé"}
    assert slots(net, "d1-09", "room-09") == ["free", "free"]
    late = post(doctor, f"{page}/statut", page, action="absent")
    assert late.status_code == 409 and "déjà « annulé »" in late.text


def test_the_doctor_marks_the_patient_absent(net: Site) -> None:
    ident = booked(net, "d1-08 room-08")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    absent = post(doctor, f"{page}/statut", page, action="absent")
    assert absent.status_code == 200 and "Consultation marquée absente (" in absent.text
    assert read(net, "Appointment", ident)["status"] == "noshow"
    assert slots(net, "d1-08", "room-08") == ["free", "free"]
    shown = doctor.get(page).text
    assert '<dd id="statut">Patient absent</dd>' in shown and "Compte rendu" not in shown


def test_the_doctor_moves_the_appointment_to_another_free_time(net: Site) -> None:
    ident = booked(net, "d1-08 room-08")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    form = doctor.get(page).text
    assert 'value="d1-09 room-09"' in form and "d2-08" not in form  # only their own times
    taken = post(doctor, f"{page}/deplacement", page, creneau="d2-08 roomb-08")
    assert taken.status_code == 409 and "Ce créneau vient" in taken.text
    moved = post(doctor, f"{page}/deplacement", page, creneau="d1-09 room-09")
    assert moved.status_code == 200
    stored = read(net, "Appointment", ident)
    assert stored["start"].endswith("T09:00:00Z") and stored["status"] == "booked"
    assert slots(net, "d1-08", "room-08", "d1-09", "room-09") == ["free", "free", "busy", "busy"]
    assert 'value="d1-08 room-08"' in moved.text  # the freed time is offered again
    assert audited(net, "update", f"Appointment/{ident}") == ["0"]


def test_only_the_appointments_doctor_changes_it(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    page = f"/consultations/{ident}"
    nurse = net.logged_in("site-professional")
    token = csrf_of(nurse.get("/").text)
    form = {"csrf_token": token, "action": "absent"}
    assert nurse.post(f"{page}/statut", data=form).status_code == 403
    other = net.client()
    login(other, specialist(net, "d2"))  # a doctor with no link to this appointment
    token = csrf_of(other.get("/").text)
    refused = other.post(f"{page}/statut", data={"csrf_token": token, "action": "absent"})
    assert refused.status_code == 403
    doctor = net.logged_in("practitioner")
    assert doctor.post(f"{page}/statut", data={"action": "absent"}).status_code == 403  # CSRF
    assert read(net, "Appointment", ident)["status"] == "booked"


def test_a_specialist_takes_a_request_sent_to_their_pool_and_answers_it(net: Site) -> None:
    pooled_expertise(net)
    taker, colleague = net.client(), net.client()
    login(taker, specialist(net, "d2"))
    login(colleague, specialist(net, "d3"))
    for client in (taker, colleague):
        inbox = client.get("/teleexpertises").text
        assert "Demandes adressées à votre équipe (1)" in inbox
        assert "Télé-expertise cardiologie" in inbox and "Souffle systolique" in inbox
    page = "/teleexpertises/t2"
    booked(net, "d1-09 room-09")  # Practitioner/d1 now cares for p1, but is not in the pool
    outsider = net.logged_in("practitioner")
    assert "Souffle systolique" not in outsider.get("/teleexpertises").text
    token = csrf_of(outsider.get("/").text)
    assert outsider.get(page).status_code == 403
    assert outsider.post(page, data={"csrf_token": token, "action": "prendre"}).status_code == 403
    early = post(taker, page, page, action="repondre", texte="Oui.")
    assert early.status_code == 409 and "Prenez d&#39;abord" in early.text
    taken = post(taker, page, page, action="prendre")
    assert taken.status_code == 200 and "Acceptée" in taken.text
    task = read(net, "Task", "t2")
    assert task["owner"] == {"reference": "Practitioner/d2"} and task["status"] == "accepted"
    assert audited(net, "update", "Task/t2") == ["0"]

    assert "Souffle systolique" not in colleague.get("/teleexpertises").text
    token = csrf_of(colleague.get("/").text)
    assert colleague.post(page, data={"csrf_token": token, "action": "prendre"}).status_code == 403
    assert read(net, "Task", "t2")["owner"] == {"reference": "Practitioner/d2"}

    answered = post(taker, page, page, action="repondre", texte="Échographie cardiaque utile.")
    assert "Vous avez répondu" in answered.text
    assert read(net, "Task", "t2")["status"] == "completed"


def test_the_care_team_sets_and_changes_an_alert_rule(net: Site) -> None:
    follow(net)
    doctor = net.logged_in("practitioner")
    page = doctor.get("/patients/p1").text
    assert "Prise de poids</strong> — Poids : variation de 2,0 kg en 48 h" in page
    form = "/patients/p1/regles/nouvelle"
    incomplete = post(doctor, "/patients/p1/regles", form, titre="Poids", mesure="29463-7|kg")
    assert incomplete.status_code == 422 and "au moins un seuil" in incomplete.text
    created = post(
        doctor, "/patients/p1/regles", form, titre="Poids trop élevé", mesure="29463-7|kg",
        au_dessus="90,5",
    )  # fmt: skip
    assert created.status_code == 200 and "Poids au-dessus de 90,5 kg" in created.text
    with transaction(net.app.state.sessions) as session:
        rule = session.execute(select(AlertRule).where(AlertRule.id != "r1")).scalar_one()
    assert (rule.kind, rule.code, rule.above, rule.below) == ("threshold", "29463-7", 90.5, None)
    assert audited(net, "create", "Patient/p1") == ["0"]

    edit = f"/patients/p1/regles/{rule.id}"
    assert 'value="90.5"' in doctor.get(edit).text
    changed = post(
        doctor, edit, edit, titre="Poids trop bas", mesure="29463-7|kg", au_dessus="",
        en_dessous="60",
    )  # fmt: skip
    assert "Poids trop bas</strong> — Poids en dessous de 60,0 kg" in changed.text
    with transaction(net.app.state.sessions) as session:
        stored = session.get(AlertRule, rule.id)
        assert stored is not None and (stored.above, stored.below) == (None, 60.0)
    assert doctor.get("/patients/p1/regles/r1").status_code == 409  # a trend rule


def test_the_care_team_closes_an_alert(net: Site) -> None:
    follow(net)
    doctor = net.logged_in("practitioner")
    closed = post(doctor, "/patients/p1/alertes/a1/cloture", "/patients/p1")
    assert closed.status_code == 200 and "Aucune alerte ouverte." in closed.text
    with transaction(net.app.state.sessions) as session:
        alert = session.get(Alert, "a1")
        assert alert is not None and alert.closed is not None
    assert read(net, "Flag", "f1")["status"] == "inactive"


@pytest.mark.parametrize("role", ["planner", "site-professional"])
def test_rules_and_alerts_are_for_the_care_team_only(net: Site, role: str) -> None:
    follow(net)
    client = net.logged_in(role)  # a planner; the patient's site nurse, not in the team
    token = csrf_of(client.get("/").text)
    rule = {"csrf_token": token, "titre": "T", "mesure": "29463-7|kg", "au_dessus": "90"}
    assert client.get("/patients/p1/regles/nouvelle").status_code == 403
    assert client.post("/patients/p1/regles", data=rule).status_code == 403
    assert client.post("/patients/p1/regles/r1", data=rule).status_code == 403
    closing = client.post("/patients/p1/alertes/a1/cloture", data={"csrf_token": token})
    assert closing.status_code == 403
    with transaction(net.app.state.sessions) as session:
        assert session.execute(select(AlertRule.id)).scalars().all() == ["r1"]
        alert = session.get(Alert, "a1")
        assert alert is not None and alert.closed is None


def test_an_invalid_rule_form_for_another_organisations_patient_is_refused_and_audited(
    net: Site,
) -> None:
    """The regression of issue 13: the 422 page of an incomplete rule form showed the name of
    a patient the nurse has no relationship with, and nothing audited the read."""
    client = net.logged_in("site-professional")  # of Organization/msp; p9 is Sedan's
    token = csrf_of(client.get("/").text)
    empty = {"csrf_token": token, "titre": "T", "mesure": "", "au_dessus": ""}
    refused = client.post("/patients/p9/regles", data=empty)
    assert refused.status_code == 403
    assert "Ailleurs" not in refused.text and "Pierre" not in refused.text
    assert audited(net, "search-type", "Patient/p9") == ["8"]  # like GET /patients/p9
    shown = client.get("/patients/p9")
    assert shown.status_code == 403 and "Ailleurs" not in shown.text
