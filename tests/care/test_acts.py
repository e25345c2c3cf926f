"""Assurance Maladie act codes."""

from __future__ import annotations

import pytest

from maillage.care.acts import ACTS, ActContext, act, assistance_act, check_act


def test_table_has_the_network_codes() -> None:
    assert set(ACTS) == {"TCG", "TC", "TLS", "TLL", "TLD", "TE2", "RQD"}
    assert {a.code for a in ACTS.values() if a.performer == "nurse"} == {"TLS", "TLL", "TLD"}


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
