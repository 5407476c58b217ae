"""Throughput vs population size, with the machine's memory and compute ceilings, measured in one run.

Usage: python benchmarks/scaling.py [--max-lattice N] [--max-random N] [--plot FILE]

N runs over 1e2 … 1e7 (default; about 5 minutes and 4 GB at 1e7).

For each N the serial kernel runs a few steps of the paper's PD on a periodic lattice and on a random
4-regular graph — there with and without prefetching of the far agents' rows — and, at 1e6 agents, on a
Barabási–Albert graph and with a random 3-state, 3-action game on the lattice. Three ceilings are measured
on this machine in the same run:

- **bandwidth** (lattice): a streaming triad a = b + s c over arrays far larger than the caches (GB/s),
  turned into edges/s by the bytes one edge-interaction moves (``BYTES_PER_EDGE``: the edge sweep reads the
  edge and its state and streams both agents' rows; the agent sweep per agent and state reads and writes
  Q and the row — about 150 bytes per edge of a degree-4 graph with K = M = 2);
- **random row update** (random graphs): the rate of read-modify-writes of one float in random 64-byte rows
  of an array as large as the kernel's per-agent rows at 1e7 agents, with prefetching — the one cache miss
  (and write-back) per edge that a random graph's far end costs; the near end and the agent sweep stream;
- **compute**: the kernel's own rate when everything fits in the caches (the 10x10 lattice): the per-agent
  ``exp`` and random draws and the per-edge work cost that much without any memory traffic.

The printed fractions are the kernel's rate over its memory ceiling and over the compute ceiling; the
smaller ceiling binds (a rate cannot exceed either).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from numba import njit

from marldyn.agents import Learners
from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert, lattice, random_regular
from marldyn.simulation import kernels

BYTES_PER_EDGE = 150


@njit(cache=True)
def _triad(a, b, c, scale):
    for k in range(a.shape[0]):
        a[k] = b[k] + scale * c[k]


@njit(cache=True)
def _row_updates(rows, index):
    n = index.shape[0]
    for k in range(n):
        kernels._prefetch_row(rows, index[min(k + kernels.PREFETCH_DISTANCE, n - 1)])
        rows[index[k], 2] += 1.0


def _shortest(call, repeat: int = 3) -> float:
    """The shortest of ``repeat`` wall times of ``call()`` in seconds (the machine is shared)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def bandwidth(size: int = 40_000_000) -> float:
    """Bytes per second of the triad (3 arrays x 8 bytes per element), best of 3."""
    a, b, c = np.zeros(size), np.ones(size), np.ones(size)
    _triad(a[:10], b[:10], c[:10], 2.0)
    return 24 * size / _shortest(lambda: _triad(a, b, c, 2.0))


def row_update_rate(n_rows: int = 10_000_000, updates: int = 20_000_000) -> float:
    """Read-modify-writes per second of one float in random 64-byte rows (prefetched), best of 3."""
    rows = np.zeros((n_rows, 8))
    index = np.random.default_rng(0).integers(0, n_rows, updates)
    _row_updates(rows, index[:10])
    return updates / _shortest(lambda: _row_updates(rows, index))


def _three_by_three():
    """A random symmetric 3-state, 3-action game (fixed seed)."""
    from marldyn.games import Game

    rng = np.random.default_rng(3)
    raw = rng.dirichlet(np.ones(3), size=(3, 3, 3))
    return Game(rng.normal(size=(3, 3, 3)), 0.5 * (raw + raw.transpose(0, 2, 1, 3)))


def kernel_rate(graph, game, steps: int, prefetch: bool = True) -> float:
    """Edge-interactions per second of the serial kernel, best of 3 (the machine is shared)."""
    rng = np.random.default_rng(0)
    q = rng.normal(0, 0.5, size=(graph.n_agents, game.n_states, game.n_actions))
    state = rng.integers(0, game.n_states, graph.n_edges)
    learners = Learners.uniform(2, 2, alpha=0.001, beta=1.0, gamma=0.8)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners,
        np.zeros(graph.n_agents, np.int64),
        np.uint64(1),
    )
    kernels.run_steps(q, state, *args, 0, 1, True, prefetch)  # compile outside the timing
    return graph.n_edges * steps / _shortest(lambda: kernels.run_steps(q, state, *args, 1, steps, True, prefetch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lattice", type=int, default=10_000_000)
    parser.add_argument("--max-random", type=int, default=10_000_000)
    parser.add_argument("--plot", default=None, help="PNG of throughput vs N with the ceilings")
    options = parser.parse_args()
    game = two_state_pd()
    stream, updates = bandwidth(), row_update_rate()
    lattice_ceiling = stream / BYTES_PER_EDGE
    random_ceiling = updates  # one random row update per edge
    compute = kernel_rate(lattice(100), game, 20_000)  # everything in the caches
    print(f"bandwidth {stream / 1e9:.1f} GB/s -> lattice memory ceiling {lattice_ceiling:.2e} edges/s")
    print(f"random row updates {updates:.2e}/s -> random-graph memory ceiling {random_ceiling:.2e} edges/s")
    print(f"compute ceiling (kernel rate in cache, 10x10 lattice) {compute:.2e} edges/s")
    rows = []
    for n in [10**k for k in range(2, 8)]:
        side = int(round(n**0.5))
        steps = max(3, int(2e7 // (2 * n)))
        if side * side <= options.max_lattice:
            rows.append(("lattice", side * side, kernel_rate(lattice(side * side), game, steps), lattice_ceiling))
        if n <= options.max_random:
            graph = random_regular(n, 4, seed=1)
            rows.append(("random 4-regular", n, kernel_rate(graph, game, steps), random_ceiling))
            rows.append(("  without prefetch", n, kernel_rate(graph, game, steps, False), random_ceiling))
    largest = min(options.max_random, 1_000_000)  # networkx builds the Barabási–Albert graph: 1e6 is plenty
    rows.append(
        ("Barabási–Albert m=2", largest, kernel_rate(barabasi_albert(largest, 2, seed=1), game, 5), random_ceiling)
    )
    side = int(largest**0.5)
    rows.append(
        ("3x3 game, lattice", side * side, kernel_rate(lattice(side * side), _three_by_three(), 5), lattice_ceiling)
    )
    print(f"{'graph':<20} {'N':>10} {'edges/s':>10} {'of memory':>10} {'of compute':>10}")
    for name, n, rate, ceiling in rows:
        print(f"{name:<20} {n:>10d} {rate:>10.3e} {rate / ceiling:>10.0%} {rate / compute:>10.0%}")
    if options.plot:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6.5, 4.2), layout="constrained")
        ax = figure.subplots()
        lines = (
            ("lattice", "C0", "o-", lattice_ceiling),
            ("random 4-regular", "C1", "o-", random_ceiling),
            ("  without prefetch", "C1", "x:", None),
        )
        for name, color, style, ceiling in lines:
            points = [(n, rate) for kind, n, rate, _ in rows if kind == name]
            label = "random 4-regular, no prefetch" if name.startswith(" ") else name
            ax.plot(*zip(*points, strict=True), style, color=color, label=f"{label} (serial kernel)")
            if ceiling is not None:
                ax.axhline(ceiling, color=color, linestyle="--", label=f"{name} memory ceiling (large N)")
        ax.axhline(compute, color="0.4", linestyle="-.", label="compute ceiling (kernel in cache)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="agents N",
            ylabel="edge-interactions per second",
            title="marldyn kernel throughput vs population size (one core)",
        )
        ax.legend(fontsize=7, loc="lower left")
        figure.savefig(options.plot, dpi=120)
        print(f"wrote {options.plot}")


if __name__ == "__main__":
    main()
