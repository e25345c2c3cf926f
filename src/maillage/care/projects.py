"""Roadmap projects: plain JSON records, since they are not FHIR resources.

A project accompanies one telemedicine site or one MSP creation or extension through the stages
identified → accompanied → funded → equipped → staff-trained → operating → evaluated, with the
funding granted, the people trained and the requests sent to the regional hotline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field, PlainSerializer, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from maillage.care.errors import Conflict, Forbidden, NotFound
from maillage.care.principal import Principal
from maillage.store.database import transaction
from maillage.store.models import Project, utcnow
from maillage.store.users import Role

Stage = Literal[
    "identified", "accompanied", "funded", "equipped", "staff-trained", "operating", "evaluated"
]
STAGES: tuple[str, ...] = get_args(Stage)
#: How the French pages and the report name the stages, the kinds of project and the states
#: of a hotline request.
STAGE_LABELS = {
    "identified": "Identifié",
    "accompanied": "Accompagné",
    "funded": "Financé",
    "equipped": "Équipé",
    "staff-trained": "Personnel formé",
    "operating": "En fonctionnement",
    "evaluated": "Évalué",
}
KIND_LABELS = {
    "site": "Site de télémédecine",
    "msp-creation": "Création de MSP",
    "msp-extension": "Extension de MSP",
}
REQUEST_LABELS = {"open": "Ouverte", "answered": "Répondue", "closed": "Clôturée"}
Euros = Annotated[
    Decimal,
    Field(ge=0, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]
READERS = frozenset(Role) - {Role.PATIENT}
WRITERS = frozenset({Role.ADMIN, Role.COORDINATOR})


class StageReached(BaseModel):
    """The date a stage was reached."""

    stage: Stage
    date: date


class Funding(BaseModel):
    """Funding granted to the project, in euros, and by whom (ARS, région, FEDER, …)."""

    amount_euros: Euros
    funder: str = Field(min_length=1)
    granted: date


class Trainee(BaseModel):
    """A person trained to use the site's equipment."""

    name: str = Field(min_length=1)
    role: str | None = None
    trained: date


class SupportRequest(BaseModel):
    """A request to the regional hotline and its answer."""

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    opened: date
    subject: str = Field(min_length=1)
    status: Literal["open", "answered", "closed"] = "open"
    answer: str | None = None

    @model_validator(mode="after")
    def _answered_has_answer(self) -> SupportRequest:
        if self.status == "answered" and not self.answer:
            raise ValueError("an answered request needs its answer")
        return self


class ProjectIn(BaseModel):
    """A project as clients send it."""

    name: str = Field(min_length=1)
    kind: Literal["site", "msp-creation", "msp-extension"]
    location: str | None = Field(default=None, pattern=r"^Location/[A-Za-z0-9\-.]{1,64}$")
    organization: str | None = Field(default=None, pattern=r"^Organization/[A-Za-z0-9\-.]{1,64}$")
    stages: list[StageReached] = []
    funding: list[Funding] = []
    trained: list[Trainee] = []
    support_requests: list[SupportRequest] = []

    @model_validator(mode="after")
    def _stages_in_order(self) -> ProjectIn:
        order = [STAGES.index(s.stage) for s in self.stages]
        if order != sorted(set(order)):
            raise ValueError(f"stages come once each, in the order {' → '.join(STAGES)}")
        dates = [s.date for s in self.stages]
        if dates != sorted(dates):
            raise ValueError("a later stage cannot be reached before an earlier one")
        return self


class ProjectOut(ProjectIn):
    """A stored project, with its current stage and version."""

    id: str
    version: int
    last_updated: datetime
    stage: Stage | None


def _out(row: Project) -> ProjectOut:
    project = ProjectIn.model_validate(row.body)
    current = project.stages[-1].stage if project.stages else None
    return ProjectOut(
        **project.model_dump(),
        id=row.id,
        version=row.version_id,
        # Stored as naive UTC: sent with its offset, as RFC 3339 (OpenAPI date-time) requires.
        last_updated=row.last_updated.replace(tzinfo=UTC),
        stage=current,
    )


def _allow(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this on projects")


def _get(session: Session, project_id: str) -> Project:
    row = session.get(Project, project_id)
    if row is None:
        raise NotFound(f"project {project_id} is not known")
    return row


class Projects:
    """The roadmap projects as one principal may read and change them."""

    def __init__(self, sessions: sessionmaker[Session], principal: Principal) -> None:
        self.sessions, self.principal = sessions, principal

    def find(self, stage: str | None = None, location: str | None = None) -> list[ProjectOut]:
        """All projects, optionally those at one current stage or for one site."""
        _allow(self.principal, READERS)
        with transaction(self.sessions) as session:
            rows = session.execute(select(Project).order_by(Project.last_updated)).scalars().all()
        projects = [_out(row) for row in rows]
        return [
            p
            for p in projects
            if (stage is None or p.stage == stage) and (location is None or p.location == location)
        ]

    def create(self, project: ProjectIn) -> ProjectOut:
        """Start following a project."""
        _allow(self.principal, WRITERS)
        row = Project(
            id=str(uuid.uuid4()),
            version_id=1,
            last_updated=utcnow(),
            body=project.model_dump(mode="json"),
        )
        with transaction(self.sessions) as session:
            session.add(row)
        return _out(row)

    def read(self, project_id: str) -> ProjectOut:
        """One project."""
        _allow(self.principal, READERS)
        with transaction(self.sessions) as session:
            return _out(_get(session, project_id))

    def replace(self, project_id: str, project: ProjectIn) -> ProjectOut:
        """Replace a project (e.g. record a new stage); concurrent updates conflict."""
        _allow(self.principal, WRITERS)
        return self._change(project_id, lambda _current: project)

    def amend(self, project_id: str, change: Callable[[ProjectIn], ProjectIn]) -> ProjectOut:
        """Apply ``change`` to the project as it is now (a stage, a funding, a trainee added
        from a page), in one versioned write: nothing another writer added meanwhile is lost."""
        _allow(self.principal, WRITERS)
        return self._change(project_id, change)

    def open_support_request(self, project_id: str, support: SupportRequest) -> ProjectOut:
        """Send a request to the hotline: the project's site staff, coordinators and admins."""
        principal = self.principal
        _allow(principal, WRITERS | {Role.SITE_PROFESSIONAL})

        def add(current: ProjectIn) -> ProjectIn:
            if principal.role is Role.SITE_PROFESSIONAL and current.location != principal.site:
                raise Forbidden("site staff open requests for their own site's project only")
            requests = [*current.support_requests, support]
            return current.model_copy(update={"support_requests": requests})

        return self._change(project_id, add)

    def _change(self, project_id: str, change: Callable[[ProjectIn], ProjectIn]) -> ProjectOut:
        with transaction(self.sessions) as session:
            current = _get(session, project_id)
            new = change(ProjectIn.model_validate(current.body))
            # On the connection (Core): a DML result there is a CursorResult, with a rowcount.
            changed = (
                session.connection()
                .execute(
                    update(Project)
                    .where(Project.id == project_id, Project.version_id == current.version_id)
                    .values(
                        version_id=current.version_id + 1,
                        last_updated=utcnow(),
                        body=new.model_dump(mode="json"),
                    )
                )
                .rowcount
            )
            if changed != 1:
                raise Conflict(f"project {project_id} changed meanwhile")
            fresh = session.get(Project, project_id, populate_existing=True)
            assert fresh is not None
            return _out(fresh)
