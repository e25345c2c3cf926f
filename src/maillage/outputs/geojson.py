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


def features(geometry: list[bytes], properties: pd.DataFrame) -> list[bytes]:
    """One GeoJSON Feature per row of ``properties``, ``geometry`` aligned with its rows."""
    props = properties.to_json(orient="records", lines=True, force_ascii=False)
    return [
        b'{"type":"Feature","geometry":' + g + b',"properties":' + p + b"}"
        for g, p in zip(geometry, props.encode().splitlines(), strict=True)
    ]


def feature_collection(rows: list[bytes], name: str | None = None) -> bytes:
    """A FeatureCollection of features, with an optional ``name`` (a SYNTHETIC label), as the
    UTF-8 bytes of its file."""
    named = f',"name":{json.dumps(name, ensure_ascii=False)}' if name else ""
    start = ('{"type":"FeatureCollection"' + named + ',"features":[').encode()
    return start + b",".join(rows) + b"]}"


def polygons(wkb: pd.Series) -> list[bytes]:
    """The GeoJSON geometry of each value of a WKB column (``null`` where it is missing)."""
    return cached_lines("geojson", wkb_values(wkb), "", _geojson)


def points(lon: list[float], lat: list[float]) -> list[bytes]:
    """The GeoJSON geometry of each point (WGS84), computed each time (sites change)."""
    return [text.encode() for text in _geojson(shapely.points(lon, lat))]


def _geojson(geoms: np.ndarray) -> list[str]:
    """GEOS' GeoJSON of each geometry, ``null`` for a missing one."""
    return ["null" if text is None else text for text in shapely.to_geojson(geoms).tolist()]
