"""Wall time of the theories on a whole Fig. 3 trajectory (20,000 steps), after compilation, in one run.

Usage: python benchmarks/theory.py [--large]

Measures, through the public entry point ``marldyn.predict`` on the paper's Fig. 3 configuration
(examples/pd_lattice.toml, records every 100 steps):

- the homogeneous reduced, full and full-discrete equations (target < 50 ms);
- the particle theory (heterogeneous, reduced time scale) with P = 1000 particles (target < 10 s) and,
  with ``--large``, P = 10,000 (target: minutes);
- the SDE ensemble with 10,000 paths: 100 members x 100 particles (one per agent), dt = 50 and 10 steps,
  and with ``--large`` also dt = 1 step.

Each case runs once to compile (or load the numba cache) on a short horizon, then is timed once on the full
horizon; the numbers move with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import time

import numba

import marldyn

CONFIG = os.path.join(os.path.dirname(__file__), "..", "examples", "pd_lattice.toml")


def timed(config, method, **options) -> float:
    marldyn.predict(config.with_overrides(steps=200), method, **options)  # compile / load the cache
    start = time.perf_counter()
    marldyn.predict(config, method, **options)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also P = 10,000 particles and the SDE at dt = 1")
    options = parser.parse_args()
    config = marldyn.load_config(CONFIG)
    print(
        f"Fig. 3 configuration, {config.run.steps} steps, records every {config.run.record_every}; "
        f"{numba.get_num_threads()} numba threads"
    )
    cases = [
        ("homogeneous reduced", "reduced", {}, 0.05),
        ("homogeneous full", "full", {}, 0.05),
        ("homogeneous full-discrete", "full-discrete", {}, 0.05),
        ("particles, P = 1,000", "particles", {"particles": 1000}, 10.0),
        ("SDE, 100 members x 100 particles, dt = 50", "sde", {"dt": 50.0, "runs": 100}, None),
        ("SDE, 100 members x 100 particles, dt = 10", "sde", {"dt": 10.0, "runs": 100}, None),
    ]
    if options.large:
        cases += [
            ("particles, P = 10,000", "particles", {"particles": 10_000}, 600.0),
            ("SDE, 100 members x 100 particles, dt = 1", "sde", {"dt": 1.0, "runs": 100}, None),
        ]
    for label, method, extra, target in cases:
        runs = extra.pop("runs", None)
        case = config.with_overrides(runs=runs) if runs else config
        seconds = timed(case, method, progress=False, **extra)
        verdict = "" if target is None else f"   (target < {target:g} s: {'met' if seconds < target else 'NOT met'})"
        print(f"{label:45s} {seconds:9.3f} s{verdict}")


if __name__ == "__main__":
    main()
