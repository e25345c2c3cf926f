"""What a reader sees of an access value: French numbers, units and zoning thresholds."""

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from maillage.access.measure import measure_of
from maillage.french_format import number, numbers_column, percent


def test_gp_apl_reads_with_unit_and_threshold():
    measure = measure_of("apl", "generaliste", (2.5, 4.0))
    text = measure.describe(pd.Series([1.34, np.nan]), pd.Series(["sous-dotee", ""]))
    assert text.tolist() == [
        "APL 1,3 consultation/an/habitant — sous-dotée (≤ 2,5)",
        "APL sans donnée — non classée",
    ]
    assert measure.class_labels()["intermediaire"] == "intermédiaire (2,5 – 4]"


def test_floating_catchment_reads_per_100000_inhabitants():
    measure = measure_of("e2sfca", "infirmier", (0.0005, 0.001))
    assert measure.value(0.00123) == "123 ETP pour 100 000 habitants"
    assert measure.class_labels()["dotee"] == "dotée (> 100)"
    # the GP constants never label another profession's APL
    assert measure_of("apl", "infirmier", None).unit == "ETP pour 100 000 habitants"


def test_french_numbers_through_babel():
    assert number(1234567.891) == "1\u202f234\u202f567,89"
    assert number(-0.75, 1, signed=True) == "-0,8" and number(3, 1, signed=True) == "+3"
    assert percent(0.2864) == "28,6\u00a0%"


@given(st.lists(st.floats(-1e7, 1e7) | st.just(np.nan), max_size=20), st.integers(0, 3))
def test_column_formatting_agrees_with_babel_for_each_value(values, digits):
    column = numbers_column(pd.Series(values, dtype=float), digits)
    for value, text in zip(values, column, strict=True):
        if np.isnan(value):
            assert text == ""
        else:
            # Python rounds half to even on the binary value, as Babel does on its decimal
            expected = number(float(f"{value:.{digits}f}"), digits)
            assert text == ("0" if expected == "-0" else expected)
