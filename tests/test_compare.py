"""compare, time_to_tolerance and error_table on hand-built datasets with known errors, and on a real run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

import marldyn
from marldyn.compare import compare, error_table, time_to_tolerance
from marldyn.errors import ConfigError

TIMES = np.arange(0, 101, 10)
RUN_SPREAD = np.array([-0.01, 0.01, -0.01, 0.01])  # per-run deviation from the mean; mean zero
POLICY_OFFSET = np.array([[0.01, -0.01], [0.03, -0.03]])  # (state, action)
FRACTION_OFFSET = np.array([0.02, -0.02])  # (state,)


def smooth_policy(time):
    """A policy (time, state, action) whose probabilities move linearly in time (exact under interpolation)."""
    time = np.asarray(time, dtype=np.float64)
    first = np.stack([0.5 + 0.002 * time, 0.4 + 0.001 * time], axis=-1)  # P(action 0) per state
    return np.stack([first, 1.0 - first], axis=-1)


def smooth_fraction(time):
    """Edge-state fractions (time, state), linear in time."""
    first = 0.5 - 0.001 * np.asarray(time, dtype=np.float64)
    return np.stack([first, 1.0 - first], axis=-1)


def make_dataset(time, policy, fraction, method, spread=None):
    """A Dataset in the shared schema; with ``spread`` (run,), runs are the given curves plus spread[r]."""
    coords = {"time": np.asarray(time), "state": [0, 1], "action": [0, 1]}
    if spread is None:
        variables = {
            "policy": (("time", "state", "action"), policy),
            "state_fraction": (("time", "state"), fraction),
        }
    else:
        spread = np.asarray(spread, dtype=np.float64)
        coords["run"] = np.arange(spread.size)
        variables = {
            "policy": (("run", "time", "state", "action"), policy[None] + spread[:, None, None, None]),
            "state_fraction": (("run", "time", "state"), fraction[None] + spread[:, None, None]),
        }
    return xr.Dataset(variables, coords=coords, attrs={"method": method})


@pytest.fixture
def simulation():
    return make_dataset(TIMES, smooth_policy(TIMES), smooth_fraction(TIMES), "simulation", spread=RUN_SPREAD)


def component(result, variable, state, action=None):
    (found,) = [
        c for c in result["components"] if (c["variable"], c["state"], c["action"]) == (variable, state, action)
    ]
    return found


def test_offset_theory_gives_the_offset_as_every_error(simulation):
    theory = make_dataset(
        TIMES, smooth_policy(TIMES) + POLICY_OFFSET, smooth_fraction(TIMES) + FRACTION_OFFSET, "reduced"
    )
    result = compare(simulation, theory)
    assert len(result["components"]) == 4 + 2
    for state in (0, 1):
        for action in (0, 1):
            found = component(result, "policy", state, action)
            offset = abs(POLICY_OFFSET[state, action])
            assert found["max_error"] == pytest.approx(offset, abs=1e-12)
            assert found["mean_error"] == pytest.approx(offset, abs=1e-12)
            assert found["final_error"] == pytest.approx(offset, abs=1e-12)
            assert found["error"] == pytest.approx([offset] * TIMES.size, abs=1e-12)
        found = component(result, "state_fraction", state)
        assert found["max_error"] == pytest.approx(abs(FRACTION_OFFSET[state]), abs=1e-12)
    assert result["theory_method"] == "reduced"
    assert result["simulation_runs"] == 4
    assert result["theory_runs"] == 0
    assert result["time"] == TIMES.tolist()


def test_time_of_the_largest_error_and_the_final_error(simulation):
    policy = smooth_policy(TIMES)
    policy[TIMES == 30, 1, 0] += 0.2  # one spike in P(action 0 | state 1)
    policy[-1, 1, 0] += 0.05
    theory = make_dataset(TIMES, policy, smooth_fraction(TIMES), "full")
    found = component(compare(simulation, theory), "policy", 1, 0)
    assert found["time_of_max_error"] == 30
    assert found["max_error"] == pytest.approx(0.2)
    assert found["final_error"] == pytest.approx(0.05)
    assert found["mean_error"] == pytest.approx(0.25 / TIMES.size)
    untouched = component(compare(simulation, theory), "policy", 0, 0)
    assert untouched["max_error"] == pytest.approx(0.0, abs=1e-12)


def test_theory_on_another_grid_is_interpolated_onto_the_simulation_times(simulation):
    # Irregular theory times that miss most simulation times; the curves are linear, so interpolation is exact.
    theory_time = np.array([0.0, 3.0, 17.5, 29.0, 44.0, 61.25, 80.0, 99.0, 100.0, 120.0])
    theory = make_dataset(
        theory_time,
        smooth_policy(theory_time) + POLICY_OFFSET,
        smooth_fraction(theory_time) + FRACTION_OFFSET,
        "full",
    )
    result = compare(simulation, theory)
    assert result["time"] == TIMES.tolist()
    assert component(result, "policy", 1, 1)["error"] == pytest.approx([0.03] * TIMES.size, abs=1e-12)
    assert component(result, "state_fraction", 0)["error"] == pytest.approx([0.02] * TIMES.size, abs=1e-12)


def test_interpolation_is_linear_between_theory_times(simulation):
    # A theory known only at 0 and 100 whose P(action 0 | state 0) jumps from 0.5 to 1.5 is a straight line.
    policy = np.zeros((2, 2, 2))
    policy[:, 0, 0] = [0.5, 1.5]
    policy[:, 0, 1] = [0.5, 1.5]
    policy[:, 1, :] = smooth_policy([0, 100])[:, 1, :]
    theory = make_dataset([0, 100], policy, smooth_fraction([0, 100]), "reduced")
    expected = np.abs(smooth_policy(TIMES)[:, 0, 0] - (0.5 + TIMES / 100.0))
    assert component(compare(simulation, theory), "policy", 0, 0)["error"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("theory_time", [np.arange(0, 91, 5), np.arange(10, 101, 5)])
def test_theory_that_does_not_cover_the_simulation_is_refused(simulation, theory_time):
    theory = make_dataset(theory_time, smooth_policy(theory_time), smooth_fraction(theory_time), "reduced")
    with pytest.raises(ConfigError, match="covers"):
        compare(simulation, theory)
    assert issubclass(ConfigError, ValueError)


def test_standard_error_of_the_run_mean(simulation):
    theory = make_dataset(TIMES, smooth_policy(TIMES) + 0.001, smooth_fraction(TIMES), "reduced")
    result = compare(simulation, theory)
    expected = np.std(RUN_SPREAD, ddof=1) / math.sqrt(RUN_SPREAD.size)  # 0.01 * sqrt(4/3) / 2
    found = component(result, "policy", 0, 0)
    assert found["standard_error"] == pytest.approx([expected] * TIMES.size)
    assert found["noise_at_max_error"] == pytest.approx(expected)
    assert found["theory_standard_error"] is None
    assert found["within_noise"] is True  # 0.001 against a standard error of 0.0058


def test_an_error_far_beyond_the_noise_is_flagged(simulation):
    theory = make_dataset(TIMES, smooth_policy(TIMES) + 0.1, smooth_fraction(TIMES), "reduced")
    assert component(compare(simulation, theory), "policy", 0, 0)["within_noise"] is False


def test_theory_with_runs_is_averaged_and_adds_its_own_noise(simulation):
    theory_spread = np.array([-0.02, 0.02])
    theory = make_dataset(
        TIMES, smooth_policy(TIMES) + POLICY_OFFSET, smooth_fraction(TIMES), "sde", spread=theory_spread
    )
    result = compare(simulation, theory)
    found = component(result, "policy", 1, 0)
    assert found["max_error"] == pytest.approx(0.03)
    simulation_error = np.std(RUN_SPREAD, ddof=1) / 2.0
    theory_error = np.std(theory_spread, ddof=1) / math.sqrt(2.0)
    assert found["theory_standard_error"] == pytest.approx([theory_error] * TIMES.size)
    assert found["noise"] == pytest.approx([math.hypot(simulation_error, theory_error)] * TIMES.size)
    assert result["theory_runs"] == 2


def test_tolerance_is_reported_per_component_and_overall(simulation):
    theory = make_dataset(TIMES, smooth_policy(TIMES) + POLICY_OFFSET, smooth_fraction(TIMES), "reduced")
    result = compare(simulation, theory, tolerance=0.02)
    assert component(result, "policy", 0, 0)["within_tolerance"] is True
    assert component(result, "policy", 1, 0)["within_tolerance"] is False
    assert result["within_tolerance"] is False
    assert compare(simulation, theory, tolerance=0.05)["within_tolerance"] is True
    assert compare(simulation, theory)["within_tolerance"] is None


def test_result_is_json_and_the_table_has_one_line_per_component(simulation):
    policy = smooth_policy(TIMES) + POLICY_OFFSET
    policy[3, 0, 1] = np.nan  # a theory that failed at one time: undefined numbers become None
    theory = make_dataset(TIMES, policy, smooth_fraction(TIMES), "full")
    result = compare(simulation, theory, tolerance=0.02)
    loaded = json.loads(json.dumps(result, allow_nan=False))
    assert loaded == result
    assert component(result, "policy", 0, 1)["max_error"] is None
    assert component(result, "policy", 0, 1)["error"][3] is None
    table = error_table(loaded)
    lines = table.splitlines()
    for label in ("policy s=0 a=0", "policy s=1 a=1", "fraction s=0", "fraction s=1"):
        assert sum(line.startswith(label) for line in lines) == 1
    policy_line = next(line for line in lines if line.startswith("policy s=1 a=0"))
    assert "0.03" in policy_line.split()
    assert policy_line.split()[-1] == "no"  # beyond the tolerance 0.02
    assert "simulation (4 runs) vs full" in lines[0]


def test_mismatched_states_are_refused(simulation):
    theory = make_dataset(TIMES, smooth_policy(TIMES), smooth_fraction(TIMES), "reduced")
    theory = theory.assign_coords(state=[1, 2])
    with pytest.raises(ConfigError, match="state"):
        compare(simulation, theory)


def test_time_to_tolerance_on_a_known_decay():
    time = np.arange(0, 1001, 10)
    target = np.array([[0.9, 0.1], [0.3, 0.7]])
    distance = 0.5 * np.exp(-time / 100.0)  # within 0.01 from 100 ln 50 = 391.2 on
    policy = target[None] + distance[:, None, None] * np.array([[1.0, -1.0], [-1.0, 1.0]])
    dataset = make_dataset(time, policy, smooth_fraction(time), "reduced", spread=[-0.001, 0.001])
    assert time_to_tolerance(dataset, target, 0.01) == 400
    assert time_to_tolerance(dataset, target, 1.0) == 0
    assert time_to_tolerance(dataset, target, 1e-6) is None
    as_data_array = dataset["policy"].isel(run=0, time=-1) * 0 + target
    assert time_to_tolerance(dataset, as_data_array, 0.01) == 400


def test_time_to_tolerance_waits_for_the_last_excursion():
    time = np.arange(0, 101, 10)
    target = np.full((2, 2), 0.5)
    distance = np.zeros(time.size)
    distance[[2, 6]] = 0.2  # leaves at 20 and again at 60
    policy = target[None] + distance[:, None, None]
    dataset = make_dataset(time, policy, smooth_fraction(time), "reduced")
    assert time_to_tolerance(dataset, target, 0.1) == 70
    with pytest.raises(ConfigError, match="shape"):
        time_to_tolerance(dataset, np.full(3, 0.5), 0.1)


def test_on_real_simulations():
    config = {"graph": {"n": 16}, "learning": {"alpha": 0.05}, "run": {"steps": 200, "runs": 3, "record_every": 20}}
    first = marldyn.simulate(config)
    again = compare(first, first, tolerance=0.0)
    assert again["within_tolerance"] is True
    assert all(c["max_error"] == 0.0 for c in again["components"])
    second = marldyn.simulate({**config, "run": {**config["run"], "seed": 1}})
    result = compare(first, second)
    assert len(result["components"]) == 2 * 2 + 2
    assert result["time"] == first["time"].values.tolist()
    policy = component(result, "policy", 0, 0)
    expected = np.abs(first["policy"].mean("run") - second["policy"].mean("run")).sel(state=0, action=0)
    assert policy["max_error"] == pytest.approx(float(expected.max()))
    runs_at_end = first["policy"].sel(state=0, action=0).isel(time=-1).values
    assert policy["standard_error"][-1] == pytest.approx(np.std(runs_at_end, ddof=1) / math.sqrt(3))
    assert policy["standard_error"][-1] > 0
    json.dumps(result, allow_nan=False)
    assert len(error_table(result).splitlines()) == 3 + 6 + 1
