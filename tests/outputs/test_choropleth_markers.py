"""Markers drawn on a map after the fact land exactly where the map's own markers would."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from maillage.outputs.choropleth import MARKER_SHARE, Marker, add_markers, choropleth_svg
from maillage.territory.communes import load_communes


@pytest.fixture(scope="module")
def ardennes() -> pd.DataFrame:
    communes = load_communes()
    table = communes[communes.departement == "08"].reset_index(drop=True)
    return table.assign(access=np.linspace(0, 5, len(table)), classe="dotee")


MARKERS = [
    Marker(5.17, 49.63, "Carignan", "#636363"),
    Marker(4.52, 49.93, "Rocroi <prévu>", "#3f007d", "square"),
    Marker(-1.68, 48.11, "Rennes, hors carte"),
]


def test_markers_added_later_match_markers_drawn_with_the_map(ardennes: pd.DataFrame) -> None:
    with_markers, _legend = choropleth_svg(ardennes, markers=MARKERS)
    plain, _legend = choropleth_svg(ardennes)
    added, drawn = add_markers(plain, MARKERS)
    assert added == with_markers
    assert drawn.tolist() == [True, True, False]
    assert added.count('<circle class="site"') == 1 and added.count('<rect class="site"') == 1
    assert "<title>Rocroi &lt;prévu&gt;</title>" in added and "Rennes" not in added


def test_markers_are_placed_by_longitude_and_latitude(ardennes: pd.DataFrame) -> None:
    svg, _drawn = add_markers(choropleth_svg(ardennes)[0], MARKERS[:2])
    width, height = map(float, re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
    cx, cy = map(float, re.search(r'<circle class="site" cx="(\S+)" cy="(\S+)"', svg).groups())
    x, y, side = map(
        float, re.search(r'<rect class="site" x="(\S+)" y="(\S+)" width="(\S+)"', svg).groups()
    )
    assert 0 < cx < width and 0 < cy < height
    assert x + side / 2 < cx and y + side / 2 < cy  # Rocroi lies west and north of Carignan
    assert side == pytest.approx(2 * max(width, height) / MARKER_SHARE, abs=0.1)


def test_panels_drawn_without_an_extent_are_left_alone() -> None:
    svg, drawn = add_markers("<svg></svg>", MARKERS)
    assert svg == "<svg></svg>" and not drawn.any()
