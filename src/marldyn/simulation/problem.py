"""What one simulation is, as plain arrays: the :class:`Problem`, its record times, seeds and initial state.

The runner (:mod:`marldyn.simulation.runner`) builds a Problem and runs it; the checkpoint
(:mod:`marldyn.simulation.checkpoint`) stores and restores it. Both import this module and neither imports the
other's internals, so there is no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..agents import Learners
from ..errors import ConfigError
from .counter_rng import run_key

__all__ = ["BACKENDS", "Problem", "agent_types", "initial_state", "make_problem", "record_times", "run_streams"]

BACKENDS = ("numba", "numpy")


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything one run needs, as plain arrays (read-only during the runs, shared by the worker threads).

    Attributes
    ----------
    edges : ndarray of int64, shape (edge, 2)
        The graph's edges (``Graph.edges``).
    payoff : ndarray, shape (state, action, action)
        Of a pairwise game; of a group game the stacked tables of its group sizes, shape (size, state, action,
        max size, state) (:meth:`marldyn.group_games.GroupGame.tables`).
    cum_transition : ndarray, shape (state, action, action, state)
        Cumulative transition probabilities (``Game.cumulative_transition()``); of a group game shape (size,
        state, max size + 1, state).
    learners : marldyn.agents.Learners
        The agent types: each type's policy, rule and parameters, and how agents are assigned to types.
    n_agents : int
    record_times : ndarray of int64, shape (time,)
        Steps at which the records are taken (:func:`record_times`).
    q_table : ndarray, shape (state, action)
        The initial table of every agent (``[init] q``).
    q_noise : float
    q_noise_distribution : {"normal", "uniform"}
    edge_state : "uniform", int or ndarray of int, shape (edge,)
        The initial edge states.
    initial_q : ndarray, shape (agent, state, action) or (state, action), optional
        Given initial Q (instead of the table and the noise).
    snapshots : bool
        Also record every agent's Q and every edge's state.
    backend : {"numba", "numpy"}
    agent_label : ndarray of int64, shape (agent,), optional
        Original agent ids of a reordered graph (``Graph.labels``).
    group_pointer, group_member : ndarray of int64, optional
        A group game's groups as CSR (:class:`marldyn.groups.Groups`); ``None`` for a pairwise game. The
        "edge states" are then the groups' states, shape (group,).
    group_size_index : ndarray of int64, shape (group,), optional
        Each group's index into the first axis of ``payoff`` and ``cum_transition``.

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"n": 9}, "run": {"steps": 10, "record_every": 5}})
    >>> problem = make_problem(config, config.build_game(), config.build_graph())
    >>> problem.n_agents, problem.n_states, problem.record_times.tolist()
    (9, 2, [0, 5, 10])
    """

    edges: np.ndarray
    payoff: np.ndarray
    cum_transition: np.ndarray
    learners: Learners
    n_agents: int
    record_times: np.ndarray
    q_table: np.ndarray
    q_noise: float
    q_noise_distribution: str
    edge_state: str | int | np.ndarray
    initial_q: np.ndarray | None = None
    snapshots: bool = False
    backend: str = "numba"
    agent_label: np.ndarray | None = None
    group_pointer: np.ndarray | None = None
    group_member: np.ndarray | None = None
    group_size_index: np.ndarray | None = None

    @property
    def n_states(self) -> int:
        """K, the number of states."""
        return self.q_table.shape[0]

    @property
    def n_actions(self) -> int:
        """M, the number of actions."""
        return self.q_table.shape[1]

    @property
    def grouped(self) -> bool:
        """Whether a group game is played (in groups), not a pairwise game (on the edges)."""
        return self.group_pointer is not None

    @property
    def n_sites(self) -> int:
        """The number of places that carry a state: groups of a group game, edges of a pairwise game."""
        return int(self.group_pointer.size - 1) if self.grouped else int(self.edges.shape[0])


def record_times(steps: int, record_every: int) -> np.ndarray:
    """Recording times in steps: 0, record_every, 2 record_every, ..., and always ``steps``.

    Examples
    --------
    >>> record_times(10, 3).tolist()
    [0, 3, 6, 9, 10]
    """
    return np.unique(np.append(np.arange(0, steps + 1, record_every, dtype=np.int64), steps))


def run_streams(seed: int, runs: int) -> list[tuple[np.random.SeedSequence, np.uint64, np.random.SeedSequence]]:
    """Per run: the seed sequence of its initial condition, the key of its random stream and the seed sequence
    of its agents' types.

    Run r uses the child ``SeedSequence(seed).spawn(runs)[r]``, whose children 0, 1 and 2 seed the initial
    condition, the dynamics and the assignment of agents to types (``Learners.assign``). Derived from the spawn
    keys, so calling this twice gives the same streams, and a run's streams do not depend on ``runs``.

    Examples
    --------
    >>> first, again = run_streams(7, 3), run_streams(7, 5)
    >>> len(first), bool(first[2][1] == again[2][1])
    (3, True)
    """
    streams = []
    for child in np.random.SeedSequence(seed).spawn(runs):
        init_seed, dynamics_seed, type_seed = (
            np.random.SeedSequence(child.entropy, spawn_key=child.spawn_key + (k,)) for k in range(3)
        )
        streams.append((init_seed, run_key(dynamics_seed), type_seed))
    return streams


def initial_state(problem: Problem, seed_sequence: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Initial Q (agent, state, action) and edge states (edge,) of one run.

    Q is ``initial_q`` if given, else the table plus independent noise per agent and entry
    (normal with standard deviation ``q_noise``, or uniform on ±``q_noise``). Edge states are uniform
    over states, one fixed state, or a given array.

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"n": 9}, "init": {"edge_state": 1}})
    >>> problem = make_problem(config, config.build_game(), config.build_graph())
    >>> q, states = initial_state(problem, run_streams(0, 1)[0][0])
    >>> q.shape, states.tolist() == [1] * 18
    ((9, 2, 2), True)
    """
    rng = np.random.default_rng(seed_sequence)
    shape = (problem.n_agents, problem.n_states, problem.n_actions)
    if problem.initial_q is not None:
        q = np.array(np.broadcast_to(problem.initial_q, shape), dtype=np.float64)
    else:
        q = np.broadcast_to(problem.q_table, shape).astype(np.float64)
        if problem.q_noise > 0:
            if problem.q_noise_distribution == "normal":
                q = q + rng.normal(0.0, problem.q_noise, size=shape)
            else:
                q = q + rng.uniform(-problem.q_noise, problem.q_noise, size=shape)
    n_edges = problem.n_sites
    if isinstance(problem.edge_state, np.ndarray):
        edge_state = problem.edge_state.astype(np.int64).copy()
    elif problem.edge_state == "uniform":
        edge_state = rng.integers(0, problem.n_states, size=n_edges, dtype=np.int64)
    else:
        edge_state = np.full(n_edges, int(problem.edge_state), dtype=np.int64)
    return np.ascontiguousarray(q), edge_state


def agent_types(problem: Problem, type_seed: np.random.SeedSequence) -> np.ndarray:
    """Each agent's type (agent,) int64 in one run, from the run's type seed (the third of :func:`run_streams`).

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"n": 9}, "agent_types": [{"name": "fast", "fraction": 0.3,
    ...                                                                     "alpha": 0.01}]})
    >>> problem = make_problem(config, config.build_game(), config.build_graph())
    >>> [int((agent_types(problem, stream[2]) == 1).sum()) for stream in run_streams(0, 3)]  # round(0.3 * 9)
    [3, 3, 3]
    """
    return problem.learners.assign(problem.n_agents, type_seed)


def make_problem(
    config, game, graph, initial_q=None, initial_edge_state=None, snapshots=False, backend="numba", groups=None
) -> Problem:
    """Validate API-level inputs against the game and graph and pack them into a :class:`Problem`.

    Parameters
    ----------
    config : Config
    game : Game or GroupGame
    graph : Graph
    initial_q : array_like, shape (agent, state, action) or (state, action), optional
    initial_edge_state : array_like of int, shape (edge,) (a group game: (group,)), optional
    snapshots : bool
    backend : {"numba", "numpy"}
    groups : Groups, optional
        The groups of a group game (default: ``config.build_groups``).

    Raises
    ------
    ConfigError
        An unknown backend, or initial arrays of the wrong shape or with values out of range.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend = {backend!r} must be one of {', '.join(BACKENDS)}")
    shape = (graph.n_agents, game.n_states, game.n_actions)
    if initial_q is not None:
        initial_q = np.asarray(initial_q, dtype=np.float64)
        if initial_q.shape not in (shape, shape[1:]):
            raise ConfigError(f"initial_q must have shape {shape} or {shape[1:]}, got {initial_q.shape}")
        if not np.all(np.isfinite(initial_q)):
            raise ConfigError("initial_q contains NaN or infinite values")
    if groups is None:
        groups = config.build_groups(graph, game)
    if groups is not None:
        if groups.n_agents != graph.n_agents:
            raise ConfigError(f"groups: {groups.n_agents} agents, but the graph has {graph.n_agents}")
        payoff, cum_transition = game.tables(groups.distinct_sizes)
        n_sites, grouping = groups.n_groups, (groups.pointer, groups.member, groups.size_index())
    else:
        payoff, cum_transition = game.payoff, game.cumulative_transition()
        n_sites, grouping = graph.n_edges, (None, None, None)
    edge_state = config.init.edge_state
    if initial_edge_state is not None:
        edge_state = np.asarray(initial_edge_state)
        if edge_state.shape != (n_sites,) or edge_state.dtype.kind not in "iu":
            what = "group" if groups is not None else "edge"
            raise ConfigError(f"initial_edge_state must be integers of shape ({n_sites},), one per {what}")
        if np.any((edge_state < 0) | (edge_state >= game.n_states)):
            raise ConfigError(f"initial_edge_state values must be states in 0..{game.n_states - 1}")
    group_pointer, group_member, group_size_index = (
        None if array is None else np.ascontiguousarray(array, dtype=np.int64) for array in grouping
    )
    return Problem(
        edges=np.ascontiguousarray(graph.edges),
        payoff=np.ascontiguousarray(payoff),
        cum_transition=np.ascontiguousarray(cum_transition),
        group_pointer=group_pointer,
        group_member=group_member,
        group_size_index=group_size_index,
        learners=config.learners(game, graph.n_agents),
        n_agents=graph.n_agents,
        record_times=record_times(config.run.steps, config.run.record_every),
        q_table=config.initial_q_table(game),
        q_noise=config.init.q_noise,
        q_noise_distribution=config.init.q_noise_distribution,
        edge_state=edge_state,
        initial_q=initial_q,
        snapshots=snapshots,
        backend=backend,
        agent_label=graph.labels,
    )
