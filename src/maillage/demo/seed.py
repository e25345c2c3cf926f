"""``maillage demo seed``: fill an empty network with a year of SYNTHETIC activity.

Everything is drawn from one fixed seed, so two runs give the same people, sites and acts (only
the free slots follow the day of seeding, so that the booking page has something to offer).
Every resource carries the ``SYNTHETIC`` tag and is written through the care repository by the
demo's coordinator, in one transaction: the same validation, per-type rules (booking holds the
doctors' and rooms' time, teleconsultations get a video room, acts and device measurements are
checked) and audit trail as an API write, so demo data obeys every rule of the network. One more
AuditEvent records the seeding. Demo accounts get random passwords, written once to a file only
its owner can read: they are never printed nor reused.
"""

from __future__ import annotations

import base64
import getpass
import os
import secrets
import uuid
import zlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker
from stdnum import luhn

from maillage import french_format
from maillage.care import monitoring, site_import, teleexpertise
from maillage.care.acts import SPECIALTY_SYSTEM, Profession, assistance_act
from maillage.care.codes import (
    ACT_CLASS_SYSTEM,
    ACT_URL,
    NGAP_SYSTEM,
    PARTICIPATION_TYPE_SYSTEM,
    PRIMARY_PERFORMER,
    REFERRED_BY_URL,
    TELE_EXPERTISE,
    TELECONSULTATION,
    VIRTUAL,
    WORKFLOW_SYSTEM,
)
from maillage.care.identifiers import RPPS_SYSTEM, nir_key
from maillage.care.principal import Principal
from maillage.care.repository import Repository, Work
from maillage.care.site_import import Site
from maillage.config import Settings
from maillage.demo.network import (
    DOCTORS,
    EXPERT_SPECIALTIES,
    EXPERTS,
    LIBERAL_NURSES,
    QUESTIONS,
    SAME_NAME_BIRTH_DATES,
    SITES,
    SPECIALTIES,
    SYNTHETIC_TAG,
    TREATING_DOCTORS,
    Doctor,
)
from maillage.demo.projects import seed_projects
from maillage.reports.evaluation import OPENED_URL
from maillage.store import audit, resources, statistics
from maillage.store.database import transaction
from maillage.store.models import User, utcnow
from maillage.store.search_params import normalise_text
from maillage.store.users import Role, create_user
from maillage.territory.communes import load_communes

SEED = 20_250_101
INS_TEST_SYSTEM = "urn:oid:1.2.250.1.213.1.4.10"
"""The INSi teleservice's system for test and demonstration identities: never a real person's."""
PATIENTS_AT_FULL_SCALE = 1_500
EXPERTISE_AT_FULL_SCALE = 300
ASSISTED_SHARE = 0.7
CANCELLED_SHARE = 0.05
WITHOUT_TREATING_DOCTOR = 10
"""One patient in ten has no médecin traitant (the pathway rule's exception)."""
REPORTED_DAYS = 7
"""The finished teleconsultations of the last week have their compte rendu in the outbox."""
_PRIMARY = {"coding": [{"system": PARTICIPATION_TYPE_SYSTEM, "code": PRIMARY_PERFORMER}]}
"""Marks the remote doctor among an Encounter's participants (the nurse is the other one)."""
_IDS = uuid.UUID("6b1d2f4e-93a7-4c1b-8e0d-2a5f7c9e3b10")
_FIRST = np.array(["Jeanne", "Louis", "Marie", "Jean", "Alice", "Pierre", "Rose", "Jules"])
_LAST = np.array(["Lambert", "Fontaine", "Roux", "Vincent", "Mercier", "Blanc", "Guerin"])


class DemoRefused(RuntimeError):
    """Seeding was refused (production mode, or a demo already seeded)."""


@dataclass(frozen=True)
class SeedReport:
    """How many resources of each type were written, and where the passwords are."""

    counts: dict[str, int]
    accounts_file: Path


def stable_id(kind: str, key: object) -> str:
    """An id derived from the demo's own key: a resource keeps it from one seeding to the next."""
    return str(uuid.uuid5(_IDS, f"{kind}|{key}"))


def rpps(number: int) -> str:
    """An 11-digit RPPS with its Luhn check digit, in a range (``19…``) kept for the demo."""
    body = f"19{number:08d}"
    return body + luhn.calc_check_digit(body)


def nirs(sex: pd.Series, born: pd.Series, code_commune: pd.Series, order: pd.Series) -> pd.Series:
    """Valid NIRs of people born in ``code_commune`` (body of 13 characters + key)."""
    body = (
        sex.astype(str)
        + born.dt.strftime("%y%m")
        + code_commune.str.zfill(5)
        + order.map("{:03d}".format)
    )
    return body + body.map(nir_key)


def _tagged(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "meta": {"tag": [SYNTHETIC_TAG]}}


def _ref(kind: str, key: object) -> dict[str, str]:
    return {"reference": f"{kind}/{stable_id(kind, key)}"}


def _modality(code: str) -> dict[str, Any]:
    """A teleconsultation modality, coded as the registry's services and the evaluation read it."""
    return {"coding": [{"system": site_import.MODALITY_SYSTEM, "code": code}]}


def _teleconsultation(modality: str) -> dict[str, Any]:
    """An appointment's service type: a teleconsultation as the appointment rules know it (video
    room, booked periods), of the modality the evaluation counts."""
    workflow = {"system": WORKFLOW_SYSTEM, "code": TELECONSULTATION}
    return {"coding": [workflow, *_modality(modality)["coding"]]}


def _instant(moment: pd.Timestamp) -> str:
    return moment.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(code: str, city: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": site_import.INSEE_EXTENSION,
                "valueCoding": {"system": site_import.INSEE_SYSTEM, "code": code},
            }
        ],
        "city": city,
        "country": "FRA",
    }


def _ehpad_email(site: Site) -> str:
    """The EHPAD's secure mailbox (an MSSanté-style address that cannot exist: SYNTHETIC)."""
    return f"accueil@{site.site_id}.mssante.invalid"


def _contacts(name: str, number: int) -> list[dict[str, Any]]:
    """An e-mail address under ``.invalid`` (RFC 2606: never delivered) and a mobile number of
    the 06 39 98 range that ARCEP keeps for fiction, so that the reminders have somewhere to
    go without reaching anyone."""
    mobile = f"+33 6 39 98 {number // 100 % 100:02d} {number % 100:02d}"
    return [
        {"system": "phone", "use": "mobile", "value": mobile},
        {"system": "email", "value": f"{name}@demo.maillage.invalid"},
    ]


def _practitioner(doctor: Doctor, number: int, qualification: str) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": RPPS_SYSTEM, "value": rpps(number)}],
        "active": True,
        "name": [{"family": doctor.family, "given": [doctor.given]}],
        "address": [{**_address(doctor.code_commune, doctor.commune), "use": "work"}],
        "qualification": [{"code": {"text": qualification}}],
    }


def _specialty(code: str, label: str) -> dict[str, Any]:
    """An ordinal specialty (ANS TRE_R38), as a qualification and a ``performerType``."""
    return {"coding": [{"system": SPECIALTY_SYSTEM, "code": code, "display": label}]}


def mssante_address(doctor: Doctor) -> str:
    """The doctor's MSSanté-style address ``prenom.nom@medecin.mssante.invalid`` (accents
    dropped; ``.invalid`` cannot exist: SYNTHETIC)."""
    name = normalise_text(f"{doctor.given}.{doctor.family}").replace(" ", "-")
    return f"{name}@medecin.mssante.invalid"


def treating_doctor(patient_key: int, site: int) -> dict[str, str] | None:
    """The médecin traitant of a demo patient: the one practising at their site's commune,
    except for one patient in ten, who has none."""
    if patient_key % WITHOUT_TREATING_DOCTOR == WITHOUT_TREATING_DOCTOR - 1:
        return None
    return _ref("Practitioner", TREATING_DOCTORS[site].key)


def oriented_by_treating_doctor(visit_key: object) -> bool:
    """Whether the médecin traitant oriented the patient to a teleconsultation: about four in
    five, drawn from the key (the others are flagged « hors parcours » to the doctor and in the
    evaluation)."""
    return zlib.crc32(str(visit_key).encode()) % 5 != 4


def _referral(visit_key: object, patient: int, site: int) -> dict[str, Any]:
    """The Appointment's referral by the patient's médecin traitant, when they oriented it."""
    treating = treating_doctor(patient, site)
    if treating is None or not oriented_by_treating_doctor(visit_key):
        return {}
    return {"extension": [{"url": REFERRED_BY_URL, "valueReference": treating}]}


def _clashes(held: pd.DataFrame) -> np.ndarray:
    """Which of the visits that hold time (not cancelled) would book a doctor, a site (its
    nurse) or a patient already booked at the same time (starts fall on a half-hour grid and
    visits last 20 minutes, so only equal starts overlap)."""
    clash = np.zeros(len(held), dtype=bool)
    for who in ("doctor", "site", "patient"):
        clash |= held.duplicated([who, "start"]).to_numpy()
    return clash


def _bookable(visits: pd.DataFrame, rng: np.random.Generator, rounds: int = 20) -> pd.DataFrame:
    """The drawn visits, those that the booking rules would refuse as double bookings moved to
    another half hour of their day (a few rounds), the rare ones left over dropped."""
    visits = visits.copy()
    for _ in range(rounds):
        clash = _clashes(visits[~visits.cancelled])
        moved = visits.index[~visits.cancelled][clash]
        if not len(moved):
            break
        minutes = rng.integers(8 * 2, 18 * 2, size=len(moved)) * 30
        day = visits.loc[moved, "start"].dt.normalize()
        visits.loc[moved, "start"] = day + pd.to_timedelta(minutes, unit="min")
    held = visits[~visits.cancelled]
    return visits.drop(held.index[_clashes(held)]).reset_index(drop=True)


def _participants(patient: int, doctor: Doctor, site: Site) -> list[dict[str, Any]]:
    """A teleconsultation's participants: the patient, the remote doctor, the site's
    professional beside the patient and its room, all accepted."""
    people = [
        _ref("Patient", patient),
        _ref("Practitioner", doctor.key),
        _ref("Practitioner", site.site_id),
        _ref("Location", site.site_id),
    ]
    return [{"actor": actor, "status": "accepted"} for actor in people]


def _assistant(site: Site) -> tuple[Doctor, str]:
    """The site's professional beside the patient, with the act they bill outside scheduled
    care: the pharmacist at a pharmacy (TLM), a nurse elsewhere (TLL, on site)."""
    pharmacy = site.organization_type == "pharmacie"
    profession = Profession.PHARMACIST if pharmacy else Profession.NURSE
    code = assistance_act(profession=profession, during_scheduled_care=False, at_home=False).code
    family, qualification = ("PHARMACIEN", "Pharmacien") if pharmacy else ("INFIRMIER", "Infirmier")
    who = Doctor(
        site.site_id, family, f"Site {site.commune}", code, site.code_commune, site.commune
    )
    return who, qualification


class _Seeder:
    """Writes the network's resources through the repository's one unit of work, counting them
    by type."""

    def __init__(self, work: Work, settings: Settings, rng: np.random.Generator) -> None:
        self.work, self.settings, self.zone, self.rng = work, settings, settings.zone, rng
        self.counts: dict[str, int] = {}

    def save(self, key: object, body: dict[str, Any]) -> None:
        kind = body["resourceType"]
        ident = stable_id(kind, key)
        self.work.save({**_tagged(body), "id": ident}, ident)
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def registry(self) -> None:
        for number, demo in enumerate(SITES):
            site = demo.site
            org_id = stable_id("Organization", site.site_id)
            loc_id = stable_id("Location", site.site_id)
            organization = site_import.organization_body(site)
            if site.organization_type == "ehpad":  # confirmations reach its residents there
                organization["telecom"] = [{"system": "email", "value": _ehpad_email(site)}]
            self.save(site.site_id, organization)
            location = site_import.location_body(site, org_id)
            location["extension"] = [{"url": OPENED_URL, "valueDate": demo.opened}]
            location["telecom"] = _contacts(f"site-{number}", 5000 + number)
            self.save(site.site_id, location)
            for modality in site.modalities:
                body = site_import.service_body(site, modality, org_id, loc_id)
                self.save(f"{site.site_id}/{modality}", body)
            assistant, qualification = _assistant(site)
            self.save(site.site_id, _practitioner(assistant, 500 + number, qualification))
        for number, doctor in enumerate(DOCTORS + EXPERTS):
            body = _practitioner(doctor, 100 + number, f"Médecin ({doctor.act})")
            specialty = SPECIALTIES.get(doctor.act) or EXPERT_SPECIALTIES.get(doctor.key)
            if specialty:
                body["qualification"].append({"code": _specialty(*specialty)})
            self.save(doctor.key, body)
        for number, doctor in enumerate(TREATING_DOCTORS):
            body = _practitioner(doctor, 700 + number, "Médecin généraliste")
            body["qualification"].append({"code": _specialty(*SPECIALTIES["TCG"])})
            body["telecom"] = [{"system": "email", "use": "work", "value": mssante_address(doctor)}]
            self.save(doctor.key, body)
        for number, nurse in enumerate(LIBERAL_NURSES):
            self.save(nurse.key, _practitioner(nurse, 300 + number, "Infirmier libéral"))

    def patients(self, count: int) -> pd.DataFrame:
        """Patients living in the department of the site they use, with valid test INS-NIR."""
        communes = load_communes()[["code_commune", "nom", "departement"]]
        weights = np.array([s.teleconsultations for s in SITES], dtype=float)
        site = self.rng.choice(len(SITES), size=count, p=weights / weights.sum())
        department = np.array([s.site.code_commune[:2] for s in SITES])[site]
        pool = (
            communes[communes.departement.isin(set(department))]
            .sort_values("code_commune")
            .reset_index(drop=True)
        )
        first = pool.reset_index().groupby("departement")["index"].min()
        size = pool.groupby("departement").size()
        offset = self.rng.random(count) * size.loc[department].to_numpy()
        home = first.loc[department].to_numpy() + offset.astype(int)
        table = pd.DataFrame(
            {
                "key": np.arange(count),
                "site": site,
                "code_commune": pool.code_commune.to_numpy()[home],
                "commune": pool.nom.to_numpy()[home],
                "sex": self.rng.integers(1, 3, size=count),
                "born": pd.to_datetime("1930-01-01")
                + pd.to_timedelta(self.rng.integers(0, 75 * 365, size=count), unit="D"),
                "given": self.rng.choice(_FIRST, size=count),
                "family": self.rng.choice(_LAST, size=count),
            }
        )
        table["nir"] = nirs(table.sex, table.born, table.code_commune, table.key % 999 + 1)
        for row in table.to_dict("records"):
            body = {
                "resourceType": "Patient",
                "identifier": [{"system": INS_TEST_SYSTEM, "value": row["nir"]}],
                "name": [{"family": row["family"].upper(), "given": [row["given"]]}],
                "gender": "male" if row["sex"] == 1 else "female",
                "birthDate": row["born"].date().isoformat(),
                "address": [{**_address(row["code_commune"], row["commune"]), "use": "home"}],
                "telecom": _contacts(f"patient-{row['key']}", row["key"]),
            }
            treating = treating_doctor(row["key"], row["site"])
            self.save(row["key"], body | ({"generalPractitioner": [treating]} if treating else {}))
        return table

    def residents(self) -> None:
        """Four residents named « Jeanne LAMBERT » at the first EHPAD, born on different days
        (told apart only by birth date, as on a real EHPAD's list), with no e-mail of their
        own: their confirmations go to the EHPAD; all four have the médecin traitant of its
        commune."""
        number, home = next(
            (n, demo.site) for n, demo in enumerate(SITES) if demo.site.organization_type == "ehpad"
        )
        treating = _ref("Practitioner", TREATING_DOCTORS[number].key)
        born = pd.to_datetime(pd.Series(SAME_NAME_BIRTH_DATES))
        codes = pd.Series([home.code_commune] * len(born))
        order = pd.Series(range(900, 900 + len(born)))
        for resident, (day, nir) in enumerate(
            zip(born, nirs(pd.Series([2] * len(born)), born, codes, order), strict=True)
        ):
            self.save(
                f"lambert/{resident}",
                {
                    "resourceType": "Patient",
                    "identifier": [{"system": INS_TEST_SYSTEM, "value": nir}],
                    "name": [{"family": "LAMBERT", "given": ["Jeanne"]}],
                    "gender": "female",
                    "birthDate": day.date().isoformat(),
                    "address": [{**_address(home.code_commune, home.commune), "use": "home"}],
                    "managingOrganization": _ref("Organization", home.site_id),
                    "generalPractitioner": [treating],
                },
            )

    def teleconsultations(self, patients: pd.DataFrame, today: date, scale: float) -> pd.DataFrame:
        """The last year of appointments at each site (since it opened, until yesterday); most
        end in a finished Encounter."""
        year_start, year_end = _last_year(today, self.zone)
        frames = []
        for number, demo in enumerate(SITES):
            opened = max(pd.Timestamp(demo.opened, tz=self.zone), year_start)
            share = max((year_end - opened) / (year_end - year_start), 0.0)
            count = round(demo.teleconsultations * scale * share)
            mine = patients.key[patients.site == number].to_numpy()
            if count == 0 or len(mine) == 0:
                continue
            days = self.rng.integers(0, max((year_end - opened).days, 1), size=count)
            minutes = self.rng.integers(8 * 2, 18 * 2, size=count) * 30
            frames.append(
                pd.DataFrame(
                    {
                        "site": number,
                        "start": opened.normalize()
                        + pd.to_timedelta(days, unit="D")
                        + pd.to_timedelta(minutes, unit="min"),
                        "patient": self.rng.choice(mine, size=count),
                        "doctor": self.rng.integers(0, len(DOCTORS), size=count),
                        "assisted": self.rng.random(count) < ASSISTED_SHARE,
                        "cancelled": self.rng.random(count) < CANCELLED_SHARE,
                        "delay_days": self.rng.geometric(0.25, size=count),
                    }
                )
            )
        visits = _bookable(pd.concat(frames, ignore_index=True), self.rng)
        visits["key"] = np.arange(len(visits))
        visits["created"] = visits.start - pd.to_timedelta(visits.delay_days, unit="D")
        for row in visits.to_dict("records"):
            self._visit({str(name): value for name, value in row.items()})
        return visits

    def _visit(self, row: dict[str, Any]) -> None:
        site, doctor = SITES[row["site"]].site, DOCTORS[row["doctor"]]
        end = row["start"] + pd.Timedelta(minutes=20)
        modality = "teleconsultation-assistee" if row["assisted"] else "teleconsultation-suivi"
        self.save(
            row["key"],
            {
                "resourceType": "Appointment",
                "status": "cancelled" if row["cancelled"] else "fulfilled",
                "serviceType": [_teleconsultation(modality)],
                "created": _instant(row["created"]),
                "start": _instant(row["start"]),
                "end": _instant(end),
                "participant": _participants(row["patient"], doctor, site),
            }
            | _referral(row["key"], row["patient"], row["site"]),
        )
        if row["cancelled"]:
            return
        acts = [doctor.act] + ([_assistant(site)[0].act] if row["assisted"] else [])
        self.save(
            row["key"],
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": ACT_CLASS_SYSTEM,
                    "code": VIRTUAL,
                },
                "serviceType": _modality(modality),
                "subject": _ref("Patient", row["patient"]),
                "participant": [
                    {"type": [_PRIMARY], "individual": _ref("Practitioner", doctor.key)},
                    {"individual": _ref("Practitioner", site.site_id)},
                ],
                "appointment": [_ref("Appointment", row["key"])],
                "period": {"start": _instant(row["start"]), "end": _instant(end)},
                "location": [{"location": _ref("Location", site.site_id)}],
                "extension": [
                    {"url": ACT_URL, "valueCoding": {"system": NGAP_SYSTEM, "code": code}}
                    for code in acts
                ],
            },
        )

    def seen_in_person(self, patients: pd.DataFrame, today: date) -> None:
        """One consultation in person at the médecin traitant's practice for each patient who
        has one, ten to twelve months ago: the pathway rule's « vu en présentiel dans les 12
        mois » holds for the teleconsultations since, today's bookings included, not for the
        first weeks of the seeded year."""
        for row in patients.to_dict("records"):
            treating = treating_doctor(row["key"], row["site"])
            if treating is None:
                continue
            day = today - timedelta(days=300 + (row["key"] * 37) % 60)
            start = pd.Timestamp(datetime.combine(day, time(10)), tz=self.zone)
            self.save(
                f"in-person/{row['key']}",
                {
                    "resourceType": "Encounter",
                    "status": "finished",
                    "class": {"system": ACT_CLASS_SYSTEM, "code": "AMB"},
                    "subject": _ref("Patient", row["key"]),
                    "participant": [{"type": [_PRIMARY], "individual": treating}],
                    "period": {
                        "start": _instant(start),
                        "end": _instant(start + pd.Timedelta(minutes=20)),
                    },
                },
            )

    def expertise(self, patients: pd.DataFrame, today: date, count: int) -> pd.DataFrame:
        """Télé-expertise requests of the last year from the patients' médecins traitants (the
        remote GP for a patient without one), the photos or tracings taken at their site; most
        answered within days."""
        start, _ = _last_year(today, self.zone)
        requests = pd.DataFrame(
            {
                "key": np.arange(count),
                "patient": self.rng.choice(patients.key.to_numpy(), size=count),
                "expert": self.rng.integers(0, len(EXPERTS), size=count),
                "authored": start
                + pd.to_timedelta(self.rng.integers(0, 364 * 24, size=count), unit="h"),
                "answered": self.rng.random(count) < 0.85,
                "hours": np.ceil(self.rng.lognormal(np.log(30), 0.8, size=count)),
            }
        )
        requests["site"] = patients.site.to_numpy()[requests.patient]
        for row in requests.to_dict("records"):
            self._expertise({str(name): value for name, value in row.items()})
        return requests

    def _expertise(self, row: dict[str, Any]) -> None:
        """One request: its question (chosen by its key among the specialty's), the specialty
        asked for, and its due date counted from when it was asked."""
        expert, site = EXPERTS[row["expert"]], SITES[row["site"]].site
        workflow = {"coding": [{"system": WORKFLOW_SYSTEM, "code": TELE_EXPERTISE}]}
        code, label = EXPERT_SPECIALTIES[expert.key]
        specialty = _specialty(code, label)
        questions = QUESTIONS[code]
        requester = treating_doctor(row["patient"], row["site"]) or _ref(
            "Practitioner", DOCTORS[0].key
        )
        authored = _instant(row["authored"])
        days = teleexpertise.due_days(self.settings, specialty)
        self.save(
            row["key"],
            {
                "resourceType": "ServiceRequest",
                "status": "completed" if row["answered"] else "active",
                "intent": "order",
                "code": {**workflow, "text": "Avis spécialisé (télé-expertise)"},
                "subject": _ref("Patient", row["patient"]),
                "requester": requester,
                "performer": [_ref("Practitioner", expert.key)],
                "performerType": specialty,
                "reasonCode": [{"text": questions[row["key"] % len(questions)]}],
                "note": [{"text": f"Pièces jointes réalisées sur le site « {site.name} »."}],
                "authoredOn": authored,
            },
        )
        task: dict[str, Any] = {
            "resourceType": "Task",
            "status": "completed" if row["answered"] else "requested",
            "intent": "order",
            "code": workflow,
            "basedOn": [_ref("ServiceRequest", row["key"])],
            "focus": _ref("ServiceRequest", row["key"]),
            "for": _ref("Patient", row["patient"]),
            "requester": requester,
            "owner": _ref("Practitioner", expert.key),
            "authoredOn": authored,
            "lastModified": authored,
            "restriction": {"period": {"end": _instant(row["authored"] + pd.Timedelta(days=days))}},
        }
        if row["answered"]:
            answered = _instant(row["authored"] + pd.Timedelta(hours=row["hours"]))
            task |= {
                "executionPeriod": {"start": authored, "end": answered},
                "lastModified": answered,
            }
        self.save(row["key"], task)

    def monitoring(self, patients: pd.DataFrame, today: date, followed: int) -> None:
        """Weekly weight of a few patients of the MSP and of the EHPAD over the last quarter,
        each followed by a care team of their site's nurse, the first remote doctor and the
        first expert (the demo accounts), since follow-up pages show a patient to their team
        only."""
        last = pd.Timestamp(datetime.combine(today - timedelta(days=1), time(8)), tz=self.zone)
        weeks = pd.date_range(end=last, periods=12, freq="7D")
        for site in (0, 1):
            members = (SITES[site].site.site_id, DOCTORS[0].key, EXPERTS[0].key)
            for key in patients.key[patients.site == site].to_numpy()[:followed]:
                self._follow(key, members, weeks)

    def _follow(self, key: int, members: tuple[str, ...], weeks: pd.DatetimeIndex) -> None:
        """One patient's care team and weekly weights."""
        self.save(
            key,
            {
                "resourceType": "CareTeam",
                "status": "active",
                "name": "Suivi à domicile (SYNTHÉTIQUE)",
                "subject": _ref("Patient", key),
                "participant": [{"member": _ref("Practitioner", m)} for m in members],
            },
        )
        base = 60 + 30 * self.rng.random()
        weights = base + np.cumsum(self.rng.normal(0.1, 0.4, size=len(weeks)))
        for week, (moment, value) in enumerate(zip(weeks, weights, strict=True)):
            self.save(
                f"{key}/{week}",
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": monitoring.LOINC, "code": monitoring.WEIGHT}]},
                    "subject": _ref("Patient", key),
                    "device": {
                        "reference": f"Device/{stable_id('Device', key)}",
                        "display": "Balance connectée (SYNTHÉTIQUE)",
                    },
                    "effectiveDateTime": _instant(moment),
                    "valueQuantity": {
                        "value": round(float(value), 1),
                        "unit": "kg",
                        "system": monitoring.UCUM,
                        "code": "kg",
                    },
                },
            )

    def booked(self, patients: pd.DataFrame, today: date) -> None:
        """Three assisted teleconsultations booked this afternoon at the first site with the
        first remote doctor, so that the demo doctor's day (shown for today) is not empty. The
        demo patient is not among them: whatever the hour, their space shows one booking to
        come (the next working day's) and no video link until one is due."""
        starts = pd.date_range(
            datetime.combine(today, time(14)), periods=3, freq="30min", tz=self.zone
        )
        keys = patients.key[(patients.site == 0) & (patients.key != patients.key.iloc[0])]
        for number, (start, key) in enumerate(zip(starts, keys.to_numpy(), strict=False)):
            self._book(f"booked/{number}", int(key), 0, start, today)

    def demo_patient(self, patients: pd.DataFrame, today: date) -> None:
        """The demo patient's own history, for the patient space: a teleconsultation three
        weeks ago at 18:00 (after the drawn visits' hours: it clashes with none), whose compte
        rendu goes to their médecin traitant, and one booked at their site on the next working
        day at 11:30 (the last slot of the morning)."""
        key, site = int(patients.key.iloc[0]), int(patients.site.iloc[0])
        seen = pd.Timestamp(datetime.combine(today - timedelta(days=21), time(18)), tz=self.zone)
        visit = {"key": "demo-patient/past", "site": site, "doctor": 0, "patient": key}
        self._visit(visit | {"start": seen, "created": seen, "assisted": True, "cancelled": False})
        self._report(visit["key"], key, DOCTORS[0], seen + pd.Timedelta(minutes=20))
        day = pd.bdate_range(today + timedelta(days=1), periods=1)[0]
        start = pd.Timestamp(datetime.combine(day, time(11, 30)), tz=self.zone)
        self._book("demo-patient/next", key, site, start, today)

    def reports(self, visits: pd.DataFrame, today: date) -> None:
        """The compte rendu of each teleconsultation of the last week, which the server's
        rules queue in the outbox for the patient's médecin traitant (when they have one)."""
        since = pd.Timestamp(today - timedelta(days=REPORTED_DAYS), tz=self.zone)
        recent = visits[~visits.cancelled & (visits.start >= since)]
        for row in recent.to_dict("records"):
            end = row["start"] + pd.Timedelta(minutes=20)
            self._report(row["key"], int(row["patient"]), DOCTORS[row["doctor"]], end)

    def _report(self, visit: object, patient: int, doctor: Doctor, moment: pd.Timestamp) -> None:
        """The remote doctor's compte rendu of the teleconsultation ``visit`` (its Encounter)."""
        conclusions = (
            "tension stable, traitement inchangé.",
            "examen rassurant, contrôle dans trois mois.",
            "renouvellement du traitement, bilan sanguin prescrit.",
        )
        text = f"Compte rendu de téléconsultation (SYNTHÉTIQUE) : {conclusions[patient % 3]}"
        title = "Compte rendu de téléconsultation"
        self.save(
            visit,
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
                "subject": _ref("Patient", patient),
                "author": [_ref("Practitioner", doctor.key)],
                "date": _instant(moment),
                "description": title,
                "context": {"encounter": [_ref("Encounter", visit)]},
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain; charset=utf-8",
                            "title": title,
                            "data": base64.b64encode(text.encode()).decode(),
                        }
                    }
                ],
            },
        )

    def _book(self, key: str, patient: int, site: int, start: pd.Timestamp, today: date) -> None:
        """An assisted teleconsultation booked with the first remote doctor at ``site``,
        taking the doctor's and the room's slot as the booking page does."""
        where, doctor = SITES[site].site, DOCTORS[0]
        taken = [self._slot(owner, start, "free") for owner in (where.site_id, doctor.key)]
        self.save(
            key,
            {
                "resourceType": "Appointment",
                "status": "booked",
                "serviceType": [_teleconsultation("teleconsultation-assistee")],
                "description": "Téléconsultation assistée (SYNTHÉTIQUE)",
                "created": today.isoformat(),
                "start": _instant(start),
                "end": _instant(start + pd.Timedelta(minutes=20)),
                "slot": [{"reference": f"Slot/{ident}"} for ident in taken],
                "participant": _participants(patient, doctor, where),
            }
            | _referral(key, patient, site),
        )

    def _slot(self, owner: str, start: pd.Timestamp, status: str) -> str:
        """A half-hour slot of ``owner``'s schedule (a site's room or a doctor); its id."""
        key = f"{owner}/{start.isoformat()}"
        self.save(
            key,
            {
                "resourceType": "Slot",
                "schedule": _ref("Schedule", owner),
                "status": status,
                "start": _instant(start),
                "end": _instant(start + pd.Timedelta(minutes=30)),
            },
        )
        return stable_id("Slot", key)

    def slots(self, today: date) -> None:
        """Free half-hour slots of every site's room and every remote doctor on the next five
        working days: a booking needs a room and a doctor free at the same time."""
        days = pd.bdate_range(today + timedelta(days=1), periods=5)
        starts = pd.DatetimeIndex(
            [datetime.combine(day, time(9)) for day in days], tz=self.zone
        ).repeat(6) + pd.to_timedelta(np.tile(np.arange(6) * 30, len(days)), unit="min")
        schedules = (
            [
                ("Location", demo.site.site_id, f"Cabine de téléconsultation — {demo.site.name}")
                for demo in SITES
            ]
            + [
                ("Practitioner", doctor.key, f"Téléconsultations du Dr {doctor.family}")
                for doctor in DOCTORS
            ]
            + [
                ("Practitioner", nurse.key, f"Soins à domicile — {nurse.given} {nurse.family}")
                for nurse in LIBERAL_NURSES
            ]
        )
        for kind, key, comment in schedules:
            self.save(
                key,
                {
                    "resourceType": "Schedule",
                    "active": True,
                    "actor": [_ref(kind, key)],
                    "comment": comment,
                },
            )
            for start in starts:
                self._slot(key, start, "free")


def _last_year(today: date, zone: ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The 365 days before ``today``: the demo's year of activity."""
    end = pd.Timestamp(today, tz=zone)
    return end - pd.Timedelta(days=365), end


ACCOUNTS: tuple[tuple[str, Role, dict[str, str]], ...] = (
    ("admin", Role.ADMIN, {}),
    ("coordinator", Role.COORDINATOR, {}),
    ("planner", Role.PLANNER, {}),
    (
        "site-professional",
        Role.SITE_PROFESSIONAL,
        {
            "site": f"Location/{stable_id('Location', SITES[0].site.site_id)}",
            "practitioner": f"Practitioner/{stable_id('Practitioner', SITES[0].site.site_id)}",
        },
    ),
    (
        "practitioner",
        Role.PRACTITIONER,
        {"practitioner": f"Practitioner/{stable_id('Practitioner', DOCTORS[0].key)}"},
    ),
    (
        "specialist",
        Role.PRACTITIONER,
        {"practitioner": f"Practitioner/{stable_id('Practitioner', EXPERTS[0].key)}"},
    ),
    (
        "ehpad-nurse",
        Role.SITE_PROFESSIONAL,
        {
            "site": f"Location/{stable_id('Location', SITES[1].site.site_id)}",
            "practitioner": f"Practitioner/{stable_id('Practitioner', SITES[1].site.site_id)}",
        },
    ),
    ("patient", Role.PATIENT, {"patient": f"Patient/{stable_id('Patient', 0)}"}),
    ("dpo", Role.DPO, {}),
)
"""Account name, role and links: the MSP's and the EHPAD's nurses book, the GP holds the
teleconsultations, the specialist answers télé-expertises, the DPO audits the accesses."""


def _open_accounts_file(path: Path) -> int:
    """Create the password file, readable by its owner only; refuse to overwrite one."""
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise DemoRefused(
            f"{path} exists: the demo was already seeded (passwords are written once)"
        ) from error


def _audit_event(counts: dict[str, int]) -> dict[str, Any]:
    user = getpass.getuser()
    return {
        "resourceType": "AuditEvent",
        "type": {**site_import.IMPORT_EVENT, "display": "Import"},
        "action": "C",
        "recorded": resources.instant(utcnow()),
        "outcome": "0",
        "outcomeDesc": "Réseau de démonstration SYNTHÉTIQUE écrit : "
        + french_format.fixed(sum(counts.values()))
        + " ressources",
        "agent": [
            {
                "who": {"identifier": {"system": "urn:maillage:os-user", "value": user}},
                "altId": user,
                "name": "maillage demo seed",
                "requestor": True,
            }
        ],
        "source": {"observer": {"display": "maillage"}},
    }


def seed(
    sessions: sessionmaker[Session],
    settings: Settings,
    accounts_file: Path,
    *,
    scale: float = 1.0,
    today: date | None = None,
) -> SeedReport:
    """Write the SYNTHETIC network (``scale`` shrinks its activity) as the demo's coordinator,
    through the repository, in one transaction; the accounts are removed again if it fails.
    Its year of activity ends the day before ``today`` (default: the real today in the network's
    zone, as its pages count days), so that the network's pages open on a current year with
    something to show."""
    if settings.env == "production":
        raise DemoRefused("MAILLAGE_ENV=production: SYNTHETIC demonstration data is refused")
    if not 0 < scale <= 1:
        raise ValueError("scale must be in (0, 1]")
    day = today or settings.today()
    handle = _open_accounts_file(accounts_file)
    emails: list[str] = []
    try:
        passwords, coordinator = _accounts(sessions, emails)
        repository = Repository(sessions, settings, coordinator, address="maillage demo seed")
        rng = np.random.default_rng(SEED)
        with repository.writing() as work:
            seeder = _Seeder(work, settings, rng)
            seeder.registry()
            patients = seeder.patients(max(round(PATIENTS_AT_FULL_SCALE * scale), len(SITES)))
            seeder.seen_in_person(patients, day)
            visits = seeder.teleconsultations(patients, day, scale)
            seeder.reports(visits, day)
            seeder.expertise(patients, day, max(round(EXPERTISE_AT_FULL_SCALE * scale), 4))
            seeder.monitoring(patients, day, followed=5)
            seeder.residents()
            seeder.slots(day)
            seeder.booked(patients, day)
            seeder.demo_patient(patients, day)
        registered = [
            {"name": demo.site.name, "kind": demo.site.organization_type,
             "location": f"Location/{stable_id('Location', demo.site.site_id)}",
             "opened": date.fromisoformat(demo.opened)}
            for demo in SITES
        ]  # fmt: skip
        seeder.counts["Project"] = seed_projects(sessions, coordinator, registered, day)
        with transaction(sessions) as session:
            audit.append(session, _audit_event(seeder.counts))
        audit.drain(sessions, settings.zone)  # the seeding's trail chained, as a worker would
        statistics.analyze(sessions)
        text = "# SYNTHETIC demonstration accounts of maillage (role, e-mail, password)\n"
        os.write(handle, (text + "\n".join(passwords) + "\n").encode())
    except BaseException:
        os.close(handle)
        accounts_file.unlink()
        if emails:
            with transaction(sessions) as session:
                session.execute(delete(User).where(User.email.in_(emails)))
        raise
    os.close(handle)
    return SeedReport(seeder.counts, accounts_file)


def _accounts(sessions: sessionmaker[Session], emails: list[str]) -> tuple[list[str], Principal]:
    """Create the demo accounts (their e-mails appended to ``emails`` once stored): the
    password file's lines, and the coordinator who writes the network."""
    passwords, coordinator = [], None
    with transaction(sessions) as session:
        for name, role, links in ACCOUNTS:
            email = f"demo-{name}@maillage.invalid"
            password = secrets.token_urlsafe(18)
            user = create_user(session, email, password, role, **links)
            passwords.append(f"{role.value}\t{email}\t{password}")
            if role is Role.COORDINATOR:
                session.flush()
                coordinator = Principal(user.id, email, role)
    emails.extend(line.split("\t")[1] for line in passwords)
    assert coordinator is not None
    return passwords, coordinator
