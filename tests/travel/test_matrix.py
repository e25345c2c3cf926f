from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from places_factory import make_places

from maillage.errors import InputError
from maillage.travel.crowfly import CrowFly
from maillage.travel.matrix import MatrixFile

COMMUNES = make_places([0.0, 5000.0, 9000.0], [0.0, 0.0, 0.0], codes=["55001", "55002", "55003"])
SITES = make_places(
    [100.0, 5100.0, 5200.0],
    [0.0] * 3,
    codes=["55001", "55002", "55002"],
    ids=["s1", "s2", "s3"],
    area_km2=[np.nan] * 3,
)
INTRA = CrowFly().intra_minutes(10.0)


def triples(pairs):
    return sorted(
        (int(o), int(d), round(float(m), 6))
        for o, d, m in zip(pairs.origin, pairs.destination, pairs.minutes, strict=True)
    )


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_pairs_missing_is_unreachable_and_own_commune_takes_intra_term(tmp_path):
    path = write(
        tmp_path,
        "t.csv",
        "origin,destination,minutes\n55001,55002,12.5\n55002,55001,13\n55001,55003,31\n"
        "55003,55003,4\n55002,55002,25\n99999,55001,1\n",
    )
    pairs = MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0)
    assert triples(pairs) == [
        (0, 0, round(INTRA, 6)),  # not in the file: the intra-commune term
        (0, 1, 12.5),
        (1, 0, 13.0),  # 55002→55002 is 25 min in the file: beyond the cut-off
        (2, 2, 4.0),
    ]


def test_r5py_layout_and_blank_time_is_unreachable(tmp_path):
    path = write(tmp_path, "r5.csv", "from_id,to_id,travel_time\n55001,55002,7\n55002,55003,\n")
    pairs = MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0)
    assert (0, 1, 7.0) in triples(pairs)
    assert not any((o, d) == (1, 2) for o, d, _ in triples(pairs))


def test_sites_take_their_commune_row(tmp_path):
    path = write(tmp_path, "t.csv", "origin,destination,minutes\n55001,55002,9\n")
    pairs = MatrixFile(path).pairs(COMMUNES, SITES, 20.0)
    assert (0, 1, 9.0) in triples(pairs) and (0, 2, 9.0) in triples(pairs)
    assert (0, 0, round(INTRA, 6)) in triples(pairs)  # site s1 lies in 55001


def test_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"origin": ["55001"], "destination": ["55003"], "minutes": [3.5]}).to_parquet(path)
    assert (0, 2, 3.5) in triples(MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0))


def test_osrm_json_with_ids_beside_durations(tmp_path):
    answer = {
        "code": "Ok",
        "durations": [[0, 600, None], [660, 0, 1500]],
        "origin_ids": ["55001", "55002"],
        "destination_ids": ["55001", "55002", "55003"],
    }
    path = write(tmp_path, "osrm.json", json.dumps(answer))
    got = triples(MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0))
    assert (0, 1, 10.0) in got and (1, 0, 11.0) in got
    assert (0, 0, 0.0) in got  # given in the file: the file wins over the intra term
    assert not any((o, d) in ((0, 2), (1, 2)) for o, d, _ in got)  # null, and 25 min > 20


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("origin;destination;minutes\n55001;55002;3\n", 1, None),
        ("origin,destination,minutes\n55001,55002,3\n55001,55003,abc\n", 3, "minutes"),
        ("origin,destination,minutes\n55001,55002,-2\n", 2, "minutes"),
        ("origin,destination,minutes\n55001,,2\n", 2, "destination"),
        ("origin,destination,minutes\n55001,55002,2\n55001,55002,3\n", 3, "destination"),
        ("from_id,to_id,travel_time\n55001,55002,x\n", 2, "travel_time"),
    ],
)
def test_bad_csv_names_line_and_column(tmp_path, text, line, column):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as caught:
        MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.path == str(path)


@pytest.mark.parametrize("text", ["", "origin,destination,minutes\n"])
def test_empty_file_is_refused(tmp_path, text):
    with pytest.raises(InputError, match=r"vide|aucun temps de trajet"):
        MatrixFile(write(tmp_path, "empty.csv", text)).pairs(COMMUNES, COMMUNES, 20.0)


@pytest.mark.parametrize(
    "answer",
    [
        '{"durations": [[1]]}',
        '{"durations": [[1, 2]], "origin_ids": ["55001"], "destination_ids": ["55001"]}',
        '{"durations": [["a"]], "origin_ids": ["55001"], "destination_ids": ["55001"]}',
        "[1, 2]",
        '{"durations": ',
    ],
)
def test_bad_osrm_json_is_refused(tmp_path, answer):
    with pytest.raises(InputError):
        MatrixFile(write(tmp_path, "bad.json", answer)).pairs(COMMUNES, COMMUNES, 20.0)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="introuvable"):
        MatrixFile(tmp_path / "nope.csv").pairs(COMMUNES, COMMUNES, 20.0)


def test_parquet_null_id_and_r5py_names_row_and_column(tmp_path):
    path = tmp_path / "r5.parquet"
    table = pd.DataFrame(
        {"from_id": ["55001", None], "to_id": ["55002", "55003"], "travel_time": [3.0, 4.0]}
    )
    table.to_parquet(path)
    with pytest.raises(InputError, match="ligne 2 : identifiant vide") as caught:
        MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0)
    assert caught.value.column == "from_id"


def test_ids_with_spaces_and_a_quoted_header(tmp_path):
    path = write(tmp_path, "q.csv", '"origin","destination","minutes"\n 55001,55002 ,4\n')
    assert (0, 1, 4.0) in triples(MatrixFile(path).pairs(COMMUNES, COMMUNES, 20.0))
