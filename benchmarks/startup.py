"""Start-up: wall time of `marldyn simulate` on the paper's config and what its imports cost, in one run.

Usage: python benchmarks/startup.py [--repeat R]

Each measurement is a fresh process (best of R, default 3), so the operating system's file cache is warm
after the first and numba's on-disk cache holds the compiled kernels:

- ``import marldyn`` (lazy: the heavy modules load on first use);
- the imports a simulation needs, one fresh process each: numpy, numba, xarray, dask.array (which xarray
  imports itself when the first Dataset is built), h5netcdf;
- ``marldyn simulate examples/pd_lattice.toml`` with ``--steps 1`` (start-up alone) and in full (10 runs x
  20,000 steps on the default worker threads), each writing its netCDF file.

The target of the performance issue is < 3 s for the full command; the import rows say how much of it no
change inside marldyn can remove.
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


def best_wall(command: list[str], repeat: int) -> float:
    """Best wall time in seconds of ``repeat`` fresh runs of ``command`` (which must succeed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    python = [sys.executable, "-c"]
    empty = best_wall(python + ["pass"], repeat)
    print(f"{'python -c pass':<42} {empty:6.2f} s")
    for module in ("marldyn", "numpy", "numba", "xarray", "dask.array", "h5netcdf"):
        seconds = best_wall(python + [f"import {module}"], repeat) - empty
        print(f"{'import ' + module:<42} {seconds:6.2f} s (beyond the interpreter)")
    cli = [sys.executable, "-m", "marldyn.cli", "simulate", CONFIG, "--overwrite", "-o"]
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "sim.nc")
        for label, extra in (("marldyn simulate, --steps 1", ["--steps", "1"]), ("marldyn simulate (paper case)", [])):
            seconds = best_wall(cli + [out, *extra], repeat)
            print(f"{label:<42} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
