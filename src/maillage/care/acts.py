"""Assurance Maladie act codes the network records for billing exports and evaluation.

One cited table of the NGAP (Nomenclature générale des actes professionnels) codes for remote
acts: who may bill each, from when, and the text that opened it. Fees change with each
convention amendment, so none are recorded here: billing applies the price in force on the
day of the act. A ``valid_from`` of ``None`` means the sources found give the text but not the
day the code became billable.

Sources (as consulted):

* doctors' teleconsultation, avenant 6 to the 2016 medical convention (JO 1 August 2018),
  billable from 15 September 2018 — https://www.telemedaction.org/432375935 ;
* pharmacists' assistance (TLM), avenant 15 to the pharmacists' convention signed
  6 December 2018, now article V.I of the convention signed 9 March 2022 —
  ameli.fr, pharmacien › facturation-remuneration › telemedecine (« assistance à la
  téléconsultation en officine », 26 February 2025) ;
* nurses' assistance (TLS, TLL, TLD), avenant 6 to the nurses' convention (2019) — ameli.fr,
  « Accompagnement du patient à la téléconsultation » (infirmier) ;
* télé-expertise (TE2, RQD) open to every patient from the second quarter of 2022 (avenant 9,
  decree of 3 June 2021 on télésanté), requesters doctor, nurse, masseur-kinésithérapeute,
  sage-femme, TE2 at most 4 a year per patient and requested doctor —
  https://telemedaction.org/422021881/la-t-l-expertise-pratique-essentielle and
  https://omniprat.org/fiches-pratiques/teleexpertise/ .
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from maillage.care.codes import ACT_URL, NGAP_SYSTEM


class ActContext(StrEnum):
    """Which part of a telemedicine act the code pays for."""

    TELECONSULTATION = "teleconsultation"
    ASSISTANCE = "assistance"
    TELE_EXPERTISE_EXPERT = "tele-expertise-expert"
    TELE_EXPERTISE_REQUESTER = "tele-expertise-requester"


class Profession(StrEnum):
    """Professions that bill remote acts (Annuaire Santé profession codes in comments)."""

    PHYSICIAN = "physician"  # 10 médecin
    NURSE = "nurse"  # 60 infirmier
    PHYSIOTHERAPIST = "physiotherapist"  # 70 masseur-kinésithérapeute
    MIDWIFE = "midwife"  # 50 sage-femme
    PHARMACIST = "pharmacist"  # 21 pharmacien


@dataclass(frozen=True)
class Act:
    code: str
    label: str
    context: ActContext
    professions: frozenset[Profession]
    """Who may bill it."""
    valid_from: date | None
    source: str

    @property
    def performer(self) -> str:
        """The professions that bill it, as one export field (``nurse``, ``nurse|physician``)."""
        return "|".join(sorted(self.professions))


PROFESSION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
"""The ANS terminology of health professions (Annuaire Santé ``Code profession``)."""
SPECIALTY_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)
"""The ANS table of doctors' ordinal specialties (SM54 médecine générale…), as qualifications."""
_PROFESSION_CODES = {
    "10": Profession.PHYSICIAN,
    "60": Profession.NURSE,
    "70": Profession.PHYSIOTHERAPIST,
    "50": Profession.MIDWIFE,
    "21": Profession.PHARMACIST,
}
_PROFESSION_WORDS = {
    "médecin": Profession.PHYSICIAN,
    "infirmi": Profession.NURSE,
    "kinésithérapeute": Profession.PHYSIOTHERAPIST,
    "sage-femme": Profession.MIDWIFE,
    "pharmacien": Profession.PHARMACIST,
}


def profession_of(practitioner: dict[str, Any]) -> Profession | None:
    """A Practitioner's profession from its qualifications: the ANS profession code, else the
    French word of the qualification's text (« Pharmacien », « Infirmière »…); None if unknown."""
    for qualification in practitioner.get("qualification", []):
        code = qualification.get("code") or {}
        for coding in code.get("coding", []):
            if (
                coding.get("system") == PROFESSION_SYSTEM
                and coding.get("code") in _PROFESSION_CODES
            ):
                return _PROFESSION_CODES[coding["code"]]
        text = (code.get("text") or "").casefold()
        for word, profession in _PROFESSION_WORDS.items():
            if text.startswith(word):
                return profession
    return None


def profession_code(practitioner: dict[str, Any]) -> str | None:
    """The ANS profession code (Annuaire Santé ``Code profession``) of a Practitioner's
    qualification: its own coding when it has one, else that of :func:`profession_of`."""
    for qualification in practitioner.get("qualification", []):
        for coding in (qualification.get("code") or {}).get("coding", []):
            if coding.get("system") == PROFESSION_SYSTEM and coding.get("code"):
                return str(coding["code"])
    profession = profession_of(practitioner)
    codes = {value: code for code, value in _PROFESSION_CODES.items()}
    return codes.get(profession) if profession else None


_PHYSICIAN = frozenset({Profession.PHYSICIAN})
_NURSE = frozenset({Profession.NURSE})
_MEDICAL_2018 = "avenant 6, convention médicale 2016 (JO 1er août 2018)"
_NURSES_2019 = "avenant 6, convention nationale des infirmiers (2019)"
_TELE_EXPERTISE_2022 = "avenant 9, convention médicale 2016; décret du 3 juin 2021 (télésanté)"

ACTS: dict[str, Act] = {
    a.code: a
    for a in (
        Act(
            "TCG",
            "Téléconsultation by a general practitioner",
            ActContext.TELECONSULTATION,
            _PHYSICIAN,
            date(2018, 9, 15),
            _MEDICAL_2018,
        ),
        Act(
            "TC",
            "Téléconsultation by a specialist physician",
            ActContext.TELECONSULTATION,
            _PHYSICIAN,
            date(2018, 9, 15),
            _MEDICAL_2018,
        ),
        Act(
            "TLM",
            "Pharmacist assisting a teleconsultation in the pharmacy (officine)",
            ActContext.ASSISTANCE,
            frozenset({Profession.PHARMACIST}),
            None,
            "avenant 15, convention des pharmaciens (signé le 6 décembre 2018); "
            "article V.I, convention nationale des pharmaciens du 9 mars 2022",
        ),
        Act(
            "TLS",
            "Nurse assisting a teleconsultation during care already scheduled for the patient "
            "(at home or in the nurse's office)",
            ActContext.ASSISTANCE,
            _NURSE,
            None,
            _NURSES_2019,
        ),
        Act(
            "TLL",
            "Nurse assisting a teleconsultation, outside scheduled care, in a place set up for "
            "teleconsultation (office, telemedicine room or cabin)",
            ActContext.ASSISTANCE,
            _NURSE,
            None,
            _NURSES_2019,
        ),
        Act(
            "TLD",
            "Nurse assisting a teleconsultation, outside scheduled care, at the patient's home "
            "(a visit made for it)",
            ActContext.ASSISTANCE,
            _NURSE,
            None,
            _NURSES_2019,
        ),
        Act(
            "TE2",
            "Télé-expertise answered by the requested (expert) physician",
            ActContext.TELE_EXPERTISE_EXPERT,
            _PHYSICIAN,
            date(2022, 4, 1),
            _TELE_EXPERTISE_2022,
        ),
        Act(
            "RQD",
            "Request for télé-expertise by the requesting professional",
            ActContext.TELE_EXPERTISE_REQUESTER,
            frozenset(
                {
                    Profession.PHYSICIAN,
                    Profession.NURSE,
                    Profession.PHYSIOTHERAPIST,
                    Profession.MIDWIFE,
                }
            ),
            date(2022, 4, 1),
            _TELE_EXPERTISE_2022,
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


def assistance_act(
    *, profession: Profession | str = Profession.NURSE, during_scheduled_care: bool, at_home: bool
) -> Act:
    """The assistant's code: TLM for a pharmacist (in the pharmacy); for a nurse TLS within
    scheduled care, else TLD at home or TLL on site. Other professions bill no assistance."""
    who = Profession(profession)
    if who is Profession.PHARMACIST:
        return ACTS["TLM"]
    if who is not Profession.NURSE:
        raise ValueError(f"a {who} bills no teleconsultation assistance act (nurse or pharmacist)")
    if during_scheduled_care:
        return ACTS["TLS"]
    return ACTS["TLD"] if at_home else ACTS["TLL"]
