"""Every monitoring rule parameter has bounds (issue 14: ``window_hours: 1e18`` was stored and
then no rule of that patient could fire)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from maillage.care.alerts import MAX_MEASURE, MAX_WINDOW_HOURS, RuleIn

WEIGHT = "29463-7"
TREND = {"patient": "Patient/p1", "kind": "trend", "code": WEIGHT, "unit": "kg", "title": "t"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("window_hours", 1e18),
        ("window_hours", MAX_WINDOW_HOURS + 1),
        ("window_hours", 0),
        ("change", 1e18),
        ("change", -MAX_MEASURE * 2),
        ("above", 1e300),
        ("below", -1e300),
    ],
)
def test_out_of_range_parameters_are_refused(field: str, value: float) -> None:
    rule = {**TREND, "change": 2.0, "window_hours": 72, field: value}
    with pytest.raises(ValidationError) as raised:
        RuleIn.model_validate(rule)
    assert field in str(raised.value)


def test_parameters_at_their_bounds_are_kept() -> None:
    rule = RuleIn.model_validate(
        {**TREND, "change": -MAX_MEASURE, "window_hours": MAX_WINDOW_HOURS, "above": MAX_MEASURE}
    )
    assert rule.window_hours == MAX_WINDOW_HOURS
