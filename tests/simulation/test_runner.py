"""simulate(): seeds, workers, records, initial conditions and the output Dataset."""

from __future__ import annotations

import os
import threading

import networkx as nx
import numpy as np
import pytest
import xarray as xr

import marldyn
from marldyn import ConfigError
from marldyn.simulation import runner
from marldyn.simulation.runner import record_times

SMALL = {
    "graph": {"kind": "lattice", "n": 16},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
    "learning": {"alpha": 0.05},
    "run": {"steps": 60, "runs": 3, "seed": 11, "record_every": 25},
}


def test_dataset_layout_and_attributes():
    dataset = marldyn.simulate(SMALL)
    assert dataset["policy"].dims == ("run", "time", "state", "action")
    assert dataset["q"].dims == dataset["q_std"].dims == dataset["policy"].dims
    assert dataset["state_fraction"].dims == ("run", "time", "state")
    assert list(dataset["time"].values) == [0, 25, 50, 60]
    assert dataset.sizes["run"] == 3
    np.testing.assert_allclose(dataset["policy"].sum("action"), 1.0)
    np.testing.assert_allclose(dataset["state_fraction"].sum("state"), 1.0)
    assert dataset.attrs["seed"] == 11 and dataset.attrs["marldyn_version"] == marldyn.__version__
    assert marldyn.parse_config(__import__("tomllib").loads(dataset.attrs["config"])).run.seed == 11
    assert "normal noise of scale 0.1" in dataset.attrs["initial_condition"]


def test_same_seed_same_result_other_seed_other_result():
    first = marldyn.simulate(SMALL)
    again = marldyn.simulate(SMALL)
    xr.testing.assert_identical(first, again)
    other = marldyn.simulate({**SMALL, "run": {**SMALL["run"], "seed": 12}})
    assert not np.array_equal(first["q"].values, other["q"].values)
    assert not np.array_equal(first["q"].isel(run=0).values, first["q"].isel(run=1).values)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_result_does_not_depend_on_workers_or_backend(backend):
    serial = marldyn.simulate(SMALL, workers=1, backend=backend)
    for workers in (2, 3, 4, None):  # 4 > runs: one thread per run
        xr.testing.assert_identical(marldyn.simulate(SMALL, workers=workers, backend=backend), serial)
    if backend == "numpy":
        compiled = marldyn.simulate(SMALL, workers=1)
        np.testing.assert_array_equal(serial["q"].values, compiled["q"].values)
        np.testing.assert_array_equal(serial["state_fraction"].values, compiled["state_fraction"].values)


def test_worker_threads_use_the_serial_kernel_only(monkeypatch):
    """Several runs at once never enter the threaded kernel (numba's workqueue layer is not thread-safe)."""
    expected = marldyn.simulate(SMALL, workers=1)
    calls = []
    threaded = runner.kernels.run_steps_parallel

    def recording(*args):
        calls.append(threading.current_thread().name)
        return threaded(*args)

    monkeypatch.setattr(runner, "use_threads", lambda problem: True)  # as for a large population
    monkeypatch.setattr(runner.kernels, "run_steps_parallel", recording)
    xr.testing.assert_identical(marldyn.simulate(SMALL, workers=2), expected)
    assert calls == []
    xr.testing.assert_identical(marldyn.simulate(SMALL, workers=1), expected)  # one worker: threaded kernel
    assert calls and set(calls) == {threading.current_thread().name}


def test_default_workers_is_one_per_usable_core_at_most_one_per_run(monkeypatch):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert runner.default_workers(1000) == min(cores, os.cpu_count())
    assert runner.default_workers(1) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert runner.default_workers(10) == 3 and runner.default_workers(2) == 2


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_invalid_workers_are_rejected(workers):
    with pytest.raises(ConfigError, match=r"workers = .* must be an integer >= 1"):
        marldyn.simulate(SMALL, workers=workers)


def test_progress_bar_counts_every_step_from_threads(capsys):
    marldyn.simulate(SMALL, workers=3, progress=True)
    assert "180/180" in capsys.readouterr().err  # 3 runs x 60 steps


def test_a_failing_run_on_a_thread_is_reported_by_its_index():
    huge = {"name": "custom", "payoff": [[[1e308]]], "transition": [[[[1.0]]]]}
    config = {**SMALL, "game": huge, "init": {}, "learning": {"alpha": 1.0, "gamma": 0.99}}
    with pytest.raises(marldyn.SimulationError, match=r"^run 0: Q of agent \d+ became non-finite"):
        marldyn.simulate(config, workers=2)


def test_first_runs_do_not_depend_on_the_number_of_runs():
    three = marldyn.simulate(SMALL)
    five = marldyn.simulate({**SMALL, "run": {**SMALL["run"], "runs": 5}})
    xr.testing.assert_equal(three, five.isel(run=slice(0, 3)))  # data equal; attrs record runs


def test_initial_conditions_recorded_at_time_zero():
    dataset = marldyn.simulate({**SMALL, "init": {"q": [[1.0, 0.0], [0.0, 2.0]], "edge_state": 1}})
    np.testing.assert_array_equal(dataset["q"].isel(time=0).values[0], [[1.0, 0.0], [0.0, 2.0]])
    np.testing.assert_array_equal(dataset["q_std"].isel(time=0).values, 0.0)
    np.testing.assert_array_equal(dataset["state_fraction"].isel(time=0).values[:, 1], 1.0)


def test_api_initial_arrays_and_networkx_graph():
    graph = nx.cycle_graph(12)
    q = np.random.default_rng(0).normal(size=(12, 2, 2))
    states = np.array([0, 1] * 6)
    dataset = marldyn.simulate(SMALL, graph=graph, initial_q=q, initial_edge_state=states, snapshots=True)
    np.testing.assert_array_equal(dataset["agent_q"].isel(run=1, time=0).values, q)
    np.testing.assert_array_equal(dataset["agent_edge_state"].isel(run=0, time=0).values, states)
    np.testing.assert_allclose(dataset["q"].isel(run=0, time=-1), dataset["agent_q"].isel(run=0, time=-1).mean("agent"))
    with pytest.raises(ConfigError, match="initial_q must have shape"):
        marldyn.simulate(SMALL, graph=graph, initial_q=np.zeros((3, 2, 2)))
    with pytest.raises(ConfigError, match="initial_edge_state"):
        marldyn.simulate(SMALL, graph=graph, initial_edge_state=np.full(12, 5))


def test_non_finite_q_is_reported_with_step_and_agent():
    huge = {"name": "custom", "payoff": [[[1e308]]], "transition": [[[[1.0]]]]}
    config = {**SMALL, "game": huge, "init": {}, "learning": {"alpha": 1.0, "gamma": 0.99}}
    with pytest.raises(marldyn.SimulationError, match=r"agent \d+ became non-finite at step \d+"):
        marldyn.simulate(config)


def test_record_times():
    assert list(record_times(10, 3)) == [0, 3, 6, 9, 10]
    assert list(record_times(9, 3)) == [0, 3, 6, 9]
    assert list(record_times(5, 100)) == [0, 5]


def test_paper_case_learns_cooperation():
    """The paper's Fig. 3 setting for 3000 steps: cooperation in s1 rises from 0.62 (s2 turns up only later)."""
    config = marldyn.load_config(__import__("pathlib").Path(__file__).parents[2] / "examples" / "pd_lattice.toml")
    dataset = marldyn.simulate(config.with_overrides(steps=3000, runs=2))
    cooperation = dataset["policy"].sel(action=0).mean("run")
    assert cooperation.isel(time=-1, state=0) > cooperation.isel(time=0, state=0) + 0.1
