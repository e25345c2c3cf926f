"""Rule flags for remote acts on hand-built histories, exceptions included."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from maillage.care import remote_flags
from maillage.care.remote_rules import (
    NOT_EVALUABLE,
    PATHWAY_EXCEPTIONS,
    Teleconsultation,
    pathway_flag,
    remote_share_flag,
    te2_over_limit,
)

INSIDE = Teleconsultation(
    day=date(2025, 6, 10),
    birth_date=date(1950, 1, 1),
    has_medecin_traitant=True,
    by_medecin_traitant=False,
    referred_by_medecin_traitant=True,
    last_seen_in_person=date(2024, 6, 10),
)


def test_inside_the_pathway_has_no_flag() -> None:
    assert pathway_flag(INSIDE) is None
    assert (
        pathway_flag(replace(INSIDE, referred_by_medecin_traitant=False, by_medecin_traitant=True))
        is None
    )


def test_not_referred_and_not_seen_for_a_year_is_flagged_with_both_reasons() -> None:
    visit = replace(
        INSIDE, referred_by_medecin_traitant=False, last_seen_in_person=date(2024, 6, 9)
    )
    flag = pathway_flag(visit)
    assert flag is not None and "ni réalisée ni orientée" in flag and "12 mois" in flag
    assert "12 mois" in (pathway_flag(replace(INSIDE, last_seen_in_person=None)) or "")


@pytest.mark.parametrize(
    "exception",
    [
        {"has_medecin_traitant": False},
        {"birth_date": date(2009, 6, 11)},  # 16 the day after
        *({"exceptions": frozenset({code})} for code in PATHWAY_EXCEPTIONS),
    ],
)
def test_exceptions_lift_the_flag(exception: dict) -> None:
    outside = replace(INSIDE, referred_by_medecin_traitant=False, last_seen_in_person=None)
    assert pathway_flag(outside) is not None
    assert pathway_flag(replace(outside, **exception)) is None


def test_sixteen_on_the_day_is_no_longer_an_exception() -> None:
    outside = replace(INSIDE, referred_by_medecin_traitant=False, birth_date=date(2009, 6, 10))
    assert pathway_flag(outside) is not None


def test_unknown_exception_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pathway exception"):
        pathway_flag(replace(INSIDE, exceptions=frozenset({"vendredi"})))


def test_the_fifth_te2_of_a_year_for_one_patient_and_doctor_is_flagged() -> None:
    rows = [("p1", "d1", f"2025-0{m}-01") for m in (5, 1, 2, 3, 4)]  # fifth in time is May
    rows += [("p1", "d1", "2026-01-05"), ("p1", "d2", "2025-06-01"), ("p2", "d1", "2025-06-01")]
    te2 = pd.DataFrame(rows, columns=["patient", "doctor", "day"])
    assert te2_over_limit(te2).tolist() == [True, False, False, False, False, False, False, False]


@pytest.mark.parametrize(
    ("remote", "declared", "flag"),
    [
        (800, 4000, None),  # exactly 20 %
        (801, 4000, "activité à distance au-delà de 20 % de l'activité annuelle (20 %)"),
        (1500, 5000, "activité à distance au-delà de 20 % de l'activité annuelle (30 %)"),
        (10, None, NOT_EVALUABLE),
        (10, 0, NOT_EVALUABLE),
    ],
)
def test_remote_share_against_the_declared_activity(
    remote: int, declared: int | None, flag: str | None
) -> None:
    assert remote_share_flag(remote, declared) == flag


def test_an_undated_teleconsultation_counts_the_networks_day() -> None:
    # Without a start, the day is the one the caller gives (the network's, not the machine's):
    # a visit in person after it is not yet a visit.
    today = date(2027, 3, 1)
    visits = ["2027-02-27", "2027-03-02"]
    facts = remote_flags.teleconsultation({}, None, "Practitioner/d", visits, today)
    assert facts.day == today
    assert facts.last_seen_in_person == date(2027, 2, 27)
