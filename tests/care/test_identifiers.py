"""INS-NIR, RPPS and identity-status rules."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from maillage.care.identifiers import (
    INS_NIR_SYSTEM,
    RPPS_SYSTEM,
    IdentityStatus,
    ins_may_be_sent,
    nir_key,
    validate_id_nat_struct,
    validate_nir,
    validate_ror_id,
    validate_rpps,
    without_unqualified_ins,
)

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def nir_bodies(draw: st.DrawFn) -> str:
    """13-character NIR bodies: any sex digit in use, Corsican departments included."""
    sex = draw(st.sampled_from("123478"))
    year_month = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    department = draw(
        st.one_of(st.sampled_from(["2A", "2B"]), st.text("0123456789", min_size=2, max_size=2))
    )
    rest = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    return sex + year_month + department + rest


@pytest.mark.parametrize(
    ("body", "key"),
    [
        # Worked by hand: 1631278477042 = 97 × 16817303887 + 3 → key 94.
        ("1631278477042", "94"),
        # 2620875032039 = 97 × 27019330227 + 20 → key 77.
        ("2620875032039", "77"),
        # Corsica: 2A → 19, so 2530719073004 mod 97 = 54 → 43; 2B → 18 gives 27 → 70.
        ("253072A073004", "43"),
        ("253072B073004", "70"),
    ],
)
def test_nir_key_golden(body: str, key: str) -> None:
    assert nir_key(body) == key
    validate_nir(body + key)


@given(nir_bodies())
def test_generated_nirs_pass(body: str) -> None:
    validate_nir(body + nir_key(body))


@given(nir_bodies(), st.integers(min_value=0, max_value=14), digits)
def test_any_single_digit_change_fails(body: str, position: int, digit: str) -> None:
    nir = body + nir_key(body)
    assume(nir[position].isdigit() and nir[position] != digit)
    changed = nir[:position] + digit + nir[position + 1 :]
    with pytest.raises(ValueError):
        validate_nir(changed)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("16312784770429", "15 characters"),
        ("5631278477042" + "94", "sex digit '5'"),
        ("1631278477042" + "9X", "key '9X'"),
        ("1631278477042" + "95", "expected 94"),
        ("16312C8477042" + "94", "department"),
        ("1 63 12 78 477 042 94", "15 characters"),
    ],
)
def test_nir_errors_say_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_nir(value)


def test_rpps_luhn() -> None:
    validate_rpps("10001045367")  # the Annuaire Santé's 810001045367 without its 8 prefix
    with pytest.raises(ValueError, match="Luhn expects 7"):
        validate_rpps("10001045368")
    with pytest.raises(ValueError, match="use 10001045367"):
        validate_rpps("810001045367")
    with pytest.raises(ValueError, match="11 digits"):
        validate_rpps("1000104536")
    with pytest.raises(ValueError, match="digits only"):
        validate_rpps("1000104536A")


@given(st.text(alphabet="0123456789", min_size=10, max_size=10), digits)
def test_rpps_accepts_exactly_one_check_digit(body: str, last: str) -> None:
    valid = [d for d in "0123456789" if _passes(body + d)]
    assert len(valid) == 1
    assert _passes(body + last) == (last == valid[0])


def _passes(value: str) -> bool:
    try:
        validate_rpps(value)
    except ValueError:
        return False
    return True


def test_only_qualified_identity_sends_ins() -> None:
    assert [s for s in IdentityStatus if ins_may_be_sent(s)] == [IdentityStatus.QUALIFIEE]
    assert ins_may_be_sent("qualifiee")
    with pytest.raises(ValueError):
        ins_may_be_sent("qualified")


def test_unqualified_ins_is_stripped_and_other_identifiers_kept() -> None:
    local = {"system": "https://hopital.example/ipp", "value": "42"}
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": INS_NIR_SYSTEM, "value": "163127847704294"}, local],
    }
    assert without_unqualified_ins(patient, "validee")["identifier"] == [local]
    assert without_unqualified_ins(patient, "qualifiee") == patient
    assert len(patient["identifier"]) == 2  # the input is left untouched
    only_ins = {"resourceType": "Patient", "identifier": [patient["identifier"][0]]}
    assert "identifier" not in without_unqualified_ins(only_ins, IdentityStatus.RECUPEREE)


def test_systems() -> None:
    assert INS_NIR_SYSTEM == "urn:oid:1.2.250.1.213.1.4.8"
    assert RPPS_SYSTEM == "https://rpps.esante.gouv.fr"


@pytest.mark.parametrize("value", ["1010000024", "2732829320", "373282932000074", "4810001045367"])
def test_id_nat_struct_of_each_kind_is_accepted(value: str) -> None:
    # FINESS of the CH de Fleyriat; SIREN and SIRET of the INSEE's stdnum examples; RPPS rang.
    validate_id_nat_struct(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("9010000024", "must start with its kind"),
        ("1010000025", "Luhn expects 4"),
        ("2732829321", "not a valid SIREN number"),
        ("373282932000075", "not a valid SIRET number"),
        ("48100010X", "digits after its kind"),
    ],
)
def test_bad_id_nat_struct_is_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_id_nat_struct(value)


@pytest.mark.parametrize("value", ["84 1073", "", "x" * 65, "84/\n1"])
def test_bad_ror_ids_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="without spaces"):
        validate_ror_id(value)
