"""The two types every travel provider speaks: places, and the sparse pairs between them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

#: No road trip covers ground faster than this (the motorway limit): a straight line longer
#: than cut-off × this speed cannot be travelled within the cut-off. Used to pre-filter.
MAX_ROAD_SPEED_KMH = 130.0


@dataclass(frozen=True)
class Places:
    """Points people travel from or to (commune representative points, sites).

    ``x``/``y`` are metres in the projected system of the place's ``zone`` (Lambert-93 for
    metropolitan France, the local UTM zone overseas); places of different zones never reach
    each other by road. ``area_km2`` feeds the intra-commune term (NaN for a site).
    """

    ids: np.ndarray  # str: INSEE code for a commune, site id for a site
    code_commune: np.ndarray  # str: the commune the place lies in
    x: np.ndarray
    y: np.ndarray
    zone: np.ndarray  # int EPSG code of the projection used for x/y
    lon: np.ndarray
    lat: np.ndarray
    area_km2: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> Places:
        """The places at ``index`` (positions or boolean mask), in that order."""
        return Places(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class TravelPairs:
    """Sparse travel times in minutes: ``origin[k]`` → ``destination[k]`` takes ``minutes[k]``.

    Indices are positions in the origin and destination ``Places``. Kept as triplets rather
    than a sparse matrix so that a zero-minute pair is not confused with an absent one.
    """

    n_origins: int
    n_destinations: int
    origin: np.ndarray  # int32
    destination: np.ndarray  # int32
    minutes: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.minutes)

    @classmethod
    def kept(
        cls,
        n_origins: int,
        n_destinations: int,
        origin: np.ndarray,
        destination: np.ndarray,
        minutes: np.ndarray,
        cutoff: float,
    ) -> TravelPairs:
        """The pairs of at most ``cutoff`` minutes among candidate arrays, typed compactly."""
        keep = np.asarray(minutes) <= cutoff
        return cls(
            n_origins,
            n_destinations,
            np.asarray(origin)[keep].astype(np.int32),
            np.asarray(destination)[keep].astype(np.int32),
            np.asarray(minutes, dtype=float)[keep],
        )

    def within(self, cutoff: float) -> TravelPairs:
        """The pairs of at most ``cutoff`` minutes (bounds inclusive, as PySAL's step_fn)."""
        return TravelPairs.kept(
            self.n_origins, self.n_destinations, self.origin, self.destination, self.minutes, cutoff
        )

    def matrix(self, values: np.ndarray) -> sparse.csr_matrix:
        """An origins × destinations CSR matrix holding ``values`` (one per pair)."""
        return sparse.csr_matrix(
            (values, (self.origin, self.destination)),
            shape=(self.n_origins, self.n_destinations),
        )
