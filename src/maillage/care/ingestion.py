"""Device-measurement ingestion: the rules an Observation from a device passes when it is written.

An Observation with a ``device`` and a LOINC code is a device measurement. It must pass
:func:`maillage.care.monitoring.validate_device_observation` (refused otherwise), and its
identity (subject, device, code, effective time) is unique in the ``measurement`` table, so a
re-sent copy is answered with the stored one. Other Observations follow plain FHIR. Once
committed, each measured patient's alert rules are evaluated by the worker
(:func:`maillage.care.alerts.evaluate`), never in the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from maillage.care import monitoring
from maillage.care.errors import Conflict, Unprocessable
from maillage.store import resources
from maillage.store.models import Measurement, Resource

Body = dict[str, Any]


def is_measurement(body: Body) -> bool:
    """Whether an Observation takes the device ingestion path (a device and a LOINC code)."""
    if body.get("resourceType") != "Observation" or "device" not in body:
        return False
    codings = (body.get("code") or {}).get("coding", [])
    return any(c.get("system") == monitoring.LOINC for c in codings)


def check_device_observation(body: Body) -> None:
    """Refuse a device measurement monitoring cannot use (unknown code, wrong unit…)."""
    if is_measurement(body):
        try:
            monitoring.validate_device_observation(body)
        except ValueError as error:
            raise Unprocessable(str(error), code="code-invalid") from error


def stored_copy(session: Session, body: Body) -> Resource | None:
    """The Observation already stored for this measurement, if it is a re-sent one."""
    if not is_measurement(body):
        return None
    key = monitoring.measurement_key(body)
    found = session.execute(
        select(Measurement.observation_id).where(
            Measurement.subject == key.subject,
            Measurement.device == key.device,
            Measurement.code == key.code,
            Measurement.effective == key.effective,
        )
    ).scalar()
    return None if found is None else resources.read(session, "Observation", found)


def index_measurement(session: Session, row: Resource) -> None:
    """Record the identity of a stored measurement (a conflict if a concurrent copy won)."""
    session.execute(delete(Measurement).where(Measurement.observation_id == row.id))
    if not is_measurement(row.body):
        return
    try:
        with session.begin_nested():
            session.execute(
                insert(Measurement).values(
                    observation_id=row.id, **monitoring.measurement_key(row.body)._asdict()
                )
            )
    except IntegrityError as error:
        raise Conflict("this measurement was stored meanwhile; send it again") from error


def measured_patients(bodies: Iterable[Body]) -> set[str]:
    """The patients with new measurements among written bodies (their rules to evaluate)."""
    return {monitoring.measurement_key(b).subject for b in bodies if is_measurement(b)}
