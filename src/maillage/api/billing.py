"""The billing export at ``/api/billing/acts``: remote acts of a period, as CSV.

One line per act recorded on a finished teleconsultation Encounter (class VR) whose period
meets the requested days, then one per act of the télé-expertises answered in those days: TE2
recorded on the completed Task (billed by its owner, the requested doctor) and RQD recorded on
the ServiceRequest it answers (billed by the requester). For the network's operators (admin,
coordinator) to reconcile with the Assurance Maladie and to evaluate activity. Reading it is an
audited search of Encounters and Tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from maillage.api.deps import Repo
from maillage.care import acts
from maillage.care.repository import StoredResource
from maillage.tabular import csv_bytes

router = APIRouter(prefix="/api/billing", tags=["billing"])

COLUMNS = (
    "encounter",
    "start",
    "end",
    "patient",
    "practitioners",
    "location",
    "appointment",
    "task",
    "act_code",
    "act_label",
    "billed_by",
)


def _references(items: list[dict[str, Any]], key: str) -> str:
    return " ".join((item.get(key) or {}).get("reference", "") for item in items if item.get(key))


def lines(rows: Sequence[StoredResource]) -> list[dict[str, str]]:
    """The CSV lines of some Encounters: one per recorded act."""
    out = []
    for row in rows:
        body = row.body
        period = body.get("period") or {}
        for code in acts.act_codes(body):
            out.append(
                {
                    "encounter": f"Encounter/{row.id}",
                    "start": period.get("start", ""),
                    "end": period.get("end", ""),
                    "patient": (body.get("subject") or {}).get("reference", ""),
                    "practitioners": _references(body.get("participant", []), "individual"),
                    "location": _references(body.get("location", []), "location"),
                    "appointment": " ".join(
                        a.get("reference", "") for a in body.get("appointment", [])
                    ),
                    "task": "",
                    **_act_fields(code),
                }
            )
    return out


def _act_fields(code: str) -> dict[str, str]:
    act = acts.ACTS.get(code)
    return {
        "act_code": code,
        "act_label": act.label if act else "unknown code",
        "billed_by": act.performer if act else "",
    }


def expertise_lines(
    pairs: Sequence[tuple[StoredResource, StoredResource | None]],
) -> list[dict[str, str]]:
    """The CSV lines of answered télé-expertises: the Task's TE2, the request's RQD."""
    out = []
    for task, request in pairs:
        body = task.body
        period = body.get("executionPeriod") or {}
        common = {
            "encounter": "",
            "patient": (body.get("for") or {}).get("reference", ""),
            "location": "",
            "appointment": "",
            "task": f"Task/{task.id}",
        }
        answer = {
            "start": period.get("start", ""),
            "end": period.get("end", ""),
            "practitioners": (body.get("owner") or {}).get("reference", ""),
        }
        for code in acts.act_codes(body):
            out.append(common | answer | _act_fields(code))
        if request is None:
            continue
        asked = request.body
        requester = (asked.get("requester") or {}).get("reference", "")
        authored = asked.get("authoredOn", "")
        for code in acts.act_codes(asked):
            line = {"start": authored, "end": authored, "practitioners": requester}
            out.append(common | line | _act_fields(code))
    return out


@router.get("/acts")
def acts_csv(
    repository: Repo,
    start: date = Query(alias="from", description="First day (inclusive)."),
    end: date = Query(alias="to", description="Last day (inclusive)."),
) -> Response:
    """The acts of finished teleconsultations between two days, as ``text/csv``."""
    rows = repository.billed_encounters(start, end)
    expertises = repository.billed_expertises(start, end)
    table = pd.DataFrame(lines(rows) + expertise_lines(expertises), columns=COLUMNS, dtype=str)
    table = table.sort_values(["start", "encounter"], kind="stable")
    filename = f"actes-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        csv_bytes(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
