"""Assurance Maladie's remote-act rules on the doctor's page, as flags (never a block): the
coordinated care pathway per teleconsultation, and the remote share of the year against the
annual activity the coordinator declares on the Practitioner."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from care_network import at, build, expertise, tomorrow
from web_site import Site, csrf_of, store

from maillage.store.database import transaction
from maillage.store.models import Resource

TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
PATHWAY = "hors parcours de soins coordonné"


def _appointment(*extensions: dict[str, Any]) -> dict[str, Any]:
    """Appointment ``a1`` of Patient/p1 (médecin traitant: Practitioner/gp) with Dr d1."""
    start, end = at("10")
    people = ["Patient/p1", "Practitioner/d1", "Location/s1"]
    return {
        "resourceType": "Appointment",
        "id": "a1",
        "status": "booked",
        "serviceType": [TELECONSULTATION],
        "start": start,
        "end": end,
        "participant": [{"actor": {"reference": p}, "status": "accepted"} for p in people],
        **({"extension": list(extensions)} if extensions else {}),
    }


def _teleconsultation(ident: str) -> dict[str, Any]:
    """A finished teleconsultation Encounter of Dr d1 with Patient/p1, on the appointment's day."""
    start, end = at("10")
    return {
        "resourceType": "Encounter",
        "id": ident,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
        "subject": {"reference": "Patient/p1"},
        "participant": [{"individual": {"reference": "Practitioner/d1"}}],
        "period": {"start": start, "end": end},
    }


def _day_page(net: Site) -> str:
    page = net.logged_in("practitioner").get(f"/consultations?jour={tomorrow().isoformat()}")
    assert page.status_code == 200, page.text
    return page.text


@pytest.mark.parametrize(
    ("exceptions", "flagged"),
    [
        ((), True),
        (({"url": "urn:maillage:pathway-exception", "valueCode": "regulation-sas"},), False),
    ],
)
def test_the_pathway_flag_shows_unless_an_exception_applies(
    site: Site, exceptions: tuple[dict[str, Any], ...], flagged: bool
) -> None:
    net = build(site)
    store(net, _appointment(*exceptions))
    page = _day_page(net)
    assert "Cabine de Carignan" in page  # the consultation is listed: a flag, never a block
    assert (PATHWAY in page) is flagged
    assert ("patient non vu en présentiel dans les 12 mois précédents" in page) is flagged


def test_a_referral_by_the_medecin_traitant_leaves_only_the_missing_visit_in_person(
    site: Site,
) -> None:
    referral = {
        "url": "urn:maillage:referred-by",
        "valueReference": {"reference": "Practitioner/gp"},
    }
    net = build(site)
    store(net, _appointment(referral))
    page = _day_page(net)
    assert "patient non vu en présentiel dans les 12 mois précédents" in page
    assert "ni réalisée ni orientée par le médecin traitant" not in page

    store(net, _appointment({**referral, "valueReference": {"reference": "Practitioner/d9"}}))
    assert "ni réalisée ni orientée par le médecin traitant" in _day_page(net)


def test_the_remote_share_is_not_evaluable_then_flagged_once_declared(site: Site) -> None:
    net = build(site)
    store(net, _appointment(), *(_teleconsultation(f"e{i}") for i in range(3)))
    assert "(aucune activité annuelle déclarée)" in _day_page(net)
    assert "non évaluable" in _day_page(net)

    coordinator = net.logged_in("coordinator")
    form = coordinator.get("/praticiens/d1/activite")
    assert "Aucune activité annuelle déclarée" in form.text
    token = csrf_of(form.text)
    declared = coordinator.post(
        "/praticiens/d1/activite", data={"csrf_token": token, "activite": "10"}
    )
    assert declared.status_code == 200, declared.text
    assert "Activité annuelle déclarée : 10 actes." in declared.text

    page = _day_page(net)
    assert "3 actes sur une activité annuelle déclarée de 10" in page
    assert "activité à distance au-delà de 20 % de l&#39;activité annuelle (30 %)" in page


def test_the_declaration_form_checks_the_figure_and_who_declares(site: Site) -> None:
    net = build(site)
    coordinator = net.logged_in("coordinator")
    token = csrf_of(coordinator.get("/praticiens/d1/activite").text)
    for wrong in ("", "-5", "0", "beaucoup"):
        refused = coordinator.post(
            "/praticiens/d1/activite", data={"csrf_token": token, "activite": wrong}
        )
        assert refused.status_code == 422
        assert "nombre d&#39;actes" in refused.text
    assert (
        coordinator.post(
            "/praticiens/d1/activite", data={"csrf_token": token, "activite": "4200"}
        ).status_code
        == 200
    )
    with transaction(net.app.state.sessions) as session:
        body = session.get(Resource, ("Practitioner", "d1")).body
    assert body["extension"] == [
        {"url": "urn:maillage:declared-annual-activity", "valueInteger": 4200}
    ]
    doctor = net.logged_in("practitioner")
    assert doctor.get("/praticiens/d1/activite").status_code == 403


def _answered_te2(ident: str, day: str) -> dict[str, Any]:
    """A télé-expertise about Patient/p1 answered by Dr d1 on ``day``."""
    return {
        "resourceType": "Task",
        "id": ident,
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": "urn:maillage:workflow", "code": "tele-expertise"}]},
        "authoredOn": f"{day}T08:00:00Z",
        "for": {"reference": "Patient/p1"},
        "requester": {"reference": "Practitioner/gp"},
        "owner": {"reference": "Practitioner/d1"},
        "executionPeriod": {"end": f"{day}T09:00:00Z"},
    }


@pytest.mark.parametrize(("answered", "flagged"), [(4, True), (3, False)])
def test_the_fifth_te2_of_the_year_is_flagged_on_the_request(
    site: Site, answered: int, flagged: bool
) -> None:
    net = build(site)
    expertise(net)
    year = datetime.now(ZoneInfo("Europe/Paris")).year
    store(net, *(_answered_te2(f"old{i}", f"{year}-01-0{i + 1}") for i in range(answered)))
    page = net.logged_in("practitioner").get("/teleexpertises/t1")
    assert page.status_code == 200, page.text
    assert "QT long" in page.text  # the request is shown and can be answered: never a block
    wording = f"au-delà de la 4e TE2 de l&#39;année {year} pour ce patient et ce médecin requis"
    assert (wording in page.text) is flagged
