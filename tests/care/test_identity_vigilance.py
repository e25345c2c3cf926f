"""RNIV rules: a qualified identity's traits and INS are frozen except through the
identity-vigilance action (a coordinator's, with a reason, audited); « qualifiée » needs INSi."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import errors
from maillage.care.french import IDENTITY_RELIABILITY
from maillage.care.identifiers import INS_TEST_SYSTEMS
from maillage.care.identity import traits
from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository
from maillage.config import Settings
from maillage.store import audit
from maillage.store.database import make_engine, session_factory, upgrade
from maillage.store.models import Resource

Body = dict[str, Any]
TEST_OID = sorted(INS_TEST_SYSTEMS)[0]
NIR = "248039912345689"
COORDINATOR = Principal(1, "coord@example.org", Role.COORDINATOR)
ADMIN = Principal(2, "admin@example.org", Role.ADMIN)


class RegisterOfTestIdentities:
    """An identity service over a register of the INSi *test* identities: what an accredited
    vendor's INSi client answers, for the identities its test platform holds."""

    def __init__(self, register: dict[str, tuple[Any, ...]]) -> None:
        self.register = register
        self.asked: list[str] = []

    def verify(self, patient: Body) -> bool:
        ins = [i["value"] for i in patient.get("identifier", []) if i["system"] == TEST_OID]
        self.asked.extend(ins)
        return bool(ins) and self.register.get(ins[0]) == traits(patient)


def _patient(status: str, birth_date: str = "1948-03-02", family: str = "Dupont") -> Body:
    return {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [{"system": TEST_OID, "value": NIR}],
        "name": [{"use": "official", "family": family, "given": ["Jeanne", "Marie"]}],
        "gender": "female",
        "birthDate": birth_date,
        "extension": [
            {
                "url": IDENTITY_RELIABILITY,
                "extension": [{"url": "identityStatus", "valueCoding": {"code": status}}],
            }
        ],
    }


@pytest.fixture
def network(tmp_path: Path) -> tuple[sessionmaker[Session], Settings]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ins.sqlite'}",
        secret_key="s" * 48,
        files_dir=tmp_path / "files",
    )
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    return session_factory(engine), settings


def test_qualifiee_is_unreachable_without_an_identity_service(
    network: tuple[sessionmaker[Session], Settings],
) -> None:
    sessions, settings = network
    repository = Repository(sessions, settings, COORDINATOR)
    with pytest.raises(errors.Conflict, match="qualifiée"):
        repository.update("Patient", "p", _patient("QUAL"))
    repository.update("Patient", "p", _patient("VALI"))  # validée by hand
    with pytest.raises(errors.Conflict, match="qualifiée"):
        repository.update("Patient", "p", _patient("QUAL"))
    with pytest.raises(errors.Conflict):
        repository.correct_identity("p", _patient("QUAL"), "pièce d'identité vue")


def test_an_identity_service_that_does_not_confirm_refuses_qualifiee(
    network: tuple[sessionmaker[Session], Settings],
) -> None:
    sessions, settings = network
    insi = RegisterOfTestIdentities({NIR: traits(_patient("QUAL", family="Durand"))})
    repository = Repository(sessions, settings, COORDINATOR, identity=insi)
    with pytest.raises(errors.Unprocessable, match="INSi"):
        repository.update("Patient", "p", _patient("QUAL"))
    assert insi.asked == [NIR]


def test_a_qualified_identity_changes_only_through_the_audited_vigilance_action(
    network: tuple[sessionmaker[Session], Settings],
) -> None:
    sessions, settings = network
    insi = RegisterOfTestIdentities({NIR: traits(_patient("QUAL"))})
    repository = Repository(sessions, settings, COORDINATOR, identity=insi)
    repository.update("Patient", "p", _patient("VALI"))
    repository.update("Patient", "p", _patient("QUAL"))  # confirmed by the identity service
    moved = _patient("QUAL", birth_date="1948-03-12")
    with pytest.raises(errors.Conflict, match="identity-vigilance"):
        repository.update("Patient", "p", moved)
    with pytest.raises(errors.Conflict):  # nor lowered to escape the rule
        repository.update("Patient", "p", _patient("VALI", birth_date="1948-03-12"))
    other = _patient("QUAL")
    other["telecom"] = [{"system": "phone", "value": "0383000000"}]
    repository.update("Patient", "p", other)  # what is not a trait may change
    admin = Repository(sessions, settings, ADMIN, identity=insi)
    with pytest.raises(errors.Forbidden, match="coordinator"):
        admin.correct_identity("p", moved, "erreur de saisie")
    with pytest.raises(errors.Invalid, match="reason"):
        repository.correct_identity("p", moved, "  ")
    reason = "erreur de saisie de la date de naissance, acte de naissance vu"
    repository.correct_identity("p", moved, reason)
    assert repository.read("Patient", "p").body["birthDate"] == "1948-03-12"
    audit.drain(sessions, settings.zone)  # queued events chained
    with sessions() as session:
        events = [
            row.body
            for row in session.scalars(
                select(Resource).where(Resource.resource_type == "AuditEvent")
            )
        ]
    noted = [e for e in events if reason in e.get("outcomeDesc", "")]
    assert len(noted) == 1
    assert noted[0]["entity"] == [{"what": {"reference": "Patient/p"}}]
