"""Simulation against theory: errors over time, in units of the simulation's own noise.

Both sides are ``xarray.Dataset`` objects with the shared variable names (``policy`` (run, time, state, action),
``state_fraction`` (run, time, state); the ``run`` dimension is optional on the theory side). The theory is
interpolated linearly onto the simulation's recording times, both sides are averaged over runs, and every
component (each state and action of the policy, each state of the edge-state fractions) gets its absolute error
over time summarised as numbers. The result is a plain dict (floats, ints, strings, lists, ``None``) so that it
can be written as JSON as it is; :func:`error_table` formats it for a terminal.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .errors import ConfigError

__all__ = ["NOISE_FACTOR", "VARIABLES", "compare", "error_table", "time_to_tolerance"]

#: The compared variables, in report order, with the dimensions of one component.
VARIABLES = {"policy": ("state", "action"), "state_fraction": ("state",)}

#: An error is "within noise" when the mean absolute error over time is at most this many standard errors
#: (averaged over time). An exact theory gives a mean absolute error of about 0.8 standard errors.
NOISE_FACTOR = 2.0


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def compare(simulation: xr.Dataset, theory: xr.Dataset, *, tolerance: float | None = None) -> dict:
    """Errors of a theory against a simulation, per component, over the simulation's time grid.

    The theory is interpolated linearly in time onto the simulation's recording times (it may be recorded
    on the same grid or a denser one, and must cover the simulation's whole time range). Both sides are
    averaged over runs when they have a ``run`` dimension. For every component — the probability of each
    action in each state (``policy``) and the fraction of edges in each state (``state_fraction``) — the
    absolute error e(t) = abs(mean_sim(t) - mean_theory(t)) is summarised.

    Parameters
    ----------
    simulation : xarray.Dataset
        ``policy`` (run, time, state, action) and ``state_fraction`` (run, time, state); the ``run`` dimension
        may be absent (one run, no noise estimate).
    theory : xarray.Dataset
        The same variables, with or without ``run``; ``time`` in simulator steps (integer or float).
        ``state_fraction`` may be absent from either side, in which case only the policy is compared.
    tolerance : float, optional
        If given, every component also reports whether its maximum error is at most ``tolerance``,
        and the result reports whether all of them are.

    Returns
    -------
    dict
        JSON-serialisable (plain ``float``/``int``/``str``/``bool``/``list``/``None``; undefined numbers are
        ``None``):

        - ``simulation_method``, ``theory_method`` : str, the datasets' ``method`` attributes;
        - ``simulation_runs``, ``theory_runs`` : int (``theory_runs`` is 0 for a theory without ``run``);
        - ``time`` : list, shape (time,), the simulation's recording times (the common grid);
        - ``variables`` : list of str, the compared variables (``state_fraction`` only if both have it);
        - ``tolerance`` : float or None; ``noise_factor`` : float, see :data:`NOISE_FACTOR`;
        - ``within_tolerance`` : bool or None, all components within ``tolerance``;
        - ``components`` : list of dicts, one per component, with

          - ``variable`` (``"policy"`` or ``"state_fraction"``), ``state``, ``action`` (None for
            ``state_fraction``), ``label`` (e.g. ``"policy s=0 a=1"``);
          - ``error`` : list, shape (time,), the absolute error of the run-means;
          - ``max_error``, ``mean_error`` (over time), ``time_of_max_error`` (the first time the maximum is
            reached), ``final_error`` (at the last time);
          - ``standard_error`` : list, shape (time,), the simulation's run-to-run standard error of the mean,
            std(ddof=1)/sqrt(runs) (None everywhere with fewer than two runs);
          - ``theory_standard_error`` : list, shape (time,), the same for a theory with two or more runs
            (an SDE ensemble), else None;
          - ``noise`` : list, shape (time,), the standard error of the difference (the two standard errors
            combined in quadrature);
          - ``noise_at_max_error``, ``final_noise``, ``mean_noise`` : float or None;
          - ``within_noise`` : bool or None, ``mean_error <= noise_factor * mean_noise`` (None without a
            noise estimate);
          - ``within_tolerance`` : bool or None.

    Raises
    ------
    ConfigError
        If a variable is missing or has unexpected dimensions, the states or actions differ, or the theory's
        times do not cover the simulation's time range.

    See Also
    --------
    error_table : the result as a text table.

    Examples
    --------
    Four runs of 25 agents against the point-mass theory with edge-state dynamics (``full``):

    >>> import marldyn
    >>> from marldyn.compare import compare
    >>> config = {
    ...     "graph": {"kind": "lattice", "n": 25},
    ...     "learning": {"alpha": 0.01},
    ...     "run": {"steps": 2000, "runs": 4, "record_every": 500},
    ... }
    >>> result = compare(marldyn.simulate(config), marldyn.predict(config, "full"), tolerance=0.05)
    >>> result["variables"], result["time"], result["within_tolerance"]
    (['policy', 'state_fraction'], [0, 500, 1000, 1500, 2000], True)
    >>> cooperate = result["components"][0]  # P(cooperate) in s1
    >>> cooperate["label"], round(cooperate["max_error"], 4), round(cooperate["noise_at_max_error"], 4)
    ('policy s=0 a=0', 0.0132, 0.0078)
    >>> cooperate["within_noise"]
    True
    """
    _check_dataset(simulation, "simulation")
    _check_dataset(theory, "theory")
    names = [name for name in VARIABLES if name in simulation and name in theory]
    for dimension in ("state", "action"):
        _check_same_coordinate(simulation, theory, dimension)
    simulation_time = np.asarray(simulation["time"].values)
    theory_time, order = _unique_sorted_time(theory)
    _check_coverage(simulation_time, theory_time)

    components = []
    for name in names:
        simulation_mean, simulation_error = _run_mean_and_standard_error(simulation[name])
        theory_mean, theory_error = _run_mean_and_standard_error(theory[name])
        theory_mean = _interpolate(theory_time, theory_mean.values[order], simulation_time)
        if theory_error is not None:
            theory_error = _interpolate(theory_time, theory_error.values[order], simulation_time)
        error = np.abs(simulation_mean.values - theory_mean)
        simulation_noise = None if simulation_error is None else simulation_error.values
        for index in np.ndindex(error.shape[1:]):
            at = (slice(None), *index)
            components.append(
                _summarise(
                    name,
                    _labels(simulation, name, index),
                    simulation_time,
                    error[at],
                    None if simulation_noise is None else simulation_noise[at],
                    None if theory_error is None else theory_error[at],
                    tolerance,
                )
            )
    within_tolerance = None if tolerance is None else all(c["within_tolerance"] for c in components)
    return {
        "simulation_method": str(simulation.attrs.get("method", "simulation")),
        "theory_method": str(theory.attrs.get("method", "theory")),
        "simulation_runs": int(simulation.sizes.get("run", 1)),
        "theory_runs": int(theory.sizes.get("run", 0)),
        "time": [_plain(t) for t in simulation_time],
        "variables": names,
        "tolerance": None if tolerance is None else float(tolerance),
        "noise_factor": NOISE_FACTOR,
        "within_tolerance": within_tolerance,
        "components": components,
    }


def time_to_tolerance(dataset: xr.Dataset, target, tol: float) -> float | int | None:
    """The first recorded time from which the run-mean policy stays within ``tol`` of ``target``.

    The distance at time t is the max norm max_{s,a} abs(X̄(t)(s, a) - target(s, a)) of the run-mean policy X̄.

    Parameters
    ----------
    dataset : xarray.Dataset
        With ``policy`` (run, time, state, action) or (time, state, action).
    target : array_like or xarray.DataArray, shape (state, action)
        The target policy, e.g. a fixed point.
    tol : float
        The tolerance in the max norm (non-negative).

    Returns
    -------
    int, float or None
        The earliest recorded time t such that the distance is at most ``tol`` at t and at every later
        recorded time; None if the distance exceeds ``tol`` at the last recorded time (never settles).

    Examples
    --------
    How long the reduced theory takes to come within 0.01 of where it ends, and that it never comes near
    full cooperation in s1 and defection in s2:

    >>> import marldyn
    >>> from marldyn.compare import time_to_tolerance
    >>> config = {"graph": {"kind": "lattice", "n": 25}, "learning": {"alpha": 0.01}, "run": {"steps": 20000}}
    >>> theory = marldyn.predict(config, "reduced")
    >>> theory.policy.isel(time=-1).round(3).values
    array([[0.453, 0.547],
           [0.453, 0.547]])
    >>> time_to_tolerance(theory, theory.policy.isel(time=-1), 0.01)
    4500
    >>> time_to_tolerance(theory, [[1.0, 0.0], [0.0, 1.0]], 0.01) is None
    True
    """
    if not tol >= 0:
        raise ConfigError(f"tol = {tol!r} must be a non-negative number")
    _check_dataset(dataset, "dataset", names=("policy",))
    policy = dataset["policy"]
    mean = policy.mean("run") if "run" in policy.dims else policy
    mean = mean.transpose("time", "state", "action").values
    target = np.asarray(target.values if isinstance(target, xr.DataArray) else target, dtype=np.float64)
    if target.shape != mean.shape[1:]:
        raise ConfigError(f"target must have shape (state, action) = {mean.shape[1:]}, got {target.shape}")
    distance = np.max(np.abs(mean - target), axis=(1, 2))
    outside = np.flatnonzero(~(distance <= tol))  # NaN counts as outside
    first = 0 if outside.size == 0 else int(outside[-1]) + 1
    if first >= distance.size:
        return None
    return _plain(dataset["time"].values[first])


def error_table(result: dict) -> str:
    """A fixed-width text table of a :func:`compare` result, one line per component.

    Columns: the component; the maximum absolute error and the time it is reached; the mean error over
    time; the final error; the noise (standard error of the difference) at the time of the maximum and
    the ratio of the maximum error to it; whether the mean error is within noise; and, if a tolerance was
    given, whether the maximum error is within it.

    Parameters
    ----------
    result : dict
        The return value of :func:`compare` (or the same loaded back from JSON).

    Returns
    -------
    str
        The table, with a header line describing the comparison, ending without a newline.

    Examples
    --------
    >>> import marldyn
    >>> from marldyn.compare import compare, error_table
    >>> config = {
    ...     "graph": {"kind": "lattice", "n": 25},
    ...     "learning": {"alpha": 0.01},
    ...     "run": {"steps": 2000, "runs": 4, "record_every": 500},
    ... }
    >>> result = compare(marldyn.simulate(config), marldyn.predict(config, "full"), tolerance=0.05)
    >>> print(error_table(result))
    simulation (4 runs) vs full; t = 0 .. 2000 steps (5 times)
    component            max err   at time  mean err final err noise@max max/noise in noise  <= 0.05
    ------------------------------------------------------------------------------------------------
    policy s=0 a=0       0.01323      2000  0.007311   0.01323  0.007814      1.69      yes      yes
    policy s=0 a=1       0.01323      2000  0.007311   0.01323  0.007814      1.69      yes      yes
    policy s=1 a=0      0.003039      2000  0.001058  0.003039  0.002856      1.06      yes      yes
    policy s=1 a=1      0.003039      2000  0.001058  0.003039  0.002856      1.06      yes      yes
    fraction s=0         0.04242      2000    0.0217   0.04242   0.02944      1.44      yes      yes
    fraction s=1         0.04242      2000    0.0217   0.04242   0.02944      1.44      yes      yes
    noise = standard error of the difference of run-means; 'in noise' = mean err <= 2 x mean noise
    all components within tolerance 0.05
    """
    times = result["time"]
    span = f"t = {_format_time(times[0])} .. {_format_time(times[-1])} steps ({len(times)} times)" if times else ""
    theory_runs = f", {result['theory_runs']} runs" if result.get("theory_runs") else ""
    header = (
        f"{result['simulation_method']} ({result['simulation_runs']} runs) vs "
        f"{result['theory_method']}{theory_runs}; {span}"
    )
    columns = ["component", "max err", "at time", "mean err", "final err", "noise@max", "max/noise", "in noise"]
    widths = [18, 10, 10, 10, 10, 10, 10, 9]
    with_tolerance = result.get("tolerance") is not None
    if with_tolerance:
        columns.append(f"<= {result['tolerance']:.3g}")
        widths.append(9)
    lines = [header, _row(columns, widths), _row(["-" * w for w in widths], widths)]
    for component in result["components"]:
        noise, max_error = component["noise_at_max_error"], component["max_error"]
        ratio = None if noise is None or noise <= 0 or max_error is None else max_error / noise
        cells = [
            component["label"],
            _format_number(component["max_error"]),
            _format_time(component["time_of_max_error"]),
            _format_number(component["mean_error"]),
            _format_number(component["final_error"]),
            _format_number(noise),
            "-" if ratio is None else f"{ratio:.2f}",
            _yes_no(component["within_noise"]),
        ]
        if with_tolerance:
            cells.append(_yes_no(component["within_tolerance"]))
        lines.append(_row(cells, widths))
    notes = [
        f"noise = standard error of the difference of run-means; 'in noise' = mean err <= "
        f"{result['noise_factor']:g} x mean noise"
    ]
    if result["simulation_runs"] < 2:
        notes.append("one simulation run: no noise estimate")
    if with_tolerance:
        verdict = "all" if result["within_tolerance"] else "not all"
        notes.append(f"{verdict} components within tolerance {result['tolerance']:g}")
    return "\n".join(lines + notes)


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def _check_dataset(dataset, role: str, names=("policy",)) -> None:
    if not isinstance(dataset, xr.Dataset):
        raise ConfigError(f"{role} must be an xarray.Dataset, got {type(dataset).__name__}")
    if "time" not in dataset.coords or dataset["time"].ndim != 1 or dataset.sizes["time"] == 0:
        raise ConfigError(f"{role} needs a non-empty 1-d 'time' coordinate")
    for name in names:
        if name not in dataset:
            raise ConfigError(f"{role} has no '{name}' variable")
    for name, dims in VARIABLES.items():
        if name in dataset:
            if set(dataset[name].dims) not in ({"time", *dims}, {"run", "time", *dims}):
                raise ConfigError(
                    f"{role} variable '{name}' has dimensions {dataset[name].dims}; expected "
                    f"({', '.join(('run', 'time', *dims))}) with 'run' optional"
                )


def _check_same_coordinate(simulation, theory, dimension) -> None:
    if dimension not in simulation.dims and dimension not in theory.dims:
        return
    left = simulation[dimension].values if dimension in simulation.coords else np.arange(simulation.sizes[dimension])
    right = theory[dimension].values if dimension in theory.coords else np.arange(theory.sizes[dimension])
    if left.shape != right.shape or not np.array_equal(left, right):
        raise ConfigError(
            f"simulation and theory have different '{dimension}' coordinates: {left.tolist()} vs {right.tolist()}"
        )


def _unique_sorted_time(theory) -> tuple[np.ndarray, np.ndarray]:
    """Theory times, sorted and without repeats, and the indices that select them (first of repeats)."""
    time = np.asarray(theory["time"].values, dtype=np.float64)
    if not np.all(np.isfinite(time)):
        raise ConfigError("theory 'time' contains NaN or infinite values")
    unique, order = np.unique(time, return_index=True)
    return unique, order


def _check_coverage(simulation_time, theory_time) -> None:
    low, high = float(np.min(simulation_time)), float(np.max(simulation_time))
    slack = 1e-9 * max(1.0, abs(low), abs(high))
    if theory_time[0] > low + slack or theory_time[-1] < high - slack:
        raise ConfigError(
            f"the theory covers t = {theory_time[0]:g} .. {theory_time[-1]:g} steps but the simulation "
            f"is recorded over t = {low:g} .. {high:g}; compute the theory over the whole range"
        )


def _run_mean_and_standard_error(values: xr.DataArray):
    """Run-mean (time, ...) and standard error of the mean over runs (None with fewer than two runs)."""
    dims = ("run", "time", *VARIABLES[values.name]) if "run" in values.dims else ("time", *VARIABLES[values.name])
    values = values.transpose(*dims)
    if "run" not in values.dims:
        return values, None
    runs = values.sizes["run"]
    mean = values.mean("run")
    if runs < 2:
        return mean, None
    return mean, values.std("run", ddof=1) / math.sqrt(runs)


def _interpolate(source_time, values, target_time) -> np.ndarray:
    """Linear interpolation along the first axis of ``values`` (time, ...) from sorted ``source_time``."""
    target = np.clip(np.asarray(target_time, dtype=np.float64), source_time[0], source_time[-1])
    if source_time.size == 1:
        return np.repeat(values[:1], target.size, axis=0)
    right = np.clip(np.searchsorted(source_time, target, side="left"), 1, source_time.size - 1)
    left = right - 1
    weight = (target - source_time[left]) / (source_time[right] - source_time[left])
    weight = weight.reshape((-1,) + (1,) * (values.ndim - 1))
    exact = np.isin(target, source_time)
    result = (1.0 - weight) * values[left] + weight * values[right]
    # Exact hits return the recorded value itself (no rounding from the weights).
    hits = np.searchsorted(source_time, target[exact])
    result[exact] = values[hits]
    return result


def _labels(dataset, name, index) -> dict:
    state = _plain(dataset["state"].values[index[0]]) if "state" in dataset.coords else int(index[0])
    if name == "policy":
        action = _plain(dataset["action"].values[index[1]]) if "action" in dataset.coords else int(index[1])
        return {"state": state, "action": action, "label": f"policy s={state} a={action}"}
    return {"state": state, "action": None, "label": f"fraction s={state}"}


def _summarise(name, labels, time, error, simulation_error, theory_error, tolerance) -> dict:
    """The summary numbers of one component's error curve, shape (time,)."""
    parts = [e for e in (simulation_error, theory_error) if e is not None]
    noise = np.sqrt(sum(e**2 for e in parts)) if parts else None
    finite = np.isfinite(error)
    if finite.all():
        peak = int(np.argmax(error))
        max_error, mean_error, time_of_max = float(error[peak]), float(np.mean(error)), _plain(time[peak])
    else:  # a theory that failed somewhere: the maximum is undefined
        peak, max_error, mean_error, time_of_max = None, None, None, None
    mean_noise = None if noise is None else _finite_or_none(np.mean(noise))
    within_noise = None
    if mean_error is not None and mean_noise is not None and mean_noise > 0:
        within_noise = bool(mean_error <= NOISE_FACTOR * mean_noise)
    within_tolerance = None
    if tolerance is not None:
        within_tolerance = bool(max_error is not None and max_error <= tolerance)
    return {
        "variable": name,
        **labels,
        "error": _as_list(error),
        "max_error": max_error,
        "mean_error": mean_error,
        "time_of_max_error": time_of_max,
        "final_error": _finite_or_none(error[-1]),
        "standard_error": _as_list(simulation_error, len(error)),
        "theory_standard_error": None if theory_error is None else _as_list(theory_error),
        "noise": _as_list(noise, len(error)),
        "noise_at_max_error": None if noise is None or peak is None else _finite_or_none(noise[peak]),
        "final_noise": None if noise is None else _finite_or_none(noise[-1]),
        "mean_noise": mean_noise,
        "within_noise": within_noise,
        "within_tolerance": within_tolerance,
    }


def _as_list(values, length=None) -> list:
    if values is None:
        return [None] * length
    return [_finite_or_none(v) for v in np.asarray(values, dtype=np.float64)]


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _plain(value):
    """A numpy scalar as the matching plain Python scalar (int for integer times, float otherwise)."""
    return np.asarray(value).item()


def _format_number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _format_time(value) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _yes_no(value) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _row(cells, widths) -> str:
    first = f"{cells[0]:<{widths[0]}}"
    rest = "".join(f"{cell:>{width}}" for cell, width in zip(cells[1:], widths[1:], strict=True))
    return (first + rest).rstrip()
