"""Device Observations: validation, identity, and alert rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fhir.resources.R4B.observation import Observation
from hypothesis import given, settings
from hypothesis import strategies as st

from maillage.care.monitoring import (
    BLOOD_PRESSURE,
    DIASTOLIC,
    GLUCOSE,
    HEART_RATE,
    LOINC,
    SPO2,
    SYSTOLIC,
    UCUM,
    UNITS,
    WEIGHT,
    ThresholdRule,
    TrendRule,
    measurement_key,
    observation_series,
    validate_device_observation,
)

T0 = datetime(2026, 2, 2, 7, 30, tzinfo=UTC)


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def measurement(
    code: str, value: float, unit: str, at: datetime | str = T0, **extra: Any
) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "device": {"reference": "Device/scale-7"},
        "effectiveDateTime": at if isinstance(at, str) else at.isoformat(),
        "valueQuantity": _quantity(value, unit),
    }
    return obs | extra


def blood_pressure(systolic: float, diastolic: float, at: datetime = T0) -> dict[str, Any]:
    obs = measurement(BLOOD_PRESSURE, 0, "mm[Hg]", at)
    del obs["valueQuantity"]
    obs["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": c}]},
            "valueQuantity": _quantity(v, "mm[Hg]"),
        }
        for c, v in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic))
    ]
    return obs


SINGLE = [
    (WEIGHT, "kg"),
    (SPO2, "%"),
    (HEART_RATE, "/min"),
    (GLUCOSE, "mg/dL"),
    (GLUCOSE, "mmol/L"),
]


@given(
    st.sampled_from(SINGLE),
    st.floats(min_value=0, max_value=500, allow_nan=False),
    st.datetimes(timezones=st.sampled_from([UTC])),
)
@settings(max_examples=50)
def test_generated_measurements_are_valid_fhir_and_accepted(
    code_unit: tuple[str, str], value: float, at: datetime
) -> None:
    obs = measurement(*code_unit[:1], value, code_unit[1], at)
    validate_device_observation(obs)
    Observation.model_validate(obs)


@given(
    st.sampled_from(SINGLE), st.sampled_from(["g", "[lb_av]", "mm[Hg]", "%", "/min", "kg", "Cel"])
)
def test_any_other_unit_is_refused(code_unit: tuple[str, str], unit: str) -> None:
    code = code_unit[0]
    obs = measurement(code, 70, unit)
    if unit in UNITS[code]:
        validate_device_observation(obs)
    else:
        with pytest.raises(ValueError, match=r"Observation\.valueQuantity\.code"):
            validate_device_observation(obs)


def test_blood_pressure_panel() -> None:
    obs = blood_pressure(142, 91)
    validate_device_observation(obs)
    Observation.model_validate(obs)
    obs["component"].pop()
    with pytest.raises(ValueError, match=f"lacks {DIASTOLIC}"):
        validate_device_observation(obs)
    wrong = blood_pressure(142, 91)
    wrong["component"][1]["valueQuantity"]["code"] = "kPa"
    with pytest.raises(ValueError, match=r"component\[1\]\.valueQuantity\.code"):
        validate_device_observation(wrong)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": {"coding": [{"system": LOINC, "code": "8310-5"}]}}, "Observation.code"),
        ({"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}}, "no LOINC"),
        ({"device": None}, "Observation.device"),
        ({"subject": {}}, "Observation.subject"),
        ({"effectiveDateTime": "2026-02-02"}, "Observation.effectiveDateTime"),
        ({"effectiveDateTime": "2026-02-02T08:30:00"}, "Observation.effectiveDateTime"),
        ({"valueQuantity": {"value": "80", "system": UCUM, "code": "kg"}}, "valueQuantity.value"),
        ({"valueQuantity": {"value": 80, "code": "kg"}}, "valueQuantity.system"),
        ({"status": None}, "Observation.status"),
    ],
)
def test_bad_measurements_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        validate_device_observation(measurement(WEIGHT, 80, "kg") | change)


def test_identity_ignores_the_offset_the_time_was_written_in() -> None:
    utc = measurement(WEIGHT, 80, "kg", "2026-02-02T07:30:00Z")
    paris = measurement(WEIGHT, 80, "kg", "2026-02-02T08:30:00+01:00")
    assert measurement_key(utc) == measurement_key(paris)
    assert measurement_key(utc).effective == "2026-02-02T07:30:00Z"
    other_device = paris | {"device": {"reference": "Device/scale-8"}}
    assert measurement_key(other_device) != measurement_key(utc)


def test_series_drops_resent_copies_and_converts_glucose() -> None:
    weights = [measurement(WEIGHT, 80, "kg")] * 3 + [
        measurement(WEIGHT, 81, "kg", T0 + timedelta(1))
    ]
    series = observation_series(weights, WEIGHT, "kg")
    assert series.tolist() == [80.0, 81.0]
    glucose = [
        measurement(GLUCOSE, 5.5, "mmol/L"),
        measurement(GLUCOSE, 110, "mg/dL", T0 + timedelta(hours=1)),
    ]
    assert observation_series(glucose, GLUCOSE, "mg/dL").round(2).tolist() == [99.09, 110.0]
    pressures = [blood_pressure(150, 95), blood_pressure(130, 85, T0 + timedelta(1))]
    assert observation_series(pressures, DIASTOLIC, "mm[Hg]").tolist() == [95.0, 85.0]


HEART_FAILURE = TrendRule(WEIGHT, "kg", change=2.0, window=timedelta(days=3))


def test_heart_failure_golden_case_fires_once() -> None:
    """Same weight three times (re-sent), then +2.5 kg over two days: one alert."""
    received = [measurement(WEIGHT, 80.0, "kg", T0)] * 3 + [
        measurement(WEIGHT, 81.2, "kg", T0 + timedelta(days=1)),
        measurement(WEIGHT, 82.5, "kg", T0 + timedelta(days=2)),
    ]
    firing = []
    for n in range(1, len(received) + 1):
        series = observation_series(received[:n], WEIGHT, "kg")
        firing.append(HEART_FAILURE.evaluate(series).fired)
    assert firing == [False, False, False, False, True]
    evidence = HEART_FAILURE.evaluate(observation_series(received, WEIGHT, "kg")).evidence
    assert evidence is not None
    assert (evidence.baseline_at, evidence.baseline_value) == (T0, 80.0)
    assert (evidence.at, evidence.value) == (T0 + timedelta(days=2), 82.5)


def test_slow_gain_and_old_episodes_do_not_fire() -> None:
    slow = pd.Series(
        80 + 0.25 * np.arange(11.0), index=pd.date_range(T0, periods=11, freq="D"), dtype=float
    )
    assert not HEART_FAILURE.evaluate(slow).fired  # +2.5 kg, but over ten days
    episode = pd.Series(
        [80.0, 82.5, 82.4, 82.6], index=pd.date_range(T0, periods=4, freq="D"), dtype=float
    )
    assert HEART_FAILURE.evaluate(episode).fired
    closed_at = T0 + timedelta(days=1, hours=12)
    assert not HEART_FAILURE.evaluate(episode, since=closed_at).fired


def test_exactly_the_window_and_a_fall() -> None:
    index = pd.DatetimeIndex([T0, T0 + timedelta(days=3), T0 + timedelta(days=3, seconds=1)])
    assert HEART_FAILURE.evaluate(pd.Series([80.0, 82.0, 80.5], index=index)).fired
    later = pd.DatetimeIndex([T0, T0 + timedelta(days=3, seconds=1)])
    assert not HEART_FAILURE.evaluate(pd.Series([80.0, 82.0], index=later)).fired
    loss = TrendRule(WEIGHT, "kg", change=-3.0, window=timedelta(days=7))
    result = loss.evaluate(pd.Series([70.0, 66.9], index=index[:2]))
    assert result.fired and result.evidence and result.evidence.baseline_value == 70.0


def test_threshold_rule() -> None:
    rule = ThresholdRule(SPO2, "%", below=90)
    series = pd.Series([97.0, 88.0, 95.0], index=pd.date_range(T0, periods=3, freq="h"))
    result = rule.evaluate(series)
    assert result.fired and result.evidence and result.evidence.value == 88.0
    assert not rule.evaluate(series, since=T0 + timedelta(hours=2)).fired
    high = ThresholdRule(SYSTOLIC, "mm[Hg]", above=180)
    assert not high.evaluate(pd.Series([180.0], index=[T0])).fired


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20 * 24), st.floats(60, 90, allow_nan=False)),
        min_size=1,
        max_size=25,
    )
)
def test_trend_matches_brute_force(points: list[tuple[int, float]]) -> None:
    """The vectorised window agrees with checking every ordered pair of measurements."""
    index = pd.DatetimeIndex([T0 + timedelta(hours=h) for h, _ in points])
    series = pd.Series([v for _, v in points], index=index, dtype=float).sort_index(kind="stable")
    times, values = series.index, series.to_numpy()
    brute = any(
        times[i] <= times[j] <= times[i] + timedelta(days=3) and values[j] - values[i] >= 2.0 - 1e-9
        for j in range(len(values))
        for i in range(len(values))
    )
    assert HEART_FAILURE.evaluate(series).fired == brute


def test_decimal_values_from_a_decimal_preserving_json_parser() -> None:
    obs = measurement(WEIGHT, 80, "kg")
    obs["valueQuantity"]["value"] = Decimal("80.35")
    validate_device_observation(obs)
    assert observation_series([obs], WEIGHT, "kg").tolist() == [80.35]
