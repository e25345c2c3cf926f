"""The Redis queue that long work goes through, configured from ``MAILLAGE_*`` variables.

Kept apart from :mod:`maillage.config` so that a worker needs no database or signing key.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict
from redis import Redis
from rq import Queue


class JobSettings(BaseSettings):
    """``MAILLAGE_REDIS_URL`` (the Redis server) and ``MAILLAGE_JOBS_QUEUE`` (the queue name)."""

    model_config = SettingsConfigDict(env_prefix="MAILLAGE_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    jobs_queue: str = "maillage"


def job_queue(settings: JobSettings | None = None) -> Queue:
    """The queue both the web pages (enqueue, read progress) and ``maillage worker`` use."""
    settings = settings or JobSettings()
    return Queue(settings.jobs_queue, connection=Redis.from_url(settings.redis_url))
