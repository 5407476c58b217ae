"""Many small runs: R runs of the paper's 10x10 case, serially and in worker processes, measured in one run.

Usage: python benchmarks/many_runs.py [--runs R] [--steps S]

Independent runs are distributed over processes (`simulate(..., workers=W)`); each run's result does not
depend on W. Batching replicas inside one kernel call would save the per-record Python overhead but not the
kernel time, which dominates (about 0.1 s per 20,000-step run), so processes are the choice.
"""

from __future__ import annotations

import argparse
import os
import time

import marldyn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20000)
    options = parser.parse_args()
    config = marldyn.load_config(os.path.join(os.path.dirname(__file__), "..", "examples", "pd_lattice.toml"))
    config = config.with_overrides(runs=options.runs, steps=options.steps)
    marldyn.simulate(config.with_overrides(runs=1, steps=10), progress=False)  # compile / load the cache
    timings = {}
    for workers in (1, os.cpu_count() or 1):
        start = time.perf_counter()
        marldyn.simulate(config, workers=workers, progress=False)
        timings[workers] = time.perf_counter() - start
    for workers, seconds in timings.items():
        print(f"{options.runs} runs x {options.steps} steps, workers={workers}: {seconds:.1f} s")
    print(f"speed-up with processes: {timings[1] / timings[max(timings)]:.2f}x")


if __name__ == "__main__":
    main()
