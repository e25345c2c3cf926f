"""A client of an OSRM server's ``table`` service, for users who run one.

The API (https://project-osrm.org/docs/v5.24.0/api/#table-service):
``GET {url}/table/v1/{profile}/{lon,lat;...}?sources=..&destinations=..&annotations=duration``
answers ``{"code": "Ok", "durations": [[seconds | null, ...], ...]}``. A server refuses tables
larger than its ``--max-table-size`` (100 locations by default) and very long URLs, so we ask
in chunks, and only for destinations a road trip could reach (straight line at 130 km/h).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import numpy as np
from scipy.spatial import cKDTree

from maillage.travel.crowfly import CrowFly, intra_area
from maillage.travel.model import MAX_ROAD_SPEED_KMH, Places, TravelPairs


class OsrmError(RuntimeError):
    """The OSRM server refused or failed a request; the message says which and why."""


@dataclass(frozen=True)
class OsrmTable:
    """Road times from an OSRM server; same-commune trips take the crow-fly intra term.

    OSRM routes a point to itself in 0 s, which says nothing of a resident's trip inside the
    commune, hence the intra-commune term for pairs sharing a ``code_commune``.
    """

    url: str
    profile: str = "driving"
    max_table_size: int = 100
    max_url_length: int = 8000
    timeout_s: float = 60.0
    crow_fly: CrowFly = field(default_factory=CrowFly)

    @property
    def chunk(self) -> int:
        """Sources (and destinations) per request, within both the table and URL limits."""
        per_location = 2 * len("-180.123456,-90.123456;") + 2 * len("100;")
        return max(1, min(self.max_table_size, self.max_url_length // per_location))

    def pairs(self, origins: Places, destinations: Places, cutoff_minutes: float) -> TravelPairs:
        """Road-time pairs within ``cutoff_minutes``, asked chunk by chunk."""
        radius_m = cutoff_minutes * MAX_ROAD_SPEED_KMH * 1000 / 60
        with httpx.Client(timeout=self.timeout_s) as client:
            found = [np.empty((0, 3))] + [
                self._ask(client, origins, destinations, o, d)
                for o, d in self._requests(origins, destinations, radius_m)
            ]
        triples = np.concatenate(found)
        o, d, minutes = (
            triples[:, 0].astype(np.int64),
            triples[:, 1].astype(np.int64),
            triples[:, 2],
        )
        own = origins.code_commune[o] == destinations.code_commune[d]
        area = intra_area(origins, destinations, o, d)
        minutes = np.where(own & np.isfinite(area), self.crow_fly.intra_minutes(area), minutes)
        return TravelPairs.kept(len(origins), len(destinations), o, d, minutes, cutoff_minutes)

    def _requests(
        self, origins: Places, destinations: Places, radius_m: float
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(sources, destinations) chunks to ask: sources sorted into compact strips, each
        paired only with the destinations a road trip from one of them could reach."""
        for zone in np.intersect1d(origins.zone, destinations.zone):
            o_all = np.flatnonzero(origins.zone == zone)
            o_all = o_all[np.lexsort((origins.y[o_all], origins.x[o_all] // radius_m))]
            d_all = np.flatnonzero(destinations.zone == zone)
            d_tree = cKDTree(np.column_stack([destinations.x[d_all], destinations.y[d_all]]))
            for o in _chunks(o_all, self.chunk):
                o_tree = cKDTree(np.column_stack([origins.x[o], origins.y[o]]))
                near = o_tree.sparse_distance_matrix(d_tree, radius_m, output_type="ndarray")
                for d in _chunks(d_all[np.unique(near["j"])], self.chunk):
                    yield o, d

    def _ask(
        self,
        client: httpx.Client,
        origins: Places,
        destinations: Places,
        o: np.ndarray,
        d: np.ndarray,
    ) -> np.ndarray:
        """One table request: (origin, destination, minutes) rows of the reachable pairs."""
        lonlat = np.vstack(
            [
                np.column_stack([origins.lon[o], origins.lat[o]]),
                np.column_stack([destinations.lon[d], destinations.lat[d]]),
            ]
        )
        coordinates = ";".join(map(",".join, np.char.mod("%.6f", lonlat).tolist()))
        url = f"{self.url.rstrip('/')}/table/v1/{self.profile}/{coordinates}"
        params = {
            "sources": ";".join(map(str, range(len(o)))),
            "destinations": ";".join(map(str, range(len(o), len(o) + len(d)))),
            "annotations": "duration",
        }
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as error:
            raise OsrmError(f"OSRM server {self.url} unreachable: {error}") from error
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or answer.get("code") != "Ok":
            raise OsrmError(
                f"OSRM server {self.url} answered HTTP {response.status_code} "
                f"{answer.get('code', '')}: {answer.get('message', response.text[:200])}"
            )
        seconds = np.array(answer["durations"], dtype=float)
        if seconds.shape != (len(o), len(d)):
            raise OsrmError(
                f"OSRM server {self.url} sent a {seconds.shape} table for "
                f"{len(o)} sources × {len(d)} destinations"
            )
        i, j = np.nonzero(np.isfinite(seconds))
        return np.column_stack([o[i], d[j], seconds[i, j] / 60.0])


def _chunks(positions: np.ndarray, size: int) -> list[np.ndarray]:
    """``positions`` cut into consecutive pieces of at most ``size``."""
    return [positions[start : start + size] for start in range(0, len(positions), size)]
