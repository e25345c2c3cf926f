"""Attachments: the server names stored files itself, never from a client's value, and serves a
file only inside a resource the caller may read, within the size limit."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from api_server import Server
from fhir_samples import communication, organization, patient

from maillage.care.attachments import SHA256_SYSTEM
from maillage.store import files, resources
from maillage.store.database import transaction

SCAN = b"%PDF-1.4 compte rendu d'echographie de p1" * 10
SECRET = "root:x:0:0:the server's own file"
INLINE = {"contentType": "application/pdf", "data": base64.b64encode(SCAN).decode()}


@pytest.fixture
def patients(server: Server, coordinator: dict[str, str]) -> dict[str, dict[str, str]]:
    for body in (organization("msp"), patient("p1", "msp"), patient("p2", "msp")):
        server.put(body, coordinator)
    return {
        "p1": server.headers("patient", patient="Patient/p1"),
        "p2": server.headers("patient", patient="Patient/p2"),
    }


def _message(cid: str, who: str, attachment: dict[str, Any]) -> dict[str, Any]:
    return {
        **communication(cid, who, f"Patient/{who}"),
        "payload": [{"contentAttachment": attachment}],
    }


def _pointing_at(reference: str) -> dict[str, Any]:
    """An attachment whose checksum extension a client made up."""
    return {
        "contentType": "application/pdf",
        "extension": [{"url": SHA256_SYSTEM, "valueString": reference}],
    }


def _answer(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["issue"][0]["diagnostics"]


def _stored_without_checks(server: Server, body: dict[str, Any]) -> None:
    """A record as an older version let clients write it (straight into the store)."""
    with transaction(server.app.state.sessions) as session:
        resources.save(session, body, server.settings.zone, resource_id=body["id"])


def test_the_server_computes_the_checksum_from_the_bytes(server: Server, patients: dict) -> None:
    sent = {
        "contentType": "application/pdf",
        "data": base64.b64encode(SCAN).decode(),
        "extension": [{"url": SHA256_SYSTEM, "valueString": "0" * 64}],
    }
    response = server.client.put(
        "/fhir/Communication/c1", json=_message("c1", "p1", sent), headers=patients["p1"]
    )
    assert response.status_code == 400, response.text
    del sent["extension"]
    server.put(_message("c1", "p1", sent), patients["p1"])
    digest = hashlib.sha256(SCAN).hexdigest()
    assert (server.settings.files_dir / digest[:2] / digest).read_bytes() == SCAN
    read = server.client.get("/fhir/Communication/c1", headers=patients["p1"]).json()
    attachment = read["payload"][0]["contentAttachment"]
    assert base64.b64decode(attachment["data"]) == SCAN and "extension" not in attachment


def test_probing_server_paths_through_the_checksum_answers_alike(
    server: Server, patients: dict, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    probes = [
        "/etc/passwd",
        "/etc/no-such-file",
        "/dev/null",
        "../secret.txt",
        "../missing.txt",
        "../" * 12 + "etc/passwd",
    ]
    admin = server.headers("admin")
    answers: dict[str, set[tuple[int, str]]] = {"Communication": set(), "Binary": set()}
    for i, probe in enumerate(probes):
        body = _message(f"probe-{i}", "p1", _pointing_at(probe))
        created = server.client.post("/fhir/Communication", json=body, headers=patients["p1"])
        answers["Communication"].add(_answer(created))
        binary = {
            "resourceType": "Binary",
            "contentType": "application/pdf",
            "securityContext": {"reference": "Patient/p1"},
            "meta": {"tag": [{"system": SHA256_SYSTEM, "code": probe}]},
        }
        created = server.client.post("/fhir/Binary", json=binary, headers=admin)
        answers["Binary"].add(_answer(created))
    for seen in answers.values():
        assert len(seen) == 1
        status, diagnostics = seen.pop()
        assert 400 <= status < 500 and SECRET not in diagnostics


def test_a_forged_record_reads_nothing_and_never_breaks_a_search(
    server: Server, patients: dict, tmp_path: Path
) -> None:
    (tmp_path / "secret.txt").write_text(SECRET)
    server.put(_message("fine", "p1", INLINE), patients["p1"])
    for cid, probe in (("to-file", "../secret.txt"), ("to-nothing", "../missing.txt"),
                       ("to-device", "/dev/null")):  # fmt: skip
        _stored_without_checks(server, _message(cid, "p1", _pointing_at(probe)))
    answers = {
        _answer(server.client.get(f"/fhir/Communication/{cid}", headers=patients["p1"]))
        for cid in ("to-file", "to-nothing", "to-device")
    }
    assert len(answers) == 1
    status, diagnostics = answers.pop()
    assert 400 <= status < 500 and SECRET not in diagnostics

    for headers in (patients["p1"], server.headers("admin")):
        found = server.client.get("/fhir/Communication?patient=p1", headers=headers)
        assert found.status_code == 200, found.text
        entries = found.json()["entry"]
        matches = {e["resource"]["id"]: e["resource"] for e in entries
                   if e["search"]["mode"] == "match"}  # fmt: skip
        assert set(matches) == {"fine", "to-file", "to-nothing", "to-device"}
        fine = matches["fine"]["payload"][0]["contentAttachment"]
        assert base64.b64decode(fine["data"]) == SCAN
        assert SECRET not in found.text
        outcomes = [e for e in entries if e["search"]["mode"] == "outcome"]
        assert len(outcomes) == 1 and "to-device" in found.text


def test_a_patient_cannot_read_another_patients_attachment_by_its_hash(
    server: Server, patients: dict
) -> None:
    server.put(_message("c1", "p1", INLINE), patients["p1"])
    digest = hashlib.sha256(SCAN).hexdigest()
    stranger = patients["p2"]
    assert server.client.get("/fhir/Communication/c1", headers=stranger).status_code == 403
    theft = server.client.put(
        "/fhir/Communication/c2", json=_message("c2", "p2", _pointing_at(digest)), headers=stranger
    )
    assert theft.status_code == 400
    binary = {
        "resourceType": "Binary",
        "contentType": "application/pdf",
        "securityContext": {"reference": "Patient/p2"},
        "meta": {"tag": [{"system": SHA256_SYSTEM, "code": digest}]},
    }
    assert server.client.post("/fhir/Binary", json=binary, headers=stranger).status_code in (
        400,
        403,
    )
    mine_b64 = INLINE["data"]
    for query in ("Communication", "Binary", "Communication?patient=p2"):
        found = server.client.get(f"/fhir/{query}", headers=stranger)
        assert found.status_code == 200 and mine_b64 not in found.text


def test_reading_a_file_over_the_limit_is_refused(server: Server, patients: dict) -> None:
    server.put(_message("c1", "p1", INLINE), patients["p1"])
    server.settings.max_attachment_bytes = len(SCAN) - 1
    response = server.client.get("/fhir/Communication/c1", headers=patients["p1"])
    assert response.status_code == 409
    assert "limit" in response.json()["issue"][0]["diagnostics"]


def test_the_file_store_opens_only_server_made_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = files.put(tmp_path, SCAN)
    assert files.get(tmp_path, digest, limit=len(SCAN)) == SCAN

    def no_access(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the file system was touched: {args}")

    monkeypatch.setattr(files.os, "open", no_access)
    for name in ("../../etc/passwd", "/dev/null", digest.upper(), digest + "\n", digest[:63], ""):
        with pytest.raises(files.FileCorrupted, match="not a name of the file store"):
            files.get(tmp_path, name, limit=10**6)
