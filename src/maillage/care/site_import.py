"""Register telemedicine sites in bulk from a CSV file or from a plan's ``sites.csv``.

Each site becomes an Organization (its managing structure), a Location (address with the
commune's INSEE code as the FR Core ``fr-core-address-insee-code`` extension and the commune's
name as ``city``, so ``Location?address-insee=`` and ``Location?address-city=`` find it;
position; equipment as ``type``) and one HealthcareService per modality offered there (what
the site pages list).

Both resources carry the site id as an identifier of :data:`SITE_SYSTEM`, so a re-import finds
and updates what an earlier one wrote instead of duplicating it; a modality dropped from the file
deactivates its HealthcareService (registry records are kept, not erased). The whole file is
checked before anything is written, then written in one transaction with one AuditEvent, so a
bad row leaves the database as it was.
"""

from __future__ import annotations

import csv
import getpass
import io
import math
import socket
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maillage.care import validation
from maillage.care.errors import DomainError
from maillage.care.french import INSEE_EXTENSION
from maillage.care.identifiers import (
    FINESS_SYSTEM,
    ID_NAT_STRUCT_SYSTEM,
    ROR_LOCATION_SYSTEM,
    ROR_LOCATION_TYPE_SYSTEM,
    ROR_OFFER_SYSTEM,
    STRUCTURE_ID_TYPE_SYSTEM,
    validate_finess,
    validate_id_nat_struct,
    validate_ror_id,
)
from maillage.config import Settings
from maillage.store import audit, resources, statistics
from maillage.store.database import transaction
from maillage.store.models import Resource, SearchEntry, utcnow
from maillage.store.search_params import normalise_text

Format = Literal["csv", "plan"]

SITE_SYSTEM = "urn:maillage:site"
ORGANIZATION_TYPE_SYSTEM = "urn:maillage:organization-type"
EQUIPMENT_SYSTEM = "urn:maillage:equipment"
MODALITY_SYSTEM = "urn:maillage:modality"
INSEE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
IMPORT_EVENT = {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110107"}
_IDS = uuid.UUID("0f3a6c1e-2d7b-4e59-8a41-5c9e7d2b1f60")

ORGANIZATION_TYPES = {
    "msp": ("MSP", "Maison de santé pluriprofessionnelle"),
    "ehpad": ("EHPAD", "Établissement d'hébergement pour personnes âgées dépendantes"),
    "pharmacie": ("PHARMACIE", "Pharmacie d'officine"),
    "ch": ("CH", "Centre hospitalier"),
    "cabinet": ("CABINET", "Cabinet médical"),
    "cpts": ("CPTS", "Communauté professionnelle territoriale de santé"),
}
MODALITIES = {
    "teleconsultation-assistee": "Téléconsultation assistée",
    "teleconsultation-suivi": "Téléconsultation de suivi",
    "tele-expertise": "Télé-expertise",
    "telesurveillance": "Télésurveillance",
}
REQUIRED = {"csv": ("id", "name", "code_commune"), "plan": ("site_id", "name", "code_commune")}
#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): such text is
#: refused, so that no export of the registry can carry one.
FORMULA_SIGNS = ("=", "+", "-", "@", "\t", "\r")
OPTIONAL = {
    "csv": (
        "lon",
        "lat",
        "type",
        "modalities",
        "equipment",
        "finess_et",
        "finess_ej",
        "id_nat_struct",
        "ror_lieu",
        "ror_offres",
    ),
    "plan": ("lon", "lat"),
}
#: FINESS columns: the establishment (ET, on the Location and Organization) and its legal
#: entity (EJ, on the Organization).
FINESS_COLUMNS = ("finess_et", "finess_ej")
#: Free-text columns a spreadsheet could run as a formula.
TEXT_COLUMNS = (
    "name",
    "type",
    "modalities",
    "equipment",
    "id_nat_struct",
    "ror_lieu",
    "ror_offres",
)


class SiteImportError(ValueError):
    """The file was refused; each problem names the file, line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Site:
    """One validated row: everything needed to build the site's resources."""

    site_id: str
    name: str
    code_commune: str
    commune: str
    lon: float
    lat: float
    organization_type: str
    modalities: tuple[str, ...] = ()
    equipment: tuple[str, ...] = ()
    finess_et: str = ""
    finess_ej: str = ""
    id_nat_struct: str = ""
    ror_lieu: str = ""
    ror_offres: tuple[tuple[str, str], ...] = ()
    """(modality, ROR identifiantOffre) of the offers the ROR knows at this site."""

    def ror_ids(self) -> list[str]:
        """The ROR identifiers the row gives, each unique nationally."""
        return [self.ror_lieu] * bool(self.ror_lieu) + [offer for _, offer in self.ror_offres]


@dataclass
class ImportReport:
    """What an import did, resource by resource (``Type/id``)."""

    sites: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _code(text: str) -> str:
    """``Téléconsultation assistée`` → ``teleconsultation-assistee``: forgiving to spreadsheets."""
    return "-".join(normalise_text(text).replace("_", " ").split())


def _list(text: str | None) -> list[str]:
    return [_code(part) for part in (text or "").replace("|", ";").split(";") if part.strip()]


def read_sites(
    path: Path,
    communes: pd.DataFrame,
    fmt: Format = "csv",
    organization_type: str = "msp",
) -> list[Site]:
    """Parse and check the whole file; :class:`SiteImportError` lists every bad cell.

    ``communes`` is :func:`maillage.territory.communes.load_communes`'s table: codes outside it
    are refused, and missing coordinates default to the commune's representative point.
    """
    by_code = communes.set_index("code_commune")[["nom", "lon", "lat"]]
    problems: list[str] = []
    sites: list[Site] = []
    seen: dict[str, int] = {}
    seen_ror: dict[str, int] = {}
    reader = csv.DictReader(io.StringIO(_text(path), newline=""))
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
    except csv.Error as error:
        raise SiteImportError([f"{path}:1: not a readable CSV: {error}"]) from error
    missing = [c for c in REQUIRED[fmt] if c not in columns]
    if missing:
        raise SiteImportError(
            [f"{path}:1: missing column(s) {', '.join(missing)} (have: {', '.join(columns)})"]
        )
    try:
        for raw in reader:
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
            if fmt == "plan" and row.get("status") == "existant":
                continue  # a plan lists the sites it kept open after its new ones
            line = reader.line_num
            site, errors = _site(row, fmt, organization_type, by_code)
            problems.extend(f"{path}:{line}: column {col}: {msg}" for col, msg in errors)
            if site is None:
                continue
            if site.site_id in seen:
                problems.append(
                    f"{path}:{line}: column {REQUIRED[fmt][0]}: {site.site_id!r} already on "
                    f"line {seen[site.site_id]}"
                )
            seen.setdefault(site.site_id, line)
            for ror_id in site.ror_ids():
                if ror_id in seen_ror:
                    problems.append(
                        f"{path}:{line}: ROR identifier {ror_id!r} already on line "
                        f"{seen_ror[ror_id]}"
                    )
                seen_ror.setdefault(ror_id, line)
            sites.append(site)
    except csv.Error as error:
        problems.append(f"{path}:{reader.line_num}: not a readable CSV: {error}")
    if problems:
        raise SiteImportError(problems)
    if not sites:
        raise SiteImportError([f"{path}: no site to import"])
    return sites


def _text(path: Path) -> str:
    """The file as text: UTF-8 (a byte-order mark allowed), without NUL; else the line at fault.

    Decoded whole, not line by line, so that the line named is the one holding the bad byte.
    """
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SiteImportError([f"{path}: cannot read: {error.strerror}"]) from error
    if (nul := content.find(b"\0")) >= 0:
        line = content.count(b"\n", 0, nul) + 1
        raise SiteImportError([f"{path}:{line}: a NUL byte: this is not a text CSV file"])
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise SiteImportError(
            [f"{path}:{line}: not UTF-8 (byte {content[error.start]:#04x}); save it as UTF-8"]
        ) from error


def _site(
    row: dict[str, str], fmt: Format, default_type: str, communes: pd.DataFrame
) -> tuple[Site | None, list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    id_column = REQUIRED[fmt][0]
    site_id, name, code = row.get(id_column, ""), row.get("name", ""), row.get("code_commune", "")
    for column in (id_column, *TEXT_COLUMNS):
        if row.get(column, "").startswith(FORMULA_SIGNS):
            errors.append(
                (column, f"starts with {row[column][0]!r}: a spreadsheet would run it as a formula")
            )
    if not site_id:
        errors.append((id_column, "empty"))
    elif len(site_id) > 200:
        errors.append((id_column, "longer than 200 characters"))
    if not name:
        errors.append(("name", "empty"))
    if code not in communes.index:
        errors.append(
            ("code_commune", f"unknown commune code {code!r} (expected a current INSEE code)")
        )
    coordinates = {}
    for column, bound in (("lon", 180.0), ("lat", 90.0)):
        text = row.get(column, "")
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            errors.append((column, f"{text!r} is not a number"))
            continue
        if not math.isfinite(value) or abs(value) > bound:
            errors.append((column, f"{text!r} is outside ±{bound:g}"))
        coordinates[column] = value
    if len(coordinates) == 1:
        other = "lat" if "lon" in coordinates else "lon"
        errors.append((other, "give both lon and lat, or neither"))
    kind = _code(row.get("type", "")) or default_type
    if kind not in ORGANIZATION_TYPES:
        errors.append(("type", f"{kind!r} is not one of {', '.join(ORGANIZATION_TYPES)}"))
    modalities = _list(row.get("modalities"))
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        errors.append(("modalities", f"unknown {unknown} (known: {', '.join(MODALITIES)})"))
    equipment = _list(row.get("equipment"))
    if any(not item.replace("-", "").isalnum() or len(item) > 64 for item in equipment):
        errors.append(("equipment", "codes are words or dashed-words, separated by ';'"))
    for column in FINESS_COLUMNS:
        if number := row.get(column, ""):
            try:
                validate_finess(number)
            except ValueError as error:
                errors.append((column, str(error)))
    id_nat_struct = row.get("id_nat_struct", "") or (
        f"1{row['finess_et']}" if row.get("finess_et") else ""
    )
    if row.get("id_nat_struct"):
        try:
            validate_id_nat_struct(id_nat_struct)
        except ValueError as error:
            errors.append(("id_nat_struct", str(error)))
    if ror_lieu := row.get("ror_lieu", ""):
        try:
            validate_ror_id(ror_lieu)
        except ValueError as error:
            errors.append(("ror_lieu", str(error)))
    ror_offres, offer_errors = _ror_offers(row.get("ror_offres", ""), modalities)
    errors.extend(("ror_offres", message) for message in offer_errors)
    if errors:
        return None, errors
    # One column at a time: a label in a Series is a scalar (``loc[code]`` may be a frame).
    known_lon, known_lat = float(communes["lon"][code]), float(communes["lat"][code])
    lon, lat = coordinates.get("lon", known_lon), coordinates.get("lat", known_lat)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None, [("lon", f"required: commune {code} has no known position")]
    site = Site(
        site_id=site_id,
        name=name,
        code_commune=code,
        commune=str(communes["nom"][code]),
        lon=round(lon, 6),
        lat=round(lat, 6),
        organization_type=kind,
        modalities=tuple(dict.fromkeys(modalities)),
        equipment=tuple(dict.fromkeys(equipment)),
        finess_et=row.get("finess_et", ""),
        finess_ej=row.get("finess_ej", ""),
        id_nat_struct=id_nat_struct,
        ror_lieu=ror_lieu,
        ror_offres=ror_offres,
    )
    return site, []


def _ror_offers(text: str, modalities: list[str]) -> tuple[tuple[tuple[str, str], ...], list[str]]:
    """``teleconsultation-assistee=24/5001;tele-expertise=24/5002``: the ROR offer of each
    modality the row offers (one offer per modality, as the site has one HealthcareService each)."""
    offers: dict[str, str] = {}
    errors: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        modality, sep, offer = part.partition("=")
        modality, offer = _code(modality), offer.strip()
        if not sep or not offer:
            errors.append(f"{part!r} is not modality=ROR offer identifier")
        elif modality not in modalities:
            errors.append(
                f"{modality!r} is not one of the row's modalities ({', '.join(modalities)})"
            )
        elif modality in offers:
            errors.append(f"{modality!r} given twice")
        else:
            try:
                validate_ror_id(offer)
            except ValueError as error:
                errors.append(str(error))
            offers[modality] = offer
    return tuple(offers.items()), errors


def _id(kind: str, key: str) -> str:
    """A stable id for a site's resource, so the first import of a site is idempotent too."""
    return str(uuid.uuid5(_IDS, f"{kind}|{key}"))


def _address(site: Site) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": INSEE_EXTENSION,
                "valueCoding": {"system": INSEE_SYSTEM, "code": site.code_commune},
            }
        ],
        "use": "work",
        "type": "physical",
        "city": site.commune,
        "country": "FRA",
    }


def _identifier(value: str) -> list[dict[str, Any]]:
    return [{"system": SITE_SYSTEM, "value": value}]


def _finess(number: str, kind: str) -> list[dict[str, Any]]:
    """A FINESS identifier (``kind`` ET or EJ), or none when the file gave no number."""
    if not number:
        return []
    return [{"system": FINESS_SYSTEM, "value": number, "type": {"text": f"FINESS {kind}"}}]


def _typed(system: str, value: str, type_system: str, code: str, display: str) -> dict[str, Any]:
    """An identifier with its type coding, as the ROR profiles slice them."""
    coding = {"system": type_system, "code": code, "display": display}
    return {"system": system, "value": value, "type": {"coding": [coding]}}


def id_nat_struct_identifier(value: str) -> dict[str, Any]:
    """A structure's idNatStruct (ror-organization slice idNatSt, type TRE_G07 code 40)."""
    display = "Identifiant national de structure"
    return _typed(ID_NAT_STRUCT_SYSTEM, value, STRUCTURE_ID_TYPE_SYSTEM, "40", display)


def _id_nat_struct(site: Site) -> list[dict[str, Any]]:
    """The structure's idNatStruct, when known."""
    return [id_nat_struct_identifier(site.id_nat_struct)] if site.id_nat_struct else []


def _ror_location(site: Site) -> list[dict[str, Any]]:
    """The ROR's identifier of the place (ror-location slice idLocation), when known."""
    if not site.ror_lieu:
        return []
    display = "Identifiant du lieu de réalisation de l'offre connu par l'instance ROR"
    return [_typed(ROR_LOCATION_SYSTEM, site.ror_lieu, ROR_LOCATION_TYPE_SYSTEM, "25", display)]


def _ror_offer(site: Site, modality: str) -> list[dict[str, Any]]:
    """The ROR's identifiantOffre of the modality offered at the site, when known."""
    offer = dict(site.ror_offres).get(modality)
    if not offer:
        return []
    display = "Identifiant fonctionnel de l'offre connu par l'instance ROR"
    return [_typed(ROR_OFFER_SYSTEM, offer, ROR_OFFER_SYSTEM, "35", display)]


def organization_body(site: Site) -> dict[str, Any]:
    """The managing Organization of a site."""
    code, display = ORGANIZATION_TYPES[site.organization_type]
    return {
        "resourceType": "Organization",
        "identifier": _identifier(site.site_id)
        + _finess(site.finess_et, "ET")
        + _finess(site.finess_ej, "EJ")
        + _id_nat_struct(site),
        "active": True,
        "type": [
            {"coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": code, "display": display}]}
        ],
        "name": site.name,
        "address": [_address(site)],
    }


def location_body(site: Site, organization_id: str) -> dict[str, Any]:
    """The telemedicine site itself."""
    body: dict[str, Any] = {
        "resourceType": "Location",
        "identifier": _identifier(site.site_id)
        + _finess(site.finess_et, "ET")
        + _ror_location(site),
        "status": "active",
        "mode": "instance",
        "name": site.name,
        "address": _address(site),
        "position": {"longitude": site.lon, "latitude": site.lat},
        "managingOrganization": {"reference": f"Organization/{organization_id}"},
    }
    if site.equipment:
        body["type"] = [
            {"coding": [{"system": EQUIPMENT_SYSTEM, "code": item}]} for item in site.equipment
        ]
    return body


def service_body(
    site: Site, modality: str, organization_id: str, location_id: str, active: bool = True
) -> dict[str, Any]:
    """One modality offered at a site."""
    return {
        "resourceType": "HealthcareService",
        "identifier": _identifier(f"{site.site_id}/{modality}") + _ror_offer(site, modality),
        "active": active,
        "providedBy": {"reference": f"Organization/{organization_id}"},
        "location": [{"reference": f"Location/{location_id}"}],
        "type": [
            {
                "coding": [
                    {"system": MODALITY_SYSTEM, "code": modality, "display": MODALITIES[modality]}
                ]
            }
        ],
        "name": f"{MODALITIES[modality]} — {site.name}",
    }


def _by_identifier(session: Session, resource_type: str, value: str) -> Resource | None:
    return session.execute(
        select(Resource)
        .join(
            SearchEntry,
            (SearchEntry.resource_type == Resource.resource_type)
            & (SearchEntry.resource_id == Resource.id),
        )
        .where(
            Resource.resource_type == resource_type,
            Resource.deleted.is_(False),
            SearchEntry.param == "identifier",
            SearchEntry.system == SITE_SYSTEM,
            SearchEntry.value == value,
        )
        .order_by(Resource.id)
        .limit(1)
    ).scalar()


# The elements an import owns; anything else a coordinator added through the API is kept.
MANAGED = {
    "Organization": ("identifier", "active", "type", "name", "address"),
    "Location": (
        "identifier",
        "status",
        "mode",
        "name",
        "address",
        "position",
        "managingOrganization",
        "type",
    ),
    "HealthcareService": ("identifier", "active", "providedBy", "location", "type", "name"),
}


def _merged(stored: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` over what the stored version holds beyond the import's elements."""
    skipped = ("id", "meta", *MANAGED[body["resourceType"]])
    kept = {k: v for k, v in (stored or {}).items() if k not in skipped}
    return {**kept, **body}


class _Writer:
    """Writes bodies in one session, validating each and noting what changed."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session, self.settings, self.report = session, settings, ImportReport()

    def key(self, resource_type: str, identifier: str) -> str:
        """The id of the resource holding ``identifier``, else the stable new one."""
        found = _by_identifier(self.session, resource_type, identifier)
        return found.id if found else _id(resource_type, identifier)

    def put(self, resource_id: str, body: dict[str, Any]) -> None:
        resource_type = body["resourceType"]
        current = resources.get(self.session, resource_type, resource_id)
        reference = f"{resource_type}/{resource_id}"
        stored = None if current is None or current.deleted else current.body
        body = _merged(stored, body)
        if (
            stored is not None
            and {k: v for k, v in stored.items() if k not in ("id", "meta")} == body
        ):
            self.report.unchanged.append(reference)
            return
        try:
            checked = validation.validate(resource_type, {**body, "id": resource_id}, resource_id)
        except DomainError as error:
            raise SiteImportError([f"{reference}: {error.message}"]) from error
        resources.save(self.session, checked, self.settings.zone, resource_id=resource_id)
        (self.report.created if stored is None else self.report.updated).append(reference)

    def site(self, site: Site) -> None:
        organization_id = self.key("Organization", site.site_id)
        location_id = self.key("Location", site.site_id)
        self.put(organization_id, organization_body(site))
        self.put(location_id, location_body(site, organization_id))
        offered = set(site.modalities)
        for modality in MODALITIES:
            identifier = f"{site.site_id}/{modality}"
            service_id = self.key("HealthcareService", identifier)
            active = modality in offered
            if active or resources.get(self.session, "HealthcareService", service_id):
                body = service_body(site, modality, organization_id, location_id, active)
                self.put(service_id, body)
        self.report.sites += 1


def _audit_event(path: Path, report: ImportReport) -> dict[str, Any]:
    """An AuditEvent (DICOM ``Import``) naming the operator, the file and every write."""
    user = getpass.getuser()
    written = report.created + report.updated
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {**IMPORT_EVENT, "display": "Import"},
        "action": "C" if report.created else "U",
        "recorded": resources.instant(utcnow()),
        "outcome": "0",
        "outcomeDesc": (
            f"{report.sites} sites from {path.name}: {len(report.created)} created, "
            f"{len(report.updated)} updated, {len(report.unchanged)} unchanged"
        ),
        "agent": [
            {
                "who": {"identifier": {"system": "urn:maillage:os-user", "value": user}},
                "altId": user,
                "name": "maillage sites import",
                "requestor": True,
                "network": {"address": socket.gethostname(), "type": "1"},
            }
        ],
        "source": {"observer": {"display": "maillage"}},
        "entity": [{"what": {"display": str(path)}}],
    }
    event["entity"] += [{"what": {"reference": ref}} for ref in written]
    return event


def import_sites(
    sessions: sessionmaker[Session], settings: Settings, path: Path, sites: Iterable[Site]
) -> ImportReport:
    """Write ``sites`` (from :func:`read_sites`) in one audited transaction: all or nothing;
    then refresh the planner's statistics of what was loaded."""
    with transaction(sessions) as session:
        writer = _Writer(session, settings)
        for site in sites:
            writer.site(site)
        audit.append(session, _audit_event(path, writer.report))
    statistics.analyze(sessions)
    return writer.report


def iter_problems(error: SiteImportError, limit: int = 50) -> Iterator[str]:
    """The first ``limit`` problems, then how many more: a broken file must not flood a terminal."""
    yield from error.problems[:limit]
    if len(error.problems) > limit:
        yield f"… and {len(error.problems) - limit} more"
