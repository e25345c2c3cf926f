"""Synthetic places for travel tests: communes on a plane, in one or more zones."""

from __future__ import annotations

import numpy as np

from maillage.travel.model import Places


def make_places(
    x, y, *, codes=None, zone=None, area_km2=None, ids=None, lon=None, lat=None
) -> Places:
    x = np.asarray(x, dtype=float)
    n = len(x)
    codes = np.asarray(codes if codes is not None else [f"{55000 + i}" for i in range(n)])
    return Places(
        ids=np.asarray(ids if ids is not None else codes),
        code_commune=codes,
        x=x,
        y=np.asarray(y, dtype=float),
        zone=np.asarray(zone if zone is not None else [2154] * n),
        lon=np.asarray(lon if lon is not None else 5.0 + x / 1e5),
        lat=np.asarray(lat if lat is not None else 48.0 + np.asarray(y) / 1e5),
        area_km2=np.asarray(area_km2 if area_km2 is not None else [10.0] * n, dtype=float),
    )
