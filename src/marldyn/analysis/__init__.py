"""Analysis beyond the paper: fixed points and slow points, long transients, outcome maps, parameter sweeps.

- :mod:`.fixed_points`: every fixed point of the reduced point-mass dynamics μ*(Q) = 0 (multi-start root
  finding, stability, relaxation times) and the slow (quasi-stationary) points;
- :mod:`.transients`: episodes of a long theory run near quasi-stationary policies, their measured and
  predicted lifetimes (~ exp(β ΔQ) / α);
- :mod:`.maps`: outcome maps (basins at a horizon) over a grid of initial conditions, confirmed by simulation;
- :mod:`.sweep`: parameter sweeps on dask.distributed, resumable, gathered into one Dataset; phase diagrams.
"""

from ..plots import plot_outcome_map
from ._integrate import integrate_reduced
from .fixed_points import (
    ClassPointMassDynamics,
    FixedPoint,
    FixedPointSearch,
    PointMassDynamics,
    SlowPoint,
    classify_point,
    escape_time,
    find_fixed_points,
    find_slow_points,
    full_fixed_point_check,
    jacobian,
    payoff_box,
    point_mass_dynamics,
)
from .maps import Axis, confirm_with_simulation, confirmation_points, outcome_map
from .sweep import Sweep, load_sweep, parse_sweep, phase_diagram_figure, plot_phase_diagram, point_seed, run_sweep
from .transients import (
    Episode,
    action_names,
    lifetime_scan,
    log_times,
    outcome_codes,
    outcome_label,
    outcome_labels,
    quasi_stationary_episodes,
    transient_analysis,
)

__all__ = [
    "Axis",
    "ClassPointMassDynamics",
    "Episode",
    "FixedPoint",
    "FixedPointSearch",
    "PointMassDynamics",
    "SlowPoint",
    "Sweep",
    "action_names",
    "classify_point",
    "confirm_with_simulation",
    "confirmation_points",
    "escape_time",
    "find_fixed_points",
    "find_slow_points",
    "full_fixed_point_check",
    "integrate_reduced",
    "jacobian",
    "lifetime_scan",
    "load_sweep",
    "log_times",
    "outcome_codes",
    "outcome_label",
    "outcome_labels",
    "outcome_map",
    "parse_sweep",
    "payoff_box",
    "phase_diagram_figure",
    "plot_outcome_map",
    "plot_phase_diagram",
    "point_mass_dynamics",
    "point_seed",
    "quasi_stationary_episodes",
    "run_sweep",
    "transient_analysis",
]
