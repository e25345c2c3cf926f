"""Booking latency at a fixed arrival rate (target 4 of issue 23), beside pgbench's TPC-B.

A closed loop hides a slow server: its clients wait, so fewer requests arrive. Tsung (Debian's
package, an Erlang load generator) instead starts bookings at a given mean rate, Poisson
arrivals, whatever the server's pace (an open loop), each on its own connection, as pgbench
``-R`` schedules its transactions. Its per-request dump (``dumptraffic="protocol"``) gives each
booking's status and response time, from which the p99 is taken; pgbench's per-transaction log
(``--log``) gives TPC-B's, measured from each transaction's scheduled start under ``-R``. At
saturation Tsung runs a closed loop instead (``USERS`` sessions booking back to back on kept
connections, as pgbench's 50 clients): the bookings per second it reaches are the maximum the
open loop takes half of.

Each booking takes its own free pair of slots (a doctor's and the doctor's room's at the same
time, a teleconsultation) for a patient of its own, read from the bench database before the
phase, so that every answer is expected to be 201: a 409 would be a conflict the generator
did not mean, and is counted apart.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from sqlalchemy import text

from maillage.care.codes import TELECONSULTATION, WORKFLOW_SYSTEM
from maillage.store.database import make_engine

#: The booking Tsung sends, ``%%_name%%`` filled from the pairs' file.
BODY = (
    '{"resourceType":"Appointment","status":"booked",'
    f'"serviceType":[{{"coding":[{{"system":"{WORKFLOW_SYSTEM}","code":"{TELECONSULTATION}"}}]}}],'
    '"start":"%%_starts%%","end":"%%_ends%%",'
    '"slot":[{"reference":"Slot/%%_slot%%"},{"reference":"Slot/room-%%_slot%%"}],'
    '"participant":[{"actor":{"reference":"Patient/%%_patient%%"},"status":"accepted"},'
    '{"actor":{"reference":"Practitioner/%%_doctor%%"},"status":"accepted"},'
    '{"actor":{"reference":"Location/%%_room%%"},"status":"accepted"}]}'
)
FIELDS = ("token", "slot", "starts", "ends", "doctor", "room", "patient")  # "end": an Erlang word


@dataclass(frozen=True)
class Latencies:
    """What one phase's bookings got: answers by status and errors (Tsung's counters), the
    response times of the 201s its dump holds (it may miss a few), and the dump's span."""

    statuses: Counter[str]
    booked_ms: list[float]
    seconds: float

    @property
    def rate(self) -> float:
        """Bookings (201) per second over the phase."""
        return self.statuses["201"] / self.seconds if self.seconds else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.booked_ms, 99)


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (the smallest value that at least ``q`` % of the
    values do not exceed); NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def write_pairs(url: str, tokens: list[str], path: Path, limit: int, tag: str) -> int:
    """The free pairs of slots (doctor's ``sched-i`` and its room's, both free now) in a
    shuffled but fixed order, at most ``limit``, as Tsung's file of variables (``FIELDS``, ``;``
    between them), each with a patient of its own (``tag`` and its rank); returns how many."""
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT d.id, substr(d.schedule, 16), s.body->>'start', s.body->>'end'"
                " FROM slot_calendar d JOIN slot_calendar r ON r.id = 'room-' || d.id"
                " JOIN fhir_resource s ON s.resource_type = 'Slot' AND s.id = d.id"
                " WHERE d.schedule LIKE 'Schedule/sched-%' AND d.status = 'free'"
                " AND r.status = 'free' ORDER BY md5(d.id) LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
    engine.dispose()
    lines = [
        ";".join((tokens[n % len(tokens)], slot, start, end, f"doc-{i}", f"room-{i}", f"{tag}-{n}"))
        for n, (slot, i, start, end) in enumerate(rows)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return len(rows)


def config(
    host: str, port: int, pairs: Path, seconds: int, rate: float | None, users: int, each: int
) -> str:
    """Tsung's scenario: at ``rate`` bookings a second (mean, Poisson), one session and
    connection each, for ``seconds``; or, ``rate`` None, ``users`` sessions booking back to back,
    ``each`` bookings each (Tsung stopped by a duration loses the end of its dump)."""
    variables = "".join(f'<var name="{name}"/>' for name in FIELDS)
    request = (
        f'<setdynvars sourcetype="file" fileid="pairs" delimiter=";" order="iter">{variables}'
        '</setdynvars><request subst="true"><http url="/fhir/Appointment" method="POST"'
        f' version="1.1" content_type="application/fhir+json" contents={quoteattr(BODY)}>'
        '<http_header name="Authorization" value="Bearer %%_token%%"/></http></request>'
    )
    # Each session idles a while after its last answer: Tsung writes its dump in batches, and
    # a run that ended at the last answer lost the last seconds of its closed loop's lines.
    linger = '<thinktime value="3" random="false"/>'
    if rate is None:
        # All started within a fraction of a second (at 1000 a second Tsung started 7 of 50).
        arrivals = f'<users maxnumber="{users}" arrivalrate="200" unit="second"/>'
        session = f'<for from="1" to="{each}" incr="1" var="i">{request}</for>{linger}'
        seconds = 10
    else:
        arrivals = f'<users arrivalrate="{rate:.3f}" unit="second"/>'
        session = request + linger
    return f"""<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="error" dumptraffic="protocol" version="1.0">
  <clients><client host="localhost" maxusers="10000" use_controller_vm="true"/></clients>
  <servers><server host="{host}" port="{port}" type="tcp"/></servers>
  <load><arrivalphase phase="1" duration="{seconds}" unit="second">{arrivals}</arrivalphase></load>
  <options><option name="file_server" id="pairs" value="{pairs}"/></options>
  <sessions><session name="book" probability="100" type="ts_http">{session}</session></sessions>
</tsung>
"""


def run_tsung(scenario: str, workdir: Path, name: str, timeout: int) -> Latencies:
    """Run Tsung on ``scenario`` (its files under ``workdir/name``) and read its dump."""
    tsung = shutil.which("tsung")
    if tsung is None:
        raise RuntimeError("tsung is missing: apt-get install tsung")
    folder = workdir / name
    folder.mkdir()
    path = folder / "scenario.xml"
    path.write_text(scenario, encoding="utf-8")
    done = subprocess.run(
        [tsung, "-f", str(path), "-l", str(folder), "start"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    dumps = sorted(folder.glob("*/tsung.dump"))
    if done.returncode != 0 or not dumps:
        said = (done.stdout + done.stderr)[-1500:]
        raise RuntimeError(f"tsung failed ({done.returncode}): {said}")
    booked, span = read_dump(dumps[-1])
    return Latencies(read_counters(dumps[-1].with_name("tsung.log")), booked, span)


def read_dump(path: Path) -> tuple[list[float], float]:
    """Response times (ms) of the 201s among the POSTs in Tsung's protocol dump (``date;pid;
    id;http method;host;URL;HTTP status;size;duration;…``), and the span of the POSTs' dates."""
    booked, dates = [], []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split(";")
        if line.startswith("#") or len(fields) < 9 or fields[3] != "post":
            continue
        dates.append(float(fields[0]))
        if fields[6] == "201":
            booked.append(float(fields[8]))
    return booked, max(dates) - min(dates) if len(dates) > 1 else 0.0


def read_counters(path: Path) -> Counter[str]:
    """Answers by HTTP status and errors (``error_…``: timeouts, closed connections) since the
    start, from the last of the ``stats: NAME count_since_last total`` lines of tsung.log."""
    found: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        matched = re.fullmatch(r"stats: (\d{3}|error_\w+) \d+ (\d+)", line.strip())
        if matched:
            found[matched.group(1)] = int(matched.group(2))
    return found


def pgbench_latencies(folder: Path, prefix: str) -> list[float]:
    """Transaction latencies (ms) from pgbench's per-transaction logs ``prefix.*`` in
    ``folder`` (``client transaction latency_us script epoch us [lag]``; under ``-R`` the
    latency counts from the scheduled start); skipped transactions left out."""
    found = []
    for log in folder.glob(f"{prefix}.*"):
        for line in log.read_text(encoding="ascii").splitlines():
            fields = line.split()
            if len(fields) >= 3 and re.fullmatch(r"\d+", fields[2]):
                found.append(int(fields[2]) / 1000)
    return found
