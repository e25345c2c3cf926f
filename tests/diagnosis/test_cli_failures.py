"""Foreseeable failures end a command with exit 2 and one clear line (130 for Ctrl-C), never a
traceback, and leave nothing half-written: OSRM servers that fail, unwritable output folders,
a full disk, an interrupted diagnosis or solve."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

import maillage
from maillage.cli import app

runner = CliRunner()
MAILLAGE = str(Path(sys.executable).with_name("maillage"))
#: The subprocess runs the code under test, not whichever copy the environment installed.
SOURCE = str(Path(maillage.__file__).parents[1])


def run(*args: str) -> tuple[int, str, float]:
    began = time.monotonic()
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output, time.monotonic() - began


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("erreur")]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


class Answers(BaseHTTPRequestHandler):
    """A throwaway web server on 127.0.0.1 that answers every request with ``reply``."""

    reply: tuple[int, str] = (200, "")

    def do_GET(self) -> None:
        status, body = self.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[type[Answers]]:
    handler = type("Reply", (Answers,), {})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        ((404, "Not Found"), "HTTP 404"),
        ((500, json.dumps({"code": "InternalError", "message": "boom"})), "HTTP 500"),
        ((503, "busy"), "HTTP 503 (3 tentatives)"),
        ((200, "{not json"), "HTTP 200"),
        ((200, "[1, 2]"), "HTTP 200"),
        ((200, json.dumps({"code": "Ok", "durations": "lots"})), "table"),
        ((200, json.dumps({"code": "Ok"})), "table"),
    ],
)
def test_an_osrm_server_that_fails_ends_with_one_line(
    answering: type[Answers], tmp_path: Path, reply: tuple[int, str], said: str
) -> None:
    answering.reply = reply
    out = tmp_path / "out"
    url = answering.url  # type: ignore[attr-defined]
    code, output, _ = run(
        "diagnose", "--department", "55", "--travel", f"osrm:{url}", "--out", str(out)
    )
    assert code == 2
    line = one_error_line(output)
    assert "OSRM" in line and said in line
    assert list(tmp_path.iterdir()) == []


def test_a_refused_connection_ends_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    code, output, _ = run(
        "diagnose", "--department", "55", "--travel", f"osrm:http://127.0.0.1:{port}",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2
    assert "injoignable" in one_error_line(output)
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_never_answers_times_out_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # accepts connections, never reads nor answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv("MAILLAGE_OSRM_TIMEOUT", "0.5")
        code, output, took = run(
            "diagnose", "--department", "55", "--travel", f"osrm:{url}",
            "--out", str(tmp_path / "out"),
        )  # fmt: skip
    assert code == 2
    assert "n'a pas répondu en 0.5 s" in one_error_line(output)
    assert took < 20
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_cannot_be_made_ends_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "fichier"
    blocker.write_text("not a folder")
    code, output, _ = run("diagnose", "--department", "55", "--out", str(blocker / "out"))
    assert code == 2
    assert "fichier" in one_error_line(output)
    assert blocker.read_text() == "not a folder"
    assert [p.name for p in tmp_path.iterdir()] == ["fichier"]


def test_a_full_disk_ends_with_one_line_and_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import pyarrow.parquet as pq

    def disk_full(table: object, where: object, **options: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

    monkeypatch.setattr(pq, "write_table", disk_full)
    code, output, _ = run("diagnose", "--department", "55", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "No space left on device" in one_error_line(output)
    assert list(tmp_path.iterdir()) == []


def interrupt(tmp_path: Path, args: list[str], after: str, wait_s: float) -> tuple[int, float, str]:
    """Run ``maillage *args`` in a subprocess, send SIGINT ``wait_s`` seconds after the line
    ``after`` appears; return the exit status, the seconds it took to stop, and the output."""
    command = subprocess.Popen(
        [MAILLAGE, *args], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": SOURCE}, cwd=tmp_path,
    )  # fmt: skip
    assert command.stderr is not None
    seen = []
    try:
        for line in command.stderr:
            seen.append(line)
            if after in line:
                break
        time.sleep(wait_s)
        assert command.poll() is None, "".join(seen)
        sent = time.monotonic()
        command.send_signal(signal.SIGINT)
        rest = command.stderr.read()
        status = command.wait(timeout=60)
        return status, time.monotonic() - sent, "".join(seen) + rest
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()


def test_ctrl_c_during_a_diagnosis_stops_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status, took, output = interrupt(
        tmp_path, ["diagnose", "--region", "all", "--out", str(out)], "Chargement des communes", 0.2
    )
    assert status == 130, output
    assert took < 10 and "interrompu" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_the_solve_stops_it_at_once(tmp_path: Path) -> None:
    """National p-median of 50 sites: its bounds (Lagrangian, then HiGHS' LP) take most of
    the time limit (~60 s)."""
    out = tmp_path / "out"
    args = ["plan", "--sites", "50", "--region", "all", "--objective", "pmedian",
            "--time-limit", "60", "--out", str(out)]  # fmt: skip
    status, took, output = interrupt(tmp_path, args, "Temps de trajet vers les sites", 3.0)
    assert status == 130, output
    assert took < 10 and "interrompu" in output and "Traceback" not in output
    assert list(tmp_path.iterdir()) == []
