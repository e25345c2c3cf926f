"""The evaluation counts Assurance Maladie's remote-act flags on a hand-built network: TE2
beyond the fourth of a year for one patient and requested doctor, doctors above 20 % of their
declared annual activity, and doctors with remote acts but no declared activity."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from maillage.config import Settings
from maillage.reports import evaluation as ev
from maillage.reports.rule_flags import rule_flags
from maillage.store import resources
from maillage.store.database import make_engine, session_factory, transaction, upgrade

YEAR = ev.Period(2025, ZoneInfo("Europe/Paris"))
DECLARED = "urn:maillage:declared-annual-activity"


def _doctor(key: str, declared: int | None) -> dict:
    extension = [{"url": DECLARED, "valueInteger": declared}] if declared else []
    return {"resourceType": "Practitioner", "id": key, "extension": extension}


def _answered(key: str, patient: str, owner: str, answered: str) -> dict:
    return {
        "resourceType": "Task",
        "id": key,
        "status": "completed",
        "intent": "order",
        "code": {"coding": [{"system": "urn:maillage:workflow", "code": "tele-expertise"}]},
        "for": {"reference": f"Patient/{patient}"},
        "owner": {"reference": f"Practitioner/{owner}"},
        "authoredOn": answered,
        "executionPeriod": {"end": answered},
    }


def _visit(key: str, doctor: str, start: str, patient: str = "p1", kind: str = "VR") -> dict:
    return {
        "resourceType": "Encounter",
        "id": key,
        "status": "finished",
        "class": {"code": kind},
        "subject": {"reference": f"Patient/{patient}"},
        "appointment": [{"reference": f"Appointment/{key}"}],
        "participant": [{"individual": {"reference": f"Practitioner/{doctor}"}}],
        "period": {"start": start},
    }


def _network(database_url: str, bodies: list[dict]) -> ev.Network:
    settings = Settings(database_url=database_url)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for body in bodies:
            resources.save(session, body, settings.zone, resource_id=body["id"])
    with sessions() as session:
        return ev.load_network(session)


def test_the_report_counts_each_flag(database_url: str) -> None:
    # Six TE2 of p1 answered by "expert" in 2025 (two beyond the fourth), one of p2 (none
    # beyond), one of p1 in 2024 (outside the period, and of another calendar year).
    te2 = [_answered(f"t{i}", "p1", "expert", f"2025-0{i}-10T09:00:00Z") for i in range(1, 7)]
    te2 += [
        _answered("t7", "p2", "expert", "2025-03-10T09:00:00Z"),
        _answered("t0", "p1", "expert", "2024-12-10T09:00:00Z"),
    ]
    # "busy" does 3 teleconsultations against 10 declared (30 %), "calm" 1 against 100,
    # "expert" 7 télé-expertises with nothing declared (non évaluable).
    visits = [_visit(f"b{i}", "busy", f"2025-0{i}-01T09:00:00Z") for i in range(1, 4)]
    visits.append(_visit("c1", "calm", "2025-05-01T09:00:00Z"))
    doctors = [_doctor("busy", 10), _doctor("calm", 100), _doctor("expert", None)]
    network = _network(database_url, [*doctors, *te2, *visits])
    assert rule_flags(network, YEAR) == {
        "teleconsultations_hors_parcours": 0,  # no patient has a médecin traitant
        "te2_au_dela_du_quatrieme": 2,
        "medecins_au_dela_de_20_pourcent": 1,
        "medecins_non_evaluables": 1,
    }


def test_a_declared_activity_large_enough_clears_the_share_flag(database_url: str) -> None:
    visits = [_visit(f"b{i}", "busy", f"2025-0{i}-01T09:00:00Z") for i in range(1, 4)]
    network = _network(database_url, [_doctor("busy", 15), *visits])
    assert rule_flags(network, YEAR)["medecins_au_dela_de_20_pourcent"] == 0


def test_the_report_counts_teleconsultations_outside_the_pathway(database_url: str) -> None:
    sas = {"url": "urn:maillage:pathway-exception", "valueCode": "regulation-sas"}
    by_gp = {"url": "urn:maillage:referred-by", "valueReference": {"reference": "Practitioner/gp"}}
    by_other = {
        "url": "urn:maillage:referred-by",
        "valueReference": {"reference": "Practitioner/x"},
    }
    patients = [
        {"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01",
         "generalPractitioner": [{"reference": "Practitioner/gp"}]},
        {"resourceType": "Patient", "id": "kid", "birthDate": "2015-01-01",
         "generalPractitioner": [{"reference": "Practitioner/gp"}]},
    ]  # fmt: skip
    bodies = [
        *patients,
        _visit("seen", "gp", "2024-10-01T09:00:00Z", kind="AMB"),  # p1 seen in person
        _visit("by-gp", "gp", "2025-03-01T09:00:00Z"),  # inside: the médecin traitant, seen
        _visit("other", "busy", "2025-03-02T09:00:00Z"),  # outside: another doctor
        _visit("gp-late", "gp", "2025-11-01T09:00:00Z"),  # outside: not seen for 12 months
        _visit("regulated", "busy", "2025-03-03T09:00:00Z"),  # exception recorded
        _visit("child", "busy", "2025-03-04T09:00:00Z", patient="kid"),  # under 16
        _visit("referred", "busy", "2025-03-05T09:00:00Z"),  # inside: oriented by the gp, seen
        _visit("elsewhere", "busy", "2025-03-06T09:00:00Z"),  # outside: oriented by another
        {"resourceType": "Appointment", "id": "regulated", "status": "fulfilled",
         "participant": [], "extension": [sas]},
        {"resourceType": "Appointment", "id": "referred", "status": "fulfilled",
         "participant": [], "extension": [by_gp]},
        {"resourceType": "Appointment", "id": "elsewhere", "status": "fulfilled",
         "participant": [], "extension": [by_other]},
    ]  # fmt: skip
    network = _network(database_url, bodies)
    assert rule_flags(network, YEAR)["teleconsultations_hors_parcours"] == 3
