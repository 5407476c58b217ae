"""Time scales and long transients of the reduced point-mass dynamics.

A trajectory of dQ/dt = μ*(Q) can spend very long times near a policy that is not a fixed point: when an
action is rarely played (X(s, r) ≈ exp(-β ΔQ)), its Q-value moves at a rate proportional to that tiny
probability, so a near-pure policy persists for a time that grows exponentially with β ΔQ (shared/NOTES.md 2).
This module

- labels policies by their support: per state the action played with probability >= ``threshold``, or
  "mixed" (:func:`outcome_codes`, :func:`outcome_label`);
- cuts a long theory trajectory into episodes of constant label and measures their durations, and predicts
  each episode's end from its most stationary moment with :func:`~marldyn.analysis.fixed_points.escape_time`
  (:func:`quasi_stationary_episodes`, :func:`transient_analysis`);
- measures the lifetime of a slow point as a function of the depth g of its rare actions, against the
  prediction (:func:`lifetime_scan`): log T grows like β g.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from ..errors import ConfigError
from ..policy import boltzmann
from ..theory.homogeneous import solve_reduced
from ._integrate import integrate_reduced
from .fixed_points import PointMassDynamics, SlowPoint, escape_time

__all__ = [
    "Episode",
    "action_names",
    "lifetime_scan",
    "log_times",
    "outcome_codes",
    "outcome_label",
    "outcome_labels",
    "quasi_stationary_episodes",
    "transient_analysis",
]

MIXED = -1


def action_names(game) -> list[str]:
    """Names of the actions: ``C, D`` for the two-state prisoner's dilemma, ``a0, a1, ...`` otherwise.

    Examples
    --------
    >>> from marldyn import Game, two_state_pd
    >>> from marldyn.analysis import action_names
    >>> action_names(two_state_pd())
    ['C', 'D']
    >>> action_names(Game([[[1.0, 0.0], [0.0, 1.0]]], [[[[1.0], [1.0]], [[1.0], [1.0]]]]))  # a coordination game
    ['a0', 'a1']
    """
    if game.name == "two_state_pd":
        return ["C", "D"]
    return [f"a{a}" for a in range(game.n_actions)]


def outcome_codes(policy, threshold: float = 0.95) -> np.ndarray:
    """Per state, the action played with probability >= ``threshold``, or -1 (mixed).

    Parameters
    ----------
    policy : array_like, shape (..., state, action)
    threshold : float
        In (0.5, 1].

    Returns
    -------
    ndarray of int, shape (..., state)

    Examples
    --------
    >>> from marldyn.analysis import outcome_codes
    >>> outcome_codes([[0.97, 0.03], [0.6, 0.4]])  # s0: action 0 played; s1: mixed
    array([ 0, -1])
    """
    if not 0.5 < threshold <= 1.0:
        raise ConfigError(f"threshold = {threshold} must be in (0.5, 1]")
    policy = np.asarray(policy, dtype=np.float64)
    best = policy.argmax(axis=-1)
    return np.where(policy.max(axis=-1) >= threshold, best, MIXED)


def outcome_labels(n_states: int, n_actions: int, names=None) -> list[str]:
    """Every combined label in a fixed order: index = Σ_s (code_s + 1) (M + 1)^s (see :func:`outcome_label`).

    Examples
    --------
    >>> from marldyn.analysis import outcome_labels
    >>> outcome_labels(2, 2, ["C", "D"])
    ['mixed/mixed', 'C/mixed', 'D/mixed', 'mixed/C', 'C/C', 'D/C', 'mixed/D', 'C/D', 'D/D']
    """
    names = names or [f"a{a}" for a in range(n_actions)]
    per_state = ["mixed", *names]
    labels = []
    for index in range((n_actions + 1) ** n_states):
        parts = [per_state[(index // (n_actions + 1) ** s) % (n_actions + 1)] for s in range(n_states)]
        labels.append("/".join(parts))
    return labels


def outcome_label(codes, n_actions: int) -> np.ndarray:
    """Combine per-state codes (..., state) into one integer per point, indexing :func:`outcome_labels`.

    Examples
    --------
    >>> from marldyn.analysis import outcome_codes, outcome_label, outcome_labels
    >>> codes = outcome_codes([[[0.97, 0.03], [0.6, 0.4]], [[0.01, 0.99], [0.96, 0.04]]])  # two policies
    >>> index = outcome_label(codes, 2)
    >>> index, [outcome_labels(2, 2, ["C", "D"])[i] for i in index]
    (array([1, 5]), ['C/mixed', 'D/C'])
    """
    codes = np.asarray(codes)
    weights = (n_actions + 1) ** np.arange(codes.shape[-1])
    return ((codes + 1) * weights).sum(axis=-1)


def log_times(horizon: float, per_decade: int = 20, start: float = 1.0) -> np.ndarray:
    """0 and log-spaced times from ``start`` to ``horizon`` (steps), ``per_decade`` per factor of 10.

    Examples
    --------
    >>> from marldyn.analysis import log_times
    >>> log_times(1e3, per_decade=1)
    array([   0.,    1.,   10.,  100., 1000.])
    >>> log_times(1e7).size  # 0, then 20 per decade from 1 to 1e7
    142
    """
    if not horizon > start > 0:
        raise ConfigError(f"horizon = {horizon} must exceed start = {start} > 0")
    count = int(np.ceil(np.log10(horizon / start) * per_decade)) + 1
    return np.concatenate([[0.0], np.geomspace(start, horizon, count)])


@dataclass(frozen=True)
class Episode:
    """A stretch of a trajectory with one policy label.

    Attributes
    ----------
    label : str
        e.g. ``"C/C"`` (per state the action played with probability >= threshold, or ``mixed``).
    start, end : float
        First time with this label and first time after it with another (``inf`` if it lasts to the horizon).
    duration : float
        ``end - start``.
    reference_time : float
        The time of the smallest drift within the episode (its most stationary moment).
    predicted_end : float
        ``reference_time + escape_time(Q(reference_time))`` (``inf`` if nothing pushes it out).
    classification : str
        :func:`~marldyn.analysis.fixed_points.classify_point` of Q at the reference time (``fixed``, ``slow``
        or ``moving``).
    policy : tuple
        The policy (state, action) at the reference time, as nested tuples.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, transient_analysis
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> _, episodes = transient_analysis(dynamics, [[0.5, 0.0], [0.0, 0.5]], 1e7, per_decade=10)
    >>> plateau = episodes[2]  # near-full cooperation
    >>> plateau.label, plateau.classification
    ('C/C', 'slow')
    >>> f"lasted {plateau.duration:.3g} steps, predicted to end at {plateau.predicted_end:.3g}"
    'lasted 1.98e+06 steps, predicted to end at 1.62e+06'
    """

    label: str
    start: float
    end: float
    duration: float
    reference_time: float
    predicted_end: float
    classification: str
    policy: tuple


def quasi_stationary_episodes(time, q, dynamics: PointMassDynamics, *, threshold: float = 0.95) -> list[Episode]:
    """Cut a theory trajectory into episodes of constant policy label, with measured and predicted durations.

    Parameters
    ----------
    time : array_like, shape (time,)
        Steps (log-spaced grids resolve long transients well).
    q : array_like, shape (time, state, action)
    dynamics : PointMassDynamics
    threshold : float
        See :func:`outcome_codes`.

    Returns
    -------
    list of Episode

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, integrate_reduced, log_times, quasi_stationary_episodes
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> time = log_times(1e5, per_decade=10)
    >>> q = integrate_reduced([[0.5, 0.0], [0.0, 0.5]], dynamics, time)
    >>> [(episode.label, round(episode.start)) for episode in quasi_stationary_episodes(time, q, dynamics)]
    [('mixed/mixed', 0), ('C/mixed', 3162), ('C/C', 12589)]
    """
    dynamics.require_smooth("quasi_stationary_episodes")
    from .fixed_points import classify_point

    time = np.asarray(time, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    policy = boltzmann(q, dynamics.beta)
    n_actions = dynamics.shape[1]
    codes = outcome_codes(policy, threshold)
    labels = outcome_label(codes, n_actions)
    names = outcome_labels(*dynamics.shape, action_names(dynamics.game))
    speed = np.abs(dynamics.drift(q)).max(axis=(-2, -1))
    rare = policy < 1.0 - threshold
    episodes = []
    edges = np.flatnonzero(np.diff(labels)) + 1
    for first, last in zip(np.concatenate([[0], edges]), np.concatenate([edges, [time.size]]), strict=True):
        reference = first + int(np.argmin(speed[first:last]))
        end = float(time[last]) if last < time.size else float("inf")
        lifetime = escape_time(q[reference], dynamics, rare[reference])
        episodes.append(
            Episode(
                label=names[int(labels[first])],
                start=float(time[first]),
                end=end,
                duration=end - float(time[first]),
                reference_time=float(time[reference]),
                predicted_end=float(time[reference]) + lifetime,
                classification=classify_point(q[reference], dynamics)["kind"],
                policy=tuple(map(tuple, policy[reference].tolist())),
            )
        )
    return episodes


def transient_analysis(
    dynamics: PointMassDynamics, q0, horizon: float, *, per_decade: int = 40, threshold: float = 0.95
) -> tuple[xr.Dataset, list[Episode]]:
    """A long reduced-theory run (``solve_reduced``, DOP853) on a log time grid and its episodes.

    Parameters
    ----------
    dynamics : PointMassDynamics
    q0 : array_like, shape (state, action)
    horizon : float
        Steps (1e7-1e9 are cheap: the reduced ODE is four-dimensional for the two-state PD).
    per_decade : int
        Output times per factor 10 of time.
    threshold : float

    Returns
    -------
    dataset : xarray.Dataset
        ``q``, ``policy`` (time, state, action), ``state_fraction`` (time, state), ``drift`` (time) = max abs(μ*);
        attrs: initial condition, horizon, parameters.
    episodes : list of Episode

    Examples
    --------
    From the paper's initial Q, to 1e7 steps (``docs/analysis.md`` follows it to 1e9):

    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, transient_analysis
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> dataset, episodes = transient_analysis(dynamics, [[0.5, 0.0], [0.0, 0.5]], 1e7, per_decade=10)
    >>> dict(dataset.sizes)
    {'time': 72, 'state': 2, 'action': 2}
    >>> for episode in episodes:
    ...     print(f"{episode.label:12} {episode.start:9.3g} {episode.end:9.3g}  {episode.classification}")
    mixed/mixed          0  3.16e+03  moving
    C/mixed       3.16e+03  1.26e+04  moving
    C/C           1.26e+04     2e+06  slow
    C/mixed          2e+06       inf  slow
    """
    dynamics.require_smooth("the transient analysis")
    times = log_times(horizon, per_decade)
    trajectory = solve_reduced(
        q0,
        dynamics.game,
        times,
        initial_state_distribution=dynamics.initial_state_distribution,
        **dynamics.parameters(),
    )
    speed = np.abs(dynamics.drift(trajectory.q)).max(axis=(-2, -1))
    dataset = xr.Dataset(
        {
            "q": (("time", "state", "action"), trajectory.q),
            "policy": (("time", "state", "action"), trajectory.policy),
            "state_fraction": (("time", "state"), trajectory.state_fraction),
            "drift": (("time",), speed),
        },
        coords={"time": times, "state": np.arange(dynamics.shape[0]), "action": np.arange(dynamics.shape[1])},
        attrs={
            "kind": "theory",
            "method": "reduced",
            "initial_condition": f"point mass at Q = {np.asarray(q0).tolist()}",
            "horizon": float(horizon),
            **{k: v for k, v in dynamics.parameters().items()},
            "game": dynamics.game.name,
        },
    )
    return dataset, quasi_stationary_episodes(times, trajectory.q, dynamics, threshold=threshold)


def lifetime_scan(
    dynamics: PointMassDynamics,
    slow_point: SlowPoint,
    gaps,
    *,
    threshold: float = 0.95,
    per_decade: int = 40,
    horizon_factor: float = 20.0,
    max_horizon: float = 1e10,
) -> xr.Dataset:
    """Measured and predicted lifetime of a slow point as a function of the depth of its rare actions.

    Starts at the slow point's played Q-values with every rare action ``g`` below its state's played value,
    integrates the reduced theory, and measures the first time the policy label changes (log-interpolated
    between output times). The prediction is :func:`~marldyn.analysis.fixed_points.escape_time` at the start.

    Parameters
    ----------
    dynamics : PointMassDynamics
    slow_point : SlowPoint
    gaps : array_like, shape (gap,)
        Depths g > 0 (Q units).
    threshold : float
    per_decade : int
        Output times per decade (the resolution of the measured time).
    horizon_factor, max_horizon : float
        Each run goes to ``horizon_factor`` × its prediction, at most ``max_horizon`` steps (``inf`` is
        reported if the label has not changed by then).

    Returns
    -------
    xarray.Dataset
        ``measured``, ``predicted`` (gap,) in steps, ``beta_gap`` = β g; attrs: the slow point's label.

    Examples
    --------
    The near-full cooperation slow point, with D started 6 and 8 below C:

    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_slow_points, lifetime_scan
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> cc = next(p for p in find_slow_points(dynamics, starts=8) if p.label(["C", "D"]) == "s0: C | s1: C")
    >>> scan = lifetime_scan(dynamics, cc, [6.0, 8.0])
    >>> scan["measured"].values.round(-3), scan["predicted"].values.round(-3)  # steps
    (array([ 76000., 474000.]), array([ 82000., 431000.]))
    """
    dynamics.require_smooth("lifetime_scan")
    gaps = np.atleast_1d(np.asarray(gaps, dtype=np.float64))
    if np.any(gaps <= 0):
        raise ConfigError("gaps must be positive (Q units below the played value)")
    support = slow_point.support
    best = np.nanmax(slow_point.q, axis=1)
    starts = np.where(support, np.nan_to_num(slow_point.q), best[:, None] - gaps[:, None, None])
    predicted = np.array([escape_time(q, dynamics, ~support) for q in starts])
    measured = np.full(gaps.size, np.inf)
    for n in range(gaps.size):
        horizon = horizon_factor * (predicted[n] if np.isfinite(predicted[n]) else max_horizon)
        times = log_times(min(max(horizon, 10.0), max_horizon), per_decade)
        trajectory = integrate_reduced(starts[n], dynamics, times)
        labels = outcome_label(outcome_codes(boltzmann(trajectory, dynamics.beta), threshold), dynamics.shape[1])
        changed = np.flatnonzero(labels != labels[0])
        if changed.size:
            k = changed[0]
            measured[n] = np.sqrt(times[k - 1] * times[k]) if k > 1 else times[k]
    names = action_names(dynamics.game)
    return xr.Dataset(
        {
            "measured": (("gap",), measured),
            "predicted": (("gap",), predicted),
            "beta_gap": (("gap",), dynamics.beta * gaps),
        },
        coords={"gap": gaps},
        attrs={"slow_point": slow_point.label(names), "beta": dynamics.beta, "alpha": dynamics.alpha},
    )
