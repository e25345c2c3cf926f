"""A PDF compte rendu is shared as an MHD ITI-65 Provide Document Bundle (PDSm), with maillage's
own FHIR endpoint as the Document Recipient; a refused submission is retried, then reported.

PDSm rules checked here (ANS « Partage de Documents de Santé en mobilité » 3.0.1,
StructureDefinition pdsm-comprehensive-provide-document-bundle, on IHE MHD 4 ITI-65):
  R1 the Bundle is a ``transaction`` claiming the PDSm Comprehensive Provide Document Bundle;
  R2 every entry is a POST of its resource type with a unique ``urn:uuid:`` fullUrl;
  R3 exactly one List is the submission set: code ``submissionset`` (MHDlistTypes), status
     ``current``, mode ``working``, an ``ihe-sourceId`` extension, a subject;
  R4 one or more DocumentReference (PDSm Comprehensive DocumentReference), each listed by
     the submission set, ``current``, with a ``urn:oid:`` masterIdentifier, type, class,
     format, facility type and practice setting, the same subject as the submission set;
  R5 for a new document ``content.attachment.url`` points to a Binary of the Bundle, of the
     attachment's content type.
"""

from __future__ import annotations

import base64
import json
import socket
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from api_server import Server, qualify
from fhir_samples import VALID_NIR, encounter, identity_status, network, pdf_report
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from maillage.admin.server_commands import register
from maillage.care.delivery import failed_messages
from maillage.care.outbox import RetryPolicy
from maillage.care.sharing import share_due
from maillage.integrations import mhd
from maillage.store.database import transaction
from maillage.store.models import OutboxMessage, utcnow

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HL7 = {"h": "urn:hl7-org:v3"}


def _network(server: Server, coordinator: dict[str, str], recipient: str) -> None:
    server.settings.mhd_url = recipient
    server.settings.custodian_id = "1550000001"
    for body in network():
        if body["id"] == "patient-2":
            body["identifier"] = [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": VALID_NIR}]
            body["extension"] = [identity_status("QUAL")]
            qualify(server, body)
            continue
        server.put(body, coordinator)
    teleconsultation = encounter("tc-1", "patient-2", "site-2")
    teleconsultation["period"] = {"start": "2026-03-02T09:00:00+01:00"}
    server.put(teleconsultation, coordinator)
    report = pdf_report("patient-2", "tc-1", "doctor", PDF)
    created = server.client.post("/fhir/DocumentReference", json=report, headers=coordinator)
    assert created.status_code == 201, created.text


def _needs_concurrent_writers(server: Server) -> None:
    """maillage as its own recipient: on one SQLite file the worker's claim (a write
    transaction held while sending) blocks the recipient's writes; PostgreSQL runs both."""
    if server.settings.database_url.startswith("sqlite"):
        pytest.skip("one SQLite file cannot be its own Document Recipient (single writer)")


def _queued(server: Server) -> list[OutboxMessage]:
    with transaction(server.app.state.sessions) as session:
        return list(session.execute(select(OutboxMessage)).scalars())


def _check_pdsm_rules(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Assert R1–R5; the resources by fullUrl."""
    assert bundle["type"] == "transaction"  # R1
    assert bundle["meta"]["profile"] == [mhd.BUNDLE_PROFILE]
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert len(by_url) == len(bundle["entry"])  # R2
    for entry in bundle["entry"]:
        assert entry["fullUrl"].startswith("urn:uuid:")
        assert entry["request"] == {"method": "POST", "url": entry["resource"]["resourceType"]}
    [submission_set] = [r for r in by_url.values() if r["resourceType"] == "List"]  # R3
    assert submission_set["code"]["coding"] == [{"system": mhd.LIST_TYPES, "code": "submissionset"}]
    assert (submission_set["status"], submission_set["mode"]) == ("current", "working")
    assert [x["url"] for x in submission_set["extension"]] == [mhd.SOURCE_ID]
    documents = {u: r for u, r in by_url.items() if r["resourceType"] == "DocumentReference"}
    assert documents  # R4
    assert sorted(e["item"]["reference"] for e in submission_set["entry"]) == sorted(documents)
    for document in documents.values():
        assert document["meta"]["profile"] == [mhd.DOCUMENT_PROFILE]
        assert document["status"] == "current"
        assert document["masterIdentifier"]["value"].startswith("urn:oid:2.25.")
        assert document["subject"] == submission_set["subject"]
        assert document["type"]["coding"][0]["code"] == "11488-4"
        assert document["category"][0]["coding"][0]["code"] == "10"
        assert document["context"]["facilityType"]["coding"][0]["code"] == "SA05"
        assert document["context"]["practiceSetting"]["coding"][0]["code"] == "AMBULATOIRE"
        [content] = document["content"]
        assert content["format"]["code"] == "urn:ihe:iti:xds-sd:pdf:2008"
        binary = by_url[content["attachment"]["url"]]  # R5
        assert binary["resourceType"] == "Binary"
        assert binary["contentType"] == content["attachment"]["contentType"]
    return by_url


def test_bundle_follows_pdsm_and_maillage_takes_it(
    server: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    _needs_concurrent_writers(server)
    _network(server, coordinator, "http://testserver/fhir")
    server.settings.mhd_token = SecretStr(coordinator["Authorization"].removeprefix("Bearer "))
    [row] = _queued(server)
    assert (row.recipient, row.status) == ("http://testserver/fhir", "pending")
    by_url = _check_pdsm_rules(json.loads(row.message))
    [binary] = [r for r in by_url.values() if r["resourceType"] == "Binary"]
    cda = ET.fromstring(base64.b64decode(binary["data"]))
    ins = cda.find("h:recordTarget/h:patientRole/h:id", HL7)
    assert ins is not None and ins.get("extension") == VALID_NIR

    assert share_due(server.app.state.sessions, server.settings, client=server.client) == {
        "sent": 1
    }
    get = server.client.get
    lists = get("/fhir/List?patient=Patient/patient-2", headers=coordinator).json()["entry"]
    [stored_set] = [e["resource"] for e in lists if e["resource"]["id"] != "share-2"]
    [item] = stored_set["entry"]
    document = get(f"/fhir/{item['item']['reference']}", headers=coordinator).json()
    assert document["subject"] == {"reference": "Patient/patient-2"}
    binary_ref = document["content"][0]["attachment"]["url"]
    assert binary_ref.startswith("Binary/")
    stored = get(f"/fhir/{binary_ref}", headers={**coordinator, "Accept": "application/fhir+json"})
    assert stored.status_code == 200
    assert b"POCD_HD000040" in (
        base64.b64decode(stored.json()["data"])
        if "json" in stored.headers["content-type"]
        else stored.content
    )
    events = get(
        f"/fhir/AuditEvent?entity={row.source}&patient=Patient/patient-2", headers=admin
    ).json()["entry"]
    exports = [e["resource"] for e in events if e["resource"]["type"]["code"] == "110106"]
    assert [e["outcome"] for e in exports] == ["0"]


def test_unreachable_recipient_is_retried_then_reported(
    server: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir"
    _network(server, coordinator, closed)
    sessions, now = server.app.state.sessions, utcnow()
    policy = RetryPolicy(max_attempts=2)
    assert share_due(sessions, server.settings, policy=policy, now=now) == {"pending": 1}
    assert failed_messages(sessions) == []
    later = now + timedelta(minutes=2)
    assert share_due(sessions, server.settings, policy=policy, now=later) == {"failed": 1}
    [(_, source, recipient, attempts, error)] = failed_messages(sessions)
    assert (recipient, attempts) == (closed, 2) and "ConnectError" in error
    events = server.client.get(
        f"/fhir/AuditEvent?entity={source}&patient=Patient/patient-2", headers=admin
    ).json()["entry"]
    exports = [e["resource"] for e in events if e["resource"]["type"]["code"] == "110106"]
    assert sorted(e["outcome"] for e in exports) == ["4", "4"]


def test_refusal_by_the_recipient_is_reported_at_once(
    server: Server, coordinator: dict[str, str]
) -> None:
    _needs_concurrent_writers(server)
    _network(server, coordinator, "http://testserver/fhir")
    server.settings.mhd_token = None  # the recipient refuses an unauthenticated submission
    sessions = server.app.state.sessions
    assert share_due(sessions, server.settings, client=server.client) == {"failed": 1}
    [(_, _, _, attempts, error)] = failed_messages(sessions)
    assert attempts == 1 and error.startswith("HTTP 401")


def test_production_needs_https_recipient() -> None:
    from maillage.config import Settings

    with pytest.raises(ValueError, match="MAILLAGE_MHD_URL"):
        Settings(env="production", secret_key="x" * 40, mhd_url="http://dmp.example/fhir")  # type: ignore[arg-type]


def test_wrong_document_code_stops_the_server(tmp_path: Path) -> None:
    from maillage.config import Settings
    from maillage.server import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        document_codes={"kind": {"code": "x", "system": "urn:x", "display": "x"}},
    )
    with pytest.raises(ValueError, match="'kind' is not one of"):
        create_app(settings)


def test_cli_shares_and_lists_dead_letters(
    server: Server, coordinator: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/fhir"
    _network(server, coordinator, closed)
    cli = typer.Typer()
    register(cli)
    runner = CliRunner()
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", server.settings.database_url)
    assert runner.invoke(cli, ["outbox", "share"]).exit_code == 2  # no recipient configured
    assert runner.invoke(cli, ["outbox", "failed"]).output == "no failed message\n"
    monkeypatch.setenv("MAILLAGE_MHD_URL", closed)
    shared = runner.invoke(cli, ["outbox", "share"])
    assert (shared.exit_code, shared.output) == (0, "1 pending\n")
    with transaction(server.app.state.sessions) as session:
        for row in session.execute(select(OutboxMessage)).scalars():
            row.status, row.last_error = "failed", "HTTP 503: gave up"
    listed = runner.invoke(cli, ["outbox", "failed"]).output
    assert closed in listed and "HTTP 503: gave up" in listed
