"""Login limits: a stranger cannot lock the owner out; counters shared by worker processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NoReturn

from redis import Redis
from redis.exceptions import RedisError

from maillage.api.auth import LoginLimiter
from maillage.config import Settings
from maillage.web.session_store import session_store

REDIS = "redis://127.0.0.1:6379/0"


def test_a_stranger_failing_the_password_does_not_lock_the_owner_out() -> None:
    limiter = LoginLimiter("3/minute")
    attacker = [limiter.hit("198.51.100.7", "owner@example.org") for _ in range(4)]
    assert attacker == [True, True, True, False]
    assert limiter.hit("192.0.2.10", "owner@example.org")
    assert not limiter.hit("198.51.100.7", "owner@example.org")


def test_one_address_cannot_spray_many_accounts() -> None:
    limiter = LoginLimiter("3/minute")
    tries = [limiter.hit("198.51.100.7", f"user{i}@example.org") for i in range(4)]
    assert tries == [True, True, True, False]


def test_delays_grow_for_a_slow_guesser() -> None:
    """Past the hourly limit of the pair (ten times the rate) the pair waits an hour even if
    the address's own per-minute window is clear: simulated by a fresh address budget."""
    limiter = LoginLimiter("1/minute")
    hourly = limiter.pair_rates[1]
    assert (hourly.amount, hourly.get_expiry()) == (10, 3600)
    for _ in range(10):
        limiter.limiter.hit(hourly, "pair", "owner@example.org", "198.51.100.7")
    assert not limiter.hit("198.51.100.7", "owner@example.org")
    assert limiter.hit("192.0.2.10", "owner@example.org")


def test_counters_are_shared_between_worker_processes_through_redis(
    missing_service: Callable[[str], NoReturn],
) -> None:
    try:
        Redis.from_url(REDIS).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {REDIS}: {error}")
    account = f"shared-{uuid.uuid4().hex}@example.org"
    address = f"203.0.113.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    first, second = LoginLimiter("2/minute", REDIS), LoginLimiter("2/minute", REDIS)
    assert first.hit(address, account)
    assert second.hit(address, account)
    assert not first.hit(address, account)
    assert not second.hit(address, account)


def test_production_counts_in_redis_and_development_in_memory() -> None:
    key = "k" * 40
    assert Settings(secret_key=key).login_state_storage == "memory://"
    assert Settings(secret_key=key, env="production").login_state_storage.startswith("redis://")
    custom = Settings(secret_key=key, login_state_url="redis://cache:6380/2")
    assert custom.login_state_storage == "redis://cache:6380/2"


def test_a_session_closed_in_one_worker_is_closed_in_all(
    missing_service: Callable[[str], NoReturn],
) -> None:
    try:
        Redis.from_url(REDIS).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {REDIS}: {error}")
    first, second = session_store(REDIS), session_store(REDIS)
    session_id = uuid.uuid4().hex
    first.keep(session_id, 60)
    assert second.is_open(session_id)
    second.close(session_id)
    assert not first.is_open(session_id)
