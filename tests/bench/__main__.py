"""Run the issue 5 benchmarks and print the table of figures.

    .venv/bin/python -m tests.bench                 # everything, full sizes (make bench)
    .venv/bin/python -m tests.bench --quick         # scaled down: a smoke run of a few minutes
    .venv/bin/python -m tests.bench --only 1,4      # some targets (1 throughput, 2 history,
                                                    #   3 push latency, 4 memory, 5 big triage,
                                                    #   6 workbench pages, 7 reply window under SIGKILL)

Set SECOR_BENCH_PROFILE=DIR to record py-spy profiles (collapsed stacks) of the measured processes.
Scratch space: $SECOR_BENCH_TMP (default var/bench); generated submissions are cached in
$SECOR_BENCH_CACHE (default var/bench/cache).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from tests.bench.common import Result, use_scratch

TARGETS = {
    "1": "tests.bench.bench_throughput",
    "2": "tests.bench.bench_history",
    "3": "tests.bench.bench_push",
    "4": "tests.bench.bench_memory",
    "5": "tests.bench.bench_triage",
    "6": "tests.bench.bench_web",
    "7": "tests.bench.bench_reply_window",
}


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:.1f} MB"
    return f"{value:.2f} {unit}".strip()


def table(results: list[Result]) -> str:
    rows = [("target", "what", "measured", "baseline", "ratio", "goal", "status")]
    for r in results:
        rows.append((r.target, r.what, _num(r.measured, r.unit), _num(r.baseline, r.unit),
                     "-" if r.ratio is None else f"{r.ratio:.2f}", r.goal, "met" if r.met else "NOT MET"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        for note in r.notes:
            lines.append(f"  [{r.target}] {note}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="scaled-down sizes (a smoke run)")
    parser.add_argument("--only", default=",".join(TARGETS), help="comma-separated target numbers")
    args = parser.parse_args(argv)
    use_scratch()
    results: list[Result] = []
    failed = False
    started = time.perf_counter()
    for key in [k.strip() for k in args.only.split(",") if k.strip()]:
        module = importlib.import_module(TARGETS[key])
        t0 = time.perf_counter()
        print(f"== target {key}: {module.__name__} ...", file=sys.stderr, flush=True)
        try:
            results.extend(module.run(quick=args.quick))
        except Exception:
            failed = True
            traceback.print_exc()
        print(f"   done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(table(results))
    print(f"(total {time.perf_counter() - started:.0f} s{', --quick' if args.quick else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
