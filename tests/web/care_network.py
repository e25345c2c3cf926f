"""A small care network for the care pages' tests: one assisted site, doctors, patients, slots.

``Location/s1`` (organisation ``msp``) is the nurse's site; ``Practitioner/d1`` the remote doctor
(every practitioner account of the tests acts as it); ``Patient/p1`` belongs to the site, and
``Patient/p9`` to another organisation, so the policy hides them from the nurse. Slots are
tomorrow, so that they are always upcoming.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from web_site import PASSWORD, Site, location, store

from maillage.store.database import transaction
from maillage.store.models import Alert, AlertRule, utcnow
from maillage.store.users import create_user

DOCTOR_EMAIL = "dr.martin@mssante.example"
GP_EMAIL = "dr.gp@mssante.example"
TELECONSULTATION = {"coding": [{"system": "urn:maillage:workflow", "code": "teleconsultation"}]}
EXPERTISE = {"coding": [{"system": "urn:maillage:workflow", "code": "tele-expertise"}]}

Body = dict[str, Any]


def tomorrow() -> date:
    return date.today() + timedelta(days=1)


def at(hour: str) -> tuple[str, str]:
    """Tomorrow's ``hour``:00–``hour``:20 in Paris winter/summer-agnostic form (UTC)."""
    day = tomorrow().isoformat()
    return f"{day}T{hour}:00:00Z", f"{day}T{hour}:20:00Z"


def person(kind: str, ident: str, given: str, family: str, **extra: Any) -> Body:
    return {
        "resourceType": kind,
        "id": ident,
        "name": [{"given": [given], "family": family}],
    } | extra


def slot(ident: str, schedule: str, hour: str) -> Body:
    start, end = at(hour)
    return {
        "resourceType": "Slot",
        "id": ident,
        "schedule": {"reference": f"Schedule/{schedule}"},
        "status": "free",
        "start": start,
        "end": end,
    }


def schedule(ident: str, actor: str) -> Body:
    return {
        "resourceType": "Schedule",
        "id": ident,
        "active": True,
        "actor": [{"reference": actor}],
    }


def build(site: Site) -> Site:
    """The registry, two patients, the doctors' and the room's slots at 08:00 and 09:00 UTC."""
    email = {"telecom": [{"system": "email", "value": DOCTOR_EMAIL}]}
    store(
        site,
        {"resourceType": "Organization", "id": "msp", "name": "MSP de Carignan"},
        {"resourceType": "Organization", "id": "other", "name": "MSP de Sedan"},
        location(
            "s1",
            "Cabine de Carignan",
            "Carignan",
            managingOrganization={"reference": "Organization/msp"},
        ),
        person("Practitioner", "d1", "Claire", "Martin", **email),
        person("Practitioner", "d2", "Paul", "Bernard"),
        person(
            "Practitioner",
            "gp",
            "Louis",
            "Généraliste",
            telecom=[{"system": "email", "value": GP_EMAIL}],
        ),
        person(
            "Patient",
            "p1",
            "Jeanne",
            "Dupont",
            managingOrganization={"reference": "Organization/msp"},
            generalPractitioner=[{"reference": "Practitioner/gp"}],
        ),
        person(
            "Patient",
            "p9",
            "Pierre",
            "Ailleurs",
            managingOrganization={"reference": "Organization/other"},
        ),
        schedule("dr-d1", "Practitioner/d1"),
        schedule("dr-d2", "Practitioner/d2"),
        schedule("room", "Location/s1"),
        schedule("room-b", "Location/s1"),
        slot("d1-08", "dr-d1", "08"),
        slot("d1-09", "dr-d1", "09"),
        slot("d2-08", "dr-d2", "08"),
        slot("room-08", "room", "08"),
        slot("room-09", "room", "09"),
        slot("roomb-08", "room-b", "08"),
    )
    return site


def expertise(site: Site, status: str = "requested") -> None:
    """A GP's question to Practitioner/d1 about Patient/p1 (ServiceRequest and its Task)."""
    store(
        site,
        {
            "resourceType": "ServiceRequest",
            "id": "q1",
            "status": "active",
            "intent": "order",
            "code": EXPERTISE,
            "subject": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "performer": [{"reference": "Practitioner/d1"}],
            "reasonCode": [{"text": "QT long sur l'ECG : arrêt de l'hydroxyzine ?"}],
            "note": [{"text": "78 ans, syncopes"}],
        },
        {
            "resourceType": "Task",
            "id": "t1",
            "status": status,
            "intent": "order",
            "code": EXPERTISE,
            "authoredOn": f"{tomorrow() - timedelta(days=2)}T08:00:00Z",
            "basedOn": [{"reference": "ServiceRequest/q1"}],
            "for": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "owner": {"reference": "Practitioner/d1"},
            "restriction": {"period": {"end": f"{tomorrow() + timedelta(days=1)}T08:00:00Z"}},
        },
    )


def weight(ident: str, day: int, kilos: float) -> Body:
    """A scale's weight of Patient/p1, ``day`` days ago."""
    moment = (datetime.now(UTC) - timedelta(days=day)).strftime("%Y-%m-%dT08:00:00Z")
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "subject": {"reference": "Patient/p1"},
        "device": {"reference": "Device/balance-1"},
        "effectiveDateTime": moment,
        "valueQuantity": {
            "value": kilos,
            "unit": "kg",
            "system": "http://unitsofmeasure.org",
            "code": "kg",
        },
    }


def pooled_expertise(site: Site) -> None:
    """A GP's question about Patient/p1 to the cardiology pool of the hospital ``ch`` (a
    HealthcareService), with the recipient the server stamps on such a Task; Practitioner/d2
    and Practitioner/d3 work at its site ``ch1``."""
    store(
        site,
        {"resourceType": "Organization", "id": "ch", "name": "CH de Sedan"},
        location(
            "ch1",
            "Cardiologie du CH",
            "Sedan",
            managingOrganization={"reference": "Organization/ch"},
        ),
        person("Practitioner", "d3", "Inès", "Moreau"),
        {
            "resourceType": "HealthcareService",
            "id": "cardio-pool",
            "name": "Télé-expertise cardiologie",
            "providedBy": {"reference": "Organization/ch"},
        },
        {
            "resourceType": "ServiceRequest",
            "id": "q2",
            "status": "active",
            "intent": "order",
            "code": EXPERTISE,
            "subject": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "reasonCode": [{"text": "Souffle systolique : échographie utile ?"}],
        },
        {
            "resourceType": "Task",
            "id": "t2",
            "status": "requested",
            "intent": "order",
            "code": EXPERTISE,
            "authoredOn": f"{tomorrow() - timedelta(days=1)}T08:00:00Z",
            "basedOn": [{"reference": "ServiceRequest/q2"}],
            "for": {"reference": "Patient/p1"},
            "requester": {"reference": "Practitioner/gp"},
            "owner": {"reference": "HealthcareService/cardio-pool"},
            "restriction": {
                "period": {"end": f"{tomorrow() + timedelta(days=6)}T08:00:00Z"},
                "recipient": [{"reference": "Organization/ch"}],
            },
        },
    )


def specialist(site: Site, practitioner: str) -> str:
    """An account of ``practitioner`` working at the hospital's site ``ch1``; its e-mail."""
    email = f"{practitioner.lower()}@ch.example"
    with transaction(site.app.state.sessions) as session:
        create_user(
            session, email, PASSWORD, "practitioner",
            practitioner=f"Practitioner/{practitioner}", site="Location/ch1",
        )  # fmt: skip
    return email


def care_team() -> Body:
    """Patient p1's care team, of which Practitioner/d1 (not the site) is a member."""
    return {
        "resourceType": "CareTeam",
        "id": "ct1",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "participant": [{"member": {"reference": "Practitioner/d1"}}],
    }


def follow(site: Site) -> Site:
    """Patient p1 followed by a care team of which Practitioner/d1 (not the site) is a member,
    with three weights, a trend rule and its open alert."""
    store(
        site,
        care_team(),
        weight("w1", 3, 80.0),
        weight("w2", 2, 81.2),
        weight("w3", 1, 82.6),
        {
            "resourceType": "Flag",
            "id": "f1",
            "status": "active",
            "code": {"text": "Prise de poids de 2 kg en 48 h"},
            "subject": {"reference": "Patient/p1"},
        },
    )
    with transaction(site.app.state.sessions) as session:
        session.add(
            AlertRule(
                id="r1", patient="Patient/p1", kind="trend", code="29463-7", unit="kg",
                change=2.0, window_hours=48.0, title="Prise de poids",
            )
        )  # fmt: skip
        session.flush()
        session.add(
            Alert(
                id="a1", rule_id="r1", patient="Patient/p1", flag="Flag/f1",
                communication="Communication/c1", opened=utcnow(),
            )
        )  # fmt: skip
    return site
