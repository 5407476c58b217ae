"""All of marldyn's drawing (matplotlib, no global state): time series, comparison figures, the reproductions'
panels, outcome maps and phase diagrams.

Every plotting function takes ``ax=None`` and returns the axes it drew on (the figure-level functions
:func:`plot_comparison` and :func:`outcome_map_figure` return the figure, :func:`new_figure` a figure and its
axes). With ``ax=None`` a new :class:`matplotlib.figure.Figure` is made directly (not through ``pyplot``), so
nothing here changes the pyplot state, picks a backend or opens a window; show a returned axes' figure with
``ax.figure`` as a notebook cell's last line (once pyplot's inline backend is active, e.g. after
``%matplotlib inline``) or save it with :func:`save_figure`. Computing what to draw (running simulations
and theories, choosing panels) is the callers' business (:mod:`marldyn.reproduce`, :mod:`marldyn.analysis`,
the command line).

Datasets are recognised by their ``method`` attribute: ``"simulation"`` datasets are drawn as the run-mean
(solid) with bands, every other dataset is theory, drawn as a line (its run-mean if it has runs, e.g. an SDE
ensemble), each in its own colour or line style.

Band convention (every path draws its bands through :func:`run_band`, so the same data give the same band):

- ``"std"``: the run-mean ± 1 standard deviation across runs (``ddof=1``), filled: how far one run spreads
  around the mean, what a single simulation can be expected to do. Drawn for every simulation with two or more
  runs, everywhere (the reproductions' figures, ``marldyn compare --plot``).
- ``"sem"``: the run-mean ± :data:`~marldyn.compare.NOISE_FACTOR` (= 2) standard errors of the mean,
  std(ddof=1) / sqrt(runs), hatched: where the mean itself is known to be, the band within which
  :func:`marldyn.compare.compare` calls a theory "within noise". Drawn in addition by the comparison plots
  (:func:`plot_policy`, :func:`plot_state_fraction`, :func:`plot_comparison`); with few runs (fewer than
  five) it is wider than the ``"std"`` band.

Legends name the bands (:data:`BAND_LABELS`).
"""

from __future__ import annotations

import json
import math
from itertools import cycle
from pathlib import Path

import numpy as np
import xarray as xr

from .compare import NOISE_FACTOR
from .errors import ConfigError, did_you_mean

__all__ = [
    "BANDS",
    "BAND_LABELS",
    "cooperation_components",
    "new_figure",
    "outcome_map_figure",
    "pd_row",
    "plot_comparison",
    "plot_components",
    "plot_outcome_map",
    "plot_phase_diagram",
    "plot_sweep_curve",
    "plot_policy",
    "plot_run_band",
    "plot_series",
    "plot_state_fraction",
    "plot_stationary_marks",
    "run_band",
    "save_figure",
    "style_axes",
    "style_legend",
    "sweep_panels",
]

TIME_LABEL = "time (steps)"
#: Dash styles of theories, in order.
THEORY_STYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 1)))
SIMULATION_COLOUR = "0.2"
SIMULATION_STYLE = {"linestyle": "-", "linewidth": 1.8}
THEORY_STYLE = {"linestyle": "--", "linewidth": 1.6}
#: The band kinds (see the module docstring), and their legend texts.
BANDS = ("std", "sem")
BAND_LABELS = {"std": "±1 std over runs", "sem": f"±{NOISE_FACTOR:g} s.e. of the run-mean"}
BAND_ALPHA = 0.25
SEM_HATCH = "////"
SEM_ALPHA = 0.6
SAVE_FORMATS = ("png", "pdf", "svg")
_STABILITY_MARKERS = {"stable": "o", "saddle": "X", "unstable": "s", "marginal": "D"}


# ----------------------------------------------------------------------------------------------
# bands and single series
# ----------------------------------------------------------------------------------------------
def run_band(series, kind: str = "std") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run-mean and the lower and upper edges of a band across runs (the one band rule of this module).

    Parameters
    ----------
    series : array_like, shape (run, time)
        One component over time, per run (at least two runs).
    kind : {"std", "sem"}
        ``"std"``: mean ± 1 standard deviation across runs (``ddof=1``); ``"sem"``: mean ±
        :data:`~marldyn.compare.NOISE_FACTOR` standard errors of the mean, std(ddof=1) / sqrt(runs).

    Returns
    -------
    mean, low, high : ndarray, shape (time,)

    Examples
    --------
    >>> mean, low, high = run_band([[0.0, 1.0], [2.0, 3.0]])
    >>> mean.tolist(), low.round(3).tolist(), high.round(3).tolist()
    ([1.0, 2.0], [-0.414, 0.586], [2.414, 3.414])
    >>> run_band([[0.0, 1.0], [2.0, 3.0]], "sem")[2].round(3).tolist()
    [3.0, 4.0]
    """
    if kind not in BANDS:
        raise ConfigError(f"band kind {kind!r} must be one of {', '.join(BANDS)}")
    series = np.asarray(series, dtype=np.float64)
    if series.ndim != 2 or series.shape[0] < 2:
        raise ConfigError(f"a band needs values of shape (run, time) with at least two runs, got {series.shape}")
    mean = series.mean(axis=0)
    half = series.std(axis=0, ddof=1)
    if kind == "sem":
        half = NOISE_FACTOR * half / math.sqrt(series.shape[0])
    return mean, mean - half, mean + half


def plot_run_band(
    values: xr.DataArray,
    *,
    kind: str = "std",
    ax=None,
    color=None,
    label: str | None = None,
    time_scale: float = 1.0,
    log_time: bool | str = False,
):
    """Shade the band of one component across runs (see :func:`run_band`), without the mean line.

    Parameters
    ----------
    values : xarray.DataArray
        Dimensions (run, time) with at least two runs; ``time`` in steps.
    kind : {"std", "sem"}
        Filled (``"std"``) or hatched (``"sem"``); see the module docstring.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    color : matplotlib colour, optional
        Default: the simulation's dark grey.
    label : str, optional
        Legend entry of the band.
    time_scale : float
        Multiply the time axis by this (e.g. alpha for a learning-time axis).
    log_time : bool or "symlog"
        True leaves out t <= 0 (for a logarithmic time axis).

    Returns
    -------
    matplotlib.axes.Axes
        With one more :class:`~matplotlib.collections.PolyCollection`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> runs = np.random.default_rng(0).normal(0.5, 0.05, size=(4, 11))
    >>> values = xr.DataArray(runs, dims=("run", "time"), coords={"time": np.arange(0, 110, 10)})
    >>> ax = plot_run_band(values, kind="sem", label="±2 s.e.")
    >>> len(ax.collections), ax.collections[0].get_label()
    (1, '±2 s.e.')
    """
    ax = _axes(ax)
    time, series = _time_and_series(values, time_scale, log_time)
    _fill_band(ax, time, series, kind, color=SIMULATION_COLOUR if color is None else color, label=label)
    return ax


def plot_series(
    dataset: xr.Dataset,
    variable: str,
    *,
    ax=None,
    color=None,
    linestyle=None,
    label: str | None = None,
    time_scale: float = 1.0,
    log_time: bool | str = False,
    bands=None,
    **select,
):
    """One component of one dataset over time: a simulation as its run-mean with bands, a theory as a line.

    Parameters
    ----------
    dataset : xarray.Dataset
        A simulation (``method == "simulation"``) or a theory (a theory with runs, e.g. an SDE ensemble, is
        drawn as its run-mean).
    variable : str
        ``policy``, ``q``, ``q_std`` or ``state_fraction``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    color, linestyle, label
        Line style (defaults: solid, width 1.8, for simulations; dashed, width 1.6, for theories).
    time_scale : float
        Multiply the time axis by this (e.g. alpha for a learning-time axis).
    log_time : bool or "symlog"
        True leaves out t = 0 (for a logarithmic time axis); ``"symlog"`` keeps it (for a symmetric-log axis,
        linear below one step).
    bands : sequence of {"std", "sem"}, optional
        The bands to shade when there are two or more runs (default: ``("std",)`` for simulations, none for
        theories).
    **select
        Coordinates of the component, e.g. ``state=0, action=0``.

    Returns
    -------
    matplotlib.axes.Axes
        With one more line (and one collection per band).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> runs = np.random.default_rng(0).uniform(0.4, 0.6, size=(3, 5, 2))
    >>> simulation = xr.Dataset(
    ...     {"state_fraction": (("run", "time", "state"), runs)},
    ...     coords={"time": [0, 10, 20, 30, 40], "state": [0, 1]},
    ...     attrs={"method": "simulation"},
    ... )
    >>> ax = plot_series(simulation, "state_fraction", state=0, label="edges in s1")
    >>> len(ax.get_lines()), len(ax.collections)
    (1, 1)
    """
    ax = _axes(ax)
    values = _select(dataset, variable, label=str(dataset.attrs.get("method", "dataset")), **select)
    style = dict(SIMULATION_STYLE if _is_simulation(dataset) else THEORY_STYLE)
    if linestyle is not None:
        style["linestyle"] = linestyle
    if color is not None:
        style["color"] = color
    if bands is None:
        bands = ("std",) if _is_simulation(dataset) else ()
    _line(ax, values, label=label, style=style, time_scale=time_scale, log_time=log_time, bands=bands)
    return ax


# ----------------------------------------------------------------------------------------------
# comparison figures (marldyn compare --plot)
# ----------------------------------------------------------------------------------------------
def plot_policy(datasets, *, state, action=0, ax=None, log_time: bool = False, bands=BANDS):
    """The probability of one action in one state over time, for simulations and theories.

    Parameters
    ----------
    datasets : dict of str to xarray.Dataset, or xarray.Dataset
        Datasets with ``policy`` (run, time, state, action) or (time, state, action), keyed by legend label;
        a single dataset is labelled by its ``method`` attribute.
    state, action : coordinate values
        The state and the action whose probability X(s, a) is drawn (selected by coordinate value).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    log_time : bool
        Logarithmic time axis (times <= 0 are left out).
    bands : sequence of {"std", "sem"}
        The bands of simulations (default both; see the module docstring).

    Returns
    -------
    matplotlib.axes.Axes
        One line per dataset (the run-mean for simulations), with the bands of simulations as filled or
        hatched areas (legend entries ``"<label>: ±1 std over runs"`` and ``"<label>: ±2 s.e. of the
        run-mean"``), a legend, and labelled axes.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> first = np.random.default_rng(0).uniform(0.4, 0.6, size=(4, 6, 2))
    >>> policy = np.stack([first, 1.0 - first], axis=-1)  # (run, time, state, action)
    >>> coords = {"time": np.arange(0, 60, 10), "state": [0, 1], "action": [0, 1]}
    >>> simulation = xr.Dataset(
    ...     {"policy": (("run", "time", "state", "action"), policy)}, coords=coords, attrs={"method": "simulation"}
    ... )
    >>> theory = simulation.mean("run").assign_attrs(method="reduced")
    >>> ax = plot_policy({"simulation": simulation, "reduced": theory}, state=0)
    >>> [line.get_label() for line in ax.get_lines()], len(ax.collections)
    (['simulation', 'reduced'], 2)
    """
    datasets = _as_mapping(datasets)
    ax = _axes(ax)
    styles = _styles(datasets)
    for label, dataset in datasets.items():
        values = _select(dataset, "policy", state=state, action=action, label=label)
        simulated = _is_simulation(dataset)
        _line(
            ax,
            values,
            label=label,
            style=styles[label],
            log_time=log_time,
            bands=bands if simulated else (),
            band_label=label if simulated else None,
        )
    _finish(ax, f"P(action {action} in state {state})", log_time)
    ax.set_ylim(*_probability_limits(ax))
    ax.legend(fontsize="small")
    return ax


def plot_state_fraction(datasets, *, ax=None, log_time: bool = False, stationary=None, bands=BANDS):
    """The fraction of edges in each state over time, for simulations and theories.

    Colours distinguish states; line styles distinguish datasets (solid with bands for simulations).

    Parameters
    ----------
    datasets : dict of str to xarray.Dataset, or xarray.Dataset
        Datasets with ``state_fraction`` (run, time, state) or (time, state), keyed by legend label.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    log_time : bool
        Logarithmic time axis (times <= 0 are left out).
    stationary : array_like of shape (state,), xarray.DataArray, or dict of str to those, optional
        Stationary edge-state distributions from theory, drawn as markers in each state's colour: an array of
        shape (state,) is marked at the last plotted time; a DataArray with dims (time, state) at its own
        times. A dict gives several, keyed by legend label (each with its own marker shape).
    bands : sequence of {"std", "sem"}
        The bands of simulations (default both; see the module docstring).

    Returns
    -------
    matplotlib.axes.Axes
        One line per dataset and state (plus one marker line per stationary distribution and state), a
        legend, and labelled axes.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> fraction = np.random.default_rng(0).uniform(0.4, 0.6, size=(6, 2))
    >>> theory = xr.Dataset(
    ...     {"state_fraction": (("time", "state"), fraction)},
    ...     coords={"time": np.arange(0, 60, 10), "state": [0, 1]},
    ...     attrs={"method": "reduced"},
    ... )
    >>> ax = plot_state_fraction(theory, stationary=[0.5, 0.5])
    >>> len(ax.get_lines())  # two states, and a marker for each
    4
    """
    datasets = _as_mapping(datasets)
    ax = _axes(ax)
    styles = _styles(datasets)
    states = _states(datasets, "state_fraction")
    colours = _state_colours(states)
    for label, dataset in datasets.items():
        for state in states:
            values = _select(dataset, "state_fraction", state=state, label=label)
            style = dict(styles[label], color=colours[state])
            shaded = bands if _is_simulation(dataset) else ()
            _line(ax, values, label=f"{label}, state {state}", style=style, log_time=log_time, bands=shaded)
    if stationary is not None:
        _draw_stationary(ax, stationary, states, colours, datasets, log_time)
    _finish(ax, "fraction of edges in state", log_time)
    ax.set_ylim(*_probability_limits(ax))
    ax.legend(fontsize="small", ncols=2 if len(ax.get_legend_handles_labels()[1]) > 4 else 1)
    return ax


def plot_comparison(simulation: xr.Dataset, theory_datasets: dict, path=None, *, log_time: bool = False, bands=BANDS):
    """A multi-panel figure of a simulation against theories: edge-state fractions and the policy per state.

    Panels: the fraction of edges per state, then the probability of each action in each state (with two
    actions only the first, since the second is its complement). The simulation is drawn with its bands
    (± 1 std over runs, filled, and ± 2 standard errors of the run-mean, hatched: the band of
    :func:`marldyn.compare.compare`'s "within noise"), each theory as a line; one legend per panel;
    ``constrained_layout`` keeps labels apart.

    Parameters
    ----------
    simulation : xarray.Dataset
        A simulation dataset (``policy`` (run, time, state, action), ``state_fraction`` (run, time, state)).
    theory_datasets : dict of str to xarray.Dataset
        Theory datasets keyed by legend label (may be empty).
    path : str or pathlib.Path, optional
        If given, the figure is saved there as PNG (``path`` with suffix ``.png``) and, if the suffix is
        ``.pdf`` or ``.svg``, in that format too. Files are written to a temporary name and renamed.
    log_time : bool
        Logarithmic time axes.
    bands : sequence of {"std", "sem"}
        The simulation's bands (default both).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with pyplot).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> first = rng.uniform(0.4, 0.6, size=(4, 6, 2))
    >>> coords = {"time": np.arange(0, 60, 10), "state": [0, 1], "action": [0, 1]}
    >>> simulation = xr.Dataset(
    ...     {
    ...         "policy": (("run", "time", "state", "action"), np.stack([first, 1.0 - first], axis=-1)),
    ...         "state_fraction": (("run", "time", "state"), rng.uniform(0.4, 0.6, size=(4, 6, 2))),
    ...     },
    ...     coords=coords,
    ...     attrs={"method": "simulation"},
    ... )
    >>> figure = plot_comparison(simulation, {"reduced": simulation.mean("run").assign_attrs(method="reduced")})
    >>> [ax.get_title() for ax in figure.axes]
    ['edge states', 'policy in state 0', 'policy in state 1']
    """
    if not isinstance(theory_datasets, dict):
        raise ConfigError(f"theory_datasets must be a dict of label to Dataset, got {type(theory_datasets).__name__}")
    label = _simulation_label(simulation)
    if label in theory_datasets:
        raise ConfigError(f"theory label '{label}' is taken by the simulation; choose another")
    datasets = _as_mapping({label: simulation, **theory_datasets})
    states = _states(datasets, "policy")
    actions = list(simulation["action"].values)
    shown_actions = actions[:1] if len(actions) == 2 else actions
    # Two actions: the fraction panel then one panel per state, three to a row. More actions: the fraction
    # panel across the first row, then one row per state and one column per action.
    if len(shown_actions) == 1:
        columns = min(3, 1 + len(states))
        rows = -(-(1 + len(states)) // columns)
        places = [(index // columns, index % columns) for index in range(1 + len(states))]
    else:
        columns, rows = len(shown_actions), 1 + len(states)
        places = [(0, slice(None))] + [(1 + s, a) for s in range(len(states)) for a in range(columns)]
    figure = _figure(figsize=(4.6 * columns, 3.6 * rows + 0.5))
    grid = figure.add_gridspec(rows, columns)
    fraction_ax, *policy_axes = [figure.add_subplot(grid[place]) for place in places]
    with_fraction = {key: dataset for key, dataset in datasets.items() if "state_fraction" in dataset}
    if label in with_fraction:
        plot_state_fraction(with_fraction, ax=fraction_ax, log_time=log_time, bands=bands)
        fraction_ax.set_title("edge states")
        _legend_below(fraction_ax)
    else:
        fraction_ax.text(0.5, 0.5, "the simulation has no state_fraction", ha="center", va="center")
        fraction_ax.set_axis_off()
    pairs = [(state, action) for state in states for action in shown_actions]
    for ax, (state, action) in zip(policy_axes, pairs, strict=True):
        plot_policy(datasets, state=state, action=action, ax=ax, log_time=log_time, bands=bands)
        ax.set_title(f"policy in state {state}" + (f", action {action}" if len(shown_actions) > 1 else ""))
        _legend_below(ax)
    figure.suptitle(_suptitle(simulation, theory_datasets))
    if path is not None:
        save_figure(figure, Path(path))
    return figure


# ----------------------------------------------------------------------------------------------
# the reproductions' panels (marldyn.reproduce)
# ----------------------------------------------------------------------------------------------
def new_figure(rows: int, columns: int, *, width: float = 4.3, height: float = 3.3, sharex: bool = False):
    """A constrained-layout :class:`~matplotlib.figure.Figure` (not registered with pyplot) and its axes grid.

    Parameters
    ----------
    rows, columns : int
        The grid of panels.
    width, height : float
        Inches per panel.
    sharex : bool
        Share the x axis between panels.

    Returns
    -------
    figure : matplotlib.figure.Figure
    axes : ndarray of matplotlib.axes.Axes, shape (rows, columns)

    Examples
    --------
    >>> figure, axes = new_figure(2, 3)
    >>> axes.shape, figure.get_size_inches().round(1).tolist()
    ((2, 3), [12.9, 6.6])
    """
    figure = _figure(figsize=(width * columns, height * rows))
    axes = figure.subplots(rows, columns, squeeze=False, sharex=sharex)
    return figure, axes


def style_axes(
    ax,
    *,
    title: str,
    ylabel: str,
    log_time: bool | str = False,
    xlabel: str = TIME_LABEL,
    probability: bool = True,
    legend: bool = True,
):
    """Title, labels, grid, compact time ticks, probability limits and a legend for one panel.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel to finish.
    title, ylabel, xlabel : str
    log_time : bool or "symlog"
        False (linear time, engineering tick labels), True (logarithmic) or ``"symlog"`` (linear below one
        step, so t = 0 shows, logarithmic above).
    probability : bool
        Clip the y limits to [-0.02, 1.02].
    legend : bool
        Add a legend of the labelled artists (if any).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> _ = ax.plot([0, 10_000], [0.2, 0.8])
    >>> style_axes(ax, title="(a) cooperation", ylabel="P(cooperate)", legend=False).get_xlabel()
    'time (steps)'
    """
    from matplotlib.ticker import EngFormatter, MaxNLocator

    ax.set_title(title, fontsize="medium")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_time == "symlog":
        ax.set_xscale("symlog", linthresh=1.0, linscale=0.4)
        ax.set_xlim(left=0.0)
    elif log_time:
        ax.set_xscale("log")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    if probability:
        ax.set_ylim(*_probability_limits(ax))
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize="x-small")
    return ax


def style_legend(ax, theory_labels, *, simulation: bool = True, loc="best", dashes=None, **entries):
    """A legend of line styles: the simulation (solid, its ±1 std band) and one dash style per theory label.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The panel; artists already drawn with a label come first in the legend.
    theory_labels : sequence of str
        One entry ``"theory: <label>"`` per label, in the dash styles ``dashes``.
    simulation : bool
        Add the entries of the simulation's run-mean and band.
    loc : str
        A matplotlib location, or ``"below"`` the axes (the constrained layout makes room), where the legend
        cannot hide data.
    dashes : sequence, optional
        The theories' dash styles (default :data:`THEORY_STYLES`).
    **entries
        Coloured entries, label -> colour (e.g. one per case of a sweep, or per component).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = style_legend(Figure().add_subplot(), ["reduced"], **{"γ = 0.8": "C0"})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['γ = 0.8', 'simulation: run-mean', 'simulation: ±1 std over runs', 'theory: reduced']
    """
    from matplotlib.lines import Line2D

    handles, _ = ax.get_legend_handles_labels()  # artists drawn with a label come first
    handles += [Line2D([], [], color=colour, lw=2.5, label=label) for label, colour in entries.items()]
    if simulation:
        handles.append(Line2D([], [], color=SIMULATION_COLOUR, label="simulation: run-mean", **SIMULATION_STYLE))
        handles.append(_band_patch("std", SIMULATION_COLOUR, f"simulation: {BAND_LABELS['std']}"))
    for label, style in zip(theory_labels, dashes or THEORY_STYLES, strict=False):
        handles.append(Line2D([], [], color=SIMULATION_COLOUR, linestyle=style, lw=1.6, label=f"theory: {label}"))
    if loc == "below":
        ax.legend(handles=handles, fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    else:
        ax.legend(handles=handles, fontsize="x-small", loc=loc)
    return ax


def plot_components(
    datasets: dict,
    variable: str,
    components: list[dict],
    names: list[str],
    *,
    ax=None,
    colours=None,
    dashes=None,
    log_time: bool | str = False,
    legend: bool = True,
    legend_loc: str = "best",
):
    """One panel, one colour per component: the simulation (solid, ±1 std band) and each theory (its own dash).

    Parameters
    ----------
    datasets : dict of str to xarray.Dataset
        ``"simulation"`` (optional) and the theories by label, drawn in this order.
    variable : str
        ``policy``, ``q``, ``q_std`` or ``state_fraction``.
    components : list of dict
        Coordinates of each component, e.g. ``[{"state": 0}, {"state": 1}]``.
    names : list of str
        Legend name of each component.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    colours, dashes : sequences, optional
        Colour per component (default ``C0``, ``C1``, ...) and dash style per theory (default
        :data:`THEORY_STYLES`).
    log_time : bool or "symlog"
        See :func:`plot_series`.
    legend : bool
        Add the legend (components by colour, line styles; see :func:`style_legend`).
    legend_loc : str
        Where (a matplotlib location, or ``"below"`` the axes).

    Returns
    -------
    matplotlib.axes.Axes
        One line per dataset and component, a band per component of the simulation.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> fraction = np.random.default_rng(0).uniform(0.4, 0.6, size=(3, 5, 2))
    >>> simulation = xr.Dataset(
    ...     {"state_fraction": (("run", "time", "state"), fraction)},
    ...     coords={"time": np.arange(0, 50, 10), "state": [0, 1]},
    ...     attrs={"method": "simulation"},
    ... )
    >>> theory = simulation.mean("run").assign_attrs(method="reduced")
    >>> ax = plot_components(
    ...     {"simulation": simulation, "reduced": theory}, "state_fraction", [{"state": 0}, {"state": 1}], ["s1", "s2"]
    ... )
    >>> len(ax.get_lines()), len(ax.collections)
    (4, 2)
    """
    ax = _axes(ax)
    colours = colours or [f"C{index % 10}" for index in range(len(components))]
    dashes = dashes or THEORY_STYLES
    theory_labels = [label for label in datasets if label != "simulation"]
    for where, colour in zip(components, colours, strict=True):
        if "simulation" in datasets:
            plot_series(datasets["simulation"], variable, ax=ax, color=colour, log_time=log_time, **where)
        for label, dash in zip(theory_labels, dashes, strict=False):
            plot_series(datasets[label], variable, ax=ax, color=colour, linestyle=dash, log_time=log_time, **where)
    if legend:
        entries = dict(zip(names, colours, strict=True))
        style_legend(ax, theory_labels, simulation="simulation" in datasets, dashes=dashes, loc=legend_loc, **entries)
    return ax


def sweep_panels(
    axes,
    results,
    theory_labels,
    *,
    variable: str = "policy",
    components: list[dict],
    titles: list[str],
    ylabel: str | list[str],
    time_scale=None,
    log_time: bool = False,
    legend_axis: int | None = 0,
    colours=None,
    case_labels=None,
):
    """The panels of a parameter sweep: one colour per case, simulation solid with band, theories dashed.

    Parameters
    ----------
    axes : sequence of matplotlib.axes.Axes
        One per component.
    results : sequence of marldyn.reproduce.common.CaseResult
        Or any objects with ``simulation`` (a Dataset or None), ``theories`` (dict of label to Dataset) and
        ``case.label``.
    theory_labels : sequence of str
        Theories to draw (each in its own dash style).
    variable : str
    components : list of dict
        The coordinates of each panel's component, e.g. ``[{"state": 0, "action": 0}, {"state": 1, ...}]``.
    titles : list of str
    ylabel : str or list of str
    time_scale : callable, optional
        ``time_scale(result) -> float`` multiplies each case's times (e.g. by alpha); the x label then says
        learning time.
    log_time : bool
    legend_axis : int, optional
        The panel that carries the legend (cases by colour, line styles); None for no legend.
    colours : list, optional
        One colour per case (default: the matplotlib cycle).
    case_labels : list of str, optional
        Legend label per case (default: the cases' labels).

    Returns
    -------
    sequence of matplotlib.axes.Axes
        ``axes``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np, xarray as xr
    >>> first = np.random.default_rng(0).uniform(0.4, 0.6, size=(3, 5, 2))
    >>> simulation = xr.Dataset(
    ...     {"policy": (("run", "time", "state", "action"), np.stack([first, 1 - first], axis=-1))},
    ...     coords={"time": np.arange(0, 50, 10), "state": [0, 1], "action": [0, 1]},
    ...     attrs={"method": "simulation"},
    ... )
    >>> case = SimpleNamespace(
    ...     simulation=simulation, theories={"reduced": simulation.mean("run")}, case=SimpleNamespace(label="γ = 0.8")
    ... )
    >>> figure, axes = new_figure(1, 2)
    >>> components = cooperation_components()
    >>> _ = sweep_panels(axes[0], [case], ["reduced"], components=components, titles=["s1", "s2"], ylabel="P(C)")
    >>> [len(ax.get_lines()) for ax in axes[0]]
    [2, 2]
    """
    colours = colours or [f"C{index % 10}" for index in range(len(results))]
    ylabels = ylabel if isinstance(ylabel, list) else [ylabel] * len(axes)
    for ax, where, title, label in zip(axes, components, titles, ylabels, strict=True):
        for result, colour in zip(results, colours, strict=True):
            scale = time_scale(result) if time_scale else 1.0
            if result.simulation is not None:
                plot_series(
                    result.simulation, variable, ax=ax, color=colour, time_scale=scale, log_time=log_time, **where
                )
            for theory_label, dash in zip(theory_labels, THEORY_STYLES, strict=False):
                if theory_label in result.theories:
                    plot_series(
                        result.theories[theory_label],
                        variable,
                        ax=ax,
                        color=colour,
                        linestyle=dash,
                        time_scale=scale,
                        log_time=log_time,
                        **where,
                    )
        style_axes(ax, title=title, ylabel=label, log_time=log_time, legend=False)
        if time_scale:
            ax.set_xlabel("learning time α·t (t in steps)")
    if legend_axis is not None:
        style_legend(
            axes[legend_axis],
            theory_labels,
            loc="below",
            simulation=any(r.simulation is not None for r in results),
            **dict(zip(case_labels or [r.case.label for r in results], colours, strict=True)),
        )
    return axes


def pd_row(axes, results, theory_labels, *, prefix: str = "", tags: str = "abc", **options):
    """Three panels of a prisoner's-dilemma sweep: the fraction of edges in s1 (with the legend), and the
    cooperation in s1 and in s2; one colour per case.

    Parameters
    ----------
    axes : sequence of three matplotlib.axes.Axes
    results, theory_labels
        See :func:`sweep_panels`.
    prefix : str
        Put before each title (after its tag).
    tags : str
        The panels' letters.
    **options
        Passed to :func:`sweep_panels` (``time_scale``, ``log_time``, ``colours``, ``case_labels``).

    Returns
    -------
    sequence of matplotlib.axes.Axes
        ``axes``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import numpy as np, xarray as xr
    >>> first = np.random.default_rng(0).uniform(0.4, 0.6, size=(3, 5, 2))
    >>> simulation = xr.Dataset(
    ...     {
    ...         "policy": (("run", "time", "state", "action"), np.stack([first, 1 - first], axis=-1)),
    ...         "state_fraction": (("run", "time", "state"), np.stack([first[..., 0], 1 - first[..., 0]], axis=-1)),
    ...     },
    ...     coords={"time": np.arange(0, 50, 10), "state": [0, 1], "action": [0, 1]},
    ...     attrs={"method": "simulation"},
    ... )
    >>> case = SimpleNamespace(simulation=simulation, theories={}, case=SimpleNamespace(label="β = 1"))
    >>> figure, axes = new_figure(1, 3)
    >>> [ax.get_title() for ax in pd_row(axes[0], [case], [])]
    ['(a) edge states', '(b) cooperation in s1', '(c) cooperation in s2']
    """
    sweep_panels(
        axes[:1],
        results,
        theory_labels,
        variable="state_fraction",
        components=[{"state": 0}],
        titles=[f"({tags[0]}) {prefix}edge states"],
        ylabel="fraction of edges in s1",
        **options,
    )
    sweep_panels(
        axes[1:3],
        results,
        theory_labels,
        components=cooperation_components(),
        titles=[f"({tags[1]}) {prefix}cooperation in s1", f"({tags[2]}) {prefix}cooperation in s2"],
        ylabel="P(cooperate)",
        legend_axis=None,
        **options,
    )
    return axes


def cooperation_components(n_states: int = 2, action: int = 0) -> list[dict]:
    """The components X(s, action) for every state (cooperation is action 0 in the prisoner's dilemma).

    Examples
    --------
    >>> cooperation_components()
    [{'state': 0, 'action': 0}, {'state': 1, 'action': 0}]
    """
    return [{"state": state, "action": action} for state in range(n_states)]


def plot_stationary_marks(
    theory: xr.Dataset, *, ax=None, colours=None, count: int = 10, label: str | None = "stationary"
):
    """A reduced-timescale theory's edge-state fractions (its stationary distribution) as open circles.

    Parameters
    ----------
    theory : xarray.Dataset
        With ``state_fraction`` (time, state).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made if None.
    colours : sequence, optional
        One colour per state (default ``C0``, ``C1``, ...).
    count : int
        About this many marks per state, evenly spaced in the records.
    label : str, optional
        The legend entry (on the first state's marks).

    Returns
    -------
    matplotlib.axes.Axes
        One marker line per state.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> theory = xr.Dataset(
    ...     {"state_fraction": (("time", "state"), np.full((50, 2), 0.5))},
    ...     coords={"time": np.arange(50), "state": [0, 1]},
    ... )
    >>> [line.get_xdata().size for line in plot_stationary_marks(theory).get_lines()]
    [10, 10]
    """
    ax = _axes(ax)
    states = list(theory["state"].values)
    colours = colours or [f"C{index % 10}" for index in range(len(states))]
    for index, (state, colour) in enumerate(zip(states, colours, strict=False)):
        stationary = theory["state_fraction"].sel(state=state)
        every = max(1, stationary.sizes["time"] // count)
        ax.plot(
            stationary["time"].values[::every],
            stationary.values[::every],
            linestyle="none",
            marker="o",
            markerfacecolor="white",
            markeredgecolor=colour,
            markersize=6,
            zorder=3,
            label=label if index == 0 else None,
        )
    return ax


# ----------------------------------------------------------------------------------------------
# outcome maps and phase diagrams (marldyn.analysis)
# ----------------------------------------------------------------------------------------------
def plot_outcome_map(
    dataset: xr.Dataset, horizon: float, *, ax=None, confirmations: xr.Dataset | None = None, legend: bool = True
):
    """Draw an outcome map at one horizon, with the fixed points and simulated confirmations on it.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`marldyn.analysis.outcome_map`.
    horizon : float
        One of the map's horizons.
    ax : matplotlib.axes.Axes, optional
        A new figure is made if None.
    confirmations : xarray.Dataset, optional
        From :func:`marldyn.analysis.confirm_with_simulation` (or a map merged with it): its points at this
        horizon are drawn as white circles if the simulation agrees with the theory, red crosses if not.
    legend : bool

    Returns
    -------
    matplotlib.axes.Axes
        2-D maps: coloured cells per outcome label. 1-D maps: the probability of action 0 per state against the
        axis, over cells coloured by outcome. Fixed points (projected on the axes' coordinates) are drawn with a
        marker per stability.

    Examples
    --------
    >>> from marldyn.analysis import Axis, PointMassDynamics, outcome_map
    >>> from marldyn.config import as_config
    >>> config = as_config({})
    >>> dynamics = PointMassDynamics.from_config(config)  # doctest: +SKIP
    >>> x = Axis.parse("advantage[0]=-2:2:3")
    >>> dataset = outcome_map(dynamics, config.initial_q_table(dynamics.game), x, horizons=[100])  # doctest: +SKIP
    >>> plot_outcome_map(dataset, 100).get_xlabel()  # doctest: +SKIP
    'initial advantage Q(s0, 0) - Q(s0, 1)'
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .analysis.maps import Axis

    ax = _axes(ax, figsize=(5.2, 4.4))
    labels = json.loads(dataset.attrs["outcome_labels"])
    axes = [Axis(name, [0.0]) for name in json.loads(dataset.attrs["axes"])]
    colours = _label_colours(labels)
    outcome = dataset["outcome"].sel(horizon=horizon)
    present = sorted(int(v) for v in np.unique(dataset["outcome"].values))
    cmap = ListedColormap([colours[i] for i in present])
    codes = np.searchsorted(present, outcome.values)
    x = dataset[axes[0].name].values
    if len(axes) == 2:
        y = dataset[axes[1].name].values
        ax.pcolormesh(x, y, codes.T, cmap=cmap, vmin=-0.5, vmax=len(present) - 0.5, shading="nearest")
        ax.set_ylabel(axes[1].label)
    else:
        ax.pcolormesh(
            x, [0.0, 1.0], np.vstack([codes, codes]), cmap=cmap, vmin=-0.5, vmax=len(present) - 0.5, shading="nearest"
        )
        policy = dataset["policy"].sel(horizon=horizon, action=0)
        for state in dataset["state"].values:
            ax.plot(
                x,
                policy.sel(state=state).values,
                color="k",
                linestyle=["-", "--", ":", "-."][state % 4],
                label=f"P(action 0), state {state}",
            )
        ax.set_ylim(0.0, 1.0)
        ax.set_ylabel("probability of action 0")
    ax.set_xlabel(axes[0].label)
    ax.set_title(f"reduced theory at t = {horizon:.3g} steps", fontsize="medium")
    handles = [Patch(facecolor=colours[i], edgecolor="0.3", label=labels[i]) for i in present]
    handles += _draw_fixed_points(ax, dataset, axes)
    if confirmations is not None and horizon in confirmations["confirm_horizon"].values:
        handles += _draw_confirmations(ax, confirmations.sel(confirm_horizon=horizon), axes)
    if legend:
        ax.legend(handles=handles, fontsize="x-small", loc="best", framealpha=0.85)
    return ax


def outcome_map_figure(dataset: xr.Dataset, horizons=None, *, confirmations=None, path=None):
    """The outcome maps side by side, one panel per horizon (``marldyn basins --plot``).

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`marldyn.analysis.outcome_map`.
    horizons : sequence of float, optional
        Default: every horizon of the map.
    confirmations : xarray.Dataset, optional
        See :func:`plot_outcome_map`.
    path : str or pathlib.Path, optional
        If given, the figure is saved there (see :func:`save_figure`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> figure = outcome_map_figure(dataset)  # doctest: +SKIP
    """
    horizons = list(dataset["horizon"].values if horizons is None else horizons)
    figure, axes = new_figure(1, len(horizons), width=5.0, height=4.6)
    for ax, horizon in zip(axes[0], horizons, strict=True):
        plot_outcome_map(dataset, horizon, ax=ax, confirmations=confirmations)
    if path is not None:
        save_figure(figure, Path(path))
    return figure


def plot_phase_diagram(
    dataset: xr.Dataset, variable: str, *, x: str, y: str, state=0, action=0, overlay: str | None = None, ax=None
):
    """A phase diagram: one summary variable over two swept parameters, optionally with a coarser overlay.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`marldyn.analysis.run_sweep`.
    variable : str
        e.g. ``theory_reduced_policy``; drawn as coloured cells on the (x, y) grid (NaN cells blank).
    x, y : str
        Swept parameters (dimension names).
    state, action : int
        Selected where the variable has these dimensions.
    overlay : str, optional
        A second variable (e.g. ``simulate_policy`` on a coarser grid), drawn as circles in the same colours at
        the points where it is defined.
    ax : matplotlib.axes.Axes, optional
        A new figure is made if None.

    Returns
    -------
    matplotlib.axes.Axes
        The cells and a colour bar.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> sweep = xr.Dataset(
    ...     {"theory_reduced_policy": (("gamma", "b", "state", "action"), np.full((3, 2, 2, 2), 0.5))},
    ...     coords={"gamma": [0.5, 0.7, 0.9], "b": [2.0, 3.0], "state": [0, 1], "action": [0, 1]},
    ... )
    >>> ax = plot_phase_diagram(sweep, "theory_reduced_policy", x="b", y="gamma")
    >>> ax.get_xlabel(), ax.get_ylabel(), len(ax.figure.axes)
    ('b', 'gamma', 2)
    """
    ax = _axes(ax, figsize=(5.0, 4.0))

    def select(name):
        if name not in dataset:
            raise ConfigError(f"no variable {name!r} in the sweep result{did_you_mean(name, list(dataset.data_vars))}")
        values = dataset[name]
        where = {k: v for k, v in (("state", state), ("action", action)) if k in values.dims}
        values = values.sel(where)
        others = [d for d in values.dims if d not in (x, y)]
        return values.isel({d: 0 for d in others}).transpose(y, x)

    def positions(name):
        coordinate = dataset[name].values
        return (coordinate, None) if coordinate.dtype.kind == "f" else (np.arange(coordinate.size), coordinate)

    (xs, x_ticks), (ys, y_ticks) = positions(x), positions(y)
    limits = (0.0, 1.0) if variable.endswith(("policy", "state_fraction")) else (None, None)
    values = select(variable)
    mesh = ax.pcolormesh(xs, ys, values.values, shading="nearest", cmap="viridis", vmin=limits[0], vmax=limits[1])
    if variable.endswith("policy"):
        label = f"probability of action {action} in state {state}"
    elif variable.endswith("state_fraction"):
        label = f"fraction of edges in state {state}"
    else:
        label = variable.replace("_", " ")
    ax.figure.colorbar(mesh, ax=ax, label=label)
    if overlay is not None:
        points = select(overlay).values
        grid_x, grid_y = np.meshgrid(xs, ys)
        defined = np.isfinite(points)
        ax.scatter(
            grid_x[defined],
            grid_y[defined],
            c=points[defined],
            cmap="viridis",
            vmin=mesh.norm.vmin,
            vmax=mesh.norm.vmax,
            edgecolors="white",
            linewidths=1.2,
            s=70,
            label=f"{overlay.replace('_', ' ')} (circles)",
        )
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    for ticks, setter, positions_ in ((x_ticks, ax.set_xticks, xs), (y_ticks, ax.set_yticks, ys)):
        if ticks is not None:
            setter(positions_, ticks, fontsize="x-small")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return ax


def plot_sweep_curve(
    dataset: xr.Dataset,
    variable: str,
    *,
    x: str,
    state=0,
    action=0,
    overlay: str | None = None,
    also: tuple[str, ...] = (),
    ax=None,
):
    """One summary variable over one swept parameter: the theory as a line, a simulation as points with ±2 s.e.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`marldyn.analysis.run_sweep` with one swept parameter.
    variable : str
        e.g. ``theory_particles_policy``: the line (NaN points left out).
    x : str
        The swept parameter (a dimension name).
    state, action : int
        Selected where the variable has these dimensions.
    overlay : str, optional
        A simulation's variable (e.g. ``simulate_policy``), drawn as points where defined, with error bars of
        two standard errors of its run mean (from ``{overlay}_std`` and the task's runs, where present).
    also : tuple of str
        Further variables (e.g. a theory computed on a coarser grid), drawn as squares joined by dashed lines
        where defined.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> sweep = xr.Dataset(
    ...     {"theory_reduced_policy": (("f", "state", "action"), np.full((3, 2, 2), 0.5))},
    ...     coords={"f": [0.0, 0.1, 0.2], "state": [0, 1], "action": [0, 1]},
    ... )
    >>> plot_sweep_curve(sweep, "theory_reduced_policy", x="f").get_xlabel()
    'f'
    """
    ax = _axes(ax, figsize=(5.0, 4.0))

    def select(name):
        if name not in dataset:
            raise ConfigError(f"no variable {name!r} in the sweep result{did_you_mean(name, list(dataset.data_vars))}")
        values = dataset[name]
        where = {k: v for k, v in (("state", state), ("action", action)) if k in values.dims}
        values = values.sel(where)
        return values.isel({d: 0 for d in values.dims if d != x})

    xs = dataset[x].values
    line = select(variable).values
    ax.plot(xs, line, color="C0", label=variable.replace("_", " "))
    if overlay is not None:
        points = select(overlay).values
        defined = np.isfinite(points)
        spread = None
        if f"{overlay}_std" in dataset:
            runs = _task_runs(dataset, overlay)
            spread = 2.0 * select(f"{overlay}_std").values[defined] / np.sqrt(max(runs, 1))
        ax.errorbar(
            xs[defined],
            points[defined],
            yerr=spread,
            fmt="o",
            color="C3",
            capsize=3,
            label=f"{overlay.replace('_', ' ')} (±2 s.e.)",
        )
    colours = [f"C{k}" for k in range(10) if k not in (0, 3)]  # not the line's C0 nor the overlay's C3
    for k, name in enumerate(also):
        values = select(name).values
        defined = np.isfinite(values)
        colour = colours[k % len(colours)]
        ax.plot(xs[defined], values[defined], "s--", color=colour, markersize=5, label=name.replace("_", " "))
    if variable.endswith("policy"):
        ax.set_ylabel(f"probability of action {action} in state {state}")
        ax.set_ylim(-0.02, 1.02)
    else:
        ax.set_ylabel(variable.replace("_", " "))
    ax.set_xlabel(x)
    ax.legend(fontsize="x-small", frameon=False)
    return ax


def _task_runs(dataset: xr.Dataset, variable: str) -> int:
    """The runs of the simulation task a sweep variable comes from: its override, else the base config's."""
    import tomllib

    base = tomllib.loads(dataset.attrs.get("base_config", "")).get("run", {})
    for task in json.loads(dataset.attrs.get("tasks", "[]")):
        if variable.startswith(f"{task['name']}_"):
            return int(task.get("overrides", {}).get("runs", base.get("runs", 1)))
    return int(base.get("runs", 1))


# ----------------------------------------------------------------------------------------------
# saving
# ----------------------------------------------------------------------------------------------
def save_figure(figure, path: Path) -> list[Path]:
    """Save as PNG (and in the suffix's format if PDF or SVG), each written atomically.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    path : pathlib.Path
        ``x.png`` or ``x`` writes ``x.png``; ``x.pdf`` / ``x.svg`` writes ``x.png`` and that file. Its
        directory must exist.

    Returns
    -------
    list of pathlib.Path
        The files written, the PNG first.

    Examples
    --------
    >>> figure, axes = new_figure(1, 1)
    >>> save_figure(figure, Path("figure.pdf"))  # doctest: +SKIP
    [PosixPath('figure.png'), PosixPath('figure.pdf')]
    """
    from .io import atomic_write

    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix and suffix not in SAVE_FORMATS:
        raise ConfigError(f"figure path {path}: suffix '.{suffix}' must be one of {', '.join(SAVE_FORMATS)}")
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigError(f"figure directory {directory} does not exist")
    targets = {"png": path.with_suffix(".png")}
    if suffix and suffix != "png":
        targets[suffix] = path
    for file_format, target in targets.items():
        atomic_write(target, lambda temporary, fmt=file_format: figure.savefig(temporary, format=fmt, dpi=150))
    return list(targets.values())


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _axes(ax, figsize=(6.0, 4.0)):
    return _figure(figsize).add_subplot() if ax is None else ax


def _as_mapping(datasets) -> dict:
    if isinstance(datasets, xr.Dataset):
        datasets = {str(datasets.attrs.get("method", "dataset")): datasets}
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError("datasets must be an xarray.Dataset or a non-empty dict of label to Dataset")
    for label, dataset in datasets.items():
        if not isinstance(dataset, xr.Dataset):
            raise ConfigError(f"datasets['{label}'] must be an xarray.Dataset, got {type(dataset).__name__}")
    return datasets


def _is_simulation(dataset: xr.Dataset) -> bool:
    return dataset.attrs.get("method") == "simulation"


def _styles(datasets: dict) -> dict:
    """Line keywords per dataset label: each with its own colour and line style (the first simulation solid)."""
    from matplotlib import rcParams

    colours = cycle(c for c in rcParams["axes.prop_cycle"].by_key().get("color", ["C0"]))
    dashes = cycle(THEORY_STYLES)
    styles = {}
    simulation_count = 0
    for label, dataset in datasets.items():
        if _is_simulation(dataset):  # the first solid and dark; more simulations coloured and dashed
            first = simulation_count == 0
            colour = SIMULATION_COLOUR if first else next(colours)
            styles[label] = {**SIMULATION_STYLE, "color": colour, "linestyle": "-" if first else next(dashes)}
            simulation_count += 1
        else:
            styles[label] = {**THEORY_STYLE, "color": next(colours), "linestyle": next(dashes)}
    return styles


def _states(datasets: dict, name: str) -> list:
    first = next(iter(datasets.values()))
    if name not in first:
        raise ConfigError(f"dataset has no '{name}' variable")
    return list(first["state"].values) if "state" in first.coords else list(range(first.sizes["state"]))


def _state_colours(states) -> dict:
    return {state: f"C{index % 10}" for index, state in enumerate(states)}


def _select(dataset, name, *, label, **where) -> xr.DataArray:
    if name not in dataset:
        raise ConfigError(f"dataset '{label}' has no '{name}' variable")
    values = dataset[name]
    try:
        values = values.sel(**where)
    except KeyError:
        available = {key: values[key].values.tolist() for key in where if key in values.coords}
        raise ConfigError(f"dataset '{label}': no {where} in '{name}' (coordinates: {available})") from None
    extra = set(values.dims) - {"run", "time"}
    if extra:
        raise ConfigError(f"dataset '{label}': '{name}' has unexpected dimensions {sorted(extra)}")
    return values


def _time_and_series(values: xr.DataArray, time_scale: float, log_time) -> tuple[np.ndarray, np.ndarray]:
    """The (scaled) times and the values, shape (run, time), without t <= 0 if ``log_time is True``."""
    time = np.asarray(values["time"].values, dtype=np.float64) * time_scale
    series = values.transpose("run", "time").values if "run" in values.dims else values.values[None, :]
    keep = time > 0 if log_time is True else np.ones(time.shape, dtype=bool)
    return time[keep], np.asarray(series, dtype=np.float64)[:, keep]


def _line(ax, values, *, label, style, time_scale=1.0, log_time=False, bands=(), band_label=None):
    """The run-mean line of one component and, with two or more runs, its ``bands`` (:func:`run_band`).

    The bands get legend entries ``"<band_label>: <BAND_LABELS[kind]>"`` if ``band_label`` is given.
    """
    time, series = _time_and_series(values, time_scale, log_time)
    (line,) = ax.plot(time, series.mean(axis=0), label=label, **style)
    if series.shape[0] > 1:
        for kind in bands:
            band = None if band_label is None else f"{band_label}: {BAND_LABELS[kind]}"
            _fill_band(ax, time, series, kind, color=line.get_color(), label=band)
    return line


def _fill_band(ax, time, series, kind, *, color, label=None):
    _, low, high = run_band(series, kind)
    if kind == "std":
        return ax.fill_between(time, low, high, color=color, alpha=BAND_ALPHA, lw=0, label=label)
    return ax.fill_between(
        time, low, high, facecolor="none", edgecolor=color, hatch=SEM_HATCH, alpha=SEM_ALPHA, lw=0, label=label
    )


def _band_patch(kind: str, color, label: str):
    """A legend handle that looks like the band of ``kind``."""
    from matplotlib.patches import Patch

    if kind == "std":
        return Patch(color=color, alpha=BAND_ALPHA, lw=0, label=label)
    return Patch(facecolor="none", edgecolor=color, hatch=SEM_HATCH, alpha=SEM_ALPHA, lw=0, label=label)


def _draw_stationary(ax, stationary, states, colours, datasets, log_time) -> None:
    if not isinstance(stationary, dict):
        stationary = {"stationary": stationary}
    markers = cycle("oD^sv*")
    last_time = max(float(d["time"].values[-1]) for d in datasets.values())
    for label, distribution in stationary.items():
        marker = next(markers)
        if isinstance(distribution, xr.DataArray) and "time" in distribution.dims:
            time = np.asarray(distribution["time"].values, dtype=np.float64)
            values = distribution.transpose("time", "state").values
        else:
            values = np.atleast_2d(np.asarray(distribution, dtype=np.float64))
            time = np.array([last_time])
        if values.shape[-1] != len(states):
            raise ConfigError(f"stationary '{label}' has {values.shape[-1]} states; the datasets have {len(states)}")
        keep = time > 0 if log_time else np.ones(time.shape, dtype=bool)
        for index, state in enumerate(states):
            ax.plot(
                time[keep],
                values[keep, index],
                linestyle="none",
                marker=marker,
                markersize=7,
                markerfacecolor="white",
                markeredgecolor=colours[state],
                markeredgewidth=1.5,
                label=f"{label}, state {state}",
                zorder=3,
            )


def _legend_below(ax) -> None:
    """Move an axes' legend below it (constrained layout makes room), so it never hides data."""
    from matplotlib.lines import Line2D

    pairs = ax.get_legend_handles_labels()
    pairs = sorted(zip(*pairs, strict=True), key=lambda pair: not isinstance(pair[0], Line2D))  # lines first
    handles, labels = [p[0] for p in pairs], [p[1] for p in pairs]
    if handles:
        ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.18), fontsize="small", ncols=2)


def _finish(ax, ylabel: str, log_time: bool) -> None:
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(ylabel)
    if log_time:
        ax.set_xscale("log")
    ax.grid(True, alpha=0.3)


def _probability_limits(ax) -> tuple[float, float]:
    """Y limits around the data, never beyond [-0.02, 1.02] (probabilities)."""
    low, high = ax.get_ylim()
    return max(low, -0.02), min(high, 1.02)


def _simulation_label(simulation: xr.Dataset) -> str:
    runs = simulation.sizes.get("run", 1)
    return f"simulation ({runs} run{'s' if runs != 1 else ''})"


def _suptitle(simulation: xr.Dataset, theory_datasets: dict) -> str:
    attrs = simulation.attrs
    where = " on ".join(str(attrs[key]) for key in ("game", "graph") if key in attrs)
    agents = f", {attrs['n_agents']} agents" if "n_agents" in attrs else ""
    against = f" vs {', '.join(theory_datasets)}" if theory_datasets else ""
    return f"{where}{agents}: simulation{against}".lstrip(": ")


def _label_colours(labels: list[str]) -> dict:
    """A colour per outcome label, fixed by the label's meaning (full-support 'mixed' grey, pure actions bright)."""
    from matplotlib import colormaps

    palette = [c for i, c in enumerate(colormaps["tab10"].colors) if i != 7]  # grey is kept for 'mixed'
    colours = {}
    for index, label in enumerate(labels):
        parts = label.split("/")
        if all(part == "mixed" for part in parts):
            colours[index] = "0.75"
        else:
            colours[index] = palette[index % len(palette)]
    return colours


def _draw_fixed_points(ax, dataset, axes) -> list:
    from matplotlib.lines import Line2D

    if "fixed_point_q" not in dataset:
        return []
    handles = []
    x_range = dataset[axes[0].name].values
    for index, (q, stability) in enumerate(
        zip(dataset["fixed_point_q"].values, dataset["fixed_point_stability"].values, strict=True)
    ):
        coords = [axis.coordinate(q) for axis in axes]
        if len(axes) == 1:
            coords.append(0.5)
        marker = _STABILITY_MARKERS.get(str(stability), "o")
        ax.plot(*coords, marker=marker, color="k", markerfacecolor="gold", markersize=10, linestyle="none", zorder=5)
        inside = x_range.min() <= coords[0] <= x_range.max()
        text = f"fixed point {index} ({stability})" + ("" if inside else ", off the map")
        handles.append(Line2D([], [], marker=marker, color="k", markerfacecolor="gold", linestyle="none", label=text))
    return handles


def _draw_confirmations(ax, confirmations, axes) -> list:
    from matplotlib.lines import Line2D

    agree = confirmations["agree"].values
    coords = [confirmations["sample_position"].sel(axis=axis.name).values for axis in axes]
    if len(axes) == 1:
        coords.append(np.full(agree.shape, 0.92))
    ax.scatter(coords[0][agree], coords[1][agree], s=60, facecolors="white", edgecolors="k", zorder=6)
    ax.scatter(coords[0][~agree], coords[1][~agree], s=70, marker="x", color="red", zorder=6)
    return [
        Line2D([], [], marker="o", markerfacecolor="white", color="k", linestyle="none", label="simulation agrees"),
        Line2D([], [], marker="x", color="red", linestyle="none", label="simulation differs"),
    ]
