"""GeoJSON written without a Python loop over features: GEOS writes the geometries, pandas
the properties, and only the concatenation of the two strings happens here."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely


def features(geoms: np.ndarray, properties: pd.DataFrame) -> pd.Series:
    """One GeoJSON Feature string per row of ``properties`` (``geoms`` aligned, None allowed)."""
    geometry = pd.Series(shapely.to_geojson(geoms), index=properties.index).fillna("null")
    props = properties.to_json(orient="records", lines=True, force_ascii=False)
    return (
        '{"type":"Feature","geometry":'
        + geometry
        + ',"properties":'
        + pd.Series(props.splitlines(), index=properties.index)
        + "}"
    )


def feature_collection(rows: pd.Series, name: str | None = None) -> str:
    """A FeatureCollection of feature strings, with an optional ``name`` (a SYNTHETIC label)."""
    named = f',"name":{json.dumps(name, ensure_ascii=False)}' if name else ""
    return '{"type":"FeatureCollection"' + named + ',"features":[' + ",".join(rows.tolist()) + "]}"


def polygons(wkb: pd.Series) -> np.ndarray:
    """Shapely geometries from a WKB column whose missing values are NaN or None."""
    return shapely.from_wkb(wkb.where(wkb.notna(), None).to_numpy())
