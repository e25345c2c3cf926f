"""Encounter rules: the status lifecycle and, for teleconsultations, the billed act codes.

Status changes follow planned → (arrived) → in-progress → finished, with cancelled from the
states before the consultation starts and entered-in-error from anywhere; others get 409.
A teleconsultation (class ``VR``) records its Assurance Maladie acts as extensions
``urn:maillage:act-code`` (valueCoding ``urn:maillage:ngap``): only teleconsultation (TCG, TC)
and nurse-assistance (TLS, TLL, TLD) codes are accepted, and it cannot finish without a
teleconsultation act, so that the billing export is complete.
"""

from __future__ import annotations

from typing import Any

from maillage.care import acts
from maillage.care.codes import VIRTUAL
from maillage.care.errors import Conflict, Unprocessable

TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"arrived", "triaged", "in-progress", "cancelled"}),
    "arrived": frozenset({"triaged", "in-progress", "cancelled"}),
    "triaged": frozenset({"in-progress", "cancelled"}),
    "in-progress": frozenset({"onleave", "finished"}),
    "onleave": frozenset({"in-progress", "finished"}),
}
ENCOUNTER_ACTS = (acts.ActContext.TELECONSULTATION, acts.ActContext.ASSISTANCE)

Body = dict[str, Any]


def is_virtual(body: Body) -> bool:
    """Whether an Encounter is a teleconsultation's (class VR, virtual)."""
    return (body.get("class") or {}).get("code") == VIRTUAL


def _check_transition(before: str, after: str) -> None:
    if after in (before, "entered-in-error"):
        return
    if after not in TRANSITIONS.get(before, frozenset()):
        raise Conflict(f"an Encounter cannot go from {before} to {after}", code="business-rule")


def prepare(body: Body, previous: Body | None) -> Body:
    """Check a write of an Encounter (status change, act codes); the body is kept as sent."""
    if previous is not None:
        _check_transition(previous.get("status", ""), body.get("status", ""))
    if not is_virtual(body):
        return body
    contexts = []
    for code in acts.act_codes(body):
        try:
            found = acts.act(code)
        except ValueError as error:
            raise Unprocessable(str(error), code="business-rule") from error
        if found.context not in ENCOUNTER_ACTS:
            raise Unprocessable(
                f"act code {code} is not billed on a teleconsultation", code="business-rule"
            )
        contexts.append(found.context)
    finishing = body.get("status") == "finished" and (previous or {}).get("status") != "finished"
    if finishing and acts.ActContext.TELECONSULTATION not in contexts:
        raise Unprocessable(
            "record the teleconsultation act (TCG or TC) before finishing the encounter",
            code="business-rule",
        )
    return body
