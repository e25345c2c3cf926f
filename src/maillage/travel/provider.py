"""What every travel-time source offers, and how the ``--travel`` option picks one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from maillage.travel.crowfly import DEFAULT_CIRCUITY, DEFAULT_SPEED_KMH, CrowFly
from maillage.travel.matrix import MatrixFile
from maillage.travel.model import Places, TravelPairs

TRAVEL_OPTION_HELP = "crow-fly | matrix:FILE | osrm:URL"


class TravelProvider(Protocol):
    """A source of travel times; only pairs within the cut-off (inclusive) are returned."""

    def pairs(
        self, origins: Places, destinations: Places, cutoff_minutes: float
    ) -> TravelPairs: ...


def provider_from_option(
    text: str,
    speed_kmh: float | None = None,
    circuity: float | None = None,
    osrm_timeout: float | None = None,
) -> TravelProvider:
    """The provider named by ``--travel``; speed and circuity feed the crow-fly model and the
    intra-commune term the others borrow from it, ``osrm_timeout`` the seconds an OSRM server
    has to answer each request (``None`` = documented default)."""
    crow_fly = CrowFly(
        DEFAULT_SPEED_KMH if speed_kmh is None else speed_kmh,
        DEFAULT_CIRCUITY if circuity is None else circuity,
    )
    kind, _, argument = text.partition(":")
    if kind == "crow-fly" and not argument:
        return crow_fly
    if kind == "matrix" and argument:
        return MatrixFile(Path(argument), crow_fly)
    if kind == "osrm" and argument.startswith(("http://", "https://")):
        from maillage.travel.osrm import OsrmTable  # httpx: only for users of a server

        if osrm_timeout is None:
            return OsrmTable(argument, crow_fly=crow_fly)
        return OsrmTable(argument, timeout_s=osrm_timeout, crow_fly=crow_fly)
    raise ValueError(f"--travel doit valoir {TRAVEL_OPTION_HELP}, pas {text!r}")
