"""Edge-interactions per second of the numba kernel and the numpy reference, measured in one run.

Usage: python benchmarks/throughput.py [--quick]

One edge-interaction is one edge playing one step (both agents' TD errors and the state transition).
The two backends run the same steps on the same state, so their ratio is measured under the same
machine load; absolute numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from marldyn.games import two_state_pd
from marldyn.graphs import lattice
from marldyn.simulation import kernels, reference


def _state(graph, seed=0):
    rng = np.random.default_rng(seed)
    q = np.array([[0.5, 0.0], [0.0, 0.5]]) + rng.normal(0, 0.1, size=(graph.n_agents, 2, 2))
    return q, rng.integers(0, 2, size=graph.n_edges)


def measure(graph, kernel_steps: int, reference_steps: int, rounds: int = 3) -> dict:
    """Best-of-``rounds`` rates of both backends, timed alternately so both see the same machine load."""
    game = two_state_pd()
    args = (graph.edges, game.payoff, game.cumulative_transition(), 0.001, 1.0, 0.8, 0, np.uint64(1))
    kernels.run_steps(*_state(graph), *args, 0, 1)  # compile outside the timing
    kernel_best = reference_best = 0.0
    for _ in range(rounds):
        q, state = _state(graph)
        start = time.perf_counter()
        kernels.run_steps(q, state, *args, 0, kernel_steps)
        kernel_best = max(kernel_best, graph.n_edges * kernel_steps / (time.perf_counter() - start))
        q, state = _state(graph)
        start = time.perf_counter()
        for t in range(reference_steps):
            q, state = reference.step(q, state, *args, t)
        reference_best = max(reference_best, graph.n_edges * reference_steps / (time.perf_counter() - start))
    return {"kernel": kernel_best, "reference": reference_best, "ratio": kernel_best / reference_best}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    quick = parser.parse_args().quick
    cases = [("10x10 lattice", lattice(100), 20_000, 1_000), ("1000x1000 lattice", lattice(1_000_000), 10, 2)]
    if quick:
        cases = [(name, graph, max(k // 10, 2), max(r // 3, 1)) for name, graph, k, r in cases]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'graph':<20} {'kernel (edges/s)':>18} {'reference (edges/s)':>20} {'ratio':>8}")
    for name, graph, kernel_steps, reference_steps in cases:
        result = measure(graph, kernel_steps, reference_steps)
        print(f"{name:<20} {result['kernel']:>18.3e} {result['reference']:>20.3e} {result['ratio']:>8.1f}")


if __name__ == "__main__":
    main()
