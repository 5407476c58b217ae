"""Plots: what is drawn (lines, bands, labels, legends) and that the comparison figure is written and opens."""

from __future__ import annotations

import matplotlib
import matplotlib.image
import numpy as np
import pytest
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import marldyn
from marldyn.errors import ConfigError
from marldyn.plots import plot_comparison, plot_policy, plot_state_fraction

TIMES = np.arange(0, 501, 50)


def make_dataset(method, runs=None, shift=0.0, time=TIMES):
    """A two-state, two-action dataset whose P(action 0) and state fractions move slowly in time."""
    time = np.asarray(time)
    first = np.stack([0.5 + 0.0006 * time, 0.5 - 0.0004 * time], axis=-1) + shift  # (time, state)
    policy = np.stack([first, 1.0 - first], axis=-1)  # (time, state, action)
    fraction = np.stack([0.5 + 0.0002 * time, 0.5 - 0.0002 * time], axis=-1)
    coords = {"time": time, "state": [0, 1], "action": [0, 1]}
    if runs is None:
        variables = {"policy": (("time", "state", "action"), policy), "state_fraction": (("time", "state"), fraction)}
    else:
        spread = np.linspace(-0.02, 0.02, runs)
        coords["run"] = np.arange(runs)
        variables = {
            "policy": (("run", "time", "state", "action"), policy[None] + spread[:, None, None, None]),
            "state_fraction": (("run", "time", "state"), fraction[None] + spread[:, None, None]),
        }
    return xr.Dataset(variables, coords=coords, attrs={"method": method})


@pytest.fixture
def datasets():
    return {
        "simulation": make_dataset("simulation", runs=4),
        "reduced": make_dataset("reduced", shift=0.01, time=np.linspace(0, 500, 101)),
        "sde": make_dataset("sde", runs=3, shift=-0.01),
    }


def test_plot_policy_draws_one_line_per_dataset_and_bands_for_the_simulation(datasets):
    ax = plot_policy(datasets, state=1, action=0)
    assert isinstance(ax, Axes)
    assert len(ax.get_lines()) == 3
    assert [line.get_label() for line in ax.get_lines()] == ["simulation", "reduced", "sde"]
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2  # ±1 std and min–max, for the simulation only
    simulation_line = ax.get_lines()[0]
    expected = datasets["simulation"]["policy"].mean("run").sel(state=1, action=0).values
    np.testing.assert_allclose(simulation_line.get_ydata(), expected)
    assert ax.get_lines()[1].get_linestyle() != ax.get_lines()[2].get_linestyle()
    assert ax.get_xlabel() == "time (steps)"
    assert ax.get_ylabel() == "P(action 0 in state 1)"
    legend_texts = [text.get_text() for text in ax.get_legend().get_texts()]
    assert {"simulation", "reduced", "sde"} <= set(legend_texts)


def test_plot_policy_on_given_axes_with_a_single_dataset_and_log_time(datasets):
    figure = Figure()
    given = figure.add_subplot()
    ax = plot_policy(datasets["reduced"], state=0, action=1, ax=given, log_time=True)
    assert ax is given
    (line,) = ax.get_lines()
    assert line.get_label() == "reduced"
    assert ax.get_xscale() == "log"
    assert np.all(line.get_xdata() > 0)  # time 0 cannot be shown on a log axis
    assert ax.get_ylabel() == "P(action 1 in state 0)"


def test_plot_policy_refuses_a_state_that_does_not_exist(datasets):
    with pytest.raises(ConfigError, match="state"):
        plot_policy(datasets, state=5)


def test_plot_state_fraction_lines_per_dataset_and_state_and_stationary_markers(datasets):
    stationary = {
        "reduced": [0.4, 0.6],
        "over time": xr.DataArray([[0.45, 0.55], [0.5, 0.5]], dims=("time", "state"), coords={"time": [100, 300]}),
    }
    ax = plot_state_fraction(datasets, stationary=stationary)
    lines = ax.get_lines()
    assert len(lines) == 3 * 2 + 2 * 2
    markers = [line for line in lines if line.get_linestyle() == "None"]
    assert len(markers) == 4
    assert markers[0].get_xdata().tolist() == [500.0]  # a fixed distribution is marked at the last time
    assert markers[2].get_xdata().tolist() == [100.0, 300.0]
    assert ax.get_xlabel() == "time (steps)"
    assert ax.get_ylabel() == "fraction of edges in state"
    assert ax.get_legend() is not None


def test_plot_comparison_writes_a_png_that_opens(tmp_path, datasets):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    simulation = datasets.pop("simulation")
    figure = plot_comparison(simulation, datasets, tmp_path / "comparison.png")
    assert isinstance(figure, Figure)
    assert plt.get_fignums() == open_before  # nothing registered with pyplot
    titled = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titled == ["edge states", "policy in state 0", "policy in state 1"]
    assert all(ax.get_legend() is not None for ax in figure.axes)
    path = tmp_path / "comparison.png"
    assert path.stat().st_size > 10_000
    image = matplotlib.image.imread(path)
    height, width = image.shape[:2]
    assert 300 < height < 3000
    assert width > 2 * height  # three panels side by side
    assert not list(tmp_path.glob(".*part"))  # no temporary files left behind


def test_plot_comparison_pdf_suffix_writes_pdf_and_png(tmp_path, datasets):
    simulation = datasets.pop("simulation")
    plot_comparison(simulation, datasets, tmp_path / "comparison.pdf")
    assert (tmp_path / "comparison.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "comparison.png").stat().st_size > 0
    with pytest.raises(ConfigError, match="suffix"):
        plot_comparison(simulation, datasets, tmp_path / "comparison.jpeg")


def test_plot_comparison_on_a_real_simulation(tmp_path):
    config = {"graph": {"n": 16}, "learning": {"alpha": 0.05}, "run": {"steps": 200, "runs": 3, "record_every": 20}}
    simulation = marldyn.simulate(config)
    stand_in = marldyn.simulate({**config, "run": {**config["run"], "seed": 1}}).mean("run")
    figure = plot_comparison(simulation, {"stand-in": stand_in.assign_attrs(method="reduced")}, tmp_path / "real")
    policy_axes = [ax for ax in figure.axes if ax.get_title().startswith("policy")]
    assert len(policy_axes) == 2
    assert all(len(ax.get_lines()) == 2 for ax in policy_axes)
    assert figure.axes[0].get_lines()[0].get_label() == "simulation (3 runs), state 0"
    assert matplotlib.image.imread(tmp_path / "real.png").shape[0] > 300
