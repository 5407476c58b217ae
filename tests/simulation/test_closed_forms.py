"""The simulator against results derived by hand."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import learners_of, one_type
from marldyn.games import Game, two_state_pd
from marldyn.graphs import lattice, random_regular
from marldyn.policy import boltzmann
from marldyn.simulation import kernels


@pytest.mark.parametrize("rule", ["q_learning", "sarsa", "expected_sarsa"])
def test_one_state_one_action_is_the_deterministic_recursion(rule):
    """K = M = 1, payoff r: every agent follows Q <- Q + α(r + γQ - Q) exactly (all rules agree)."""
    reward, alpha, gamma = 2.5, 0.2, 0.9
    game = Game([[[reward]]], [[[[1.0]]]])
    graph = random_regular(20, 3, seed=0)
    q = np.linspace(-1, 1, graph.n_agents).reshape(-1, 1, 1).copy()
    expected = q[:, 0, 0].copy()
    state = np.zeros(graph.n_edges, dtype=np.int64)
    for t in range(300):
        kernels.run_steps(
            q,
            state,
            graph.edges,
            game.payoff,
            game.cumulative_transition(),
            learners_of(game, alpha, 1.0, gamma, rule),
            one_type(graph),
            np.uint64(1),
            t,
            1,
        )
        expected = expected + alpha * (reward + gamma * expected - expected)
    np.testing.assert_allclose(q[:, 0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(q[:, 0, 0], reward / (1 - gamma), rtol=0.01)  # converged to r / (1 - γ)


def _one_step_changes(game, graph, q0, state0, alpha, beta, gamma, rule, repeats):
    changes = []
    for r in range(repeats):
        q, state = q0.copy(), state0.copy()
        kernels.run_steps(
            q,
            state,
            graph.edges,
            game.payoff,
            game.cumulative_transition(),
            learners_of(game, alpha, beta, gamma, rule),
            one_type(graph),
            np.uint64(1000 + r),
            0,
            1,
        )
        changes.append(q - q0)
    return np.concatenate(changes)  # (samples, state, action)


def test_uniform_policy_expected_change_of_mean_q():
    """β = 0, Q = 0, edges i.i.d. uniform over K = 2 states, degree k = 4:
    E[ΔQ(s, a)] = α (1/M) (1 - (1 - 1/2)^k) mean_b U(s, a, b)   (V(s') = 0 because Q = 0)."""
    game = two_state_pd()
    graph = lattice(2500)
    alpha = 0.1
    rng = np.random.default_rng(3)
    q0 = np.zeros((graph.n_agents, 2, 2))
    samples = []
    for _ in range(8):
        state0 = rng.integers(0, 2, size=graph.n_edges)
        samples.append(_one_step_changes(game, graph, q0, state0, alpha, 0.0, 0.8, "q_learning", 1))
    changes = np.concatenate(samples)
    expected = alpha * 0.5 * (1 - 0.5**4) * game.payoff.mean(axis=2)
    mean = changes.mean(axis=0)
    standard_error = changes.std(axis=0) / np.sqrt(changes.shape[0])
    assert np.all(np.abs(mean - expected) < 5 * standard_error)


def test_fixed_edge_state_and_uniform_policy_only_moves_that_state():
    """All edges start in s1 and β = 0: only Q(s1, ·) moves, by α/M · mean_b U(s1, a, b) on average."""
    game = two_state_pd()
    graph = lattice(2500)
    q0 = np.zeros((graph.n_agents, 2, 2))
    state0 = np.zeros(graph.n_edges, dtype=np.int64)
    changes = _one_step_changes(game, graph, q0, state0, 0.1, 0.0, 0.8, "q_learning", 6)
    assert np.all(changes[:, 1, :] == 0.0)
    mean = changes[:, 0, :].mean(axis=0)
    standard_error = changes[:, 0, :].std(axis=0) / np.sqrt(changes.shape[0])
    expected = 0.1 * 0.5 * game.payoff[0].mean(axis=1)
    assert np.all(np.abs(mean - expected) < 5 * standard_error)


def _stationary(matrix):
    values, vectors = np.linalg.eig(matrix.T)
    vector = np.real(vectors[:, np.argmin(np.abs(values - 1))])
    return vector / vector.sum()


@pytest.mark.parametrize("q_table", [[[0.5, 0.0], [0.0, 0.5]], [[0.0, 1.0], [2.0, 0.0]]])
def test_edge_state_fractions_converge_to_the_induced_chain(q_table):
    """With a fixed policy (α = 0) the edge states form independent Markov chains
    λ[s, s'] = Σ_ab X(s,a) X(s,b) T(s,a,b,s'); the fraction in each state converges to its stationary law."""
    game = two_state_pd()
    graph = lattice(2500)
    q = np.broadcast_to(np.array(q_table, dtype=float), (graph.n_agents, 2, 2)).copy()
    policy = boltzmann(np.array(q_table, dtype=float), 1.0)
    chain = np.einsum("sa,sb,sabt->st", policy, policy, game.transition)
    expected = _stationary(chain)
    state = np.zeros(graph.n_edges, dtype=np.int64)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.0, 1.0, 0.8),
        one_type(graph),
        np.uint64(7),
    )
    kernels.run_steps(q, state, *args, 0, 20)  # burn-in: the chain mixes within a few steps
    fractions = []
    for t in range(20, 220):
        kernels.run_steps(q, state, *args, t, 1)
        fractions.append(np.mean(state == 0))
    fractions = np.array(fractions)
    # standard error of a time average of E independent two-state chains with second eigenvalue λ2
    second = 1.0 - chain[0, 1] - chain[1, 0]
    p = expected[0]
    standard_error = np.sqrt(p * (1 - p) / (graph.n_edges * fractions.size) * (1 + second) / (1 - second))
    assert abs(fractions.mean() - p) < 5 * standard_error
    np.testing.assert_array_equal(q, np.broadcast_to(np.array(q_table, dtype=float), q.shape))  # α = 0


def test_bounds_of_q_are_kept():
    """Q stays within [min U / (1 - γ), max U / (1 - γ)] when it starts inside (TD targets are convex mixes)."""
    game = two_state_pd()
    graph = lattice(100)
    gamma = 0.8
    low, high = game.payoff.min() / (1 - gamma), game.payoff.max() / (1 - gamma)
    rng = np.random.default_rng(0)
    q = rng.uniform(low, high, size=(graph.n_agents, 2, 2))
    state = rng.integers(0, 2, graph.n_edges)
    kernels.run_steps(
        q,
        state,
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 1.0, 2.0, gamma),
        one_type(graph),
        np.uint64(3),
        0,
        500,
    )
    assert q.min() >= low - 1e-9 and q.max() <= high + 1e-9
