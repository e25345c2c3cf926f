"""The local SMSC of the tests: ``server.js`` (npm package ``smpp``) run by Node.js.

Its npm dependencies are installed from the committed lock file on first use (``npm ci``), so
a clean clone needs nothing but Node.js and the npm registry. It prints one JSON line per event
(the port first); :class:`Smsc` keeps them, and reassembles concatenated texts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def install() -> str | None:
    """Install the server's npm dependencies once; the reason when that is impossible."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "Node.js and npm are needed for the local SMPP server"
    if not (HERE / "node_modules" / "smpp").is_dir():
        command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
        done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            return f"npm ci of the SMPP test server failed: {done.stderr.strip()}"
    return None


class Smsc:
    """A running server: its URL for ``MAILLAGE_SMS_URL`` and what it received."""

    def __init__(self, process: subprocess.Popen[str], system_id: str, password: str) -> None:
        assert process.stdout is not None
        self.process, self.events = process, list[dict[str, Any]]()
        self._arrived = threading.Condition()
        first = json.loads(process.stdout.readline())
        self.url = f"smpp://{system_id}:{password}@127.0.0.1:{first['port']}?source=MAILLAGE"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._arrived:
                self.events.append(json.loads(line))
                self._arrived.notify_all()

    def texts(self, count: int = 0) -> list[tuple[str, str]]:
        """The (destination, whole text) of each message, its parts joined in order, once at
        least ``count`` parts were printed (the server answers a part as it prints it, but
        this side reads the pipe in its own thread)."""

        def parts() -> int:
            return sum(event["event"] == "submit_sm" for event in self.events)

        with self._arrived:
            assert self._arrived.wait_for(lambda: parts() >= count, timeout=10), self.events
        whole: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for event in self.events:
            if event["event"] != "submit_sm":
                continue
            udh = next((u for u in event["udh"] if u.startswith("00")), None)
            key = (event["destination_addr"], udh[4:6] if udh else event["message_id"])
            order = int(udh[8:10], 16) if udh else 0
            whole.setdefault(key, []).append((order, event["text"]))
        return [(key[0], "".join(t for _, t in sorted(parts))) for key, parts in whole.items()]


@contextmanager
def running(system_id: str = "maillage", password: str = "pw-smpp1") -> Iterator[Smsc]:
    """Run the server on a free loopback port for the duration of the block."""
    env = {**os.environ, "SYSTEM_ID": system_id, "PASSWORD": password}
    process = subprocess.Popen(
        ["node", str(HERE / "server.js")], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        yield Smsc(process, system_id, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
