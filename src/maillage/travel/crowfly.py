"""The built-in travel model: straight-line distance × circuity / speed, zone by zone.

Why a crow-fly model: it needs no road network, runs nationally in well under a second, and
with a calibrated circuity (detour index) and speed it ranks communes like road times do.
Users with real road times give a matrix file or an OSRM server instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from maillage.travel.model import Places, TravelPairs

#: Detour index: road distance / straight-line distance. Ballou, Rahardja & Sakai (2002),
#: "Selected country circuity factors for road travel distance estimation", Transportation
#: Research Part A 36(9), report 1.2–1.4 for European countries; 1.3 is their middle value.
DEFAULT_CIRCUITY = 1.3

#: Mean door-to-door road speed (km/h) of a short trip between communes, mixing departmental
#: roads with village crossings. Chosen so that the national problem (every commune to every
#: commune of mainland France and overseas, 20-minute cut-off) has about 2 M pairs, the size
#: the project's issue #2 states for the national run (see bench/bench_access.py for the count).
DEFAULT_SPEED_KMH = 60.0

#: Mean distance from a uniformly random point of a disk of radius r to its centre is 2r/3:
#: the trip of a resident to a practice in the own commune, the commune taken as a disk.
MEAN_DISK_DISTANCE = 2.0 / 3.0


@dataclass(frozen=True)
class CrowFly:
    """Travel minutes = projected straight-line metres × ``circuity`` / ``speed_kmh``.

    Places of different ``zone`` (projection, hence territory) never reach each other. A
    destination lying in the origin's own commune (equal ``code_commune``) is reached in the
    *intra-commune* time: ``circuity × (2/3)·sqrt(area/π) / speed``, the mean distance from a
    point of a disk of the commune's area to its centre — so that i→i is neither free nor
    dependent on where the representative point happens to sit.
    """

    speed_kmh: float = DEFAULT_SPEED_KMH
    circuity: float = DEFAULT_CIRCUITY

    def __post_init__(self) -> None:
        if not (self.speed_kmh > 0 and self.circuity >= 1):
            raise ValueError(
                f"crow-fly demande speed_kmh > 0 et circuity >= 1, "
                f"reçu {self.speed_kmh} et {self.circuity}"
            )

    @property
    def metres_per_minute(self) -> float:
        """Straight-line metres covered per minute once the detour is paid."""
        return self.speed_kmh * 1000.0 / 60.0 / self.circuity

    def minutes(self, metres: np.ndarray) -> np.ndarray:
        """Travel minutes for straight-line distances in metres."""
        return np.asarray(metres, dtype=float) / self.metres_per_minute

    def intra_minutes(self, area_km2: np.ndarray) -> np.ndarray:
        """Mean travel minutes within a commune of ``area_km2`` (NaN where the area is unknown)."""
        radius_m = np.sqrt(np.asarray(area_km2, dtype=float) * 1e6 / np.pi)
        return self.minutes(MEAN_DISK_DISTANCE * radius_m)

    def pairs(self, origins: Places, destinations: Places, cutoff_minutes: float) -> TravelPairs:
        """All pairs within ``cutoff_minutes`` (inclusive)."""
        for places in (origins, destinations):
            if not (np.isfinite(places.x).all() and np.isfinite(places.y).all()):
                raise ValueError(
                    "crow-fly demande des x/y projetés pour chaque lieu ; "
                    "retirer les lieux sans position"
                )
        radius_m = cutoff_minutes * self.metres_per_minute
        o, d, metres = _pairs_within(origins, destinations, radius_m)
        o_commune, d_commune = _commune_numbers(origins, destinations)
        across = o_commune[o] != d_commune[d]
        inside = _same_commune(o_commune, d_commune)
        origin = np.concatenate([o[across], inside[:, 0]])
        destination = np.concatenate([d[across], inside[:, 1]])
        minutes = np.concatenate(
            [self.minutes(metres[across]), self._inside(origins, destinations, inside)]
        )
        return TravelPairs.kept(
            len(origins), len(destinations), origin, destination, minutes, cutoff_minutes
        )

    def _inside(self, origins: Places, destinations: Places, pairs: np.ndarray) -> np.ndarray:
        """Intra-commune minutes, or the straight line where neither place knows its area."""
        area = intra_area(origins, destinations, pairs[:, 0], pairs[:, 1])
        straight = self.minutes(_distance(origins, destinations, pairs))
        return np.where(np.isfinite(area), self.intra_minutes(area), straight)


def intra_area(
    origins: Places, destinations: Places, origin: np.ndarray, destination: np.ndarray
) -> np.ndarray:
    """Area (km²) of the commune a same-commune pair lies in: the origin's, else the
    destination's (a site has none), NaN when neither knows it."""
    area = origins.area_km2[origin].astype(float)
    return np.where(np.isfinite(area), area, destinations.area_km2[destination])


def _distance(origins: Places, destinations: Places, pairs: np.ndarray) -> np.ndarray:
    """Straight-line metres of each (origin, destination) position pair."""
    o, d = pairs[:, 0], pairs[:, 1]
    return np.hypot(origins.x[o] - destinations.x[d], origins.y[o] - destinations.y[d])


def _pairs_within(
    origins: Places, destinations: Places, radius_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin, destination) positions closer than ``radius_m`` and their distance in metres,
    never across zones."""
    from scipy.spatial import cKDTree  # scipy.spatial: only when straight lines are searched

    found = [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))]
    for zone in np.intersect1d(origins.zone, destinations.zone):
        o = np.flatnonzero(origins.zone == zone)
        d = np.flatnonzero(destinations.zone == zone)
        o_tree = cKDTree(np.column_stack([origins.x[o], origins.y[o]]))
        d_tree = cKDTree(np.column_stack([destinations.x[d], destinations.y[d]]))
        near = o_tree.sparse_distance_matrix(d_tree, radius_m, output_type="ndarray")
        found.append((o[near["i"]], d[near["j"]], near["v"]))
    o, d, metres = (np.concatenate(column) for column in zip(*found, strict=True))
    return o, d, metres


def _commune_numbers(origins: Places, destinations: Places) -> tuple[np.ndarray, np.ndarray]:
    """``code_commune`` of both sides as shared integers: cheap to compare over many pairs."""
    _, numbers = np.unique(
        np.concatenate([origins.code_commune, destinations.code_commune]), return_inverse=True
    )
    return numbers[: len(origins)], numbers[len(origins) :]


def _same_commune(o_commune: np.ndarray, d_commune: np.ndarray) -> np.ndarray:
    """(origin, destination) positions of every pair sharing a commune."""
    joined = pd.merge(
        pd.DataFrame({"c": o_commune, "o": np.arange(len(o_commune))}),
        pd.DataFrame({"c": d_commune, "d": np.arange(len(d_commune))}),
        on="c",
    )
    return joined[["o", "d"]].to_numpy(dtype=np.int64).reshape(-1, 2)
