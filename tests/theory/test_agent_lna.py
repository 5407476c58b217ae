"""The LNA at per-agent fixed points (theory/agent_lna.py): types that move the fixed point.

- The exact drift [A1] and one-step noise D [A2-A5] equal the mean and covariance of single simulator steps
  (numba kernel, edge states drawn independently from each edge's p_e) within 5 standard errors, on an
  irregular graph with a triangle, a committed agent, another β and γ, expected SARSA and FAQ, at a Q that is
  no fixed point (so every δ̄_f ≠ 0 term is exercised).
- Without moving types it is the homogeneous LNA: the same Q*, J, D and covariances (``lna.dense_matrices``,
  ``lna.solve_lna``) on an irregular graph with triangles.
- The fixed point zeroes the drift, keeps committed agents, and respects the graph's symmetry; the entry
  ``predict(config, "lna")`` takes committed agents and types that differ in β, γ, the TD target.
"""

from __future__ import annotations

import numpy as np
import pytest

import marldyn
from marldyn.agents import Learners
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.graphs import from_edges, lattice
from marldyn.theory import lna
from marldyn.theory.agent_lna import AgentNetwork, agent_fixed_point, solve_agent_lna

Z = 5.0
PD = two_state_pd()
TRIANGLE_GRAPH = from_edges([(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 3), (1, 4)], 7)
COMMITTED = [[0.8, 0.2], [0.1, 0.9]]


def mixed_population(alpha=0.05):
    config = marldyn.parse_config(
        {
            "graph": {"kind": "complete", "n": 7},
            "learning": {"alpha": alpha},
            "agent_types": [
                {"name": "committed", "agents": [5], "fixed_policy": COMMITTED},
                {"name": "hot", "agents": [1], "beta": 2.0, "gamma": 0.6},
                {"name": "esarsa", "agents": [3], "rule": "expected_sarsa", "alpha": alpha / 2},
                {"name": "faq", "agents": [4], "rule": "faq", "faq_beta": 0.3},
            ],
        }
    )
    learners = config.learners(PD, 7)
    return learners, learners.assign(7, None)


def single_steps(network, q, graph, learners, kind, copies, repeats, seed):
    """ΔQ of one simulator step from ``q``, edge states i.i.d. from each edge's p_e: (samples, agent, K, M)."""
    from marldyn.simulation.kernels import run_steps

    n = graph.n_agents
    edges = (np.asarray(graph.edges)[None] + n * np.arange(copies)[:, None, None]).reshape(-1, 2)
    distribution = np.tile(network.edge_distribution(network.policies(q)), (copies, 1))
    cumulative = np.cumsum(distribution, axis=1)
    rng = np.random.default_rng(seed)
    payoff, transition = np.array(PD.payoff), PD.cumulative_transition()
    samples = []
    for repeat in range(repeats):
        tiled = np.tile(q, (copies, 1, 1))
        edge_state = (rng.random(edges.shape[0])[:, None] > cumulative).sum(axis=1).astype(np.int64)
        types = np.tile(kind, copies)
        run_steps(tiled, edge_state, edges, payoff, transition, learners, types, np.uint64(seed), repeat, 1)
        samples.append((tiled - np.tile(q, (copies, 1, 1))).reshape(copies, n, 2, 2))
    return np.concatenate(samples)


def test_drift_and_noise_equal_single_simulator_steps_away_from_the_fixed_point():
    learners, kind = mixed_population()
    network = AgentNetwork(PD, TRIANGLE_GRAPH, learners, kind)
    q = 2.0 + np.random.default_rng(1).normal(0.0, 1.0, (7, 2, 2))
    samples = single_steps(network, q, TRIANGLE_GRAPH, learners, kind, copies=2000, repeats=40, seed=4)
    movers = np.flatnonzero(network.moving)
    assert movers.tolist() == [0, 1, 2, 3, 4, 6]
    np.testing.assert_array_equal(samples[:, 5], 0.0)  # the committed agent never moves
    x = samples[:, movers].reshape(samples.shape[0], -1)
    count = x.shape[0]
    mean = x.mean(axis=0)
    drift = network.drift(q)
    np.testing.assert_array_equal(drift[5], 0.0)
    assert np.all(np.abs(mean - drift[movers].ravel()) <= Z * x.std(axis=0) / np.sqrt(count))
    centred = x - mean
    estimate = centred.T @ centred / count
    error = np.sqrt(np.maximum((centred**2).T @ (centred**2) / count - estimate**2, 0.0) / count)
    noise = network.noise(q)
    assert np.all(np.abs(estimate - noise) <= Z * error + 1e-14)
    n, d = movers.size, 4
    blocks = np.abs(noise.reshape(n, d, n, d)).max(axis=(1, 3))
    # rows and columns: agents 0, 1, 2, 3, 4, 6
    assert blocks[0, 1] > 0.01 * blocks[0, 0]  # a shared edge (0-1, in the triangle 0-1-2)
    assert blocks[0, 3] > 0.01 * blocks[0, 0]  # agents 0 and 3: a common neighbour (2) only
    assert blocks[0, 5] == 0.0  # agents 0 and 6: neither adjacent nor with a common neighbour


@pytest.mark.parametrize("rule", ["q_learning", "expected_sarsa"])
def test_without_moving_types_it_is_the_homogeneous_lna(rule):
    graph = TRIANGLE_GRAPH
    q_star = lna.fixed_point(np.zeros((2, 2)), PD, beta=1.0, gamma=0.8, rule=rule)
    learners = Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8, rule=rule)
    kind = np.zeros(graph.n_agents, dtype=np.int64)
    network = AgentNetwork(PD, graph, learners, kind)
    found = agent_fixed_point(network, np.broadcast_to(q_star + 0.3, (7, 2, 2)))
    np.testing.assert_allclose(found, np.broadcast_to(q_star, found.shape), atol=1e-9)
    matrix, noise = lna.dense_matrices(q_star, PD, graph, alpha=0.01, beta=1.0, gamma=0.8, rule=rule)
    exact = np.broadcast_to(q_star, (7, 2, 2)).copy()
    np.testing.assert_allclose(network.noise(exact), noise, atol=1e-12 * np.abs(noise).max())
    result = solve_agent_lna(PD, graph, learners, kind, exact)
    np.testing.assert_allclose(result.blocks["jacobian"], matrix - np.eye(matrix.shape[0]), atol=1e-8 * 0.01)
    reference = lna.solve_lna(q_star, PD, graph, alpha=0.01, beta=1.0, gamma=0.8, rule=rule, route="direct")
    np.testing.assert_allclose(result.within_covariance, reference.within_covariance, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(result.mean_covariance, reference.mean_covariance, rtol=1e-5, atol=1e-12)
    np.testing.assert_allclose(result.policy_std, reference.policy_std, rtol=1e-5)
    np.testing.assert_allclose(result.q_std, reference.q_std, rtol=1e-5)
    np.testing.assert_allclose(result.relaxation_time, reference.relaxation_time, rtol=1e-5)


def test_fixed_point_zeroes_the_drift_keeps_committed_agents_and_the_symmetry():
    committed = {"name": "z", "agents": [0], "fixed_policy": COMMITTED}
    config = marldyn.parse_config({"graph": {"kind": "lattice", "n": 16}, "agent_types": [committed]})
    learners = config.learners(PD, 16)
    kind = learners.assign(16, None)
    network = AgentNetwork(PD, lattice(16), learners, kind)
    start = np.random.default_rng(2).normal(0.0, 0.5, (16, 2, 2))
    q_star = agent_fixed_point(network, start)
    np.testing.assert_array_equal(q_star[0], start[0])
    assert np.abs(network.drift(q_star)).max() < 1e-13
    # the torus seen from agent 0: its four neighbours alike, the two reflections of agent 5 alike
    for group in ([1, 3, 4, 12], [5, 7, 13, 15], [2, 8], [6, 9, 11, 14]):
        np.testing.assert_allclose(q_star[group], np.broadcast_to(q_star[group[0]], (len(group), 2, 2)), atol=1e-8)
    assert np.abs(q_star[1] - q_star[10]).max() > 1e-3  # a neighbour of the committed agent differs


def test_errors_name_the_problem():
    learners, kind = mixed_population()
    sarsa = Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8, rule="sarsa")
    with pytest.raises(ConfigError, match="SARSA"):
        AgentNetwork(PD, TRIANGLE_GRAPH, sarsa, np.zeros(7, dtype=np.int64))
    with pytest.raises(ConfigError, match="agent_type"):
        AgentNetwork(PD, TRIANGLE_GRAPH, learners, kind[:3])
    star = from_edges([(0, j) for j in range(1, 18)], 18)
    uniform = Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8)
    with pytest.raises(ConfigError, match="degree 17"):
        AgentNetwork(PD, star, uniform, np.zeros(18, dtype=np.int64))
    network = AgentNetwork(PD, TRIANGLE_GRAPH, learners, kind)
    with pytest.raises(ConfigError, match="q0"):
        agent_fixed_point(network, np.zeros((6, 2, 2)))


def test_predict_lna_takes_types_that_move_the_fixed_point():
    base = {"graph": {"kind": "lattice", "n": 16}, "learning": {"alpha": 1e-3}, "run": {"steps": 100, "runs": 2}}
    committed = {"name": "z", "agents": [0, 10], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}
    ds = marldyn.predict({**base, "init": {"q_noise": 0.0}, "agent_types": [committed]}, "lna")
    assert ds.attrs["route"] == "direct"
    config = marldyn.parse_config({**base, "agent_types": [committed]})
    learners = config.learners(PD, 16)
    result = solve_agent_lna(PD, lattice(16), learners, learners.assign(16, None), np.zeros((16, 2, 2)))
    np.testing.assert_allclose(ds.q_std.isel(time=0).values, result.q_std, rtol=1e-9)
    np.testing.assert_allclose(ds.policy.isel(time=0).values, result.policy, rtol=1e-9)
    cooperate = result.blocks["agent_policy"][:, :, 0]  # X*_i(s, C)
    near, far = [1, 3, 4, 12, 6, 9, 11, 14], [2, 5, 7, 8, 13, 15]  # the committed agents' neighbours, the rest
    homogeneous = lna.fixed_point(np.zeros((2, 2)), PD, beta=1.0, gamma=0.8)
    alone = np.exp(homogeneous[:, 0]) / np.exp(homogeneous).sum(axis=1)
    assert np.all(cooperate[near].min(axis=0) > cooperate[far].max(axis=0))
    assert np.all(cooperate[far].min(axis=0) > alone)  # committed cooperators pull every learner towards C
    for other in ({"name": "far", "fraction": 0.25, "gamma": 0.5}, {"name": "cold", "fraction": 0.25, "beta": 2.0}):
        ds = marldyn.predict({**base, "agent_types": [other]}, "lna")
        assert np.all(np.isfinite(ds.q_std.values)) and np.all(ds.q_std.values > 0)


def test_epsilon_greedy_learners_are_linearised_inside_their_region():
    config = {
        "graph": {"kind": "lattice", "n": 16},
        "learning": {"alpha": 0.005, "policy": "epsilon_greedy", "epsilon": 0.2},
        "init": {"q": [[1.0, 0.0], [1.0, 0.0]], "q_noise": 0.0},
        "run": {"steps": 100, "runs": 1},
        "agent_types": [{"name": "z", "agents": [0], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
    }
    ds = marldyn.predict(config, "lna")
    assert ds.attrs["switching_margin"] > lna.SWITCHING_MARGIN
    # every learner greedy on C in both states: X(C) = 1 - ε/2 = 0.9, the committed agent 1
    np.testing.assert_allclose(ds.policy.isel(time=0).values[:, 0], (15 * 0.9 + 1.0) / 16, rtol=1e-12)
    learners = marldyn.parse_config(config).learners(PD, 16)
    start = np.broadcast_to([[1.0, 0.0], [1.0, 0.0]], (16, 2, 2))
    result = solve_agent_lna(PD, lattice(16), learners, learners.assign(16, None), start)
    # ε-greedy policies do not move inside a region: the spread is the committed agent's 1 against the 15 learners' 0.9
    np.testing.assert_allclose(result.policy_std, 0.1 * np.sqrt(15) / 16, rtol=1e-9)
    assert np.all(result.q_std > 0)


def test_isolated_learners_and_committed_agents_keep_their_initial_q_in_predict():
    # regression: the entry started every non-committed agent at its type's fixed point, isolated ones included
    table = [[0.5, 0.0], [0.0, 0.5]]
    config = {
        "graph": {"kind": "complete", "n": 5},
        "init": {"q": table, "q_noise": 0.0},
        "run": {"steps": 10, "runs": 3},
        "agent_types": [{"name": "z", "agents": [0], "fixed_policy": COMMITTED}],
    }
    with pytest.warns(UserWarning, match="isolated"):
        graph = from_edges([(0, 1), (1, 2), (2, 3)], 5)  # agent 4 has no edge and never learns
    ds = marldyn.predict(config, "lna", graph=graph)
    learners = marldyn.parse_config(config).learners(PD, 5)
    kind = learners.assign(5, None)
    start = np.broadcast_to(lna.fixed_point(table, PD, beta=1.0, gamma=0.8), (5, 2, 2)).copy()
    start[[0, 4]] = table
    result = solve_agent_lna(PD, graph, learners, kind, start)
    np.testing.assert_array_equal(result.blocks["agent_fixed_point"][4], table)
    np.testing.assert_allclose(ds.q.isel(time=0).values, result.fixed_point, rtol=1e-9)
    np.testing.assert_allclose(ds.q_std.isel(time=0).values, result.q_std, rtol=1e-9)
