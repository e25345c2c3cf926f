"""Transaction Bundles are bounded in entries (issue 14: 20,000 entries held a worker for about
17 minutes); patients send only small ones, about themselves."""

from __future__ import annotations

import pytest
from api_server import Server
from fhir_samples import network, observation, organization, post_bundle


@pytest.fixture
def limited(server: Server, coordinator: dict[str, str]) -> Server:
    for body in network():
        server.put(body, coordinator)
    update = {"bundle_max_entries": 5, "patient_bundle_max_entries": 2}
    server.app.state.settings = server.settings.model_copy(update=update)
    return server


def _orgs(n: int) -> list[dict]:
    return [
        {
            "resource": organization(f"org-{i}"),
            "request": {"method": "PUT", "url": f"Organization/org-{i}"},
        }
        for i in range(n)
    ]


def _weights(n: int, patient: str = "patient-2") -> list[dict]:
    entries = []
    for i in range(n):
        body = observation(f"w{i}", patient)
        del body["id"]
        body["effectiveDateTime"] = f"2026-03-0{i + 1}T08:00:00+01:00"
        entries.append({"resource": body, "request": {"method": "POST", "url": "Observation"}})
    return entries


def test_a_bundle_over_the_limit_is_refused_whole(
    limited: Server, coordinator: dict[str, str]
) -> None:
    assert post_bundle(limited, _orgs(5), coordinator).status_code == 200
    over = post_bundle(limited, _orgs(6), coordinator)
    assert over.status_code == 413, over.text
    assert "at most 5 entries" in over.json()["issue"][0]["diagnostics"]
    read = limited.client.get("/fhir/Organization?_count=100", headers=coordinator).json()
    assert "org-5" not in {entry["resource"]["id"] for entry in read["entry"]}


def test_patients_send_small_bundles_about_themselves(limited: Server) -> None:
    me = limited.headers("patient", patient="Patient/patient-2")
    assert post_bundle(limited, _weights(2), me).status_code == 200
    assert post_bundle(limited, _weights(3), me).status_code == 413
    assert post_bundle(limited, _weights(1, "patient-1"), me).status_code == 403
