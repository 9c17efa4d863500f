"""Benchmarks for issue 5 (`make bench`, i.e. `.venv/bin/python -m tests.bench`): not part of pytest.

Every figure is a ratio against a baseline measured in the same run on the same data, so it holds
on a noisy machine. One module per target (`bench_*.py`, which pytest does not collect); the runner
(`__main__.py`) prints a table: measured, baseline, ratio, target, met / not met.
"""
