"""Runs of the simulator: initial conditions, seeds, recording, workers; returns an xarray Dataset."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from .. import __version__
from ..config import Config, load_config, parse_config
from ..errors import ConfigError
from ..games import Game
from ..graphs import Graph, from_networkx
from ..learning import rule_code
from ..policy import boltzmann
from . import kernels, reference
from .counter_rng import run_key

BACKENDS = ("numba", "numpy")


class SimulationError(RuntimeError):
    """The dynamics left the finite numbers (e.g. Q overflowed); names the run, step and agent."""


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything one run needs, as plain arrays (picklable for worker processes)."""

    edges: np.ndarray
    payoff: np.ndarray
    cum_transition: np.ndarray
    alpha: float
    beta: float
    gamma: float
    rule: int
    n_agents: int
    record_times: np.ndarray
    q_table: np.ndarray
    q_noise: float
    q_noise_distribution: str
    edge_state: str | int | np.ndarray
    initial_q: np.ndarray | None = None
    snapshots: bool = False
    backend: str = "numba"
    chunk: int = field(default=0)

    @property
    def n_states(self) -> int:
        return self.payoff.shape[0]

    @property
    def n_actions(self) -> int:
        return self.payoff.shape[1]


def record_times(steps: int, record_every: int) -> np.ndarray:
    """Recording times in steps: 0, record_every, 2 record_every, ..., and always ``steps``."""
    return np.unique(np.append(np.arange(0, steps + 1, record_every, dtype=np.int64), steps))


def initial_state(problem: Problem, seed_sequence: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
    """Initial Q (agent, state, action) and edge states (edge,) of one run.

    Q is ``initial_q`` if given, else the table plus independent noise per agent and entry
    (normal with standard deviation ``q_noise``, or uniform on ±``q_noise``). Edge states are uniform
    over states, one fixed state, or a given array.
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
    n_edges = problem.edges.shape[0]
    if isinstance(problem.edge_state, np.ndarray):
        edge_state = problem.edge_state.astype(np.int64).copy()
    elif problem.edge_state == "uniform":
        edge_state = rng.integers(0, problem.n_states, size=n_edges, dtype=np.int64)
    else:
        edge_state = np.full(n_edges, int(problem.edge_state), dtype=np.int64)
    return np.ascontiguousarray(q), edge_state


def population_summary(q: np.ndarray, edge_state: np.ndarray, beta: float, n_states: int) -> dict:
    """Population-level records of one time point.

    Returns
    -------
    dict
        ``policy`` (state, action): mean Boltzmann policy X over agents; ``q`` (state, action): mean Q;
        ``q_std`` (state, action): across-agent standard deviation of Q; ``state_fraction`` (state,):
        fraction of edges in each state.
    """
    return {
        "policy": boltzmann(q, beta).mean(axis=0),
        "q": q.mean(axis=0),
        "q_std": q.std(axis=0),
        "state_fraction": np.bincount(edge_state, minlength=n_states) / max(edge_state.size, 1),
    }


def advance(problem: Problem, q, edge_state, key, first_step: int, n_steps: int):
    """Advance the state in place by ``n_steps`` steps with the chosen backend."""
    args = (
        problem.payoff,
        problem.cum_transition,
        problem.alpha,
        problem.beta,
        problem.gamma,
        problem.rule,
        key,
    )
    if problem.backend == "numba":
        kernels.run_steps(q, edge_state, problem.edges, *args, first_step, n_steps)
        return
    for t in range(first_step, first_step + n_steps):
        q_next, state_next = reference.step(q, edge_state, problem.edges, *args, t)
        q[...] = q_next
        edge_state[...] = state_next


def run_one(problem: Problem, run_seed: np.random.SeedSequence, run_index: int = 0, progress=None) -> dict:
    """Simulate one run and return its records as arrays with a leading time axis."""
    init_seed, dynamics_seed = run_seed.spawn(2)
    key = run_key(dynamics_seed)
    q, edge_state = initial_state(problem, init_seed)
    times = problem.record_times
    records = {name: [] for name in ("policy", "q", "q_std", "state_fraction")}
    snapshots = {"agent_q": [], "agent_edge_state": []}
    step = 0
    for target in times:
        if target > step:
            start_q, start_state = q.copy(), edge_state.copy()
            advance(problem, q, edge_state, key, step, int(target - step))
            if not np.all(np.isfinite(q)):
                _raise_non_finite(problem, start_q, start_state, key, step, run_index)
            if progress is not None:
                progress(int(target - step))
            step = int(target)
        for name, value in population_summary(q, edge_state, problem.beta, problem.n_states).items():
            records[name].append(value)
        if problem.snapshots:
            snapshots["agent_q"].append(q.copy())
            snapshots["agent_edge_state"].append(edge_state.copy())
    result = {name: np.stack(values) for name, values in records.items()}
    if problem.snapshots:
        result.update({name: np.stack(values) for name, values in snapshots.items()})
    return result


def _raise_non_finite(problem, q, edge_state, key, first_step, run_index):
    """Replay a chunk step by step to name the first step and agent whose Q is not finite."""
    step = first_step
    while True:
        advance(problem, q, edge_state, key, step, 1)
        step += 1
        bad = ~np.all(np.isfinite(q), axis=(1, 2))
        if np.any(bad):
            agent = int(np.flatnonzero(bad)[0])
            raise SimulationError(
                f"run {run_index}: Q of agent {agent} became non-finite at step {step} "
                f"(values overflowed; reduce the payoff scale, alpha or gamma)"
            )


def _run_worker(args):
    problem, run_seed, run_index = args
    return run_one(problem, run_seed, run_index)


def simulate(
    config: Config | dict | str | Path,
    *,
    graph: Graph | None = None,
    initial_q: np.ndarray | None = None,
    initial_edge_state: np.ndarray | None = None,
    workers: int = 1,
    snapshots: bool = False,
    backend: str = "numba",
    progress: bool | None = None,
) -> xr.Dataset:
    """Simulate Algorithm 1 for ``config.run.runs`` independent runs.

    Parameters
    ----------
    config : Config, dict or path
        A validated :class:`~marldyn.config.Config`, a dict in the TOML schema, or a TOML file path.
    graph : Graph or networkx.Graph, optional
        Use this graph instead of ``[graph]``.
    initial_q : ndarray, shape (agent, state, action) or (state, action), optional
        Initial Q-values for every run, instead of ``[init] q`` and ``q_noise``.
    initial_edge_state : ndarray of int, shape (edge,), optional
        Initial state of every edge (in ``graph.edges`` order), instead of ``[init] edge_state``.
    workers : int
        Number of processes for the runs. The result does not depend on it.
    snapshots : bool
        Also record every agent's Q (``agent_q``) and every edge's state (``agent_edge_state``).
    backend : {"numba", "numpy"}
        The compiled kernel (default) or the plain numpy reference (bit-identical, slow).
    progress : bool, optional
        Show a progress bar; by default only on a terminal.

    Returns
    -------
    xarray.Dataset
        ``policy``, ``q``, ``q_std`` (run, time, state, action) and ``state_fraction`` (run, time, state),
        with ``time`` in steps; attributes hold the config as TOML, the package version and the seed.
    """
    config = _as_config(config)
    game = config.build_game()
    graph = _as_graph(graph) if graph is not None else config.build_graph()
    problem = make_problem(config, game, graph, initial_q, initial_edge_state, snapshots, backend)
    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
    runs = config.run.runs
    run_seeds = np.random.SeedSequence(config.run.seed).spawn(runs)
    total = runs * int(problem.record_times[-1])
    show = progress if progress is not None else None
    with tqdm(total=total, unit="step", desc="simulate", disable=_disable(show)) as bar:
        if workers == 1 or runs == 1:
            results = [run_one(problem, run_seeds[r], r, bar.update) for r in range(runs)]
        else:
            context = get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, runs), mp_context=context) as pool:
                results = []
                for result in pool.map(_run_worker, [(problem, run_seeds[r], r) for r in range(runs)]):
                    results.append(result)
                    bar.update(int(problem.record_times[-1]))
    return to_dataset(results, problem, config, game, graph)


def _disable(progress: bool | None) -> bool | None:
    if progress is None:
        return None if os.environ.get("MARLDYN_PROGRESS", "1") != "0" else True
    return not progress


def make_problem(config, game, graph, initial_q=None, initial_edge_state=None, snapshots=False, backend="numba"):
    """Validate API-level inputs against the game and graph and pack them into a :class:`Problem`."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend = {backend!r} must be one of {', '.join(BACKENDS)}")
    shape = (graph.n_agents, game.n_states, game.n_actions)
    if initial_q is not None:
        initial_q = np.asarray(initial_q, dtype=np.float64)
        if initial_q.shape not in (shape, shape[1:]):
            raise ConfigError(f"initial_q must have shape {shape} or {shape[1:]}, got {initial_q.shape}")
        if not np.all(np.isfinite(initial_q)):
            raise ConfigError("initial_q contains NaN or infinite values")
    edge_state = config.init.edge_state
    if initial_edge_state is not None:
        edge_state = np.asarray(initial_edge_state)
        if edge_state.shape != (graph.n_edges,) or edge_state.dtype.kind not in "iu":
            raise ConfigError(f"initial_edge_state must be integers of shape ({graph.n_edges},)")
        if np.any((edge_state < 0) | (edge_state >= game.n_states)):
            raise ConfigError(f"initial_edge_state values must be states in 0..{game.n_states - 1}")
    return Problem(
        edges=np.ascontiguousarray(graph.edges),
        payoff=np.ascontiguousarray(game.payoff),
        cum_transition=np.ascontiguousarray(game.cumulative_transition()),
        alpha=config.learning.alpha,
        beta=config.learning.beta,
        gamma=config.learning.gamma,
        rule=rule_code(config.learning.rule),
        n_agents=graph.n_agents,
        record_times=record_times(config.run.steps, config.run.record_every),
        q_table=config.initial_q_table(game),
        q_noise=config.init.q_noise,
        q_noise_distribution=config.init.q_noise_distribution,
        edge_state=edge_state,
        initial_q=initial_q,
        snapshots=snapshots,
        backend=backend,
    )


def to_dataset(results: list[dict], problem: Problem, config: Config, game: Game, graph: Graph) -> xr.Dataset:
    """Stack per-run records into the output Dataset (names and dims as documented in ``simulate``)."""
    stacked = {name: np.stack([r[name] for r in results]) for name in results[0]}
    coords = {
        "run": np.arange(len(results)),
        "time": problem.record_times,
        "state": np.arange(game.n_states),
        "action": np.arange(game.n_actions),
    }
    variables = {
        "policy": (("run", "time", "state", "action"), stacked["policy"]),
        "q": (("run", "time", "state", "action"), stacked["q"]),
        "q_std": (("run", "time", "state", "action"), stacked["q_std"]),
        "state_fraction": (("run", "time", "state"), stacked["state_fraction"]),
    }
    if "agent_q" in stacked:
        coords["agent"] = np.arange(graph.n_agents)
        coords["edge"] = np.arange(graph.n_edges)
        variables["agent_q"] = (("run", "time", "agent", "state", "action"), stacked["agent_q"])
        variables["agent_edge_state"] = (("run", "time", "edge"), stacked["agent_edge_state"])
    dataset = xr.Dataset(variables, coords=coords)
    dataset["time"].attrs.update(units="steps", long_name="time (simulator steps)")
    dataset["policy"].attrs["long_name"] = "population mean Boltzmann policy X(s, a)"
    dataset["q"].attrs["long_name"] = "population mean Q(s, a)"
    dataset["q_std"].attrs["long_name"] = "across-agent standard deviation of Q(s, a)"
    dataset["state_fraction"].attrs["long_name"] = "fraction of edges in state s"
    dataset.attrs.update(
        kind="simulation",
        method="simulation",
        config=config.to_toml(),
        marldyn_version=__version__,
        seed=config.run.seed,
        game=game.name,
        graph=graph.name,
        n_agents=graph.n_agents,
        n_edges=graph.n_edges,
        backend=problem.backend,
        initial_condition=describe_initial_condition(problem),
        horizon=int(problem.record_times[-1]),
    )
    return dataset


def describe_initial_condition(problem: Problem) -> str:
    """One line saying how Q and the edge states started (recorded in every output)."""
    if problem.initial_q is not None:
        q_text = f"Q given as an array of shape {problem.initial_q.shape}"
    else:
        q_text = f"Q = {problem.q_table.tolist()}"
        if problem.q_noise > 0:
            q_text += f" + {problem.q_noise_distribution} noise of scale {problem.q_noise} per agent and entry"
    if isinstance(problem.edge_state, np.ndarray):
        state_text = "edge states given as an array"
    elif problem.edge_state == "uniform":
        state_text = "edge states uniform over states"
    else:
        state_text = f"all edges in state {problem.edge_state}"
    return f"{q_text}; {state_text}"


def _as_config(config) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    if isinstance(config, str | Path):
        return load_config(config)
    raise ConfigError(f"config must be a Config, a dict or a TOML path, got {type(config).__name__}")


def _as_graph(graph) -> Graph:
    if isinstance(graph, Graph):
        return graph
    try:
        import networkx as nx
    except ImportError:  # pragma: no cover
        nx = None
    if nx is not None and isinstance(graph, nx.Graph):
        return from_networkx(graph)
    raise ConfigError(f"graph must be a marldyn Graph or a networkx graph, got {type(graph).__name__}")
