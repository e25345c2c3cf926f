"""The repository without any request: the same rules, refusals and audit from a job or a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from maillage.api.errors import status_of
from maillage.care import errors
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, Search, _parsed
from maillage.config import Settings
from maillage.store.database import make_engine, session_factory, upgrade
from maillage.store.search import SearchError

Body = dict[str, Any]


def _all_errors(kind: type[errors.DomainError]) -> list[type[errors.DomainError]]:
    return [kind, *(k for sub in kind.__subclasses__() for k in _all_errors(sub))]


def test_every_domain_error_is_answered_with_a_4xx_status() -> None:
    """No refusal of the domain may reach a client as a 500."""
    statuses = {kind.__name__: status_of(kind("x")) for kind in _all_errors(errors.DomainError)}
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert statuses["Forbidden"] == 403 and statuses["Unprocessable"] == 422
    assert statuses["VersionConflict"] == 409 and statuses["PreconditionFailed"] == 412


@pytest.fixture
def network(tmp_path: Path) -> tuple[sessionmaker[Session], Settings]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'care.sqlite'}",
        secret_key="s" * 48,
        files_dir=tmp_path / "files",
    )
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    return session_factory(engine), settings


def _organization(oid: str) -> Body:
    return {"resourceType": "Organization", "id": oid, "name": f"MSP {oid}"}


def _site(lid: str, org: str) -> Body:
    return {
        "resourceType": "Location",
        "id": lid,
        "name": f"Site {lid}",
        "managingOrganization": {"reference": f"Organization/{org}"},
    }


def test_a_page_or_job_gets_the_api_rules_refusals_and_audit(
    network: tuple[sessionmaker[Session], Settings],
) -> None:
    sessions, settings = network
    coordinator = Repository(
        sessions, settings, Principal(1, "coord@example.org", Role.COORDINATOR), address="job"
    )
    for oid, lid in (("msp-1", "site-1"), ("msp-2", "site-2")):
        coordinator.update("Organization", oid, _organization(oid))
        coordinator.update("Location", lid, _site(lid, oid))
    patient = {
        "resourceType": "Patient",
        "name": [{"family": "Lefèvre"}],
        "managingOrganization": {"reference": "Organization/msp-2"},
    }
    written = coordinator.create("Patient", patient)
    assert written.created
    patient_id = written.row.id
    nurse = Principal(
        2,
        "ide@example.org",
        Role.SITE_PROFESSIONAL,
        site="Location/site-1",
        organization="Organization/msp-1",
    )
    outsider = Repository(sessions, settings, nurse, address="page")
    with pytest.raises(errors.Forbidden):
        outsider.read("Patient", patient_id)
    with pytest.raises(errors.Unprocessable):  # an RPPS number with a wrong key
        coordinator.create(
            "Practitioner",
            {
                "resourceType": "Practitioner",
                "identifier": [{"system": "https://rpps.esante.gouv.fr", "value": "10000000018"}],
            },
        )
    admin = Repository(sessions, settings, Principal(3, "admin@example.org", Role.ADMIN))
    events = [row.body for row in admin.search("AuditEvent", [("_sort", "date")]).rows]
    refused = [e for e in events if e["outcome"] == "8"]
    assert [(e["agent"][0]["altId"], e["entity"]) for e in refused] == [
        ("ide@example.org", [{"what": {"reference": f"Patient/{patient_id}"}}])
    ]
    assert refused[0]["agent"][0]["network"]["address"] == "page"
    anonymous = Repository(sessions, settings, None)
    with pytest.raises(errors.Unauthenticated):
        anonymous.read("Patient", patient_id)


def test_a_repeated_search_is_parsed_once_and_only_short_queries_are_kept() -> None:
    query = [("schedule", "Schedule/a"), ("start", "ge2027-03-26"), ("_count", "10")]
    first = Search.of("Slot", query)
    assert Search.of("Slot", tuple(query)) is first  # kept, and shared: immutable
    assert isinstance(first.criteria, tuple) and isinstance(first.ids, tuple)
    assert first.count == 10 and [c.spec.name for c in first.criteria] == ["schedule", "start"]
    kept = _parsed.cache_info().currsize
    long = [("_id", ",".join(f"slot-{n}" for n in range(100)))]
    assert Search.of("Slot", long).ids == tuple(f"slot-{n}" for n in range(100))
    assert _parsed.cache_info().currsize == kept
    with pytest.raises(SearchError):  # a refusal is never kept in place of a search
        Search.of("Slot", [("_count", "ten")])
