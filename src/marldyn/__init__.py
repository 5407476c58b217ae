"""marldyn: learning dynamics of many Q-learning agents on a network.

Public API (everything else is private):

- :func:`load_config`, :func:`parse_config`, :class:`Config`, :class:`ConfigError`; :class:`Learners` (the agent
  types of a population: policies, rules, parameters, committed agents)
- :class:`Game`, :func:`two_state_pd`, :func:`load_game`; :class:`Graph` and the graph constructors
- group (N-player) games: :class:`GroupGame`, :func:`public_goods`, :func:`ecological_public_good`,
  :func:`custom_group`, :func:`as_group_game`; the groups they are played in: :class:`Groups`,
  :func:`neighborhood_groups`, :func:`pairwise_groups`, :func:`read_groups`
- :func:`simulate`, :func:`resume` — Algorithm 1 of the paper, returning an ``xarray.Dataset``
- :func:`predict` (= ``marldyn.theory.theory``) — the paper's theories on the simulator's time grid, as a Dataset;
  its methods are the option objects of :mod:`marldyn.theory` (``predict(config, Particles(n=64))`` with
  ``from marldyn.theory import Particles``) or their names for the defaults (``predict(config, "particles")``)
- :func:`write_dataset`, :func:`read_dataset`
- the errors: :class:`MarldynError` (the base), :class:`ConfigError` (user input), :class:`NumericalError` and
  its :class:`SimulationError`, :class:`DivergenceError`, :class:`ConvergenceError`; :class:`MarldynWarning`

Names are imported on first use, so ``import marldyn`` stays fast (numba, xarray and scipy load lazily).
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

# numba's parallel kernels run on OpenMP (libgomp), whose threads by default spin while they wait. On a
# machine shared with other busy processes the spinning threads steal each other's cores: a parallel
# section then took 100x longer than its serial twin (benchmarks/README.md). Sleeping waiters cost a few
# microseconds per parallel section instead. Set before numba loads the OpenMP runtime; a user's own
# setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

_LOCATIONS = {
    "Config": "config",
    "Learners": "agents",
    "load_config": "config",
    "parse_config": "config",
    "ConfigError": "errors",
    "Game": "games",
    "load_game": "games",
    "two_state_pd": "games",
    "GroupGame": "group_games",
    "as_group_game": "group_games",
    "custom_group": "group_games",
    "ecological_public_good": "group_games",
    "public_goods": "group_games",
    "Groups": "groups",
    "neighborhood_groups": "groups",
    "pairwise_groups": "groups",
    "read_groups": "groups",
    "Graph": "graphs",
    "barabasi_albert": "graphs",
    "complete": "graphs",
    "erdos_renyi": "graphs",
    "from_edges": "graphs",
    "from_networkx": "graphs",
    "lattice": "graphs",
    "lattice_side": "graphs",
    "random_regular": "graphs",
    "read_edgelist": "graphs",
    "reorder": "graphs",
    "read_dataset": "io",
    "write_dataset": "io",
    "SimulationError": "errors",
    "MarldynError": "errors",
    "NumericalError": "errors",
    "DivergenceError": "errors",
    "ConvergenceError": "errors",
    "MarldynWarning": "errors",
    "resume": "simulation.runner",
    "simulate": "simulation.runner",
    "predict": "theory.entry",
}
_RENAMED = {"predict": "theory"}

__all__ = ["__version__", *sorted(_LOCATIONS)]


def __getattr__(name: str):
    if name not in _LOCATIONS:
        raise AttributeError(f"module 'marldyn' has no attribute {name!r}")
    module = importlib.import_module(f".{_LOCATIONS[name]}", __name__)
    value = getattr(module, _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return __all__
