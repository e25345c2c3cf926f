"""Roadmap projects under ``/api/projects`` (:mod:`maillage.care.projects`), in plain JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from maillage.api.auth import required_principal
from maillage.api.deps import Sessions
from maillage.care.principal import Principal
from maillage.care.projects import ProjectIn, ProjectOut, Projects, Stage, SupportRequest

router = APIRouter(prefix="/api/projects", tags=["projects"])


def _projects(
    sessions: Sessions, principal: Annotated[Principal, Depends(required_principal)]
) -> Projects:
    return Projects(sessions, principal)


Caller = Annotated[Projects, Depends(_projects)]


@router.get("")
def list_projects(
    projects: Caller, stage: Stage | None = None, location: str | None = None
) -> list[ProjectOut]:
    """All projects, optionally those at one current stage or for one site."""
    return projects.find(stage, location)


@router.post("", status_code=201)
def create_project(projects: Caller, project: ProjectIn) -> ProjectOut:
    """Start following a project."""
    return projects.create(project)


@router.get("/{project_id}")
def read_project(projects: Caller, project_id: str) -> ProjectOut:
    """One project."""
    return projects.read(project_id)


@router.put("/{project_id}")
def update_project(projects: Caller, project_id: str, project: ProjectIn) -> ProjectOut:
    """Replace a project (e.g. record a new stage); concurrent updates conflict (409)."""
    return projects.replace(project_id, project)


@router.post("/{project_id}/support-requests", status_code=201)
def open_support_request(projects: Caller, project_id: str, support: SupportRequest) -> ProjectOut:
    """Send a request to the hotline: the project's site staff, coordinators and admins."""
    return projects.open_support_request(project_id, support)
