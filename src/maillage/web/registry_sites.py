"""The registry's open and planned sites as a plan's existing sites.

Read through the planner's repository when the form is sent (a snapshot: the plan does not
change if the registry does while it runs) and handed to the job as plain rows in the sites
file's columns, so that planning never reads the network itself.
"""

from __future__ import annotations

from typing import Any

from maillage.care.repository import Repository
from maillage.care.site_import import INSEE_SYSTEM
from maillage.web.sites import all_sites


def registry_sites(repository: Repository) -> list[dict[str, Any]]:
    """``id``, ``name``, ``code_commune``, ``lon``, ``lat`` of every site not closed that
    names its commune (closed: ``inactive``)."""
    rows = []
    for body in all_sites(repository, []):
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
