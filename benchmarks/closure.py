"""The moment closure against the other theories on the paper's Fig. 3 case: wall and CPU time, in one run.

Usage: python benchmarks/closure.py [--repeats N]

Through ``marldyn.predict`` on examples/pd_lattice.toml (20,000 steps, records every 100, 10 members for the
ensembles): ``closure`` (reduced; and full with dt = 10), ``sde`` (dt = 10), ``sde-graph`` (dt = 1),
``particles`` and the point mass. Every method is compiled (or its numba cache loaded) on a short horizon
first; then the methods are timed in turn, ``--repeats`` rounds, alternating, and the median of each is
reported with its ratio to the closure's — the ratios are what to read (the machine is shared: absolute
times move with its load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numba

import marldyn
from marldyn.errors import MarldynWarning
from marldyn.theory import SDE, Closure, GraphSDE, Particles, Reduced

CONFIG = os.path.join(os.path.dirname(__file__), "..", "examples", "pd_lattice.toml")
METHODS = {
    "closure (reduced)": Closure(),
    "closure (full, dt = 10)": Closure(timescale="full", dt=10),
    "sde (dt = 10, 10 members)": SDE(dt=10.0),
    "sde-graph (dt = 1, 10 members)": GraphSDE(dt=1.0),
    "particles (P = 100)": Particles(),
    "point mass (reduced)": Reduced(),
}


def run(config, method) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarldynWarning)
        marldyn.predict(config, method, progress=False)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    options = parser.parse_args()
    config = marldyn.load_config(CONFIG)
    for method in METHODS.values():
        run(config.with_overrides(steps=200), method)  # compile / load the cache
    times = {label: [] for label in METHODS}
    for _ in range(options.repeats):
        for label, method in METHODS.items():
            times[label].append(run(config, method))
    base_wall = statistics.median(t[0] for t in times["closure (reduced)"])
    base_cpu = statistics.median(t[1] for t in times["closure (reduced)"])
    threads = numba.get_num_threads()
    print(f"Fig. 3 case, {config.run.steps} steps; {threads} numba threads; median of {options.repeats}")
    print("| method | wall (s) | wall / closure | CPU (s) | CPU / closure |")
    print("|---|---|---|---|---|")
    for label, values in times.items():
        wall = statistics.median(t[0] for t in values)
        cpu = statistics.median(t[1] for t in values)
        print(f"| {label} | {wall:.2f} | {wall / base_wall:.1f} | {cpu:.2f} | {cpu / base_cpu:.1f} |")


if __name__ == "__main__":
    main()
