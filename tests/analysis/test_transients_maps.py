"""Long transients, lifetimes and outcome maps (marldyn.analysis.transients, .maps, ._integrate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marldyn.analysis import (
    Axis,
    PointMassDynamics,
    confirm_with_simulation,
    confirmation_points,
    find_fixed_points,
    find_slow_points,
    integrate_reduced,
    lifetime_scan,
    outcome_codes,
    outcome_label,
    outcome_labels,
    outcome_map,
    plot_outcome_map,
    quasi_stationary_episodes,
)
from marldyn.analysis.transients import log_times
from marldyn.cli import main
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.theory.homogeneous import solve_reduced

PAPER_Q = np.array([[0.5, 0.0], [0.0, 0.5]])


@pytest.fixture(scope="module")
def dynamics():
    return PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)


def test_compiled_integrator_matches_solve_reduced(dynamics):
    rng = np.random.default_rng(3)
    starts = np.concatenate([PAPER_Q[None], rng.uniform(-2, 6, size=(3, 2, 2))])
    times = np.array([0.0, 500.0, 2e4, 2e5, 2e6])
    fast = integrate_reduced(starts, dynamics, times)
    for start, trajectory in zip(starts, fast, strict=True):
        reference = solve_reduced(start, dynamics.game, times, **dynamics.parameters())
        np.testing.assert_allclose(trajectory, reference.q, atol=2e-4)
    with pytest.raises(ConfigError):
        integrate_reduced(starts, dynamics, [10.0, 5.0])


def test_labels():
    policy = np.array([[[0.99, 0.01], [0.5, 0.5]], [[0.02, 0.98], [0.96, 0.04]]])
    codes = outcome_codes(policy, 0.95)
    np.testing.assert_array_equal(codes, [[0, -1], [1, 0]])
    labels = outcome_labels(2, 2, ["C", "D"])
    assert [labels[i] for i in outcome_label(codes, 2)] == ["C/mixed", "D/C"]
    assert len(set(labels)) == 9


def test_near_full_cooperation_is_a_long_transient_whose_end_is_predicted(dynamics):
    times = log_times(3e6, 40)
    trajectory = solve_reduced(PAPER_Q, dynamics.game, times, **dynamics.parameters())
    episodes = quasi_stationary_episodes(times, trajectory.q, dynamics)
    cooperative = next(e for e in episodes if e.label == "C/C")
    assert cooperative.classification == "slow"
    assert cooperative.duration > 1e5 and np.isfinite(cooperative.end)
    assert cooperative.predicted_end == pytest.approx(cooperative.end, rel=0.5)
    assert episodes[-1].label != "C/C"


def test_lifetime_grows_exponentially_with_beta_gap(dynamics):
    slow = find_slow_points(dynamics, starts=8)
    cooperative = next(p for p in slow if p.support[:, 0].all() and not p.support[:, 1].any())
    scan = lifetime_scan(dynamics, cooperative, [6.0, 8.0, 10.0], per_decade=60)
    measured, predicted = scan["measured"].values, scan["predicted"].values
    np.testing.assert_allclose(measured, predicted, rtol=0.4)
    slope = np.polyfit(scan["beta_gap"].values, np.log(measured), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.15)


def test_axis_parsing_and_application():
    axis = Axis.parse("advantage[1]=-1:1:3")
    np.testing.assert_allclose(axis.values, [-1, 0, 1])
    q = axis.apply(PAPER_Q, 2.0)
    assert axis.coordinate(q) == pytest.approx(2.0)
    np.testing.assert_allclose(q.mean(axis=1), PAPER_Q.mean(axis=1))
    entry = Axis.parse("q[0,1]=0.5,1.5")
    assert entry.apply(PAPER_Q, 1.5)[0, 1] == 1.5
    for bad in ("advantage[0]", "adv[0]=1:2:3", "q[0]=1", "advantage[0]=1:2:x"):
        with pytest.raises(ConfigError):
            Axis.parse(bad)
    with pytest.raises(ConfigError, match="states"):
        Axis.parse("advantage[5]=0,1").apply(PAPER_Q, 0.0)


@pytest.fixture(scope="module")
def small_map(dynamics):
    points = find_fixed_points(dynamics, starts=64, slow_points=False).fixed_points
    x, y = Axis.parse("advantage[0]=-3:3:7"), Axis.parse("advantage[1]=-3:3:3")
    return outcome_map(dynamics, PAPER_Q, x, y, horizons=[2e4, 2e7], fixed_points=points)


def test_outcome_map_separates_cooperation_from_the_mixed_policy(small_map):
    labels = json.loads(small_map.attrs["outcome_labels"])
    early = small_map["outcome"].sel(horizon=2e4)
    assert labels[int(early.isel({"advantage[0]": 0, "advantage[1]": 1}))] == "mixed/mixed"
    assert labels[int(early.isel({"advantage[0]": -1, "advantage[1]": 1}))] == "C/C"
    late = small_map["outcome"].sel(horizon=2e7).isel({"advantage[0]": -1, "advantage[1]": 1})
    assert labels[int(late)] == "C/mixed"  # near-full cooperation has decayed by 2e7 steps
    mixed = small_map.isel({"advantage[0]": 0}).sel(horizon=2e7)
    assert float(mixed["fixed_point_distance"].max()) < 1e-3
    assert small_map["policy"].dims == ("advantage[0]", "advantage[1]", "horizon", "state", "action")


def test_simulation_confirms_both_sides(small_map, tmp_path):
    points = confirmation_points(small_map, 2e4)
    assert len(points) == len(np.unique(small_map["outcome"].sel(horizon=2e4)))
    chosen = [p for p in points if abs(p["advantage[0]"]) >= 2]
    confirmations = confirm_with_simulation(
        {"graph": {"kind": "lattice", "n": 100}, "init": {"q": PAPER_Q.tolist(), "q_noise": 0.1}},
        small_map,
        chosen,
        horizons=[2e4],
        runs=1,
    )
    assert confirmations["agree"].all()
    merged = small_map.merge(confirmations)
    ax = plot_outcome_map(merged, 2e4, confirmations=confirmations)
    ax.figure.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0


def test_one_dimensional_map_and_plot(dynamics):
    x = Axis.parse("advantage[0]=-2:2:5")
    dataset = outcome_map(dynamics, PAPER_Q, x, horizons=[2e4])
    assert dataset["outcome"].dims == ("advantage[0]", "horizon")
    ax = plot_outcome_map(dataset, 2e4)
    assert ax.get_xlabel().startswith("initial advantage")
    with pytest.raises(ConfigError):
        outcome_map(dynamics, PAPER_Q, x, x, horizons=[10])
    with pytest.raises(ConfigError):
        outcome_map(dynamics, PAPER_Q, x, horizons=[-1])


def test_cli_fixed_points_and_basins(tmp_path, capsys):
    assert main(["fixed-points", "examples/pd_lattice.toml", "--starts", "16", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["fixed_points"][0]["stability"] == "stable"
    assert main(["fixed-points", "examples/pd_lattice.toml", "--starts", "16"]) == 0
    assert "stable" in capsys.readouterr().out
    out, figure = tmp_path / "map.nc", tmp_path / "map.png"
    arguments = ["basins", "examples/pd_lattice.toml", "--x", "advantage[0]=-2:2:3", "--y", "advantage[1]=-1:1:2"]
    arguments += ["--horizon", "2e4", "--horizon", "2e5", "--starts", "16", "-o", str(out), "--plot", str(figure)]
    assert main(arguments) == 0
    assert out.is_file() and figure.is_file()
    assert "t = 2e+04 steps" in capsys.readouterr().out
    assert main(arguments) == 2  # exists, no --overwrite
    assert main(["basins", "examples/pd_lattice.toml", "--x", "nonsense", "--horizon", "10"]) == 2
    assert "must look like" in capsys.readouterr().err
