"""A site's registry record changed by hand: name, kind, status, equipment, modalities, FINESS.

A site is what an import writes (:mod:`maillage.care.site_import`): a Location, its managing
Organization (whose type is the site's kind: MSP, EHPAD…) and one HealthcareService per
modality. An edit writes them in one transaction of the principal's repository, so the registry's
write rules apply (its operators only) and each resource keeps its versions; the Location is
written only if it is still the version the editor read. A modality dropped is deactivated, not
deleted, as a re-import does; elements the edit does not own are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from maillage.care.identifiers import FINESS_SYSTEM, ID_NAT_STRUCT_SYSTEM, validate_finess
from maillage.care.repository import Repository, Work
from maillage.care.site_import import (
    EQUIPMENT_SYSTEM,
    FORMULA_SIGNS,
    MODALITIES,
    MODALITY_SYSTEM,
    ORGANIZATION_TYPE_SYSTEM,
    ORGANIZATION_TYPES,
    SITE_SYSTEM,
    Site,
    id_nat_struct_identifier,
    service_body,
)

Body = dict[str, Any]
STATUSES = ("active", "suspended", "inactive")
_CODE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class SiteEditError(ValueError):
    """An edit refused before anything is written; the message is the page's (French)."""


@dataclass(frozen=True)
class SiteEdit:
    """What the editor asks for, and the Location version they read."""

    name: str
    kind: str
    status: str
    equipment: tuple[str, ...]
    modalities: tuple[str, ...]
    finess_et: str
    version: int


@dataclass(frozen=True)
class SiteRecord:
    """A site's current registry record, as the edit form shows it."""

    location: Body
    organization: Body | None
    services: list[Body]

    @property
    def current(self) -> SiteEdit:
        """The record's values as an edit that changes nothing."""
        return SiteEdit(
            name=self.location.get("name", ""),
            kind=_kind(self.organization),
            status=self.location.get("status", "active"),
            equipment=tuple(_codes(self.location.get("type"), EQUIPMENT_SYSTEM)),
            modalities=tuple(
                m
                for s in self.services
                if s.get("active", True)
                for m in _codes(s.get("type"), MODALITY_SYSTEM)
            ),
            finess_et=_finess(self.location),
            version=int(self.location["meta"]["versionId"]),
        )


def _codes(concepts: list[Body] | None, system: str) -> list[str]:
    return [
        str(coding.get("code"))
        for concept in concepts or []
        for coding in concept.get("coding") or []
        if coding.get("system") == system and coding.get("code")
    ]


def _kind(organization: Body | None) -> str:
    """The import's key (``msp``, ``ehpad``…) of the Organization's type, or ``""``."""
    codes = _codes((organization or {}).get("type"), ORGANIZATION_TYPE_SYSTEM)
    keys = {code: key for key, (code, _) in ORGANIZATION_TYPES.items()}
    return next((keys[c] for c in codes if c in keys), "")


def _finess(body: Body) -> str:
    return next(
        (
            str(i.get("value"))
            for i in body.get("identifier") or []
            if i.get("system") == FINESS_SYSTEM and "EJ" not in str(i.get("type", ""))
        ),
        "",
    )


def site_record(repository: Repository, site_id: str) -> SiteRecord:
    """The site's Location, managing Organization and services, read through ``repository``."""
    location = repository.read("Location", site_id).body
    reference = (location.get("managingOrganization") or {}).get("reference", "")
    kind, _, ident = reference.partition("/")
    organization = repository.read(kind, ident).body if kind == "Organization" and ident else None
    services = [
        row.body
        for row in repository.search_all("HealthcareService", [("location", f"Location/{site_id}")])
    ]
    return SiteRecord(location, organization, services)


def checked(edit: SiteEdit) -> SiteEdit:
    """``edit`` with its text trimmed, once every field is acceptable."""
    name, finess = edit.name.strip(), edit.finess_et.strip()
    if not name or len(name) > 200 or name.startswith(FORMULA_SIGNS):
        raise SiteEditError("Le nom est requis (200 caractères au plus, sans = + - @ en tête).")
    if edit.kind not in ORGANIZATION_TYPES:
        raise SiteEditError("Choisissez le type de structure dans la liste.")
    if edit.status not in STATUSES:
        raise SiteEditError("Choisissez le statut dans la liste.")
    if any(m not in MODALITIES for m in edit.modalities):
        raise SiteEditError("Choisissez les modalités dans la liste.")
    if any(not _CODE.fullmatch(e) or len(e) > 64 for e in edit.equipment):
        raise SiteEditError("Un équipement est un code en minuscules et tirets.")
    if finess:
        try:
            validate_finess(finess)
        except ValueError as error:
            raise SiteEditError(f"Numéro FINESS invalide : {finess}.") from error
    return SiteEdit(
        name,
        edit.kind,
        edit.status,
        tuple(dict.fromkeys(edit.equipment)),
        tuple(dict.fromkeys(edit.modalities)),
        finess,
        edit.version,
    )


def _with_finess(identifiers: list[Body] | None, finess: str) -> list[Body]:
    """The identifiers with the FINESS ET replaced (an EJ is kept)."""
    kept = [
        i
        for i in identifiers or []
        if i.get("system") != FINESS_SYSTEM or "EJ" in str(i.get("type", ""))
    ]
    added = [{"system": FINESS_SYSTEM, "value": finess, "type": {"text": "FINESS ET"}}]
    return kept + (added if finess else [])


def _organization_identifiers(identifiers: list[Body] | None, old: str, new: str) -> list[Body]:
    """:func:`_with_finess`, and an idNatStruct derived from the FINESS ET (``1`` + FINESS, as
    the import derives it) following the new number; one given otherwise (SIRET…) is kept."""
    derived = f"1{old}" if old else None
    kept = [
        i
        for i in _with_finess(identifiers, new)
        if i.get("system") != ID_NAT_STRUCT_SYSTEM or i.get("value") != derived
    ]
    if new and not any(i.get("system") == ID_NAT_STRUCT_SYSTEM for i in kept):
        kept.append(id_nat_struct_identifier(f"1{new}"))
    return kept


def _site_key(location: Body) -> str:
    """The site's import id (its :data:`SITE_SYSTEM` identifier), else the Location's id."""
    return next(
        (
            str(i["value"])
            for i in location.get("identifier") or []
            if i.get("system") == SITE_SYSTEM
        ),
        location["id"],
    )


def edit_site(repository: Repository, site_id: str, edit: SiteEdit) -> None:
    """Write ``edit`` to the site's Location, Organization and services in one transaction."""
    wanted = checked(edit)
    record = site_record(repository, site_id)
    location, organization = record.location, record.organization
    code, display = ORGANIZATION_TYPES[wanted.kind]
    kind_concept = {
        "coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": code, "display": display}]
    }
    with repository.writing() as work:
        if organization is None:
            organization = work.save(
                {"resourceType": "Organization", "active": True, "name": wanted.name,
                 "type": [kind_concept],
                 "identifier": _organization_identifiers([], "", wanted.finess_et)}
            ).body  # fmt: skip
        elif _kind(organization) != wanted.kind or _finess(organization) != wanted.finess_et:
            other_types = [
                t
                for t in organization.get("type") or []
                if not _codes([t], ORGANIZATION_TYPE_SYSTEM)
            ]
            work.update(
                organization,
                {
                    "type": [kind_concept, *other_types],
                    "identifier": _organization_identifiers(
                        organization.get("identifier"), _finess(organization), wanted.finess_et
                    ),
                },
            )
        kinds = [t for t in location.get("type") or [] if not _codes([t], EQUIPMENT_SYSTEM)]
        equipment = [
            {"coding": [{"system": EQUIPMENT_SYSTEM, "code": e}]} for e in wanted.equipment
        ]
        changes: Body = {
            "name": wanted.name,
            "status": wanted.status,
            "identifier": _with_finess(location.get("identifier"), wanted.finess_et),
            "managingOrganization": {"reference": f"Organization/{organization['id']}"},
        }
        body = {k: v for k, v in location.items() if k not in ("meta", "type")} | changes
        if kinds or equipment:
            body["type"] = kinds + equipment
        work.save(body, site_id, if_match=wanted.version)
        _services(work, record, wanted, str(organization["id"]))


def _services(work: Work, record: SiteRecord, wanted: SiteEdit, organization_id: str) -> None:
    """Activate the services of the modalities chosen (creating those missing), deactivate the
    others."""
    location = record.location
    by_modality = {m: s for s in record.services for m in _codes(s.get("type"), MODALITY_SYSTEM)}
    for modality in MODALITIES:
        active = modality in wanted.modalities
        service = by_modality.get(modality)
        if service is not None and service.get("active", True) != active:
            work.update(service, {"active": active})
        elif service is None and active:
            # The import's service, for a site known by its key and new name only.
            site = Site(_site_key(location), wanted.name, "", "", 0.0, 0.0, wanted.kind)
            work.save(service_body(site, modality, organization_id, location["id"]))
