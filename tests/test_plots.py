"""Plots: what is drawn (lines, bands, labels, legends), one band convention for every path, and that the
comparison and reproduction figures are written and open."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import matplotlib
import matplotlib.image
import numpy as np
import pytest
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

import marldyn
from marldyn import plots
from marldyn.compare import NOISE_FACTOR
from marldyn.errors import ConfigError
from marldyn.plots import plot_comparison, plot_policy, plot_state_fraction
from marldyn.reproduce.common import Reproduction, single_row_figure

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
    assert len(bands) == 2  # ±1 std and ±2 standard errors, for the simulation only
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


# ----------------------------------------------------------------------------------------------
# one band convention
# ----------------------------------------------------------------------------------------------
def noisy_simulation(runs=5, seed=0):
    """A simulation dataset whose runs differ by independent noise (so std and standard error differ)."""
    dataset = make_dataset("simulation", runs=runs)
    noise = np.random.default_rng(seed).normal(0.0, 0.03, size=dataset["policy"].shape[:3])
    first = np.clip(dataset["policy"].sel(action=0).values + noise, 0.0, 1.0)
    return dataset.assign(policy=(dataset["policy"].dims, np.stack([first, 1.0 - first], axis=-1)))


def bands_of(ax):
    """The filled ('std') and hatched ('sem') band collections of an axes, in drawing order."""
    collections = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return [c for c in collections if not c.get_hatch()], [c for c in collections if c.get_hatch()]


def band_edges(collection, n_times):
    """(time, lower edge, upper edge) of a fill_between band, from its polygon's vertices."""
    vertices = collection.get_paths()[0].vertices
    upper_start = n_times + 2  # fill_between: the start point, the lower edge, the end point, the upper edge reversed
    return (
        vertices[1 : n_times + 1, 0],
        vertices[1 : n_times + 1, 1],
        vertices[upper_start : upper_start + n_times, 1][::-1],
    )


def test_run_band_is_mean_plus_minus_one_std_and_two_standard_errors():
    series = np.random.default_rng(1).normal(size=(6, 9))
    mean, low, high = plots.run_band(series, "std")
    np.testing.assert_allclose(mean, series.mean(axis=0))
    np.testing.assert_allclose(high - mean, series.std(axis=0, ddof=1))
    np.testing.assert_allclose(mean - low, series.std(axis=0, ddof=1))
    _, low, high = plots.run_band(series, "sem")
    np.testing.assert_allclose(high - low, 2 * NOISE_FACTOR * series.std(axis=0, ddof=1) / math.sqrt(6))
    with pytest.raises(ConfigError, match="two runs"):
        plots.run_band(series[:1])
    with pytest.raises(ConfigError, match="kind"):
        plots.run_band(series, "minmax")


def test_compare_plot_and_reproduce_panels_shade_the_same_band_for_the_same_data():
    """``marldyn compare --plot`` (plot_comparison -> plot_policy) and the reproductions (plot_components and
    sweep_panels -> plot_series) draw the same ±1 std band: identical polygon vertices."""
    simulation = noisy_simulation()
    n_times = simulation.sizes["time"]
    figure = plot_comparison(simulation, {"reduced": make_dataset("reduced", shift=0.01)})
    compare_ax = next(ax for ax in figure.axes if ax.get_title() == "policy in state 1")
    (compare_std,), (compare_sem,) = bands_of(compare_ax)
    components_ax = plots.plot_components({"simulation": simulation}, "policy", [{"state": 1, "action": 0}], ["s2"])
    (reproduce_std,), no_sem = bands_of(components_ax)
    assert not no_sem  # the reproductions shade the ±1 std band only
    result = SimpleNamespace(simulation=simulation, theories={}, case=SimpleNamespace(label="case"))
    _, sweep_axes = plots.new_figure(1, 2)
    plots.sweep_panels(
        sweep_axes[0], [result], [], components=plots.cooperation_components(), titles=["a", "b"], ylabel="P"
    )
    (sweep_std,), _ = bands_of(sweep_axes[0, 1])
    expected = plots.run_band(simulation["policy"].sel(state=1, action=0).transpose("run", "time").values, "std")
    for collection in (compare_std, reproduce_std, sweep_std):
        np.testing.assert_array_equal(collection.get_paths()[0].vertices, compare_std.get_paths()[0].vertices)
        time, low, high = band_edges(collection, n_times)
        np.testing.assert_allclose(time, TIMES)
        np.testing.assert_allclose(low, expected[1])
        np.testing.assert_allclose(high, expected[2])
    _, low, high = band_edges(compare_sem, n_times)
    std = simulation["policy"].sel(state=1, action=0).std("run", ddof=1).values
    np.testing.assert_allclose(high - low, 2 * NOISE_FACTOR * std / math.sqrt(simulation.sizes["run"]))
    labels = [text.get_text() for text in compare_ax.get_legend().get_texts()]
    assert "simulation (5 runs): ±1 std over runs" in labels
    assert f"simulation (5 runs): ±{NOISE_FACTOR:g} s.e. of the run-mean" in labels


def test_plot_run_band_alone_matches_the_band_of_a_series():
    simulation = noisy_simulation()
    values = simulation["policy"].sel(state=0, action=0)
    for kind in plots.BANDS:
        alone = plots.plot_run_band(values, kind=kind, color="C3", label=kind)
        series_ax = plots.plot_series(simulation, "policy", state=0, action=0, bands=(kind,))
        (collection,) = alone.collections
        np.testing.assert_array_equal(
            collection.get_paths()[0].vertices, series_ax.collections[0].get_paths()[0].vertices
        )
        assert collection.get_label() == kind
    assert not plots.plot_series(make_dataset("reduced"), "policy", state=0, action=0).collections  # theory: no band
    assert not plots.plot_series(simulation.isel(run=[0]), "policy", state=0, action=0).collections  # one run


# ----------------------------------------------------------------------------------------------
# every moved function takes ax= and returns it
# ----------------------------------------------------------------------------------------------
def test_plot_series_takes_ax_and_returns_it_with_its_styles():
    simulation, theory = make_dataset("simulation", runs=3), make_dataset("reduced")
    given = Figure().add_subplot()
    assert plots.plot_series(simulation, "state_fraction", ax=given, state=0, label="s1") is given
    assert plots.plot_series(theory, "state_fraction", ax=given, state=0, color="C2", linestyle=":") is given
    simulated, predicted = given.get_lines()
    assert (simulated.get_linestyle(), simulated.get_linewidth(), simulated.get_label()) == ("-", 1.8, "s1")
    assert (predicted.get_linestyle(), predicted.get_linewidth(), predicted.get_color()) == (":", 1.6, "C2")
    assert len(given.collections) == 1
    scaled = plots.plot_series(theory, "policy", state=0, action=0, time_scale=0.01, log_time=True)
    np.testing.assert_allclose(scaled.get_lines()[0].get_xdata(), TIMES[1:] * 0.01)  # t = 0 left out
    with pytest.raises(ConfigError, match="no 'q'"):
        plots.plot_series(theory, "q", state=0, action=0)


def test_plot_components_style_axes_and_style_legend_take_ax_and_return_it():
    datasets = {"simulation": make_dataset("simulation", runs=3), "reduced": make_dataset("reduced")}
    given = Figure().add_subplot()
    components = [{"state": 0}, {"state": 1}]
    ax = plots.plot_components(datasets, "state_fraction", components, ["s1", "s2"], ax=given, legend_loc="below")
    assert ax is given
    assert len(ax.get_lines()) == 4 and len(ax.collections) == 2  # 2 datasets x 2 components, a band each
    assert [line.get_color() for line in ax.get_lines()] == ["C0", "C0", "C1", "C1"]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["s1", "s2", "simulation: run-mean", "simulation: ±1 std over runs", "theory: reduced"]
    assert plots.style_axes(ax=given, title="(a)", ylabel="fraction", log_time="symlog", legend=False) is given
    assert (given.get_title(), given.get_xlabel(), given.get_xscale()) == ("(a)", "time (steps)", "symlog")
    assert plots.style_legend(given, ["reduced", "full"], simulation=False) is given
    assert [t.get_text() for t in given.get_legend().get_texts()] == ["theory: reduced", "theory: full"]
    made = plots.plot_components({"reduced": datasets["reduced"]}, "policy", [{"state": 0, "action": 0}], ["C"])
    assert isinstance(made, Axes) and len(made.get_lines()) == 1


def test_sweep_panels_and_pd_row_draw_one_colour_per_case_and_return_the_axes():
    cases = [
        SimpleNamespace(
            simulation=make_dataset("simulation", runs=3, shift=shift),
            theories={"reduced": make_dataset("reduced", shift=shift), "sde": make_dataset("sde", runs=2, shift=shift)},
            case=SimpleNamespace(label=f"case {index}", varied={"alpha": 0.1}),
        )
        for index, shift in enumerate((0.0, 0.05))
    ]
    _, axes = plots.new_figure(1, 3)
    row = axes[0]
    assert plots.pd_row(row, cases, ["reduced", "sde"], prefix="x: ", time_scale=lambda r: 0.1) is row
    assert [ax.get_title() for ax in axes[0]] == [
        "(a) x: edge states",
        "(b) x: cooperation in s1",
        "(c) x: cooperation in s2",
    ]
    for ax in axes[0]:
        assert len(ax.get_lines()) == 2 * 3  # per case: simulation, reduced, sde
        assert len(ax.collections) == 2  # the simulations' ±1 std bands (not the sde ensemble's)
        assert ax.get_xlabel() == "learning time α·t (t in steps)"
        assert ax.get_lines()[0].get_xdata()[-1] == pytest.approx(TIMES[-1] * 0.1)
    assert axes[0, 0].get_legend() is not None and axes[0, 1].get_legend() is None
    legend = [text.get_text() for text in axes[0, 0].get_legend().get_texts()]
    assert legend[:2] == ["case 0", "case 1"] and "theory: sde" in legend


def test_plot_stationary_marks_takes_ax_and_returns_it():
    theory = make_dataset("reduced", time=np.arange(0, 500, 5))
    given = Figure().add_subplot()
    ax = plots.plot_stationary_marks(theory, ax=given, colours=("C0", "C3"), count=10, label="stationary")
    assert ax is given
    first, second = ax.get_lines()
    assert first.get_linestyle() == "None" and first.get_marker() == "o"
    assert first.get_xdata().size == 10 and first.get_markeredgecolor() == "C0"
    assert (first.get_label(), second.get_label().startswith("_")) == ("stationary", True)


def outcome_map_dataset():
    """A small synthetic 2-D outcome map in the layout of :func:`marldyn.analysis.outcome_map`."""
    x, y, horizons = np.linspace(-2, 2, 5), np.linspace(-1, 1, 3), np.array([100.0, 1000.0])
    outcome = (x[:, None, None] > 0).astype(int) + np.zeros((5, 3, 2), dtype=int)
    policy = np.full((5, 3, 2, 2, 2), 0.5)
    return xr.Dataset(
        {
            "outcome": (("advantage[0]", "q[1,0]", "horizon"), outcome),
            "policy": (("advantage[0]", "q[1,0]", "horizon", "state", "action"), policy),
            "fixed_point_q": (("fixed_point", "state", "action"), np.array([[[1.0, 0.0], [0.5, 0.0]]])),
            "fixed_point_stability": (("fixed_point",), np.array(["stable"])),
        },
        coords={"advantage[0]": x, "q[1,0]": y, "horizon": horizons, "state": [0, 1], "action": [0, 1]},
        attrs={"outcome_labels": json.dumps(["D/D", "C/D"]), "axes": json.dumps(["advantage[0]", "q[1,0]"])},
    )


def test_plot_outcome_map_takes_ax_and_returns_it_and_the_figure_has_a_panel_per_horizon(tmp_path):
    from marldyn.analysis import plot_outcome_map as exported

    assert exported is plots.plot_outcome_map  # marldyn.analysis re-exports the plots function
    dataset = outcome_map_dataset()
    given = Figure().add_subplot()
    ax = plots.plot_outcome_map(dataset, 100.0, ax=given)
    assert ax is given
    assert ax.get_xlabel() == "initial advantage Q(s0, 0) - Q(s0, 1)" and ax.get_ylabel() == "initial Q(s1, 0)"
    (marker,) = ax.get_lines()  # the fixed point, at its coordinates on the map's axes
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (1.0, 0.5)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["D/D", "C/D", "fixed point 0 (stable)"]
    figure = plots.outcome_map_figure(dataset, path=tmp_path / "maps.png")
    assert [a.get_title() for a in figure.axes] == [
        "reduced theory at t = 100 steps",
        "reduced theory at t = 1e+03 steps",
    ]
    assert matplotlib.image.imread(tmp_path / "maps.png").shape[1] > 1000


def test_plot_phase_diagram_takes_ax_and_returns_it_with_an_overlay():
    from marldyn.analysis import plot_phase_diagram as exported

    assert exported is plots.plot_phase_diagram
    values = np.linspace(0, 1, 12).reshape(3, 4)
    overlay = np.full((3, 4), np.nan)
    overlay[::2, ::2] = 0.5
    sweep = xr.Dataset(
        {"theory_reduced_policy": (("gamma", "b"), values), "simulate_policy": (("gamma", "b"), overlay)},
        coords={"gamma": [0.5, 0.7, 0.9], "b": [1.0, 2.0, 3.0, 4.0]},
    )
    given = Figure().add_subplot()
    ax = plots.plot_phase_diagram(sweep, "theory_reduced_policy", x="b", y="gamma", overlay="simulate_policy", ax=given)
    assert ax is given
    (cells, circles) = ax.collections
    assert len(circles.get_offsets()) == 4  # the points where the overlay is defined
    assert (ax.get_xlabel(), ax.get_ylabel(), len(ax.figure.axes)) == ("b", "gamma", 2)  # and the colour bar
    with pytest.raises(ConfigError, match="no variable"):
        plots.plot_phase_diagram(sweep, "theory_full_policy", x="b", y="gamma")


def test_the_reproduction_figure_path_writes_png_and_pdf(tmp_path):
    """single_row_figure (si-beta, si-transition) draws through plots and saves through plots.save_figure."""
    cases = [
        SimpleNamespace(
            simulation=make_dataset("simulation", runs=3, shift=shift),
            theories={"reduced": make_dataset("reduced", shift=shift)},
            case=SimpleNamespace(label=f"β = {index}", config=SimpleNamespace(run=SimpleNamespace(steps=500))),
        )
        for index, shift in enumerate((0.0, 0.05))
    ]
    job = Reproduction("synthetic", "a synthetic reproduction", tmp_path, provenance=None)
    summary = single_row_figure(job, cases, [SimpleNamespace(name="reduced")], "Synthetic figure")
    assert summary["figures"] == ["synthetic.png", "synthetic.pdf"]
    image = matplotlib.image.imread(tmp_path / "synthetic.png")
    assert image.shape[1] > 1000 and np.std(image[..., :3]) > 0.05
    assert (tmp_path / "synthetic.pdf").read_bytes().startswith(b"%PDF")
    assert not list(tmp_path.glob(".*part"))
    assert any("final cooperation" in note for note in summary["notes"])
