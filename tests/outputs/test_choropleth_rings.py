"""Map paths draw enclaves as holes under the nonzero fill rule (the one WeasyPrint applies),
in path data that browsers read to the end."""

from __future__ import annotations

import re

import numpy as np
import shapely

from maillage.outputs.choropleth import svg_paths

#: Both rings listed clockwise: only orientation by ``svg_paths`` makes the hole wind back.
SQUARE = [(0, 0), (0, 100), (100, 100), (100, 0), (0, 0)]
HOLE = [(25, 25), (25, 75), (75, 75), (75, 25), (25, 25)]
#: Closed rings of implicit line-tos, nothing between them (Chromium stops reading at a comma).
RINGS = re.compile(r"(M[-0-9. ]+Z)+")


def ring_areas(path: str) -> list[float]:
    """Signed (shoelace) area of each ``M … Z`` ring of an SVG path."""
    assert RINGS.fullmatch(path), path
    areas = []
    for ring in path.split("M")[1:]:
        xy = np.array(ring.rstrip("Z").split(), dtype=float).reshape(-1, 2)
        x, y = xy.T
        areas.append(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)
    return areas


def test_a_hole_winds_opposite_to_its_exterior() -> None:
    polygon = shapely.Polygon(SQUARE, [HOLE])
    outer, hole = ring_areas(svg_paths(np.array([polygon]))[0])
    assert abs(outer) == 100 * 100 and abs(hole) == 50 * 50
    assert np.sign(outer) == -np.sign(hole)


def test_every_part_of_a_multipolygon_is_oriented_alike() -> None:
    shifted = [(x + 200, y) for x, y in SQUARE[::-1]]
    parts = shapely.MultiPolygon([shapely.Polygon(SQUARE, [HOLE]), shapely.Polygon(shifted)])
    outer, hole, other = ring_areas(svg_paths(np.array([parts, None]))[0])
    assert np.sign(outer) == np.sign(other) == -np.sign(hole)
    assert svg_paths(np.array([None]))[0] == "EMPTY"
