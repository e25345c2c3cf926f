"""Independent transverse-Mercator forward formulas (Krüger series, Karney 2011, eq. 35–36).

Used only to compute expected projected coordinates without pyproj, so that tests of the loaders'
pyproj conversions compare against an independent derivation.
"""

from __future__ import annotations

import math

GRS80_A = 6378137.0
GRS80_F = 1 / 298.257222101


def utm_forward(lon: float, lat: float, zone: int, south: bool) -> tuple[float, float]:
    """UTM easting and northing in metres on the GRS80 ellipsoid (sub-millimetre series)."""
    n = GRS80_F / (2 - GRS80_F)
    big_a = GRS80_A / (1 + n) * (1 + n**2 / 4 + n**4 / 64)
    alpha = (
        n / 2 - 2 * n**2 / 3 + 5 * n**3 / 16,
        13 * n**2 / 48 - 3 * n**3 / 5,
        61 * n**3 / 240,
    )
    phi = math.radians(lat)
    dlam = math.radians(lon - (zone * 6 - 183))
    e = 2 * math.sqrt(n) / (1 + n)
    t = math.sinh(math.atanh(math.sin(phi)) - e * math.atanh(e * math.sin(phi)))
    xi = math.atan2(t, math.cos(dlam))
    eta = math.atanh(math.sin(dlam) / math.sqrt(1 + t * t))
    k0 = 0.9996
    easting = eta + sum(
        a * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, a in enumerate(alpha, 1)
    )
    northing = xi + sum(
        a * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, a in enumerate(alpha, 1)
    )
    return 500000 + k0 * big_a * easting, (10_000_000 if south else 0) + k0 * big_a * northing
