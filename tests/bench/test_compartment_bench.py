"""The compartment benchmark (bench/bench_compartment.py) times what it claims: each
principal's search sees its own share of the seeded network, not an empty or a refused one."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bench import bench_booking, bench_compartment
from maillage.config import Settings
from maillage.store.database import make_engine, upgrade

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
PATIENTS = 100


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_each_principal_sees_its_share_of_the_network(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="b" * 40)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    bench_booking.bulk_store(database_url, bench_compartment.network(PATIENTS), settings)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM fhir_resource")).scalar_one()
    engine.dispose()
    sites, doctors, weighings = (
        bench_compartment.SITES,
        bench_compartment.DOCTORS,
        bench_compartment.WEIGHINGS,
    )
    assert stored == 2 * sites + doctors + PATIENTS * (3 + weighings)
    found = bench_compartment.measure(database_url, settings, runs=1)
    assert found["admin"]["total"] == PATIENTS * weighings
    # site-0 registers patients 0, 50, …; doc-0 sees patients 0 to 49, one at each site
    assert found["site professional"]["total"] == PATIENTS // sites * weighings
    assert found["practitioner"]["total"] == sites * weighings
