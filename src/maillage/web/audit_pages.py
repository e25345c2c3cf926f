"""« Journal des accès »: the audit trail for admins and the data protection officer.

Who read or changed which record, when, from where and with what outcome, filtered, paged and
exported to CSV. It reads the AuditEvents through the principal's repository (the same search
as ``/fhir/AuditEvent``), so the policy that keeps the trail from everyone else is the API's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from maillage import french_format
from maillage.care.errors import DomainError
from maillage.care.policy import AUDITORS
from maillage.care.principal import Principal
from maillage.care.repository import Page, Repository
from maillage.tabular import csv_dialect
from maillage.web import jobs, records
from maillage.web.navigation import ROLE_LABELS
from maillage.web.records import PageRepo, local
from maillage.web.rendering import PageError, allowed, render

router = APIRouter(include_in_schema=False)
Auditor = Annotated[Principal, Depends(allowed(AUDITORS))]
PAGE_SIZE = 50
#: FHIR RESTful interactions (AuditEvent.subtype) as the journal names them.
INTERACTIONS = {
    "read": "lecture",
    "vread": "lecture d'une version",
    "search-type": "recherche",
    "create": "création",
    "update": "modification",
    "delete": "suppression",
}
#: The action filter's choices: AuditEvent.action codes.
ACTIONS = {
    "R": "lecture",
    "E": "recherche",
    "C": "création",
    "U": "modification",
    "D": "suppression",
}
#: AuditEvent.outcome codes.
OUTCOMES = {"0": "accordé", "4": "demande en échec", "8": "refusé", "12": "échec grave"}
ROLES = {role.value: label for role, label in ROLE_LABELS.items()}
COLUMNS = {
    "date": "Date",
    "compte": "Compte",
    "role": "Rôle",
    "action": "Action",
    "dossiers": "Dossiers",
    "resultat": "Résultat",
    "adresse": "Adresse réseau",
    "motif": "Motif",
}


@dataclass
class Filters:
    """The journal's filters, read from the query string (empty ones filter nothing)."""

    du: Annotated[str, Query(max_length=10)] = ""
    au: Annotated[str, Query(max_length=10)] = ""
    compte: Annotated[str, Query(max_length=320)] = ""
    patient: Annotated[str, Query(max_length=64)] = ""
    dossier: Annotated[str, Query(max_length=200)] = ""
    action: Annotated[str, Query(max_length=1)] = ""
    resultat: Annotated[str, Query(max_length=2)] = ""

    def params(self) -> list[tuple[str, str]]:
        """The AuditEvent search parameters, newest first."""
        params = [("_sort", "-date")]
        for prefix, text, label in (("ge", self.du, "de début"), ("le", self.au, "de fin")):
            if text:
                params.append(("date", f"{prefix}{_day(text, label).isoformat()}"))
        if self.compte.strip():
            params.append(("altid", self.compte.strip()))
        if self.patient.strip():
            params.append(("patient", f"Patient/{self.patient.strip().removeprefix('Patient/')}"))
        if self.dossier.strip():
            params.append(("entity", self.dossier.strip()))
        if self.action in ACTIONS:
            params.append(("action", self.action))
        if self.resultat in OUTCOMES:
            params.append(("outcome", self.resultat))
        return params

    def query(self, **extra: Any) -> str:
        """The query string of these filters (for paging and the export's link)."""
        shown = {k: v for k, v in asdict(self).items() if v} | extra
        return urlencode({k: str(v) for k, v in shown.items()})


def _day(text: str, label: str) -> date:
    """A filter's day (an empty field filters nothing; a form sends it empty)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PageError(422, f"La date {label} n'est pas valable (jj/mm/aaaa).") from None


def entry(body: dict[str, Any], zone: ZoneInfo) -> dict[str, str]:
    """One line of the journal (an AuditEvent's body), in French."""
    agent = (body.get("agent") or [{}])[0]
    subtype = ((body.get("subtype") or [{}])[0]).get("code", "")
    role = ((agent.get("role") or [{}])[0]).get("text", "")
    recorded = body.get("recorded")
    entities = [(e.get("what") or {}).get("reference", "") for e in body.get("entity") or []]
    outcome = str(body.get("outcome", ""))
    return {
        "date": french_format.short_moment(local(recorded, zone)) if recorded else "—",
        "compte": agent.get("altId") or (agent.get("who") or {}).get("display") or "anonyme",
        "role": ROLES.get(role, role),
        "action": INTERACTIONS.get(subtype, subtype),
        "dossiers": ", ".join(e for e in entities if e),
        "resultat": OUTCOMES.get(outcome, outcome),
        "adresse": (agent.get("network") or {}).get("address", ""),
        "motif": body.get("outcomeDesc", ""),
    }


def _search(repository: Repository, params: list[tuple[str, str]]) -> Page:
    try:
        return repository.search("AuditEvent", params)
    except DomainError as error:
        raise records.page_error(error) from error


@router.get("/journal", response_class=HTMLResponse)
def journal(
    request: Request,
    _principal: Auditor,
    repository: PageRepo,
    filters: Annotated[Filters, Depends()],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The trail, newest first, fifty lines a page."""
    offset = [("_count", str(PAGE_SIZE)), ("_offset", str((page - 1) * PAGE_SIZE))]
    found = _search(repository, filters.params() + offset)
    zone = repository.settings.zone
    pages = max(1, -(-found.matches // PAGE_SIZE))
    return render(
        request,
        "admin/journal.html",
        {
            "lignes": [entry(row.body, zone) for row in found.rows],
            "total": found.matches,
            "page": page,
            "pages": pages,
            "filtres": filters,
            "actions": ACTIONS,
            "resultats": OUTCOMES,
            "precedente": filters.query(page=page - 1) if page > 1 else None,
            "suivante": filters.query(page=page + 1) if page < pages else None,
            "export": filters.query(),
        },
    )


@router.get("/journal/export")
def journal_export(
    _principal: Auditor,
    repository: PageRepo,
    filters: Annotated[Filters, Depends()],
    format: Annotated[str, Query(pattern="^(standard|excel-fr)$")] = "standard",
) -> Response:
    """Every line the filters select, as CSV (the product's writer; ``excel-fr`` for French
    Excel), in the same words as the page."""
    try:
        rows = repository.search_all("AuditEvent", filters.params())
    except DomainError as error:
        raise records.page_error(error) from error
    zone = repository.settings.zone
    table = pd.DataFrame([entry(row.body, zone) for row in rows], columns=list(COLUMNS))
    return jobs.csv_attachment(
        table.rename(columns=COLUMNS), "journal-des-acces.csv", csv_dialect(format)
    )
