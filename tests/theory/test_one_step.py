"""The one numba implementation of π, δ̄, μ and Σ (theory/one_step.py) against independent numpy formulas.

``moments_reference.py`` writes the same formulas a second time with einsum, sharing no code with the core;
``test_moments.py`` checks both against enumeration of one step and Monte-Carlo of single simulator steps.
"""

from __future__ import annotations

import math
import pathlib
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import marldyn
import moments_reference as reference
from helpers import LEARNING_VARIANTS, random_game, without_faq
from marldyn.games import two_state_pd
from marldyn.learning import RULES
from marldyn.policy import boltzmann
from marldyn.theory import moments, one_step

PD = two_state_pd()
GAMES = {"pd": PD, "3x3": random_game(3, 3, seed=7), "2x3": random_game(2, 3, seed=7), "1x1": random_game(1, 1, 7)}


def _inputs(game, count, seed):
    rng = np.random.default_rng(seed)
    n_states, n_actions = game.n_states, game.n_actions
    q = rng.normal(size=(count, n_states, n_actions))
    neighbor_policy = boltzmann(rng.normal(size=(count, n_states, n_actions)), 1.3)
    distribution = rng.dirichlet(np.ones(n_states), size=count)
    degree = rng.integers(1, 12, size=count)
    degree[:4] = [0, 1, 600, 2000]  # no edges; one edge; large degrees (lgamma weights from k = 512)
    distribution[4] = np.eye(n_states)[0]  # every edge in one state
    distribution[5, 0] = 1e-12  # a state almost never met
    distribution[5] /= distribution[5].sum()
    return q, neighbor_policy, distribution, degree


@pytest.mark.parametrize("variant", list(LEARNING_VARIANTS))
@pytest.mark.parametrize("name", list(GAMES))
def test_core_drift_and_diffusion_equal_the_einsum_formulas(name, variant):
    game = GAMES[name]
    q, neighbor_policy, distribution, degree = _inputs(game, 40, seed=3)
    q[6, :, 0] = q[6, :, -1]  # ties: ε-greedy shares the greedy mass
    parameters = dict(alpha=0.3, beta=1.3, gamma=0.8, **LEARNING_VARIANTS[variant])
    mu = moments.drift(q, neighbor_policy, distribution, degree, game, **parameters)
    sigma = moments.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    expected_mu = reference.drift(q, neighbor_policy, distribution, degree, game, **parameters)
    expected_sigma = reference.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    scale = np.abs(expected_sigma).max(axis=(-1, -2), keepdims=True)
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(sigma - expected_sigma) <= 1e-12 * scale + 1e-17)
    np.testing.assert_array_equal(sigma, np.swapaxes(sigma, -1, -2))  # exactly symmetric


@pytest.mark.parametrize("variant", list(LEARNING_VARIANTS))
def test_core_td_moments_equal_the_explicit_sums(variant):
    game = GAMES["3x3"]
    q, neighbor_policy, _, _ = _inputs(game, 30, seed=5)
    keywords = without_faq(LEARNING_VARIANTS[variant])
    found = moments.td_error_moments(q, neighbor_policy, game, beta=0.7, gamma=0.9, **keywords)
    _, mean, second = reference.td_moments(q, neighbor_policy, game, beta=0.7, gamma=0.9, **keywords)
    np.testing.assert_allclose(found.mean, mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(found.second_moment, second, rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shape=st.sampled_from([(2, 2), (3, 2), (2, 3)]),
    variant=st.sampled_from(list(LEARNING_VARIANTS)),
    seed=st.integers(0, 2**31),
    alpha=st.floats(1e-4, 1.0),
    gamma=st.floats(0.0, 0.99),
)
def test_core_equals_the_einsum_formulas_on_random_inputs(shape, variant, seed, alpha, gamma):
    game = random_game(*shape, seed=seed % 1000)
    q, neighbor_policy, distribution, degree = _inputs(game, 8, seed)
    parameters = dict(alpha=alpha, beta=1.0, gamma=gamma, **LEARNING_VARIANTS[variant])
    sigma = moments.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    expected = reference.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    scale = np.abs(expected).max(axis=(-1, -2), keepdims=True)
    assert np.all(np.abs(sigma - expected) <= 1e-11 * scale + 1e-17)
    mu = moments.drift(q, neighbor_policy, distribution, degree, game, **parameters)
    np.testing.assert_allclose(
        mu, reference.drift(q, neighbor_policy, distribution, degree, game, **parameters), rtol=1e-11, atol=1e-15
    )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    probability=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 1e-300, 1e-12, 0.5, 1 - 1e-12])),
    degree=st.integers(0, 3000),
)
@example(probability=1e-07, degree=83)  # the joint probability cancels to 8e-6 (seen once at 1e-15 tolerance)
@example(probability=6.103515625e-05, degree=820)  # k p just above the switch of π's two evaluations
def test_edge_count_factors_equal_the_numpy_formulas(probability, degree):
    p = np.array([probability, 1.0 - probability])
    np.testing.assert_allclose(
        moments.interaction_probability(p, degree), reference.interaction_probability(p, degree), rtol=1e-13, atol=0
    )
    np.testing.assert_allclose(
        moments.mean_inverse_count(p, degree), reference.mean_inverse_count(p, degree), rtol=1e-10, atol=1e-300
    )
    np.testing.assert_allclose(
        moments.joint_interaction_probability(p, degree),
        reference.joint_interaction_probability(p, degree),
        rtol=1e-12,
        atol=5e-14,  # inclusion-exclusion cancels: a few ulp of 1 in each power
    )


def test_interaction_probability_is_accurate_for_rare_states():
    """π = 1 - (1 - p)^k loses every digit for tiny p if computed as written; the core keeps them all."""
    for p in (1e-8, 1e-12, 1e-16):
        exact = 4 * p - 6 * p**2 + 4 * p**3  # binomial expansion, k = 4
        assert math.isclose(one_step.interaction_probability_scalar(p, 4), exact, rel_tol=1e-14)
    assert one_step.interaction_probability_scalar(1.0, 4) == 1.0
    assert one_step.interaction_probability_scalar(0.3, 0) == 0.0


def test_pi_mu_and_sigma_have_one_implementation():
    """Regression for issue 12: π was written three times with two formulas. Only one_step.py may compute it."""
    source = pathlib.Path(marldyn.__file__).parent
    for path in source.rglob("*.py"):
        text = path.read_text()
        if path.name != "one_step.py":
            assert not re.search(r"expm1\([^\n]*log1p\(-", text), f"{path} computes π = 1 - (1 - p)^k itself"
            assert not re.search(r"1\.0 - \(1\.0 - \w+\) \*\* ", text), f"{path} computes π = 1 - (1 - p)^k itself"
    for name in ("moments_into", "drift_into", "td_moments_into"):
        defined = [p for p in source.rglob("*.py") if re.search(rf"^def {name}\(", p.read_text(), flags=re.M)]
        assert [p.name for p in defined] == ["one_step.py"], name


# ----------------------------------------------------------------------------------------------
# The two-agent kernels of the shared noise (eqs. L6-L7): pair_td_into, shared_noise_into
# ----------------------------------------------------------------------------------------------
PAIR_RULES = ("q_learning", "expected_sarsa")  # the shared-noise blocks assume a deterministic bootstrap value


def _pair_kernels(q, policy, game, gamma, rule, distribution, degree_i, degree_j, alpha):
    payoff, transition = game.arrays()
    shape = (game.n_states, game.n_actions, game.n_actions)
    expected_td, product_td, common_product = np.empty(shape), np.empty(shape), np.empty(shape)
    one_step.pair_td_into(
        q, policy, payoff, transition, gamma, RULES.index(rule), expected_td, product_td, common_product
    )
    size = game.n_states * game.n_actions
    edge, common = np.full((size, size), np.nan), np.full((size, size), np.nan)  # the kernel must zero them
    one_step.shared_noise_into(
        policy, distribution, degree_i, degree_j, alpha, product_td, common_product, edge, common
    )
    return expected_td, product_td, common_product, edge, common


def _assert_close_to_scale(found, expected, rtol):
    """|found - expected| ≤ rtol max|expected|: the sums add terms of that size, so round-off scales with it."""
    scale = np.abs(expected).max()
    assert np.all(np.abs(found - expected) <= rtol * scale + 1e-300), np.abs(found - expected).max() / scale


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shape=st.sampled_from([(1, 2), (2, 2), (3, 3), (2, 4)]),
    rule=st.sampled_from(PAIR_RULES),
    degrees=st.sampled_from([(1, 1), (4, 4), (3, 7), (7, 3), (1, 12), (600, 5), (0, 4)]),
    seed=st.integers(0, 2**31),
    gamma=st.floats(0.0, 0.99),
    alpha=st.floats(1e-4, 1.0),
)
def test_pair_td_and_shared_noise_equal_the_einsum_formulas(shape, rule, degrees, seed, gamma, alpha):
    game = random_game(*shape, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    q = 2.0 * rng.normal(size=shape)
    policy = boltzmann(q, 1.3)
    distribution = rng.dirichlet(np.ones(shape[0]))
    if shape[0] == 3 and seed % 2:  # a state never met: both blocks vanish there
        distribution[1] = 0.0
        distribution /= distribution.sum()
    degree_i, degree_j = degrees
    found = _pair_kernels(q, policy, game, gamma, rule, distribution, degree_i, degree_j, alpha)
    expected_td, product_td, common_product = reference.pair_td(q, policy, game, gamma=gamma, rule=rule)
    edge, common = reference.shared_noise(
        policy, distribution, degree_i, degree_j, product_td, common_product, alpha=alpha
    )
    for value, expected in zip(found, (expected_td, product_td, common_product, edge, common), strict=True):
        if np.any(expected):
            _assert_close_to_scale(value, expected, 1e-12)
        else:
            np.testing.assert_array_equal(value, 0.0)
    size = shape[0] * shape[1]
    off_block = np.kron(1 - np.eye(shape[0]), np.ones((shape[1], shape[1]))).astype(bool)
    assert np.all(found[3][off_block] == 0.0) and np.all(found[4][off_block] == 0.0)  # (s, s) blocks only
    assert found[3].shape == found[4].shape == (size, size)


def test_pair_td_of_q_learning_bootstraps_from_the_max():
    """A hand-checked case (K = 1, M = 2, T = 1): r(a, b) = U(a, b) + γ max Q - Q(a); product on one edge."""
    game = random_game(1, 2, seed=3)
    q = np.array([[0.4, -0.3]])
    policy = boltzmann(q, 1.0)
    expected_td, product_td, common_product, _, _ = _pair_kernels(
        q, policy, game, 0.5, "q_learning", np.ones(1), 1, 1, 1.0
    )
    u = np.asarray(game.payoff)[0]
    r = u + 0.5 * 0.4 - q[0][:, None]  # r[a, b]
    np.testing.assert_allclose(expected_td[0], r, rtol=1e-14)
    np.testing.assert_allclose(product_td[0], r * r.T, rtol=1e-14)  # one next state: δ_j(b, a) = r[b, a]
    np.testing.assert_allclose(common_product[0], (r * policy[0]) @ r.T, rtol=1e-14)
