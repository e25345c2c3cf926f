"""HAProxy (Debian's package) on loopback in front of several ``maillage serve`` instances that
share one PostgreSQL: the scale-out of issue 23 shown rather than assumed. Requests are spread
round robin, one by one (a kept-alive client connection is balanced per request); each answer
names the instance that served it in ``X-Maillage-Instance``, and HAProxy's statistics socket
counts the answers per instance."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HEADER = "X-Maillage-Instance"
BACKEND = "maillage"


def haproxy_command() -> str | None:
    """The ``haproxy`` executable (Debian puts it in /usr/sbin, off a user's PATH), or None."""
    return shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Balancer:
    """A running HAProxy: its address, and the statistics socket that counts the answers."""

    base: str
    stats: Path

    def answers(self) -> dict[str, int]:
        """Answers per instance (``instance-1``, …) since HAProxy started, by its counters."""
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(str(self.stats))
            unix.sendall(b"show stat\n")
            chunks = []
            while chunk := unix.recv(65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode().splitlines()
        header = lines[0].removeprefix("# ").split(",")
        found = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == BACKEND and row["svname"] not in ("FRONTEND", "BACKEND"):
                classes = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
                found[row["svname"]] = sum(int(row[f"hrsp_{c}"] or 0) for c in classes)
        return found


def config(port: int, backends: list[int], stats: Path) -> str:
    """HAProxy's configuration: HTTP on 127.0.0.1:``port``, round robin over the backends'
    loopback ports, each answer tagged with its instance's name."""
    servers = "\n".join(
        f"  server instance-{n} 127.0.0.1:{backend}" for n, backend in enumerate(backends, 1)
    )
    return f"""global
  maxconn 4096
  stats socket {stats} mode 600 level user

defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend front
  bind 127.0.0.1:{port}
  default_backend {BACKEND}

backend {BACKEND}
  balance roundrobin
  http-response set-header {HEADER} %[srv_name]
{servers}
"""


@contextlib.contextmanager
def haproxy(backends: list[int], workdir: Path) -> Iterator[Balancer]:
    """HAProxy in the foreground before the servers on ``backends`` (their loopback ports),
    stopped on the way out."""
    command = haproxy_command()
    if command is None:
        raise RuntimeError("haproxy is missing: apt-get install haproxy")
    port, stats = _free_port(), workdir / "haproxy.sock"
    path = workdir / "haproxy.cfg"
    path.write_text(config(port, backends, stats), encoding="ascii")
    log = (workdir / "haproxy.log").open("w")
    process = subprocess.Popen(
        [command, "-db", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while not stats.exists() or not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                said = (workdir / "haproxy.log").read_text()
                raise RuntimeError(f"haproxy did not start: {said}")
            time.sleep(0.05)
        yield Balancer(f"http://127.0.0.1:{port}", stats)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
