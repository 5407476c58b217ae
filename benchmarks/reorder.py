"""What node order costs: a lattice numbered row by row, the same lattice with shuffled ids, and the shuffled
lattice renumbered by reverse Cuthill–McKee (``[graph] order = "rcm"``), measured in one run.

Usage: python benchmarks/reorder.py [--agents N] [--steps S]

The three graphs are the same graph; only the agent numbering differs, so the rates differ only by memory
locality: with shuffled ids every edge touches two far-apart agents (like a random graph), and RCM puts
neighbours close together again. Serial kernel, paper's PD.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from marldyn.agents import Learners
from marldyn.games import two_state_pd
from marldyn.graphs import from_edges, lattice, reorder
from marldyn.simulation import kernels


def rate(graph, steps: int) -> float:
    game = two_state_pd()
    rng = np.random.default_rng(0)
    q = np.array([[0.5, 0.0], [0.0, 0.5]]) + rng.normal(0, 0.1, size=(graph.n_agents, 2, 2))
    state = rng.integers(0, 2, size=graph.n_edges)
    learners = Learners.uniform(2, 2, alpha=0.001, beta=1.0, gamma=0.8)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners,
        np.zeros(graph.n_agents, np.int64),
        np.uint64(1),
    )
    kernels.run_steps(q, state, *args, 0, 1)  # compile / load the cache outside the timing
    start = time.perf_counter()
    kernels.run_steps(q, state, *args, 1, steps)
    return graph.n_edges * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000, help="a perfect square")
    parser.add_argument("--steps", type=int, default=10)
    options = parser.parse_args()
    natural = lattice(options.agents)
    shuffle = np.random.default_rng(1).permutation(natural.n_agents)
    shuffled = from_edges(shuffle[natural.edges], natural.n_agents, name="shuffled lattice")
    start = time.perf_counter()
    ordered = reorder(shuffled, "rcm")
    seconds = time.perf_counter() - start
    print(f"{natural.name}, {natural.n_edges} edges; RCM renumbering took {seconds:.1f} s")
    for name, graph in (("row by row", natural), ("shuffled ids", shuffled), ("shuffled, then RCM", ordered)):
        width = int(np.max(graph.edges[:, 1] - graph.edges[:, 0]))
        print(f"{name:<20} bandwidth {width:>9d}   {rate(graph, options.steps):.3e} edges/s")


if __name__ == "__main__":
    main()
