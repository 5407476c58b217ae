"""Heterogeneous (particle) theory: initial particles, degree-biased neighbours, and the particle solver.

The particle theory (eqs. 11, 15, 19-20) must reduce to the homogeneous point mass when all particles
coincide, keep the degree classes apart on an irregular graph, and reject malformed inputs.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from helpers import random_game
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert
from marldyn.policy import boltzmann
from marldyn.theory.homogeneous import solve_full_discrete, solve_reduced
from marldyn.theory.markov import edge_transition_matrix, stationary_distribution
from marldyn.theory.particles import (
    ParticleTrajectory,
    initial_particles,
    neighbor_weights,
    solve_particles,
    stationary_marginals,
    stationary_marginals_serial,
)

PD = two_state_pd()
Q0 = np.array([[0.5, 0.0], [0.0, 0.5]])  # NOTES.md 2, cooperation-favouring, without the noise
FAST = dict(alpha=0.01, beta=1.0, gamma=0.8)  # α = 0.01: the dynamics of 20,000 paper steps in 2,000
TIMES = np.arange(0.0, 2001.0, 100.0)
Z = 5.0  # sampling checks: within 5 standard errors


# ----------------------------------------------------------------------------------------------
# initial_particles
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampling", ["sobol", "random"])
@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_initial_particles_reproduce_the_initial_mean_and_spread(sampling, distribution):
    count, noise = 256, 0.1
    q, degree = initial_particles(
        Q0, noise, count, graph_degrees=np.full(100, 4), distribution=distribution, sampling=sampling, seed=3
    )
    assert q.shape == (count, 2, 2) and degree.shape == (count,)
    np.testing.assert_array_equal(degree, 4)
    std = noise if distribution == "normal" else noise / np.sqrt(3.0)
    # Sampling errors of P independent draws: of the mean std/√P; of the standard deviation about
    # std/√(2P) (normal) and std/√(5P) (uniform, smaller kurtosis). Sobol points are far closer.
    mean_error = std / np.sqrt(count)
    std_error = std / np.sqrt(2 * count)
    np.testing.assert_array_less(np.abs(q.mean(axis=0) - Q0), Z * mean_error)
    np.testing.assert_array_less(np.abs(q.std(axis=0) - std), Z * std_error)
    if sampling == "sobol":  # low discrepancy: much better than the random-sampling error
        np.testing.assert_array_less(np.abs(q.mean(axis=0) - Q0), 0.5 * mean_error)
    if distribution == "uniform":
        assert np.all(np.abs(q - Q0) <= noise)


def test_initial_particles_without_noise_are_the_table_and_seeds_matter():
    q, _ = initial_particles(Q0, 0.0, 5, graph_degrees=[4] * 9)
    np.testing.assert_array_equal(q, np.broadcast_to(Q0, (5, 2, 2)))
    first, _ = initial_particles(Q0, 0.1, 16, graph_degrees=[4] * 9, seed=1)
    again, _ = initial_particles(Q0, 0.1, 16, graph_degrees=[4] * 9, seed=1)
    other, _ = initial_particles(Q0, 0.1, 16, graph_degrees=[4] * 9, seed=2)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_initial_particle_degrees_are_the_quantiles_of_the_degree_sequence():
    degrees = np.array([1] * 50 + [3] * 30 + [7] * 20)
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(degrees)
    # P = N: the degree sequence itself, sorted.
    _, all_degrees = initial_particles(Q0, 0.1, degrees.size, graph_degrees=shuffled)
    np.testing.assert_array_equal(all_degrees, np.sort(degrees))
    # P = 10: the (i + 1/2)/P quantiles, so the classes appear in proportion 5 : 3 : 2.
    _, ten = initial_particles(Q0, 0.1, 10, graph_degrees=shuffled)
    np.testing.assert_array_equal(ten, [1] * 5 + [3] * 3 + [7] * 2)
    _, one = initial_particles(Q0, 0.1, 1, graph_degrees=shuffled)
    np.testing.assert_array_equal(one, [3])  # the median
    assert all_degrees.dtype == np.int64


@pytest.mark.parametrize(
    "arguments",
    [dict(n_particles=0), dict(n_particles=2.5), dict(n_particles=True), dict(sampling="halton")],
)
def test_initial_particles_reject_bad_arguments(arguments):
    call = dict(n_particles=4, sampling="sobol") | arguments
    with pytest.raises(ConfigError):
        initial_particles(Q0, 0.1, call.pop("n_particles"), graph_degrees=[4] * 9, **call)


# ----------------------------------------------------------------------------------------------
# neighbor_weights
# ----------------------------------------------------------------------------------------------
def test_neighbor_weights_are_degree_biased():
    degree = np.array([1, 2, 3, 6])
    np.testing.assert_allclose(neighbor_weights(degree), degree / degree.sum())
    weight = np.array([0.4, 0.3, 0.2, 0.1])
    expected = weight * degree / np.sum(weight * degree)
    np.testing.assert_allclose(neighbor_weights(degree, weight), expected)
    np.testing.assert_allclose(neighbor_weights(np.full(5, 4)), np.full(5, 0.2))  # regular graph: v = w
    np.testing.assert_allclose(neighbor_weights(np.array([0, 2, 2])), [0.0, 0.5, 0.5])  # isolated: never met
    with pytest.raises(ConfigError):
        neighbor_weights(np.zeros(3))


def brute_force_marginals(policy, neighbor_weight, transition):
    """p(s | Q_p) and X̃_p from every ordered pair's λ and p*, straight from eqs. (8), (12), (18), (20)."""
    n_particles = policy.shape[0]
    chains = edge_transition_matrix(
        np.repeat(policy, n_particles, axis=0), np.tile(policy, (n_particles, 1, 1)), transition
    )
    pairs = stationary_distribution(chains).reshape(n_particles, n_particles, -1)  # (p, q, s)
    distribution = np.einsum("q,pqs->ps", neighbor_weight, pairs)
    numerator = np.einsum("q,pqs,qsa->psa", neighbor_weight, pairs, policy)
    return distribution, numerator / distribution[..., None]


@pytest.mark.parametrize("shape", [(2, 2), (2, 3), (3, 2), (3, 3)])
def test_pair_marginals_equal_the_sum_over_all_pairs(shape):
    """The symmetric, row-blocked, threaded pair sum (and its serial twin) = the brute-force O(P²) formulas."""
    game = random_game(*shape, seed=sum(shape))
    rng = np.random.default_rng(1)
    count = 37  # not a multiple of the row blocks
    policy = boltzmann(rng.normal(size=(count, *shape)), 1.5)
    degree = rng.integers(1, 6, size=count)
    weight = neighbor_weights(degree)
    expected = brute_force_marginals(policy, weight, game.transition)
    initial = np.full(shape[0], 1.0 / shape[0])
    for marginals in (stationary_marginals, stationary_marginals_serial):
        distribution, neighbor_policy = marginals(policy, weight, game.arrays()[1], initial)
        np.testing.assert_allclose(distribution, expected[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(neighbor_policy, expected[1], rtol=1e-12, atol=1e-14)


def test_pair_marginals_do_not_depend_on_the_number_of_threads():
    rng = np.random.default_rng(2)
    policy = boltzmann(rng.normal(size=(203, 2, 2)), 1.0)
    weight = neighbor_weights(np.full(203, 4))
    arguments = (policy, weight, PD.arrays()[1], np.full(2, 0.5))
    default = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = stationary_marginals(*arguments)
    finally:
        numba.set_num_threads(default)
    for a, b in zip(one, stationary_marginals(*arguments), strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------------------------
# solve_particles against the homogeneous theory
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q0", [Q0, np.zeros((2, 2))], ids=["cooperative", "zero"])
def test_a_single_particle_is_the_homogeneous_point_mass(q0):
    # Two different integrators (DOP853 and RK45): they agree to the integration tolerance, which is
    # tightened here (at rtol = 1e-8 the global difference is ~2e-6, at 1e-10 ~4e-8, at 1e-12 ~4e-10).
    tolerances = dict(rtol=1e-11, atol=1e-13)
    point = solve_reduced(q0, PD, TIMES, degree=4, **FAST, **tolerances)
    single = solve_particles(q0[None], PD, TIMES, degree=[4], **FAST, **tolerances)
    assert isinstance(single, ParticleTrajectory)
    np.testing.assert_allclose(single.q, point.q, rtol=0, atol=1e-7)
    np.testing.assert_allclose(single.policy, point.policy, rtol=0, atol=1e-7)
    np.testing.assert_allclose(single.state_fraction, point.state_fraction, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(single.q_std, 0.0)
    np.testing.assert_allclose(single.particle_q[:, 0], single.q, atol=0)


def test_identical_particles_are_one_particle():
    one = solve_particles(Q0[None], PD, TIMES, degree=[4], **FAST)
    many = solve_particles(np.broadcast_to(Q0, (5, 2, 2)), PD, TIMES, degree=[4] * 5, **FAST)
    np.testing.assert_allclose(many.q, one.q, atol=1e-9)
    np.testing.assert_allclose(many.policy, one.policy, atol=1e-9)
    np.testing.assert_allclose(many.state_fraction, one.state_fraction, atol=1e-9)
    np.testing.assert_allclose(many.particle_q, np.repeat(one.particle_q, 5, axis=1), atol=1e-9)
    np.testing.assert_allclose(many.q_std, 0.0, atol=1e-9)


@pytest.mark.parametrize("count", [1, 3])
def test_full_timescale_with_identical_particles_is_the_full_discrete_map(count):
    game = random_game(3, 2, seed=4)
    q0 = np.random.default_rng(1).normal(size=(3, 2))
    initial = np.array([0.6, 0.3, 0.1])
    times = np.array([0, 1, 2, 7, 50, 300])
    parameters = dict(alpha=0.05, beta=2.0, gamma=0.7, rule="sarsa")
    exact = solve_full_discrete(q0, game, times, degree=3, initial_state_distribution=initial, **parameters)
    particles = solve_particles(
        np.broadcast_to(q0, (count, 3, 2)),
        game,
        times,
        degree=[3] * count,
        timescale="full",
        initial_state_distribution=initial,
        **parameters,
    )
    np.testing.assert_allclose(particles.q, exact.q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(particles.state_fraction, exact.state_fraction, rtol=0, atol=1e-12)
    np.testing.assert_allclose(particles.policy, exact.policy, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# heterogeneity
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("timescale", ["reduced", "full"])
def test_higher_degree_learns_faster(timescale):
    graph = barabasi_albert(60, 2, seed=1)
    classes, counts = np.unique(graph.degree, return_counts=True)
    low, high = classes[0], classes[-1]
    assert high >= 2 * low  # an irregular graph
    points = np.broadcast_to(np.zeros((2, 2)), (2, 2, 2)).copy()
    times = np.arange(0, 501, 50)
    result = solve_particles(points, PD, times, degree=[low, high], weight=[0.5, 0.5], timescale=timescale, **FAST)
    moved = np.abs(result.particle_q - result.particle_q[:1]).sum(axis=(2, 3))  # (time, particle)
    assert np.all(moved[1:, 1] > moved[1:, 0])  # the high-degree particle has moved further at every time
    np.testing.assert_array_less(0, result.q_std[1:].sum(axis=(1, 2)))
    np.testing.assert_array_equal(result.q_std[0], 0.0)


def test_spread_is_positive_for_distinct_particles():
    q0, degree = initial_particles(Q0, 0.1, 16, graph_degrees=[4] * 100, seed=0)
    result = solve_particles(q0, PD, TIMES, degree=degree, **FAST)
    assert np.all(result.q_std > 0)
    np.testing.assert_allclose(result.q_std[0], q0.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.q[0], q0.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(result.state_fraction.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(result.policy.sum(axis=2), 1.0, atol=1e-12)


def test_weights_act_like_repeated_particles():
    q0 = np.stack([Q0, np.zeros((2, 2))])
    tolerances = dict(rtol=1e-10, atol=1e-13)  # the step-size control sees different vectors: tighten it
    weighted = solve_particles(q0, PD, TIMES, degree=[4, 4], weight=[2.0, 1.0], **FAST, **tolerances)
    repeated = solve_particles(q0[[0, 0, 1]], PD, TIMES, degree=[4, 4, 4], **FAST, **tolerances)
    np.testing.assert_allclose(weighted.q, repeated.q, atol=1e-6)
    np.testing.assert_allclose(weighted.q_std, repeated.q_std, atol=1e-6)
    np.testing.assert_allclose(weighted.state_fraction, repeated.state_fraction, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# shapes and bad inputs
# ----------------------------------------------------------------------------------------------
def test_output_shapes():
    q0, degree = initial_particles(np.zeros((3, 2)), 0.2, 4, graph_degrees=[2, 3, 4, 5])
    game = random_game(3, 2, seed=2)
    times = np.array([0, 10, 20, 25])
    for timescale in ("reduced", "full"):
        result = solve_particles(q0, game, times, degree=degree, timescale=timescale, **FAST)
        np.testing.assert_array_equal(result.time, times)
        assert result.q.shape == result.policy.shape == result.q_std.shape == (4, 3, 2)
        assert result.state_fraction.shape == (4, 3)
        assert result.particle_q.shape == (4, 4, 3, 2)


@pytest.mark.parametrize(
    "change",
    [
        dict(q0=np.zeros((2, 2))),  # no particle axis
        dict(q0=np.zeros((3, 3, 2))),  # wrong number of states
        dict(q0=np.full((3, 2, 2), np.nan)),
        dict(degree=[4, 4]),  # one degree per particle
        dict(degree=[4, -1, 4]),
        dict(degree=[0, 0, 0]),  # no edges at all
        dict(timescale="fast"),
        dict(time=[0, 10, 5]),  # decreasing
        dict(time=[0.0, 0.5], timescale="full"),  # whole steps only
        dict(rule="td_lambda"),
    ],
)
def test_bad_inputs_raise_config_error(change):
    call = dict(q0=np.zeros((3, 2, 2)), time=[0, 10], degree=[4, 4, 4]) | change
    with pytest.raises(ConfigError):
        solve_particles(call.pop("q0"), PD, call.pop("time"), **FAST, **call)
