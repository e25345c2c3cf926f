"""Server settings, read only from ``MAILLAGE_*`` environment variables.

One place decides every default, so that the README's configuration table can list them all
and production mode can refuse the unsafe ones instead of running with them. Every entry point
(server, worker, CLI) reads them through :func:`load_settings`.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)

DATA_DIR = Path(platformdirs.user_data_dir("maillage"))
MIN_SECRET_LENGTH = 32
FILES_DIR_DEFAULT = DATA_DIR / "files"


def files_dir() -> Path:
    """``MAILLAGE_FILES_DIR`` alone, for the analytics commands: they need none of the
    server's other settings (a production secret key among them)."""
    return Path(os.environ.get("MAILLAGE_FILES_DIR") or FILES_DIR_DEFAULT)


def sqlalchemy_url(url: str) -> str:
    """Turn the documented URL forms into SQLAlchemy URLs (PostgreSQL goes through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    if url.startswith(("postgresql+psycopg://", "sqlite:///")):
        return url
    raise ValueError(
        "MAILLAGE_DATABASE_URL must start with postgresql:// or sqlite:/// "
        f"(got {url.split(':', 1)[0]}://…)"
    )


class Settings(BaseSettings):
    """Everything the server needs; each field is the variable ``MAILLAGE_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MAILLAGE_", extra="ignore")

    env: Literal["production", "development"] = "development"
    database_url: str = f"sqlite:///{DATA_DIR / 'maillage.sqlite'}"
    secret_key: SecretStr | None = None
    token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    jitsi_url: str = "https://meet.jit.si"
    jitsi_secret: SecretStr | None = None
    jitsi_app_id: str = "maillage"
    files_dir: Path = FILES_DIR_DEFAULT
    smtp_url: str | None = None
    mail_from: str = "comptes-rendus@maillage.invalid"
    smtp_client_cert: Path | None = None
    smtp_client_key: Path | None = None
    smtp_ca_file: Path | None = None
    custodian_id: str | None = None
    custodian_name: str = "Réseau de télémédecine maillage"
    document_codes: dict[str, dict[str, str]] = {}
    mhd_url: str | None = None
    mhd_token: SecretStr | None = None
    mhd_timeout: float = Field(default=30.0, gt=0, le=600)
    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_dataset_upload_bytes: int = Field(default=2 * 1024**3, ge=1024)
    request_threads: int = Field(default=4, ge=1, le=256)
    access_log: bool = True
    principal_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    slot_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    login_rate_limit: str = "5/minute"
    trusted_proxies: list[str] = []
    login_state_url: str | None = None
    audit_checkpoint_key: SecretStr | None = None
    audit_checkpoint_file: Path | None = None
    timezone: str = "Europe/Paris"
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    bundle_max_entries: int = Field(default=500, ge=1, le=100_000)
    patient_bundle_max_entries: int = Field(default=50, ge=1, le=100_000)
    statement_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    attachment_types: frozenset[str] = frozenset(
        {
            "application/pdf",
            "image/jpeg",
            "image/png",
            "application/dicom",
            "text/plain",
            "application/xml",
            "application/hl7-v3+xml",
        }
    )
    expertise_due_days: dict[str, int] = {"default": 7}
    alert_escalation_minutes: int = Field(default=60, ge=1)
    undo_minutes: int = Field(default=15, ge=0, le=24 * 60)
    professionals_password_login: bool = True
    psc_issuer: str | None = None
    psc_client_id: str | None = None
    psc_client_cert: Path | None = None
    psc_client_key: Path | None = None
    psc_ca_file: Path | None = None
    psc_create_pending: bool = False
    sms_url: SecretStr | None = None
    reminder_hour: int = Field(default=10, ge=0, le=23)
    totp_required: bool | None = None
    roadmap_sites_target: int = Field(default=200, ge=1, le=100_000)
    roadmap_new_sites_target: int = Field(default=100, ge=0, le=100_000)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str) -> str:
        sqlalchemy_url(url)
        return url

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name

    @field_validator("login_rate_limit")
    @classmethod
    def _rate_limit_syntax(cls, value: str) -> str:
        from limits import parse

        parse(value)
        return value

    @field_validator("mhd_url")
    @classmethod
    def _http_recipient(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError("the MHD Document Recipient URL must start with https://")
        return url

    @model_validator(mode="after")
    def _mssante_in_production(self) -> Settings:
        """Production sends comptes rendus over MSSanté: TLS with the operator's certificate."""
        if self.env != "production":
            return self
        if self.mhd_url is not None and not self.mhd_url.startswith("https://"):
            raise ValueError("production mode needs MAILLAGE_MHD_URL with https://")
        if self.smtp_url is None:
            return self
        if not self.smtp_url.startswith(("smtps://", "smtp+starttls://")):
            raise ValueError(
                "production mode needs MAILLAGE_SMTP_URL with smtps:// or smtp+starttls:// "
                "(MSSanté requires TLS)"
            )
        if self.smtp_client_cert is None or self.smtp_client_key is None:
            raise ValueError(
                "production mode needs MAILLAGE_SMTP_CLIENT_CERT and MAILLAGE_SMTP_CLIENT_KEY "
                "(the MSSanté operator's certificate for mutual TLS)"
            )
        if not self.custodian_id:
            raise ValueError(
                "production mode needs MAILLAGE_CUSTODIAN_ID (the structure keeping the documents)"
            )
        return self

    @model_validator(mode="after")
    def _pro_sante_connect(self) -> Settings:
        """Pro Santé Connect needs its HTTPS issuer, client id and mutual-TLS credentials."""
        if self.psc_issuer is None:
            return self
        if not self.psc_issuer.startswith("https://"):
            raise ValueError("MAILLAGE_PSC_ISSUER must start with https://")
        needed = {
            "MAILLAGE_PSC_CLIENT_ID": self.psc_client_id,
            "MAILLAGE_PSC_CLIENT_CERT": self.psc_client_cert,
            "MAILLAGE_PSC_CLIENT_KEY": self.psc_client_key,
        }
        missing = [name for name, value in needed.items() if value is None]
        if missing:
            raise ValueError(f"MAILLAGE_PSC_ISSUER needs {', '.join(missing)} (mutual TLS)")
        return self

    @model_validator(mode="after")
    def _safe_secret(self) -> Settings:
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) >= (
            MIN_SECRET_LENGTH
        ):
            return self
        if self.env == "production":
            raise ValueError(
                f"production mode needs MAILLAGE_SECRET_KEY of at least {MIN_SECRET_LENGTH} "
                "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        logger.warning(
            "MAILLAGE_SECRET_KEY unset or shorter than %d characters: using a random key for this "
            "process only; tokens will not survive a restart",
            MIN_SECRET_LENGTH,
        )
        self.secret_key = SecretStr(secrets.token_urlsafe(48))
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL in the form SQLAlchemy's ``create_engine`` expects."""
        return sqlalchemy_url(self.database_url)

    @property
    def login_state_storage(self) -> str:
        """Where login counters live: the configured URL, else Redis in production (shared by
        the worker processes), else this process's memory."""
        if self.login_state_url:
            return self.login_state_url
        return "redis://127.0.0.1:6379/0" if self.env == "production" else "memory://"

    @property
    def second_factor_required(self) -> bool:
        """Whether admins, coordinators and the DPO must log in with a TOTP code:
        ``MAILLAGE_TOTP_REQUIRED``, by default in production only."""
        return self.env == "production" if self.totp_required is None else self.totp_required

    @property
    def zone(self) -> ZoneInfo:
        """Time zone for dates given without an offset (FHIR leaves it to the server)."""
        return ZoneInfo(self.timezone)

    def today(self) -> date:
        """Today's date in the network's time zone (the day a page shows by default)."""
        return datetime.now(self.zone).date()

    @property
    def signing_key(self) -> str:
        """The token-signing secret (always set once validation has passed)."""
        assert self.secret_key is not None
        return self.secret_key.get_secret_value()


class ConfigurationError(ValueError):
    """A ``MAILLAGE_*`` variable the server cannot run with; ``problems`` names each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_settings() -> Settings:
    """The settings from the environment, or every problem in it at once.

    Raises :class:`ConfigurationError` (a ``ValueError``) rather than pydantic's error, so that a
    caller maps it to its own channel (an exit status, a log line) without knowing pydantic.
    """
    try:
        return Settings()
    except ValidationError as error:
        problems = []
        for problem in error.errors(include_url=False):
            fields = [str(part) for part in problem["loc"]]
            where = f"MAILLAGE_{fields[0].upper()}: " if fields else ""
            problems.append(where + problem["msg"])
        raise ConfigurationError(problems) from error
