"""Many small runs: R runs of the paper's 10x10 case serially, on threads and in processes, measured in one run.

Usage: python benchmarks/many_runs.py [--runs R] [--steps S] [--workers W]

Three ways to run R independent runs of ``examples/pd_lattice.toml`` (default 1000 runs of 20,000 steps):

- serial: ``simulate(config, workers=1)``;
- threads: ``simulate(config, workers=W)``, W worker threads in this process (default: one per usable core),
  each run on the serial numba kernel, which releases the GIL;
- processes: a spawn ``ProcessPoolExecutor`` of W processes, each calling ``simulate(..., workers=1)`` on
  its share of the runs (with its own seed: the same amount of work, not the same runs). The time includes
  starting the processes (importing marldyn and loading the compiled kernel in each).

Prints the three times, the speed-ups over serial and which parallel way was faster. The kernel is compiled
(or loaded from numba's cache) before timing. The machine's load average is printed too: on a shared
machine the numbers move with the other jobs.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import marldyn
from marldyn.simulation.runner import default_workers

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "pd_lattice.toml")


def simulate_share(runs: int, steps: int, seed: int) -> int:
    """One process's share: ``runs`` runs serially (``workers=1``); returns the number of runs done."""
    config = marldyn.load_config(CONFIG).with_overrides(runs=runs, steps=steps, seed=seed)
    return marldyn.simulate(config, workers=1, progress=False).sizes["run"]


def in_processes(runs: int, steps: int, processes: int) -> float:
    """Seconds to run ``runs`` runs split over ``processes`` spawned processes, start-up included."""
    shares = [runs // processes + (1 if k < runs % processes else 0) for k in range(processes)]
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
        done = sum(pool.map(simulate_share, shares, [steps] * processes, range(processes)))
    assert done == runs
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=None, help="threads and processes (default: cores)")
    options = parser.parse_args()
    workers = options.workers or default_workers(options.runs)
    config = marldyn.load_config(CONFIG).with_overrides(runs=options.runs, steps=options.steps)
    marldyn.simulate(config.with_overrides(runs=2, steps=10), progress=False)  # compile / load the cache
    print(f"{options.runs} runs x {options.steps} steps, {workers} workers; load average {os.getloadavg()[0]:.2f}")
    timings = {}
    start = time.perf_counter()
    marldyn.simulate(config, workers=1, progress=False)
    timings["serial"] = time.perf_counter() - start
    start = time.perf_counter()
    marldyn.simulate(config, workers=workers, progress=False)
    timings[f"{workers} threads"] = time.perf_counter() - start
    timings[f"{workers} processes"] = in_processes(options.runs, options.steps, workers)
    for name, seconds in timings.items():
        speed_up = timings["serial"] / seconds
        print(f"{name:>12}: {seconds:7.1f} s  ({seconds / options.runs * 1e3:.0f} ms per run, {speed_up:.2f}x serial)")
    threads, processes = timings[f"{workers} threads"], timings[f"{workers} processes"]
    faster = "threads" if threads <= processes else "processes"
    print(f"faster: {faster} ({max(threads, processes) / min(threads, processes):.2f}x the other)")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
