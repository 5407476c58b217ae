"""The SDE ensemble on the graph (theory/graph_sde.py): one-step moments, limits, determinism.

(The numba μ and Σ themselves are checked against independent einsum formulas in test_one_step.py.)

- With dt = 1 the increments of one step have mean μ_i and covariance Σ_i of each agent (Monte-Carlo over
  many copies of a small irregular graph, within 5 standard errors).
- Without noise, identical agents on a regular graph follow the exact point-mass map (``full``) and the
  reduced ODE (``reduced``).
"""

from __future__ import annotations

import numpy as np
import pytest

from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.graphs import from_edges, lattice
from marldyn.policy import boltzmann
from marldyn.theory.graph_sde import graph_moments, solve_graph_sde
from marldyn.theory.homogeneous import solve_full_discrete, solve_reduced
from marldyn.theory.moments import diffusion, neighbor_marginals

Z = 5.0
PD = two_state_pd()
Q0 = np.array([[0.5, 0.0], [0.0, 0.5]])


def test_graph_moments_use_each_agents_own_edges():
    """p(s|i) and X̃_i from the agent's own edges with the neighbor_marginals semantics (eqs. 8, 20)."""
    graph = from_edges([(0, 1), (0, 2), (0, 3), (1, 2), (3, 4)])
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, 2, 2))
    parameters = dict(alpha=0.1, beta=1.0, gamma=0.8)
    moments = graph_moments(q, graph, PD, **parameters)
    policy = boltzmann(q, 1.0)
    edge_of = {tuple(edge): e for e, edge in enumerate(graph.edges.tolist())}
    for i in range(5):
        neighbors = graph.neighbors(i)
        pairs = np.array([moments["pair"][edge_of[(min(i, j), max(i, j))]] for j in neighbors])
        distribution, neighbor_policy = neighbor_marginals(policy[neighbors], pairs)
        np.testing.assert_allclose(moments["state_distribution"][i], distribution, rtol=1e-13)
        np.testing.assert_allclose(moments["neighbor_policy"][i], neighbor_policy, rtol=1e-13)
        expected = diffusion(q[i], neighbor_policy, distribution, len(neighbors), PD, **parameters)
        np.testing.assert_allclose(moments["sigma"][i], expected, rtol=1e-12, atol=1e-18)


# ----------------------------------------------------------------------------------------------
# one step with dt = 1: mean μ_i, covariance Σ_i
# ----------------------------------------------------------------------------------------------
def copies_of(edges, n_agents, copies):
    edges = np.asarray(edges)
    offsets = np.arange(copies)[:, None, None] * n_agents
    return from_edges((edges[None] + offsets).reshape(-1, 2), n_agents * copies)


@pytest.mark.parametrize("rule", ["q_learning", "sarsa"])
def test_one_step_increments_have_the_agents_mean_and_covariance(rule):
    """dt = 1: over many independent copies of a small irregular graph (degrees 1-3), the one-step increments
    of each agent have mean μ_i and covariance Σ_i of that agent (Gaussian sampling errors, 5 standard errors)."""
    small = [(0, 1), (0, 2), (0, 3), (1, 2), (3, 4)]
    copies = 20_000
    graph = copies_of(small, 5, copies)
    q = np.random.default_rng(1).normal(size=(5, 2, 2))
    parameters = dict(alpha=0.2, beta=1.0, gamma=0.8, rule=rule)
    start = np.broadcast_to(q, (copies, 5, 2, 2)).reshape(1, -1, 2, 2)
    result = solve_graph_sde(start, PD, graph, [0, 1], dt=1.0, seed=11, progress=False, **parameters)
    increments = (result.final_q[0] - start[0]).reshape(copies, 5, 4)
    moments = graph_moments(q, from_edges(small), PD, **parameters)
    for i in range(5):
        samples = increments[:, i]
        mean, covariance = moments["mu"][i].ravel(), moments["sigma"][i]
        variance = np.diag(covariance)
        assert np.all(np.abs(samples.mean(axis=0) - mean) < Z * np.sqrt(variance / copies))
        error = np.sqrt((np.outer(variance, variance) + covariance**2) / copies)
        assert np.all(np.abs(np.cov(samples.T) - covariance) < Z * error)
    # different agents (and different copies) get independent noise
    correlation = np.corrcoef(increments[:, 0, 0], increments[:, 1, 0])[0, 1]
    assert abs(correlation) < Z / np.sqrt(copies)


# ----------------------------------------------------------------------------------------------
# deterministic limits
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", ["q_learning", "expected_sarsa", "sarsa"])
def test_without_noise_identical_agents_follow_the_exact_point_mass_map(rule):
    graph = lattice(9)
    parameters = dict(alpha=0.01, beta=1.0, gamma=0.8, rule=rule)
    time = np.array([0, 5, 40, 200])
    start = np.broadcast_to(Q0, (1, 9, 2, 2))
    result = solve_graph_sde(start, PD, graph, time, timescale="full", noise=False, progress=False, **parameters)
    point = solve_full_discrete(Q0, PD, time, degree=4, **parameters)
    np.testing.assert_allclose(result.q[0], point.q, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(result.state_fraction[0], point.state_fraction, rtol=1e-12)
    np.testing.assert_allclose(result.q_std[0], 0.0, atol=1e-13)


def test_without_noise_the_reduced_version_is_euler_on_the_reduced_ode():
    graph = lattice(9)
    parameters = dict(alpha=0.001, beta=1.0, gamma=0.8)
    time = np.array([0, 1000, 3000])
    start = np.broadcast_to(Q0, (1, 9, 2, 2))
    result = solve_graph_sde(start, PD, graph, time, dt=1.0, noise=False, progress=False, **parameters)
    ode = solve_reduced(Q0, PD, time, degree=4, **parameters)
    np.testing.assert_allclose(result.q[0], ode.q, rtol=2e-3)  # Euler with h = 1 on a rate O(α)
    np.testing.assert_allclose(result.policy[0], ode.policy, atol=1e-3)


# ----------------------------------------------------------------------------------------------
# reproducibility and the entry point
# ----------------------------------------------------------------------------------------------
def test_the_result_does_not_depend_on_the_output_grid_and_repeats_with_the_seed():
    graph = lattice(16)
    start = Q0 + 0.1 * np.random.default_rng(0).normal(size=(2, 16, 2, 2))
    parameters = dict(alpha=0.05, beta=1.0, gamma=0.8, seed=4, progress=False)
    coarse = solve_graph_sde(start, PD, graph, [0, 60], **parameters)
    fine = solve_graph_sde(start, PD, graph, [0, 7, 30, 60], **parameters)
    np.testing.assert_array_equal(coarse.final_q, fine.final_q)
    other = solve_graph_sde(start, PD, graph, [0, 60], **{**parameters, "seed": 5})
    assert not np.array_equal(coarse.final_q, other.final_q)
    assert not np.array_equal(coarse.final_q[0], coarse.final_q[1])


def test_entry_point_uses_the_simulators_initial_draws():
    import marldyn
    from marldyn.theory.entry import theory

    config = marldyn.load_config("examples/pd_lattice.toml").with_overrides(steps=200, runs=2, record_every=100)
    dataset = theory(config, "sde-graph", dt=1.0, progress=False)
    assert dataset["q"].dims == ("run", "time", "state", "action")
    assert set(dataset.data_vars) == {"q", "policy", "q_std", "state_fraction"}
    simulation = marldyn.simulate(config, progress=False)
    for name in ("q", "q_std", "policy"):
        np.testing.assert_allclose(dataset[name].isel(time=0), simulation[name].isel(time=0), rtol=1e-12)
    assert dataset.attrs["method"] == "sde-graph"


def test_bad_arguments_are_config_errors():
    graph = lattice(9)
    start = np.broadcast_to(Q0, (1, 9, 2, 2))
    parameters = dict(alpha=0.01, beta=1.0, gamma=0.8, progress=False)
    with pytest.raises(ConfigError, match="timescale"):
        solve_graph_sde(start, PD, graph, [0, 1], timescale="slow", **parameters)
    with pytest.raises(ConfigError, match="whole simulator steps"):
        solve_graph_sde(start, PD, graph, [0, 10], timescale="full", dt=2.5, **parameters)
    with pytest.raises(ConfigError, match="q0"):
        solve_graph_sde(start[:, :4], PD, graph, [0, 1], **parameters)
    with pytest.raises(ConfigError, match="dt"):
        solve_graph_sde(start, PD, graph, [0, 1], dt=0.0, **parameters)
