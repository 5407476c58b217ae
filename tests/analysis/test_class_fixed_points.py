"""Fixed points of the point-mass classes: agent types and degree classes (marldyn.analysis.fixed_points)."""

from __future__ import annotations

import numpy as np
import pytest

import marldyn
from marldyn.analysis import (
    ClassPointMassDynamics,
    PointMassDynamics,
    classify_point,
    find_fixed_points,
    jacobian,
    point_mass_dynamics,
)
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd

PD = two_state_pd()
LATTICE = {"kind": "lattice", "n": 100}
COOPERATORS = [[1.0, 0.0], [1.0, 0.0]]


def _typed(types, graph=LATTICE, **learning):
    return {"graph": graph, "learning": {"alpha": 0.01, "beta": 1.0, "gamma": 0.8, **learning}, "agent_types": types}


@pytest.fixture(scope="module")
def committed():
    """A committed minority of cooperators (30 %) among Boltzmann Q-learners on the lattice."""
    dynamics = point_mass_dynamics(_typed([{"name": "committed", "fraction": 0.3, "fixed_policy": COOPERATORS}]))
    return dynamics, find_fixed_points(dynamics, starts=32)


def test_twin_types_have_the_untyped_fixed_point_and_its_eigenvalues():
    """Two types with the same parameters: both classes sit at the untyped Q*, and the untyped eigenvalues are
    the symmetric modes of the class system (the other modes move the twins apart)."""
    dynamics = point_mass_dynamics(_typed([{"name": "twin", "fraction": 0.5}]))
    assert isinstance(dynamics, ClassPointMassDynamics) and dynamics.shape == (2, 2, 2)
    search = find_fixed_points(dynamics, starts=16)
    untyped = find_fixed_points(PointMassDynamics(PD, 4, 0.01, 1.0, 0.8), starts=16, slow_points=False)
    assert len(search.fixed_points) == len(untyped.fixed_points) == 1
    point, single = search.fixed_points[0], untyped.fixed_points[0]
    np.testing.assert_allclose(point.q, np.stack([single.q, single.q]), atol=1e-9)
    np.testing.assert_allclose(point.state_distribution, np.stack([single.state_distribution] * 2), atol=1e-12)
    for value in single.eigenvalues:
        assert np.abs(point.eigenvalues - value).min() <= 1e-6 * abs(value)
    assert point.stability == single.stability == "stable"


def test_committed_minority_fixed_point_is_a_zero_of_the_class_rate(committed):
    dynamics, search = committed
    assert dynamics.moving.tolist() == [True, False]  # the default learners move, the committed class does not
    assert search.converged == search.starts and len(search.fixed_points) == 1
    point = search.fixed_points[0]
    # the one class rate of predict(config, "reduced"), independent of the root finder's residual
    assert np.abs(dynamics.drift(point.q)).max() <= 1e-12 * dynamics.alpha * dynamics.scale
    assert classify_point(point.q, dynamics)["kind"] == "fixed"
    np.testing.assert_array_equal(point.policy[1], COOPERATORS)
    assert np.all(point.policy[0, :, 0] > 0.55)  # 30 % committed cooperators raise X*(C) from 0.4532


def test_class_eigenvalues_are_those_of_a_finite_difference_jacobian_of_the_rate():
    """FAQ fast learners and Q-learners on a BA graph (degree classes): diag(α π X c) J_δ̄ against the Jacobian
    of the rate itself, which holds the degrees' π and FAQ's factor."""
    graph = {"kind": "barabasi_albert", "n": 60, "m": 2, "seed": 3}
    types = [{"name": "fast", "fraction": 0.5, "alpha": 0.03, "rule": "faq", "faq_beta": 0.3}]
    dynamics = point_mass_dynamics(_typed(types, graph=graph))
    assert dynamics.shape[0] > 4 and dynamics.moving.all()
    point = find_fixed_points(dynamics, starts=2).fixed_points[0]
    moving = dynamics.moving

    def rate(x):
        return dynamics.drift(dynamics.full_q(x))[moving].ravel()

    direct, error = jacobian(rate, point.q[moving].ravel(), step=1e-5)
    assert error < 1e-9
    expected = np.sort_complex(np.linalg.eigvals(direct))
    np.testing.assert_allclose(np.sort_complex(point.eigenvalues), expected, rtol=1e-5, atol=1e-12)


def test_the_reduced_class_theory_settles_at_the_stable_class_fixed_point(committed):
    dynamics, search = committed
    point = search.fixed_points[0]
    slowest = point.relaxation_times.max()
    config = _typed([{"name": "committed", "fraction": 0.3, "fixed_policy": COOPERATORS}])
    config["run"] = {"steps": int(25 * slowest), "record_every": int(25 * slowest)}
    theory = marldyn.predict(config, "reduced")
    learners = list(theory["agent_type"].values).index("default")
    # the class ODE's RK45 at rtol 1e-5 on Q ~ 10 leaves ~1e-4 in Q; the committed shift of X*(C) is 0.14
    np.testing.assert_allclose(theory["policy_by_type"].values[-1, learners], point.policy[0], atol=1e-4)


def test_greedy_classes_find_the_untyped_equilibria_off_the_surfaces():
    """ε-greedy twins: every exact per-region equilibrium of the one point mass, in both twins, is found by the
    class search, and no found point lies on a switching surface."""
    greedy = {"policy": "epsilon_greedy", "epsilon": 0.1}
    dynamics = point_mass_dynamics(_typed([{"name": "twin", "fraction": 0.5}], **greedy))
    assert dynamics.greedy
    search = find_fixed_points(dynamics, starts=64)
    exact = find_fixed_points(PointMassDynamics(PD, 4, 0.01, 0.0, 0.8, **greedy)).fixed_points
    assert len(exact) == 3  # C/C, C/D and D/D
    for single in exact:
        matches = [p for p in search.fixed_points if np.abs(p.q - np.stack([single.q, single.q])).max() < 1e-9]
        assert len(matches) == 1 and matches[0].stability == single.stability
    for point in search.fixed_points:
        assert np.abs(dynamics.drift(point.q)).max() <= 1e-12 * dynamics.alpha * dynamics.scale
        gaps = np.abs(np.diff(point.q, axis=-1))
        assert gaps.min() > 1e-5


def test_point_mass_dynamics_picks_one_point_mass_or_classes_and_refuses_bad_input():
    assert isinstance(point_mass_dynamics({"graph": LATTICE}), PointMassDynamics)
    irregular = point_mass_dynamics({"graph": {"kind": "barabasi_albert", "n": 40, "m": 2}})
    assert (
        isinstance(irregular, ClassPointMassDynamics)
        and irregular.shape[0]
        == np.unique(
            marldyn.parse_config({"graph": {"kind": "barabasi_albert", "n": 40, "m": 2}}).build_graph().degree
        ).size
    )
    with pytest.raises(ConfigError, match="ClassPointMassDynamics"):
        PointMassDynamics.from_config(_typed([{"name": "twin", "fraction": 0.5}]))
    everyone = _typed([{"name": "committed", "fraction": 1.0, "fixed_policy": COOPERATORS}])
    with pytest.raises(ConfigError, match="no class moves"):
        find_fixed_points(point_mass_dynamics(everyone))
    with pytest.raises(ConfigError, match="group game"):
        point_mass_dynamics({"game": {"name": "public_goods"}, "graph": {"groups": "neighborhood"}})
    with pytest.raises(ConfigError, match="one entry per class"):
        ClassPointMassDynamics(PD, irregular.learners, [0, 0], [4], [1.0])


def test_cli_fixed_points_of_a_typed_population(tmp_path):
    from typer.testing import CliRunner

    from marldyn.cli import app

    path = tmp_path / "typed.toml"
    path.write_text(
        '[graph]\nkind = "lattice"\nn = 100\n[learning]\nalpha = 0.01\n'
        '[[agent_types]]\nname = "committed"\nfraction = 0.3\nfixed_policy = [[1.0, 0.0], [1.0, 0.0]]\n'
    )
    result = CliRunner().invoke(app, ["fixed-points", str(path), "--starts", "8"])
    assert result.exit_code == 0, result.output
    assert "2 classes" in result.output and "committed (degree 4, share 0.3)" in result.output
    assert "#0 stable" in result.output
    result = CliRunner().invoke(app, ["fixed-points", str(path), "--starts", "4", "--json"])
    assert result.exit_code == 0 and '"classes"' in result.output
