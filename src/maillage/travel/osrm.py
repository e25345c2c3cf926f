"""A client of an OSRM server's ``table`` service, for users who run one.

The API (https://project-osrm.org/docs/v5.24.0/api/#table-service):
``GET {url}/table/v1/{profile}/{lon,lat;...}?sources=..&destinations=..&annotations=duration``
answers ``{"code": "Ok", "durations": [[seconds | null, ...], ...]}``. A server refuses tables
larger than its ``--max-table-size`` (100 locations by default) and very long URLs, so we ask
in chunks, and only for destinations a road trip could reach (straight line at 130 km/h).

A request that cannot connect, or that a proxy answers 502/503/504 or the server 429, is
tried again (:data:`ATTEMPTS` in all, waiting :data:`BACKOFF_S` then twice as long); a server
that accepts but does not answer within ``timeout_s`` is not: it would hang again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from scipy.spatial import cKDTree

from maillage.errors import CommandError
from maillage.travel.crowfly import CrowFly, intra_area
from maillage.travel.model import MAX_ROAD_SPEED_KMH, Places, TravelPairs

#: Seconds to wait for each answer (``--osrm-timeout``, ``MAILLAGE_OSRM_TIMEOUT``).
DEFAULT_TIMEOUT_S = 10.0
ATTEMPTS = 3
BACKOFF_S = 0.5
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})


class OsrmError(CommandError):
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
    timeout_s: float = DEFAULT_TIMEOUT_S
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
        response = self._get(client, url, params)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code != 200 or answer.get("code") != "Ok":
            raise OsrmError(
                f"le serveur OSRM {self.url} a répondu HTTP {response.status_code} "
                f"{answer.get('code', '')} : {answer.get('message', _excerpt(response.text))}"
            )
        try:
            seconds = np.array(answer.get("durations"), dtype=float)
        except (TypeError, ValueError):
            seconds = np.empty(0)
        if seconds.shape != (len(o), len(d)):
            raise OsrmError(
                f"le serveur OSRM {self.url} a renvoyé une table {seconds.shape} pour "
                f"{len(o)} sources × {len(d)} destinations"
            )
        i, j = np.nonzero(np.isfinite(seconds))
        return np.column_stack([o[i], d[j], seconds[i, j] / 60.0])

    def _get(self, client: httpx.Client, url: str, params: dict[str, Any]) -> httpx.Response:
        """GET with bounded retries of the failures that pass (see the module docstring)."""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF_S * 2 ** (attempt - 1))
            try:
                response = client.get(url, params=params)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                failure = f"injoignable : {error}"
                continue
            except httpx.TimeoutException as error:
                raise OsrmError(
                    f"le serveur OSRM {self.url} n'a pas répondu en {self.timeout_s:g} s "
                    "(--osrm-timeout)"
                ) from error
            except httpx.HTTPError as error:
                raise OsrmError(f"le serveur OSRM {self.url} a échoué : {error}") from error
            if response.status_code not in _TRANSIENT_STATUS:
                return response
            failure = f"a répondu HTTP {response.status_code}"
        raise OsrmError(f"le serveur OSRM {self.url} {failure} ({ATTEMPTS} tentatives)")


def _excerpt(text: str) -> str:
    """The start of an answer's body on one line, for an error message."""
    return " ".join(text.split())[:200]


def _chunks(positions: np.ndarray, size: int) -> list[np.ndarray]:
    """``positions`` cut into consecutive pieces of at most ``size``."""
    return [positions[start : start + size] for start in range(0, len(positions), size)]
