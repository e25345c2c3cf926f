"""Territory outlines (departments for the site registry's map, EPCI for territory maps) and
the department of a point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from maillage.territory.outlines import departement_outlines, departements_at, dissolve


def test_points_fall_in_the_department_of_their_nearest_commune() -> None:
    lon = np.array([5.17, 9.45, 55.45, 4.90])  # Carignan, Bastia, Saint-Denis, Reims
    lat = np.array([49.63, 42.70, -20.88, 49.26])
    assert departements_at(lon, lat).tolist() == ["08", "2B", "974", "51"]


def test_an_outline_is_the_union_of_its_communes() -> None:
    outlines = departement_outlines({"08", "2B"})
    assert outlines[["departement", "nom"]].to_numpy().tolist() == [
        ["08", "Ardennes"],
        ["2B", "Haute-Corse"],
    ]
    ardennes = shapely.from_wkb(outlines.geometry.iloc[0])
    assert shapely.get_num_geometries(ardennes) <= 2  # one piece, no slivers between communes
    assert ardennes.contains(shapely.Point(5.17, 49.63))
    assert not ardennes.contains(shapely.Point(4.90, 49.26))
    assert departement_outlines(set()).empty


def test_dissolved_territories_cover_their_communes(communes) -> None:
    meuse = communes[communes.departement == "55"]
    keys = meuse.epci.fillna(meuse.code_commune)
    unions = dissolve(meuse.geometry, keys)
    assert list(unions.index) == sorted(keys.unique())
    geoms = shapely.from_wkb(meuse.geometry.to_numpy())
    summed = pd.Series(shapely.area(geoms), index=keys.to_numpy()).groupby(level=0).sum()
    areas = shapely.area(shapely.from_wkb(unions.to_numpy()))
    # communes overlap by slivers (relative 1e-5 at most in Meuse), never by more
    assert areas == pytest.approx(summed.reindex(unions.index).to_numpy(), rel=1e-4)
    points = shapely.points(meuse.lon, meuse.lat)
    own = shapely.from_wkb(unions.reindex(keys).to_numpy())
    assert shapely.covers(own, points).all()  # each commune lies in its own territory
