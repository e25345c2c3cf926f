"""``maillage plan --existing registry``: the network's open and planned sites, read through
the server's repository, stay open in the plan and are listed as existing in ``sites.csv``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository, system_repository
from maillage.care.site_import import INSEE_EXTENSION, INSEE_SYSTEM
from maillage.cli import app
from maillage.config import load_settings


@pytest.fixture
def registry_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty SQLite network database the CLI's settings name."""
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'maillage.sqlite'}")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "c" * 40)
    monkeypatch.setenv("MAILLAGE_FILES_DIR", str(tmp_path / "files"))
    return tmp_path


def _location(name: str, code: str | None, status: str) -> dict:
    extension = {"url": INSEE_EXTENSION, "valueCoding": {"system": INSEE_SYSTEM, "code": code}}
    address = {"city": name, **({"extension": [extension]} if code else {})}
    return {"resourceType": "Location", "name": name, "status": status, "address": address}


def _plan(out: Path) -> object:
    options = ["--sites", "2", "--department", "55", "--existing", "registry"]
    return CliRunner().invoke(app, ["plan", *options, "--out", str(out)])


def test_registry_sites_are_existing_in_the_plan(registry_database: Path) -> None:
    settings = load_settings()
    system = system_repository(settings, migrate=True)  # brings the empty database's schema
    admin = Principal(user_id=1, email="admin@example.org", role=Role.ADMIN)
    repository = Repository(system.sessions, settings, admin)
    for body in (
        _location("MSP Verdun", "55545", "active"),
        _location("MSP Commercy", "55122", "suspended"),
        _location("MSP fermée", "55029", "inactive"),
        _location("Sans commune", None, "active"),
    ):
        repository.create("Location", body)
    out = registry_database / "plan"
    result = _plan(out)
    assert result.exit_code == 0, result.output
    sites = pd.read_csv(out / "sites.csv", dtype={"code_commune": str})
    existing = sites[sites.status.eq("existant")]
    assert sorted(existing.name) == ["MSP Commercy", "MSP Verdun"]
    assert sorted(existing.code_commune) == ["55122", "55545"]
    assert existing[["rank", "gain"]].isna().all().all()
    assert sites.status.tolist() == ["nouveau", "nouveau", "existant", "existant"]
    # A new site where an existing one already serves would gain nothing.
    assert not sites[sites.status.eq("nouveau")].code_commune.isin(["55122", "55545"]).any()


def test_an_empty_registry_is_refused_in_one_line(registry_database: Path) -> None:
    result = _plan(registry_database / "plan")
    assert result.exit_code == 2
    assert "--existing registry" in result.output and "Traceback" not in result.output
    assert not (registry_database / "plan").exists()
