"""The remote doctor's day: previous and next day, a video link on every open consultation, the
patient's banner, the act chosen once, a compte rendu page that says where the report went
(or why nowhere) and lets the doctor choose its recipient, and the undoing of an absence or a
cancellation just marked (issue #18)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from care_network import GP_EMAIL, build, person, tomorrow
from sqlalchemy import select
from test_care_actions import booked, post, read, slots
from web_site import Site, audited, store

from maillage.store.database import transaction
from maillage.store.models import OutboxMessage

CARDIOLOGIST = "cardio@mssante.example"


@pytest.fixture
def net(site: Site) -> Site:
    build(site)
    email = [{"system": "email", "value": CARDIOLOGIST}]
    store(site, person("Practitioner", "cardio", "Inès", "Petit", telecom=email))
    return site


def recipients(net: Site) -> list[str]:
    with transaction(net.app.state.sessions) as session:
        rows = session.execute(select(OutboxMessage)).scalars().all()
        return [m.recipient for m in rows if m.source.startswith("DocumentReference/")]


def test_the_day_moves_by_a_day_and_links_each_video_room(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor = net.logged_in("practitioner")
    day = doctor.get("/consultations", params={"jour": tomorrow().isoformat()}).text
    assert f'href="/consultations?jour={tomorrow() - timedelta(days=1)}">Jour précédent' in day
    assert f'href="/consultations?jour={tomorrow() + timedelta(days=1)}">Jour suivant' in day
    assert f'href="/consultations/{ident}"' in day and 'href="https://meet.jit.si/maillage-' in day


def test_the_banner_and_the_act_chosen_once(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    text = doctor.get(page).text
    assert "Médecin traitant" in text and f"Dr Louis Généraliste ({GP_EMAIL})" in text
    assert "Dernières consultations" in text and text.count('name="acte"') == 1
    assert "Confirmer : patient absent" in text and "Confirmer l'annulation" in text
    done = post(doctor, f"{page}/statut", page, action="realisee", acte="TCG")
    assert 'name="acte"' not in done.text and 'name="destinataire"' in done.text
    sent = post(doctor, f"{page}/compte-rendu", page, compte_rendu="Bronchite virale.")
    assert f"{GP_EMAIL} : en attente d&#39;envoi" in sent.text
    assert recipients(net) == [GP_EMAIL]
    banner = doctor.get(page).text
    assert "Téléconsultation du" in banner and "Compte rendu de téléconsultation du" in banner


def test_the_doctor_chooses_another_recipient(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    post(doctor, f"{page}/statut", page, action="realisee", acte="TCG")
    assert f"Dr Inès Petit ({CARDIOLOGIST})" in doctor.get(page).text
    unknown = post(
        doctor, f"{page}/compte-rendu", page, compte_rendu="x", destinataire="Practitioner/d2"
    )
    assert unknown.status_code == 422 and "adresse de messagerie" in unknown.text
    sent = post(
        doctor,
        f"{page}/compte-rendu",
        page,
        compte_rendu="Souffle.",
        destinataire="Practitioner/cardio",
    )
    assert f"{CARDIOLOGIST} : en attente d&#39;envoi" in sent.text
    assert recipients(net) == [CARDIOLOGIST]


def test_nothing_sent_says_why(net: Site) -> None:
    patient = read(net, "Patient", "p1")
    store(net, {k: v for k, v in patient.items() if k not in ("generalPractitioner", "meta")})
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    assert "aucun médecin traitant déclaré" in doctor.get(page).text
    post(doctor, f"{page}/statut", page, action="realisee", acte="TCG")
    sent = post(doctor, f"{page}/compte-rendu", page, compte_rendu="Bronchite virale.")
    assert (
        "Rien n&#39;a été envoyé : le patient n&#39;a pas de médecin traitant déclaré." in sent.text
    )
    assert recipients(net) == []


def test_the_doctor_undoes_an_absence_from_the_day(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page, day = net.logged_in("practitioner"), f"/consultations/{ident}", "/consultations"
    absent = post(doctor, f"{page}/statut", page, action="absent")
    assert absent.url.path == day  # the day, where it may be undone
    assert "Consultation marquée absente (" in absent.text and "Annuler cette action" in absent.text
    assert f'action="/consultations/{ident}/retablir"' in absent.text
    assert slots(net, "d1-09", "room-09") == ["free", "free"]
    undone = post(doctor, f"{page}/retablir", f"{day}?jour={tomorrow()}")
    assert undone.status_code == 200 and "est de nouveau réservée." in undone.text
    assert "Annuler cette action" not in undone.text
    assert read(net, "Appointment", ident)["status"] == "booked"
    assert slots(net, "d1-09", "room-09") == ["busy", "busy"]
    assert audited(net, "update", f"Appointment/{ident}") == ["0", "0"]


def test_an_undo_after_the_time_was_taken_again_says_so(net: Site) -> None:
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    cancelled = post(doctor, f"{page}/statut", page, action="annuler", motif="Erreur de saisie")
    assert "Consultation annulée (" in cancelled.text
    other = booked(net, "d1-09 room-09")  # the nurse books the freed time again
    refused = post(doctor, f"{page}/retablir", f"/consultations?jour={tomorrow()}")
    assert refused.status_code == 409
    assert "Le créneau a été repris entre-temps : impossible d&#39;annuler." in refused.text
    assert read(net, "Appointment", ident)["status"] == "cancelled"
    assert read(net, "Appointment", other)["status"] == "booked"
    assert audited(net, "update", f"Appointment/{ident}") == ["0", "4"]  # refused, audited


def test_no_undo_once_the_window_is_closed(net: Site) -> None:
    net.app.state.settings = net.app.state.settings.model_copy(update={"undo_minutes": 0})
    ident = booked(net, "d1-09 room-09")
    doctor, page = net.logged_in("practitioner"), f"/consultations/{ident}"
    assert "cela ne peut pas être défait" in doctor.get(page).text
    absent = post(doctor, f"{page}/statut", page, action="absent")
    assert "Annuler cette action" not in absent.text
    refused = post(doctor, f"{page}/retablir", f"/consultations?jour={tomorrow()}")
    assert refused.status_code == 409 and "ne peut plus être annulée" in refused.text
    assert read(net, "Appointment", ident)["status"] == "noshow"
