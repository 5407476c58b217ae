"""Checkpoints: kill and resume bit-identically, interrupted runs and threads, errors, sizes, no import cycle."""

from __future__ import annotations

import ast
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import marldyn
from marldyn import ConfigError, memory
from marldyn.simulation import checkpoint, problem, runner

SMALL = {
    "graph": {"kind": "lattice", "n": 16},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
    "learning": {"alpha": 0.05},
    "run": {"steps": 60, "runs": 3, "seed": 11, "record_every": 25},
}

SLOW_ENOUGH = """
[graph]
kind = "lattice"
n = 2500
[init]
q = [[0.5, 0.0], [0.0, 0.5]]
q_noise = 0.1
[learning]
alpha = 0.01
[run]
steps = 6000
runs = 2
seed = 5
record_every = 500
"""


def test_kill_and_resume_is_bit_identical(tmp_path):
    """SIGKILL a running `marldyn simulate --checkpoint-every`, resume it, compare with an uninterrupted run."""
    config = tmp_path / "c.toml"
    config.write_text(SLOW_ENOUGH)
    output = tmp_path / "out.nc"
    checkpoint = tmp_path / "out.nc.checkpoint"
    command = [
        sys.executable,
        "-m",
        "marldyn.cli",
        "simulate",
        str(config),
        "-o",
        str(output),
        "--checkpoint-every",
        "250",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (checkpoint / "run_0.npz").exists():
        if process.poll() is not None:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the simulation finished before it could be killed"
    assert not output.exists()
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "marldyn.cli",
            "simulate",
            "--resume",
            str(checkpoint),
            "-o",
            str(output),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert not checkpoint.exists()
    uninterrupted = marldyn.simulate(marldyn.parse_config(tomllib.loads(SLOW_ENOUGH)), progress=False)
    with xr.open_dataset(output, engine="h5netcdf") as result:
        xr.testing.assert_identical(result.load(), uninterrupted)


def test_resume_after_an_exception_mid_run(tmp_path, monkeypatch):
    config = {
        "graph": {"n": 25},
        "learning": {"alpha": 0.05},
        "init": {"q_noise": 0.2},
        "run": {"steps": 400, "runs": 3, "seed": 2, "record_every": 50},
    }
    expected = marldyn.simulate(config)
    real_advance = runner.advance
    calls = {"n": 0}

    def failing_advance(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 24:  # in the middle of the second run (16 pieces per run)
            raise KeyboardInterrupt
        return real_advance(*args, **kwargs)

    monkeypatch.setattr(runner, "advance", failing_advance)
    with pytest.raises(KeyboardInterrupt):
        marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=30, workers=1)
    monkeypatch.setattr(runner, "advance", real_advance)
    assert (tmp_path / "ck" / "run_0.npz").exists() and (tmp_path / "ck" / "run_1.npz").exists()
    assert not (tmp_path / "ck" / "run_2.npz").exists()
    for workers in (1, 2, 3, None):
        copy = tmp_path / f"ck{workers}"
        shutil.copytree(tmp_path / "ck", copy)
        xr.testing.assert_identical(runner.resume(copy, workers=workers), expected)


@pytest.mark.parametrize("workers", [2, 3])
def test_interrupted_threads_resume_bit_identical(tmp_path, monkeypatch, workers):
    """An exception on one worker thread stops all runs; resuming with any workers gives the uninterrupted result."""
    config = {
        "graph": {"n": 25},
        "learning": {"alpha": 0.05},
        "init": {"q_noise": 0.2},
        "run": {"steps": 400, "runs": 4, "seed": 3, "record_every": 50},
    }
    expected = marldyn.simulate(config, workers=1)
    real_advance = runner.advance
    calls = {"n": 0}

    def failing_advance(*args, **kwargs):
        calls["n"] += 1  # shared by the threads: where each run stops varies, the resumed result must not
        if calls["n"] == 20:
            raise RuntimeError("crash")
        return real_advance(*args, **kwargs)

    monkeypatch.setattr(runner, "advance", failing_advance)
    with pytest.raises(RuntimeError, match="crash"):
        marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=30, workers=workers)
    monkeypatch.setattr(runner, "advance", real_advance)
    assert (tmp_path / "ck" / "run_0.npz").exists()
    xr.testing.assert_identical(runner.resume(tmp_path / "ck", workers=workers), expected)


def test_checkpoint_errors(tmp_path):
    config = {"graph": {"n": 9}, "run": {"steps": 20, "runs": 1}}
    marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=5)
    with pytest.raises(ConfigError, match="exists already"):
        marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=5)
    with pytest.raises(ConfigError, match="checkpoint_every"):
        marldyn.simulate(config, checkpoint=tmp_path / "other", checkpoint_every=0)
    with pytest.raises(ConfigError, match="not a marldyn checkpoint"):
        runner.resume(tmp_path / "nothing")


def test_rcm_order_labels_the_snapshots_with_the_input_ids_and_survives_a_checkpoint(tmp_path):
    config = {**SMALL, "graph": {"kind": "barabasi_albert", "n": 40, "m": 2, "seed": 3, "order": "rcm"}}
    dataset = marldyn.simulate(config, snapshots=True, workers=1)
    graph = marldyn.parse_config(config).build_graph()
    labels = dataset["agent_label"].values
    assert dataset["agent_label"].dims == ("agent",)
    assert np.array_equal(labels, graph.labels) and sorted(labels.tolist()) == list(range(40))
    original = marldyn.barabasi_albert(40, 2, seed=3)
    assert {tuple(sorted(e)) for e in labels[graph.edges].tolist()} == {tuple(e) for e in original.edges.tolist()}
    resumed_source = marldyn.simulate(
        config, snapshots=True, workers=1, checkpoint=tmp_path / "ck", checkpoint_every=20
    )
    xr.testing.assert_identical(resumed_source, dataset)
    xr.testing.assert_identical(marldyn.resume(tmp_path / "ck"), dataset)
    assert "agent_label" not in marldyn.simulate(SMALL, snapshots=True).coords


def test_resume_refuses_too_little_memory_before_reading_the_arrays(tmp_path, monkeypatch):
    config = {**SMALL, "run": {**SMALL["run"], "runs": 2}}
    marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=20, snapshots=True)
    sizes = checkpoint.problem_sizes(tmp_path / "ck")
    assert sizes == {
        "n_agents": 16,
        "n_edges": 32,
        "n_states": 2,
        "n_actions": 2,
        "runs": 2,
        "records": 4,
        "snapshots": True,
    }

    def unread(*args):
        raise AssertionError("the checkpoint's arrays were read before the memory check")

    monkeypatch.setattr(runner, "read_problem", unread)
    monkeypatch.setattr(memory, "available_memory", lambda: 1024)
    with pytest.raises(ConfigError, match=r"^resuming the simulation \(16 agents, 2 runs\) needs about"):
        runner.resume(tmp_path / "ck")
    with pytest.raises(ConfigError, match="not a marldyn checkpoint"):
        checkpoint.problem_sizes(tmp_path / "nothing")


TYPES = [
    {"name": "fast", "fraction": 0.25, "alpha": 0.1, "rule": "faq", "faq_beta": 0.2},
    {"name": "committed", "agents": [3], "fixed_policy": [[0.0, 1.0], [0.5, 0.5]]},
]


@pytest.mark.parametrize("agent_types", [[], TYPES])
def test_checkpoint_round_trips_the_problem(tmp_path, agent_types):
    config = marldyn.parse_config({**SMALL, "init": {"edge_state": 1}, "agent_types": agent_types})
    original = problem.make_problem(config, config.build_game(), config.build_graph(), snapshots=True)
    checkpoint.write_problem(tmp_path, original, {"n_edges": 32, "runs": 3})
    restored, meta = checkpoint.read_problem(tmp_path)
    assert meta["runs"] == 3 and isinstance(restored, problem.Problem)
    for name in ("edges", "payoff", "cum_transition", "record_times", "q_table"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(original, name))
    for name in ("n_agents", "q_noise", "edge_state", "snapshots", "backend"):
        assert getattr(restored, name) == getattr(original, name)
    assert restored.learners.to_dict() == original.learners.to_dict()
    for stream in problem.run_streams(0, 3):
        np.testing.assert_array_equal(
            problem.agent_types(restored, stream[2]), problem.agent_types(original, stream[2])
        )


def test_resume_with_agent_types_is_bit_identical(tmp_path):
    config = {**SMALL, "agent_types": TYPES, "run": {"steps": 120, "runs": 2, "record_every": 40}}
    expected = marldyn.simulate(config)
    marldyn.simulate(config, checkpoint=tmp_path / "ck", checkpoint_every=50)
    (tmp_path / "ck" / "run_1.npz").unlink()  # as if killed before run 1 had a checkpoint
    xr.testing.assert_identical(runner.resume(tmp_path / "ck"), expected)


def imported_modules(path: Path) -> set[str]:
    """Modules a source file imports (relative imports resolved within marldyn.simulation)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = {0: "", 1: "marldyn.simulation", 2: "marldyn"}[node.level]
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_checkpoint_and_problem_do_not_import_the_runner():
    """No import cycle: runner -> checkpoint -> problem, runner -> problem; never back to the runner."""
    folder = Path(checkpoint.__file__).parent
    for module in ("checkpoint", "problem"):
        assert "marldyn.simulation.runner" not in imported_modules(folder / f"{module}.py"), module
    assert "marldyn.simulation.checkpoint" not in imported_modules(folder / "problem.py")
    for name in ("Problem", "make_problem", "initial_state", "run_streams", "record_times"):  # still importable
        assert getattr(runner, name) is getattr(problem, name)
