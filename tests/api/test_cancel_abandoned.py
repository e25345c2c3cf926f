"""The disconnection listener of :class:`maillage.server.CancelAbandoned` hands the app its
request whole, whenever it starts, and ends with the request."""

from __future__ import annotations

import anyio
from starlette.types import Message, Receive, Scope, Send

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
