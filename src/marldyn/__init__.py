"""marldyn: learning dynamics of many Q-learning agents on a network.

Public API (everything else is private):

- :func:`load_config`, :func:`parse_config`, :class:`Config`, :class:`ConfigError`
- :class:`Game`, :func:`two_state_pd`; :class:`Graph` and the graph constructors
- :func:`simulate`, :func:`resume` — Algorithm 1 of the paper, returning an ``xarray.Dataset``
- :func:`predict` (= ``marldyn.theory.theory``) — the paper's theories on the simulator's time grid, as a Dataset
- :func:`write_dataset`, :func:`read_dataset`
"""

__version__ = "0.1.0"

from .config import Config, load_config, parse_config
from .errors import ConfigError
from .games import Game, load_game, two_state_pd
from .graphs import (
    Graph,
    barabasi_albert,
    complete,
    erdos_renyi,
    from_edges,
    from_networkx,
    lattice,
    random_regular,
    read_edgelist,
)
from .io import read_dataset, write_dataset
from .simulation.runner import SimulationError, resume, simulate
from .theory import theory as predict

__all__ = [
    "Config",
    "ConfigError",
    "Game",
    "Graph",
    "SimulationError",
    "__version__",
    "barabasi_albert",
    "complete",
    "erdos_renyi",
    "from_edges",
    "from_networkx",
    "lattice",
    "load_config",
    "load_game",
    "parse_config",
    "predict",
    "random_regular",
    "read_dataset",
    "read_edgelist",
    "resume",
    "simulate",
    "two_state_pd",
    "write_dataset",
]
