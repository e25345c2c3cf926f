"""``python -m bench [NAME]``: run every ``bench/bench_*.py`` module's ``main()``, or NAME's."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import bench


def available() -> list[str]:
    """Names of the benchmark modules, without their ``bench_`` prefix."""
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )


def main() -> None:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "name",
        nargs="?",
        choices=names,
        type=lambda text: text.removeprefix("bench_"),
        help="one benchmark (default: all)",
    )
    chosen = parser.parse_args().name
    for name in [chosen] if chosen else names:
        print(f"== bench_{name} ==", flush=True)
        importlib.import_module(f"bench.bench_{name}").main()


if __name__ == "__main__":
    main()
