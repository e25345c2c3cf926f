"""Evaluation indicators of the telemedicine network, read from the operational store.

What the Région asks of its roadmap: how many sites are open against the target (new ones
and those that existed before the period), how much teleconsultation each site and territory
does (per month, per modality), whether it reaches people in under-served communes, how long
patients wait for an appointment and how fast experts answer a télé-expertise.

A teleconsultation is a *finished* Encounter of class VR (cancelled appointments are not
activity); its site is the Encounter's first location, its remote doctor the participant typed
``PPRF`` (primary performer), else its first participant.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from sqlalchemy import select
from sqlalchemy.orm import Session

from maillage.care.codes import (
    ACT_URL,
    ANNUAL_ACTIVITY_URL,
    PATHWAY_EXCEPTION_URL,
    PRIMARY_PERFORMER,
    REFERRED_BY_URL,
    TELE_EXPERTISE,
    VIRTUAL,
    WORKFLOW_SYSTEM,
)
from maillage.care.projects import STAGES
from maillage.care.site_import import INSEE_EXTENSION, MODALITY_SYSTEM
from maillage.config import Settings
from maillage.store.models import Project, Resource
from maillage.travel.model import MAX_ROAD_SPEED_KMH

OPENED_URL = "urn:maillage:site-opened"
"""Extension (valueDate) on a Location: when the site started teleconsultations; a site
without one counts as opened before any period."""
GP_TELECONSULTATION = "TCG"
"""The NGAP act of a general practitioner's teleconsultation: only these are GP supply."""
UNDER_SERVED = "sous-dotee"


@dataclass(frozen=True)
class Targets:
    """The roadmap's targets: sites open, of which new ones (the Grand Est telemedicine
    roadmap 2021–2023 aims for 200 sites, 100 of them new); set by
    ``MAILLAGE_ROADMAP_SITES_TARGET`` and ``MAILLAGE_ROADMAP_NEW_SITES_TARGET``."""

    sites: int = 200
    new_sites: int = 100

    @classmethod
    def of(cls, settings: Settings) -> Targets:
        """The targets the server is configured with."""
        return cls(settings.roadmap_sites_target, settings.roadmap_new_sites_target)


@dataclass(frozen=True)
class Network:
    """The store's resources that evaluation needs, one flat table per kind."""

    sites: pd.DataFrame  # site, name, status, code_commune, opened, synthetic
    teleconsultations: pd.DataFrame  # encounter, start, site, patient, doctor, modality, acts
    appointments: pd.DataFrame  # appointment, created, start, exceptions (codes, space-joined),
    # referred_by (the orienting doctor's id)
    patients: pd.DataFrame  # patient, code_commune, medecin_traitant, birth
    practitioners: pd.DataFrame  # practitioner, code_commune, declared (annual activity)
    expertise: pd.DataFrame  # task, status, authored, answered, patient, owner
    in_person: pd.DataFrame  # patient, start (finished ambulatory Encounters)


def _bodies(session: Session, resource_type: str) -> pd.DataFrame:
    """Live resources of one type, flattened one level per dotted path."""
    rows = session.execute(
        select(Resource.body).where(
            Resource.resource_type == resource_type, Resource.deleted.is_(False)
        )
    ).scalars()
    return pd.json_normalize(list(rows))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column, or missing values when no resource had that element."""
    return frame[name] if name in frame else pd.Series(np.nan, index=frame.index, dtype=object)


def _items(values: pd.Series) -> pd.DataFrame:
    """List-valued cells exploded into one flattened row per item, indexed by their owner."""
    exploded = values.explode().dropna()
    if exploded.empty:
        return pd.DataFrame(index=pd.Index([], dtype=values.index.dtype))
    return pd.json_normalize(exploded.tolist()).set_index(exploded.index)


def _extension(values: pd.Series, url: str, key: str) -> pd.Series:
    """The ``key`` of the first extension with ``url`` in each cell's list (missing if none)."""
    items = _items(values)
    if items.empty or key not in items:
        return pd.Series(np.nan, index=values.index, dtype=object)
    return items.loc[items.url == url, key].groupby(level=0).first().reindex(values.index)


def _reference_id(values: pd.Series) -> pd.Series:
    """``Patient/abc`` → ``abc``."""
    return values.str.split("/").str[-1]


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _sites(session: Session) -> pd.DataFrame:
    frame = _bodies(session, "Location")
    return pd.DataFrame(
        {
            "site": _column(frame, "id"),
            "name": _column(frame, "name"),
            "status": _column(frame, "status"),
            "code_commune": _extension(
                _column(frame, "address.extension"), INSEE_EXTENSION, "valueCoding.code"
            ),
            "opened": _utc(_extension(_column(frame, "extension"), OPENED_URL, "valueDate")),
            "synthetic": _column(frame, "meta.tag").astype(str).str.contains("'SYNTHETIC'"),
        }
    )


def _people(session: Session, resource_type: str, key: str) -> pd.DataFrame:
    """Ids and commune (INSEE code of the first address) of Patients or Practitioners."""
    frame = _bodies(session, resource_type)
    first_address = _column(frame, "address").str[0]
    return pd.DataFrame(
        {
            key: _column(frame, "id"),
            "code_commune": _extension(
                first_address.str.get("extension"), INSEE_EXTENSION, "valueCoding.code"
            ),
        }
    )


def _first(items: pd.DataFrame, column: str, where: dict[str, str] | None = None) -> pd.Series:
    """Per owner, ``column`` of its first item matching ``where`` (empty when none has one)."""
    if column not in items:
        return pd.Series(dtype=object)
    mask = np.ones(len(items), dtype=bool)
    for key, value in (where or {}).items():
        mask &= (_column(items, key) == value).to_numpy()
    return items.loc[mask, column].groupby(level=0).first()


def _teleconsultations(session: Session) -> pd.DataFrame:
    frame = _bodies(session, "Encounter")
    frame = frame[
        (_column(frame, "status") == "finished") & (_column(frame, "class.code") == VIRTUAL)
    ]
    participants = _items(_column(frame, "participant"))
    if "type" in participants:
        primary = participants.type.astype(str).str.contains(f"'{PRIMARY_PERFORMER}'")
        participants = pd.concat([participants[primary], participants[~primary]])
    acts = _items(_column(frame, "extension"))
    codes = acts.loc[acts.url == ACT_URL, "valueCoding.code"] if "url" in acts else pd.Series([])
    modality = _first(
        _items(_column(frame, "serviceType.coding")), "code", {"system": MODALITY_SYSTEM}
    )
    return pd.DataFrame(
        {
            "encounter": _column(frame, "id"),
            "start": _utc(_column(frame, "period.start")),
            "site": _reference_id(
                _column(frame, "location").str[0].str.get("location").str.get("reference")
            ),
            "patient": _reference_id(_column(frame, "subject.reference")),
            "doctor": _reference_id(
                _first(participants, "individual.reference").reindex(frame.index)
            ),
            "appointment": _reference_id(_column(frame, "appointment").str[0].str.get("reference")),
            "modality": modality.reindex(frame.index).fillna("non précisée"),
            "acts": codes.groupby(level=0).agg(" ".join).reindex(frame.index).fillna(""),
        }
    )


def _appointments(session: Session) -> pd.DataFrame:
    frame = _bodies(session, "Appointment")
    extensions = _items(_column(frame, "extension"))
    exceptions = (
        extensions.loc[extensions.url == PATHWAY_EXCEPTION_URL, "valueCode"]
        if "valueCode" in extensions
        else pd.Series([], dtype=object)
    )
    return pd.DataFrame(
        {
            "appointment": _column(frame, "id"),
            "created": _utc(_column(frame, "created")),
            "start": _utc(_column(frame, "start")),
            "exceptions": exceptions.groupby(level=0).agg(" ".join).reindex(frame.index).fillna(""),
            "referred_by": _reference_id(
                _extension(_column(frame, "extension"), REFERRED_BY_URL, "valueReference.reference")
            ),
        }
    )


def _patients(session: Session) -> pd.DataFrame:
    """Patients' commune, médecin traitant (first ``generalPractitioner``) and birth date."""
    people = _people(session, "Patient", "patient")
    frame = _bodies(session, "Patient")
    treating = _column(frame, "generalPractitioner").str[0].str.get("reference")
    return people.assign(
        medecin_traitant=_reference_id(treating).to_numpy(),
        birth=pd.to_datetime(_column(frame, "birthDate"), errors="coerce").to_numpy(),
    )


def _in_person(session: Session) -> pd.DataFrame:
    """Finished visits in person (ambulatory Encounters): the pathway's « vu en présentiel »."""
    frame = _bodies(session, "Encounter")
    finished = _column(frame, "status") == "finished"
    frame = frame[finished & (_column(frame, "class.code") == "AMB")]
    return pd.DataFrame(
        {
            "patient": _reference_id(_column(frame, "subject.reference")),
            "start": _utc(_column(frame, "period.start")),
        }
    )


def _expertise(session: Session) -> pd.DataFrame:
    frame = _bodies(session, "Task")
    codes = _items(_column(frame, "code.coding"))
    wanted = (
        codes.index[(codes.system == WORKFLOW_SYSTEM) & (codes.code == TELE_EXPERTISE)]
        if not codes.empty
        else pd.Index([])
    )
    frame = frame.loc[frame.index.isin(wanted)]
    return pd.DataFrame(
        {
            "task": _column(frame, "id"),
            "status": _column(frame, "status"),
            "authored": _utc(_column(frame, "authoredOn")),
            "answered": _utc(_column(frame, "executionPeriod.end")).where(
                _column(frame, "status") == "completed"
            ),
            "patient": _reference_id(_column(frame, "for.reference")),
            "owner": _reference_id(_column(frame, "owner.reference")),
        }
    )


def _practitioners(session: Session) -> pd.DataFrame:
    """Practitioners' commune and the annual activity declared for them (missing if none)."""
    people = _people(session, "Practitioner", "practitioner")
    frame = _bodies(session, "Practitioner")
    declared = _extension(_column(frame, "extension"), ANNUAL_ACTIVITY_URL, "valueInteger")
    return people.assign(declared=pd.to_numeric(declared, errors="coerce").to_numpy())


def load_network(session: Session) -> Network:
    """Read every resource evaluation needs, in one session."""
    return Network(
        sites=_sites(session),
        teleconsultations=_teleconsultations(session),
        appointments=_appointments(session),
        patients=_patients(session),
        practitioners=_practitioners(session),
        expertise=_expertise(session),
        in_person=_in_person(session),
    )


@dataclass(frozen=True)
class Period:
    """A calendar year of the network's time zone (MAILLAGE_TIMEZONE): a teleconsultation at
    00:30 on New Year's Day in Paris belongs to the new year, though stamped the day before in
    UTC."""

    year: int
    zone: ZoneInfo

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.year, 1, 1, tz=self.zone)

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.year + 1, 1, 1, tz=self.zone)

    def holds(self, moments: pd.Series) -> pd.Series:
        return (moments >= self.start) & (moments < self.end)


def in_area(network: Network, codes: set[str]) -> Network:
    """The network restricted to the sites located in the communes ``codes``."""
    sites = network.sites[network.sites.code_commune.isin(codes)]
    return Network(
        sites=sites,
        teleconsultations=network.teleconsultations[
            network.teleconsultations.site.isin(sites.site)
        ],
        appointments=network.appointments,
        patients=network.patients,
        practitioners=network.practitioners,
        expertise=network.expertise,
        in_person=network.in_person,
    )


def roadmap(sites: pd.DataFrame, period: Period, targets: Targets | None = None) -> dict:
    """Open sites at the end of the period against the target, split into new and existing
    (new ones against their own target)."""
    targets = targets or Targets()
    open_ = (sites.status == "active") & ~(sites.opened >= period.end)
    new = open_ & period.holds(sites.opened)
    return {
        "target": targets.sites,
        "open": int(open_.sum()),
        "new": int(new.sum()),
        "existing": int((open_ & ~new).sum()),
        "progress": float(open_.sum() / targets.sites),
        "target_new": targets.new_sites,
        "progress_new": float(new.sum() / targets.new_sites) if targets.new_sites else 1.0,
    }


def load_projects(session: Session) -> list[dict]:
    """The roadmap projects' bodies (:mod:`maillage.care.projects`), oldest first."""
    return list(session.scalars(select(Project.body).order_by(Project.last_updated)))


def project_summary(bodies: list[dict]) -> dict:
    """The roadmap projects in figures: how many are at each current stage (``None``: no stage
    reached yet), funding granted per funder (euros, largest first) and in all, people trained
    and hotline requests per status."""
    current = pd.Series([b["stages"][-1]["stage"] if b.get("stages") else None for b in bodies])
    by_stage = current.value_counts().reindex(list(STAGES), fill_value=0)
    funding = pd.DataFrame(
        [f for b in bodies for f in b.get("funding", [])], columns=["funder", "amount_euros"]
    )
    by_funder = funding.groupby("funder").amount_euros.sum().sort_values(ascending=False)
    statuses = pd.Series([r["status"] for b in bodies for r in b.get("support_requests", [])])
    hotline = statuses.value_counts().reindex(["open", "answered", "closed"], fill_value=0)
    return {
        "projects": len(bodies),
        "by_stage": {str(k): int(v) for k, v in by_stage.items()},
        "unstaged": int(current.isna().sum()),
        "funding": {str(k): float(v) for k, v in by_funder.items()},
        "funding_total": float(funding.amount_euros.sum()),
        "trained": sum(len(b.get("trained", [])) for b in bodies),
        "hotline": {str(k): int(v) for k, v in hotline.items()},
    }


def activity(network: Network, period: Period, departements: pd.Series) -> dict[str, pd.DataFrame]:
    """Teleconsultations of the period per site and month, per modality, per department.

    ``departements`` maps commune codes to department codes (the territory of a site).
    """
    visits = network.teleconsultations[period.holds(network.teleconsultations.start)]
    sites = network.sites.set_index("site")
    named = visits.assign(
        name=sites.name.reindex(visits.site).to_numpy(),
        month=visits.start.dt.tz_convert(period.zone).dt.month,
        departement=departements.reindex(sites.code_commune.reindex(visits.site)).to_numpy(),
    )
    monthly = pd.crosstab(named.name, named.month).reindex(columns=range(1, 13), fill_value=0)
    per_site = (
        sites.assign(teleconsultations=named.groupby("site").size())
        .fillna({"teleconsultations": 0})
        .reset_index()[["site", "name", "code_commune", "teleconsultations"]]
        .astype({"teleconsultations": int})
        .sort_values("teleconsultations", ascending=False, kind="stable")
    )
    return {
        "per_site": per_site,
        "monthly": monthly,
        "by_modality": named.groupby("modality").size().rename("teleconsultations").reset_index(),
        "by_departement": named.groupby("departement")
        .size()
        .rename("teleconsultations")
        .reset_index(),
    }


def under_served_share(network: Network, period: Period, classes: pd.Series) -> dict:
    """Distinct patients teleconsulted in the period, and the share living in a sous-dotée commune.

    ``classes`` maps commune codes to zoning classes (from the diagnosis); patients with no known
    commune, or living outside the diagnosed area, count in the denominator as not under-served.
    """
    visits = network.teleconsultations[period.holds(network.teleconsultations.start)]
    patients = pd.Index(visits.patient.dropna().unique())
    homes = network.patients.set_index("patient").code_commune.reindex(patients)
    under = int((classes.reindex(homes.to_numpy()) == UNDER_SERVED).sum())
    return {
        "patients": len(patients),
        "under_served": under,
        "share": under / len(patients) if len(patients) else None,
    }


def _spread(values: pd.Series, unit: str) -> dict:
    values = values.dropna()
    if values.empty:
        return {"count": 0, "unit": unit, "median": None, "mean": None, "p90": None}
    return {
        "count": len(values),
        "unit": unit,
        "median": float(values.median()),
        "mean": float(values.mean()),
        "p90": float(values.quantile(0.9)),
    }


def appointment_delay(network: Network, period: Period) -> dict:
    """Days from booking (Appointment.created) to the consultation, for the period's visits."""
    visits = network.teleconsultations[period.holds(network.teleconsultations.start)]
    booked = network.appointments.set_index("appointment").reindex(visits.appointment.dropna())
    return _spread((booked.start - booked.created).dt.total_seconds() / 86_400, "jours")


def expertise_response(network: Network, period: Period) -> dict:
    """Hours from a télé-expertise request to its answer, for requests made in the period."""
    tasks = network.expertise[period.holds(network.expertise.authored)]
    spread = _spread((tasks.answered - tasks.authored).dt.total_seconds() / 3_600, "heures")
    return spread | {"requests": len(tasks), "unanswered": int(tasks.answered.isna().sum())}


def supply_reach_km(cutoff_minutes: float) -> float:
    """Straight-line distance beyond which no GP can be in a diagnosis's supply.

    A regional diagnosis reads the practitioners of every commune within two cut-offs of travel
    of its area (:mod:`maillage.diagnosis.study_area`), and no road beats the motorway speed.
    """
    return 2 * cutoff_minutes * MAX_ROAD_SPEED_KMH / 60


def telemedicine_supply(
    network: Network,
    period: Period,
    communes: pd.DataFrame,
    area_codes: set[str],
    reach_km: float,
) -> pd.DataFrame:
    """Per site, the period's teleconsultations and those that may count as new GP supply.

    Only GP teleconsultations (act TCG) are GP supply; a specialist's (TC) is not.

    Rule against counting a doctor twice: the GP supply of a diagnosis already holds every
    doctor practising within ``reach_km`` (straight line) of its area, with their whole
    activity, teleconsultations included. Their acts are left out; only the acts of doctors
    practising farther away (or whose practice commune is unknown: platforms, doctors abroad)
    are counted at the site. Conservative: a doctor just inside the reach but outside the real
    travel-time buffer is left out too.
    """
    visits = network.teleconsultations[period.holds(network.teleconsultations.start)]
    general = visits.acts.str.contains(rf"\b{GP_TELECONSULTATION}\b")
    places = communes.set_index("code_commune")[["x", "y", "zone"]]
    area = places.reindex(sorted(area_codes)).dropna()
    practice = network.practitioners.set_index("practitioner").code_commune
    doctor_place = places.reindex(practice.reindex(visits.doctor).to_numpy())
    located = doctor_place.x.notna().to_numpy()
    distance, nearest = cKDTree(area[["x", "y"]].to_numpy()).query(
        doctor_place[["x", "y"]].fillna(0.0).to_numpy()
    )
    same_zone = area.zone.to_numpy()[nearest] == doctor_place.zone.to_numpy()
    in_supply = located & same_zone & (distance <= reach_km * 1_000)
    counted = (
        visits.assign(counted=general.to_numpy(dtype=bool) & ~in_supply)
        .groupby("site")
        .counted.agg(["size", "sum"])
    )
    table = network.sites.set_index("site").join(counted, how="inner")
    return (
        table.rename(columns={"size": "teleconsultations", "sum": "counted"})
        .reset_index()[["site", "name", "code_commune", "teleconsultations", "counted"]]
        .astype({"teleconsultations": int, "counted": int})
    )
