"""Edge-interactions per second of the numba kernel and the numpy reference, measured in one run.

Usage: python benchmarks/throughput.py [--quick]

Graphs: 10x10 and 1000x1000 lattices and a random 4-regular graph of 1e6 agents (where the kernels
prefetch the far agents' rows).

One edge-interaction is one edge playing one step (both agents' TD errors and the state transition).
Backends: the serial kernel (M = 2 draw unrolled), the same kernel with the generic any-M draw forced on
the same game, the threaded kernel, and the numpy reference.
The two backends run the same steps on the same state, so their ratio is measured under the same
machine load; absolute numbers vary with the machine.
"""

from __future__ import annotations

import argparse
import platform
import time

import numba
import numpy as np

from marldyn.agents import Learners
from marldyn.games import two_state_pd
from marldyn.graphs import lattice, random_regular
from marldyn.simulation import kernels, reference


def _state(graph, seed=0):
    rng = np.random.default_rng(seed)
    q = np.array([[0.5, 0.0], [0.0, 0.5]]) + rng.normal(0, 0.1, size=(graph.n_agents, 2, 2))
    return q, rng.integers(0, 2, size=graph.n_edges)


def _rate(graph, function, steps, extra=()):
    game = two_state_pd()
    learners = Learners.uniform(2, 2, alpha=0.001, beta=1.0, gamma=0.8)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners,
        np.zeros(graph.n_agents, np.int64),
        np.uint64(1),
    )
    q, state = _state(graph)
    start = time.perf_counter()
    if function is reference.step:
        for t in range(steps):
            q, state = reference.step(q, state, *args, t)
    else:
        function(q, state, *args, 0, steps, *extra)
    return graph.n_edges * steps / (time.perf_counter() - start)


def measure(graph, kernel_steps: int, reference_steps: int, rounds: int = 3) -> dict:
    """Best-of-``rounds`` rates of the backends, timed alternately so all see the same machine load."""
    incidence = kernels.incidence(graph.edges, graph.n_agents)
    backends = {
        "serial": (kernels.run_steps, kernel_steps, ()),
        "generic": (kernels.run_steps, kernel_steps, (False,)),  # the any-M draw, forced on M = 2
        "threaded": (kernels.run_steps_parallel, kernel_steps, incidence),
        "reference": (reference.step, reference_steps, ()),
    }
    for function, _, extra in backends.values():
        _rate(graph, function, 1, extra)  # compile outside the timing
    best = dict.fromkeys(backends, 0.0)
    for _ in range(rounds):
        for name, (function, steps, extra) in backends.items():
            best[name] = max(best[name], _rate(graph, function, steps, extra))
    best["ratio"] = max(best["serial"], best["threaded"]) / best["reference"]
    best["specialisation"] = best["serial"] / best["generic"]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    quick = parser.parse_args().quick
    cases = [
        ("10x10 lattice", lattice(100), 20_000, 1_000),
        ("1000x1000 lattice", lattice(1_000_000), 10, 2),
        ("random 4-regular 1e6", random_regular(1_000_000, 4, seed=1), 10, 2),
    ]
    if quick:
        cases = [(name, graph, max(k // 10, 2), max(r // 3, 1)) for name, graph, k, r in cases]
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(
        f"# numba threads: {numba.get_num_threads()}; ratio = best kernel / numpy reference; "
        "spec. = serial (M = 2 unrolled) / generic (any-M code on the same game)"
    )
    print(
        f"{'graph':<20} {'serial':>10} {'generic':>10} {'threaded':>10} {'reference':>10} {'ratio':>6} {'spec.':>6}"
        "   (edges/s)"
    )
    for name, graph, kernel_steps, reference_steps in cases:
        r = measure(graph, kernel_steps, reference_steps)
        print(
            f"{name:<20} {r['serial']:>10.3e} {r['generic']:>10.3e} {r['threaded']:>10.3e} {r['reference']:>10.3e}"
            f" {r['ratio']:>6.1f} {r['specialisation']:>6.2f}"
        )


if __name__ == "__main__":
    main()
