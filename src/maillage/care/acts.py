"""Assurance Maladie act codes the network records for billing exports and evaluation.

Codes of the NGAP (Nomenclature générale des actes professionnels) for telemedicine, as
introduced by the conventions with doctors (avenant 6, 2018: teleconsultation; avenant 9,
2022: télé-expertise open to all patients, TE2/RQD) and with nurses (avenant 6 to the
nurses' convention, 2019: TLS/TLL/TLD). Sources: ameli.fr pages "Téléconsultation" and
"Télé-expertise" for doctors and "Accompagnement du patient à la téléconsultation" for nurses.
Fees change with each convention amendment, so none are recorded here: billing applies the
price in force on the day of the act.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from maillage.care.codes import ACT_URL, NGAP_SYSTEM


class ActContext(StrEnum):
    """Which part of a telemedicine act the code pays for."""

    TELECONSULTATION = "teleconsultation"
    ASSISTANCE = "assistance"
    TELE_EXPERTISE_EXPERT = "tele-expertise-expert"
    TELE_EXPERTISE_REQUESTER = "tele-expertise-requester"


@dataclass(frozen=True)
class Act:
    code: str
    label: str
    context: ActContext
    performer: str
    """Who bills it: ``physician`` (GP or specialist as the label says) or ``nurse``."""


ACTS: dict[str, Act] = {
    a.code: a
    for a in (
        Act(
            "TCG",
            "Téléconsultation by a general practitioner",
            ActContext.TELECONSULTATION,
            "physician",
        ),
        Act(
            "TC",
            "Téléconsultation by a specialist physician",
            ActContext.TELECONSULTATION,
            "physician",
        ),
        Act(
            "TLS",
            "Nurse assisting a teleconsultation during care already scheduled for the patient "
            "(at home or in the nurse's office)",
            ActContext.ASSISTANCE,
            "nurse",
        ),
        Act(
            "TLL",
            "Nurse assisting a teleconsultation, outside scheduled care, in a place set up for "
            "teleconsultation (office, telemedicine room or cabin)",
            ActContext.ASSISTANCE,
            "nurse",
        ),
        Act(
            "TLD",
            "Nurse assisting a teleconsultation, outside scheduled care, at the patient's home "
            "(a visit made for it)",
            ActContext.ASSISTANCE,
            "nurse",
        ),
        Act(
            "TE2",
            "Télé-expertise answered by the requested (expert) physician",
            ActContext.TELE_EXPERTISE_EXPERT,
            "physician",
        ),
        Act(
            "RQD",
            "Request for télé-expertise by the requesting professional",
            ActContext.TELE_EXPERTISE_REQUESTER,
            "physician",
        ),
    )
}


def act(code: str) -> Act:
    """The act for a code, or ValueError listing the codes the network uses."""
    try:
        return ACTS[code]
    except KeyError:
        raise ValueError(
            f"act code {code!r} is not one of the network's codes: {', '.join(sorted(ACTS))}"
        ) from None


def check_act(code: str, context: ActContext | str) -> Act:
    """The act for a code, refused unless it pays for this part of the act.

    Stops, for instance, a nurse assistance code on the doctor's teleconsultation or TE2 on the
    requester's side of a télé-expertise.
    """
    found, expected = act(code), ActContext(context)
    if found.context is not expected:
        codes = ", ".join(sorted(a.code for a in ACTS.values() if a.context is expected))
        raise ValueError(f"act code {code} is for {found.context}, not {expected} (use {codes})")
    return found


def act_codes(body: dict[str, Any]) -> list[str]:
    """The act codes recorded on a resource (extensions :data:`~maillage.care.codes.ACT_URL`)."""
    return [
        e["valueCoding"].get("code", "")
        for e in body.get("extension", [])
        if e.get("url") == ACT_URL and "valueCoding" in e
    ]


def record_act(body: dict[str, Any], code: str) -> None:
    """Record act ``code`` on ``body`` (in place), once."""
    if code not in act_codes(body):
        coding = {"system": NGAP_SYSTEM, "code": code, "display": act(code).label}
        body.setdefault("extension", []).append({"url": ACT_URL, "valueCoding": coding})


def assistance_act(*, during_scheduled_care: bool, at_home: bool) -> Act:
    """The nurse's assistance code: TLS within scheduled care, else TLD at home or TLL on site."""
    if during_scheduled_care:
        return ACTS["TLS"]
    return ACTS["TLD"] if at_home else ACTS["TLL"]
