"""Assurance Maladie act codes."""

from __future__ import annotations

import pytest

from maillage.care.acts import (
    ACTS,
    PROFESSION_SYSTEM,
    ActContext,
    Profession,
    act,
    assistance_act,
    check_act,
    profession_code,
)


def test_table_has_the_network_codes() -> None:
    assert set(ACTS) == {"TCG", "TC", "TLM", "TLS", "TLL", "TLD", "TE2", "RQD"}
    assert {a.code for a in ACTS.values() if a.performer == "nurse"} == {"TLS", "TLL", "TLD"}
    assert ACTS["TLM"].performer == "pharmacist"
    assert all(a.source for a in ACTS.values())


def test_rqd_is_billed_by_every_requesting_profession() -> None:
    assert ACTS["RQD"].professions == {
        Profession.PHYSICIAN,
        Profession.NURSE,
        Profession.PHYSIOTHERAPIST,
        Profession.MIDWIFE,
    }
    assert ACTS["TE2"].professions == {Profession.PHYSICIAN}


def test_codes_are_checked_against_their_part_of_the_act() -> None:
    assert check_act("TCG", ActContext.TELECONSULTATION).code == "TCG"
    assert check_act("TE2", "tele-expertise-expert").code == "TE2"
    with pytest.raises(ValueError, match="use RQD"):
        check_act("TE2", ActContext.TELE_EXPERTISE_REQUESTER)
    with pytest.raises(ValueError, match="use TC, TCG"):
        check_act("TLS", ActContext.TELECONSULTATION)
    with pytest.raises(ValueError, match="not one of the network's codes"):
        act("G")


@pytest.mark.parametrize(
    ("scheduled", "home", "code"),
    [(True, True, "TLS"), (True, False, "TLS"), (False, True, "TLD"), (False, False, "TLL")],
)
def test_nurse_assistance_code(scheduled: bool, home: bool, code: str) -> None:
    assert assistance_act(during_scheduled_care=scheduled, at_home=home).code == code


def test_pharmacist_assistance_is_tlm_and_other_professions_bill_none() -> None:
    assert (
        assistance_act(profession="pharmacist", during_scheduled_care=False, at_home=False).code
        == "TLM"
    )
    with pytest.raises(ValueError, match="nurse or pharmacist"):
        assistance_act(profession=Profession.MIDWIFE, during_scheduled_care=False, at_home=False)


def test_profession_code_from_the_coding_else_from_the_word() -> None:
    def practitioner(code: dict) -> dict:
        return {"qualification": [{"code": code}]}

    dentist = {"coding": [{"system": PROFESSION_SYSTEM, "code": "40"}]}
    assert profession_code(practitioner(dentist)) == "40"
    assert profession_code(practitioner({"text": "Infirmière"})) == "60"
    assert profession_code(practitioner({"text": "Sage-femme"})) == "50"
    assert profession_code(practitioner({"text": "Ostéopathe"})) is None
    assert profession_code({}) is None
