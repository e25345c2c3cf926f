"""Bulk writers leave fresh planner statistics behind: right after the demo seed or a
reindex, the database has analysed the tables they loaded, so pages are planned on the real
data, not on the empty tables the migration created (issue 17)."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select, text

from maillage.care.site_import import import_sites, read_sites
from maillage.config import Settings
from maillage.demo.seed import seed
from maillage.store import resources
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import RESOURCES, SEARCH_INDEX
from maillage.territory.communes import load_communes

ZONE = ZoneInfo("Europe/Paris")


def _analyses(engine: Engine) -> dict[str, int]:
    """How many explicit ANALYZE each table has had (PostgreSQL; autovacuum's are not counted),
    or, on SQLite, 1 for each table with statistics in ``sqlite_stat1``."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT relname, analyze_count FROM pg_stat_user_tables"
        elif connection.execute(
            text("SELECT 1 FROM sqlite_master WHERE name='sqlite_stat1'")
        ).first():
            query = "SELECT DISTINCT tbl, 1 FROM sqlite_stat1"
        else:  # created by the first ANALYZE
            return {}
        return {name: int(count) for name, count in connection.execute(text(query))}


def _newly_analyzed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {name for name, count in after.items() if count > before.get(name, 0)}


def test_the_demo_seed_leaves_its_tables_analyzed(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, env="development")
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    before = _analyses(engine)
    seed(session_factory(engine), settings, tmp_path / "accounts.txt", scale=0.02)
    assert {RESOURCES.name, SEARCH_INDEX.name} <= _newly_analyzed(before, _analyses(engine))
    if engine.dialect.name == "postgresql":  # the planner's row estimate is the real count
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(RESOURCES)).scalar_one()
            estimate = connection.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = :name"),
                {"name": RESOURCES.name},
            ).scalar_one()
        assert estimate == count
    engine.dispose()


def test_reindex_refreshes_the_statistics_of_the_rebuilt_index(database_url: str) -> None:
    engine = make_engine(Settings(database_url=database_url).sqlalchemy_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for n in range(30):
            body = {"resourceType": "Organization", "name": f"MSP {n}"}
            resources.save(session, body, ZONE, resource_id=f"o{n}")
    before = _analyses(engine)
    assert resources.reindex(sessions, ZONE) == 30
    assert SEARCH_INDEX.name in _newly_analyzed(before, _analyses(engine))
    engine.dispose()


def test_a_sites_import_analyzes_what_it_loaded(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, env="development")
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    path = tmp_path / "sites.csv"
    path.write_text("id,name,code_commune\nbld-1,MSP de Bar-le-Duc,55029\n", encoding="utf-8")
    before = _analyses(engine)
    report = import_sites(
        session_factory(engine), settings, path, read_sites(path, load_communes())
    )
    assert report.sites == 1
    assert {RESOURCES.name, SEARCH_INDEX.name} <= _newly_analyzed(before, _analyses(engine))
    engine.dispose()
