"""Protocol handling of the OSRM table client, against a fake server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from places_factory import make_places

from maillage.travel.crowfly import CrowFly
from maillage.travel.osrm import OsrmError, OsrmTable

MAX_TABLE = 3
SECONDS_PER_DEGREE = 6000.0  # the fake road: 0.01° of longitude = 1 minute


class FakeOsrm(BaseHTTPRequestHandler):
    """Answers like osrm-routed: durations from longitudes, null towards lon ≥ 5.5."""

    requests: ClassVar[list[tuple[int, int]]] = []
    refuse_with: ClassVar[tuple[int, str] | None] = None
    busy_answers: ClassVar[int] = 0  # first requests answered 503, as a loaded proxy does

    def do_GET(self) -> None:
        url = urlsplit(self.path)  # not urlparse: it cuts the path at ";"
        if type(self).busy_answers:
            type(self).busy_answers -= 1
            return self._send(503, "Service Unavailable")
        if self.refuse_with:
            status, body = self.refuse_with
            return self._send(status, body)
        _, table, version, profile, coordinates = url.path.split("/")
        query = parse_qs(url.query)
        assert (table, version, profile) == ("table", "v1", "driving")
        assert query["annotations"] == ["duration"]
        lon = np.array([float(c.split(",")[0]) for c in coordinates.split(";")])
        sources = [int(i) for i in query["sources"][0].split(";")]
        destinations = [int(i) for i in query["destinations"][0].split(";")]
        type(self).requests.append((len(sources), len(destinations)))
        if len(sources) > MAX_TABLE or len(destinations) > MAX_TABLE:
            return self._send(400, json.dumps({"code": "TooBig", "message": "Too many"}))
        durations = [
            [
                None if lon[d] >= 5.5 else abs(lon[s] - lon[d]) * SECONDS_PER_DEGREE
                for d in destinations
            ]
            for s in sources
        ]
        self._send(200, json.dumps({"code": "Ok", "durations": durations}))

    def _send(self, status: int, body: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server():
    FakeOsrm.requests = []
    FakeOsrm.refuse_with = None
    FakeOsrm.busy_answers = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsrm)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


# Seven communes 1 km apart on a line (lon 5.00 … 5.06, 1 minute apart on the fake road),
# one more at lon 5.6 that the server cannot route to, one in another zone.
LON = np.array([5.0, 5.01, 5.02, 5.03, 5.04, 5.05, 5.06, 5.6, 5.0])
PLACES = make_places(
    (LON - 5.0) * 1e5,
    np.zeros(9),
    lon=LON,
    lat=np.full(9, 48.0),
    zone=[2154] * 8 + [5490],
)


def test_chunked_answers_are_stitched_and_null_is_unreachable(server):
    client = OsrmTable(server, max_table_size=MAX_TABLE)
    pairs = client.pairs(PLACES, PLACES, cutoff_minutes=4.5)
    assert len(FakeOsrm.requests) > 1
    assert max(max(r) for r in FakeOsrm.requests) <= MAX_TABLE
    got = {
        (int(o), int(d)): m
        for o, d, m in zip(pairs.origin, pairs.destination, pairs.minutes, strict=True)
    }
    intra = CrowFly().intra_minutes(10.0)
    expected = {
        (o, d): (intra if o == d else abs(o - d))
        for o in range(7)
        for d in range(7)
        if o == d or abs(o - d) <= 4
    }
    expected |= {(8, 8): intra}
    assert got.keys() == expected.keys()
    for key, minutes in expected.items():
        assert got[key] == pytest.approx(minutes)


def test_server_error_code_is_reported(server):
    FakeOsrm.refuse_with = (400, json.dumps({"code": "InvalidQuery", "message": "bad coords"}))
    with pytest.raises(OsrmError, match="400 InvalidQuery : bad coords"):
        OsrmTable(server).pairs(PLACES, PLACES, 10.0)


def test_non_json_failure_is_reported(server):
    FakeOsrm.refuse_with = (502, "Bad Gateway")
    with pytest.raises(OsrmError, match="502"):
        OsrmTable(server).pairs(PLACES, PLACES, 10.0)


def test_unreachable_server_is_reported():
    with pytest.raises(OsrmError, match="injoignable"):
        OsrmTable("http://127.0.0.1:9", timeout_s=2).pairs(PLACES, PLACES, 10.0)


def test_a_busy_server_is_asked_again(server):
    FakeOsrm.busy_answers = 2
    pairs = OsrmTable(server, max_table_size=MAX_TABLE).pairs(PLACES, PLACES, 4.5)
    assert FakeOsrm.busy_answers == 0 and len(pairs.origin) > 0
    FakeOsrm.busy_answers = 3
    with pytest.raises(OsrmError, match="HTTP 503 \\(3 tentatives\\)"):
        OsrmTable(server, max_table_size=MAX_TABLE).pairs(PLACES, PLACES, 4.5)
