"""The registry's open and planned sites as a plan's existing sites.

Read through a repository (the planner's for the plan form, the system's for
``maillage plan --existing registry``) when the plan is asked for: a snapshot, so the plan does
not change if the registry does while it runs. Plain rows in the sites file's columns, so that
planning never reads the network itself.
"""

from __future__ import annotations

from typing import Any

from maillage.care.repository import Repository
from maillage.care.site_import import INSEE_SYSTEM


def registry_sites(repository: Repository) -> list[dict[str, Any]]:
    """``id``, ``name``, ``code_commune``, ``lon``, ``lat`` of every site the repository
    reads (see :meth:`Repository.sites`) that is not closed (``inactive``) and names its
    commune."""
    rows = []
    for body in repository.sites():
        code = _commune(body)
        if body.get("status") == "inactive" or code is None:
            continue
        position = body.get("position", {})
        rows.append(
            {
                "id": body["id"],
                "name": body.get("name") or body["id"],
                "code_commune": code,
                "lon": position.get("longitude", ""),
                "lat": position.get("latitude", ""),
            }
        )
    return rows


def _commune(body: dict[str, Any]) -> str | None:
    for extension in body.get("address", {}).get("extension", []):
        coding = extension.get("valueCoding", {})
        if coding.get("system") == INSEE_SYSTEM:
            return str(coding.get("code"))
    return None
