"""Group games: the group kernel against the pairwise kernel and against its numpy reference, in one run.

- the PD as groups of two on the edges (``as_group_game``) against the pairwise kernel on the same lattice (the
  same results bit for bit): what the general group sweep costs over the pairwise one;
- the public goods game in neighbourhood groups of 5 (every agent in 5 groups) on lattices of 1e4 and 1e6
  agents: memberships per second, and the ratio to the numpy reference (``reference.group_step``).

Measured alternately, best of 3; prints ratios (the machine is shared: absolute rates move with its load)::

    python benchmarks/groups.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import marldyn
from marldyn.group_games import as_group_game
from marldyn.simulation import kernels, reference
from marldyn.simulation.problem import agent_types, initial_state, make_problem, run_streams


def problem_of(config: dict):
    config = marldyn.parse_config(config)
    problem = make_problem(config, config.build_game(), config.build_graph())
    stream = run_streams(0, 1)[0]
    q, state = initial_state(problem, stream[0])
    return problem, q, state, agent_types(problem, stream[2]), stream[1]


def runner(problem, q, state, agent_type, key, backend="numba"):
    """A function that advances copies of the state by ``steps`` steps and returns the seconds it took."""
    tables = (problem.payoff, problem.cum_transition, problem.learners, agent_type, key)

    def run(steps: int) -> float:
        q_now, state_now = q.copy(), state.copy()
        start = time.perf_counter()
        if problem.grouped and backend == "numba":
            groups = (problem.group_pointer, problem.group_member, problem.group_size_index)
            kernels.run_group_steps(q_now, state_now, *groups, *tables, 0, steps)
        elif problem.grouped:
            groups = (problem.group_pointer, problem.group_member, problem.group_size_index)
            for t in range(steps):
                q_now, state_now = reference.group_step(q_now, state_now, *groups, *tables, t)
        else:
            kernels.run_steps(q_now, state_now, problem.edges, *tables, 0, steps)
        return time.perf_counter() - start

    run(2)  # compile
    return run


def best(functions: dict, steps: dict, repeats: int = 3) -> dict:
    """Best time of every function, measured alternately."""
    times = {name: np.inf for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            times[name] = min(times[name], function(steps[name]))
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    arguments = parser.parse_args(argv)
    pd_group = as_group_game(marldyn.two_state_pd())
    custom = {
        "name": "custom_group",
        "payoff": pd_group.parameters["payoff"].tolist(),
        "transition": pd_group.parameters["transition"].tolist(),
    }
    n = 10_000
    pairwise = runner(*problem_of({"graph": {"n": n}, "learning": {"alpha": 0.01}}))
    grouped = runner(*problem_of({"game": custom, "graph": {"n": n}, "learning": {"alpha": 0.01}}))
    times = best({"pairwise": pairwise, "groups of two": grouped}, {"pairwise": 500, "groups of two": 500})
    print(
        f"PD on the edges of a {n:,}-agent lattice, 500 steps: pairwise kernel {times['pairwise']:.3f} s, "
        f"group kernel {times['groups of two']:.3f} s, ratio {times['groups of two'] / times['pairwise']:.2f}"
    )
    for agents in (10_000,) if arguments.quick else (10_000, 1_000_000):
        config = {
            "game": {"name": "public_goods"},
            "graph": {"n": agents, "groups": "neighborhood"},
            "learning": {"alpha": 0.01},
        }
        problem = problem_of(config)
        fast, slow = runner(*problem), runner(*problem, backend="numpy")
        steps = {"numba": 200 if agents <= 10_000 else 20, "numpy": 20 if agents <= 10_000 else 2}
        times = best({"numba": fast, "numpy": slow}, steps)
        memberships = problem[0].group_member.size
        rate = memberships * steps["numba"] / times["numba"]
        ratio = (times["numpy"] / steps["numpy"]) / (times["numba"] / steps["numba"])
        print(
            f"public goods, neighbourhood groups of 5 on a {agents:,}-agent lattice: {rate:.3g} memberships/s, "
            f"{ratio:.1f}x the numpy reference"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
