"""Outcome maps: which policy the reduced theory reaches from each initial condition, at given horizons.

Over a 1-D or 2-D grid of initial Q-tables (two :class:`Axis` objects varying the config's initial table:
the initial advantage ΔQ(s) = Q(s, 0) - Q(s, 1) of a state, or one entry Q(s, a)), every initial condition
is integrated with the compiled Dormand-Prince integrator (checked against ``solve_reduced``), and the
policy at each horizon is labelled per state: the action played with probability >= threshold, or mixed
(:func:`~marldyn.analysis.transients.outcome_codes`), and by its nearest fixed point. Because long
transients exist (near-full cooperation lasts ~ exp(β ΔQ) / α), the map depends on the horizon: a "basin
at a horizon". A sample of grid points is confirmed with the agent-based simulator
(:func:`confirm_with_simulation`), and :func:`marldyn.plots.plot_outcome_map` (re-exported by
:mod:`marldyn.analysis`) draws the map with the fixed points on it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..policy import boltzmann
from ._integrate import integrate_reduced
from .fixed_points import PointMassDynamics
from .transients import action_names, outcome_codes, outcome_label, outcome_labels

__all__ = ["Axis", "confirm_with_simulation", "confirmation_points", "outcome_map"]

_AXIS = re.compile(r"^\s*(advantage\[(\d+)\]|q\[(\d+)\s*,\s*(\d+)\])\s*=\s*(.+?)\s*$")


@dataclass(frozen=True, eq=False)
class Axis:
    """One varied coordinate of the initial Q-table.

    Parameters
    ----------
    name : str
        ``advantage[s]``: the initial advantage ΔQ(s) = Q(s, 0) - Q(s, 1), set around the row's mean (the
        mean of Q(s, 0) and Q(s, 1) is kept); or ``q[s,a]``: the entry Q(s, a).
    values : ndarray, shape (n,)

    Examples
    --------
    >>> from marldyn.analysis import Axis
    >>> axis = Axis.parse("advantage[0]=-3:3:5")
    >>> axis.values, axis.label
    (array([-3. , -1.5,  0. ,  1.5,  3. ]), 'initial advantage Q(s0, 0) - Q(s0, 1)')
    >>> axis.apply([[0.5, 0.0], [0.0, 0.5]], 2.0)  # ΔQ(s0) = 2 around the row's mean 0.25
    array([[ 1.25, -0.75],
           [ 0.  ,  0.5 ]])
    >>> Axis("q[1,0]", [0.0, 1.0]).coordinate([[0.5, 0.0], [0.0, 0.5]])
    array(0.)
    """

    name: str
    values: np.ndarray

    def __post_init__(self):
        match = _AXIS.match(f"{self.name}=0")
        if match is None:
            raise ConfigError(f"axis {self.name!r} must be 'advantage[s]' or 'q[s,a]' (0-based state and action)")
        values = np.atleast_1d(np.asarray(self.values, dtype=np.float64))
        if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
            raise ConfigError(f"axis {self.name}: values must be a non-empty list of finite numbers")
        object.__setattr__(self, "name", self.name.replace(" ", ""))
        object.__setattr__(self, "values", values)

    @classmethod
    def parse(cls, text: str) -> Axis:
        """Parse ``NAME=START:STOP:NUM`` (NUM points, both ends included) or ``NAME=V1,V2,...``.

        Examples: ``advantage[0]=-4:4:41``, ``q[1,0]=0,0.5,1``.
        """
        match = _AXIS.match(text)
        if match is None:
            raise ConfigError(
                f"axis {text!r} must look like 'advantage[0]=-4:4:41' or 'q[1,0]=0,0.5,1' (0-based state, action)"
            )
        spec = match.group(5)
        try:
            if ":" in spec:
                start, stop, num = spec.split(":")
                if int(num) < 1:
                    raise ValueError
                values = np.linspace(float(start), float(stop), int(num))
            else:
                values = np.array([float(v) for v in spec.split(",")])
        except ValueError:
            raise ConfigError(f"axis {text!r}: values must be START:STOP:NUM or a comma-separated list") from None
        return cls(match.group(1), values)

    def _indices(self, shape) -> tuple[str, int, int]:
        match = _AXIS.match(f"{self.name}=0")
        if match.group(2) is not None:
            kind, state, action = "advantage", int(match.group(2)), 0
            if shape[1] < 2:
                raise ConfigError(f"axis {self.name}: an advantage needs at least two actions")
        else:
            kind, state, action = "q", int(match.group(3)), int(match.group(4))
        if state >= shape[0] or action >= shape[1]:
            raise ConfigError(f"axis {self.name}: the game has states 0..{shape[0] - 1}, actions 0..{shape[1] - 1}")
        return kind, state, action

    def apply(self, q, value) -> np.ndarray:
        """A copy of ``q`` (..., state, action) with this coordinate set to ``value`` (broadcast over ``...``)."""
        q = np.array(q, dtype=np.float64)
        kind, state, action = self._indices(q.shape[-2:])
        if kind == "q":
            q[..., state, action] = value
        else:
            mean = 0.5 * (q[..., state, 0] + q[..., state, 1])
            q[..., state, 0] = mean + 0.5 * value
            q[..., state, 1] = mean - 0.5 * value
        return q

    @property
    def label(self) -> str:
        """The axis label of a plot, e.g. ``initial advantage Q(s0, 0) - Q(s0, 1)`` or ``initial Q(s1, 0)``."""
        match = _AXIS.match(f"{self.name}=0")
        if match.group(2) is not None:
            return f"initial advantage Q(s{match.group(2)}, 0) - Q(s{match.group(2)}, 1)"
        return f"initial Q(s{match.group(3)}, {match.group(4)})"

    def coordinate(self, q) -> np.ndarray:
        """This coordinate of ``q`` (..., state, action)."""
        q = np.asarray(q, dtype=np.float64)
        kind, state, action = self._indices(q.shape[-2:])
        return q[..., state, action] if kind == "q" else q[..., state, 0] - q[..., state, 1]


def _grid(base_q, axes) -> np.ndarray:
    """Initial tables on the grid of ``axes``, shape (x, [y,] state, action)."""
    table = np.asarray(base_q, dtype=np.float64)
    grid = np.broadcast_to(table, tuple(a.values.size for a in axes) + table.shape)
    for position, axis in enumerate(axes):
        shape = [1] * len(axes)
        shape[position] = axis.values.size
        grid = axis.apply(grid, axis.values.reshape(shape))
    return grid


def outcome_map(
    dynamics: PointMassDynamics,
    base_q,
    x: Axis,
    y: Axis | None = None,
    *,
    horizons,
    threshold: float = 0.95,
    fixed_points=(),
    rtol: float = 1e-7,
    atol: float = 1e-9,
) -> xr.Dataset:
    """The policy reached by the reduced theory from a grid of initial conditions, at several horizons.

    Parameters
    ----------
    dynamics : PointMassDynamics
    base_q : array_like, shape (state, action)
        The initial table the axes vary (e.g. the config's ``[init] q``; noise is not part of the point mass).
    x, y : Axis
        One or two varied coordinates (their names must differ).
    horizons : array_like of float
        Steps.
    threshold : float
        Probability above which a state's policy counts as pure (else mixed).
    fixed_points : sequence of FixedPoint
        To label each outcome by its nearest fixed point (max-norm distance of policies) and to store.
    rtol, atol : float
        Integrator tolerances.

    Returns
    -------
    xarray.Dataset
        Dims (x.name, [y.name,] horizon, state, action): ``policy``, ``q``; ``outcome`` (grid, horizon): index
        into ``attrs["outcome_labels"]`` (JSON list, e.g. ``"C/C"``, ``"C/mixed"``); ``nearest_fixed_point`` and
        ``fixed_point_distance``; ``fixed_point_q`` (fixed_point, state, action) and ``fixed_point_stability``.
        Attrs: threshold, parameters, base table, horizons, integrator.

    Examples
    --------
    >>> import json
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import Axis, PointMassDynamics, outcome_map
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> x, y = Axis("advantage[0]", [-3.0, 0.0, 3.0]), Axis("advantage[1]", [-3.0, 3.0])
    >>> result = outcome_map(dynamics, [[0.5, 0.0], [0.0, 0.5]], x, y, horizons=[2e4, 2e7])
    >>> dict(result["policy"].sizes)
    {'advantage[0]': 3, 'advantage[1]': 2, 'horizon': 2, 'state': 2, 'action': 2}
    >>> labels = json.loads(result.attrs["outcome_labels"])
    >>> [[labels[i] for i in row] for row in result["outcome"].sel(horizon=2e4).values]  # rows: advantage[0]
    [['mixed/mixed', 'mixed/mixed'], ['mixed/mixed', 'mixed/C'], ['C/D', 'C/C']]
    >>> [[labels[i] for i in row] for row in result["outcome"].sel(horizon=2e7).values]  # a basin at a horizon
    [['mixed/mixed', 'mixed/mixed'], ['mixed/mixed', 'mixed/mixed'], ['C/mixed', 'C/C']]
    """
    dynamics.require_smooth("the outcome map")
    axes = [x] if y is None else [x, y]
    if y is not None and x.name == y.name:
        raise ConfigError(f"the two axes must differ (both are {x.name})")
    horizon = np.sort(np.atleast_1d(np.asarray(horizons, dtype=np.float64)))
    if horizon.size == 0 or np.any(horizon <= 0) or not np.all(np.isfinite(horizon)):
        raise ConfigError("horizons must be positive numbers of steps")
    base_q = np.asarray(base_q, dtype=np.float64)
    if base_q.shape != dynamics.shape:
        raise ConfigError(f"base_q must have shape (state, action) = {dynamics.shape}, got {base_q.shape}")
    initial = _grid(base_q, axes)
    q = integrate_reduced(initial, dynamics, np.concatenate([[0.0], horizon]), rtol=rtol, atol=atol)[..., 1:, :, :]
    policy = boltzmann(q, dynamics.beta)
    n_states, n_actions = dynamics.shape
    outcome = outcome_label(outcome_codes(policy, threshold), n_actions)
    dims = tuple(a.name for a in axes)
    coords = {a.name: a.values for a in axes}
    coords.update(horizon=horizon, state=np.arange(n_states), action=np.arange(n_actions))
    data = {
        "q": ((*dims, "horizon", "state", "action"), q),
        "policy": ((*dims, "horizon", "state", "action"), policy),
        "outcome": ((*dims, "horizon"), outcome),
    }
    if fixed_points:
        targets = np.stack([p.policy for p in fixed_points])
        distance = np.abs(policy[..., None, :, :] - targets).max(axis=(-2, -1))
        data["nearest_fixed_point"] = ((*dims, "horizon"), distance.argmin(axis=-1))
        data["fixed_point_distance"] = ((*dims, "horizon"), distance.min(axis=-1))
        data["fixed_point_q"] = (("fixed_point", "state", "action"), np.stack([p.q for p in fixed_points]))
        data["fixed_point_stability"] = (("fixed_point",), np.array([p.stability for p in fixed_points]))
    dataset = xr.Dataset(data, coords=coords)
    dataset["horizon"].attrs.update(units="steps")
    dataset.attrs.update(
        kind="outcome_map",
        method="reduced",
        outcome_labels=json.dumps(outcome_labels(n_states, n_actions, action_names(dynamics.game))),
        threshold=float(threshold),
        base_q=json.dumps(base_q.tolist()),
        axes=json.dumps([a.name for a in axes]),
        integrator=f"Dormand-Prince 5(4), rtol={rtol}, atol={atol}",
        game=dynamics.game.name,
        **{k: v for k, v in dynamics.parameters().items()},
        initial_condition=(
            f"point mass at the table {base_q.tolist()} with {' and '.join(a.name for a in axes)} varied "
            "(an advantage keeps the mean of Q(s, 0) and Q(s, 1))"
        ),
    )
    return dataset


def confirmation_points(dataset: xr.Dataset, horizon: float, per_outcome: int = 1) -> list[dict]:
    """Grid points to check with the simulator: the most interior ones of each outcome at ``horizon``.

    Interior means far (in grid cells) from any point with another outcome, so that the agents' initial noise
    and finite size cannot move them across a boundary.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`outcome_map`.
    horizon : float
    per_outcome : int

    Returns
    -------
    list of dict
        Axis name -> value, sorted by outcome label index.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import Axis, PointMassDynamics, confirmation_points, outcome_map
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> x = Axis("advantage[0]", [-3.0, -1.5, 0.0, 1.5, 3.0])
    >>> result = outcome_map(dynamics, [[0.5, 0.0], [0.0, 0.5]], x, horizons=[2e4])
    >>> result["outcome"].values.ravel()  # two outcomes along the axis: mixed/mixed (0) and C/C (4)
    array([0, 0, 0, 4, 4])
    >>> confirmation_points(result, 2e4)  # for each outcome, the point farthest from the other
    [{'advantage[0]': -3.0}, {'advantage[0]': 3.0}]
    """
    from scipy.ndimage import distance_transform_edt

    outcome = dataset["outcome"].sel(horizon=horizon)
    values = outcome.values
    axes = list(outcome.dims)
    points = []
    for label in np.unique(values):
        depth = distance_transform_edt(values == label)
        order = np.argsort(-depth.ravel(), kind="stable")[:per_outcome]
        for flat in order:
            index = np.unravel_index(flat, values.shape)
            points.append({axis: float(dataset[axis].values[i]) for axis, i in zip(axes, index, strict=True)})
    return points


def confirm_with_simulation(
    config, dataset: xr.Dataset, points: list[dict], *, horizons=None, runs: int = 2, progress: bool | None = None
) -> xr.Dataset:
    """Simulate the agents from grid points of an outcome map and compare the labels.

    Each point's initial table is the map's base table with its axis values set; the agents get the config's
    ``[init]`` noise and the config's graph. The label of the simulation is that of the run-mean of the
    population-mean policy.

    Parameters
    ----------
    config : Config, dict or path
    dataset : xarray.Dataset
        From :func:`outcome_map`.
    points : list of dict
        Axis name -> value (grid values; e.g. from :func:`confirmation_points`).
    horizons : array_like, optional
        Horizons to check (a subset of the map's; default all). They must be whole steps.
    runs : int
    progress : bool, optional

    Returns
    -------
    xarray.Dataset
        Dims (sample, confirm_horizon[, state]): ``theory_outcome``, ``simulation_outcome``, ``agree``,
        ``theory_cooperation`` and ``simulation_cooperation`` (probability of action 0 per state);
        ``sample_position`` (sample, axis): the points' axis values. Merges into the map's Dataset.

    Examples
    --------
    Nine agents on a 3x3 lattice, one run of 2,000 steps from each of two points of a map:

    >>> from marldyn.analysis import (Axis, PointMassDynamics, confirm_with_simulation, confirmation_points,
    ...                               outcome_map)
    >>> config = {"graph": {"kind": "lattice", "n": 9}, "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1}}
    >>> dynamics = PointMassDynamics.from_config(config)
    >>> result = outcome_map(dynamics, [[0.5, 0.0], [0.0, 0.5]], Axis("advantage[0]", [-3.0, 0.0, 3.0]),
    ...                      horizons=[2000])
    >>> points = confirmation_points(result, 2000)
    >>> points
    [{'advantage[0]': -3.0}, {'advantage[0]': 3.0}]
    >>> check = confirm_with_simulation(config, result, points, runs=1)
    >>> check["agree"].values.ravel()  # the simulated label matches the theory's at both points
    array([ True,  True])
    >>> check["theory_cooperation"].values[:, 0].round(2)  # P(C) per point (rows) and state (columns)
    array([[0.09, 0.35],
           [1.  , 0.37]])
    >>> check["simulation_cooperation"].values[:, 0].round(2)
    array([[0.09, 0.36],
           [1.  , 0.38]])
    """
    from ..config import as_config, parse_config
    from ..simulation.runner import simulate

    config = as_config(config)
    horizons = dataset["horizon"].values if horizons is None else np.atleast_1d(np.asarray(horizons, dtype=float))
    if np.any(horizons != np.round(horizons)) or not set(horizons) <= set(dataset["horizon"].values):
        raise ConfigError("confirmation horizons must be whole steps and horizons of the map")
    steps = [int(h) for h in horizons]
    record_every = math.gcd(*steps)
    axes = json.loads(dataset.attrs["axes"])
    base = np.array(json.loads(dataset.attrs["base_q"]))
    threshold = dataset.attrs["threshold"]
    n_actions = dataset.sizes["action"]
    rows = {"theory_outcome": [], "simulation_outcome": [], "theory_cooperation": [], "simulation_cooperation": []}
    for point in points:
        table = base
        for name in axes:
            table = Axis(name, [point[name]]).apply(table, point[name])
        data = config.model_dump(exclude_none=True)
        data["init"]["q"] = table.tolist()
        data["run"].update(steps=max(steps), runs=runs, record_every=record_every)
        simulated = simulate(parse_config(data, base_dir=config.base_dir), progress=progress)
        policy = simulated["policy"].mean("run").sel(time=steps).values
        theory = dataset["policy"].sel(point, method="nearest").sel(horizon=horizons).values
        rows["simulation_outcome"].append(outcome_label(outcome_codes(policy, threshold), n_actions))
        rows["theory_outcome"].append(outcome_label(outcome_codes(theory, threshold), n_actions))
        rows["simulation_cooperation"].append(policy[..., 0])
        rows["theory_cooperation"].append(theory[..., 0])
    arrays = {name: np.array(value) for name, value in rows.items()}
    dims = ("sample", "confirm_horizon")
    result = xr.Dataset(
        {
            "theory_outcome": (dims, arrays["theory_outcome"]),
            "simulation_outcome": (dims, arrays["simulation_outcome"]),
            "agree": (dims, arrays["theory_outcome"] == arrays["simulation_outcome"]),
            "theory_cooperation": ((*dims, "state"), arrays["theory_cooperation"]),
            "simulation_cooperation": ((*dims, "state"), arrays["simulation_cooperation"]),
            "sample_position": (("sample", "axis"), np.array([[p[name] for name in axes] for p in points])),
        },
        coords={"confirm_horizon": horizons, "state": dataset["state"].values, "axis": axes},
    )
    result.attrs.update(
        outcome_labels=dataset.attrs["outcome_labels"],
        runs=runs,
        simulation_initial_condition=(
            f"map table with the axes set, plus {config.init.q_noise_distribution} noise of scale "
            f"{config.init.q_noise} per agent and entry; graph {config.graph.kind}, n = {config.graph.n}"
        ),
    )
    return result
