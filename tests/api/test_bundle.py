"""Transaction Bundles at ``POST /fhir`` and the device ingestion rules: bad input is a 4xx
OperationOutcome and leaves nothing stored."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from api_server import Server
from fhir_samples import organization, patient, post_bundle, weighing

from maillage.care.monitoring import BLOOD_PRESSURE, LOINC, SYSTOLIC, UCUM
from maillage.store.database import transaction
from maillage.store.models import Measurement


@pytest.fixture
def gateway(server: Server, coordinator: dict[str, str]) -> dict[str, str]:
    for body in (organization("msp"), patient("p1", "msp"), patient("p2", "msp")):
        server.put(body, coordinator)
    return server.headers("patient", patient="Patient/p1")


def _nothing_stored(server: Server) -> None:
    admin = server.headers("admin")
    for query in ("Observation", "Communication"):
        assert server.client.get(f"/fhir/{query}", headers=admin).json()["total"] == 0
    with transaction(server.app.state.sessions) as session:
        assert session.query(Measurement).count() == 0


def _refused(response: Any, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert words in str(outcome["issue"]), outcome


def _with(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Another entry (its own full URL: no two entries of a Bundle share one) with changes."""
    changed = copy.deepcopy(entry)
    changed["fullUrl"] = f"urn:uuid:{uuid.uuid4()}"
    changed["resource"].update(changes)
    return changed


GOOD = weighing(80.0, "2026-03-02T07:30:00+01:00", "m1")


def test_unknown_code_or_wrong_unit_rolls_the_whole_bundle_back(
    server: Server, gateway: dict[str, str]
) -> None:
    unknown = _with(GOOD, code={"coding": [{"system": LOINC, "code": "99999-9"}]})
    _refused(post_bundle(server, [GOOD, unknown], gateway), 422, "entry[1]")
    pounds = {"value": 176, "unit": "lb", "system": UCUM, "code": "[lb_av]"}
    _refused(post_bundle(server, [GOOD, _with(GOOD, valueQuantity=pounds)], gateway), 422, "unit")
    half_panel = _with(
        GOOD,
        code={"coding": [{"system": LOINC, "code": BLOOD_PRESSURE}]},
        component=[
            {
                "code": {"coding": [{"system": LOINC, "code": SYSTOLIC}]},
                "valueQuantity": {"value": 150, "system": UCUM, "code": "mm[Hg]"},
            }
        ],
    )
    del half_panel["resource"]["valueQuantity"]
    _refused(post_bundle(server, [GOOD, half_panel], gateway), 422, "lacks 8462-4")
    other_patient = _with(GOOD, subject={"reference": "Patient/p2"})
    _refused(post_bundle(server, [GOOD, other_patient], gateway), 403, "entry[1]")
    single = server.client.post("/fhir/Observation", json=unknown["resource"], headers=gateway)
    _refused(single, 422, "99999-9")
    _nothing_stored(server)


@pytest.mark.parametrize(
    ("bundle", "words"),
    [
        ({"resourceType": "Bundle", "type": "batch", "entry": []}, "transaction"),
        ({"resourceType": "Patient"}, "Bundle"),
        ({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {}}]}, "entry"),
        (
            {"resourceType": "Bundle", "type": "transaction", "entry": [{**GOOD, "request": {}}]},
            "method",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [GOOD, _with(GOOD, effectiveDateTime="yesterday")],
            },
            "effectiveDateTime",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [GOOD, {**GOOD, "request": {"method": "POST", "url": "Patient"}}],
            },
            "must be 'Observation'",
        ),
        (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [GOOD, {**GOOD, "request": {"method": "DELETE", "url": "Observation/x"}}],
            },
            "POST and PUT",
        ),
    ],
)
def test_malformed_bundles_are_400(
    server: Server, gateway: dict[str, str], bundle: dict[str, Any], words: str
) -> None:
    _refused(server.client.post("/fhir", json=bundle, headers=gateway), 400, words)
    _nothing_stored(server)


def test_not_json_and_anonymous(server: Server, gateway: dict[str, str]) -> None:
    headers = {**gateway, "Content-Type": "application/fhir+json"}
    _refused(server.client.post("/fhir", content=b"{not json", headers=headers), 400, "JSON")
    _refused(post_bundle(server, [GOOD], {}), 401, "authentication")
    _nothing_stored(server)


def test_references_between_entries_and_plain_observations(
    server: Server, gateway: dict[str, str]
) -> None:
    note = {
        "fullUrl": "urn:uuid:6a3c4f7e-0000-4000-8000-000000000001",
        "resource": {
            "resourceType": "Communication",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "about": [{"reference": GOOD["fullUrl"]}],
            "payload": [{"contentString": "pesée du matin"}],
        },
        "request": {"method": "POST", "url": "Communication"},
    }
    answer = post_bundle(server, [note, GOOD], gateway)
    assert answer.status_code == 200, answer.text
    stored_note, stored_weight = (e["resource"] for e in answer.json()["entry"])
    assert stored_note["about"] == [{"reference": f"Observation/{stored_weight['id']}"}]
    # Without a device, an Observation is plain FHIR: any code, no measurement identity.
    manual = {k: v for k, v in stored_weight.items() if k not in ("id", "meta", "device")}
    manual["code"] = {"coding": [{"system": LOINC, "code": "99999-9"}]}
    manual["identifier"] = [{"system": "urn:manual", "value": "1"}]
    assert server.client.post("/fhir/Observation", json=manual, headers=gateway).status_code == 201
    twice = [_with(GOOD, identifier=[{"system": "urn:x", "value": "1"}]) for _ in range(2)]
    twice[0]["resource"]["effectiveDateTime"] = "2026-03-03T07:30:00+01:00"
    twice[1]["resource"]["effectiveDateTime"] = "2026-03-04T07:30:00+01:00"
    twice[1]["fullUrl"] = "urn:uuid:6a3c4f7e-0000-4000-8000-000000000002"
    assert post_bundle(server, twice, gateway).status_code == 200
    conditional = copy.deepcopy(GOOD)
    conditional["request"]["ifNoneExist"] = "identifier=urn:x|1"
    _refused(post_bundle(server, [conditional], gateway), 412, "matches 2")
    # Conditional create on a single POST: the If-None-Exist header.
    again = {**manual, "effectiveDateTime": "2026-03-09T07:30:00+01:00"}
    headers = {**gateway, "If-None-Exist": "identifier=urn:scale:hf-100|m1"}
    found = server.client.post("/fhir/Observation", json=again, headers=headers)
    assert found.status_code == 200
    assert found.json()["id"] == stored_weight["id"]
