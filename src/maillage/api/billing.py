"""The billing export at ``/api/billing/acts``: teleconsultation acts of a period, as CSV.

One line per act recorded on a finished teleconsultation Encounter (class VR) whose period
meets the requested days, for the network's operators (admin, coordinator) to reconcile with
the Assurance Maladie and to evaluate activity. Reading it is an audited search of Encounters.
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
            act = acts.ACTS.get(code)
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
                    "act_code": code,
                    "act_label": act.label if act else "unknown code",
                    "billed_by": act.performer if act else "",
                }
            )
    return out


@router.get("/acts")
def acts_csv(
    repository: Repo,
    start: date = Query(alias="from", description="First day (inclusive)."),
    end: date = Query(alias="to", description="Last day (inclusive)."),
) -> Response:
    """The acts of finished teleconsultations between two days, as ``text/csv``."""
    rows = repository.billed_encounters(start, end)
    table = pd.DataFrame(lines(rows), columns=COLUMNS, dtype=str)
    table = table.sort_values(["start", "encounter"], kind="stable")
    filename = f"actes-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        csv_bytes(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
