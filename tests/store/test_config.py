"""Settings from MAILLAGE_* variables, and production mode refusing unsafe defaults."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from maillage.config import ConfigurationError, Settings, load_settings, sqlalchemy_url
from maillage.jobs.queue import JobSettings

ROOT = Path(__file__).parents[2]


def test_defaults_are_development_with_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAILLAGE_ENV", "MAILLAGE_DATABASE_URL", "MAILLAGE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.env == "development"
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert settings.token_minutes == 15


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/maillage")
    monkeypatch.setenv("MAILLAGE_TOKEN_MINUTES", "5")
    monkeypatch.setenv("MAILLAGE_JITSI_URL", "https://visio.example.org")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5432/maillage"
    assert settings.token_minutes == 5
    assert settings.jitsi_url == "https://visio.example.org"


@pytest.mark.parametrize("secret", [None, "too-short"])
def test_production_refuses_a_missing_or_short_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    if secret is None:
        monkeypatch.delenv("MAILLAGE_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("MAILLAGE_SECRET_KEY", secret)
    with pytest.raises(ValidationError, match="MAILLAGE_SECRET_KEY"):
        Settings()


def test_production_accepts_a_long_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLAGE_ENV", "production")
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "k" * 32)
    assert Settings().signing_key == "k" * 32


def test_development_makes_a_random_key_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="maillage.config"):
        first, second = Settings(secret_key=None), Settings(secret_key=None)
    assert len(first.signing_key) >= 32
    assert first.signing_key != second.signing_key
    assert "random key" in caplog.text


@pytest.mark.parametrize(
    "url", ["mysql://root@localhost/db", "postgresql+asyncpg://x@y/z", "/tmp/file.sqlite"]
)
def test_unknown_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="postgresql:// or sqlite:///"):
        sqlalchemy_url(url)


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(timezone="Europe/Atlantis", secret_key="s" * 40)
    with pytest.raises(ValidationError):
        Settings(login_rate_limit="often", secret_key="s" * 40)


def test_load_settings_names_every_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("MAILLAGE_TOKEN_MINUTES", "0")
    monkeypatch.setenv("MAILLAGE_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ConfigurationError) as refused:
        load_settings()
    named = sorted(problem.split(":", 1)[0] for problem in refused.value.problems)
    assert named == ["MAILLAGE_TIMEZONE", "MAILLAGE_TOKEN_MINUTES"]
    assert "Europe/Atlantis" in str(refused.value)


def test_load_settings_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILLAGE_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("MAILLAGE_TOKEN_MINUTES", "7")
    assert load_settings().token_minutes == 7


def test_readme_table_lists_every_variable() -> None:
    """Each setting and each ``MAILLAGE_*`` name the code, tests or benchmarks read has its row
    in the README's one configuration table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(MAILLAGE_[A-Z_]+)` \|", table, flags=re.MULTILINE))
    fields = {
        f"MAILLAGE_{name.upper()}" for name in [*Settings.model_fields, *JobSettings.model_fields]
    }
    named = {
        name
        for folder in ("src", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        for name in re.findall(r"MAILLAGE_[A-Z][A-Z_]*[A-Z]", path.read_text(encoding="utf-8"))
    }
    assert fields <= rows, sorted(fields - rows)
    assert named <= rows, sorted(named - rows)
