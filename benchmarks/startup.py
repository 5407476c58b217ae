"""Start-up: what `marldyn simulate` and a first run after install cost, measured as ratios in one run.

Usage: python benchmarks/startup.py [--repeat R] [--before SRC] [--no-fig3]

Every measurement is a fresh process, timed by wall clock; the rows of a table are measured in turns
(round-robin, best of R, default 3), so a busy machine slows them alike:

1. imports: ``import marldyn`` (lazy: the heavy modules load on first use) and what a simulation needs
   (numpy, numba, xarray, dask.array, h5netcdf), each beyond an empty interpreter;
2. ``marldyn simulate examples/pd_lattice.toml`` (the paper's config: 10 runs x 20,000 steps) with
   ``--steps 1`` (start-up alone) and in full, each writing its netCDF file: without dask (the default
   install: dask is the optional ``distributed`` extra) and with dask importable (the extra installed, as
   every install was before it became optional — xarray then imports dask.array when it builds a Dataset);
   with ``--before SRC``, also the ``src`` tree of another checkout (e.g. ``git worktree add /tmp/old REV``),
   run with this interpreter and dask importable;
3. unless ``--no-fig3``: ``marldyn reproduce fig3 --quick`` with an empty numba cache (cold: the first run
   after install compiles every kernel it uses) and again with the cache it left (warm), R // 3 pairs (at
   least one) per tree in turns, each pair with its own cache directory; the ratio cold / warm is the cost
   of the first run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIG = os.path.join(ROOT, "examples", "pd_lattice.toml")
#: Run first in the interpreter: ``import dask`` then fails, as on an install without the extra.
NO_DASK = "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
CLI = "from marldyn.cli import run; run()"


def wall(command: list[str], env: dict | None = None) -> float:
    """Wall time in seconds of one run of ``command`` (which must succeed)."""
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stderr}")
    return seconds


def round_robin(rows: dict[str, tuple[list[str], dict | None]], repeat: int) -> dict[str, float]:
    """Best wall time of every row, the rows run in turns ``repeat`` times."""
    best = dict.fromkeys(rows, float("inf"))
    for _ in range(repeat):
        for label, (command, env) in rows.items():
            best[label] = min(best[label], wall(command, env))
    return best


def environment(**changes: str) -> dict:
    env = dict(os.environ, MARLDYN_PROGRESS="0")
    env.update(changes)
    return env


def imports(repeat: int) -> None:
    python = [sys.executable, "-c"]
    rows = {"python -c pass": (python + ["pass"], None)}
    for module in ("marldyn", "numpy", "numba", "xarray", "dask.array", "h5netcdf"):
        rows[f"import {module}"] = (python + [f"import {module}"], None)
    best = round_robin(rows, repeat)
    empty = best.pop("python -c pass")
    print(f"{'python -c pass':<46} {empty:6.2f} s")
    for label, seconds in best.items():
        print(f"{label:<46} {seconds - empty:6.2f} s beyond the interpreter")


def simulate(repeat: int, before: str | None, folder: str) -> None:
    out = os.path.join(folder, "sim.nc")
    arguments = ["simulate", CONFIG, "--overwrite", "-o", out]
    python = [sys.executable, "-c"]
    trees = {"now, without dask": (NO_DASK + CLI, environment()), "now, with dask": (CLI, environment())}
    if before is not None:
        trees["before (--before), with dask"] = (CLI, environment(PYTHONPATH=os.path.join(before, "src")))
    for label, extra in (("--steps 1", ["--steps", "1"]), ("paper case", [])):
        rows = {
            f"simulate {label}, {tree}": (python + [code, *arguments, *extra], env)
            for tree, (code, env) in trees.items()
        }
        for command, env in rows.values():  # fill numba's cache first (the before tree compiles its own)
            wall(command, env)
        best = round_robin(rows, repeat)
        reference = best[f"simulate {label}, now, without dask"]
        for row, seconds in best.items():
            print(f"{row:<46} {seconds:6.2f} s  ({seconds / reference:4.2f} x now without dask)")


def cold_and_warm(repeat: int, before: str | None, folder: str) -> None:
    """``reproduce fig3 --quick`` with an empty numba cache, then warm: ``repeat`` pairs per tree."""
    trees = {"now": environment()}
    if before is not None:
        trees["before"] = environment(PYTHONPATH=os.path.join(before, "src"))
    times = {tree: ([], []) for tree in trees}
    for index in range(repeat):
        for tree, env in trees.items():
            out = os.path.join(folder, f"fig3-{tree}")
            command = [sys.executable, "-c", CLI, "reproduce", "fig3", "--quick", "--out", out]
            env = dict(env, NUMBA_CACHE_DIR=os.path.join(folder, f"numba-cache-{tree}-{index}"))
            times[tree][0].append(wall(command, env))
            times[tree][1].append(wall(command, env))
    for tree, (colds, warms) in times.items():
        cold, warm = min(colds), min(warms)
        label = f"reproduce fig3 --quick, {tree}"
        print(f"{label + ', cold (empty cache)':<46} {cold:6.2f} s")
        print(f"{label + ', warm':<46} {warm:6.2f} s  (cold / warm {cold / warm:4.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", help="a checkout whose src/ to time beside this one")
    parser.add_argument("--no-fig3", action="store_true", help="skip the cold/warm reproduction")
    options = parser.parse_args()
    imports(options.repeat)
    with tempfile.TemporaryDirectory() as folder:
        simulate(options.repeat, options.before, folder)
        if not options.no_fig3:
            cold_and_warm(max(1, options.repeat // 3), options.before, folder)


if __name__ == "__main__":
    main()
