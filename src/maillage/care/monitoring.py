"""Remote monitoring: the device measurements accepted, their identity, and alert rules.

Only Observations carrying a ``device`` go through these checks (issue 5): an unknown LOINC code
or a wrong UCUM unit is refused there, other Observations follow plain FHIR. Alert rules are
evaluated over a patient's whole series at once with pandas (time-based rolling windows), so a
worker can re-evaluate after each batch without row-by-row loops:
``rule.evaluate(observation_series(observations, rule.code, rule.unit), since=...)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

WEIGHT = "29463-7"
BLOOD_PRESSURE = "85354-9"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"
SPO2 = "59408-5"
HEART_RATE = "8867-4"
GLUCOSE = "2339-0"

UNITS: dict[str, frozenset[str]] = {
    WEIGHT: frozenset({"kg"}),
    SYSTOLIC: frozenset({"mm[Hg]"}),
    DIASTOLIC: frozenset({"mm[Hg]"}),
    SPO2: frozenset({"%"}),
    HEART_RATE: frozenset({"/min"}),
    GLUCOSE: frozenset({"mg/dL", "mmol/L"}),
}
"""UCUM units accepted per LOINC code (the blood-pressure panel carries its two components)."""

PANELS: dict[str, tuple[str, ...]] = {BLOOD_PRESSURE: (SYSTOLIC, DIASTOLIC)}
MONITORED_CODES = frozenset((UNITS.keys() - {SYSTOLIC, DIASTOLIC}) | PANELS.keys())

GLUCOSE_MG_DL_PER_MMOL_L = 18.016
"""Glucose molar mass 180.16 g/mol: 1 mmol/L = 18.016 mg/dL."""
_CONVERSIONS: dict[tuple[str, str], float] = {
    ("mmol/L", "mg/dL"): GLUCOSE_MG_DL_PER_MMOL_L,
    ("mg/dL", "mmol/L"): 1 / GLUCOSE_MG_DL_PER_MMOL_L,
}


def _loinc_code(codeable: Mapping[str, Any] | None, field: str, allowed: Iterable[str]) -> str:
    codes = [c.get("code") for c in (codeable or {}).get("coding", []) if c.get("system") == LOINC]
    known = [c for c in codes if c in allowed]
    if not codes:
        raise ValueError(f"{field}: no LOINC coding (system {LOINC})")
    if not known:
        raise ValueError(
            f"{field}: LOINC code {', '.join(map(str, codes))} is not monitored here; "
            f"accepted: {', '.join(sorted(allowed))}"
        )
    return known[0]


def _quantity(value: Any, field: str, code: str) -> float:
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: a valueQuantity is required")
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float | Decimal):
        raise ValueError(f"{field}.value: a number is required")
    if value.get("system") != UCUM:
        raise ValueError(f"{field}.system: the unit must be coded in UCUM ({UCUM})")
    if value.get("code") not in UNITS[code]:
        raise ValueError(
            f"{field}.code: unit {value.get('code')!r} is wrong for LOINC {code}; "
            f"expected {' or '.join(sorted(UNITS[code]))}"
        )
    return float(number)


def _reference(obs: Mapping[str, Any], name: str) -> str:
    reference = (obs.get(name) or {}).get("reference")
    if not reference:
        raise ValueError(f"Observation.{name}.reference is required for a device measurement")
    return str(reference)


def effective_utc(obs: Mapping[str, Any]) -> datetime:
    """Observation.effectiveDateTime as an aware UTC datetime; it must carry a time and zone."""
    raw = obs.get("effectiveDateTime")
    if not isinstance(raw, str):
        raise ValueError("Observation.effectiveDateTime is required for a device measurement")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"Observation.effectiveDateTime {raw!r} is not a date-time") from None
    if moment.tzinfo is None or "T" not in raw:
        raise ValueError(
            f"Observation.effectiveDateTime {raw!r} needs a time with a UTC offset or Z"
        )
    return moment.astimezone(UTC)


def validate_device_observation(obs: Mapping[str, Any]) -> None:
    """Refuse a device Observation monitoring cannot use; the message names the faulty field."""
    if obs.get("resourceType") != "Observation":
        raise ValueError("resourceType: an Observation is expected")
    if not obs.get("status"):
        raise ValueError("Observation.status is required")
    _reference(obs, "subject")
    _reference(obs, "device")
    effective_utc(obs)
    code = _loinc_code(obs.get("code"), "Observation.code", MONITORED_CODES)
    if code not in PANELS:
        _quantity(obs.get("valueQuantity"), "Observation.valueQuantity", code)
        return
    if "valueQuantity" in obs:
        raise ValueError(
            f"Observation.valueQuantity: panel {code} carries its values in components"
        )
    components = obs.get("component") or []
    seen: set[str] = set()
    for i, component in enumerate(components):
        where = f"Observation.component[{i}]"
        part = _loinc_code(component.get("code"), f"{where}.code", PANELS[code])
        if part in seen:
            raise ValueError(f"{where}.code: LOINC {part} appears twice")
        seen.add(part)
        _quantity(component.get("valueQuantity"), f"{where}.valueQuantity", part)
    missing = [p for p in PANELS[code] if p not in seen]
    if missing:
        raise ValueError(f"Observation.component: panel {code} lacks {', '.join(missing)}")


class MeasurementKey(NamedTuple):
    """One measurement: a re-sent copy has the same subject, device, code and instant."""

    subject: str
    device: str
    code: str
    effective: str


def measurement_key(obs: Mapping[str, Any]) -> MeasurementKey:
    """The identity of a validated device Observation, its time normalised to UTC."""
    return MeasurementKey(
        _reference(obs, "subject"),
        _reference(obs, "device"),
        _loinc_code(obs.get("code"), "Observation.code", MONITORED_CODES),
        effective_utc(obs).isoformat().replace("+00:00", "Z"),
    )


def observation_series(
    observations: Iterable[Mapping[str, Any]], code: str, unit: str
) -> pd.Series:
    """A patient's values for one LOINC code (or panel component) in ``unit``, by UTC time.

    Duplicates (same measurement key) count once; glucose in the other unit is converted.
    """
    values: dict[MeasurementKey, tuple[datetime, float]] = {}
    for obs in observations:
        key = measurement_key(obs)
        if key.code == code:
            quantity = obs["valueQuantity"]
        elif key.code in PANELS and code in PANELS[key.code]:
            quantity = next(
                c["valueQuantity"]
                for c in obs["component"]
                if any(
                    coding.get("system") == LOINC and coding.get("code") == code
                    for coding in c["code"]["coding"]
                )
            )
        else:
            continue
        factor = 1.0 if quantity["code"] == unit else _CONVERSIONS[(quantity["code"], unit)]
        values.setdefault(key, (effective_utc(obs), float(quantity["value"]) * factor))
    index = pd.DatetimeIndex([t for t, _ in values.values()], tz=UTC, name="effective")
    series = pd.Series([v for _, v in values.values()], index=index, dtype=float, name=code)
    return series.sort_index(kind="stable")


@dataclass(frozen=True)
class Evidence:
    """The measurement that fired the rule and, for a trend, the earlier one it is compared to."""

    at: datetime
    value: float
    baseline_at: datetime | None = None
    baseline_value: float | None = None


@dataclass(frozen=True)
class Evaluation:
    fired: bool
    evidence: Evidence | None = None


_TOLERANCE = 1e-9
"""Decimal values such as 82.3 − 80.3 land a hair under 2.0 in binary floating point."""


def _since(series: pd.Series, since: datetime | None) -> pd.Series:
    """The measurements a rule may look at: those at or after ``since``.

    A worker passes the time the rule's last alert for the patient was closed, so that an
    episode already handled cannot fire again; None looks at the whole series.
    """
    return series if since is None else series[series.index >= pd.Timestamp(since)]


@dataclass(frozen=True)
class ThresholdRule:
    """Fires when a value goes above ``above`` or below ``below`` (either may be None)."""

    code: str
    unit: str
    above: float | None = None
    below: float | None = None

    def evaluate(self, series: pd.Series, since: datetime | None = None) -> Evaluation:
        """Evidence is the latest breach among the measurements at or after ``since``."""
        series = _since(series, since)
        values = series.to_numpy(dtype=float)
        breach = np.zeros(len(values), dtype=bool)
        if self.above is not None:
            breach |= values > self.above
        if self.below is not None:
            breach |= values < self.below
        hits = np.flatnonzero(breach)
        if not len(hits):
            return Evaluation(False)
        last = hits[-1]
        return Evaluation(True, Evidence(series.index[last].to_pydatetime(), float(values[last])))


@dataclass(frozen=True)
class TrendRule:
    """Fires when the value changes by ``change`` or more within ``window`` (e.g. +2 kg in 3 days).

    A positive change is a rise measured from the lowest value in the window, a negative one a
    fall from the highest. Evidence is the latest measurement that fires and its baseline.
    """

    code: str
    unit: str
    change: float
    window: timedelta

    def evaluate(self, series: pd.Series, since: datetime | None = None) -> Evaluation:
        if self.change == 0:
            raise ValueError("a trend rule needs a non-zero change")
        sign = 1.0 if self.change > 0 else -1.0
        # A fall is a rise of the negated values. Measurements sharing an instant (two devices)
        # are compared both ways: the lowest is a baseline, the highest an end point.
        by_time = (_since(series, since) * sign).groupby(level=0)
        low, high = by_time.min(), by_time.max()
        reference = low.rolling(self.window, closed="both").min()
        delta = (high - reference).to_numpy(dtype=float)
        hits = np.flatnonzero(delta >= abs(self.change) - _TOLERANCE)
        if not len(hits):
            return Evaluation(False)
        last = hits[-1]
        at = high.index[last]
        baseline_at = low[(low.index >= at - self.window) & (low.index <= at)].idxmin()
        return Evaluation(
            True,
            Evidence(
                at.to_pydatetime(),
                sign * float(high.iloc[last]),
                baseline_at.to_pydatetime(),
                sign * float(reference.iloc[last]),
            ),
        )
