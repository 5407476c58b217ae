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
from helpers import random_game
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


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", list(GAMES))
def test_core_drift_and_diffusion_equal_the_einsum_formulas(name, rule):
    game = GAMES[name]
    q, neighbor_policy, distribution, degree = _inputs(game, 40, seed=3)
    parameters = dict(alpha=0.3, beta=1.3, gamma=0.8, rule=rule)
    mu = moments.drift(q, neighbor_policy, distribution, degree, game, **parameters)
    sigma = moments.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    expected_mu = reference.drift(q, neighbor_policy, distribution, degree, game, **parameters)
    expected_sigma = reference.diffusion(q, neighbor_policy, distribution, degree, game, **parameters)
    scale = np.abs(expected_sigma).max(axis=(-1, -2), keepdims=True)
    np.testing.assert_allclose(mu, expected_mu, rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(sigma - expected_sigma) <= 1e-12 * scale + 1e-17)
    np.testing.assert_array_equal(sigma, np.swapaxes(sigma, -1, -2))  # exactly symmetric


@pytest.mark.parametrize("rule", RULES)
def test_core_td_moments_equal_the_explicit_sums(rule):
    game = GAMES["3x3"]
    q, neighbor_policy, _, _ = _inputs(game, 30, seed=5)
    found = moments.td_error_moments(q, neighbor_policy, game, beta=0.7, gamma=0.9, rule=rule)
    _, mean, second = reference.td_moments(q, neighbor_policy, game, beta=0.7, gamma=0.9, rule=rule)
    np.testing.assert_allclose(found.mean, mean, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(found.second_moment, second, rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    shape=st.sampled_from([(2, 2), (3, 2), (2, 3)]),
    rule=st.sampled_from(RULES),
    seed=st.integers(0, 2**31),
    alpha=st.floats(1e-4, 1.0),
    gamma=st.floats(0.0, 0.99),
)
def test_core_equals_the_einsum_formulas_on_random_inputs(shape, rule, seed, alpha, gamma):
    game = random_game(*shape, seed=seed % 1000)
    q, neighbor_policy, distribution, degree = _inputs(game, 8, seed)
    parameters = dict(alpha=alpha, beta=1.0, gamma=gamma, rule=rule)
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
