"""The booking form records the coordinated care pathway (issue 22): who oriented the patient
or which exception applies, so the remote doctor's day flags only the teleconsultations really
outside the pathway; a wrong choice is a French form error and books nothing."""

from __future__ import annotations

import re

from care_network import build, tomorrow
from test_care_pages import slot_status
from web_site import Site, csrf_of

from maillage.store import resources
from maillage.store.database import transaction

NOT_ORIENTED = "ni réalisée ni orientée par le médecin traitant"


def _form(page: str, **answers: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "csrf_token": csrf_of(page),
        "patient": "p1",
        "creneau": "d1-08 room-08",
        "semaine": re.search(r'name="semaine" value="([^"]+)"', page).group(1),
        **answers,
    }


def test_the_referral_and_an_exception_are_recorded_and_read_by_the_doctor(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/teleconsultations/nouvelle?patient=p1").text
    assert "Parcours de soins coordonné" in page
    assert "Orienté(e) par son médecin traitant" in page
    assert "Téléconsultation régulée par le service d&#39;accès aux soins (SAS)" in page

    form = _form(page, oriente="medecin-traitant", exception=["urgence", "urgence"])
    booked = nurse.post("/teleconsultations", data=form, follow_redirects=False)
    assert booked.status_code == 303, booked.text
    ident = booked.headers["location"].rsplit("/", 1)[1]
    with transaction(net.app.state.sessions) as session:
        extension = resources.read(session, "Appointment", ident).body["extension"]
    pathway = [e for e in extension if e["url"] != "urn:maillage:video-room"]
    assert pathway == [
        {"url": "urn:maillage:referred-by", "valueReference": {"reference": "Practitioner/gp"}},
        {"url": "urn:maillage:pathway-exception", "valueCode": "urgence"},
    ]
    day = net.logged_in("practitioner").get(f"/consultations?jour={tomorrow().isoformat()}")
    assert "Cabine de Carignan" in day.text and "hors parcours" not in day.text


def test_an_unknown_exception_books_nothing_and_says_why(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/teleconsultations/nouvelle?patient=p1").text
    refused = nurse.post("/teleconsultations", data=_form(page, exception=["vendredi", "urgence"]))
    assert refused.status_code == 422
    assert "Exception au parcours inconnue : vendredi." in refused.text
    assert 'value="urgence" checked' in refused.text  # the form comes back as it was filled in
    assert slot_status(net, "d1-08", "room-08") == ["free", "free"]


def test_a_booking_without_referral_is_flagged_to_the_doctor(site: Site) -> None:
    net = build(site)
    nurse = net.logged_in("site-professional")
    page = nurse.get("/teleconsultations/nouvelle?patient=p1").text
    booked = nurse.post("/teleconsultations", data=_form(page), follow_redirects=False)
    assert booked.status_code == 303, booked.text
    day = net.logged_in("practitioner").get(f"/consultations?jour={tomorrow().isoformat()}")
    assert NOT_ORIENTED in day.text
