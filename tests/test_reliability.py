"""Reliability: interruption and resume, determinism, memory refusal, numerical safety, property tests."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marldyn
from marldyn import ConfigError
from marldyn.policy import boltzmann
from marldyn.simulation import runner

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
    uninterrupted = marldyn.simulate(marldyn.parse_config(__import__("tomllib").loads(SLOW_ENOUGH)), progress=False)
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


def test_memory_estimate_refuses_up_front(monkeypatch):
    config = marldyn.parse_config({"graph": {"n": 100}, "run": {"steps": 10, "runs": 2}})
    problem = runner.make_problem(config, config.build_game(), config.build_graph(), snapshots=True)
    needed = runner.estimate_memory(problem, runs=2, concurrent=1)
    assert needed > 2 * problem.record_times.size * 8 * (100 * 4 + 200)  # snapshots of both runs at least
    monkeypatch.setattr(os, "sysconf", lambda name: 1 if name == "SC_AVPHYS_PAGES" else 4096)
    with pytest.raises(ConfigError, match=r"needs about .* GiB but .* GiB are available"):
        marldyn.simulate(config)


def test_softmax_is_stable_for_huge_beta_q():
    q = np.array([[1e6, -1e6, 0.0], [-1e6, -1e6, -1e6], [0.0, 1e-300, -1e-300]])
    for beta in (0.0, 1.0, 1e6):
        policy = boltzmann(q, beta)
        assert np.all(np.isfinite(policy))
        np.testing.assert_allclose(policy.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(boltzmann(q, 1.0)[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(boltzmann(q, 0.0), 1 / 3)


# ------------------------------------------------------------------- property tests
GAMES = st.integers(1, 3).flatmap(lambda k: st.integers(1, 3).map(lambda m: (k, m)))


@st.composite
def valid_configs(draw):
    n_states, n_actions = draw(GAMES)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    payoff = rng.normal(size=(n_states, n_actions, n_actions)).round(3)
    raw = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions, n_actions))
    transition = 0.5 * (raw + raw.transpose(0, 2, 1, 3))
    transition /= transition.sum(axis=-1, keepdims=True)
    graph = draw(
        st.sampled_from(
            [{"kind": "lattice", "n": 9}, {"kind": "complete", "n": 5}, {"kind": "random_regular", "n": 8, "degree": 3}]
        )
    )
    gamma = draw(st.floats(0.0, 0.95))
    low, high = payoff.min() / (1 - gamma), payoff.max() / (1 - gamma)
    table = rng.uniform(low, high, size=(n_states, n_actions))
    return {
        "game": {"name": "custom", "payoff": payoff.tolist(), "transition": transition.tolist()},
        "graph": graph,
        "learning": {
            "rule": draw(st.sampled_from(["q_learning", "sarsa", "expected_sarsa"])),
            "alpha": draw(st.floats(0.01, 1.0)),
            "beta": draw(st.floats(0.0, 20.0)),
            "gamma": gamma,
        },
        "init": {"q": table.tolist()},
        "run": {
            "steps": draw(st.integers(1, 40)),
            "runs": 1,
            "seed": draw(st.integers(0, 100)),
            "record_every": draw(st.integers(1, 15)),
        },
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_random_valid_configs_keep_the_invariants(config):
    dataset = marldyn.simulate(config)
    np.testing.assert_allclose(dataset["policy"].sum("action"), 1.0, atol=1e-12)
    np.testing.assert_allclose(dataset["state_fraction"].sum("state"), 1.0, atol=1e-12)
    payoff = np.array(config["game"]["payoff"])
    gamma = config["learning"]["gamma"]
    low, high = payoff.min() / (1 - gamma), payoff.max() / (1 - gamma)
    slack = 1e-9 * max(1.0, abs(low), abs(high))
    assert float(dataset["q"].min()) >= low - slack and float(dataset["q"].max()) <= high + slack


def _not_a_pd_table(table) -> bool:
    """True unless ``table`` is a finite (2, 2) table, a valid init.q for the default game."""
    shaped = len(table) == 2 and all(len(row) == 2 for row in table)
    return not (shaped and all(math.isfinite(value) for row in table for value in row))


def _not_a_lattice_size(n: int) -> bool:
    return n < 9 or math.isqrt(n) ** 2 != n


BAD_TABLES = st.lists(st.lists(st.floats(), max_size=3), max_size=3).filter(_not_a_pd_table)

INVALID = st.one_of(
    st.fixed_dictionaries(
        {
            "learning": st.fixed_dictionaries(
                {
                    "alpha": st.one_of(
                        st.floats(max_value=0.0),
                        st.floats(min_value=1.0, exclude_min=True),
                        st.just(float("nan")),
                        st.text(),
                    )
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "learning": st.fixed_dictionaries(
                {
                    "gamma": st.one_of(
                        st.floats(min_value=1.0), st.floats(max_value=0.0, exclude_max=True), st.booleans()
                    )
                }
            )
        }
    ),
    st.fixed_dictionaries({"run": st.fixed_dictionaries({"steps": st.one_of(st.integers(max_value=0), st.floats())})}),
    st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in ("game", "graph", "learning", "init", "run")),
        st.integers(),
        min_size=1,
        max_size=2,
    ),
    st.fixed_dictionaries(
        {
            "graph": st.fixed_dictionaries(
                {
                    "kind": st.just("lattice"),
                    "n": st.integers(-5, 200).filter(lambda n: n < 9 or math.isqrt(n) ** 2 != n),
                }
            )
        }
    ),
    st.fixed_dictionaries({"init": st.fixed_dictionaries({"q": BAD_TABLES})}),
)


@settings(max_examples=60, deadline=None)
@given(INVALID)
def test_random_invalid_configs_always_raise_config_error(data):
    with pytest.raises(ConfigError):
        marldyn.parse_config(data)


def test_results_are_deterministic_across_processes(tmp_path):
    """Same config and seed in a fresh interpreter gives the same bytes of data."""
    config = {"graph": {"n": 16}, "run": {"steps": 50, "runs": 2, "seed": 9, "record_every": 10}}
    here = marldyn.simulate(config)
    script = f"import marldyn; marldyn.write_dataset(marldyn.simulate({config!r}), {str(tmp_path / 'x.nc')!r})"
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "MARLDYN_PROGRESS": "0"})
    with xr.open_dataset(Path(tmp_path / "x.nc"), engine="h5netcdf") as there:
        xr.testing.assert_identical(there.load(), here)
