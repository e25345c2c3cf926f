"""GeoJSON written without a Python loop over coordinates: GEOS writes the geometries (once:
the polygons' text is cached, :mod:`maillage.outputs.geometry_text`), pandas the properties,
and only the concatenation of the two, as UTF-8 bytes, happens here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely

from maillage.outputs.geometry_text import cached_lines
from maillage.territory.communes import wkb_values


def features(geometry: list[bytes], properties: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    """Each row's GeoJSON geometry and properties (a JSON object of ``properties``' columns):
    one Feature of :func:`feature_collection` per row, ``geometry`` aligned with the rows."""
    props = properties.to_json(orient="records", lines=True, force_ascii=False)
    return list(zip(geometry, props.encode().splitlines(), strict=True))


def feature_collection(rows: list[tuple[bytes, bytes]], name: str | None = None) -> bytes:
    """A FeatureCollection of (geometry, properties) rows, with an optional ``name`` (a
    SYNTHETIC label), as the UTF-8 bytes of its file: one join, no copy per feature."""
    named = f',"name":{json.dumps(name, ensure_ascii=False)}' if name else ""
    start = ('{"type":"FeatureCollection"' + named + ',"features":[').encode()
    if not rows:
        return start + b"]}"
    pieces = [b'},{"type":"Feature","geometry":'] * (4 * len(rows))
    pieces[0] = start + b'{"type":"Feature","geometry":'
    pieces[1::4] = [geometry for geometry, _ in rows]
    pieces[2::4] = [b',"properties":'] * len(rows)
    pieces[3::4] = [props for _, props in rows]
    return b"".join([*pieces, b"}]}"])


def polygons(wkb: pd.Series) -> list[bytes]:
    """The GeoJSON geometry of each value of a WKB column (``null`` where it is missing)."""
    return cached_lines("geojson", wkb_values(wkb), "", _geojson)


def points(lon: list[float], lat: list[float]) -> list[bytes]:
    """The GeoJSON geometry of each point (WGS84), computed each time (sites change)."""
    return [text.encode() for text in _geojson(shapely.points(lon, lat))]


def _geojson(geoms: np.ndarray) -> list[str]:
    """GEOS' GeoJSON of each geometry, ``null`` for a missing one."""
    return ["null" if text is None else text for text in shapely.to_geojson(geoms).tolist()]
