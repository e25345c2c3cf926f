"""Worker processes of ``maillage serve --workers N``, each on a listening socket of its own.

uvicorn's workers share one listening socket, and an idle worker that the kernel wakes first
accepts every connection waiting: when 50 kept-alive connections arrive together (wrk, a
reverse proxy's pool, Tsung's sessions), one worker may get them all and serve them on one
core while the other idles (seen under the booking benchmark's wrk load, 50 connections: all
50 on one worker gave 2,825 cached slot searches a second, a 26-24 split 7,643). Here each
worker listens on its own socket of one ``SO_REUSEPORT`` group, and the kernel spreads new
connections among the sockets by a hash of their addresses, as nginx's ``reuseport`` does.

The parent holds the sockets, starts a worker per socket (uvicorn's ``Server`` in a process of
its own), starts a dead worker's replacement on the same socket (the connections it had not
accepted wait there), stops when a worker fails at start-up (it would fail again), and on
SIGINT or SIGTERM asks every worker to stop gracefully and waits for them.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess

import uvicorn
from uvicorn.config import STARTUP_FAILURE

logger = logging.getLogger("uvicorn.error")
spawn = multiprocessing.get_context("spawn")


def _listener(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that joins the port's ``SO_REUSEPORT`` group
    (only sockets of the same user may join it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def _work(config: uvicorn.Config, sock: socket.socket) -> None:
    """A worker process: uvicorn's server on ``sock``."""
    config.configure_logging()
    uvicorn.Server(config).run(sockets=[sock])


def run(config: uvicorn.Config, workers: int) -> None:
    """Serve ``config``'s app with ``workers`` processes until SIGINT or SIGTERM; exit 3 (as
    uvicorn does) when the address cannot be listened on."""
    try:
        sockets = [_listener(config.host, config.port, config.backlog) for _ in range(workers)]
    except OSError as error:
        logger.error("cannot listen on %s:%d: %s", config.host, config.port, error.strerror)
        raise SystemExit(STARTUP_FAILURE) from error
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())

    def started(sock: socket.socket) -> SpawnProcess:
        process = spawn.Process(target=_work, args=(config, sock), daemon=False)
        process.start()
        return process

    processes = [started(sock) for sock in sockets]
    logger.info("serving on %s:%d with %d workers", config.host, config.port, workers)
    while not stop.wait(0.5):
        for n, process in enumerate(processes):
            if process.is_alive():
                continue
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker %d failed to start: stopping", process.pid)
                stop.set()
                break
            logger.warning("worker %d exited (%s): starting another", process.pid, process.exitcode)
            processes[n] = started(sockets[n])
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn's graceful shutdown
    for process in processes:
        process.join()
    for sock in sockets:
        sock.close()
