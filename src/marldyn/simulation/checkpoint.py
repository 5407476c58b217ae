"""Checkpoints of running simulations: everything needed to continue bit-identically, written atomically.

A checkpoint directory holds

- ``problem.npz``: the arrays of the :class:`~marldyn.simulation.problem.Problem` (graph edges, game tables,
  initial-condition arrays) and ``meta.json``: the scalar settings, the config as TOML and the names needed
  to build the final Dataset;
- ``run_<r>.npz`` for every run started: its step, Q (agent, state, action), edge states (edge,) and the
  records so far. The random numbers need no state: they are a function of (run key, step) (``counter_rng``).

Every file is written to a temporary name in the same directory and renamed, so a kill at any moment leaves
either the previous or the new checkpoint, never a partial one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..agents import Learners
from ..errors import ConfigError
from ..io import atomic_write, atomic_write_text
from .problem import Problem

_ARRAYS = ("edges", "payoff", "cum_transition", "record_times", "q_table")
_GROUP_ARRAYS = ("group_pointer", "group_member", "group_size_index")  # a group game's groups


def atomic_save_npz(path: Path, **arrays) -> None:
    """``numpy.savez`` to ``path`` atomically (:func:`marldyn.io.atomic_write`)."""

    def write(temporary):
        with open(temporary, "wb") as stream:  # a file object: savez would append .npz to a name
            np.savez(stream, **arrays)

    atomic_write(path, write)


def write_problem(directory: Path, problem, meta: dict) -> None:
    """Create the checkpoint directory with the problem definition (once, before the runs start)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(problem, name) for name in _ARRAYS}
    if problem.initial_q is not None:
        arrays["initial_q"] = problem.initial_q
    if isinstance(problem.edge_state, np.ndarray):
        arrays["initial_edge_state"] = problem.edge_state
    for name in ("agent_label", *_GROUP_ARRAYS):
        if getattr(problem, name) is not None:
            arrays[name] = getattr(problem, name)
    atomic_save_npz(directory / "problem.npz", **arrays)
    scalars = {
        name: getattr(problem, name)
        for name in (
            "n_agents",
            "q_noise",
            "q_noise_distribution",
            "snapshots",
            "backend",
        )
    }
    scalars["learners"] = problem.learners.to_dict()
    if not isinstance(problem.edge_state, np.ndarray):
        scalars["edge_state"] = problem.edge_state
    atomic_write_text(directory / "meta.json", json.dumps({"problem": scalars, **meta}, indent=1))


def _read_meta(directory: Path) -> dict:
    if not (directory / "meta.json").is_file() or not (directory / "problem.npz").is_file():
        raise ConfigError(f"--resume: {directory} is not a marldyn checkpoint directory")
    return json.loads((directory / "meta.json").read_text())


def problem_sizes(directory: Path) -> dict:
    """The sizes of a checkpointed problem, read without loading its large arrays (for the memory check).

    Returns
    -------
    dict
        ``n_agents``, ``n_edges``, ``n_states``, ``n_actions``, ``runs``, ``records`` (per run) and
        ``snapshots``.

    Raises
    ------
    ConfigError
        ``directory`` is not a checkpoint directory.
    """
    directory = Path(directory)
    meta = _read_meta(directory)
    with np.load(directory / "problem.npz", allow_pickle=False) as data:  # members load one by one
        n_states, n_actions = data["q_table"].shape
        records = data["record_times"].size
    return {
        "n_agents": int(meta["problem"]["n_agents"]),
        "n_edges": int(meta["n_edges"]),
        "n_states": int(n_states),
        "n_actions": int(n_actions),
        "runs": int(meta["runs"]),
        "records": int(records),
        "snapshots": bool(meta["problem"]["snapshots"]),
    }


def read_problem(directory: Path) -> tuple[Problem, dict]:
    """The :class:`~marldyn.simulation.problem.Problem` and the meta data stored in a checkpoint directory."""
    directory = Path(directory)
    meta = _read_meta(directory)
    with np.load(directory / "problem.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    scalars = meta["problem"]
    edge_state = arrays.pop("initial_edge_state", None)
    problem = Problem(
        edges=arrays["edges"],
        payoff=arrays["payoff"],
        cum_transition=arrays["cum_transition"],
        record_times=arrays["record_times"],
        q_table=arrays["q_table"],
        initial_q=arrays.get("initial_q"),
        agent_label=arrays.get("agent_label"),
        **{name: arrays.get(name) for name in _GROUP_ARRAYS},
        edge_state=edge_state if edge_state is not None else scalars.pop("edge_state"),
        learners=Learners.from_dict(scalars.pop("learners")),
        **{k: v for k, v in scalars.items() if k != "edge_state"},
    )
    return problem, meta


def run_path(directory: Path, run_index: int) -> Path:
    return Path(directory) / f"run_{run_index}.npz"


def save_run(directory: Path, run_index: int, step: int, q, edge_state, records: dict) -> None:
    """Save one run's state and its records so far."""
    arrays = {"step": np.int64(step), "q": q, "edge_state": edge_state}
    arrays.update({f"record_{name}": np.asarray(values) for name, values in records.items()})
    atomic_save_npz(run_path(directory, run_index), **arrays)


def load_run(directory: Path, run_index: int):
    """``(step, q, edge_state, records)`` of a saved run, or ``None`` if the run has no checkpoint yet."""
    path = run_path(directory, run_index)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        records = {name.removeprefix("record_"): list(data[name]) for name in data.files if name.startswith("record_")}
        return int(data["step"]), data["q"].copy(), data["edge_state"].copy(), records
