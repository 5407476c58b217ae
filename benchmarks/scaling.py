"""Throughput vs population size, with the machine's memory ceilings, measured in one run.

Usage: python benchmarks/scaling.py [--max-lattice N] [--max-random N] [--plot FILE]

For each N the serial kernel runs a few steps of the paper's PD on a periodic lattice and on a random
4-regular graph (and a 3-state, 3-action game on the lattice at the largest size). Two ceilings are measured
on this machine in the same run:

- **bandwidth**: a streaming triad a = b + s c over arrays far larger than the caches (GB/s), turned into
  edges/s by the bytes one edge-interaction moves (``BYTES_PER_EDGE``: the edge sweep reads the edge, its
  state, both actions and values and updates both TD-target sums and counts; the agent sweep per agent
  and state reads and writes Q, the action, the value, the sum and the count — about 150 bytes per edge of a
  degree-4 graph with K = M = 2);
- **random gather**: the rate of dependent-free random 8-byte loads from a large array, turned into edges/s
  by the two random agents an edge of a random graph touches (each access to a far neighbour's action,
  value, sum and count costs about two cache lines).

A third, compute ceiling is the kernel's own rate when everything fits in the caches (the 10x10 lattice):
the per-agent ``exp`` and random draws and the per-edge dependency chain cost that much even without any
memory traffic. The printed fractions are the kernel's rate over the memory ceiling and over the compute
ceiling; the smaller ceiling is the one that binds.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert, lattice, random_regular
from marldyn.simulation import kernels

BYTES_PER_EDGE = 150
RANDOM_LINES_PER_EDGE = 4  # two far agents, about two cache lines each


@njit(cache=True)
def _triad(a, b, c, scale):
    for k in range(a.shape[0]):
        a[k] = b[k] + scale * c[k]


@njit(cache=True)
def _gather(values, index):
    total = 0.0
    for k in range(index.shape[0]):
        total += values[index[k]]
    return total


def bandwidth(size: int = 40_000_000) -> float:
    """Bytes per second of the triad (3 arrays x 8 bytes per element), best of 3."""
    a, b, c = np.zeros(size), np.ones(size), np.ones(size)
    _triad(a[:10], b[:10], c[:10], 2.0)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        _triad(a, b, c, 2.0)
        best = max(best, 24 * size / (time.perf_counter() - start))
    return best


def gather_rate(size: int = 50_000_000, loads: int = 20_000_000) -> float:
    """Random 8-byte loads per second from an array far larger than the caches, best of 3."""
    values = np.ones(size)
    index = np.random.default_rng(0).integers(0, size, loads)
    _gather(values, index[:10])
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        _gather(values, index)
        best = max(best, loads / (time.perf_counter() - start))
    return best


def _three_by_three():
    """A random symmetric 3-state, 3-action game (fixed seed)."""
    from marldyn.games import Game

    rng = np.random.default_rng(3)
    raw = rng.dirichlet(np.ones(3), size=(3, 3, 3))
    return Game(rng.normal(size=(3, 3, 3)), 0.5 * (raw + raw.transpose(0, 2, 1, 3)))


def kernel_rate(graph, game, steps: int) -> float:
    rng = np.random.default_rng(0)
    q = rng.normal(0, 0.5, size=(graph.n_agents, game.n_states, game.n_actions))
    state = rng.integers(0, game.n_states, graph.n_edges)
    args = (graph.edges, game.payoff, game.cumulative_transition(), 0.001, 1.0, 0.8, 0, np.uint64(1))
    kernels.run_steps(q, state, *args, 0, 1)  # compile outside the timing
    start = time.perf_counter()
    kernels.run_steps(q, state, *args, 1, steps)
    return graph.n_edges * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lattice", type=int, default=4_000_000)
    parser.add_argument("--max-random", type=int, default=1_000_000)
    parser.add_argument("--plot", default=None, help="PNG of throughput vs N with the ceilings")
    options = parser.parse_args()
    game = two_state_pd()
    stream, gather = bandwidth(), gather_rate()
    lattice_ceiling = stream / BYTES_PER_EDGE
    random_ceiling = gather / RANDOM_LINES_PER_EDGE
    print(f"bandwidth {stream / 1e9:.1f} GB/s -> lattice ceiling {lattice_ceiling:.2e} edges/s")
    print(f"random gather {gather:.2e} loads/s -> random-graph ceiling {random_ceiling:.2e} edges/s")
    sizes = [10**k for k in range(2, 8)]
    rows = []
    for n in sizes:
        side = int(round(n**0.5))
        if side * side <= options.max_lattice:
            graph = lattice(side * side)
            steps = max(3, int(2e7 // graph.n_edges))
            rows.append(("lattice", graph.n_agents, kernel_rate(graph, game, steps), lattice_ceiling))
        if n <= options.max_random:
            graph = random_regular(n, 4, seed=1)
            steps = max(3, int(2e7 // graph.n_edges))
            rows.append(("random 4-regular", n, kernel_rate(graph, game, steps), random_ceiling))
    largest = options.max_random
    rows.append(
        ("Barabási–Albert m=2", largest, kernel_rate(barabasi_albert(largest, 2, seed=1), game, 5), random_ceiling)
    )
    side = int(largest**0.5)
    rows.append(
        ("3x3 game, lattice", side * side, kernel_rate(lattice(side * side), _three_by_three(), 5), lattice_ceiling)
    )
    compute = next(rate for kind, n, rate, _ in rows if kind == "lattice")  # the smallest lattice: in cache
    print(f"compute ceiling (kernel rate in cache, 10x10 lattice) {compute:.2e} edges/s")
    print(f"{'graph':<20} {'N':>10} {'edges/s':>10} {'of memory':>10} {'of compute':>10}")
    for name, n, rate, ceiling in rows:
        print(f"{name:<20} {n:>10d} {rate:>10.3e} {rate / ceiling:>10.0%} {rate / compute:>10.0%}")
    if options.plot:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.5, 4), layout="constrained")
        ax = figure.subplots()
        for name, color, ceiling in (("lattice", "C0", lattice_ceiling), ("random 4-regular", "C1", random_ceiling)):
            points = [(n, rate) for kind, n, rate, _ in rows if kind == name]
            ax.plot(*zip(*points, strict=True), "o-", color=color, label=f"{name} (serial kernel)")
            ax.axhline(ceiling, color=color, linestyle="--", label=f"{name} memory ceiling (large N)")
        ax.axhline(compute, color="0.4", linestyle=":", label="compute ceiling (kernel in cache)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="agents N",
            ylabel="edge-interactions per second",
            title="marldyn kernel throughput vs population size",
        )
        ax.legend(fontsize=8)
        figure.savefig(options.plot, dpi=120)
        print(f"wrote {options.plot}")


if __name__ == "__main__":
    main()
