"""A booking's announcement of its schedules survives a lost connection: the announcer logs
the failure, keeps the schedules and sends them on its next try, once."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import make_url

from maillage.store import slot_answers
from maillage.store.slot_answers import CHANNEL, RETRY_S, SlotAnswers


@pytest.mark.postgres
def test_an_announcement_lost_with_its_connection_is_sent_again(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    answers = SlotAnswers(60)

    async def announced() -> list[str]:
        pool = AsyncConnectionPool(
            url, kwargs={"autocommit": True}, min_size=1, max_size=1, open=False
        )
        async with pool, await psycopg.AsyncConnection.connect(url, autocommit=True) as listener:
            async with pool.connection() as connection:  # the pool's one connection...
                backend = connection.info.backend_pid
            await listener.execute("SELECT pg_terminate_backend(%s)", [backend])  # ...lost
            await listener.execute(f"LISTEN {CHANNEL}")
            announcer = asyncio.create_task(slot_answers.announce(pool, answers))
            answers.announce({"Schedule/a"})
            heard = [n.payload async for n in listener.notifies(timeout=RETRY_S + 5, stop_after=1)]
            heard += [n.payload async for n in listener.notifies(timeout=RETRY_S + 0.5)]
            announcer.cancel()
            return heard

    assert asyncio.run(announced()) == ["Schedule/a"]
    assert "announcement not sent" in caplog.text
