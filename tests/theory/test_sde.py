"""SDE ensembles of eq. (5): the matrix square root, the one-step moments, the small-noise limit, seeds.

The Euler–Maruyama step Q + μ dt + √dt Σ^{1/2} ξ is Gaussian given Q, so with one particle per member its
one-step increments over many members have mean μ dt and covariance Σ dt exactly; the Monte-Carlo
tolerances are the standard errors of those estimates.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import random_game
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.policy import boltzmann
from marldyn.theory import sde
from marldyn.theory.fpe import matrix_square_root
from marldyn.theory.markov import edge_transition_matrix, stationary_distribution
from marldyn.theory.moments import diffusion, drift
from marldyn.theory.particles import solve_particles
from marldyn.theory.sde import EnsembleTrajectory, solve_sde

Z = 5.0  # Monte-Carlo checks: within 5 standard errors
PD = two_state_pd()
Q0 = np.array([[0.5, 0.0], [0.0, 0.5]])


# ----------------------------------------------------------------------------------------------
# matrix_square_root
# ----------------------------------------------------------------------------------------------
def test_matrix_square_root_of_positive_semi_definite_matrices():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(6, 5, 3))  # a batch of rank-3 5x5 covariances
    covariance = factors @ np.swapaxes(factors, -1, -2)
    root = matrix_square_root(covariance)
    assert root.shape == covariance.shape
    np.testing.assert_allclose(root, np.swapaxes(root, -1, -2), atol=1e-12)  # symmetric
    np.testing.assert_allclose(root @ root, covariance, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(root) > -1e-12)  # the positive root
    np.testing.assert_allclose(matrix_square_root(np.diag([4.0, 9.0, 0.0])), np.diag([2.0, 3.0, 0.0]))


def test_matrix_square_root_tolerates_tiny_negative_eigenvalues():
    rng = np.random.default_rng(1)
    vectors = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    values = np.array([2.0, 0.5, 0.0, -1e-17])  # round-off below zero, as Σ = E[ΔQ ΔQᵀ] - μ μᵀ can give
    covariance = (vectors * values) @ vectors.T
    root = matrix_square_root(covariance)
    assert np.all(np.isfinite(root))
    np.testing.assert_allclose(root @ root, covariance, atol=1e-12)
    single = np.array([[1e-6**2]])
    np.testing.assert_allclose(matrix_square_root(single), [[1e-6]])


# ----------------------------------------------------------------------------------------------
# one-step moments of the ensemble
# ----------------------------------------------------------------------------------------------
def point_mass_moments(q, game, degree, **parameters):
    """μ and Σ of a point mass whose neighbour is itself, edge states at p*(Q, Q) (eqs. 9, 5, 18)."""
    policy = boltzmann(q, parameters["beta"])
    distribution = stationary_distribution(edge_transition_matrix(policy, policy, game.transition))
    mu = drift(q, policy, distribution, degree, game, **parameters)
    sigma = diffusion(q, policy, distribution, degree, game, **parameters)
    return mu.ravel(), sigma


def assert_gaussian_moments(samples, mean, covariance):
    """Sample mean and covariance of (sample, dim) within Z standard errors of a Gaussian's."""
    count = samples.shape[0]
    variance = np.diag(covariance)
    np.testing.assert_array_less(np.abs(samples.mean(axis=0) - mean), Z * np.sqrt(variance / count))
    covariance_error = np.sqrt((np.outer(variance, variance) + covariance**2) / count)  # Gaussian sample covariance
    np.testing.assert_array_less(np.abs(np.cov(samples.T) - covariance), Z * covariance_error)


@pytest.mark.parametrize("step", [1.0, 4.0], ids=["dt=1", "dt=4"])
@pytest.mark.parametrize("rule", ["q_learning", "sarsa"])
def test_one_step_increments_have_mean_mu_dt_and_covariance_sigma_dt(step, rule):
    game = random_game(2, 2, seed=5)
    q = np.random.default_rng(0).normal(size=(2, 2))
    parameters = dict(alpha=0.1, beta=1.0, gamma=0.8, rule=rule)
    members = 20_000
    result = solve_sde(
        np.broadcast_to(q, (members, 1, 2, 2)), game, [0.0, step], degree=[3], dt=step, seed=11, **parameters
    )
    assert isinstance(result, EnsembleTrajectory)
    increments = (result.q[:, 1] - result.q[:, 0]).reshape(members, 4)
    mu, sigma = point_mass_moments(q, game, 3, **parameters)
    assert np.abs(sigma[0, 1]) > 0.1 * np.sqrt(sigma[0, 0] * sigma[1, 1])  # a genuinely correlated Σ
    assert_gaussian_moments(increments, mu * step, sigma * step)


def test_each_particle_gets_its_own_drift_and_diffusion():
    # Particle 1 has no edges: it never moves and is never met, so particle 0 is a point mass alone and the
    # member mean moves by half its increment: mean μ_0 / 2, covariance Σ_0 / 4.
    game = random_game(2, 3, seed=7)
    rng = np.random.default_rng(3)
    q = rng.normal(size=(2, 2, 3))
    parameters = dict(alpha=0.2, beta=1.5, gamma=0.6, rule="q_learning")
    members = 20_000
    result = solve_sde(np.broadcast_to(q, (members, 2, 2, 3)), game, [0, 1], degree=[4, 0], seed=2, **parameters)
    increments = (result.q[:, 1] - result.q[:, 0]).reshape(members, 6)
    mu, sigma = point_mass_moments(q[0], game, 4, **parameters)
    assert_gaussian_moments(increments, mu / 2, sigma / 4)


# ----------------------------------------------------------------------------------------------
# small-noise limit: noise ∝ α, ensemble mean = deterministic particle theory
# ----------------------------------------------------------------------------------------------
def test_noise_scales_with_alpha():
    # μ ∝ α and Σ ∝ α² exactly, so (α / 10, dt · 10) takes the same drift steps with noise kicks smaller by
    # √10; with the same seed the members' deviations shrink by √10 (up to the linearisation, tiny here).
    members, steps = 40, 60
    q0 = np.broadcast_to(Q0, (members, 1, 2, 2))
    times = np.arange(0, steps + 1, 10)
    common = dict(beta=1.0, gamma=0.8, degree=[4], seed=5)
    large = solve_sde(q0, PD, times, alpha=1e-3, dt=1.0, **common)
    small = solve_sde(q0, PD, times * 10, alpha=1e-4, dt=10.0, **common)
    spread_large = large.q[:, 1:].std(axis=0)
    spread_small = small.q[:, 1:].std(axis=0)
    np.testing.assert_allclose(spread_small / spread_large, 1 / np.sqrt(10), rtol=0.05)
    # and the mean paths agree (same drift steps, noise averages out)
    noise = spread_large / np.sqrt(members)
    np.testing.assert_array_less(np.abs(large.q[:, 1:].mean(axis=0) - small.q[:, 1:].mean(axis=0)), Z * noise)


def test_ensemble_mean_follows_the_deterministic_particle_theory_for_small_alpha():
    alpha, dt, members = 1e-4, 20.0, 100
    times = np.arange(0, 20_001, 2_000)  # α t up to 2: the policy moves by ~0.2-0.4
    q0 = np.broadcast_to(Q0, (members, 1, 2, 2))
    parameters = dict(alpha=alpha, beta=1.0, gamma=0.8)
    ensemble = solve_sde(q0, PD, times, degree=[4], dt=dt, seed=3, **parameters)
    deterministic = solve_particles(Q0[None], PD, times, degree=[4], **parameters, rtol=1e-9, atol=1e-12)
    moved = np.abs(deterministic.policy[-1] - deterministic.policy[0]).max()
    assert moved > 0.1
    mean = ensemble.policy.mean(axis=0)
    standard_error = ensemble.policy.std(axis=0, ddof=1) / np.sqrt(members)
    # Euler–Maruyama with α dt = 2e-3 adds a bias of relative order α dt, i.e. a few 1e-3 of the motion.
    allowance = Z * standard_error + 5e-3 * moved
    np.testing.assert_array_less(np.abs(mean - deterministic.policy), allowance + 1e-12)
    np.testing.assert_allclose(ensemble.state_fraction.mean(axis=0), deterministic.state_fraction, atol=0.01)


# ----------------------------------------------------------------------------------------------
# seeds, shapes and inputs
# ----------------------------------------------------------------------------------------------
def test_fixed_seed_is_deterministic_and_seeds_differ():
    q0 = np.broadcast_to(Q0, (3, 4, 2, 2)) + np.random.default_rng(0).normal(0, 0.1, size=(3, 4, 2, 2))
    call = dict(degree=[4, 4, 3, 5], alpha=0.05, beta=1.0, gamma=0.8, dt=2.0)
    first = solve_sde(q0, PD, [0, 10, 20], seed=7, **call)
    again = solve_sde(q0, PD, [0, 10, 20], seed=7, **call)
    sequence = solve_sde(q0, PD, [0, 10, 20], seed=np.random.SeedSequence(7), **call)
    other = solve_sde(q0, PD, [0, 10, 20], seed=8, **call)
    for name in ("q", "policy", "q_std", "state_fraction"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
        np.testing.assert_array_equal(getattr(first, name), getattr(sequence, name))
    assert not np.array_equal(first.q[:, 1:], other.q[:, 1:])
    np.testing.assert_array_equal(first.q[:, 0], other.q[:, 0])  # the initial condition is not random
    assert not np.array_equal(first.q[0, 1:], first.q[1, 1:])  # members draw different noise
    # shapes: (run, time, ...)
    assert first.q.shape == first.policy.shape == first.q_std.shape == (3, 3, 2, 2)
    assert first.state_fraction.shape == (3, 3, 2)
    np.testing.assert_array_equal(first.time, [0, 10, 20])
    np.testing.assert_allclose(first.q[:, 0], q0.mean(axis=1))
    np.testing.assert_allclose(first.q_std[:, 0], q0.std(axis=1))


def test_threaded_ensembles_equal_the_member_by_member_steps(monkeypatch):
    """From THREADED_MEMBERS members on one threaded call advances the ensemble; it is the same numbers."""
    q0 = np.broadcast_to(Q0, (4, 3, 2, 2)) + np.random.default_rng(5).normal(0, 0.1, size=(4, 3, 2, 2))
    call = dict(degree=[4, 3, 5], alpha=0.05, beta=1.0, gamma=0.8, dt=2.0, seed=3)
    by_member = solve_sde(q0, PD, [0, 6, 10], **call)
    monkeypatch.setattr(sde, "THREADED_MEMBERS", 2)
    threaded = solve_sde(q0, PD, [0, 6, 10], **call)
    for name in ("q", "policy", "q_std", "state_fraction"):
        np.testing.assert_array_equal(getattr(threaded, name), getattr(by_member, name))


def test_steps_land_on_the_output_times():
    # dt larger than the gaps: the steps are shortened, so the grid is hit exactly and nothing is skipped.
    q0 = np.broadcast_to(Q0, (2, 1, 2, 2))
    result = solve_sde(q0, PD, [0, 3, 5, 12], degree=[4], alpha=0.01, beta=1.0, gamma=0.8, dt=4.0, seed=0)
    np.testing.assert_array_equal(result.time, [0, 3, 5, 12])
    assert np.all(np.isfinite(result.q))


@pytest.mark.parametrize(
    "change",
    [
        dict(q0=np.zeros((3, 2, 2))),  # no run axis
        dict(q0=np.zeros((2, 3, 3, 2))),  # wrong number of states
        dict(q0=np.full((2, 3, 2, 2), np.inf)),
        dict(degree=[4, 4]),
        dict(dt=0.0),
        dict(dt=-1.0),
        dict(time=[0, 10, 10]),
        dict(time=[5, 0]),
        dict(rule="watkins"),
    ],
)
def test_bad_inputs_raise_config_error(change):
    call = dict(q0=np.zeros((2, 3, 2, 2)), time=[0, 10], degree=[4, 4, 4], dt=1.0) | change
    with pytest.raises(ConfigError):
        solve_sde(call.pop("q0"), PD, call.pop("time"), alpha=0.01, beta=1.0, gamma=0.8, **call)
