"""Slot generation from weekly templates, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.slot import Slot
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.care.availability import (
    SUPPORTED_TIMEZONES,
    AvailabilityTemplate,
    generate_slots,
    slot_resources,
)

PARIS = ZoneInfo("Europe/Paris")
SPRING_2026 = date(2026, 3, 29)  # last Sunday of March: 02:00 → 03:00
AUTUMN_2026 = date(2026, 10, 25)  # last Sunday of October: 03:00 → 02:00
EVERY_DAY_MORNING = {d: [(time(9), time(12))] for d in range(7)}


def test_nine_oclock_stays_nine_oclock_across_both_changes() -> None:
    template = AvailabilityTemplate(EVERY_DAY_MORNING, slot_minutes=30)
    for change in (SPRING_2026, AUTUMN_2026):
        slots = generate_slots(template, change - timedelta(days=1), change + timedelta(days=1))
        firsts = [s for s, _ in slots if s.astimezone(PARIS).time() == time(9)]
        assert [s.astimezone(PARIS).date() for s in firsts] == [
            change - timedelta(days=1),
            change,
            change + timedelta(days=1),
        ]
        assert len(slots) == 18
    # In UTC the first slot moves by an hour: 08:00Z in winter, 07:00Z in summer.
    before, after = (
        generate_slots(template, day, day)[0][0] for day in (date(2026, 3, 28), SPRING_2026)
    )
    assert (before.hour, after.hour) == (8, 7)


def test_night_slots_in_skipped_and_repeated_hours_are_dropped() -> None:
    night = AvailabilityTemplate({6: [(time(1), time(4))]}, slot_minutes=60)
    spring = [s.astimezone(PARIS).hour for s, _ in generate_slots(night, SPRING_2026, SPRING_2026)]
    # 02:00 does not exist that night: 01:00-02:00 ends and 02:00-03:00 starts in the gap.
    assert spring == [3]
    autumn = [s.astimezone(PARIS).hour for s, _ in generate_slots(night, AUTUMN_2026, AUTUMN_2026)]
    # 02:00-02:59 happens twice: 01:00-02:00 ends and 02:00-03:00 starts in the repeated hour.
    assert autumn == [3]
    # The neighbouring Sundays keep their three night slots.
    assert len(generate_slots(night, date(2026, 4, 5), date(2026, 4, 5))) == 3


def test_breaks_and_validity_dates() -> None:
    template = AvailabilityTemplate(
        {0: [(time(8), time(12))]},
        slot_minutes=30,
        breaks=[(time(10), time(10, 15))],
        valid_from=date(2026, 6, 8),
        valid_to=date(2026, 6, 15),
    )
    slots = generate_slots(template, date(2026, 6, 1), date(2026, 6, 30))
    local = [(s.astimezone(PARIS), e.astimezone(PARIS)) for s, e in slots]
    assert sorted({s.date() for s, _ in local}) == [date(2026, 6, 8), date(2026, 6, 15)]
    first_day = [s.strftime("%H:%M") for s, _ in local if s.date() == date(2026, 6, 8)]
    assert first_day == ["08:00", "08:30", "09:00", "09:30", "10:15", "10:45", "11:15"]


def test_overseas_zone_has_no_change() -> None:
    template = AvailabilityTemplate(EVERY_DAY_MORNING, 60, timezone="America/Cayenne")
    slots = generate_slots(template, date(2026, 3, 28), date(2026, 3, 30))
    assert {s.hour for s, _ in slots} == {12, 13, 14}  # UTC−3 all year round


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"timezone": "Europe/London"}, "time zone"),
        ({"slot_minutes": 0}, "positive"),
        ({"weekly": {7: [(time(9), time(10))]}}, "weekday"),
        ({"weekly": {0: [(time(10), time(9))]}}, "before end"),
        ({"weekly": {0: [(time(9), time(11)), (time(10), time(12))]}}, "overlap"),
        ({"valid_from": date(2026, 2, 1), "valid_to": date(2026, 1, 1)}, "after"),
    ],
)
def test_invalid_templates(kwargs: dict, reason: str) -> None:
    arguments = {"weekly": EVERY_DAY_MORNING, "slot_minutes": 30} | kwargs
    with pytest.raises(ValueError, match=reason):
        AvailabilityTemplate(**arguments)


minutes = st.integers(min_value=0, max_value=23 * 60 + 59)


@st.composite
def templates(draw: st.DrawFn) -> AvailabilityTemplate:
    """Any day-time template: up to three disjoint periods per weekday, optional break."""
    weekly = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        cuts = sorted(draw(st.sets(minutes, min_size=2, max_size=6)))
        pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
        weekly[weekday] = [(time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in pairs]
    breaks = []
    if draw(st.booleans()):
        a, b = sorted(draw(st.sets(minutes, min_size=2, max_size=2)))
        breaks = [(time(a // 60, a % 60), time(b // 60, b % 60))]
    return AvailabilityTemplate(
        weekly,
        slot_minutes=draw(st.sampled_from([10, 15, 20, 30, 45, 60])),
        timezone=draw(st.sampled_from(sorted(SUPPORTED_TIMEZONES))),
        breaks=breaks,
    )


def _touches_change(template: AvailabilityTemplate, day: date) -> bool:
    start = datetime.combine(day, time(0), template.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), template.zone)
    return start.utcoffset() != end.utcoffset()


@settings(max_examples=60, deadline=None)
@given(templates(), st.sampled_from([SPRING_2026, AUTUMN_2026, date(2026, 7, 12)]))
def test_slot_properties_around_changes(template: AvailabilityTemplate, centre: date) -> None:
    first, last = centre - timedelta(days=7), centre + timedelta(days=7)
    slots = generate_slots(template, first, last)
    length = timedelta(minutes=template.slot_minutes)
    for (_, end), (start, _) in pairwise(slots):
        assert end <= start, "slots overlap or are out of order"
    per_day: dict[date, int] = {}
    for start, end in slots:
        assert end - start == length
        local_start, local_end = start.astimezone(template.zone), end.astimezone(template.zone)
        day = local_start.date()
        assert any(
            a <= local_start.time() and local_end.time() <= b
            for a, b in template.weekly[day.weekday()]
        ), "slot outside the template's hours"
        assert not any(
            local_start.time() < b and a < local_end.time() for a, b in template.breaks
        ), "slot inside a break"
        per_day[day] = per_day.get(day, 0) + 1
    # Same weekday, same number of slots in local time, except on a DST change day where
    # only slots touching the skipped or repeated hour may be missing.
    day = first
    while day <= last:
        expected = len(template.local_slots(day))
        got = per_day.get(day, 0)
        if _touches_change(template, day):
            assert got <= expected
        else:
            assert got == expected
        day += timedelta(days=1)


def test_slot_resources_are_valid_fhir() -> None:
    template = AvailabilityTemplate({0: [(time(9), time(10))]}, slot_minutes=30)
    slots = generate_slots(template, date(2026, 1, 5), date(2026, 1, 5))
    resources = slot_resources("Schedule/dr-martin", slots)
    assert [(r["start"], r["end"]) for r in resources] == [
        ("2026-01-05T08:00:00Z", "2026-01-05T08:30:00Z"),
        ("2026-01-05T08:30:00Z", "2026-01-05T09:00:00Z"),
    ]
    models = [Slot.model_validate(r) for r in resources]
    assert [m.start for m in models] == [
        datetime(2026, 1, 5, 8, tzinfo=UTC),
        datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
    ]
    assert {m.status for m in models} == {"free"}
    assert {m.schedule.reference for m in models} == {"Schedule/dr-martin"}
