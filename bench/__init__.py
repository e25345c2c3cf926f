"""Benchmarks, each a ``bench_*.py`` module with a ``main()``; run them with ``python -m bench``."""
