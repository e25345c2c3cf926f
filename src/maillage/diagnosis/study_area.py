"""Which communes a regional run must include so that its values equal a national run's.

A commune's access depends on the practitioners within the cut-off, and each of those
practitioners' ratio depends on all the demand within the cut-off of *them*: values inside the
area are exact only if the computation also holds every commune within two cut-offs of travel.
We find that buffer with the provider itself (two sparse queries), after a straight-line
pre-filter that no road trip can beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maillage.travel.model import MAX_ROAD_SPEED_KMH, Places, TravelPairs
from maillage.travel.provider import TravelProvider


@dataclass(frozen=True)
class StudyArea:
    """Communes computed (``origins``, ``destinations``: positions in the national table).

    ``pairs`` holds travel times from ``origins`` to ``destinations`` (positions within those
    two arrays); ``inside`` marks the origins that belong to the requested area.
    """

    origins: np.ndarray
    destinations: np.ndarray
    pairs: TravelPairs
    inside: np.ndarray


def within_straight_line(places: Places, seeds: np.ndarray, radius_m: float) -> np.ndarray:
    """Positions of places closer than ``radius_m`` to any seed, zone by zone.

    One nearest-seed query per place (bounded by the radius) rather than one ball per seed:
    the cost grows with the number of places, not with the area × density of the buffer.
    """
    from scipy.spatial import cKDTree  # not needed by a national run

    keep = np.zeros(len(places), dtype=bool)
    keep[seeds] = True
    xy = np.column_stack([places.x, places.y])
    for zone in np.unique(places.zone[seeds]):
        in_zone = np.flatnonzero(places.zone == zone)
        tree = cKDTree(xy[seeds[places.zone[seeds] == zone]])
        distance, _ = tree.query(xy[in_zone], distance_upper_bound=radius_m)
        keep[in_zone[np.isfinite(distance)]] = True
    return np.flatnonzero(keep)


def study_area(
    places: Places, selected: np.ndarray, provider: TravelProvider, cutoff: float
) -> StudyArea:
    """The selected communes plus the buffer that makes their values exact.

    ``selected`` are positions in ``places``; ``provider`` answers
    ``pairs(origins, destinations, cutoff) -> TravelPairs``.
    """
    selected = np.unique(selected)
    if len(selected) == len(places):
        everything = np.arange(len(places))
        pairs = provider.pairs(places, places, cutoff)
        return StudyArea(everything, everything, pairs, np.ones(len(places), dtype=bool))

    radius_m = 2 * cutoff / 60 * MAX_ROAD_SPEED_KMH * 1000
    candidates = within_straight_line(places, selected, radius_m)
    cand_places = places.subset(candidates)

    from_selected = provider.pairs(places.subset(selected), cand_places, cutoff)
    destinations = candidates[np.unique(from_selected.destination)]
    to_destinations = provider.pairs(cand_places, places.subset(destinations), cutoff)
    used = np.unique(
        np.concatenate([to_destinations.origin, np.searchsorted(candidates, selected)])
    )
    origins = candidates[used]
    # Re-index the pairs' origins from candidate positions to positions in ``origins``.
    keep = np.isin(to_destinations.origin, used)
    pairs = TravelPairs(
        len(origins),
        len(destinations),
        np.searchsorted(used, to_destinations.origin[keep]).astype(np.int32),
        to_destinations.destination[keep],
        to_destinations.minutes[keep],
    )
    return StudyArea(origins, destinations, pairs, np.isin(origins, selected))
