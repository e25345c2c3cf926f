"""Coordinated follow-up: a care team across organisations, its plan and its threads are read
by the team and the patient only, not by every professional who knows the patient."""

from __future__ import annotations

from typing import Any

import pytest
from api_server import Server
from fhir_samples import (
    care_plan,
    care_team,
    communication,
    location,
    organization,
    patient,
    practitioner,
)

IF_FIRST = {"If-Match": 'W/"1"'}


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> dict[str, dict[str, str]]:
    for body in (
        organization("msp"),
        organization("ssiad", kind="SSIAD"),
        organization("ch", kind="CH"),
        location("msp-site", "msp"),
        location("ssiad-site", "ssiad"),
        location("ch-site", "ch"),
        practitioner("gp", "10000000017"),
        practitioner("nurse", "10000000025"),
        practitioner("cardio", "10000000033"),
        {**patient("p1", "msp"), "generalPractitioner": [{"reference": "Practitioner/gp"}]},
        patient("p2", "ch"),
    ):
        server.put(body, coordinator)

    def professional(role: str, site: str, who: str | None = None) -> dict[str, str]:
        links = {"site": f"Location/{site}"}
        if who:
            links["practitioner"] = f"Practitioner/{who}"
        return server.headers(role, **links)

    return {
        "gp": professional("practitioner", "msp-site", "gp"),
        "nurse": professional("site-professional", "ssiad-site", "nurse"),
        "cardio": professional("practitioner", "ch-site", "cardio"),
        "msp-assistant": professional("site-professional", "msp-site"),
        "patient": server.headers("patient", patient="Patient/p1"),
        "other-patient": server.headers("patient", patient="Patient/p2"),
    }


def _status(server: Server, method: str, path: str, headers: dict, body: Any = None) -> int:
    return server.client.request(method, path, json=body, headers=headers).status_code


def _ids(server: Server, query: str, headers: dict[str, str]) -> list[str]:
    response = server.client.get(f"/fhir/{query}", headers=headers)
    assert response.status_code == 200, response.text
    return sorted(entry["resource"]["id"] for entry in response.json()["entry"])


def test_team_plan_and_threads_are_for_the_team_and_the_patient(server: Server, net: dict) -> None:
    gp = net["gp"]
    team = care_team("team", "p1", "Practitioner/gp", "Practitioner/nurse", "Practitioner/cardio")
    assert _status(server, "PUT", "/fhir/CareTeam/team", net["cardio"], team) == 403
    server.put(team, gp)  # the GP forms the team: three organisations
    plan = care_plan("plan", "p1", "team", "Practitioner/nurse")
    server.put(plan, gp)
    first = communication("c1", "p1", "Practitioner/nurse")
    server.put({**first, "recipient": [{"reference": "Practitioner/gp"}]}, net["nurse"])
    reply = {
        **communication("c2", "p1", "Practitioner/gp"),
        "inResponseTo": [{"reference": "Communication/c1"}],
    }
    server.put(reply, gp)
    from_patient = {
        **communication("c3", "p1", "Patient/p1"),
        "payload": [{"contentString": "J'ai pris 1 kg"}],
    }
    assert _status(server, "PUT", "/fhir/Communication/c3", net["patient"], from_patient) == 201

    for member in ("gp", "nurse", "cardio", "patient"):
        headers = net[member]
        for path in ("CareTeam/team", "CarePlan/plan", "Communication/c1", "Communication/c2"):
            assert _status(server, "GET", f"/fhir/{path}", headers) == 200, (member, path)
        assert _ids(server, "Communication?patient=p1", headers) == ["c1", "c2", "c3"]
    assert _ids(server, "CarePlan?performer=Practitioner/nurse", net["nurse"]) == ["plan"]

    # The MSP's assistant knows the patient (managing organisation) but is not in the team.
    outsider = net["msp-assistant"]
    assert _status(server, "GET", "/fhir/Patient/p1", outsider) == 200
    for path in ("CareTeam/team", "CarePlan/plan", "Communication/c1"):
        assert _status(server, "GET", f"/fhir/{path}", outsider) == 403, path
    assert _ids(server, "Communication?patient=p1", outsider) == []
    assert _ids(server, "CarePlan", outsider) == []
    joined = {
        **team,
        "participant": [*team["participant"], {"member": {"reference": "Location/msp-site"}}],
    }
    assert _status(server, "PUT", "/fhir/CareTeam/team", outsider, joined) == 403
    note = communication("c4", "p1", "Location/msp-site")
    assert _status(server, "PUT", "/fhir/Communication/c4", outsider, note) == 403

    stranger = net["other-patient"]
    for path in ("CareTeam/team", "CarePlan/plan", "Communication/c1"):
        assert _status(server, "GET", f"/fhir/{path}", stranger) == 403
    assert _ids(server, "Communication", stranger) == []

    # Leaving the team ends the access.
    server.put({**team, "participant": team["participant"][:2]}, gp)
    assert _status(server, "GET", "/fhir/CarePlan/plan", net["cardio"]) == 403


def test_a_plan_changed_meanwhile_is_not_overwritten(server: Server, net: dict) -> None:
    """What the follow-up page's plan form relies on: an update made on a version read before
    a colleague's change is refused (412), and only team members write the plan."""
    gp, nurse = net["gp"], net["nurse"]
    server.put(care_team("team", "p1", "Practitioner/gp", "Practitioner/nurse"), gp)
    plan = care_plan("plan", "p1", "team", "Practitioner/nurse")
    server.put(plan, gp)
    done = {**plan, "activity": [{"detail": {"status": "completed", "description": "Pesée"}}]}
    changed = server.client.put("/fhir/CarePlan/plan", json=done, headers=nurse | IF_FIRST)
    assert changed.status_code == 200 and changed.json()["meta"]["versionId"] == "2"
    stale = server.client.put(
        "/fhir/CarePlan/plan", json={**plan, "status": "revoked"}, headers=gp | IF_FIRST
    )
    assert stale.status_code == 412 and stale.json()["resourceType"] == "OperationOutcome"
    assert server.client.get("/fhir/CarePlan/plan", headers=gp).json()["status"] == "active"
    outsider = {**done, "status": "revoked"}
    assert _status(server, "PUT", "/fhir/CarePlan/plan", net["msp-assistant"], outsider) == 403
    assert _status(server, "PUT", "/fhir/CarePlan/plan", net["cardio"], outsider) == 403
