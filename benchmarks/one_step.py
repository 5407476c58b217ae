"""Cost of the one theory core (theory/one_step.py) per agent, against the simulator's own step, in one run.

Usage: python benchmarks/one_step.py [--agents N]

For the paper's prisoner's dilemma (2 states x 2 actions) and a random 3x3 game, measures (best of 7, CPU
time of this process, after compilation):

- the core alone on a batch of N agents: μ only (``drift_batch``), μ and Σ (``moments_batch``), per rule;
- one Euler–Maruyama step of the graph SDE on a 4-regular lattice (``solve_graph_sde``, dt = 1), per agent;
- one step of the exact simulator (Algorithm 1) on the same lattice, per agent,

and prints each as ns per agent and as a ratio to the simulator's step, so the numbers can be compared across
machines. Results depend on the machine's load; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import marldyn
from marldyn.agents import Learners
from marldyn.games import Game, two_state_pd
from marldyn.graphs import lattice
from marldyn.learning import RULES, rule_code
from marldyn.policy import boltzmann
from marldyn.theory import one_step
from marldyn.theory.graph_sde import solve_graph_sde


def best_time(function, repeats: int = 7) -> float:
    function()  # compile / load the numba cache
    best = math.inf
    for _ in range(repeats):
        start = time.process_time()
        function()
        best = min(best, time.process_time() - start)
    return best


def random_game(n_states: int, n_actions: int, seed: int) -> Game:
    rng = np.random.default_rng(seed)
    raw = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions, n_actions))
    return Game(rng.normal(size=(n_states, n_actions, n_actions)), 0.5 * (raw + raw.transpose(0, 2, 1, 3)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=40_000, help="agents in the batch and on the lattice")
    agents = math.isqrt(parser.parse_args().agents) ** 2
    graph = lattice(agents)
    print(f"{agents} agents, lattice of degree 4; ns per agent (ratio to one simulator step per agent)")
    for name, game in (("PD 2x2", two_state_pd()), ("random 3x3", random_game(3, 3, 1))):
        n_states, n_actions = game.n_states, game.n_actions
        rng = np.random.default_rng(0)
        q = rng.normal(0.0, 0.5, size=(agents, n_states, n_actions))
        policy = boltzmann(q, 1.0)
        neighbor = boltzmann(rng.normal(size=q.shape), 1.0)
        distribution = rng.dirichlet(np.ones(n_states), size=agents)
        degree = np.full(agents, 4)
        payoff, transition = game.arrays()
        config = {
            "game": {"name": "custom", "payoff": game.payoff.tolist(), "transition": game.transition.tolist()},
            "graph": {"kind": "lattice", "n": agents},
            "run": {"steps": 20, "runs": 1, "record_every": 20},
        }
        simulation = best_time(lambda c=config: marldyn.simulate(c, workers=1, progress=False), 3) / (20 * agents)
        print(f"\n{name}: simulator step {simulation * 1e9:.0f} ns per agent (= 1)")
        for rule in RULES:
            code = rule_code(rule)
            arguments = (q, policy, neighbor, distribution, degree, payoff, transition, 0.001)
            faq_beta = 0.3 if rule == "faq" else 1.0  # FAQ's scaled update; 1 leaves the other rules unchanged
            drift = best_time(lambda a=arguments, c=code, f=faq_beta: one_step.drift_batch(*a, 0.8, c, f)) / agents
            both = best_time(lambda a=arguments, c=code, f=faq_beta: one_step.moments_batch(*a, 0.8, c, f)) / agents
            learners = Learners.uniform(
                game.n_states, game.n_actions, 0.001, 1.0, 0.8, rule, faq_beta=0.3 if rule == "faq" else None
            )
            sde = best_time(
                lambda g=game, start=q[None], k=learners: solve_graph_sde(
                    start, g, graph, [0.0, 10.0], learners=k, dt=1.0, progress=False
                ),
                3,
            ) / (10 * agents)
            print(
                f"  {rule:15s} μ {drift * 1e9:6.0f} ({drift / simulation:4.2f})   μ and Σ {both * 1e9:6.0f} "
                f"({both / simulation:4.2f})   graph SDE step {sde * 1e9:6.0f} ({sde / simulation:4.2f})"
            )


if __name__ == "__main__":
    main()
