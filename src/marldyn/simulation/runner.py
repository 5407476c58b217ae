"""Runs of the simulator: initial conditions, seeds, recording, worker threads; returns an xarray Dataset."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__, memory
from ..agents import TYPE_RECORDS, type_records
from ..config import Config, as_config
from ..errors import ConfigError, SimulationError
from ..graphs import Graph, as_graph
from ..progress import progress_bar
from . import kernels, reference
from .checkpoint import load_run, problem_sizes, read_problem, save_run, write_problem
from .problem import BACKENDS, Problem, agent_types, initial_state, make_problem, record_times, run_streams

# Problem, make_problem, initial_state, run_streams and record_times live in .problem (shared with the
# checkpoint); they stay importable from here.
__all__ = [
    "BACKENDS",
    "Problem",
    "default_workers",
    "estimate_memory",
    "initial_state",
    "make_problem",
    "record_times",
    "resume",
    "run_one",
    "run_streams",
    "simulate",
    "to_dataset",
]


def population_summary(q: np.ndarray, edge_state: np.ndarray, learners, agent_type: np.ndarray, n_states: int) -> dict:
    """Population-level records of one time point.

    Returns
    -------
    dict
        ``policy`` (state, action): mean policy X over agents (each agent's own policy: Boltzmann, ε-greedy or
        committed); ``q`` (state, action): mean Q; ``q_std`` (state, action): across-agent standard deviation of
        Q; ``state_fraction`` (state,): fraction of edges in each state; with configured agent types also
        ``policy_by_type``, ``q_by_type`` (agent_type, state, action): the means over each type's agents (NaN
        for a type without agents).
    """
    policy = learners.policies(q, agent_type)
    summary = {
        "policy": policy.mean(axis=0),
        "q": q.mean(axis=0),
        "q_std": q.std(axis=0),
        "state_fraction": np.bincount(edge_state, minlength=n_states) / max(edge_state.size, 1),
    }
    if learners.typed:
        summary.update(type_records(policy, q, agent_type, learners.n_types))
    return summary


PARALLEL_THRESHOLD = 50_000  # agent-states per step from which the threaded kernel pays off


def use_threads(problem: Problem) -> bool:
    """Whether the threaded kernel is used: large populations only (a parallel section costs ~20 µs)."""
    import numba

    return (
        problem.backend == "numba"
        and not problem.grouped  # group games have the serial kernel only
        and numba.get_num_threads() > 1
        and problem.n_agents * problem.n_states >= PARALLEL_THRESHOLD
    )


def advance(problem: Problem, q, edge_state, agent_type, key, first_step: int, n_steps: int, incidence=None):
    """Advance the state in place by ``n_steps`` steps with the chosen backend.

    ``agent_type`` (agent,) is the run's assignment of agents to types (:func:`agent_types`). ``incidence``
    (from :func:`kernels.incidence`) selects the threaded kernel; all three backends (threaded, serial numba,
    numpy) give bit-identical results.
    """
    args = (problem.payoff, problem.cum_transition, problem.learners, agent_type, key)
    if problem.grouped:
        groups = (problem.group_pointer, problem.group_member, problem.group_size_index)
        if problem.backend == "numba":
            kernels.run_group_steps(q, edge_state, *groups, *args, first_step, n_steps)
            return
        for t in range(first_step, first_step + n_steps):
            q_next, state_next = reference.group_step(q, edge_state, *groups, *args, t)
            q[...] = q_next
            edge_state[...] = state_next
    elif problem.backend == "numba" and incidence is not None:
        kernels.run_steps_parallel(q, edge_state, problem.edges, *args, first_step, n_steps, *incidence)
    elif problem.backend == "numba":
        kernels.run_steps(q, edge_state, problem.edges, *args, first_step, n_steps)
    else:
        for t in range(first_step, first_step + n_steps):
            q_next, state_next = reference.step(q, edge_state, problem.edges, *args, t)
            q[...] = q_next
            edge_state[...] = state_next


RECORDS = ("policy", "q", "q_std", "state_fraction")
SNAPSHOTS = ("agent_q", "agent_edge_state")


def run_one(
    problem: Problem,
    stream: tuple[np.random.SeedSequence, np.uint64],
    run_index: int = 0,
    progress=None,
    checkpoint: Path | None = None,
    checkpoint_every: int = 0,
    allow_threads: bool = True,
) -> dict:
    """Simulate one run and return its records as arrays with a leading time axis.

    With ``checkpoint`` (a directory) the run's state is saved there every ``checkpoint_every`` steps (and
    when it ends), and a run that already has a checkpoint continues from it. ``progress(n)`` is called after
    every ``n`` steps. ``allow_threads=False`` forces the serial kernel (required when several runs share
    the process: numba's default threading layer must not be entered from several threads at once);
    otherwise the threaded kernel is used where :func:`use_threads` says it pays off.
    """
    init_seed, key, type_seed = stream
    agent_type = agent_types(problem, type_seed)
    saved = load_run(checkpoint, run_index) if checkpoint is not None else None
    names = RECORDS + (TYPE_RECORDS if problem.learners.typed else ()) + (SNAPSHOTS if problem.snapshots else ())
    if saved is None:
        q, edge_state = initial_state(problem, init_seed)
        step, records = 0, {name: [] for name in names}
    else:
        step, q, edge_state, records = saved
        if progress is not None:
            progress(step)
    due = checkpoint is not None and checkpoint_every > 0
    threads = kernels.incidence(problem.edges, problem.n_agents) if allow_threads and use_threads(problem) else None
    last_saved = step
    for target in problem.record_times[len(records["q"]) :]:
        while step < target:
            piece = int(target - step) if not due else min(int(target - step), checkpoint_every)
            advance(problem, q, edge_state, agent_type, key, step, piece, threads)
            if not np.isfinite(q).all():
                _raise_non_finite(problem, stream, run_index, checkpoint, step)
            if progress is not None:
                progress(piece)
            step += piece
            if due and step - last_saved >= checkpoint_every:
                save_run(checkpoint, run_index, step, q, edge_state, records)
                last_saved = step
        for name, value in population_summary(q, edge_state, problem.learners, agent_type, problem.n_states).items():
            records[name].append(value)
        if problem.snapshots:
            records["agent_q"].append(q.copy())
            records["agent_edge_state"].append(edge_state.copy())
    if due:  # the finished run, so that a resumed simulation does not run it again
        save_run(checkpoint, run_index, step, q, edge_state, records)
    return {"agent_type": agent_type, **{name: np.stack(values) for name, values in records.items()}}


def _raise_non_finite(problem, stream, run_index, checkpoint, chunk_start):
    """Name the first step and agent whose Q is not finite, by replaying the run (it is deterministic).

    The replay starts from the run's checkpoint (always finite) or its initial state, runs to the start of
    the failing chunk, then goes step by step; this keeps the normal path free of state copies.
    """
    init_seed, key, type_seed = stream
    agent_type = agent_types(problem, type_seed)
    saved = load_run(checkpoint, run_index) if checkpoint is not None else None
    if saved is not None and saved[0] <= chunk_start:
        step, q, edge_state, _ = saved
    else:
        (q, edge_state), step = initial_state(problem, init_seed), 0
    advance(problem, q, edge_state, agent_type, key, step, chunk_start - step)
    step = chunk_start
    while True:
        advance(problem, q, edge_state, agent_type, key, step, 1)
        step += 1
        bad = ~np.all(np.isfinite(q), axis=(1, 2))
        if np.any(bad):
            agent = int(np.flatnonzero(bad)[0])
            raise SimulationError(
                f"run {run_index}: Q of agent {agent} became non-finite at step {step} "
                f"(values overflowed; reduce the payoff scale, alpha or gamma)"
            )


def simulate(
    config: Config | dict | str | Path,
    *,
    graph: Graph | None = None,
    initial_q: np.ndarray | None = None,
    initial_edge_state: np.ndarray | None = None,
    workers: int | None = None,
    snapshots: bool = False,
    backend: str = "numba",
    progress: bool | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 0,
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
    workers : int, optional
        Number of threads running independent runs at the same time (each run on the serial kernel; one
        worker keeps the threaded kernel for large populations). Default: one per usable core
        (:func:`default_workers`), at most one per run, and fewer if their state would not fit in the
        available memory. The result does not depend on it. Code that already runs in a pool of workers
        (e.g. dask workers) should pass ``workers=1``.
    snapshots : bool
        Also record every agent's Q (``agent_q``) and every edge's state (``agent_edge_state``), in the
        simulated numbering; after ``[graph] order = "rcm"`` the coordinate ``agent_label`` gives each agent's
        id in the input graph (per-agent inputs such as ``initial_q`` also follow the simulated numbering).
    backend : {"numba", "numpy"}
        The compiled kernel (default) or the plain numpy reference (bit-identical, slow).
    progress : bool, optional
        Show a progress bar; by default only on a terminal.
    checkpoint : path, optional
        A new directory where every run's full state is saved every ``checkpoint_every`` steps (atomically);
        :func:`resume` continues from it to the result an uninterrupted call would give, bit for bit.
    checkpoint_every : int
        Steps between checkpoints (> 0 with ``checkpoint``).

    Returns
    -------
    xarray.Dataset
        ``policy``, ``q``, ``q_std`` (run, time, state, action) and ``state_fraction`` (run, time, state),
        with ``time`` in steps; attributes hold the config as TOML, the package version and the seed.

    Examples
    --------
    Two runs of 16 agents on a 4 x 4 lattice, recorded every 500 steps:

    >>> import marldyn
    >>> config = {
    ...     "graph": {"kind": "lattice", "n": 16},
    ...     "learning": {"alpha": 0.05},
    ...     "run": {"steps": 1000, "runs": 2, "record_every": 500, "seed": 1},
    ... }
    >>> result = marldyn.simulate(config)
    >>> dict(result.sizes)
    {'run': 2, 'time': 3, 'state': 2, 'action': 2}
    >>> result.policy.sel(action=0).mean("run").round(3).values  # P(cooperate) in (s1, s2) at t = 0, 500, 1000
    array([[0.5  , 0.5  ],
           [0.486, 0.534],
           [0.62 , 0.525]])

    The numpy reference gives the same numbers bit for bit; any networkx graph can replace ``[graph]``:

    >>> marldyn.simulate(config, backend="numpy").policy.equals(result.policy)
    True
    >>> import networkx as nx
    >>> karate = marldyn.simulate(config, graph=nx.karate_club_graph())
    >>> karate.attrs["n_agents"], karate.attrs["n_edges"]
    (34, 78)
    """
    config = as_config(config)
    _check_workers(workers)
    graph = as_graph(graph) if graph is not None else None
    what = f"the simulation ({_graph_text(config, graph)}, {config.run.runs} runs)"
    needed = memory.simulation_memory(config, workers, snapshots, graph=graph)
    memory.require_memory(needed, what, hint=_MEMORY_HINT)  # before anything large exists, the graph included
    game = config.build_game()
    graph = graph if graph is not None else config.build_graph()
    problem = make_problem(config, game, graph, initial_q, initial_edge_state, snapshots, backend)
    meta = {
        "config": config.to_toml(),
        "seed": config.run.seed,
        "runs": config.run.runs,
        "game": game.name,
        "graph": graph.name,
        "n_edges": graph.n_edges,
        "checkpoint_every": int(checkpoint_every),
    }
    if checkpoint is not None:
        checkpoint = Path(checkpoint)
        if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every = {checkpoint_every!r} must be an integer >= 1 with a checkpoint")
        if (checkpoint / "meta.json").exists():
            raise ConfigError(f"checkpoint {checkpoint} exists already; resume it or remove it")
        write_problem(checkpoint, problem, meta)
    results = _execute(problem, meta, workers, progress, checkpoint, int(checkpoint_every))
    return to_dataset(results, problem, meta)


def resume(checkpoint: str | Path, *, workers: int | None = None, progress: bool | None = None) -> xr.Dataset:
    """Continue a checkpointed :func:`simulate` call to its result (bit-identical to an uninterrupted run).

    Parameters
    ----------
    checkpoint : path
        The directory given to ``simulate(..., checkpoint=...)``.
    workers : int, optional
        Threads for the runs, as in :func:`simulate` (default: one per usable core; the result does not
        depend on it).
    progress : bool, optional
        Progress bar (default: on a terminal).

    Returns
    -------
    xarray.Dataset
        As :func:`simulate` returns it.

    Examples
    --------
    A checkpointed simulation saves every run's state every 200 steps into ``checkpoint/``; after an
    interruption (here there is none: every run is complete and only its records are read back),
    :func:`resume` gives exactly the uninterrupted result:

    >>> import marldyn
    >>> config = {"graph": {"kind": "lattice", "n": 16}, "run": {"steps": 1000, "runs": 2, "record_every": 500}}
    >>> result = marldyn.simulate(config, checkpoint="checkpoint", checkpoint_every=200)
    >>> marldyn.resume("checkpoint").identical(result)
    True
    """
    _check_workers(workers)
    sizes = problem_sizes(Path(checkpoint))  # from the small files: nothing large is read yet
    needed = (
        16 * sizes["n_edges"]
        + 8 * sizes["n_agents"]
        + memory.run_memory(
            sizes["n_agents"],
            sizes["n_edges"],
            sizes["n_states"],
            sizes["n_actions"],
            runs=sizes["runs"],
            records=sizes["records"],
            concurrent=1 if workers is None else min(workers, sizes["runs"]),
            snapshots=sizes["snapshots"],
        )
    )
    what = f"resuming the simulation ({sizes['n_agents']} agents, {sizes['runs']} runs)"
    memory.require_memory(needed, what, hint=_MEMORY_HINT)
    problem, meta = read_problem(Path(checkpoint))
    return to_dataset(
        _execute(problem, meta, workers, progress, Path(checkpoint), meta["checkpoint_every"]), problem, meta
    )


def default_workers(runs: int) -> int:
    """Worker threads for ``workers=None``: the usable cores (CPU affinity where available), at most ``runs``."""
    cores = os.cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        cores = min(cores, len(os.sched_getaffinity(0)))
    return max(1, min(runs, cores))


def _check_workers(workers) -> None:
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers = {workers!r} must be an integer >= 1 (or None: one per usable core)")


def _graph_text(config: Config, graph: Graph | None) -> str:
    """The graph in a memory message: the given graph's size, or the ``[graph]`` section's kind and n."""
    if graph is not None:
        return f"{graph.n_agents} agents, {graph.n_edges} edges"
    section = config.graph
    if section.kind == "edgelist":
        return f"edge list {section.path}" + (f", n = {section.n}" if section.n is not None else "")
    return f"{section.kind} graph, n = {section.n:,}"


def _execute(problem: Problem, meta: dict, workers, progress, checkpoint, checkpoint_every) -> list[dict]:
    """Run all runs (serially or on worker threads) and return their records in run order."""
    runs = meta["runs"]
    _check_workers(workers)
    if workers is None:
        workers = default_workers(runs)
        available = memory.available_memory()
        while workers > 1 and available is not None and estimate_memory(problem, runs, workers) > available:
            workers -= 1
    workers = min(workers, runs)
    check_memory(problem, runs, workers)
    streams = run_streams(meta["seed"], runs)
    total = runs * int(problem.record_times[-1])
    with progress_bar(progress, total=total, unit="step", desc="simulate") as bar:
        if workers == 1:
            return [run_one(problem, streams[r], r, bar.update, checkpoint, checkpoint_every) for r in range(runs)]
        return _execute_threads(problem, streams, workers, bar, checkpoint, checkpoint_every)


class _Stopped(Exception):
    """Raised inside a run on a worker thread when the simulation has been abandoned."""


def _execute_threads(problem, streams, workers, bar, checkpoint, checkpoint_every) -> list[dict]:
    """Run the runs on ``workers`` threads, each on the serial kernel (it releases the GIL).

    Results come back in run order, so they are those of a serial execution. If anything fails (a run, or
    Ctrl-C in the calling thread), runs not yet started are cancelled and the running ones stop at their next
    piece of steps.
    """
    lock, stop = threading.Lock(), threading.Event()

    def advanced(n_steps: int) -> None:
        if stop.is_set():
            raise _Stopped
        with lock:
            bar.update(n_steps)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="marldyn-run")
    try:
        futures = [
            pool.submit(run_one, problem, stream, r, advanced, checkpoint, checkpoint_every, allow_threads=False)
            for r, stream in enumerate(streams)
        ]
        return [future.result() for future in futures]
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def estimate_memory(problem: Problem, runs: int, concurrent: int) -> int:
    """Bytes the runs of ``problem`` need beyond its graph (:func:`marldyn.memory.run_memory`).

    ``concurrent`` is the number of runs in flight at once (the worker threads).
    """
    return memory.run_memory(
        problem.n_agents,
        problem.edges.shape[0],
        problem.n_states,
        problem.n_actions,
        runs=runs,
        records=problem.record_times.size,
        concurrent=concurrent,
        snapshots=problem.snapshots,
    )


def check_memory(problem: Problem, runs: int, concurrent: int) -> None:
    """Refuse a simulation whose runs would not fit in the available memory (the graph exists already)."""
    memory.require_memory(
        estimate_memory(problem, runs, concurrent),
        f"the simulation ({problem.n_agents} agents, {runs} runs, {concurrent} at once)",
        hint=_MEMORY_HINT,
    )


_MEMORY_HINT = "fewer agents, workers, runs or records, no snapshots, or a machine with more memory"


def to_dataset(results: list[dict], problem: Problem, meta: dict) -> xr.Dataset:
    """Stack per-run records into the output Dataset (names and dims as documented in ``simulate``)."""
    stacked = {name: np.stack([r[name] for r in results]) for name in results[0]}
    coords = {
        "run": np.arange(len(results)),
        "time": problem.record_times,
        "state": np.arange(problem.n_states),
        "action": np.arange(problem.n_actions),
    }
    variables = {
        "policy": (("run", "time", "state", "action"), stacked["policy"]),
        "q": (("run", "time", "state", "action"), stacked["q"]),
        "q_std": (("run", "time", "state", "action"), stacked["q_std"]),
        "state_fraction": (("run", "time", "state"), stacked["state_fraction"]),
    }
    learners = problem.learners
    if learners.typed:
        coords["agent_type"] = np.array(learners.names, dtype=object)
        coords["agent"] = np.arange(problem.n_agents)
        for name in TYPE_RECORDS:
            variables[name] = (("run", "time", "agent_type", "state", "action"), stacked[name])
        variables["agent_type_index"] = (("run", "agent"), stacked["agent_type"])
    if "agent_q" in stacked:
        site = "group" if problem.grouped else "edge"
        coords["agent"] = np.arange(problem.n_agents)
        coords[site] = np.arange(problem.n_sites)
        if problem.agent_label is not None:  # [graph] order = "rcm": the id each agent had in the input graph
            coords["agent_label"] = ("agent", np.asarray(problem.agent_label))
        variables["agent_q"] = (("run", "time", "agent", "state", "action"), stacked["agent_q"])
        variables[f"agent_{site}_state"] = (("run", "time", site), stacked["agent_edge_state"])
    dataset = xr.Dataset(variables, coords=coords)
    dataset["time"].attrs.update(units="steps", long_name="time (simulator steps)")
    dataset["policy"].attrs["long_name"] = "population mean policy X(s, a)"
    dataset["q"].attrs["long_name"] = "population mean Q(s, a)"
    dataset["q_std"].attrs["long_name"] = "across-agent standard deviation of Q(s, a)"
    dataset["state_fraction"].attrs["long_name"] = f"fraction of {'groups' if problem.grouped else 'edges'} in state s"
    if learners.typed:
        dataset["policy_by_type"].attrs["long_name"] = "mean policy X(s, a) of each type's agents"
        dataset["q_by_type"].attrs["long_name"] = "mean Q(s, a) of each type's agents"
        dataset["agent_type_index"].attrs["long_name"] = "each agent's type, an index into the agent_type coordinate"
        dataset.attrs["agent_types"] = learners.describe()
    dataset.attrs.update(
        kind="simulation",
        method="simulation",
        config=meta["config"],
        marldyn_version=__version__,
        seed=meta["seed"],
        game=meta["game"],
        graph=meta["graph"],
        n_agents=problem.n_agents,
        n_edges=problem.edges.shape[0],
        backend=problem.backend,
        initial_condition=describe_initial_condition(problem),
        horizon=int(problem.record_times[-1]),
    )
    if problem.grouped:
        sizes = np.diff(problem.group_pointer)
        dataset.attrs.update(
            n_groups=problem.n_sites,
            group_sizes=np.unique(sizes).astype(np.int64),
            group_size_counts=np.unique(sizes, return_counts=True)[1].astype(np.int64),
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
