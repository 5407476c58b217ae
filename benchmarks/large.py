"""Scale: a population of 1e7 agents on a lattice, 1000 steps; prints time, rate and peak memory.

Usage: python benchmarks/large.py [--agents N] [--steps S]

Memory per agent and per edge (K = M = 2, float64 Q, int64 edges): Q 32 B, kernel per-(agent, state) arrays
(action 4 B, value 8 B, TD-target sum 8 B, count 4 B) 48 B per agent; edges 16 B + edge state 8 B per edge,
plus the CSR adjacency of the graph (16 B per edge, 8 B per agent). A 1e7-agent lattice (2e7 edges) needs
about 0.9 GB in the kernel plus the temporary arrays of the graph construction.
"""

from __future__ import annotations

import argparse
import resource
import time

import marldyn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=1000)
    options = parser.parse_args()
    side = int(round(options.agents**0.5))
    config = {
        "graph": {"kind": "lattice", "n": side * side},
        "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
        "run": {"steps": options.steps, "runs": 1, "record_every": max(1, options.steps // 10)},
    }
    start = time.perf_counter()
    graph = marldyn.parse_config(config).build_graph()
    built = time.perf_counter()
    dataset = marldyn.simulate(config, graph=graph)
    finished = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    rate = graph.n_edges * options.steps / (finished - built)
    print(f"agents {graph.n_agents:.2e}, edges {graph.n_edges:.2e}, steps {options.steps}")
    print(f"graph built in {built - start:.1f} s; simulation {finished - built:.1f} s ({rate:.2e} edges/s)")
    print(f"peak RSS {peak:.2f} GiB; final cooperation {dataset['policy'].isel(time=-1, run=0, action=0).values}")


if __name__ == "__main__":
    main()
