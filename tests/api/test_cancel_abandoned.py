"""The disconnection listener of :class:`maillage.server.CancelAbandoned` hands the app its
request whole, whenever it starts, and ends with the request."""

from __future__ import annotations

import asyncio
import gc

import anyio
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maillage.server import CancelAbandoned

CHUNKS = [b"first ", b"second ", b"third"]


async def _late_reader(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that works before it reads its body (past the listener's start), then echoes it."""
    await anyio.sleep(CancelAbandoned.LISTEN_AFTER_S * 2)
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def test_a_body_read_after_the_listener_started_reaches_the_app_whole() -> None:
    async def main() -> list[Message]:
        pending = [
            {"type": "http.request", "body": chunk, "more_body": i < len(CHUNKS) - 1}
            for i, chunk in enumerate(CHUNKS)
        ]
        answered = anyio.Event()
        sent: list[Message] = []

        async def receive() -> Message:
            if pending:
                return pending.pop(0)
            await answered.wait()  # as a server does once the response is complete
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body":
                answered.set()

        middleware = CancelAbandoned(_late_reader)
        await middleware({"type": "http"}, receive, send)
        await anyio.sleep(0.01)  # the listener hears the end of the exchange
        assert not middleware._listening
        return sent

    sent = anyio.run(main)
    assert [m.get("body") for m in sent] == [None, b"".join(CHUNKS)]


async def _quick(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("app", [_quick, _late_reader], ids=["quick", "listened to"])
def test_a_request_leaves_nothing_to_the_garbage_collector(app: ASGIApp) -> None:
    """A request's objects go with their last reference: in a cycle, each waited for the
    collector, whose passes over a second's requests stalled the server's loop (issue 23)."""

    async def main() -> int:
        pending = [{"type": "http.request", "body": b"", "more_body": False}]
        answered = anyio.Event()

        async def receive() -> Message:
            if pending:
                return pending.pop()
            await answered.wait()  # then, as uvicorn, the end of the exchange
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                answered.set()

        middleware = CancelAbandoned(app)
        gc.collect()
        gc.disable()
        try:
            await middleware({"type": "http"}, receive, send)
            await anyio.sleep(0.01)  # a listener started ends
            return gc.collect()
        finally:
            gc.enable()

    assert anyio.run(main) == 0


async def _answers_unread(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers after the listener started without reading its body (a refusal
    decided from the headers, a request cut short)."""
    await anyio.sleep(CancelAbandoned.LISTEN_AFTER_S * 2)
    await _quick(scope, receive, send)


def test_a_listener_holding_an_unread_body_ends_quietly_with_the_request() -> None:
    """The listener forwards at most one message ahead: with the rest of an unread body in
    hand when the app answers, it ends with the request instead of failing in the background
    ("Task exception was never retrieved", seen under load in CI)."""

    async def main() -> list[dict]:
        problems: list[dict] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, c: problems.append(c))
        pending = [
            {"type": "http.request", "body": chunk, "more_body": i < len(CHUNKS) - 1}
            for i, chunk in enumerate(CHUNKS)
        ]
        answered = anyio.Event()

        async def receive() -> Message:
            if pending:
                return pending.pop(0)
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.body":
                answered.set()

        middleware = CancelAbandoned(_answers_unread)
        await middleware({"type": "http"}, receive, send)
        await anyio.sleep(0.01)
        assert not middleware._listening
        gc.collect()  # a task's unretrieved exception is reported when the task goes
        return problems

    assert anyio.run(main) == []
