"""The doctor's « done » action records the assistant's act that fits their profession and place:
TLM for the pharmacist at the site, TLD for a nurse assisting at the patient's home, none for an
assistant whose profession bills no assistance."""

from __future__ import annotations

import pytest
from care_network import at, build, person
from sqlalchemy import select
from web_site import Site, csrf_of, store

from maillage.care.acts import act_codes
from maillage.store.database import transaction
from maillage.store.models import Resource

TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}


def _assisted(net: Site, assistant: str, qualification: str, on_site: bool) -> None:
    """Appointment ``a1`` of Patient/p1 with Practitioner/d1, assisted by ``assistant``."""
    start, end = at("10")
    people = ["Patient/p1", "Practitioner/d1", f"Practitioner/{assistant}"]
    people += ["Location/s1"] if on_site else []
    qualifications = [{"code": {"text": qualification}}]
    store(
        net,
        person("Practitioner", assistant, "Anne", "Assistante", qualification=qualifications),
        {
            "resourceType": "Appointment",
            "id": "a1",
            "status": "booked",
            "serviceType": [TELECONSULTATION],
            "start": start,
            "end": end,
            "participant": [{"actor": {"reference": p}, "status": "accepted"} for p in people],
        },
    )


@pytest.mark.parametrize(
    ("qualification", "on_site", "codes"),
    [
        ("Pharmacien", True, ["TCG", "TLM"]),
        ("Infirmière", False, ["TCG", "TLD"]),
        ("Infirmier", True, ["TCG", "TLL"]),
        ("Sage-femme", True, ["TCG"]),
    ],
)
def test_done_records_the_assistants_act(
    site: Site, qualification: str, on_site: bool, codes: list[str]
) -> None:
    net = build(site)
    _assisted(net, "assistant", qualification, on_site)
    doctor, page = net.logged_in("practitioner"), "/consultations/a1"
    token = csrf_of(doctor.get(page).text)
    done = doctor.post(
        f"{page}/statut", data={"csrf_token": token, "action": "realisee", "acte": "TCG"}
    )
    assert done.status_code == 200, done.text
    with transaction(net.app.state.sessions) as session:
        [encounter] = session.execute(
            select(Resource.body).where(Resource.resource_type == "Encounter")
        ).scalars()
    assert act_codes(encounter) == codes
    people = [p["individual"]["reference"] for p in encounter["participant"]]
    assert ("Practitioner/assistant" in people) == (len(codes) == 2)
