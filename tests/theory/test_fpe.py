"""The Fokker–Planck equation (eq. 10) on a grid as a check of the SDE ensemble (eq. 5).

A focal agent in a fixed environment (neighbours that do not learn) has μ(Q) and Σ(Q) that depend on its
own Q only, so eq. (10) is linear. Three checks:

1. the grid solver against exact moment equations where they close (affine μ, quadratic Σ): 1-D
   (β = 0, γ = 0, one action of a one-state game) and 2-D (expected SARSA, β = 0);
2. the grid solver against an Euler–Maruyama ensemble with the same μ and Σ in the genuinely non-linear
   2-D case (Q-learning, β = 1: the whole Q-space of a one-state, two-action game), within sampling error;
3. conservation, positivity, and refusal of a grid whose coordinates are not closed.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from marldyn.errors import ConfigError
from marldyn.games import Game
from marldyn.theory.fpe import (
    FixedEnvironment,
    closure_defect,
    euler_maruyama_ensemble,
    fokker_planck_operator,
    solve_fokker_planck,
)

Z = 5.0
# A one-state prisoner's dilemma (b = 5, c = 0.5): U[0, a, ã] for a, ã in (cooperate, defect).
ONE_STATE_PD = Game([[[4.5, -0.5], [5.0, 0.0]]], np.ones((1, 2, 2, 1)), name="one-state pd")
NEIGHBOUR = np.array([[0.5, 0.5]])  # the neighbours' fixed policy
REWARD = ONE_STATE_PD.payoff[0] @ NEIGHBOUR[0]  # r_a = E[U(a, ã)] = (2, 2.5)
PAYOFF_VARIANCE = ONE_STATE_PD.payoff[0] ** 2 @ NEIGHBOUR[0] - REWARD**2  # v_a = Var[U(a, ã)] = (6.25, 6.25)
BOTH = [(0, 0), (0, 1)]
TEMPLATE = np.zeros((1, 2))


def environment(degree=1, alpha=0.04, beta=1.0, gamma=0.5, rule="q_learning"):
    return FixedEnvironment(ONE_STATE_PD, NEIGHBOUR, np.array([1.0]), degree, alpha, beta, gamma, rule)


# ----------------------------------------------------------------------------------------------
# exact moment equations (independent of marldyn.theory.moments)
# ----------------------------------------------------------------------------------------------
def affine_moments(time, mean0, covariance0, *, alpha, degree, gamma, bootstrap):
    """Mean and covariance of the Itô SDE with μ = α x δ̄, δ̄ = r + G Q and the exact one-step Σ, β = 0.

    With a uniform policy (x = 1/2) and one state (every edge in it: P(n ≥ 1) = 1, E[1/n] = 1/k):
    Σ = α² x diag(E[δ̄²] + v/k) - α² x² δ̄ δ̄ᵀ (docs/diffusion.md, D6-D7). Then
    m' = α x δ̄(m) and C' = α x (G C + C Gᵀ) + E[Σ(Q)], with E[δ̄ δ̄ᵀ] = δ̄(m) δ̄(m)ᵀ + G C Gᵀ.
    ``bootstrap`` (2,) is ∂V/∂Q (0 for γ = 0; (1/2, 1/2) for expected SARSA at β = 0).
    """
    x = 0.5
    matrix = gamma * np.outer(np.ones(2), bootstrap) - np.eye(2)

    def rate(_, y):
        mean, covariance = y[:2], y[2:].reshape(2, 2)
        error = REWARD + matrix @ mean
        outer = np.outer(error, error) + matrix @ covariance @ matrix.T
        sigma = alpha**2 * x * np.diag(np.diag(outer) + PAYOFF_VARIANCE / degree) - alpha**2 * x**2 * outer
        growth = alpha * x * (matrix @ covariance + covariance @ matrix.T) + sigma
        return np.concatenate([alpha * x * error, growth.ravel()])

    y0 = np.concatenate([mean0, np.ravel(covariance0)])
    solution = solve_ivp(rate, (0, time[-1]), y0, t_eval=time, rtol=1e-11, atol=1e-13).y.T
    return solution[:, :2], solution[:, 2:].reshape(-1, 2, 2)


def test_the_reference_moment_equations_use_the_same_sigma_as_marldyn():
    env = environment(degree=3, alpha=0.1, beta=0.0, gamma=0.5, rule="expected_sarsa")
    q = np.array([[0.3, -0.7]])
    mu, sigma = env.moments(q)
    error = REWARD + (0.5 * np.full((2, 2), 0.5) - np.eye(2)) @ q[0]
    expected = 0.01 * 0.5 * np.diag(error**2 + PAYOFF_VARIANCE / 3) - 0.01 * 0.25 * np.outer(error, error)
    np.testing.assert_allclose(mu[0], 0.1 * 0.5 * error, rtol=1e-12)
    np.testing.assert_allclose(sigma, expected, rtol=1e-12, atol=1e-15)


def test_one_dimensional_fpe_matches_the_exact_moments():
    # β = 0, γ = 0: Q(a1) alone is a closed 1-D process, μ = α x (r - Q), Σ = α² x [(1 - x)(r - Q)² + v/k].
    env = environment(degree=4, alpha=0.05, beta=0.0, gamma=0.0)
    axes = (np.linspace(-1.5, 3.5, 401),)
    time = np.arange(0.0, 301.0, 50.0)
    solution = solve_fokker_planck(env, TEMPLATE, [(0, 0)], axes, time, initial_mean=[0.0], initial_std=[0.2], dt=0.25)
    mean, covariance = affine_moments(
        time, np.zeros(2), np.diag([0.04, 0.04]), alpha=0.05, degree=4, gamma=0.0, bootstrap=np.zeros(2)
    )
    np.testing.assert_allclose(solution.mean[:, 0], mean[:, 0], atol=1e-4)  # moves from 0 to 2
    # second order in h: the relative variance error is 2.1 % / 0.53 % / 0.13 % with 101 / 201 / 401 cells
    np.testing.assert_allclose(solution.covariance[:, 0, 0], covariance[:, 0, 0], rtol=3e-3)
    np.testing.assert_allclose(solution.mass, 1.0, atol=1e-12)
    assert solution.boundary_mass.max() < 1e-9


def test_two_dimensional_fpe_with_cross_diffusion_matches_the_exact_moments():
    # Expected SARSA at β = 0: V = (Q1 + Q2) / 2, μ affine, Σ quadratic with Σ12 = -μ1 μ2 ≠ 0.
    env = environment(degree=1, alpha=0.04, beta=0.0, gamma=0.5, rule="expected_sarsa")
    axes = (np.arange(-2.0, 7.0, 0.06),) * 2
    time = np.arange(0.0, 151.0, 30.0)
    solution = solve_fokker_planck(env, TEMPLATE, BOTH, axes, time, initial_mean=[0.0, 0.5], initial_std=[0.2, 0.3])
    mean, covariance = affine_moments(
        time,
        np.array([0.0, 0.5]),
        np.diag([0.04, 0.09]),
        alpha=0.04,
        degree=1,
        gamma=0.5,
        bootstrap=np.array([0.5, 0.5]),
    )
    # a correlated pair (the shared bootstrap value couples them, the single drawn action anti-couples them)
    assert covariance[-1, 0, 1] > 0.2 * np.sqrt(covariance[-1, 0, 0] * covariance[-1, 1, 1])
    np.testing.assert_allclose(solution.mean, mean, atol=2e-3)
    scale = np.sqrt(np.einsum("tii,tjj->tij", covariance, covariance))
    np.testing.assert_array_less(np.abs(solution.covariance - covariance), 0.01 * scale + 1e-12)
    np.testing.assert_allclose(solution.mass, 1.0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# FPE against the SDE ensemble
# ----------------------------------------------------------------------------------------------
def grid_central_moments(solution, index):
    """E[(X_a - m_a)(X_b - m_b)(X_c - m_c)(X_d - m_d)] of the grid density at one time, shape (2, 2, 2, 2)."""
    axes = solution.axes
    mass = solution.density[index] * np.prod([axis[1] - axis[0] for axis in axes])
    grids = np.meshgrid(*axes, indexing="ij")
    deviation = [grid - m for grid, m in zip(grids, solution.mean[index], strict=True)]
    return np.array(
        [[[[np.sum(mass * a * b * c * d) for d in deviation] for c in deviation] for b in deviation] for a in deviation]
    )


def test_fpe_and_euler_maruyama_ensemble_agree_for_q_learning():
    # The non-linear case: Q-learning with the max in the target (a kink on Q1 = Q2), softmax policy, and a
    # full 2x2 Σ. Started at Q = 0, the mean moves to ~(2.5, 4) while the spread grows from 0.2 to ~1.
    env = environment(degree=1, alpha=0.04, beta=1.0, gamma=0.5)
    axes = (np.arange(-2.6, 7.41, 0.08),) * 2
    time = np.arange(0.0, 151.0, 30.0)
    start = dict(initial_mean=[0.0, 0.0], initial_std=[0.2, 0.2])
    solution = solve_fokker_planck(env, TEMPLATE, BOTH, axes, time, dt=2.0, **start)
    samples = 4000
    mean, covariance = euler_maruyama_ensemble(env, TEMPLATE, BOTH, time, samples=samples, dt=0.5, seed=1, **start)
    assert np.all(np.abs(solution.mean[-1] - solution.mean[0]) > 2.0)
    assert solution.boundary_mass.max() < 1e-6
    assert solution.density.min() > -1e-5 * solution.density.max()  # the cross term is not monotone, barely
    for index in range(1, time.size):
        variance = np.diag(solution.covariance[index])
        np.testing.assert_array_less(np.abs(mean[index] - solution.mean[index]), Z * np.sqrt(variance / samples))
        # standard error of a sample covariance: sqrt(Var[(X_a - m_a)(X_b - m_b)] / n), from the grid's moments
        fourth = grid_central_moments(solution, index)
        spread = np.einsum("abab->ab", fourth) - solution.covariance[index] ** 2
        np.testing.assert_array_less(
            np.abs(covariance[index] - solution.covariance[index]), Z * np.sqrt(spread / samples)
        )


class HalfDiffusion(FixedEnvironment):
    """The same drift with Σ / 2: what a factor-½ mistake in eq. (10) or (5) would give."""

    def moments(self, q):
        mu, sigma = super().moments(q)
        return mu, 0.5 * sigma


def test_the_ensemble_comparison_has_power():
    # The same ensemble as above rejects an FPE whose diffusion is halved: the check is not vacuous.
    parameters = (ONE_STATE_PD, NEIGHBOUR, np.array([1.0]), 1, 0.04, 1.0, 0.5, "q_learning")
    axes = (np.arange(-2.6, 7.41, 0.08),) * 2
    time = np.array([0.0, 150.0])
    start = dict(initial_mean=[0.0, 0.0], initial_std=[0.2, 0.2])
    # (exponential fitting: Σ / 2 makes the cells' Péclet numbers too large for the central flux; its extra
    # numerical diffusion only moves the wrong answer towards the right one, so the check stays conservative)
    wrong = solve_fokker_planck(
        HalfDiffusion(*parameters), TEMPLATE, BOTH, axes, time, dt=2.0, scheme="exponential", **start
    )
    samples = 4000
    _, covariance = euler_maruyama_ensemble(
        FixedEnvironment(*parameters), TEMPLATE, BOTH, time, samples=samples, dt=0.5, seed=1, **start
    )
    fourth = grid_central_moments(wrong, -1)
    spread = np.einsum("abab->ab", fourth) - wrong.covariance[-1] ** 2
    z = np.abs(np.diag(covariance[-1]) - np.diag(wrong.covariance[-1])) / np.sqrt(np.diag(spread) / samples)
    assert z.min() > 3 * Z


# ----------------------------------------------------------------------------------------------
# operator properties and inputs
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scheme", ["central", "exponential"])
def test_operator_conserves_mass(scheme):
    env = environment(degree=2, alpha=0.05)
    axes = (np.linspace(-1, 3, 60), np.linspace(-1, 4, 70))
    operator = fokker_planck_operator(env, TEMPLATE, BOTH, axes, scheme=scheme)
    assert operator.shape == (60 * 70, 60 * 70)
    np.testing.assert_allclose(np.asarray(operator.sum(axis=0)).ravel(), 0.0, atol=1e-12)


def test_exponential_scheme_is_positive_and_adds_numerical_diffusion():
    env = environment(degree=4, alpha=0.05, beta=0.0, gamma=0.0)
    axes = (np.linspace(-1.5, 3.5, 201),)
    time = np.array([0.0, 50.0])
    start = dict(initial_mean=[0.0], initial_std=[0.2])
    central = solve_fokker_planck(env, TEMPLATE, [(0, 0)], axes, time, **start)
    fitted = solve_fokker_planck(env, TEMPLATE, [(0, 0)], axes, time, scheme="exponential", **start)
    assert fitted.density.min() >= -1e-14
    assert fitted.covariance[-1, 0, 0] > central.covariance[-1, 0, 0]  # the D w²/12 of exponential fitting
    np.testing.assert_allclose(fitted.mean, central.mean, atol=3e-3)  # its advective flux is not B p̄ either


def test_coordinates_that_are_not_closed_are_refused():
    axes = (np.linspace(-1, 3, 41),)
    coupled = environment(degree=4, alpha=0.05, beta=1.0, gamma=0.0)  # β > 0: X(a1) depends on Q(a2)
    assert closure_defect(coupled, TEMPLATE, [(0, 0)], axes) > 0.01
    assert closure_defect(environment(beta=0.0, gamma=0.0), TEMPLATE, [(0, 0)], axes) == 0.0
    assert closure_defect(coupled, TEMPLATE, BOTH, axes * 2) == 0.0  # the whole Q-space is always closed
    with pytest.raises(ConfigError, match="not closed"):
        solve_fokker_planck(coupled, TEMPLATE, [(0, 0)], axes, [0, 10], initial_mean=[0.0], initial_std=[0.2])


@pytest.mark.parametrize(
    "change",
    [
        dict(free=[(0, 2)]),
        dict(free=[(0, 0), (0, 0)]),
        dict(free=[(0, 0), (0, 1), (0, 0)]),
        dict(free="a1"),
        dict(axes=(np.linspace(0, 1, 5),)),  # one axis for two coordinates
        dict(axes=(np.array([0.0, 0.1, 0.3]),) * 2),  # not uniform
        dict(time=[0, 10, 5]),
        dict(initial_std=[0.2, 0.0]),
        dict(q_template=np.zeros((2, 2))),
        dict(scheme="upwind"),
        dict(dt=0.0),
    ],
)
def test_bad_inputs_raise_config_error(change):
    call = (
        dict(
            q_template=TEMPLATE,
            free=BOTH,
            axes=(np.linspace(-1, 3, 21),) * 2,
            time=[0, 10],
            initial_mean=[0.0, 0.0],
            initial_std=[0.2, 0.2],
        )
        | change
    )
    with pytest.raises(ConfigError):
        solve_fokker_planck(environment(), call.pop("q_template"), call.pop("free"), call.pop("axes"), **call)


def test_central_scheme_refuses_a_coarse_grid():
    with pytest.raises(ConfigError, match="Péclet"):
        fokker_planck_operator(environment(degree=1, alpha=0.001), TEMPLATE, BOTH, (np.linspace(-2, 6, 20),) * 2)
