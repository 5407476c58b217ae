"""Reliability: determinism across processes, numerical safety, property tests.

Checkpoints and resume are in tests/simulation/test_checkpoint.py, the memory refusal in tests/test_memory.py.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import marldyn
from marldyn import ConfigError
from marldyn.policy import boltzmann


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
