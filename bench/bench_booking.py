"""Slot search and booking under load on PostgreSQL, beside pgbench's figures for the same server.

pgbench first, on its own database of the server: TPC-B-like and select-only TPS at 50 clients,
the anchors the targets are ratios of (issue 23), with PostgreSQL's CPU and WAL records per
TPC-B transaction. Then a fresh database, migrated and seeded in bulk: 50 doctors and their
teleconsultation rooms, their schedules and free 20-minute slots at the same times, patients
and coordinator accounts, then vacuumed and checkpointed (:func:`maintained`, as pgbench
does). The server (``maillage serve``) on a free loopback port is driven by
wrk (bench/wrk_booking.lua: 50 connections on 2 threads, closed loop; a C load generator, like
pgbench's own client, so that the load tool does not take the server's CPU on a small machine)
in three phases: searches only (a day's free slots of a schedule) with slot-search answers kept;
search then book one of the slots found (a teleconsultation: the doctor's slot and the room's
at the same time; a 409 when another connection took it first is expected and counted); and
searches again on a server that keeps no answer (``MAILLAGE_SLOT_CACHE_SECONDS=0``).
Each phase reports the CPU per request of the server and of PostgreSQL, counted for the bench
database's backends only (:class:`DatabaseCPU`: the server is shared). SQL looks for double
bookings (a slot held twice, a person booked twice at once) after every phase. Last, pgbench
replays the SQL of one booking recorded through the API (``bench/booking_replay.py``), as sent
and batched (each on its own copy of the bench database), each transaction on its own pair of
free slots: the bookings per second PostgreSQL
alone allows this write set on this machine, with no application code. The WAL records per
booking (through the API, and replayed) are printed beside TPC-B's (``pg_walinspect``), with
those of chaining the bookings' queued AuditEvents afterwards (the audit chainer). Tsung
books at saturation and then at half that rate in an open loop, p99s beside pgbench TPC-B's
at 50 clients and at the same rate (``bench/open_loop.py``, target 4); wrk's search + book
runs again through HAProxy before one instance and before two (``bench/load_balancer.py``).
The targets 1-5 of issue 23 are printed with the figures of this run. Databases and processes
are removed at the end.

Environment: ``MAILLAGE_BENCH_POSTGRES`` (server URL, default the test server on
127.0.0.1:5432), ``MAILLAGE_BENCH_WORKERS`` (uvicorn worker processes, default 2: with wrk's
light client, two workers beat one on two cores, 490 against 300 searches/s),
``MAILLAGE_BENCH_REPLAY_ONLY=1`` (the anchors and the replay alone, no server nor wrk: about
two minutes, for comparing write sets before and after a change in one session),
``MAILLAGE_BENCH_SCALE_WORKERS`` (workers of each instance behind HAProxy, default 1). Needs
``wrk``, ``pgbench``, ``tsung`` and ``haproxy`` (Debian packages wrk, postgresql-client,
tsung, haproxy).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from bench import booking_replay, load_balancer, open_loop
from maillage.api.auth import issue_token
from maillage.config import Settings
from maillage.store import audit, slot_calendar
from maillage.store.database import (
    insert_rows,
    make_engine,
    session_factory,
    transaction,
    upgrade,
)
from maillage.store.models import (
    RESOURCES,
    SEARCH_INDEX,
    SLOT_CALENDAR,
    VERSIONS,
    User,
    utcnow,
)
from maillage.store.resources import index_rows, instant
from maillage.store.search_params import extract

SERVER = os.environ.get(
    "MAILLAGE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
WORKERS = int(os.environ.get("MAILLAGE_BENCH_WORKERS", "2"))
REPLAY_ONLY = os.environ.get("MAILLAGE_BENCH_REPLAY_ONLY") == "1"
USERS, SECONDS, PGBENCH_SECONDS, PGBENCH_SCALE = 50, 30, 20, 50
OPEN_SECONDS = 20  # each Tsung phase and pgbench -R (target 4)
SCALE_WORKERS = int(os.environ.get("MAILLAGE_BENCH_SCALE_WORKERS", "1"))
SAMPLE_S, WAL_TRANSACTIONS, CONNECTION_TRIES = 0.2, 400, 8
PRACTITIONERS, PATIENTS, DAYS, FIRST_DAY = 50, 2000, 100, date(2027, 1, 4)
#: 20-minute slots from 8:00 to 18:00: 30 a day, 150,000 pairs (a doctor's and the room's), so
#: that the replays of the one-call booking (about 1,300 a second, each form 20 s), after the API's
#: phases (about 32,000 bookings), do not run out of free pairs (90,000 did, on a quick day).
SLOT_TIMES = [(hour, minute) for hour in range(8, 18) for minute in (0, 20, 40)]
SECRET = "bench-" + uuid.uuid4().hex * 2
WRK_SCRIPT = Path(__file__).with_name("wrk_booking.lua")
WRK_THREADS = 2
BULK_BATCH = 10_000
HOLDING = "('pending', 'booked', 'arrived', 'checked-in', 'fulfilled')"


@contextlib.contextmanager
def fresh_database(prefix: str, template: URL | None = None) -> Iterator[URL]:
    """A new database on the server (a copy of ``template``'s, which nobody may be connected
    to, when given), dropped (connections and all) on the way out."""
    server = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template.database}" STRATEGY FILE_COPY' if template else ""
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield server.url.set(database=name)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


def _slots(schedule: str, weekdays: int) -> Iterator[dict[str, Any]]:
    """Slots of ``weekdays`` days from 4 January, written at Paris's winter offset (+01:00),
    busy nowhere."""
    days = [FIRST_DAY + timedelta(d) for d in range(weekdays * 7 // 5 + 7)]
    for day in [d for d in days if d.weekday() < 5][:weekdays]:
        for hour, minute in SLOT_TIMES:
            start = datetime(day.year, day.month, day.day, hour, minute)
            yield {
                "resourceType": "Slot",
                "id": f"{schedule}-{start:%Y%m%d%H%M}",
                "schedule": {"reference": f"Schedule/{schedule}"},
                "status": "free",
                "start": f"{start:%Y-%m-%dT%H:%M:%S}+01:00",
                "end": f"{start + timedelta(minutes=20):%Y-%m-%dT%H:%M:%S}+01:00",
            }


def bulk_store(url: str, bodies: Iterable[dict[str, Any]], settings: Settings) -> None:
    """Insert version-1 resources with their index rows (and the slots' calendar rows) in bulk
    (the API would take minutes), ``BULK_BATCH`` resources a transaction, then ANALYZE."""
    now = utcnow()
    meta = {"versionId": "1", "lastUpdated": instant(now)}
    engine = make_engine(url)
    remaining = iter(bodies)
    while batch := list(itertools.islice(remaining, BULK_BATCH)):
        rows, index, calendar = [], [], []
        for body in batch:
            kind, rid = body["resourceType"], body["id"]
            stored = {**body, "meta": meta}
            rows.append(
                {
                    "resource_type": kind,
                    "id": rid,
                    "version_id": 1,
                    "last_updated": now,
                    "deleted": False,
                    "body": stored,
                }
            )
            values = extract(kind, rid, stored, settings.zone)
            index += index_rows(kind, rid, values)
            if kind == "Slot":
                calendar.append(slot_calendar.row(rid, values, now))
        with engine.begin() as connection:
            for table, written in ((RESOURCES, rows), (VERSIONS, rows), (SEARCH_INDEX, index)):
                insert_rows(connection, table, written)
            insert_rows(connection, SLOT_CALENDAR, calendar)
    # Planner statistics, as autovacuum would gather them after such a load: without them the
    # slot search runs a nested loop over the whole index (90 ms instead of 2 ms).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def seed(url: str, settings: Settings, days: int = DAYS) -> dict[str, Any]:
    """Practitioners and the teleconsultation rooms they consult into (doctor ``doc-i``, room
    ``room-i``), their schedules (``sched-i``, ``room-sched-i``) and free slots at the same
    times over ``days`` weekdays (a room slot's id is ``room-`` and its doctor slot's),
    patients and coordinators; returns what wrk's script needs (tokens, schedule, practitioner
    and room ids, days). Tests seed a few days: the benchmark's 300,000 slots take minutes."""
    doctors = [f"doc-{i}" for i in range(PRACTITIONERS)]
    rooms = [f"room-{i}" for i in range(PRACTITIONERS)]
    schedules = [f"sched-{i}" for i in range(PRACTITIONERS)]
    patients = [f"pat-{i}" for i in range(PATIENTS)]
    bodies: list[dict[str, Any]] = []
    for doctor, room, schedule in zip(doctors, rooms, schedules, strict=True):
        bodies.append({"resourceType": "Practitioner", "id": doctor, "name": [{"family": doctor}]})
        bodies.append({"resourceType": "Location", "id": room, "name": f"Cabine {room}"})
        for owner, schedule_id in (
            (f"Practitioner/{doctor}", schedule),
            (f"Location/{room}", f"room-{schedule}"),
        ):
            bodies.append(
                {
                    "resourceType": "Schedule",
                    "id": schedule_id,
                    "active": True,
                    "actor": [{"reference": owner}],
                }
            )
            bodies.extend(_slots(schedule_id, days))
    bodies += [{"resourceType": "Patient", "id": p, "name": [{"family": p}]} for p in patients]
    bulk_store(url, bodies, settings)
    engine = make_engine(url)
    digest = PasswordHasher().hash(uuid.uuid4().hex)
    with transaction(session_factory(engine)) as session:
        users = [
            User(email=f"coord-{i}@bench.invalid", password_hash=digest, role="coordinator")
            for i in range(USERS)
        ]
        session.add_all(users)
        session.flush()
        tokens = [issue_token(settings, user) for user in users]
    engine.dispose()
    slot_days = sorted({b["start"][:10] for b in bodies if b["resourceType"] == "Slot"})
    return {
        "tokens": tokens,
        "schedules": schedules,
        "practitioners": doctors,
        "rooms": rooms,
        "patients": patients,
        "days": slot_days,
        "slots": sum(b["resourceType"] == "Slot" for b in bodies),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (uvicorn workers, PostgreSQL's
    backends), plus what its exited children used, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            if current == pid:
                total += (int(fields[13]) + int(fields[14])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


def postmaster(url: str) -> int | None:
    """The PostgreSQL server's main process when it runs on this machine (its CPU is then read
    from /proc, like the server's), else None."""
    engine = make_engine(url)
    with engine.connect() as connection:
        backend = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with contextlib.suppress(OSError):
            if Path(f"/proc/{backend}/comm").read_text().strip() == "postgres":
                parent = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1]
                engine.dispose()
                return int(parent)
    engine.dispose()
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DatabaseCPU:
    """CPU seconds of one database's backends while the block runs, read from /proc every
    ``SAMPLE_S`` for the backends ``pg_stat_activity`` lists on that database: the other
    databases of a shared server are left out, and so are its shared processes (WAL writer,
    checkpointer, the sampler's own backend). A backend that exits loses its last sample's
    worth at most; one that starts counts from zero."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url).set(drivername="postgresql").render_as_string(False)
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.connection = psycopg.connect(self.url, autocommit=True)
        self._sample(initial=True)

    def __enter__(self) -> DatabaseCPU:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self._sample(initial=False)
        self.connection.close()

    @property
    def seconds(self) -> float:
        return sum(spent - self.first[pid] for pid, spent in self.last.items())

    def _run(self) -> None:
        while not self.stop.wait(SAMPLE_S):
            self._sample(initial=False)

    def _sample(self, initial: bool) -> None:
        pids = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        for (pid,) in pids:
            if Path(f"/proc/{pid}").exists():
                spent = cpu_seconds(pid)
                self.first.setdefault(pid, spent if initial else 0.0)
                self.last[pid] = spent


def wal_per_transaction(url: str, run: Callable[[], int]) -> dict[str, float] | None:
    """WAL records and bytes per transaction of ``run`` (it returns how many it committed),
    read by ``pg_walinspect`` between the WAL positions around it and kept to this database:
    the records of the transactions that wrote its blocks, and those on its blocks without a
    transaction (other databases of a shared server write WAL meanwhile). None when the
    extension is missing or the WAL was recycled before it was read."""
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            start = connection.exec_driver_sql("SELECT pg_current_wal_insert_lsn()").scalar_one()
            committed = run()
            mine = connection.execute(
                text(
                    "SELECT '%/' || oid || '/%' FROM pg_database WHERE datname = current_database()"
                )
            ).scalar_one()
            records, size = connection.execute(
                text(
                    "WITH w AS (SELECT xid, block_ref, record_length FROM"
                    " pg_get_wal_records_info(:start, pg_current_wal_flush_lsn())),"
                    " ours AS (SELECT DISTINCT xid FROM w WHERE xid <> 0 AND block_ref LIKE :mine)"
                    " SELECT count(*), coalesce(sum(record_length), 0) FROM w WHERE"
                    " xid IN (SELECT xid FROM ours) OR (xid = 0 AND block_ref LIKE :mine)"
                ),
                {"start": start, "mine": mine},
            ).one()
    except DBAPIError as error:
        print(f"  WAL not read: {str(error.orig).splitlines()[0]}")
        return None
    finally:
        engine.dispose()
    return {"records": records / max(committed, 1), "bytes": size / max(committed, 1)}


@contextlib.contextmanager
def running_server(
    url: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    workers: int | None = None,
    name: str = "server",
) -> Iterator[tuple[str, int]]:
    """``maillage serve --workers WORKERS`` (or ``workers``) on a free port (more environment:
    ``env``), its output in ``workdir/name.log``, stopped afterwards."""
    port = _free_port()
    env = {
        **(env or {}),
        **os.environ,
        "MAILLAGE_DATABASE_URL": url,
        "MAILLAGE_SECRET_KEY": SECRET,
        "MAILLAGE_TOKEN_MINUTES": "60",
        "MAILLAGE_FILES_DIR": str(workdir / "files"),
        "MAILLAGE_ACCESS_LOG": "false",  # as behind a reverse proxy that logs; see README
    }
    maillage = str(Path(sys.executable).with_name("maillage"))
    command = [maillage, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers or WORKERS)]
    log = (workdir / f"{name}.log").open("w")
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                said = (workdir / f"{name}.log").read_text()[-2000:]
                raise RuntimeError(f"server exited: {said}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/fhir/metadata", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer within 60 s")
            time.sleep(0.3)
        print(f"server: {' '.join(Path(c).name for c in command[:5])}… pid {process.pid}")
        yield base, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _lua_string(text: str) -> str:
    """A Lua string literal: printable ASCII as is, quotes, backslashes and any other byte as
    a three-digit decimal escape."""
    plain = {chr(b) for b in range(32, 127)} - {'"', "\\"}
    escaped = "".join(c if c in plain else "".join(f"\\{b:03d}" for b in c.encode()) for c in text)
    return f'"{escaped}"'


def _lua(value: Any) -> str:
    """``value`` (dicts, lists, strings, numbers) as a Lua literal, for the wrk script's seed."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    if isinstance(value, str):
        return _lua_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def run_wrk(base: str, seed: dict[str, Any], workdir: Path, mode: str) -> dict[str, Any]:
    """wrk against ``base`` (``mode`` search: searches only; book: search then book), USERS
    connections for SECONDS; the WRK_RESULT line of its script, as a dict: duration_s,
    requests, searches, bookings, conflicts, booking_requests (sent, answered or not),
    failures (by status), first_failure, p50_ms and p99_ms (over all the requests),
    socket_errors (connect, read, write, status, timeout)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: apt-get install wrk")
    seed_file = workdir / "seed.lua"
    keys = ("tokens", "schedules", "practitioners", "rooms", "patients", "days")
    seed_file.write_text("return " + _lua({k: seed[k] for k in keys}) + "\n", encoding="ascii")
    command = [wrk, f"-t{WRK_THREADS}", f"-c{USERS}", f"-d{SECONDS}s", "--latency"]
    command += ["--timeout", "10s"]
    command += ["-s", str(WRK_SCRIPT), base]
    env = {**os.environ, "BENCH_SEED_LUA": str(seed_file), "BENCH_MODE": mode}
    env["BENCH_THREADS"] = str(WRK_THREADS)
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=SECONDS + 60,
        check=False,
    )
    (workdir / f"wrk-{mode}.log").write_text(done.stdout + done.stderr)
    found = re.search(r"^WRK_RESULT (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        output = (done.stdout + done.stderr)[-2000:]
        raise RuntimeError(f"wrk failed ({done.returncode}): {output}")
    return json.loads(found.group(1))


def _measured(
    base: str, servers: list[int], url: str | None, seed: dict[str, Any], workdir: Path, mode: str
) -> dict[str, Any]:
    """One wrk phase and the CPU seconds that the servers (their processes) and, when ``url``
    is given (its PostgreSQL runs here), the bench database's backends used in it."""
    before = sum(cpu_seconds(server) for server in servers)
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(DatabaseCPU(url)) if url else None
        stats = run_wrk(base, seed, workdir, mode)
    stats["cpu_s"] = {"server": sum(cpu_seconds(server) for server in servers) - before}
    if database is not None:
        stats["cpu_s"]["PostgreSQL (this database)"] = database.seconds
    return stats


def _unexpected(stats: dict[str, Any]) -> dict[str, int]:
    """A phase's failures other than the expected 409s: answers by status, and socket errors
    (wrk's "status" error count is left out: it counts the answers above 399, 409s included)."""
    found = {str(status): count for status, count in stats["failures"].items()}
    for kind in ("connect", "read", "write", "timeout"):
        if stats["socket_errors"].get(kind):
            found[f"socket {kind}"] = stats["socket_errors"][kind]
    return found


def double_bookings(url: str) -> dict[str, int]:
    """Counts straight from the tables: slots held by two live appointments, people booked at
    overlapping times, and busy slots against booked appointments."""
    live = "r.resource_type = 'Appointment' AND NOT r.deleted AND r.body->>'status' IN " + HOLDING
    queries = {
        "booked appointments": f"SELECT count(*) FROM fhir_resource r WHERE {live}",
        "busy slots": "SELECT count(*) FROM fhir_resource WHERE resource_type = 'Slot' "
        "AND body->>'status' = 'busy'",
        "slots held twice": f"""
            SELECT count(*) FROM (
              SELECT s.value FROM fhir_search s JOIN fhir_resource r
                ON r.resource_type = s.resource_type AND r.id = s.resource_id
              WHERE s.param = 'slot' AND {live}
              GROUP BY s.value HAVING count(*) > 1) twice""",
        # Per person, in order of start: a booking starting before the latest end of the
        # earlier ones overlaps one of them (a sort, where comparing all pairs took minutes).
        "people booked twice at once": f"""
            SELECT count(*) FROM (
              SELECT (r.body->>'start')::timestamptz AS s, max((r.body->>'end')::timestamptz)
                OVER (PARTITION BY a.value ORDER BY (r.body->>'start')::timestamptz, r.id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_end
              FROM fhir_resource r JOIN fhir_search a
                ON a.resource_type = r.resource_type AND a.resource_id = r.id AND a.param = 'actor'
              WHERE {live}) booked
            WHERE s < earlier_end""",
    }
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # Statistics of the bookings just made (the seed's said "no appointment": the planner
        # then compared every appointment with every other, for minutes).
        connection.exec_driver_sql("ANALYZE fhir_resource, fhir_search")
        found = {name: connection.execute(text(sql)).scalar_one() for name, sql in queries.items()}
    engine.dispose()
    return found


def _pgbench(url: URL, *args: str) -> float:
    command = ["pgbench", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    command += ["-U", url.username or "postgres", *args, url.database or ""]
    for _ in range(CONNECTION_TRIES):  # a shared server may be out of connections a while
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if "too many clients already" not in done.stderr:
            break
        time.sleep(15)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr[-1500:]}")
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    return float(match.group(1)) if match else float("nan")


def pgbench_tps(url: URL, local: bool, workdir: Path) -> dict[str, Any]:
    """TPC-B-like and select-only TPS at 50 clients, on the fresh pgbench database ``url``
    (initialised here), with TPC-B's p99 (from its per-transaction log), the PostgreSQL CPU per
    TPC-B transaction (``local``: PostgreSQL runs here) and the WAL of a short TPC-B run per
    transaction."""
    if shutil.which("pgbench") is None:
        raise RuntimeError("pgbench is missing: apt-get install postgresql-client")
    _pgbench(url, "-i", "-q", "-I", "dtGvp", "-s", str(PGBENCH_SCALE))
    clients = ["-c", str(USERS), "-j", "2", "-T", str(PGBENCH_SECONDS)]
    plain = url.render_as_string(hide_password=False)
    with DatabaseCPU(plain) if local else contextlib.nullcontext() as database:
        tpcb = _pgbench(url, *clients, "--log", f"--log-prefix={workdir / 'tpcb'}")
    found: dict[str, Any] = {"tpcb": tpcb, "select": _pgbench(url, *clients, "-S")}
    found["p99_ms"] = open_loop.percentile(open_loop.pgbench_latencies(workdir, "tpcb"), 99)
    if database is not None:
        found["cpu_ms"] = 1000 * database.seconds / (tpcb * PGBENCH_SECONDS)

    def short_run() -> int:
        _pgbench(url, "-c", "4", "-j", "2", "-t", str(WAL_TRANSACTIONS // 4))
        return WAL_TRANSACTIONS

    found["wal"] = wal_per_transaction(plain, short_run)
    return found


def pgbench_at_rate(url: URL, rate: float, workdir: Path) -> dict[str, float]:
    """TPC-B at ``rate`` transactions a second (``pgbench -R``, Poisson arrivals, 50 clients)
    for ``OPEN_SECONDS``: the TPS reached and the p99 counted from each scheduled start."""
    prefix = f"tpcb-at-{rate:.0f}"
    clients = ["-c", str(USERS), "-j", "2", "-T", str(OPEN_SECONDS), "-R", f"{rate:.2f}"]
    tps = _pgbench(url, *clients, "--log", f"--log-prefix={workdir / prefix}")
    latencies = open_loop.pgbench_latencies(workdir, prefix)
    return {"tps": tps, "p99_ms": open_loop.percentile(latencies, 99)}


def latency_phases(
    base: str,
    url: str,
    seeded: dict[str, Any],
    workdir: Path,
    checks: list[tuple[str, dict]],
    guess: float,
) -> dict[str, open_loop.Latencies]:
    """Target 4's booking phases through Tsung: at saturation (``USERS`` sessions booking back
    to back, for about ``OPEN_SECONDS`` if bookings go at ``guess`` a second), then at half the
    bookings per second reached (an open loop) for ``OPEN_SECONDS``, each on free pairs of
    slots of its own; each checked for double bookings (into ``checks``)."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    found: dict[str, open_loop.Latencies] = {}
    rate: float | None = None
    for phase in ("saturation", "half rate"):
        pairs = workdir / f"pairs-{phase.replace(' ', '-')}.csv"
        each = max(math.ceil(1.5 * guess * OPEN_SECONDS / USERS), 2)
        wanted = 4 * int(rate * OPEN_SECONDS) + 100 if rate else USERS * each + 100
        drawn = open_loop.write_pairs(url, seeded["tokens"], pairs, wanted, phase[0])
        scenario = open_loop.config(host, int(port), pairs, OPEN_SECONDS, rate, USERS, each)
        found[phase] = open_loop.run_tsung(scenario, workdir, phase.replace(" ", "-"), 600)
        booked = sum(found[phase].statuses.values())
        if booked >= drawn:
            raise RuntimeError(f"tsung {phase}: {booked} bookings for {drawn} pairs of slots")
        checks.append((f"tsung, {phase}", double_bookings(url)))
        rate = found[phase].rate / 2
    return found


def scale_out(
    url: str, workdir: Path, seeded: dict[str, Any], measured: str | None, checks: list
) -> dict[int, dict[str, Any]]:
    """Search + book through HAProxy before one instance, then before two (``maillage serve
    --workers SCALE_WORKERS`` each, one PostgreSQL): wrk's figures per instance count, with
    the answers each instance gave (HAProxy's counters); double bookings checked after each."""
    found: dict[int, dict[str, Any]] = {}
    for count in (1, 2):
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(
                    running_server(url, workdir, workers=SCALE_WORKERS, name=f"instance-{n}")
                )
                for n in range(1, count + 1)
            ]
            ports = [int(base.rsplit(":", 1)[1]) for base, _ in servers]
            balancer = stack.enter_context(load_balancer.haproxy(ports, workdir))
            pids = [pid for _, pid in servers]
            found[count] = _measured(balancer.base, pids, measured, seeded, workdir, "book")
            found[count]["instances"] = balancer.answers()
        checks.append((f"search + book, {count} behind HAProxy", double_bookings(url)))
    return found


def replay_ceilings(
    url: URL,
    settings: Settings,
    seeded: dict[str, Any],
    checks: list[tuple[str, dict]],
    chained: bool = False,
) -> dict[str, Any]:
    """Bookings per second that the booking's own SQL reaches when pgbench replays it (50
    clients, as sent and batched: ``bench/booking_replay.py``), each form on its own copy of
    the bench database as the wrk phases left it (so that neither runs short of free slots on
    a fast machine: one took 150,000 pairs in 40 s), after :func:`maintained`, and checked for
    double bookings (into ``checks``); then, as sent, its WAL per booking on a short run. With
    ``chained``, the AuditEvents the batched form queued are chained (:func:`_chainer_line`)."""
    found: dict[str, Any] = {}
    for form in ("as sent", "batched"):
        with fresh_database("maillage_replay", url) as copy, tempfile.TemporaryDirectory() as tmp:
            found |= _replay(copy, settings, seeded, form, Path(tmp) / "replay.sql")
            plain = copy.render_as_string(hide_password=False)
            checks.append((f"replay {form}", double_bookings(plain)))
            if chained and form == "batched":
                found["chainer"] = _chainer_line(plain, settings)
    return found


def _replay(
    url: URL, settings: Settings, seeded: dict[str, Any], form: str, path: Path
) -> dict[str, Any]:
    """One form of the replay on the database at ``url``: its figures (and, as sent, the WAL
    per booking) and the free slot pairs it could draw."""
    plain = url.render_as_string(hide_password=False)
    recorded = booking_replay.record(
        settings.model_copy(update={"database_url": plain}),
        seeded["tokens"][0],
        seeded["schedules"][-1],
        f"Practitioner/{seeded['practitioners'][-1]}",
        f"Location/{seeded['rooms'][-1]}",
    )
    found: dict[str, Any] = {
        "pairs": booking_replay.draw_from_slots(plain),
        "statements": len(recorded.statements),
    }
    as_sent = booking_replay.script(recorded, plain)
    replay = as_sent if form == "as sent" else booking_replay.batched(as_sent)
    path.write_text(replay, encoding="utf-8")
    maintained(plain)
    before = booking_replay.appointments(plain)
    _pgbench(url, "-n", "-c", str(USERS), "-j", "2", "-T", str(PGBENCH_SECONDS), "-f", str(path))
    committed = booking_replay.appointments(plain) - before
    found[form] = {
        "round_trips": booking_replay.round_trips(replay),
        "bookings": committed / PGBENCH_SECONDS,
    }
    if form == "as sent":

        def short_run() -> int:
            before = booking_replay.appointments(plain)
            per_client = str(WAL_TRANSACTIONS // 4)
            _pgbench(url, "-n", "-c", "4", "-j", "2", "-t", per_client, "-f", str(path))
            return booking_replay.appointments(plain) - before

        found["wal"] = wal_per_transaction(plain, short_run)
    found[form]["drawn"] = booking_replay.drawn(plain)
    return found


def maintained(url: str) -> None:
    """VACUUM (ANALYZE) the bench database, then CHECKPOINT, after the seed and before a
    replay: pgbench vacuums the TPC-B anchor's tables before each run, and the server's first
    phase or the replay would otherwise pay, during its seconds, for the bulk load's or the
    earlier phases' work left to autovacuum and a checkpoint."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
        connection.execute("CHECKPOINT")


def _chainer_line(url: str, settings: Settings) -> str:
    """Chain the AuditEvents the bookings queued, as ``maillage outbox audit`` does, and say
    what it cost (WAL per event, events per second): the audit's work off the booking's path."""
    engine = make_engine(url)
    chained = {"events": 0}

    def chain() -> int:
        # Every queued row (the worker's own batches wait for every older transaction of the
        # shared server): the same work, counted whatever other databases are doing.
        chained["events"] = audit.drain(session_factory(engine), settings.zone)
        return chained["events"]

    started = time.perf_counter()
    try:
        wal = wal_per_transaction(url, chain)
    finally:
        engine.dispose()
    rate = chained["events"] / (time.perf_counter() - started)
    return (
        f"  the audit chainer afterwards (off the booking's path): {chained['events']} queued "
        f"AuditEvents chained, {rate:.0f}/s, WAL per event: {_wal(wal)}"
    )


def _phase_line(phase: str, stats: dict[str, Any]) -> dict[str, int]:
    """Print a wrk phase's figures; returns its unexpected failures."""
    rate = {k: stats[k] / stats["duration_s"] for k in ("searches", "bookings")}
    unexpected = _unexpected(stats)
    print(
        f"  phase {phase}: {stats['searches']} searches ({rate['searches']:.1f}/s), "
        f"{stats['bookings']} bookings ({rate['bookings']:.1f}/s), "
        f"409 conflicts {stats['conflicts']}, other failures {sum(unexpected.values())}"
        + (f" {unexpected}" if unexpected else "")
    )
    cpu = ", ".join(
        f"{name} {1000 * spent / max(stats['requests'], 1):.2f}"
        for name, spent in stats["cpu_s"].items()
    )
    print(
        f"    {stats['requests']} requests, p50 {stats['p50_ms']:.0f} ms, "
        f"p99 {stats['p99_ms']:.0f} ms; CPU ms per request: {cpu}"
    )
    if stats["first_failure"]:
        print(f"    first unexpected answer: {stats['first_failure']}")
    return unexpected


def _wal(found: dict[str, float] | None) -> str:
    if found is None:
        return "not measured"
    return f"{found['records']:.1f} records, {found['bytes'] / 1024:.1f} KiB"


def _replay_lines(ceilings: dict[str, Any], ceiling: dict[str, Any]) -> None:
    """Print the replay's bookings per second, as ratios to TPC-B, and its WAL per booking."""
    print(
        f"  the booking's own SQL ({ceilings['statements']} statements) replayed by pgbench, "
        f"{USERS} clients, no application code, simple protocol like the TPC-B anchor; each "
        f"form on its own copy of the database, with {ceilings['pairs']} free slot pairs"
    )
    for form in ("as sent", "batched"):
        rate = ceilings[form]["bookings"]
        print(
            f"    {form}, {ceilings[form]['round_trips']} round trips: {rate:.0f} bookings/s, "
            f"{rate / ceiling['tpcb']:.3f} × TPC-B ({ceilings[form]['drawn']} pairs drawn, "
            "each once)"
        )
    print(
        f"    WAL per replayed booking: {_wal(ceilings['wal'])} "
        f"(TPC-B: {_wal(ceiling['wal'])} per transaction)"
    )


def _replay_only_end(
    ceilings: dict[str, Any],
    ceiling: dict[str, Any],
    checks: list[tuple[str, dict[str, int]]],
    started: float,
) -> None:
    """Close a replay-only run: target 1, the double-booking checks, the load."""
    for phase, found in checks:
        print(f"  SQL after {phase}: " + ", ".join(f"{k} {v}" for k, v in found.items()))
    ratio = ceilings["as sent"]["bookings"] / ceiling["tpcb"]
    print(f"  1. replayed booking (as sent) ÷ TPC-B: {ratio:.3f} (target ≥ 0.40)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if sum(c["slots held twice"] + c["people booked twice at once"] for _, c in checks):
        raise SystemExit("double bookings after the replay: see above")


def _scale_lines(phases: dict[str, dict[str, Any]], scaled: dict[int, dict[str, Any]]) -> None:
    """API bookings a second with one instance and with two behind HAProxy, side by side."""
    direct = phases["search + book"]
    rates = {n: stats["bookings"] / stats["duration_s"] for n, stats in scaled.items()}
    print(
        f"scale-out (wrk search + book through HAProxy, round robin; each instance "
        f"`maillage serve --workers {SCALE_WORKERS}`, one PostgreSQL): 1 instance "
        f"{rates[1]:.1f} bookings/s, 2 instances {rates[2]:.1f} bookings/s "
        f"({rates[2] / rates[1] if rates[1] else 0.0:.2f}×); answers per instance "
        f"{scaled[2]['instances']}; direct to one instance of {WORKERS} workers "
        f"(no proxy): {direct['bookings'] / direct['duration_s']:.1f} bookings/s"
    )


def _latency_lines(
    latencies: dict[str, open_loop.Latencies], ceiling: dict[str, Any], at_rate: dict[str, float]
) -> list[tuple[str, float, float]]:
    """Target 4's figures; returns (label, ratio, target ≤) of each."""
    saturated, half = latencies["saturation"], latencies["half rate"]
    print(
        f"tsung (bookings only, each on its own free pair of slots), {OPEN_SECONDS} s a phase; "
        f"p99 over the 201s its dump holds, answers by status (Tsung's counters):"
    )
    print(
        f"  saturation ({USERS} sessions back to back, kept connections): "
        f"{saturated.rate:.1f} bookings/s, "
        f"p99 {saturated.p99_ms:.0f} ms {dict(saturated.statuses)}; pgbench TPC-B at "
        f"{USERS} clients: {ceiling['tpcb']:.0f} TPS, p99 {ceiling['p99_ms']:.0f} ms"
    )
    print(
        f"  open loop at half that, {saturated.rate / 2:.1f}/s asked (Poisson arrivals): "
        f"{half.rate:.1f} bookings/s, p99 {half.p99_ms:.0f} ms {dict(half.statuses)}; "
        f"pgbench -R {saturated.rate / 2:.1f} TPC-B: {at_rate['tps']:.1f} TPS, "
        f"p99 {at_rate['p99_ms']:.1f} ms"
    )
    for phase, found in latencies.items():
        if len(found.booked_ms) < found.statuses["201"]:
            print(f"  {phase}: {len(found.booked_ms)} of the 201s in Tsung's dump")
    return [
        ("4. booking p99 ÷ TPC-B p99, open loop at half", half.p99_ms / at_rate["p99_ms"], 3.0),
        ("4. booking p99 ÷ TPC-B p99, at saturation", saturated.p99_ms / ceiling["p99_ms"], 2.0),
    ]


def main() -> None:
    started = time.perf_counter()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with contextlib.ExitStack() as stack:
        server_url = stack.enter_context(fresh_database("maillage_bench"))
        anchor = stack.enter_context(fresh_database("maillage_pgbench"))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = server_url.render_as_string(hide_password=False)
        local = postmaster(url) is not None
        ceiling = pgbench_tps(anchor, local, workdir)
        print(
            f"pgbench (scale {PGBENCH_SCALE}, 50 clients, {PGBENCH_SECONDS} s): "
            f"TPC-B-like {ceiling['tpcb']:.0f} TPS (p99 {ceiling['p99_ms']:.0f} ms), "
            f"select-only {ceiling['select']:.0f} TPS; "
            f"TPC-B WAL per transaction: {_wal(ceiling['wal'])}"
            + (f"; PostgreSQL CPU {ceiling['cpu_ms']:.2f} ms" if "cpu_ms" in ceiling else "")
        )
        settings = Settings(database_url=url, secret_key=SECRET, token_minutes=60)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        seeded_at = time.perf_counter()
        seeded = seed(url, settings)
        print(
            f"seeded {PRACTITIONERS} doctors and {PRACTITIONERS} rooms with their schedules, "
            f"{seeded['slots']} free slots, {PATIENTS} patients, {USERS} coordinators in "
            f"{time.perf_counter() - seeded_at:.1f} s"
        )
        maintained(url)
        measured = url if local else None
        checks: list[tuple[str, dict[str, int]]] = []
        phases: dict[str, dict[str, Any]] = {}
        if REPLAY_ONLY:
            ceilings = replay_ceilings(server_url, settings, seeded, checks, chained=True)
            _replay_lines(ceilings, ceiling)
            print(ceilings["chainer"])
            _replay_only_end(ceilings, ceiling, checks, started)
            return
        with running_server(url, workdir) as (base, pid):
            phases["searches, answers kept"] = _measured(
                base, [pid], measured, seeded, workdir, "search"
            )
            checks.append(("searches, answers kept", double_bookings(url)))

            def book() -> int:
                phases["search + book"] = _measured(base, [pid], measured, seeded, workdir, "book")
                return int(phases["search + book"]["bookings"])

            api_wal = wal_per_transaction(url, book)
            checks.append(("search + book", double_bookings(url)))
            guess = phases["search + book"]["bookings"] / phases["search + book"]["duration_s"]
            latencies = latency_phases(base, url, seeded, workdir, checks, guess)
            chainer = _chainer_line(url, settings)
        # Once the server is gone: its pools would take some of the 50 clients' connections.
        at_rate = pgbench_at_rate(anchor, latencies["saturation"].rate / 2, workdir)
        with running_server(url, workdir, {"MAILLAGE_SLOT_CACHE_SECONDS": "0"}) as (base, pid):
            phases["searches, none kept"] = _measured(
                base, [pid], measured, seeded, workdir, "search"
            )
            checks.append(("searches, none kept", double_bookings(url)))
        scaled = scale_out(url, workdir, seeded, measured, checks)
        for count, stats in scaled.items():
            phases[f"search + book, {count} behind HAProxy"] = stats
        after_api = checks[-1][1]["booked appointments"]
        ceilings = replay_ceilings(server_url, settings, seeded, checks)
    print(
        f"wrk: {USERS} connections on {WRK_THREADS} threads, {SECONDS} s per phase, server workers "
        f"{WORKERS} ({SCALE_WORKERS} an instance behind HAProxy; access log off); p50 and p99 "
        "are over all the requests of a phase; a booking takes a doctor's slot and the room's "
        "(teleconsultation)"
    )
    other: dict[str, int] = {}
    for phase, stats in phases.items():
        for key, count in _phase_line(phase, stats).items():
            other[key] = other.get(key, 0) + count
    booking = phases["search + book"]
    print(f"  WAL per booking through the API (its searches and 409s included): {_wal(api_wal)}")
    print(chainer)
    _scale_lines(phases, scaled)
    target_4 = _latency_lines(latencies, ceiling, at_rate)
    for found in latencies.values():
        for status, count in found.statuses.items():
            if status != "201":
                other[f"tsung {status}"] = other.get(f"tsung {status}", 0) + count
    for phase, counts in checks:
        print(f"  SQL after {phase}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    # wrk drops the requests in flight when it stops, but the server may still commit those
    # bookings: SQL holds the 201s and at most the bookings sent and not answered.
    counted = sum(stats["bookings"] for stats in phases.values())
    counted += sum(found.statuses["201"] for found in latencies.values())
    unanswered = sum(
        max(stats["booking_requests"] - stats["bookings"] - stats["conflicts"], 0)
        for stats in phases.values()
    )
    agree = counted <= after_api <= counted + unanswered
    print(
        f"  bookings answered 201: {counted}, plus at most {unanswered} sent and unanswered "
        f"when wrk stopped; booked appointments in SQL {after_api}: "
        f"{'ok' if agree else 'MISMATCH'}"
    )
    if not booking["bookings"]:
        print("  no booking made in the search + book phase: did the searches find no slot?")
    _replay_lines(ceilings, ceiling)
    tpcb, select = ceiling["tpcb"], ceiling["select"]
    replayed = ceilings["as sent"]["bookings"]
    api = booking["bookings"] / booking["duration_s"]

    def searches(phase: str) -> float:
        return phases[phase]["searches"] / phases[phase]["duration_s"] / select

    doubles = sum(c["slots held twice"] + c["people booked twice at once"] for _, c in checks)
    print("targets (ratios to the anchors of this run):")
    for label, ratio, target in (
        ("1. replayed booking (as sent) ÷ TPC-B", replayed / tpcb, 0.40),
        ("2. API bookings ÷ TPC-B", api / tpcb, 0.20),
        ("2. API bookings ÷ replayed booking", api / replayed if replayed else 0.0, 0.50),
        ("3. searches, answers kept ÷ select-only", searches("searches, answers kept"), 0.15),
        ("3. searches, none kept ÷ select-only", searches("searches, none kept"), 0.10),
    ):
        print(f"  {label}: {ratio:.3f} (target ≥ {target}) {'ok' if ratio >= target else 'MISSED'}")
    for label, ratio, target in target_4:
        print(f"  {label}: {ratio:.2f} (target ≤ {target}) {'ok' if ratio <= target else 'MISSED'}")
    print(f"  5. double bookings after every phase: {doubles} {'ok' if doubles == 0 else 'FAILED'}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"total {time.perf_counter() - started:.0f} s")
    busy = any(c["busy slots"] != 2 * c["booked appointments"] for _, c in checks)
    if doubles or other or busy or not agree or not booking["bookings"]:
        raise SystemExit("booking integrity, unexpected failures or no booking: see above")
