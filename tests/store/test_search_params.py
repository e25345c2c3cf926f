"""Index extraction: date ranges at their precision and time zone, references, strings."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maillage.store.search_params import (
    PARAMS,
    PATIENT,
    extract,
    normalise_reference,
    normalise_text,
    parse_date_range,
    patients_of,
)

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2026", datetime(2025, 12, 31, 23), datetime(2026, 12, 31, 22, 59, 59, 999999)),
        ("2026-12", datetime(2026, 11, 30, 23), datetime(2026, 12, 31, 22, 59, 59, 999999)),
        # 29 March 2026 lasts 23 hours in Paris (summer time starts at 02:00).
        ("2026-03-29", datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 21, 59, 59, 999999)),
        (
            "2026-03-29T10:00:00Z",
            datetime(2026, 3, 29, 10),
            datetime(2026, 3, 29, 10, 0, 0, 999999),
        ),
        ("2026-07-01T10:00:00", datetime(2026, 7, 1, 8), datetime(2026, 7, 1, 8, 0, 0, 999999)),
    ],
)
def test_date_ranges(text: str, low: datetime, high: datetime) -> None:
    assert parse_date_range(text, PARIS) == (low, high)


def test_overseas_zone() -> None:
    low, _high = parse_date_range("2026-03-02", ZoneInfo("America/Cayenne"))
    assert low == datetime(2026, 3, 2, 3)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/123", "Patient/123"),
        ("https://example.org/fhir/Patient/123", "Patient/123"),
        ("Patient/123/_history/2", "Patient/123"),
        ("#contained", None),
        ("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0", None),
    ],
)
def test_references(reference: str, expected: str | None) -> None:
    assert normalise_reference(reference) == expected


def test_strings_ignore_case_and_accents() -> None:
    assert normalise_text("  Saint-Étienne ") == "saint-etienne"


def test_compartment_and_actors_are_indexed() -> None:
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "participant": [
            {"actor": {"reference": "Patient/p"}},
            {"actor": {"reference": "Practitioner/d"}},
        ],
    }
    rows = {(row.param, row.value) for row in extract("Appointment", "a", body, PARIS)}
    assert ("_patient", "Patient/p") in rows
    assert {("_actor", "Patient/p"), ("_actor", "Practitioner/d")} <= rows
    # ``patient`` and ``practitioner`` are answered by the ``actor`` rows (issue 23)
    assert {("actor", "Patient/p"), ("actor", "Practitioner/d")} <= rows
    assert not {param for param, _ in rows} & {"patient", "practitioner", "location"}


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # Paris ran 9 min 21 s ahead of UTC then: the first day starts before datetime.min.
        ("0001-01-01", datetime.min, datetime(1, 1, 1, 23, 50, 38, 999999)),
        ("0001", datetime.min, datetime(1, 12, 31, 23, 50, 38, 999999)),
        ("9999", datetime(9998, 12, 31, 23), datetime.max),
        ("9999-12", datetime(9999, 11, 30, 23), datetime.max),
        ("9999-12-31", datetime(9999, 12, 30, 23), datetime.max),
        ("9999-12-31T23:59:59-05:00", datetime.max, datetime.max),
        # A leap second is the last instant of its minute.
        ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999), None),
    ],
)
def test_extreme_dates_are_clamped_not_overflowing(
    text: str, low: datetime, high: datetime | None
) -> None:
    found = parse_date_range(text, PARIS)
    assert found == (low, high or low)


_REFERENCES = st.sampled_from(
    ["Patient/p1", "Patient/p2", "Practitioner/d", "Group/g", "https://x.fr/fhir/Patient/p3", ""]
)


def _at(path: list[str], leaf: object) -> object:
    """A body fragment holding ``leaf`` at ``path`` (lists on the way, as FHIR repeats)."""
    return leaf if not path else [{path[0]: _at(path[1:], leaf)}]


def _resource(kind: str, data: st.DataObject) -> dict:
    """A resource of ``kind`` with references drawn at some of its reference parameters'
    paths (``status`` may void an Appointment)."""
    body: dict = {
        "resourceType": kind,
        "status": data.draw(st.sampled_from(["booked", "cancelled"])),
    }
    for spec in PARAMS[kind]:
        for path in spec.paths:
            if spec.kind == "reference" and data.draw(st.booleans()):
                head, *rest = path.split(".")
                reference = {"reference": data.draw(_REFERENCES)}
                body[head] = _at(rest, reference) if rest else reference
    return body


@pytest.mark.parametrize("kind", sorted(PARAMS))
@given(data=st.data())
def test_patients_of_are_the_compartment_rows(kind: str, data: st.DataObject) -> None:
    """The booking's shortcut finds the same patients as the full index extraction."""
    body = _resource(kind, data)
    rows = extract(kind, "r1", body, PARIS)
    assert patients_of(kind, "r1", body, PARIS) == {
        row.value for row in rows if row.param == PATIENT and row.value
    }
