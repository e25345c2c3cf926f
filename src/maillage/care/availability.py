"""Recurring availability templates turned into concrete slots, correct across daylight saving.

Templates are written in local wall-clock time, as a doctor or a site states its hours
("Tuesdays 09:00-12:00"); slots are stored as UTC instants. The conversion goes through
``zoneinfo`` so that a 09:00 slot stays at 09:00 local on both sides of a DST change.

DST rule: a slot is generated only if its local start and end each denote exactly one instant
(neither in the hour skipped in spring nor in the hour repeated in autumn) and its real length
equals the template's slot length. Slots touching a skipped or repeated hour are dropped, never
shifted, so no slot is ambiguous and no two slots overlap: in Europe/Paris a night slot
01:00-02:00 is dropped on the last Sunday of March (02:00 does not exist) and of October
(02:00 happens twice). Daytime templates are never affected. Overseas zones have no DST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

SUPPORTED_TIMEZONES = frozenset(
    {
        "Europe/Paris",
        "America/Guadeloupe",
        "America/Martinique",
        "America/Cayenne",
        "Indian/Reunion",
        "Indian/Mayotte",
    }
)

Period = tuple[time, time]
Slot = tuple[datetime, datetime]


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _check_periods(periods: Sequence[Period], what: str) -> None:
    for start, end in periods:
        if start.second or start.microsecond or end.second or end.microsecond:
            raise ValueError(f"{what} {start}-{end}: times must be whole minutes")
        if start.tzinfo or end.tzinfo:
            raise ValueError(f"{what} {start}-{end}: times are local, without a time zone")
        if start >= end:
            raise ValueError(f"{what} {start}-{end}: start must be before end on the same day")
    ordered = sorted(periods)
    for (_, end), (start, _) in pairwise(ordered):
        if start < end:
            raise ValueError(f"{what} overlap around {start}")


@dataclass(frozen=True)
class AvailabilityTemplate:
    """Weekly opening hours of a practitioner or a site room, in one IANA time zone.

    ``weekly`` maps a weekday (0 = Monday … 6 = Sunday, as ``date.weekday``) to local periods;
    ``breaks`` are cut out of every day; ``valid_from``/``valid_to`` are inclusive (None: open).
    """

    weekly: Mapping[int, Sequence[Period]]
    slot_minutes: int
    timezone: str = "Europe/Paris"
    breaks: Sequence[Period] = ()
    valid_from: date | None = None
    valid_to: date | None = None
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.timezone not in SUPPORTED_TIMEZONES:
            raise ValueError(
                f"time zone {self.timezone!r} is not one of "
                f"{', '.join(sorted(SUPPORTED_TIMEZONES))}"
            )
        if self.slot_minutes <= 0:
            raise ValueError(f"slot length must be positive, got {self.slot_minutes} minutes")
        for weekday, periods in self.weekly.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}")
            _check_periods(periods, f"weekday {weekday} period")
        _check_periods(self.breaks, "break")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(f"valid_from {self.valid_from} is after valid_to {self.valid_to}")
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def local_slots(self, day: date) -> list[tuple[time, time]]:
        """The day's slots in wall-clock time: each period minus breaks, filled from its start."""
        if (self.valid_from and day < self.valid_from) or (self.valid_to and day > self.valid_to):
            return []
        slots: list[tuple[time, time]] = []
        for start, end in sorted(self.weekly.get(day.weekday(), ())):
            for lo, hi in _subtract(_minutes(start), _minutes(end), self.breaks):
                for s in range(lo, hi - self.slot_minutes + 1, self.slot_minutes):
                    e = s + self.slot_minutes
                    slots.append((time(s // 60, s % 60), time(e // 60, e % 60)))
        return slots


def _subtract(lo: int, hi: int, breaks: Iterable[Period]) -> list[tuple[int, int]]:
    """Minute ranges of [lo, hi) left once the breaks are removed."""
    pieces = [(lo, hi)]
    for b_start, b_end in breaks:
        b_lo, b_hi = _minutes(b_start), _minutes(b_end)
        pieces = [
            part
            for p_lo, p_hi in pieces
            for part in ((p_lo, min(p_hi, b_lo)), (max(p_lo, b_hi), p_hi))
            if part[0] < part[1]
        ]
    return pieces


def _unambiguous(local: datetime) -> bool:
    """True when a wall-clock time names exactly one instant (not skipped, not repeated)."""
    return local.replace(fold=0).utcoffset() == local.replace(fold=1).utcoffset()


def generate_slots(template: AvailabilityTemplate, first_day: date, last_day: date) -> list[Slot]:
    """Concrete slots ``(start_utc, end_utc)`` for the local days first_day..last_day inclusive.

    Sorted by start; see the module docstring for the DST rule.
    """
    zone = template.zone
    length = timedelta(minutes=template.slot_minutes)
    slots: list[Slot] = []
    day = first_day
    while day <= last_day:
        for start, end in template.local_slots(day):
            local_start = datetime.combine(day, start, zone)
            local_end = datetime.combine(day, end, zone)
            if not (_unambiguous(local_start) and _unambiguous(local_end)):
                continue
            start_utc, end_utc = local_start.astimezone(UTC), local_end.astimezone(UTC)
            if end_utc - start_utc == length:
                slots.append((start_utc, end_utc))
        day += timedelta(days=1)
    return slots


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def slot_resources(schedule_ref: str, slots: Iterable[Slot]) -> list[dict[str, Any]]:
    """FHIR R4 Slot resources (status ``free``) for a Schedule such as ``Schedule/abc``."""
    return [
        {
            "resourceType": "Slot",
            "schedule": {"reference": schedule_ref},
            "status": "free",
            "start": _instant(start),
            "end": _instant(end),
        }
        for start, end in slots
    ]
