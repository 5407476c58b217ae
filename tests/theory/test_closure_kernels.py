"""The closure's numba kernels (``closure.closure_terms``, ``closure.node_moments``) against independent numpy
formulas (``closure_reference.py``), and the focal cubature against Monte-Carlo [C3-C8].

The nodes are built as the closure builds them: a ``closure._Model`` (the module's private class, used here only
to get realistic node sets) gives the Gaussian's geometry (``closure_geometry``) and the fine / coarse rules.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import closure_reference as reference
from helpers import random_game
from marldyn.games import two_state_pd
from marldyn.theory import closure, lna

RULES = ("q_learning", "expected_sarsa", "faq")
FAQ_BETA = {"faq": 0.3}  # below the policy in most entries: the factor min(faq_beta / X, 1) is active
GAMES = {"pd": two_state_pd(), "3x3": random_game(3, 3, seed=11)}
PARAMETERS = dict(alpha=0.1, beta=1.0, gamma=0.8)
DEGREE = 4


def _covariances(size, scale, seed):
    """A random C₀ = L Lᵀ of trace ``scale`` · size and a neighbour covariance C₁ = L diag(ρ) Lᵀ, |ρ| < 1, so the
    pair law [[C₀, C₁], [C₁, C₀]] is a valid Gaussian (the neighbour's conditional covariance L diag(1 - ρ²) Lᵀ
    is positive definite)."""
    rng = np.random.default_rng(seed)
    root = rng.normal(size=(size, size))
    root *= np.sqrt(scale * size / np.sum(root**2))
    correlation = rng.uniform(-0.3, 0.7, size=size)
    return root @ root.T, root @ np.diag(correlation) @ root.T


def _model(game, rule, order=None):
    initial = np.full(game.n_states, 1.0 / game.n_states)
    return closure._Model(
        game,
        DEGREE,
        [DEGREE],
        [1.0],
        rule=rule,
        faq_beta=FAQ_BETA.get(rule),
        order=order,
        correlations=True,
        initial=initial,
        **PARAMETERS,
    )


def _state(game, seed, dynamic):
    rng = np.random.default_rng(seed)
    size = game.n_states * game.n_actions
    mean = rng.normal(size=size)
    own, neighbor = _covariances(size, 0.3, seed)
    model = _model(game, "q_learning")
    pairs = rng.dirichlet(np.ones(game.n_states), size=model.no_pairs.shape[:2]) if dynamic else None
    return mean, own, neighbor, pairs


def _relative_error(found, expected):
    return float(np.abs(found - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", list(GAMES))
def test_closure_terms_equal_the_numpy_reference(name, rule, dynamic):
    game = GAMES[name]
    model = _model(game, rule)
    mean, own, neighbor, pairs = _state(game, seed=5, dynamic=dynamic)
    arguments = model.terms_arguments(mean, own, neighbor, pairs)
    found = closure.closure_terms(*arguments, *model.parameters())
    expected = reference.closure_terms(
        *arguments, game, degree=DEGREE, rule=rule, faq_beta=FAQ_BETA.get(rule), initial=model.initial, **PARAMETERS
    )
    drift, own_fd, contrast_fd, noise, edge, common = found
    drift_ref, own_fd_ref, contrast_fd_ref, noise_ref, edge_ref, common_ref = expected
    # E[μ], E[Σ] and the shared noise are sums of the same terms in another order (and the two-state stationary
    # distribution by its closed form in the kernel, by elimination in markov): a few ulp of their scale.
    for value, reference_value in ((drift, drift_ref), (noise, noise_ref), (edge, edge_ref), (common, common_ref)):
        assert _relative_error(value, reference_value) < 1e-10
    # The forward differences divide a difference of two E[μ] by step = 1e-6 max(1, |m|): the ~1e-16 relative
    # round-off of each E[μ] becomes ~1e-16 |μ| / step in the quotient, i.e. ~1e-10-1e-9 of the derivative's
    # size (|μ| / |∂μ| is O(1) here); 1e-7 leaves two orders for unlucky cancellations and is still ~10⁴ below
    # a wrong column (a derivative's error from a wrong shift is of its own size).
    assert _relative_error(own_fd, own_fd_ref) < 1e-7
    assert _relative_error(contrast_fd, contrast_fd_ref) < 1e-7
    # The shared noise at the mean is the LNA's (lna.shared_noise_blocks, the public form of the same blocks).
    blocks = lna.shared_noise_blocks(
        mean.reshape(game.n_states, game.n_actions), game, DEGREE, rule=rule, faq_beta=FAQ_BETA.get(rule), **PARAMETERS
    )
    assert _relative_error(edge, blocks["edge"]) < 1e-12
    assert _relative_error(common, blocks["common"]) < 1e-12


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", list(GAMES))
def test_node_moments_equal_the_numpy_reference(name, rule, dynamic):
    game = GAMES[name]
    model = _model(game, rule)
    mean, own, neighbor, pairs = _state(game, seed=8, dynamic=dynamic)
    nodes = model.nodes(model.geometry(mean, own, neighbor), model.fine)
    focal_q = (mean[None, :] + nodes.full).reshape(-1, game.n_states, game.n_actions)
    contrast_node = model.fine.full_contrast
    mu, sigma, distribution = model.node_moments(nodes, mean, pairs)
    expected_mu, expected_sigma, expected_distribution = reference.node_moments(
        focal_q,
        nodes.neighbors[contrast_node],
        nodes.neighbor_weight[contrast_node],
        game,
        degree=DEGREE,
        rule=rule,
        faq_beta=FAQ_BETA.get(rule),
        pairs=None if pairs is None else pairs[contrast_node],
        initial=model.initial,
        **PARAMETERS,
    )
    # Per node: the same μ, Σ kernels on the same field, the field summed in another order: ulp of the scale.
    scale_mu = np.abs(expected_mu).max(axis=(1, 2), keepdims=True)
    scale_sigma = np.abs(expected_sigma).max(axis=(1, 2), keepdims=True)
    assert np.all(np.abs(mu - expected_mu) <= 1e-10 * scale_mu)
    assert np.all(np.abs(sigma - expected_sigma) <= 1e-10 * scale_sigma)
    np.testing.assert_allclose(distribution, expected_distribution, rtol=1e-10, atol=1e-15)
    if dynamic:  # the field's p(s) is the w-mean of the given pairs
        np.testing.assert_allclose(
            distribution, np.einsum("r,prs->ps", model.neighbor_weight, pairs[contrast_node]), rtol=1e-13
        )


def test_node_moments_in_a_state_never_met():
    """Pairs that never visit a state: p(s) = 0 there, μ and Σ vanish in it (P(n_s ≥ 1) = 0; the field's
    fallback X̃(s, ·), the w-mean neighbour policy, is multiplied by 0), and the rest agrees with the reference."""
    game = GAMES["3x3"]
    model = _model(game, "q_learning")
    mean, own, neighbor, pairs = _state(game, seed=9, dynamic=True)
    pairs[..., 1] = 0.0
    pairs /= pairs.sum(axis=-1, keepdims=True)
    nodes = model.nodes(model.geometry(mean, own, neighbor), model.fine)
    focal_q = (mean[None, :] + nodes.full).reshape(-1, game.n_states, game.n_actions)
    contrast_node = model.fine.full_contrast
    mu, sigma, distribution = model.node_moments(nodes, mean, pairs)
    expected_mu, expected_sigma, _ = reference.node_moments(
        focal_q,
        nodes.neighbors[contrast_node],
        nodes.neighbor_weight[contrast_node],
        game,
        degree=DEGREE,
        rule="q_learning",
        pairs=pairs[contrast_node],
        initial=model.initial,
        **PARAMETERS,
    )
    assert np.all(distribution[:, 1] == 0.0)
    assert np.all(mu[:, 1] == 0.0)
    assert _relative_error(mu, expected_mu) < 1e-10
    assert _relative_error(sigma, expected_sigma) < 1e-10


# ----------------------------------------------------------------------------------------------
# Monte-Carlo of the focal cubature
# ----------------------------------------------------------------------------------------------
MC_DRAWS = 20_000
NEIGHBOR_ORDER = 12  # Gauss-Hermite nodes per neighbour contrast of the Monte-Carlo's neighbour expectation


@pytest.mark.parametrize("rule", RULES)
def test_fine_rule_drift_matches_monte_carlo(rule):
    """E[μ] of the fine rule (closure_terms' first output) against a Monte-Carlo over the focal Q ~ N(m, C₀).

    Per draw the same per-node computation: the neighbour's contrasts follow their conditional law given the
    drawn focal contrasts (Gaussian: mean m_c + gain (c_i - m_c), covariance Σ_c - gain Cov(c_i, c_j), computed
    here with numpy), and the field (eqs. 18, 20) is the expectation over that law, taken by a Gauss-Hermite rule
    of order 12 per contrast (error far below the Monte-Carlo's: the field is smooth in the neighbour's
    contrasts). The field is non-linear in the neighbour (μ depends on p(s) through P(n_s ≥ 1)), so a single
    neighbour draw per focal draw would be biased; the expectation must be taken inside.
    """
    game = GAMES["pd"]
    n_states, n_actions = game.n_states, game.n_actions
    mean = np.array([[3.0, 1.0], [1.0, 2.0]]).ravel()
    own, neighbor = _covariances(4, 0.3, seed=2)
    model = _model(game, rule)
    arguments = model.terms_arguments(mean, own, neighbor)
    drift = closure.closure_terms(*arguments, *model.parameters())[0].ravel()

    # the Gaussian and the neighbour's conditional law, from the covariances directly
    basis = closure.contrast_basis(n_states, n_actions)[: n_states * (n_actions - 1)]  # R_c (n_c, d)
    contrast_cov = basis @ own @ basis.T
    cross = basis @ neighbor @ basis.T  # Cov(c_j, c_i), symmetric
    gain = np.linalg.solve(contrast_cov, cross).T  # cross Σ_c⁻¹
    conditional = contrast_cov - gain @ cross.T
    values, vectors = np.linalg.eigh(0.5 * (conditional + conditional.T))
    conditional_root = vectors * np.sqrt(np.clip(values, 0.0, None))
    nodes, weights = hermegauss(NEIGHBOR_ORDER)
    eta = np.stack(np.meshgrid(nodes, nodes, indexing="ij"), axis=-1).reshape(-1, 2)
    eta_weight = np.outer(weights, weights).ravel() / weights.sum() ** 2

    rng = np.random.default_rng(2024)
    focal = rng.multivariate_normal(mean, own, size=MC_DRAWS)
    mu = np.empty((MC_DRAWS, n_states * n_actions))
    for chunk in np.array_split(np.arange(MC_DRAWS), 8):
        focal_contrasts = focal[chunk] @ basis.T
        neighbor_contrasts = (basis @ mean + (focal_contrasts - basis @ mean) @ gain.T)[:, None, :] + (
            eta @ conditional_root.T
        )[None]
        mu[chunk] = reference.node_moments(
            focal[chunk].reshape(-1, n_states, n_actions),
            neighbor_contrasts,
            eta_weight,
            game,
            degree=DEGREE,
            rule=rule,
            faq_beta=FAQ_BETA.get(rule),
            initial=model.initial,
            with_diffusion=False,
            **PARAMETERS,
        )[0].reshape(len(chunk), -1)
    # Budget (measured): the kernel's own cubature error -- 3 Gauss-Hermite nodes per neighbour contrast, 3.4e-4 on
    # E[μ](s1, C) ≈ 0.19, and the order-5 focal rule across the Q-learning kink, ≤ 7e-5 -- is ≤ 1.2 SE at 20,000
    # draws; dropping the focal average (μ at the mean) misses by 12-55 SE, so the check can fail.
    # FAQ's factor min(faq_beta / X, 1) has a kink at X = faq_beta inside this cloud, where the Gauss-Hermite rule
    # converges slowly and not monotonically (measured, orders 5-17: E[μ](s1, D) 0.0500-0.0529 against the
    # Monte-Carlo 0.0513): a budget of 3 % of the largest entry for FAQ.
    estimate = mu.mean(axis=0)
    standard_error = mu.std(axis=0, ddof=1) / np.sqrt(MC_DRAWS)
    budget = 0.03 * np.abs(estimate).max() if rule == "faq" else 1e-6
    assert np.all(np.abs(drift - estimate) <= 5.0 * standard_error + budget), (drift, estimate, standard_error)
