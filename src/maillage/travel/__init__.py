"""Travel times between places, kept sparse: only pairs under the cut-off exist."""

from maillage.travel.crowfly import DEFAULT_CIRCUITY, DEFAULT_SPEED_KMH, CrowFly
from maillage.travel.matrix import MatrixFile
from maillage.travel.model import Places, TravelPairs
from maillage.travel.osrm import OsrmError, OsrmTable
from maillage.travel.provider import TravelProvider, provider_from_option

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_SPEED_KMH",
    "CrowFly",
    "MatrixFile",
    "OsrmError",
    "OsrmTable",
    "Places",
    "TravelPairs",
    "TravelProvider",
    "provider_from_option",
]
