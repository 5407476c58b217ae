"""Figures of simulations and theories over time (matplotlib, no global state).

Every plotting function takes ``ax=None`` and returns the axes it drew on. With ``ax=None`` a new
:class:`matplotlib.figure.Figure` is made directly (not through ``pyplot``), so nothing here changes the
pyplot state, picks a backend or opens a window; show a returned axes' figure with ``ax.figure`` in a notebook
or save it with ``ax.figure.savefig(...)``.

Datasets are recognised by their ``method`` attribute: ``"simulation"`` datasets are drawn as the run-mean
with a band of ±1 standard deviation across runs and, fainter, the min–max envelope; every other dataset is
theory, drawn as a line (its run-mean if it has runs), each in its own colour and line style.
"""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError

__all__ = ["plot_comparison", "plot_policy", "plot_state_fraction", "save_figure"]

TIME_LABEL = "time (steps)"
THEORY_STYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 1)))
SIMULATION_COLOUR = "0.2"
BAND_ALPHA = 0.3
RANGE_ALPHA = 0.12
SAVE_FORMATS = ("png", "pdf", "svg")


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def plot_policy(datasets, *, state, action=0, ax=None, log_time: bool = False):
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

    Returns
    -------
    matplotlib.axes.Axes
        One line per dataset (the run-mean for simulations), with the bands of simulations as filled areas,
        a legend, and labelled axes.
    """
    datasets = _as_mapping(datasets)
    ax = _axes(ax)
    styles = _styles(datasets)
    for label, dataset in datasets.items():
        values = _select(dataset, "policy", state=state, action=action, label=label)
        bands = _is_simulation(dataset)
        _draw(ax, values, label, styles[label], log_time, bands=bands, band_label=label if bands else None)
    _finish(ax, f"P(action {action} in state {state})", log_time)
    ax.set_ylim(*_probability_limits(ax))
    ax.legend(fontsize="small")
    return ax


def plot_state_fraction(datasets, *, ax=None, log_time: bool = False, stationary=None):
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

    Returns
    -------
    matplotlib.axes.Axes
        One line per dataset and state (plus one marker line per stationary distribution and state), a
        legend, and labelled axes.
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
            _draw(ax, values, f"{label}, state {state}", style, log_time, bands=_is_simulation(dataset))
    if stationary is not None:
        _draw_stationary(ax, stationary, states, colours, datasets, log_time)
    _finish(ax, "fraction of edges in state", log_time)
    ax.set_ylim(*_probability_limits(ax))
    ax.legend(fontsize="small", ncols=2 if len(ax.get_legend_handles_labels()[1]) > 4 else 1)
    return ax


def plot_comparison(simulation: xr.Dataset, theory_datasets: dict, path=None, *, log_time: bool = False):
    """A multi-panel figure of a simulation against theories: edge-state fractions and the policy per state.

    Panels: the fraction of edges per state, then the probability of each action in each state (with two
    actions only the first, since the second is its complement). The simulation is drawn with its bands,
    each theory as a line; one legend per panel; ``constrained_layout`` keeps labels apart.

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

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not registered with pyplot).
    """
    from matplotlib.figure import Figure

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
    figure = Figure(figsize=(4.6 * columns, 3.6 * rows + 0.5), layout="constrained")
    grid = figure.add_gridspec(rows, columns)
    fraction_ax, *policy_axes = [figure.add_subplot(grid[place]) for place in places]
    with_fraction = {key: dataset for key, dataset in datasets.items() if "state_fraction" in dataset}
    if label in with_fraction:
        plot_state_fraction(with_fraction, ax=fraction_ax, log_time=log_time)
        fraction_ax.set_title("edge states")
        _legend_below(fraction_ax)
    else:
        fraction_ax.text(0.5, 0.5, "the simulation has no state_fraction", ha="center", va="center")
        fraction_ax.set_axis_off()
    pairs = [(state, action) for state in states for action in shown_actions]
    for ax, (state, action) in zip(policy_axes, pairs, strict=True):
        plot_policy(datasets, state=state, action=action, ax=ax, log_time=log_time)
        ax.set_title(f"policy in state {state}" + (f", action {action}" if len(shown_actions) > 1 else ""))
        _legend_below(ax)
    figure.suptitle(_suptitle(simulation, theory_datasets))
    if path is not None:
        save_figure(figure, Path(path))
    return figure


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _as_mapping(datasets) -> dict:
    if isinstance(datasets, xr.Dataset):
        datasets = {str(datasets.attrs.get("method", "dataset")): datasets}
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError("datasets must be an xarray.Dataset or a non-empty dict of label to Dataset")
    for label, dataset in datasets.items():
        if not isinstance(dataset, xr.Dataset):
            raise ConfigError(f"datasets['{label}'] must be an xarray.Dataset, got {type(dataset).__name__}")
    return datasets


def _axes(ax):
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=(6.0, 4.0), layout="constrained").add_subplot()


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
            styles[label] = {"color": colour, "linestyle": "-" if first else next(dashes), "linewidth": 1.8}
            simulation_count += 1
        else:
            styles[label] = {"color": next(colours), "linestyle": next(dashes), "linewidth": 1.6}
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


def _draw(ax, values: xr.DataArray, label: str, style: dict, log_time: bool, bands: bool, band_label=None) -> None:
    """The (run-mean) line of one component; with ``bands``, ±1 std and min–max bands if there are runs.

    The bands get legend entries ``"<band_label>: ±1 std"`` and ``"<band_label>: min–max"`` if ``band_label``
    is given.
    """
    time = np.asarray(values["time"].values, dtype=np.float64)
    keep = time > 0 if log_time else np.ones(time.shape, dtype=bool)
    has_runs = "run" in values.dims and values.sizes["run"] > 1
    series = values.transpose("run", "time").values if "run" in values.dims else values.values[None, :]
    mean = series.mean(axis=0)
    (line,) = ax.plot(time[keep], mean[keep], label=label, **style)
    if bands and has_runs:
        spread = series.std(axis=0)
        colour = line.get_color()
        ax.fill_between(
            time[keep],
            series.min(axis=0)[keep],
            series.max(axis=0)[keep],
            color=colour,
            alpha=RANGE_ALPHA,
            lw=0,
            label=None if band_label is None else f"{band_label}: min–max",
        )
        ax.fill_between(
            time[keep],
            (mean - spread)[keep],
            (mean + spread)[keep],
            color=colour,
            alpha=BAND_ALPHA,
            lw=0,
            label=None if band_label is None else f"{band_label}: ±1 std",
        )


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


def save_figure(figure, path: Path) -> None:
    """Save as PNG (and in the suffix's format if PDF or SVG), each written atomically."""
    from .io import atomic_write

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
