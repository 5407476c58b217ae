"""Fixed points and slow points of the reduced point-mass dynamics (marldyn.analysis.fixed_points)."""

from __future__ import annotations

import numpy as np
import pytest

import marldyn
from marldyn.analysis import (
    PointMassDynamics,
    classify_point,
    escape_time,
    find_fixed_points,
    full_fixed_point_check,
    jacobian,
    payoff_box,
)
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.theory.homogeneous import solve_reduced

PD = two_state_pd()


@pytest.fixture(scope="module")
def dynamics():
    return PointMassDynamics(PD, degree=4, alpha=1e-3, beta=1.0, gamma=0.8)


@pytest.fixture(scope="module")
def search(dynamics):
    return find_fixed_points(dynamics, starts=256, slow_starts=16)


def test_fixed_points_are_zeros_of_the_drift(search, dynamics):
    assert search.fixed_points, "the payoff box always holds a fixed point (Brouwer)"
    for point in search.fixed_points:
        drift = dynamics.drift(point.q)  # the public stationary_drift, independent of the solver's numba core
        assert np.abs(drift).max() <= 1e-12 * dynamics.alpha * dynamics.scale
        assert classify_point(point.q, dynamics)["kind"] == "fixed"
        low, high = payoff_box(PD, dynamics.gamma)
        assert low <= point.q.min() and point.q.max() <= high
        np.testing.assert_allclose(point.policy.sum(axis=1), 1.0)


def test_search_is_thorough(search):
    counts = list(search.counts.values())
    assert list(search.counts) == [64, 256]
    assert counts[0] == counts[-1] == len(search.fixed_points)
    assert sum(p.hits for p in search.fixed_points) == search.converged


def test_eigenvalues_match_a_finite_difference_jacobian_of_the_public_drift(search, dynamics):
    for point in search.fixed_points:
        direct, error = jacobian(lambda x: dynamics.drift(x.reshape(2, 2)).ravel(), point.q.ravel(), step=1e-5)
        assert error < 1e-9
        expected = np.sort_complex(np.linalg.eigvals(direct))
        np.testing.assert_allclose(np.sort_complex(point.eigenvalues), expected, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(point.relaxation_times, 1 / np.abs(point.eigenvalues.real))


def test_full_dynamics_has_the_same_fixed_points(search, dynamics):
    for point in search.fixed_points:
        check = full_fixed_point_check(point, dynamics)
        assert check["rate_residual"] < 1e-12
        slow = check["eigenvalues"][np.abs(check["eigenvalues"]) < 0.1]
        np.testing.assert_allclose(np.sort_complex(slow), np.sort_complex(point.eigenvalues), rtol=0.05)
        assert check["stability"] == point.stability


def test_reduced_theory_converges_to_a_stable_fixed_point(search, dynamics):
    stable = [p for p in search.fixed_points if p.stability == "stable"]
    assert stable
    for point in stable:
        run = solve_reduced(point.q + np.array([[0.3, -0.2], [0.1, 0.2]]), PD, [0, 2e5], **dynamics.parameters())
        np.testing.assert_allclose(run.q[-1], point.q, atol=1e-4)


def test_simulator_stays_near_a_stable_fixed_point(search):
    stable = [p for p in search.fixed_points if p.stability == "stable"][0]
    config = {
        "graph": {"kind": "lattice", "n": 100},
        "learning": {"alpha": 1e-3, "beta": 1.0, "gamma": 0.8},
        "init": {"q": stable.q.tolist()},
        "run": {"steps": 6000, "runs": 2, "record_every": 2000},
    }
    result = marldyn.simulate(config)
    policy = result["policy"].mean("run").values  # (time, state, action)
    assert np.abs(policy - stable.policy).max() < 0.03
    assert np.abs(result["q"].mean("run").values[-1] - stable.q).max() < 0.4


def test_near_deterministic_points_are_slow_not_fixed(search, dynamics):
    cooperative = next(p for p in search.slow_points if p.support[:, 0].all() and not p.support[:, 1].any())
    q = np.where(cooperative.support, np.nan_to_num(cooperative.q), np.nanmax(cooperative.q, axis=1)[:, None] - 14)
    result = classify_point(q, dynamics)
    assert result["drift_residual"] < 1e-4  # the drift is tiny ...
    assert result["td_residual"] > 1e-3  # ... but the rare actions' TD error is not
    assert result["kind"] == "slow"
    lifetime = escape_time(q, dynamics)
    assert 1e6 < lifetime < np.inf
    deeper = np.where(cooperative.support, q, q - 2.0)
    assert escape_time(deeper, dynamics) / lifetime == pytest.approx(np.exp(2.0), rel=0.25)


def test_slow_points_solve_the_played_actions(search, dynamics):
    assert search.slow_points
    for point in search.slow_points:
        played = point.support
        assert np.all(np.isnan(point.q[~played])) and np.all(np.isfinite(point.q[played]))
        np.testing.assert_allclose(point.policy[~played], 0.0)
        assert np.all(np.isfinite(point.temptation[~played]))


def test_dynamics_from_config_and_bad_input():
    dynamics = PointMassDynamics.from_config("examples/pd_lattice.toml")
    assert dynamics.degree == 4 and dynamics.rule == "q_learning"
    with pytest.raises(ConfigError, match="regular graph"):
        PointMassDynamics.from_config({"graph": {"kind": "barabasi_albert", "n": 30, "m": 2}})
    with pytest.raises(ConfigError, match="starts"):
        find_fixed_points(dynamics, starts=0)
    with pytest.raises(ConfigError, match="degree"):
        PointMassDynamics(PD, degree=0, alpha=1e-3, beta=1.0, gamma=0.8)


@pytest.mark.parametrize("rule", ["sarsa", "expected_sarsa"])
def test_other_rules_have_fixed_points(rule):
    dynamics = PointMassDynamics(PD, degree=3, alpha=1e-2, beta=0.5, gamma=0.6, rule=rule)
    search = find_fixed_points(dynamics, starts=32, slow_points=False)
    assert search.fixed_points
    for point in search.fixed_points:
        assert np.abs(dynamics.drift(point.q)).max() <= 1e-12 * dynamics.alpha * dynamics.scale


# ----------------------------------------------------------------------------------------------
# FAQ and ε-greedy learners (issue 13)
# ----------------------------------------------------------------------------------------------
OTHER_LEARNERS = {
    "faq": dict(rule="faq", faq_beta=0.2),
    "greedy": dict(policy="epsilon_greedy", epsilon=0.1),
    "greedy_sarsa": dict(rule="sarsa", policy="epsilon_greedy", epsilon=0.3),
    "greedy_faq": dict(rule="faq", faq_beta=0.05, policy="epsilon_greedy", epsilon=0.1),
}


@pytest.fixture(scope="module", params=sorted(OTHER_LEARNERS))
def other(request):
    dynamics = PointMassDynamics(PD, degree=4, alpha=1e-3, beta=1.0, gamma=0.8, **OTHER_LEARNERS[request.param])
    return dynamics, find_fixed_points(dynamics, starts=64, slow_points=False)


def test_other_learners_fixed_points_zero_the_drift_and_have_its_eigenvalues(other):
    dynamics, search = other
    assert search.fixed_points
    for point in search.fixed_points:
        assert np.abs(dynamics.drift(point.q)).max() <= 1e-12 * dynamics.alpha * dynamics.scale
        assert classify_point(point.q, dynamics)["kind"] == "fixed"
        # inside an ε-greedy region (a step of 1e-5 does not reach a surface) the public drift is smooth
        direct, error = jacobian(lambda x: dynamics.drift(x.reshape(2, 2)).ravel(), point.q.ravel(), step=1e-5)
        assert error < 1e-9
        expected = np.sort_complex(np.linalg.eigvals(direct))
        np.testing.assert_allclose(np.sort_complex(point.eigenvalues), expected, rtol=1e-5, atol=1e-12)
        check = full_fixed_point_check(point, dynamics)
        assert check["rate_residual"] < 1e-12 and check["stability"] == point.stability


def test_faq_has_q_learnings_fixed_points_and_greedy_search_is_exhaustive(other, dynamics, search):
    faq_dynamics, faq_search = other
    if not faq_dynamics.greedy:
        assert len(faq_search.fixed_points) == len(search.fixed_points)
        np.testing.assert_allclose(faq_search.fixed_points[0].q, search.fixed_points[0].q, atol=1e-9)
        return
    assert faq_search.starts == 4 and faq_search.slow_points == ()  # 2^2 regions, each solved exactly
    for point in faq_search.fixed_points:
        greedy = np.argmax(point.q, axis=1)  # the region of the point: X is that region's ε-greedy table
        expected = faq_dynamics.epsilon / 2 + (1 - faq_dynamics.epsilon) * (np.arange(2) == greedy[:, None])
        np.testing.assert_allclose(point.policy, expected)


def test_greedy_stable_points_attract_the_reduced_theory_and_the_simulator():
    dynamics = PointMassDynamics(PD, degree=4, alpha=1e-2, beta=1.0, gamma=0.8, **OTHER_LEARNERS["greedy"])
    search = find_fixed_points(dynamics)
    cooperative = next(p for p in search.fixed_points if np.all(p.policy[:, 0] > 0.5))
    assert cooperative.stability == "stable"  # ε-greedy Q-learners can hold full cooperation in this PD
    run = solve_reduced(cooperative.q + np.array([[0.3, -0.2], [0.1, 0.2]]), PD, [0, 3e4], **dynamics.parameters())
    np.testing.assert_allclose(run.q[-1], cooperative.q, atol=1e-4)
    config = {
        "graph": {"kind": "lattice", "n": 100},
        "learning": {"alpha": 1e-2, "gamma": 0.8, "policy": "epsilon_greedy", "epsilon": 0.1},
        "init": {"q": cooperative.q.tolist()},
        "run": {"steps": 3000, "runs": 2, "record_every": 1000},
    }
    result = marldyn.simulate(config)
    np.testing.assert_allclose(result["policy"].mean("run").values[-1], cooperative.policy, atol=0.03)


def test_other_learners_refusals():
    greedy = PointMassDynamics(PD, degree=4, alpha=1e-3, beta=1.0, gamma=0.8, **OTHER_LEARNERS["greedy"])
    with pytest.raises(ConfigError, match="Boltzmann"):
        escape_time(np.zeros((2, 2)), greedy)
    with pytest.raises(ConfigError, match="Boltzmann"):
        marldyn.analysis.transient_analysis(greedy, np.zeros((2, 2)), 1e3)
    with pytest.raises(ConfigError, match="ε > 0"):
        find_fixed_points(
            PointMassDynamics(PD, degree=4, alpha=1e-3, beta=1.0, gamma=0.8, policy="epsilon_greedy", epsilon=0.0)
        )
    with pytest.raises(ConfigError, match="faq_beta"):
        PointMassDynamics(PD, degree=4, alpha=1e-3, beta=1.0, gamma=0.8, faq_beta=0.2)
    with pytest.raises(ConfigError, match="agent types"):
        PointMassDynamics.from_config(
            {"graph": {"kind": "lattice", "n": 16}, "agent_types": [{"name": "f", "fraction": 0.5, "alpha": 0.01}]}
        )
    faq = PointMassDynamics.from_config({"graph": {"n": 16}, "learning": {"rule": "faq", "faq_beta": 0.2}})
    assert faq.parameters()["faq_beta"] == 0.2
