"""Point-mass theory: reduced (eq. 19 with 18), full (eq. 15, no diffusion) and full-discrete."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm

from helpers import LEARNING_VARIANTS
from marldyn.errors import ConfigError, ConvergenceError
from marldyn.games import Game, two_state_pd
from marldyn.policy import boltzmann
from marldyn.theory.homogeneous import (
    METHODS,
    solve_full,
    solve_full_discrete,
    solve_homogeneous,
    solve_reduced,
    stationary_drift,
)
from marldyn.theory.markov import edge_transition_matrix, stationary_distribution
from marldyn.theory.moments import drift

FIGURE3 = dict(degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
FIGURE3_Q0 = np.array([[0.5, 0.0], [0.0, 0.5]])  # NOTES.md 2, without the per-agent noise


@pytest.mark.parametrize("variant", list(LEARNING_VARIANTS))
def test_one_state_one_action_relaxes_exponentially_to_the_discounted_reward(variant):
    """K = M = 1: Q relaxes at rate α c (1 - γ), c = faq_beta for FAQ (X = 1) and 1 otherwise, any policy."""
    reward, q0, gamma = 1.5, -2.0, 0.9
    keywords = LEARNING_VARIANTS[variant]
    alpha = 0.01 * keywords.get("faq_beta", 1.0)  # the effective rate; FAQ's α is larger by 1 / faq_beta
    game = Game([[[reward]]], [[[[1.0]]]])
    fixed_point = reward / (1 - gamma)
    time = np.array([0.0, 10.0, 100.0, 1000.0, 5000.0])
    parameters = dict(degree=3, alpha=0.01, beta=1.0, gamma=gamma, **keywords)
    continuous = fixed_point + (q0 - fixed_point) * np.exp(-alpha * (1 - gamma) * time)
    for solver in (solve_reduced, solve_full):
        result = solver([[q0]], game, time, **parameters)
        np.testing.assert_allclose(result.q[:, 0, 0], continuous, rtol=1e-7)
        np.testing.assert_allclose(result.state_fraction, 1.0)
    discrete = solve_full_discrete([[q0]], game, time, **parameters)
    expected = fixed_point + (q0 - fixed_point) * (1 - alpha * (1 - gamma)) ** time
    np.testing.assert_allclose(discrete.q[:, 0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(discrete.policy, 1.0)


def uniform_policy_linear_system(game, distribution, degree, alpha, gamma, rule):
    """At β = 0 (SARSA or expected SARSA) the drift is affine in Q: μ = A Q + c, Q flattened (s, a)."""
    n_states, n_actions = game.n_states, game.n_actions
    uniform = 1.0 / n_actions
    engaged = 1 - (1 - distribution) ** degree
    next_state = np.einsum("sabz->saz", game.transition) * uniform  # W[s, a, z], neighbour uniform
    size = n_states * n_actions
    matrix, offset = np.zeros((size, size)), np.zeros(size)
    for s in range(n_states):
        for a in range(n_actions):
            row = s * n_actions + a
            rate = alpha * engaged[s] * uniform
            offset[row] = rate * game.payoff[s, a].mean()
            matrix[row, row] -= rate
            for z in range(n_states):
                for b in range(n_actions):
                    if rule == "sarsa" and z == s:
                        weight = 1.0 if b == a else 0.0  # V(s) = Q(s, a): the drawn action itself
                    else:
                        weight = uniform
                    matrix[row, z * n_actions + b] += rate * gamma * next_state[s, a, z] * weight
    return matrix, offset


@pytest.mark.parametrize("rule", ["expected_sarsa", "sarsa"])
def test_uniform_policy_dynamics_are_linear_and_solved_in_closed_form(rule):
    """β = 0 on the PD: X = 1/2 forever, λ has identical rows, p* = (0.325, 0.675), and Q obeys a
    linear ODE (reduced, full from p*) or a linear map (full-discrete) solved with expm / matrix powers."""
    game = two_state_pd()
    p_star = np.array([0.25 * 0.7 + 0.75 * 0.2, 1 - (0.25 * 0.7 + 0.75 * 0.2)])
    q0 = np.array([[1.0, -0.5], [0.3, 2.0]])
    alpha, gamma, degree = 0.02, 0.8, 4
    parameters = dict(degree=degree, alpha=alpha, beta=0.0, gamma=gamma, rule=rule)
    matrix, offset = uniform_policy_linear_system(game, p_star, degree, alpha, gamma, rule)
    fixed_point = -np.linalg.solve(matrix, offset)
    time = np.array([0.0, 1.0, 7.0, 50.0, 400.0, 3000.0])

    expected = np.array([fixed_point + expm(matrix * t) @ (q0.ravel() - fixed_point) for t in time])
    reduced = solve_reduced(q0, game, time, **parameters)
    np.testing.assert_allclose(reduced.q.reshape(time.size, -1), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(reduced.policy, 0.5)
    np.testing.assert_allclose(reduced.state_fraction, np.broadcast_to(p_star, (time.size, 2)), rtol=1e-14)
    full = solve_full(q0, game, time, initial_state_distribution=p_star, **parameters)
    np.testing.assert_allclose(full.q.reshape(time.size, -1), expected, rtol=1e-6, atol=1e-7)

    # Full-discrete from uniform edge states: p_1 = p* exactly (identical rows), then Q_t is affine.
    discrete = solve_full_discrete(q0, game, time, **parameters)
    matrix_0, offset_0 = uniform_policy_linear_system(game, np.array([0.5, 0.5]), degree, alpha, gamma, rule)
    q1 = q0.ravel() + matrix_0 @ q0.ravel() + offset_0
    step = np.eye(4) + matrix
    expected = [q0.ravel()] + [
        fixed_point + np.linalg.matrix_power(step, int(t) - 1) @ (q1 - fixed_point) for t in time[1:]
    ]
    np.testing.assert_allclose(discrete.q.reshape(time.size, -1), expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(discrete.state_fraction[1:], np.broadcast_to(p_star, (time.size - 1, 2)), rtol=1e-14)


def test_full_discrete_edge_states_relax_in_a_few_steps_while_q_barely_moves():
    game = two_state_pd()
    time = np.arange(12)
    result = solve_full_discrete(FIGURE3_Q0, game, time, **FIGURE3)
    stationary = stationary_distribution(edge_transition_matrix(result.policy, result.policy, game.transition))
    gap = np.abs(result.state_fraction - stationary).max(axis=1)
    moved = np.abs(result.q - FIGURE3_Q0).max(axis=(1, 2))
    assert gap[0] > 0.1  # starts far from p* (uniform edge states)
    assert gap[2] < 0.05 and gap[3] < 1e-3
    assert np.all(gap[5:] < 1e-5)  # then tracks p*(Q_t) with an O(α) lag
    assert moved[5] < 10 * FIGURE3["alpha"]


def test_figure3_point_mass_reaches_cooperation_in_both_states():
    time = np.linspace(0, 20_000, 101)
    result = solve_reduced(FIGURE3_Q0, two_state_pd(), time, **FIGURE3)
    assert np.all(result.policy[-1, :, 0] > 0.99)
    assert result.policy[0, 0, 0] < result.policy[-1, 0, 0]


def test_reduced_and_full_agree_at_small_alpha_and_drift_apart_as_alpha_grows():
    """Fig. 5a-b: time-scale separation holds for small α; the gap grows with α (same learning time α t)."""
    game = two_state_pd()
    gaps_full, gaps_discrete = [], []
    for alpha in (1e-3, 1e-2, 1e-1):
        horizon = 20.0 / alpha
        time = np.linspace(0.0, horizon, 201).round()
        parameters = dict(FIGURE3, alpha=alpha)
        reduced = solve_reduced(FIGURE3_Q0, game, time, **parameters)
        full = solve_full(FIGURE3_Q0, game, time, **parameters)
        discrete = solve_full_discrete(FIGURE3_Q0, game, time, **parameters)
        gaps_full.append(np.abs(reduced.policy - full.policy).max())
        gaps_discrete.append(np.abs(reduced.policy - discrete.policy).max())
    assert gaps_full[0] < 1e-3 and gaps_discrete[0] < 1e-3
    assert gaps_full[0] < gaps_full[1] < gaps_full[2]
    assert gaps_discrete[0] < gaps_discrete[1] < gaps_discrete[2]
    assert gaps_discrete[2] > 0.01  # visible at α = 0.1


def test_stationary_drift_is_the_drift_at_the_point_mass_stationary_state():
    rng = np.random.default_rng(5)
    game = two_state_pd()
    q = rng.normal(size=(6, 2, 2))
    parameters = dict(alpha=0.01, beta=2.0, gamma=0.8)
    result = stationary_drift(q, game, degree=4, rule="sarsa", **parameters)
    for n in range(6):
        policy = boltzmann(q[n], 2.0)
        p_star = stationary_distribution(edge_transition_matrix(policy, policy, game.transition))
        np.testing.assert_allclose(result[n], drift(q[n], policy, p_star, 4, game, rule="sarsa", **parameters))
    # Along a reduced trajectory, dQ/dt is μ*(Q) (central difference over ±1/4 step: error ~ 3e-9).
    time = np.array([0.0, 99.75, 100.0, 100.25])
    trajectory = solve_reduced(q[0], game, time, degree=4, rule="sarsa", rtol=1e-12, atol=1e-14, **parameters)
    slope = (trajectory.q[3] - trajectory.q[1]) / 0.5
    expected = stationary_drift(trajectory.q[2], game, degree=4, rule="sarsa", **parameters)
    np.testing.assert_allclose(slope, expected, rtol=1e-6, atol=1e-8)


def test_outputs_have_the_dataset_names_shapes_and_record_their_initial_condition():
    game = two_state_pd()
    time = [0, 5, 5, 10]  # duplicates are allowed
    for method in METHODS:
        result = solve_homogeneous(FIGURE3_Q0, game, time, method=method, **FIGURE3)
        data = result.as_dict()
        assert data["q"].shape == (4, 2, 2) and data["policy"].shape == (4, 2, 2)
        assert data["state_fraction"].shape == (4, 2) and data["time"].shape == (4,)
        np.testing.assert_allclose(data["q"][0], FIGURE3_Q0)
        np.testing.assert_allclose(data["q"][1], data["q"][2])
        np.testing.assert_allclose(data["policy"], boltzmann(data["q"], 1.0))
        np.testing.assert_allclose(data["state_fraction"].sum(axis=1), 1.0, atol=1e-12)
        assert data["attrs"]["q0"] == FIGURE3_Q0.tolist() and data["attrs"]["horizon"] == 10.0
        assert data["attrs"]["rule"] == "q_learning" and data["method"] == method
    late = solve_full_discrete(FIGURE3_Q0, game, [3, 8], **FIGURE3)  # grid need not contain 0
    np.testing.assert_allclose(late.q, solve_full_discrete(FIGURE3_Q0, game, np.arange(9), **FIGURE3).q[[3, 8]])


def test_bad_arguments_are_config_errors():
    game = two_state_pd()
    with pytest.raises(ConfigError):
        solve_homogeneous(FIGURE3_Q0, game, [0, 1], method="exact", **FIGURE3)
    with pytest.raises(ConfigError):
        solve_full_discrete(FIGURE3_Q0, game, [0, 1.5], **FIGURE3)
    with pytest.raises(ConfigError):
        solve_reduced(FIGURE3_Q0, game, [0, 10, 5], **FIGURE3)
    with pytest.raises(ConfigError):
        solve_reduced(np.zeros((3, 2)), game, [0, 1], **FIGURE3)
    with pytest.raises(ConfigError):
        solve_full(FIGURE3_Q0, game, [0, 1], initial_state_distribution=[0.7, 0.7], **FIGURE3)
    with pytest.raises(ConfigError):
        solve_reduced(FIGURE3_Q0, game, [0, 1], **dict(FIGURE3, degree=2.5))


def test_an_integration_that_cannot_start_is_a_convergence_error_not_a_hang():
    """Regression: on payoffs of 1e306 LSODA retried at t = 0 for ever (found by the doctest of
    ConvergenceError); the integration now stops after STALLED_EVALUATIONS evaluations without progress."""
    game = Game(np.array([[[1e306, 0.0], [0.0, 1e306]]]), np.ones((1, 2, 2, 1)))
    with pytest.raises(ConvergenceError, match="made no progress beyond t = 0"), np.errstate(all="ignore"):
        solve_full(np.zeros((1, 2)), game, [0, 10, 100], degree=2, alpha=0.5, beta=1.0, gamma=0.8)
