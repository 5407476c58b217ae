"""ε-greedy, FAQ and agent types in the simulator (issue 13): kernels against the reference, closed forms, outputs."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import marldyn
from helpers import learners_of, one_type, random_game
from marldyn.agents import DEFAULT_TYPE, Learners, type_count
from marldyn.errors import ConfigError
from marldyn.games import Game, two_state_pd
from marldyn.graphs import barabasi_albert, erdos_renyi, lattice
from marldyn.learning import RULES
from marldyn.simulation import kernels, reference
from marldyn.simulation.problem import agent_types, initial_state, make_problem, run_streams

GAMES = {"pd": two_state_pd(), "random3x3": random_game(3, 3, seed=4)}
GRAPHS = {
    "lattice16": lattice(16),
    "erdos_renyi40": erdos_renyi(40, 0.08, seed=2),
    "barabasi_albert30": barabasi_albert(30, 2, seed=3),
}


def mixed_types(game, policy: str, rule: str) -> list[dict]:
    """A fast type with the policy and rule under test, a slow Boltzmann SARSA type and a committed minority."""
    greedy = {"epsilon": 0.15} if policy == "epsilon_greedy" else {"beta": 2.0}
    faq = {"faq_beta": 0.25} if rule == "faq" else {}
    committed = np.full((game.n_states, game.n_actions), 0.0)
    committed[:, -1] = 1.0
    return [
        {"name": "fast", "fraction": 0.3, "alpha": 0.3, "gamma": 0.6, "policy": policy, "rule": rule, **greedy, **faq},
        {"name": "slow", "fraction": 0.2, "alpha": 0.02, "policy": "boltzmann", "rule": "sarsa", "beta": 0.5},
        {"name": "committed", "agents": [1, 4], "fixed_policy": committed.tolist()},
    ]


def problem_of(game, graph, learning: dict, types: list[dict]):
    """A Problem on a custom game and graph (the config's graph is replaced), and its first run's stream."""
    config = marldyn.parse_config(
        {
            "game": {"name": "custom", "payoff": game.payoff.tolist(), "transition": game.transition.tolist()},
            "graph": {"kind": "complete", "n": graph.n_agents},
            "learning": learning,
            "init": {"q_noise": 1.0},
            "agent_types": types,
        }
    )
    problem = make_problem(config, game, graph)
    stream = run_streams(5, 1)[0]
    q, state = initial_state(problem, stream[0])
    return problem, q, state, agent_types(problem, stream[2]), stream[1]


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("policy", ["boltzmann", "epsilon_greedy"])
@pytest.mark.parametrize("graph_name", list(GRAPHS))
@pytest.mark.parametrize("game_name", list(GAMES))
def test_typed_kernels_are_bit_identical_to_the_reference(game_name, graph_name, policy, rule):
    """Serial, generic (any M) and threaded kernels equal the numpy reference for every policy x rule with types."""
    game, graph = GAMES[game_name], GRAPHS[graph_name]
    learning = {"policy": policy, "rule": rule, "alpha": 0.1}
    learning.update({"epsilon": 0.3} if policy == "epsilon_greedy" else {})
    learning.update({"faq_beta": 0.4} if rule == "faq" else {})
    problem, q0, state0, agent_type, key = problem_of(game, graph, learning, mixed_types(game, policy, rule))
    assert set(np.unique(agent_type)) == {0, 1, 2, 3}
    args = (problem.edges, problem.payoff, problem.cum_transition, problem.learners, agent_type, key)
    q_ref, state_ref = q0.copy(), state0.copy()
    for t in range(20):
        q_ref, state_ref = reference.step(q_ref, state_ref, *args, t)
    incidence = kernels.incidence(problem.edges, problem.n_agents)
    for run in (
        lambda q, s: kernels.run_steps(q, s, *args, 0, 20),
        lambda q, s: kernels.run_steps(q, s, *args, 0, 20, False),  # the generic draw
        lambda q, s: kernels.run_steps_parallel(q, s, *args, 0, 20, *incidence),
    ):
        q, state = q0.copy(), state0.copy()
        run(q, state)
        assert np.array_equal(q, q_ref) and np.array_equal(state, state_ref)
    committed = agent_type == problem.learners.names.index("committed")
    assert np.array_equal(q_ref[committed], q0[committed])  # committed agents never update
    assert not np.array_equal(q_ref[~committed], q0[~committed])


@pytest.mark.parametrize("rule", ["q_learning", "sarsa", "expected_sarsa"])
@pytest.mark.parametrize("game_name", list(GAMES))
def test_epsilon_one_is_uniform_play_like_beta_zero(game_name, rule):
    """ε = 1 gives X = 1/M exactly, so the trajectory equals Boltzmann's at β = 0 bit for bit."""
    game, graph = GAMES[game_name], GRAPHS["erdos_renyi40"]
    rng = np.random.default_rng(0)
    q0 = rng.normal(size=(graph.n_agents, game.n_states, game.n_actions))
    state0 = rng.integers(0, game.n_states, graph.n_edges)
    results = []
    for learners in (
        learners_of(game, 0.2, 1.0, 0.8, rule, policy="epsilon_greedy", epsilon=1.0),
        learners_of(game, 0.2, 0.0, 0.8, rule),
    ):
        q, state = q0.copy(), state0.copy()
        assert np.all(learners.policies(q, one_type(graph)) == 1.0 / game.n_actions)
        kernels.run_steps(
            q,
            state,
            graph.edges,
            game.payoff,
            game.cumulative_transition(),
            learners,
            one_type(graph),
            np.uint64(3),
            0,
            30,
        )
        results.append(q)
    assert np.array_equal(results[0], results[1])


def test_epsilon_greedy_policy_breaks_ties_uniformly():
    learners = learners_of(GAMES["random3x3"], 0.1, 1.0, 0.8, policy="epsilon_greedy", epsilon=0.3)
    q = np.array([[[1.0, 1.0, 0.0], [0.0, 2.0, -1.0], [5.0, 5.0, 5.0]]])
    x = learners.policies(q, np.zeros(1, np.int64))[0]
    np.testing.assert_allclose(x, [[0.45, 0.45, 0.1], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)


def test_faq_with_faq_beta_one_is_q_learning():
    game, graph = GAMES["pd"], GRAPHS["lattice16"]
    rng = np.random.default_rng(1)
    q0 = rng.normal(size=(graph.n_agents, 2, 2))
    state0 = rng.integers(0, 2, graph.n_edges)
    results = []
    for learners in (learners_of(game, 0.2, 1.0, 0.8, "faq", faq_beta=1.0), learners_of(game, 0.2, 1.0, 0.8)):
        q, state = q0.copy(), state0.copy()
        kernels.run_steps(
            q,
            state,
            graph.edges,
            game.payoff,
            game.cumulative_transition(),
            learners,
            one_type(graph),
            np.uint64(3),
            0,
            30,
        )
        results.append(q)
    assert np.array_equal(results[0], results[1])


def test_faq_scales_the_update_by_faq_beta_over_x():
    """One state, one action: X = 1, so FAQ's update is α faq_beta (r + γ Q - Q), a deterministic recursion."""
    reward, alpha, gamma, faq_beta = 2.0, 0.2, 0.5, 0.25
    game = Game([[[reward]]], [[[[1.0]]]])
    graph = lattice(9)
    learners = learners_of(game, alpha, 1.0, gamma, "faq", faq_beta=faq_beta)
    q = np.zeros((9, 1, 1))
    expected = 0.0
    state = np.zeros(graph.n_edges, dtype=np.int64)
    for t in range(50):
        kernels.run_steps(
            q,
            state,
            graph.edges,
            game.payoff,
            game.cumulative_transition(),
            learners,
            one_type(graph),
            np.uint64(1),
            t,
            1,
        )
        expected += alpha * faq_beta * (reward + gamma * expected - expected)
    np.testing.assert_allclose(q[:, 0, 0], expected, rtol=1e-13)


def test_types_with_identical_parameters_give_the_untyped_result():
    base = {
        "graph": {"kind": "random_regular", "n": 30, "degree": 3},
        "learning": {"alpha": 0.05, "policy": "epsilon_greedy", "epsilon": 0.2, "rule": "faq", "faq_beta": 0.3},
        "init": {"q_noise": 0.5},
        "run": {"steps": 200, "runs": 3, "record_every": 50, "seed": 4},
    }
    plain = marldyn.simulate(base, snapshots=True)
    twins = marldyn.simulate(
        {**base, "agent_types": [{"name": "twin", "fraction": 0.4, "alpha": 0.05}]}, snapshots=True
    )
    for name in ("policy", "q", "q_std", "state_fraction", "agent_q"):
        xr.testing.assert_identical(plain[name], twins[name])
    assert list(twins.agent_type.values) == [DEFAULT_TYPE, "twin"]


def test_committed_minority_outputs():
    config = {
        "graph": {"n": 25},
        "learning": {"alpha": 0.1},
        "init": {"q_noise": 0.5},
        "run": {"steps": 100, "runs": 4, "record_every": 50, "seed": 2},
        "agent_types": [{"name": "zealots", "fraction": 0.2, "fixed_policy": [[1.0, 0.0], [0.25, 0.75]]}],
    }
    result = marldyn.simulate(config, snapshots=True)
    assert list(result.agent_type.values) == ["default", "zealots"]
    assert result.policy_by_type.dims == ("run", "time", "agent_type", "state", "action")
    zealots = result.agent_type_index == 1
    assert np.all(zealots.sum("agent") == type_count(0.2, 25))  # exactly round(0.2 N) in every run
    assert len({tuple(np.flatnonzero(row)) for row in zealots.values}) > 1  # drawn anew in each run
    np.testing.assert_array_equal(
        result.policy_by_type.sel(agent_type="zealots").values,
        np.broadcast_to([[1.0, 0.0], [0.25, 0.75]], (4, 3, 2, 2)),
    )
    for run in range(4):
        members = np.flatnonzero(zealots.values[run])
        q = result.agent_q.isel(run=run).values
        assert np.array_equal(q[:, members], np.broadcast_to(q[0, members], q[:, members].shape))
    # the population mean is the agent-weighted mean of the types
    weights = np.array([20, 5]) / 25
    np.testing.assert_allclose(
        result.policy, (result.policy_by_type * xr.DataArray(weights, dims="agent_type")).sum("agent_type")
    )


def test_assignment_does_not_depend_on_runs_or_workers():
    config = {
        "graph": {"n": 36},
        "run": {"steps": 20, "runs": 4, "record_every": 10},
        "agent_types": [{"name": "a", "fraction": 0.25, "alpha": 0.01}, {"name": "b", "agents": [0, 35]}],
    }
    four = marldyn.simulate(config, workers=2)
    two = marldyn.simulate({**config, "run": {"steps": 20, "runs": 2, "record_every": 10}}, workers=1)
    xr.testing.assert_identical(four.isel(run=slice(0, 2)).agent_type_index, two.agent_type_index)
    assert np.all(four.agent_type_index.sel(agent=[0, 35]) == 2)
    assert (
        four.attrs["agent_types"].splitlines()[2]
        == "b: agents [0, 35]; boltzmann, rule q_learning, alpha 0.001, gamma 0.8, beta 1.0"
    )


def test_all_agents_typed_drops_the_default_type():
    config = {
        "graph": {"n": 9},
        "run": {"steps": 5, "runs": 1, "record_every": 5},
        "agent_types": [{"name": "a", "fraction": 0.5}, {"name": "b", "fraction": 0.5}],
    }
    with pytest.raises(ConfigError, match=r"^agent_types: the types take 10 agents .* more than the graph's 9$"):
        marldyn.simulate(config)
    config["graph"]["n"] = 16
    assert list(marldyn.simulate(config).agent_type.values) == ["a", "b"]


def test_agent_ids_are_checked_against_the_graph(tmp_path):
    path = tmp_path / "edges.txt"
    path.write_text("0 1\n1 2\n2 0\n")
    config = {"graph": {"kind": "edgelist", "path": str(path)}, "agent_types": [{"name": "a", "agents": [3]}]}
    with pytest.raises(ConfigError, match=r"^agent_types\[0\]\.agents: agent id 3 is out of range for a graph of 3"):
        marldyn.simulate(config)


def test_learners_round_trip_and_describe():
    config = marldyn.parse_config({"agent_types": mixed_types(two_state_pd(), "boltzmann", "faq")})
    learners = config.learners(config.build_game(), 100)
    again = Learners.from_dict(learners.to_dict())
    assert again.describe() == learners.describe()
    assert learners.committed.tolist() == [False, False, False, True]
