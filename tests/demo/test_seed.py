"""The SYNTHETIC demo network: valid identifiers, tagged, indexed, audited, deterministic, and
its passwords written once to an owner-only file; refused in production."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from maillage.api import billing
from maillage.care import appointments, validation
from maillage.care.identifiers import validate_nir, validate_rpps
from maillage.care.principal import Principal, Role
from maillage.care.projects import Projects
from maillage.care.repository import Repository
from maillage.config import Settings
from maillage.demo import commands
from maillage.demo.network import DOCTORS, QUESTIONS, SITES, TREATING_DOCTORS
from maillage.demo.seed import DemoRefused, mssante_address, seed, stable_id
from maillage.reports.evaluation import Period, load_network, load_projects, project_summary
from maillage.reports.rule_flags import rule_flags
from maillage.store import audit
from maillage.store.database import make_engine, session_factory, upgrade
from maillage.store.models import BookedPeriod, OutboxMessage, Resource, SearchEntry, User
from maillage.store.users import authenticate

SCALE = 0.02


def _seeded(url: str, accounts: Path) -> tuple[Settings, object]:
    settings = Settings(database_url=url, env="development")
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    sessions = session_factory(engine)
    seed(sessions, settings, accounts, scale=SCALE)
    return settings, sessions


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> tuple[object, Path]:
    accounts = tmp_path / "demo-accounts.txt"
    _, sessions = _seeded(database_url, accounts)
    return sessions, accounts


def _bodies(sessions, resource_type: str) -> list[dict]:
    with sessions() as session:
        rows = session.execute(
            select(Resource.body).where(Resource.resource_type == resource_type)
        ).scalars()
        return list(rows)


def test_identifiers_are_valid_and_everything_is_tagged_synthetic(seeded) -> None:
    sessions, _ = seeded
    patients = _bodies(sessions, "Patient")
    assert len(patients) >= 8
    for patient in patients:
        validate_nir(patient["identifier"][0]["value"])
    for practitioner in _bodies(sessions, "Practitioner"):
        validate_rpps(practitioner["identifier"][0]["value"])
    with sessions() as session:
        bodies = session.execute(
            select(Resource.body).where(Resource.resource_type != "AuditEvent")
        ).scalars()
        assert all(b["meta"]["tag"][0]["code"] == "SYNTHETIC" for b in bodies)
        indexed = session.execute(
            select(func.count()).where(SearchEntry.resource_type == "Encounter")
        ).scalar()
        assert indexed > 0
        assert audit.verify(session).intact


def test_passwords_written_once_to_an_owner_only_file(seeded, database_url: str) -> None:
    sessions, accounts = seeded
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    lines = [line.split("\t") for line in accounts.read_text().splitlines()[1:]]
    assert {role for role, _, _ in lines} == {
        "admin",
        "coordinator",
        "planner",
        "site-professional",
        "practitioner",
        "patient",
        "dpo",
    }
    emails = {email for _, email, _ in lines}
    assert {"demo-ehpad-nurse@maillage.invalid", "demo-specialist@maillage.invalid"} <= emails
    with sessions() as session:
        assert all(authenticate(session, email, password) for _, email, password in lines)
    before = accounts.read_bytes()
    with pytest.raises(DemoRefused, match="already seeded"):
        seed(sessions, Settings(database_url=database_url), accounts, scale=SCALE)
    assert accounts.read_bytes() == before


def test_two_seedings_write_the_same_network(tmp_path: Path) -> None:
    runs = [
        _seeded(f"sqlite:///{tmp_path / name}.sqlite", tmp_path / f"{name}.txt")[1]
        for name in ("a", "b")
    ]

    def activity(sessions) -> list[dict]:
        return sorted(
            (
                {k: v for k, v in body.items() if k != "meta"}
                for body in _bodies(sessions, "Encounter")
            ),
            key=lambda body: body["id"],
        )

    assert activity(runs[0]) == activity(runs[1])


def test_production_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", env="production", secret_key="x" * 40
    )
    accounts = tmp_path / "accounts.txt"
    with pytest.raises(DemoRefused, match="production"):
        seed(session_factory(make_engine(settings.sqlalchemy_url)), settings, accounts)
    assert not accounts.exists()

    app = typer.Typer()
    commands.register(app)
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "seed"])
    assert result.exit_code == 2
    assert "production" in result.output
    assert not (tmp_path / "demo-accounts.txt").exists()


PARIS = ZoneInfo("Europe/Paris")
ROOMS = {f"Schedule/{stable_id('Schedule', demo.site.site_id)}" for demo in SITES}


def test_booked_teleconsultations_have_a_video_room_and_hold_the_doctors_and_rooms_time(
    seeded,
) -> None:
    sessions, _ = seeded
    today = datetime.now(PARIS).date().isoformat()  # the seed's today: the network's
    booked = [
        body
        for body in _bodies(sessions, "Appointment")
        if body["status"] == "booked" and body["start"].startswith(today[:4])
    ]
    assert len(booked) == 3 + 1  # this afternoon's three, and the demo patient's next one
    with sessions() as session:
        for body in booked:
            assert appointments.is_teleconsultation(body)
            assert appointments.room(body), "no video room"
            held = set(
                session.execute(
                    select(BookedPeriod.actor).where(BookedPeriod.appointment_id == body["id"])
                ).scalars()
            )
            doctor = f"Practitioner/{stable_id('Practitioner', DOCTORS[0].key)}"
            assert doctor in held and any(actor.startswith("Patient/") for actor in held)
            taken = [ref["reference"].split("/")[1] for ref in body["slot"]]
            slots = [session.get(Resource, ("Slot", ident)) for ident in taken]
            schedules = {slot.body["schedule"]["reference"] for slot in slots if slot}
            assert {slot.body["status"] for slot in slots if slot} == {"busy"}
            rooms = schedules - {f"Schedule/{stable_id('Schedule', DOCTORS[0].key)}"}
            assert len(rooms) == 1 and rooms <= ROOMS  # the doctor's time and one site's room

    # Their patients and site have an e-mail address and a mobile number: each is reminded.
    morning = datetime.combine(datetime.now(PARIS).date(), time(8), PARIS)
    now = morning.astimezone(UTC).replace(tzinfo=None)
    reminders, _ = Repository.system(sessions, Settings()).queue_reminders(now)
    assert reminders == 3 * 4


def test_every_seeded_type_passes_the_validation_of_an_api_write(seeded) -> None:
    """A sample of each seeded type, written again through the repository as the API would
    (validation, per-type rules, access policy), is accepted unchanged."""
    sessions, _ = seeded
    settings = Settings(database_url=str(sessions.kw["bind"].url), env="development")
    with sessions() as session:
        kinds = set(session.execute(select(Resource.resource_type).distinct()).scalars())
        coordinator = session.execute(select(User).where(User.role == "coordinator")).scalar_one()
    principal = Principal(coordinator.id, coordinator.email, Role.COORDINATOR)
    repository = Repository(sessions, settings, principal)
    kinds -= {"AuditEvent"}
    assert {"Appointment", "Encounter", "Observation", "Task", "Patient"} <= kinds
    for kind in sorted(kinds):
        for stored in _bodies(sessions, kind)[:3]:
            body = repository.outgoing(stored)  # as a client reads it: attachments inlined
            payload = {key: value for key, value in body.items() if key != "meta"}
            payload["meta"] = {"tag": body["meta"]["tag"]}
            validation.validate(kind, payload, body["id"])
            repository.update(kind, body["id"], payload)


def test_billing_export_has_pharmacists_tlm_at_pharmacies_and_tele_expertise_acts(seeded) -> None:
    """The demo's billing: the pharmacist's TLM at the pharmacies only, the nurse's TLL
    elsewhere, and the TE2/RQD pair of each answered télé-expertise."""
    sessions, _ = seeded
    settings = Settings(database_url=str(sessions.kw["bind"].url), env="development")
    with sessions() as session:
        coordinator = session.execute(select(User).where(User.role == "coordinator")).scalar_one()
    repository = Repository(
        sessions, settings, Principal(coordinator.id, coordinator.email, Role.COORDINATOR)
    )
    first, last = date(2019, 1, 1), datetime.now(PARIS).date()
    encounters = billing.lines(repository.billed_encounters(first, last))
    expertises = billing.expertise_lines(repository.billed_expertises(first, last))
    pharmacies = {
        f"Location/{stable_id('Location', s.site.site_id)}"
        for s in SITES
        if s.site.organization_type == "pharmacie"
    }
    assistance = {(line["act_code"], line["location"] in pharmacies) for line in encounters}
    assert assistance >= {("TLM", True), ("TLL", False)}
    assert not assistance & {("TLM", False), ("TLL", True)}
    codes = [line["act_code"] for line in expertises]
    assert codes and codes.count("TE2") == codes.count("RQD")
    assert {line["billed_by"] for line in expertises if line["act_code"] == "TE2"} == {"physician"}


def test_four_same_name_residents_and_liberal_nurses_show_the_need(seeded) -> None:
    sessions, _ = seeded
    ehpad = f"Organization/{stable_id('Organization', SITES[1].site.site_id)}"
    residents = [
        body
        for body in _bodies(sessions, "Patient")
        if body.get("managingOrganization", {}).get("reference") == ehpad
    ]
    assert {(b["name"][0]["family"], b["name"][0]["given"][0]) for b in residents} == {
        ("LAMBERT", "Jeanne")
    }
    assert len({b["birthDate"] for b in residents}) == len(residents) == 4
    (home,) = [b for b in _bodies(sessions, "Organization") if f"Organization/{b['id']}" == ehpad]
    assert home["telecom"][0]["value"].endswith(".invalid")  # the EHPAD's mailbox, SYNTHETIC
    nurses = {
        f"Practitioner/{b['id']}"
        for b in _bodies(sessions, "Practitioner")
        if b["qualification"][0]["code"]["text"] == "Infirmier libéral"
    }
    assert len(nurses) == 2
    owners = {b["actor"][0]["reference"] for b in _bodies(sessions, "Schedule")}
    assert nurses <= owners  # their calendars offer home visits


def test_the_roadmap_has_each_sites_project_and_two_under_way(seeded) -> None:
    sessions, _ = seeded
    admin = Principal(0, "admin@example.org", Role.ADMIN)
    projects = Projects(sessions, admin).find()
    assert len(projects) == len(SITES) + 2
    assert all(p.name.endswith("SYNTHÉTIQUE") for p in projects)
    by_site = {p.location: p for p in projects if p.kind == "site"}
    for demo in SITES:
        project = by_site[f"Location/{stable_id('Location', demo.site.site_id)}"]
        assert dict((s.stage, s.date) for s in project.stages)["operating"] == date.fromisoformat(
            demo.opened
        )
    under_way = sorted(p.stage or "" for p in projects if p.kind != "site")
    assert under_way == ["accompanied", "funded"]
    with sessions() as session:
        summary = project_summary(load_projects(session))
    assert summary["funding"]["ARS Grand Est"] == 15_000 * len(SITES)
    assert summary["trained"] == 2 * len(SITES)
    assert summary["hotline"] == {"open": 1, "answered": 1, "closed": 0}


def test_patients_have_a_medecin_traitant_who_gets_their_comptes_rendus(seeded) -> None:
    """Nine patients in ten have a médecin traitant of their site's commune, reached at an
    MSSanté-style address that cannot exist; the comptes rendus of the last week's
    teleconsultations (and the demo patient's) are queued to that address by the server's
    rules, none for a patient without one."""
    sessions, _ = seeded
    patients = {f"Patient/{b['id']}": b for b in _bodies(sessions, "Patient")}
    doctors = {f"Practitioner/{b['id']}": b for b in _bodies(sessions, "Practitioner")}
    treating = {
        ref: body["generalPractitioner"][0]["reference"]
        for ref, body in patients.items()
        if body.get("generalPractitioner")
    }
    assert 0 < len(patients) - len(treating) <= 0.15 * len(patients)
    addresses = {
        ref: doctors[gp]["telecom"][0]["value"] for ref, gp in treating.items() if gp in doctors
    }
    assert len(addresses) == len(treating)  # each names a Practitioner of the demo
    assert set(addresses.values()) <= {mssante_address(d) for d in TREATING_DOCTORS}
    assert mssante_address(TREATING_DOCTORS[-1]) == "emilie.schmitt@medecin.mssante.invalid"
    demo_patient = f"Patient/{stable_id('Patient', 0)}"
    assert demo_patient in addresses
    reports = {
        f"DocumentReference/{b['id']}": b["subject"]["reference"]
        for b in _bodies(sessions, "DocumentReference")
    }
    with sessions() as session:
        queued = {
            message.source: (message.patient, message.recipient)
            for message in session.execute(select(OutboxMessage)).scalars()
            if message.source.startswith("DocumentReference/")
        }
    expected = {
        source: (patient, addresses[patient])
        for source, patient in reports.items()
        if patient in addresses
    }
    assert queued == expected and demo_patient in {p for p, _ in queued.values()}


def test_tele_expertise_requests_ask_a_question_of_the_experts_specialty(seeded) -> None:
    """Each request is asked by a doctor (the patient's médecin traitant, else the remote
    GP), carries a question of the specialty asked for and a due date after it was asked."""
    sessions, _ = seeded
    patients = {f"Patient/{b['id']}": b for b in _bodies(sessions, "Patient")}
    requests = {b["id"]: b for b in _bodies(sessions, "ServiceRequest")}
    remote = f"Practitioner/{stable_id('Practitioner', DOCTORS[0].key)}"
    for task in _bodies(sessions, "Task"):
        request = requests[task["basedOn"][0]["reference"].split("/")[1]]
        specialty = request["performerType"]["coding"][0]["code"]
        assert request["reasonCode"][0]["text"] in QUESTIONS[specialty]
        gp = patients[task["for"]["reference"]].get("generalPractitioner", [{}])[0]
        requester = {"reference": gp.get("reference", remote)}
        assert task["requester"] == request["requester"] == requester
        assert task["restriction"]["period"]["end"] > task["authoredOn"]


def test_most_teleconsultations_are_inside_the_pathway_and_some_are_flagged(seeded) -> None:
    """Patients are seen in person by their médecin traitant and most teleconsultations are
    oriented by them: the evaluation flags a minority « hors parcours », not nearly all."""
    sessions, _ = seeded
    with sessions() as session:
        network = load_network(session)
    in_person = network.in_person.dropna()
    followed = set(network.patients.patient[network.patients.medecin_traitant.notna()])
    assert set(in_person.patient) <= followed  # the EHPAD's residents are seen there, unrecorded
    assert len(set(in_person.patient)) >= 0.8 * len(followed)
    zone, done = ZoneInfo("Europe/Paris"), network.teleconsultations.start
    this_year = datetime.now(zone).year  # the seeded year spans two calendar years: the fuller
    year = max(
        (Period(y, zone) for y in (this_year - 1, this_year)), key=lambda p: p.holds(done).sum()
    )
    flagged = rule_flags(network, year)["teleconsultations_hors_parcours"]
    assert 0 < flagged < 0.4 * year.holds(done).sum()
