"""The composition root: settings in, the whole server out (API, pages, pools; migrations
applied).

The API (:mod:`maillage.api.app`) and the pages (:mod:`maillage.web.app`) are doors mounted
side by side here, so the API package never imports the pages.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import FastAPI
from psycopg import AsyncConnection
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maillage import __version__
from maillage.api import auth
from maillage.api.app import install as install_api
from maillage.care import validation
from maillage.care.policy import SUPPORTED_TYPES
from maillage.config import Settings, load_settings
from maillage.integrations.metadata import document_codes
from maillage.jobs.queue import job_queue
from maillage.store import slot_answers
from maillage.store.database import (
    cancel_running,
    cancellable,
    make_engine,
    session_factory,
    timeout_option,
    upgrade,
)
from maillage.store.models import utcnow
from maillage.store.resources import instant
from maillage.store.slot_answers import SlotAnswers
from maillage.web.app import install as install_web
from maillage.web.dataset_pages import UPLOAD_PATH
from maillage.web.session_store import session_store

#: Connections of the asynchronous pool: autocommit reads, each statement prepared at once,
#: and planned once (a slot search spent as long in planning as in executing).
READS = {
    "autocommit": True,
    "prepare_threshold": 0,
    "options": "-c plan_cache_mode=force_generic_plan",
}


async def _with_orjson(connection: AsyncConnection[Any]) -> None:
    """JSON through orjson on a connection of the asynchronous pool: a booking sends a few
    kilobytes of it and reads its participants' bodies, and the standard library's ``json``
    took about 3 % of the server's CPU under the booking benchmark (issue 23)."""
    set_json_dumps(orjson.dumps, connection)
    set_json_loads(orjson.loads, connection)


def _lifespan(
    threads: int, engine: Engine, statement_timeout: float, answers: SlotAnswers
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Size the pool of threads that run the synchronous routes, and on PostgreSQL open the
    asynchronous pool of the reads that run on the event loop (slot searches), listen to the
    slot calendar's notifications for ``answers`` (kept slot-search answers) and announce the
    schedules of this process's bookings.

    AnyIO's default, 40 threads, makes every request queue for the one interpreter lock among
    many runnable threads; a few threads overlap the database's answers with Python's work
    and switch far less (4 measured best with ``python -m bench booking``).

    At shutdown, after uvicorn's grace period, the statements of requests still running are
    cancelled (PostgreSQL) and every pool is closed.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            if engine.dialect.name != "postgresql":
                yield
                return
            url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            options = f"{READS['options']} {timeout_option(statement_timeout)}"
            reads = AsyncConnectionPool(
                url,
                min_size=1,
                max_size=2 * threads,
                kwargs={**READS, "options": options},
                configure=_with_orjson,
                open=False,
            )
            await reads.open()
            app.state.reads = reads
            listening = asyncio.create_task(slot_answers.listen(url, answers))
            announcing = asyncio.create_task(slot_answers.announce(reads, answers))
            try:
                yield
            finally:
                listening.cancel()
                announcing.cancel()
                app.state.reads = None
                await reads.close(timeout=1.0)
        finally:
            cancel_running(engine)
            engine.dispose()

    return lifespan


class CancelAbandoned:
    """ASGI middleware: when a client goes away before its answer, the PostgreSQL statements
    its request is running are cancelled, instead of holding a backend, its locks and a worker
    thread for nobody up to the statement timeout (a search of seconds, a transaction waiting
    for a lock).

    A request still running after ``LISTEN_AFTER_S`` gets a task that reads its messages for
    the app, one ahead at most (a body is never buffered whole), so it hears the disconnection
    even while the app works without reading. Quicker requests, nearly all, cost a timer only
    (measured on the loaded 2-core machine: 15 µs of CPU, where a task for every request cost
    50 µs, a few percent of a slot search's).
    """

    LISTEN_AFTER_S = 0.25

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._listening: set[asyncio.Task[None]] = set()  # the loop keeps weak references

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with cancellable() as cancel:
            exchange = _Exchange(self, receive, send, cancel)
            try:
                await self.app(scope, exchange.reading, exchange.answering)
            finally:
                exchange.close()


class _Exchange:
    """One request's messages as :class:`CancelAbandoned` passes them: whether the app has
    answered, and for a request that outlived ``LISTEN_AFTER_S``, the task that reads ahead.

    An object rather than closures: a closure that reschedules itself holds itself in a
    reference cycle, and with it every object of the request (uvicorn's, the app's), which then
    waited for the garbage collector; its passes over a second's requests stalled the loop for
    35-240 ms (issue 23)."""

    def __init__(
        self, owner: CancelAbandoned, receive: Receive, send: Send, cancel: Callable[[], int]
    ) -> None:
        self.owner, self.receive, self.send, self.cancel = owner, receive, send, cancel
        self.loop = asyncio.get_running_loop()
        self.answered = self.receiving = False
        self.listener: asyncio.Task[None] | None = None
        self.messages: MemoryObjectReceiveStream[Message] | None = None
        self.timer = self.loop.call_later(owner.LISTEN_AFTER_S, self.listen)

    async def reading(self) -> Message:
        if self.messages is None:
            self.receiving = True
            try:
                return await self.receive()
            finally:
                self.receiving = False
        try:
            return await self.messages.receive()
        except anyio.EndOfStream:
            return {"type": "http.disconnect"}

    async def answering(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.answered = True
        await self.send(message)

    def listen(self) -> None:
        if self.receiving:  # the app is reading its body: it alone reads, for now
            self.timer = self.loop.call_later(self.owner.LISTEN_AFTER_S, self.listen)
            return
        forward, self.messages = anyio.create_memory_object_stream[Message](1)
        self.listener = self.loop.create_task(self.listening(forward))
        self.owner._listening.add(self.listener)
        self.listener.add_done_callback(self.owner._listening.discard)

    async def listening(self, forward: MemoryObjectSendStream[Message]) -> None:
        with forward:  # closed at the disconnection, which the app then reads
            try:
                while (message := await self.receive())["type"] != "http.disconnect":
                    await forward.send(message)
            except anyio.BrokenResourceError:  # the request ended with its body unread
                return
        if not self.answered:  # cancelling may wait on the network: not on the loop
            threading.Thread(target=self.cancel, name="cancel-abandoned", daemon=True).start()

    def close(self) -> None:
        """The request has ended: no listener starts, a running one ends unless the server
        ends it (the app answered)."""
        self.timer.cancel()
        if self.listener is not None and not self.answered:
            self.listener.cancel()
        if self.messages is not None:
            self.messages.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the server for ``settings`` (from the environment when omitted).

    The schema is brought to the latest migration first, so a fresh database just works.
    """
    settings = settings or load_settings()
    document_codes(settings.document_codes)  # a wrong MAILLAGE_DOCUMENT_CODES stops the start
    engine = make_engine(
        settings.sqlalchemy_url,
        pool_size=settings.request_threads,
        statement_timeout=settings.statement_timeout_seconds,
    )
    upgrade(engine)
    answers = SlotAnswers(settings.slot_cache_seconds)
    timeout = settings.statement_timeout_seconds
    app = FastAPI(
        lifespan=_lifespan(settings.request_threads, engine, timeout, answers),
        title="maillage",
        version=__version__,
        description="Telemedicine network server: FHIR R4 REST, roadmap projects, audit.",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.reads = None  # the asynchronous pool, while the app runs on PostgreSQL
    app.state.slot_answers = answers
    answers.follow(app.state.sessions)
    app.state.login_limiter = auth.LoginLimiter(
        settings.login_rate_limit, settings.login_state_storage
    )
    app.state.web_sessions = session_store(settings.login_state_storage)
    app.state.principals = auth.Principals(engine, settings.principal_cache_seconds)
    app.state.started = instant(utcnow())
    app.state.job_queue = job_queue()
    uploads = {UPLOAD_PATH: settings.max_dataset_upload_bytes}
    install_api(app, settings.max_request_bytes, uploads)
    install_web(app)
    if engine.dialect.name == "postgresql":
        app.add_middleware(CancelAbandoned)
    return app


def serving_app() -> FastAPI:
    """The app of a server process (``maillage serve``, each worker), ready before its first
    request and its garbage collector kept out of the requests' latency: the FHIR models of
    the types it accepts are built first (instead of in the first request of each type), then
    what start-up built (modules, the app, its caches, the models) is frozen out of the
    collector's scans, and young collections run every 50,000 allocations instead of 700 (the
    slowest searches under load took two thirds as long: p99 about 250 ms instead of 400 ms in
    ``python -m bench booking``). Not for tests, which build many apps in one process: frozen
    objects are never freed."""
    app = create_app()
    validation.load_models(SUPPORTED_TYPES)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    return app
