"""Real-size inputs: a national Annuaire Santé extract and a national travel matrix.

Generates, deterministically and in a temporary directory removed at the end, a SYNTHETIC
Annuaire extract of about 2 M activity rows with the real header (professions, modes,
commune codes weighted by population, some rows with only a postcode, some abroad) and a
travel matrix of about 2 M commune pairs (each commune to its nearest ones, crow-fly times)
as Parquet and CSV with commune codes as text. Each load runs in its own child process, so
that its time (measured inside the child, imports excluded) and its peak memory (the child's
own maximum resident set) are its alone, beside the anchor run the same way in the same run:

* Annuaire: ``load_annuaire`` (resolver included) against pandas' plain ``read_csv`` of the
  same file; targets ≤ 1.5× its time and ≤ 2 GB; and ``activities_of``, the filtered read of
  ``maillage practitioners check``, for a thousand practitioners (rows/s, peak memory);
* matrix: ``MatrixFile(...).pairs`` for every commune at 20 min against pyarrow's plain read
  of the same file (``parquet.read_table``, ``csv.read_csv``); target ≤ 3×.

Then the whole national run with the Parquet matrix, ``maillage diagnose --region all
--travel matrix:FILE``, with the time of each of its steps as the command prints them, its CPU
time and both against an anchor run the same way (a process importing pandas and reading the
matrix with pyarrow), as ratios that other work on a shared machine affects less.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "tests" / "territory" / "data" / "PS_LibreAcces_Personne_activite_sample.txt"
ROWS = 2_000_000
NEIGHBOURS = 57  # × ~34,900 communes ≈ 2 M pairs
MATRIX_RUNS = 5
ANNUAIRE_RUNS = 2
NATIONAL_RUNS = 3
COMMAND = [sys.executable, "-m", "maillage.cli", "diagnose", "--region", "all", "--travel"]
SEED = 20_240_702
#: National identifiers a network's practitioners check looks for (``write_annuaire`` numbers
#: people from 8 10000000000): a thousand of them, one in 1,400 of the extract's people.
CHECKED = [f"8{10_000_000_000 + n * 1_400}" for n in range(1_000)]
ANNUAIRE_RATIO, ANNUAIRE_MEMORY_MB, MATRIX_RATIO, NATIONAL_S = 1.5, 2048.0, 3.0, 3.0
# (Code profession, share of rows): infirmiers, médecins, pharmaciens, kinés, dentistes,
# sages-femmes, others (orthophonistes, orthoptistes…), roughly as in the national extract.
PROFESSIONS = [("60", 0.30), ("10", 0.24), ("21", 0.12), ("70", 0.11), ("40", 0.05)]
PROFESSIONS += [("50", 0.03), ("91", 0.15)]
WORDS = ["DU", "DE LA", "GENERAL", "LECLERC", "VICTOR", "HUGO", "REPUBLIQUE", "GARE", "EGLISE"]
NAMES = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS"]


def header_line() -> str:
    """The real header (from the test fixture, itself the header in /work/shared/formats)."""
    with HEADER.open(encoding="utf-8") as handle:
        return handle.readline().rstrip("\r\n")


def _pool(rng: np.random.Generator, values: list[str], n: int) -> pa.Array:
    """``n`` values drawn from a small pool, as a dictionary array (cheap to build and write)."""
    indices = pa.array(rng.integers(0, len(values), n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values))


def write_annuaire(path: Path, rows: int = ROWS, seed: int = SEED) -> None:
    """A national-size SYNTHETIC extract: real header and layout, plausible values."""
    from maillage.territory import datafrance
    from maillage.territory.communes import load_communes

    rng = np.random.default_rng(seed)
    communes = load_communes()
    weight = communes.population.fillna(0).to_numpy() + 50.0
    where = rng.choice(len(communes), rows, p=weight / weight.sum())
    code = communes.code_commune.to_numpy()[where]
    links = datafrance.read_table("codes_postaux_communes")
    postcodes = datafrance.read_table("codes_postaux").set_index("id")["code"]
    commune_codes = datafrance.read_table("communes", ["id", "code"]).set_index("id")["code"]
    by_commune = (
        links.assign(
            postcode=links.codepostal_id.map(postcodes), code=links.commune_id.map(commune_codes)
        )
        .drop_duplicates("code")
        .set_index("code")["postcode"]
    )
    postcode = by_commune.reindex(code).fillna("").to_numpy()
    only_postcode = rng.random(rows) < 0.05
    abroad = rng.random(rows) < 0.002
    code = np.where(only_postcode | abroad, "", code)
    postcode = np.where(abroad, "GL", postcode)
    people = int(rows * 0.7)
    person = np.sort(rng.integers(0, people, rows))  # one to a few activity rows each
    rpps = np.char.add("8", (10_000_000_000 + person).astype(str))
    professions, shares = zip(*PROFESSIONS, strict=True)
    profession = np.asarray(professions)[rng.choice(len(professions), people, p=shares)][person]
    general = (rng.random(people) < 0.45)[person]
    savoir = np.where(profession == "10", np.where(general, "SM54", "SM26"), "")
    mode = np.asarray(["L", "S", "B"])[rng.choice(3, rows, p=[0.6, 0.38, 0.02])]
    sector = np.asarray(["SA07", "SA05", "SA01"])[rng.choice(3, rows, p=[0.7, 0.1, 0.2])]
    names = header_line().split("|")
    columns = {name: _pool(rng, [""], rows) for name in names}
    columns |= {
        "Type d'identifiant PP": _pool(rng, ["8"], rows),
        "Identifiant PP": pa.array(np.char.lstrip(rpps, "8")),
        "Identification nationale PP": pa.array(rpps),
        "Nom d'exercice": _pool(rng, NAMES, rows),
        "Prénom d'exercice": _pool(rng, ["CLAIRE", "JEAN", "MARIE", "PIERRE", "ANNE"], rows),
        "Code profession": pa.array(profession).dictionary_encode(),
        "Libellé profession": _pool(rng, ["Médecin", "Infirmier", "Pharmacien"], rows),
        "Code catégorie professionnelle": _pool(rng, ["C"], rows),
        "Libellé catégorie professionnelle": _pool(rng, ["Civil"], rows),
        "Code type savoir-faire": _pool(rng, ["S", ""], rows),
        "Libellé type savoir-faire": _pool(rng, ["Spécialité ordinale", ""], rows),
        "Libellé savoir-faire": _pool(rng, ["Médecine générale", "Pédiatrie", ""], rows),
        "Numéro SIRET site": pa.array(rng.integers(10**13, 10**14 - 1, rows)).cast(pa.string()),
        "Autorité d'enregistrement": _pool(rng, ["CNOM/CNOM/CNOM", "ARS/ARS/ARS"], rows),
        "Code savoir-faire": pa.array(savoir).dictionary_encode(),
        "Code mode exercice": pa.array(mode).dictionary_encode(),
        "Libellé mode exercice": _pool(rng, ["Libéral, indépendant, artisan, commerçant"], rows),
        "Raison sociale site": _pool(rng, [f"CABINET {w}" for w in NAMES], rows),
        "Numéro Voie (coord. structure)": pa.array(rng.integers(1, 200, rows).astype(str)),
        "Libellé Voie (coord. structure)": _pool(rng, [f"RUE {w}" for w in WORDS], rows),
        "Code postal (coord. structure)": pa.array(postcode).dictionary_encode(),
        "Code commune (coord. structure)": pa.array(code).dictionary_encode(),
        "Code pays (coord. structure)": pa.array(np.where(abroad, "99132", "")),
        "Téléphone (coord. structure)": pa.array(rng.integers(100_000_000, 999_999_999, rows)).cast(
            pa.string()
        ),
        "Code secteur d'activité": pa.array(sector).dictionary_encode(),
        "Libellé secteur d'activité": _pool(rng, ["Cabinet individuel", "Centre de santé"], rows),
    }
    table = pa.table({f"c{i}": columns[name] for i, name in enumerate(names)})
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header_line() + "\n")
    with path.open("ab") as handle:
        pa_csv.write_csv(
            table,
            handle,
            pa_csv.WriteOptions(include_header=False, delimiter="|", quoting_style="none"),
        )


def write_matrix(folder: Path, neighbours: int = NEIGHBOURS, seed: int = SEED) -> list[Path]:
    """Every commune to its nearest ``neighbours`` of the same zone, crow-fly minutes with
    noise, as ``origin,destination,minutes`` Parquet and CSV (codes as text)."""
    from maillage.territory.communes import load_communes

    rng = np.random.default_rng(seed)
    communes = load_communes().dropna(subset=["x", "y"]).reset_index(drop=True)
    # zones far apart so that no commune finds a neighbour in another zone's frame
    shift = communes.zone.to_numpy() * 1e8
    points = np.column_stack([communes.x.to_numpy() + shift, communes.y.to_numpy()])
    distance, index = cKDTree(points).query(points, k=neighbours)
    minutes = distance.ravel() / 1000 * 1.3 / 60 * 60 * rng.uniform(0.9, 1.3, distance.size)
    codes = communes.code_commune.to_numpy()
    table = pa.table(
        {
            "origin": np.repeat(codes, neighbours),
            "destination": codes[index.ravel()],
            "minutes": np.round(minutes, 2),
        }
    )
    parquet, csv = folder / "matrix.parquet", folder / "matrix.csv"
    pq.write_table(table, parquet)
    pa_csv.write_csv(table, csv, pa_csv.WriteOptions(quoting_style="none"))
    return [parquet, csv]


def child(code: str) -> tuple[float, float]:
    """Run ``code`` (which prints its own seconds last) in a fresh interpreter: its seconds
    and its peak resident memory in MB."""
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed ({status}): {code}")
    return float(output.split()[-1]), usage.ru_maxrss / 1024


def timed(setup: str, work: str, runs: int = 1) -> tuple[float, float, float]:
    """Best and median seconds of ``work`` after ``setup`` (imports, inputs) over ``runs``
    children (the best as ``timeit`` reports it: other work on a shared machine only ever
    adds time), and the largest peak MB."""
    lines = ["import time", textwrap.dedent(setup), "start = time.perf_counter()", work]
    code = "\n".join([*lines, "print(time.perf_counter() - start)"])
    seconds, peaks = zip(*(child(code) for _ in range(runs)), strict=True)
    return min(seconds), float(np.median(seconds)), max(peaks)


def process(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``: its wall seconds, its CPU seconds (user + system: less sensitive than
    wall time to other work on a shared machine) and its standard error."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"COLUMNS": "200", "PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stderr is not None
    printed = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed: {printed}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, printed


def national_run(matrix: Path, out: Path) -> tuple[float, float, dict[str, float]]:
    """``maillage diagnose --region all --travel matrix:FILE``: wall and CPU seconds and the
    seconds of each step as the command prints them (on standard error)."""
    wall, cpu, printed = process([*COMMAND, f"matrix:{matrix}", "--out", str(out)])
    steps = re.findall(r"✓ (.+?) \((\d+(?:\.\d+)?) s\)", printed)
    return wall, cpu, {name: float(seconds) for name, seconds in steps}


def national_anchor(matrix: Path) -> tuple[float, float]:
    """The floor of any run on the matrix, measured the same way: a process that imports
    pandas and reads the matrix with pyarrow (wall and CPU seconds)."""
    code = f"import pandas, pyarrow.parquet; pyarrow.parquet.read_table({str(matrix)!r})"
    wall, cpu, _ = process([sys.executable, "-c", code])
    return wall, cpu


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="maillage-bench-datasets-") as tmp:
        folder = Path(tmp)
        annuaire = folder / "PS_LibreAcces_Personne_activite.txt"
        write_annuaire(annuaire)
        size = annuaire.stat().st_size / 1e6
        print(f"Annuaire extract: {ROWS:,} rows, {size:,.0f} MB (SYNTHETIC, real header)")
        ours, _, our_peak = timed(
            "from maillage.territory.annuaire import load_annuaire",
            f"load_annuaire({str(annuaire)!r})",
            ANNUAIRE_RUNS,
        )
        anchor, _, anchor_peak = timed(
            "import pandas as pd",
            f"pd.read_csv({str(annuaire)!r}, sep='|', low_memory=False)",
            ANNUAIRE_RUNS,
        )
        print(f"  load_annuaire:      {ours:6.2f} s  peak {our_peak:6.0f} MB")
        check, _, check_peak = timed(
            "from maillage.territory.annuaire import activities_of",
            f"activities_of({str(annuaire)!r}, {CHECKED!r})",
            ANNUAIRE_RUNS,
        )
        print(
            f"  activities_of ({len(CHECKED)} RPPS, practitioners check): {check:6.2f} s "
            f"({ROWS / check:,.0f} rows/s)  peak {check_peak:6.0f} MB"
        )
        print(f"  pandas read_csv:    {anchor:6.2f} s  peak {anchor_peak:6.0f} MB")
        print(
            f"  ratio {ours / anchor:.2f} (target ≤ {ANNUAIRE_RATIO}), "
            f"memory {our_peak / ANNUAIRE_MEMORY_MB:.2f} of {ANNUAIRE_MEMORY_MB:g} MB"
        )
        annuaire.unlink()

        parquet, csv = write_matrix(folder)
        pairs = pq.read_metadata(parquet).num_rows
        print(f"Travel matrix: {pairs:,} pairs")
        load_pairs = """
            from pathlib import Path
            from maillage.territory.communes import communes_places, load_communes
            from maillage.travel.matrix import MatrixFile
            places = communes_places(load_communes())
        """
        for path, plain in ((parquet, "pyarrow.parquet.read_table"), (csv, "pyarrow.csv.read_csv")):
            work = f"MatrixFile(Path({str(path)!r})).pairs(places, places, 20)"
            ours, our_median, _ = timed(load_pairs, work, MATRIX_RUNS)
            anchor, anchor_median, _ = timed(
                f"import {plain.rpartition('.')[0]}", f"{plain}({str(path)!r})", MATRIX_RUNS
            )
            print(
                f"  {path.suffix[1:]:8s} pairs {ours:5.2f} s (median {our_median:5.2f})   "
                f"{plain} {anchor:5.2f} s (median {anchor_median:5.2f})   ratio of bests "
                f"{ours / anchor:5.2f}, of medians {our_median / anchor_median:5.2f} "
                f"(target ≤ {MATRIX_RATIO})"
            )

        runs = [national_run(parquet, folder / f"out{i}") for i in range(NATIONAL_RUNS)]
        anchors = [national_anchor(parquet) for _ in range(NATIONAL_RUNS)]
        wall, _, steps = min(runs, key=lambda run: run[0])
        cpu = min(c for _, c, _ in runs)
        anchor_wall, anchor_cpu = (min(column) for column in zip(*anchors, strict=True))
        print(
            f"National run with the Parquet matrix, {NATIONAL_RUNS} runs (the first builds the "
            "geometry text cache if absent): "
            + ", ".join(f"{w:.2f} s wall ({c:.2f} s CPU)" for w, c, _ in runs)
        )
        print(
            f"  best {wall:.2f} s wall (target < {NATIONAL_S} s), least CPU {cpu:.2f} s; anchor "
            f"(import pandas, pyarrow read_table of the matrix) {anchor_wall:.2f} s wall, "
            f"{anchor_cpu:.2f} s CPU: ratio {wall / anchor_wall:.2f} wall, "
            f"{cpu / anchor_cpu:.2f} CPU"
        )
        print("  the best run's steps:")
        for name, seconds in steps.items():
            print(f"  {seconds:5.1f} s  {name}")
        accounted = sum(steps.values())
        print(f"  {wall - accounted:5.1f} s  start-up (imports) and the closing summary")


if __name__ == "__main__":
    main()
