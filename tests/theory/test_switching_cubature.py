"""The cell cubature of ε-greedy's switching surfaces (``theory/switching_cubature.py``) and the closure's
ε-greedy route (``theory/closure.py`` [C11]): closed forms, the numpy reference of the kernels, and simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.stats import norm

import closure_reference as reference
import marldyn
from marldyn.games import two_state_pd
from marldyn.graphs import lattice
from marldyn.theory import closure
from marldyn.theory.closure import gaussian_mean_policy, solve_closure
from marldyn.theory.switching_cubature import CUT, greedy_profiles, switching_rule, truncated_normal_rule


@pytest.mark.parametrize("order", [1, 2, 3, 5])
@pytest.mark.parametrize("lower, upper", [(-np.inf, np.inf), (0.0, np.inf), (5.0, np.inf), (-1.0, 2.0), (-7.0, -6.0)])
def test_truncated_rule_integrates_polynomials_of_degree_2n_minus_1(lower, upper, order):
    nodes, weights = truncated_normal_rule([lower], [upper], order)
    for k in range(2 * order):
        exact = quad(lambda x, k=k: x**k * norm.pdf(x), max(lower, -40), min(upper, 40), epsabs=0, epsrel=1e-13)[0]
        scale = quad(lambda x, k=k: abs(x) ** k * norm.pdf(x), max(lower, -40), min(upper, 40), epsrel=1e-13)[0]
        assert abs(weights[0] @ nodes[0] ** k - exact) <= 1e-9 * scale
    assert np.all((nodes >= lower) & (nodes <= upper))


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-8.5, 8.5),
    st.floats(1e-6, 12.0),
    st.integers(1, 4),
)
def test_truncated_rule_has_the_pieces_mass_and_mean(lower, width, order):
    """Σ w = Φ(b) - Φ(a) and Σ w ξ = φ(a) - φ(b), for any piece of probability above MIN_MASS (the normal beyond
    ±CUT = 9 dropped)."""
    upper = min(lower + width, CUT)
    mass = norm.cdf(upper) - norm.cdf(lower) if lower < 0 else norm.sf(lower) - norm.sf(upper)
    nodes, weights = truncated_normal_rule([lower], [upper], order)
    if mass < 1e-13:
        return
    assert weights.sum() == pytest.approx(mass, rel=1e-8)
    first = norm.pdf(lower) - norm.pdf(upper)  # E[ξ; a < ξ < b], to round-off of the piece's mass and ends
    assert abs(weights[0] @ nodes[0] - first) <= 1e-8 * mass * (1.0 + abs(upper))


def test_switching_rule_gives_orthant_probabilities_and_exact_moments():
    """Bivariate normal, zero mean, correlation ρ: P(c₁ > 0, c₂ > 0) = 1/4 + arcsin(ρ) / (2π) (Sheppard); the
    cells' error falls with the order; mean and covariance are exact at any order (polynomials of degree 2)."""
    covariance = np.array([[1.0, 0.6], [0.6, 2.0]])
    root = np.linalg.cholesky(covariance)
    exact = 0.25 + math.asin(0.6 / math.sqrt(2.0)) / (2.0 * math.pi)
    errors = []
    for order in (1, 2, 3, 4):
        xi, weights = switching_rule(np.zeros((1, 2)), root, 2, order)
        contrasts = xi[0] @ root.T
        errors.append(abs(weights[0] @ np.all(contrasts > 0, axis=1) - exact))
        if order >= 2:
            np.testing.assert_allclose(weights[0] @ contrasts, 0.0, atol=1e-13)
            np.testing.assert_allclose(np.einsum("p,pi,pj->ij", weights[0], contrasts, contrasts), covariance, 1e-12)
    assert errors[2] < 1e-4 and errors[3] < 1e-5 and errors[3] < errors[1] < errors[0]


def test_switching_rule_with_three_actions_matches_the_region_probabilities():
    """One state, three actions: P(greedy action) from the cells against a 1-D quadrature of the exact
    conditional probabilities (c₂ | c₁ is Gaussian)."""
    mean, covariance = np.array([0.2, 0.1]), np.array([[1.0, 0.3], [0.3, 0.5]])
    slope = covariance[0, 1] / covariance[0, 0]
    spread = math.sqrt(covariance[1, 1] - slope * covariance[0, 1])

    def density(c1):
        return norm.pdf(c1, mean[0], 1.0)

    def below(c1, value):  # P(c₂ < value | c₁)
        return norm.cdf(value, mean[1] + slope * (c1 - mean[0]), spread)

    exact = [
        quad(lambda c: density(c) * below(c, c), 0.0, 12)[0],  # action 0: c₁ > 0, c₂ < c₁
        quad(lambda c: density(c) * (1 - below(c, max(c, 0.0))), -12, 12, points=[0.0])[0],  # action 1
        quad(lambda c: density(c) * below(c, 0.0), -12, 0.0)[0],  # action 2: c₁ < 0, c₂ < 0
    ]
    xi, weights = switching_rule(mean[None], np.linalg.cholesky(covariance), 3, 4)
    contrasts = mean + xi[0] @ np.linalg.cholesky(covariance).T
    greedy = np.argmax(np.concatenate([contrasts, np.zeros((len(contrasts), 1))], axis=1), axis=1)
    found = [weights[0][greedy == a].sum() for a in range(3)]
    np.testing.assert_allclose(found, exact, atol=1e-4)  # measured: 4.8e-5 at order 4 (the smooth P(c₂ < c₁ | c₁))


def test_greedy_profiles_sum_the_weights_by_greedy_actions():
    rng = np.random.default_rng(3)
    contrasts = rng.normal(size=(4, 50, 4))  # two states, three actions
    weights = rng.uniform(size=(4, 50))
    representatives, profile_weights = greedy_profiles(contrasts, weights, 3)
    rows = np.concatenate([contrasts.reshape(4, 50, 2, 2), np.zeros((4, 50, 2, 1))], axis=3)
    index = np.argmax(rows, axis=3) @ np.array([1, 3])
    for b in range(4):
        np.testing.assert_allclose(profile_weights[b], np.bincount(index[b], weights[b], minlength=9))
    shown = np.argmax(np.concatenate([representatives.reshape(9, 2, 2), np.zeros((9, 2, 1))], axis=2), axis=2)
    np.testing.assert_array_equal(shown @ np.array([1, 3]), np.arange(9))


def test_mean_policy_of_a_gaussian_under_epsilon_greedy_is_the_normal_cdf():
    """Two actions: E[X(s, 0)] = ε / 2 + (1 - ε) Φ(m_c / σ_c) per state, exactly."""
    q = np.array([[1.0, 0.2], [-0.3, 0.4]])
    covariance = np.diag([0.5, 0.3, 0.8, 0.1])
    covariance[0, 1] = covariance[1, 0] = 0.1
    found = gaussian_mean_policy(q, covariance, 1.0, policy="epsilon_greedy", epsilon=0.2)
    contrast_sd = [math.sqrt(0.5 + 0.3 - 0.2), math.sqrt(0.8 + 0.1)]
    expected = [0.1 + 0.8 * norm.cdf((q[s, 0] - q[s, 1]) / contrast_sd[s]) for s in range(2)]
    np.testing.assert_allclose(found[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(found.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("rule", ["q_learning", "expected_sarsa", "faq"])
def test_greedy_closure_terms_equal_the_numpy_reference(rule):
    """The kernels with ε-greedy policies and the cells' own nodes per shifted evaluation, against the numpy
    formulas (closure_reference.closure_terms with ``epsilon``)."""
    game = two_state_pd()
    faq_beta = 0.3 if rule == "faq" else None
    parameters = dict(alpha=0.1, beta=1.0, gamma=0.8)
    model = closure._Model(
        game, 4, [4.0], [1.0], rule=rule, faq_beta=faq_beta, order=None, correlations=True,
        initial=np.full(2, 0.5), policy="epsilon_greedy", epsilon=0.2, **parameters,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    mean = np.array([0.3, 0.1, -0.2, 0.25])
    root = rng.normal(size=(4, 4)) * 0.3
    own = root @ root.T
    neighbor = root @ np.diag([0.4, 0.2, -0.1, 0.3]) @ root.T
    arguments = model.terms_arguments(mean, own, neighbor)
    found = closure.closure_terms(*arguments, *model.parameters())
    expected = reference.closure_terms(
        *arguments, game, degree=4, rule=rule, faq_beta=faq_beta, initial=model.initial, epsilon=0.2, **parameters
    )
    for value, reference_value in zip(found, expected, strict=True):
        scale = np.abs(reference_value).max()
        assert np.abs(value - reference_value).max() <= 1e-7 * max(scale, 1e-300)
    # the Jacobian's evaluations have nodes of their own: the cells moved with the shifted mean
    assert not np.array_equal(arguments[5][0], arguments[5][1])


def test_epsilon_one_closure_is_the_uniform_boltzmann_closure():
    """ε = 1 plays uniformly: the β = 0 closure (expected SARSA: no kink left, both cubatures are exact)."""
    kw = dict(graph=lattice(16), alpha=1e-3, gamma=0.8, initial_covariance=0.01 * np.eye(4), rule="expected_sarsa")
    uniform = solve_closure([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1000, 3000], beta=0.0, **kw)
    greedy = solve_closure(
        [[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1000, 3000], policy="epsilon_greedy", epsilon=1.0, **kw
    )
    for name in ("q", "policy", "q_std", "covariance", "state_fraction", "q_skewness"):
        np.testing.assert_allclose(getattr(greedy, name), getattr(uniform, name), rtol=1e-7, atol=1e-10)


def test_greedy_closure_follows_the_switch_the_point_mass_misses():
    """ε-greedy PD from Q0 = [[0, 0.3], [0.2, 0]]: in the simulation the agents' noise carries state 2 across its
    switching surface by t = 4,000; the point mass, without noise, stays; the closure's Gaussian, straddling the
    surface, follows the simulation (within 4 standard errors of its run mean, plus 0.01) and so does its spread."""
    config = {
        "graph": {"kind": "lattice", "n": 100},
        "learning": {"alpha": 0.01, "policy": "epsilon_greedy", "epsilon": 0.1},
        "init": {"q": [[0.0, 0.3], [0.2, 0.0]], "q_noise": 0.0},
        "run": {"steps": 4000, "runs": 10, "record_every": 2000, "seed": 1},
    }
    simulation = marldyn.simulate(config, progress=False)
    predicted = marldyn.predict(config, "closure", progress=False)
    point_mass = marldyn.predict(config, "reduced", progress=False)
    final = simulation.policy.isel(time=-1).sel(action=0)
    mean, error = final.mean("run").values, final.std("run").values / math.sqrt(10)
    found = predicted.policy.isel(time=-1).sel(action=0).values
    assert np.all(np.abs(found - mean) <= 4.0 * error + 0.01), (found, mean, error)
    assert abs(point_mass.policy.isel(time=-1).sel(action=0).values[1] - mean[1]) > 10 * error[1] + 0.1
    spread = simulation.q_std.isel(time=1).mean("run").values  # t = 2,000, before the switch
    np.testing.assert_allclose(predicted.q_std.isel(time=1).values, spread, rtol=0.1)


GREEDY_TYPED = {
    "graph": {"kind": "barabasi_albert", "n": 20, "m": 2, "seed": 3},
    "run": {"steps": 1000, "runs": 2, "record_every": 500, "seed": 2},
    "init": {"q": [[0.0, 0.3], [0.2, 0.0]], "q_noise": 0.1},
    "learning": {"alpha": 0.01, "policy": "epsilon_greedy", "epsilon": 0.1},
}


def test_twin_epsilon_greedy_types_give_the_untyped_class_closure():
    """Two types with the learners' own parameters: every degree class split in two, each half its own Gaussian
    in the neighbours' field (summed by greedy profile), which is the untyped degree-class closure."""
    untyped = marldyn.predict(GREEDY_TYPED, "closure", progress=False)
    twins = marldyn.predict(GREEDY_TYPED | {"agent_types": [{"name": "twin", "fraction": 0.5}]}, "closure")
    for name in ("policy", "q", "q_std", "state_fraction"):
        np.testing.assert_allclose(twins[name].values, untyped[name].values, rtol=1e-7, atol=1e-9)


def test_epsilon_greedy_class_terms_with_committed_tables_equal_the_numpy_reference():
    """A learner class's terms among ε-greedy learner classes and committed classes (the neighbours' last nodes
    play the committed tables), against the numpy formulas."""
    game = two_state_pd()
    config = marldyn.parse_config(
        GREEDY_TYPED | {"agent_types": [{"name": "z", "fraction": 0.3, "fixed_policy": [[0.9, 0.1], [0.7, 0.3]]}]}
    )
    graph = lattice(16)
    learners = config.learners(game, graph.n_agents)
    agent_type = np.array([1] * 5 + [0] * 11)
    model = closure._typed_model(game, graph, learners, agent_type, None, np.full(2, 0.5))
    rng = np.random.default_rng(5)
    means = rng.normal(size=(model.n_classes, 4)) * 0.3
    roots = rng.normal(size=(model.n_classes, 4, 4)) * 0.2
    covariances = roots @ np.swapaxes(roots, 1, 2)
    law = model.neighbor_field(means, covariances, 1.0)  # every neighbour node a table: 4 profiles, then z
    assert law.centre is None and law.tables.shape == (5, 2, 2)
    np.testing.assert_array_equal(law.tables[-1], [[0.9, 0.1], [0.7, 0.3]])
    learner = int(np.flatnonzero(~model.committed)[0])
    part = model.parts[learner]
    arguments = part.terms_arguments(means[learner], covariances[learner], np.zeros((4, 4)), law=law)
    found = closure.closure_terms(*arguments, *part.parameters())
    expected = reference.closure_terms(
        *arguments, game, degree=4, rule="q_learning", initial=part.initial, epsilon=0.1, alpha=0.01, beta=1.0,
        gamma=0.8,
    )  # fmt: skip
    for value, reference_value in zip(found[:4], expected[:4], strict=True):
        assert np.abs(value - reference_value).max() <= 1e-7 * np.abs(reference_value).max()


def test_epsilon_greedy_learners_beside_a_committed_minority():
    """The committed class plays its table and keeps its agents' Q; the learners' class moves."""
    zealots = {"agent_types": [{"name": "z", "fraction": 0.2, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]}
    config = GREEDY_TYPED | {"graph": {"kind": "lattice", "n": 36}} | zealots
    predicted = marldyn.predict(config, "closure", progress=False)
    np.testing.assert_allclose(predicted.policy_by_type.sel(agent_type="z").values[..., 0], 1.0, atol=1e-12)
    committed_q = predicted.q_by_type.sel(agent_type="z").values
    np.testing.assert_allclose(committed_q, np.broadcast_to(committed_q[0], committed_q.shape), atol=1e-12)
    learners_q = predicted.q_by_type.sel(agent_type="default").values
    assert np.abs(learners_q[-1] - learners_q[0]).max() > 0.1


def test_uniform_epsilon_greedy_and_boltzmann_types_mix_like_uniform_boltzmann_types():
    """A type at ε = 1 beside a type at β = 0: both play uniformly, so the mixed closure (every neighbour a table)
    is the all-Boltzmann β = 0 one (its mixture one Gaussian); expected SARSA leaves no kink to integrate."""
    learning = {"alpha": 0.01, "rule": "expected_sarsa", "beta": 0.0}
    base = GREEDY_TYPED | {"learning": learning, "graph": {"kind": "lattice", "n": 36}}
    boltzmann = marldyn.predict(base | {"agent_types": [{"name": "b", "fraction": 0.5, "alpha": 0.02}]}, "closure")
    mixed_types = [{"name": "b", "fraction": 0.5, "alpha": 0.02, "policy": "epsilon_greedy", "epsilon": 1.0}]
    mixed = marldyn.predict(base | {"agent_types": mixed_types}, "closure")
    for name in ("policy_by_type", "q_by_type", "q_std", "state_fraction"):
        np.testing.assert_allclose(mixed[name].values, boltzmann[name].values, rtol=1e-7, atol=1e-9)
