"""``maillage serve``'s HTTP protocol: what one loop iteration writes leaves as one write, in
order, before the connection closes; answers arrive whole over a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from maillage.http_protocol import CoalescedHttpTools, CoalescedWrites


class RecordingTransport:
    """The socket's side: what reached it, in order, and whether it was closed."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.events.append(data)

    def close(self) -> None:
        self.events.append("closed")
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else None


def _writes(steps: Any) -> list[Any]:
    """Run ``steps(writes)`` on a loop, then one more iteration; what the socket got."""

    async def main() -> list[Any]:
        recording = RecordingTransport()
        writes = CoalescedWrites(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        await steps(writes)
        await asyncio.sleep(0)
        return recording.events

    return asyncio.run(main())


def test_writes_of_one_iteration_leave_as_one_in_order() -> None:
    async def steps(writes: CoalescedWrites) -> None:
        writes.write(b"HTTP/1.1 200 OK\r\n\r\n")
        writes.write(bytearray(b"body"))
        assert writes.get_write_buffer_size() == 23  # waiting bytes count as buffered

    assert _writes(steps) == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


def test_a_later_iteration_writes_apart() -> None:
    async def steps(writes: CoalescedWrites) -> None:
        writes.write(b"first")
        await asyncio.sleep(0)
        writes.write(b"second")

    assert _writes(steps) == [b"first", b"second"]


def test_closing_sends_what_waits_first() -> None:
    async def steps(writes: CoalescedWrites) -> None:
        writes.write(b"last words")
        writes.close()

    assert _writes(steps) == [b"last words", "closed"]


def test_an_aborted_connection_sends_nothing_more() -> None:
    async def steps(writes: CoalescedWrites) -> None:
        writes.write(b"never sent")
        writes.abort()

    assert _writes(steps) == []


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/stream``: three pieces, a pause between them; anything else: one small body."""
    assert scope["type"] == "http"
    await receive()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for piece in (b"one,", b"two,", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"resourceType":"Bundle"}'
    headers = [(b"content-type", b"application/fhir+json"), (b"content-length", b"25")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, int]]:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, log_level="warning", lifespan="off", http=CoalescedHttpTools)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield listening.getsockname()
    running.should_exit = True
    thread.join(10)


def _exchange(address: tuple[str, int], requests: bytes, until: bytes, count: int = 1) -> bytes:
    """Send ``requests`` on one connection and read until ``until`` was seen ``count`` times
    or the server closed it."""
    with socket.create_connection(address, timeout=10) as client:
        client.sendall(requests)
        answer = b""
        while answer.count(until) < count:
            piece = client.recv(65536)
            if not piece:
                break
            answer += piece
        return answer


def test_answers_on_a_kept_connection_arrive_whole(server: tuple[str, int]) -> None:
    request = b"GET /fhir/Slot HTTP/1.1\r\nHost: maillage\r\n\r\n"
    answer = _exchange(server, request * 2, b'{"resourceType":"Bundle"}', count=2)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.count(b'{"resourceType":"Bundle"}') == 2


def test_a_closing_connection_gets_its_body_before_the_close(server: tuple[str, int]) -> None:
    request = b"GET /fhir/Slot HTTP/1.1\r\nHost: maillage\r\nConnection: close\r\n\r\n"
    answer = _exchange(server, request, b"never: the server closes")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b'\r\n\r\n{"resourceType":"Bundle"}')


def test_a_stream_arrives_in_order(server: tuple[str, int]) -> None:
    request = b"GET /stream HTTP/1.1\r\nHost: maillage\r\n\r\n"
    answer = _exchange(server, request, b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n")
