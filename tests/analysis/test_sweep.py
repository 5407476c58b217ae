"""Parameter sweeps on dask.distributed: determinism across cluster sizes, resumption, errors (analysis.sweep)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import marldyn
import marldyn.analysis.sweep as sweep_module
from marldyn.analysis import load_sweep, parse_sweep, phase_diagram_figure, point_seed, run_sweep
from marldyn.cli import main
from marldyn.errors import ConfigError
from marldyn.theory import Particles

SWEEP = {
    "base": {
        "game": {"b": [5.0, 1.2]},
        "graph": {"kind": "lattice", "n": 9},
        "learning": {"alpha": 0.01},
        "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
        "run": {"steps": 200, "runs": 2, "record_every": 50, "seed": 3},
    },
    "parameters": {"learning.gamma": [0.6, 0.8], "game.b[0]": {"start": 3.0, "stop": 5.0, "num": 3}},
    "task": [{"run": "theory", "method": "reduced"}, {"run": "simulate", "every": {"game.b[0]": 2}}],
    "summary": {"variables": ["policy", "state_fraction"], "window": 0.5},
}


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as made:
        yield made
    cluster.close()


@pytest.fixture(scope="module")
def serial():
    return run_sweep(parse_sweep(SWEEP))


def test_sweep_gathers_every_point(serial):
    assert serial["theory_reduced_policy"].dims == ("learning.gamma", "game.b[0]", "state", "action")
    np.testing.assert_allclose(serial["game.b[0]"].values, [3.0, 4.0, 5.0])
    assert np.all(np.isfinite(serial["theory_reduced_policy"].values))
    simulated = serial["simulate_policy"].isel(state=0, action=0).values
    assert np.all(np.isfinite(simulated[:, [0, 2]])) and np.all(np.isnan(simulated[:, 1]))  # coarser grid
    assert "simulate_policy_std" in serial
    assert serial.attrs["failed"] == 0 and not serial["simulate_error"].values[:, [0, 2]].astype(bool).any()
    np.testing.assert_allclose(serial["theory_reduced_policy"].sum("action"), 1.0)


def test_cluster_of_two_workers_equals_one_process_bit_for_bit(serial, client, tmp_path):
    distributed = run_sweep(parse_sweep(SWEEP), tmp_path / "out.nc", client=client)
    xr.testing.assert_identical(distributed, serial)
    for name in serial.data_vars:
        np.testing.assert_array_equal(distributed[name].values, serial[name].values)
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "out.nc"), serial)


#: Run before anything else in a fresh interpreter: ``import dask`` fails, as on an install without the extra.
NO_DASK = "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"


def _run_without_dask(code: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_DASK + code, *arguments], capture_output=True, text=True, timeout=600
    )


def test_local_workers_without_dask_run_on_a_process_pool_with_the_same_result(serial, tmp_path):
    out = tmp_path / "pooled.nc"
    code = (
        "import json, sys; from marldyn.analysis import parse_sweep, run_sweep\n"
        "if __name__ == '__main__':\n"
        "    run_sweep(parse_sweep(json.loads(sys.argv[1])), sys.argv[2], workers=2, progress=False)\n"
        "    assert 'dask' not in [m.split('.')[0] for m, v in sys.modules.items() if v is not None]\n"
    )
    finished = _run_without_dask(code, json.dumps(SWEEP), str(out))
    assert finished.returncode == 0, finished.stderr
    xr.testing.assert_identical(xr.load_dataset(out), serial)


def test_a_scheduler_without_dask_is_a_one_line_error_naming_the_extra():
    finished = _run_without_dask(
        "from marldyn.cli import run; run()",
        "sweep",
        "examples/sweep_gamma_b1.toml",
        "--scheduler",
        "tcp://127.0.0.1:1",
    )
    assert finished.returncode == 2
    assert finished.stderr.strip().count("\n") == 0
    assert "pip install 'marldyn[distributed]'" in finished.stderr


def test_seeds_come_from_the_parameter_values(serial):
    assert point_seed(3, {"a": 1.0, "b": 2}) == point_seed(3, {"b": 2, "a": 1.0})
    assert point_seed(3, {"a": 1.0}) != point_seed(4, {"a": 1.0}) != point_seed(3, {"a": 2.0})
    smaller = dict(SWEEP, parameters={"learning.gamma": [0.8], "game.b[0]": [5.0]})
    alone = run_sweep(parse_sweep(smaller))
    for name in ("simulate_policy", "theory_reduced_policy"):
        np.testing.assert_array_equal(
            alone[name].values[0, 0], serial[name].sel({"learning.gamma": 0.8, "game.b[0]": 5.0}).values
        )


EVALUATE_POINT = sweep_module.evaluate_point


class Interrupted(Exception):
    """Stands for a kill of the sweep's process after some points."""


def _counting(monkeypatch, fail_once=None, stop_after=None):
    calls = []
    original = EVALUATE_POINT

    def wrapper(config_toml, base_dir, task, summary):
        if stop_after is not None and len(calls) == stop_after:
            raise Interrupted
        calls.append((task["name"], config_toml))
        if fail_once is not None and fail_once(config_toml, task) and calls.count(calls[-1]) == 1:
            return {"error": "RuntimeError: injected failure"}
        return original(config_toml, base_dir, task, summary)

    monkeypatch.setattr(sweep_module, "evaluate_point", wrapper)
    return calls


def test_interrupted_sweep_resumes_without_recomputing(serial, tmp_path, monkeypatch):
    output = tmp_path / "sweep.nc"
    calls = _counting(monkeypatch, stop_after=4)
    with pytest.raises(Interrupted):
        run_sweep(parse_sweep(SWEEP), output)
    assert len(list((tmp_path / "sweep.nc.parts").glob("*.nc"))) == 4 and not output.exists()
    calls = _counting(monkeypatch)
    resumed = run_sweep(parse_sweep(SWEEP), output)
    assert len(calls) == 6 + 4 - 4  # 6 theory + 4 simulation points, 4 done before
    xr.testing.assert_identical(resumed, serial)
    calls = _counting(monkeypatch)
    run_sweep(parse_sweep(SWEEP), output, overwrite=True)
    assert calls == []


def test_a_failing_point_is_reported_and_retried(serial, tmp_path, monkeypatch):
    output = tmp_path / "sweep.nc"

    def target(config_toml, task):
        return task["name"] == "simulate" and "gamma = 0.8" in config_toml and "b = [5.0" in config_toml

    calls = _counting(monkeypatch, fail_once=target)
    first = run_sweep(parse_sweep(SWEEP), output)
    assert len(calls) == 10 and first.attrs["failed"] == 1
    error = first["simulate_error"].sel({"learning.gamma": 0.8, "game.b[0]": 5.0}).item()
    assert error == "RuntimeError: injected failure"
    assert np.isnan(first["simulate_policy"].sel({"learning.gamma": 0.8, "game.b[0]": 5.0}).values).all()
    assert np.isfinite(first["simulate_policy"].sel({"learning.gamma": 0.6}).isel({"game.b[0]": 0}).values).all()
    calls = _counting(monkeypatch)
    second = run_sweep(parse_sweep(SWEEP), output, overwrite=True)
    assert [name for name, _ in calls] == ["simulate"]
    xr.testing.assert_identical(second, serial)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parameters": {"learning.gama": [0.5]}}, "did you mean 'gamma'"),
        ({"parameters": {"learning.gamma": [1.5]}}, "learning.gamma"),
        ({"parameters": {"game.b[7]": [1.0]}}, "entry 7"),
        ({"parameters": {"game.c[0]": [1.0]}}, "set game.c in the base config"),
        ({"task": [{"run": "simulat"}]}, "did you mean 'simulate'"),
        ({"task": [{"run": "theory", "method": "fast"}]}, "method"),
        ({"summary": {"variables": ["polic"]}}, "did you mean 'policy'"),
        ({"extra": 1}, "unknown key 'extra'"),
        ({"task": [{"run": "simulate", "every": {"learning.alpha": 2}}]}, "not a swept parameter"),
        # theory options (issue 12, bug 5: they could not be given at all, now they are validated)
        ({"task": [{"run": "theory", "method": "reduced", "dt": 5.0}]}, "'reduced' does not take the option 'dt'"),
        ({"task": [{"run": "theory", "method": "sde", "particles": 8}]}, "'sde' does not take the option 'particles'"),
        ({"task": [{"run": "theory", "method": "particles", "particles": 0}]}, r"Particles\.n = 0 must be"),
        ({"task": [{"run": "theory", "method": "sde-graph", "timescale": "slow"}]}, r"GraphSDE\.timescale = 'slow'"),
        ({"task": [{"run": "theory", "method": "sde", "dtt": 5.0}]}, "unknown key 'dtt' in \\[\\[task\\]\\].*'dt'"),
        ({"task": [{"run": "simulate", "dt": 5.0}]}, "only allowed with run = 'theory'"),
    ],
)
def test_bad_sweeps_are_config_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep({**SWEEP, "task": [{"run": "theory"}], **change})


def test_theory_task_options_are_canonical_whatever_their_spelling():
    def task(**options):
        return parse_sweep({**SWEEP, "task": [{"run": "theory", **options}]}).tasks[0]

    particles = task(method="particles", particles=4)
    assert particles["method"] == "particles" and particles["options"] == {"n": 4, "timescale": "reduced"}
    assert task(method="particles", particles=4, timescale="reduced") == particles  # a default given explicitly
    assert task(method="sde", dt=10) == task(method="sde", dt=10.0) == task(method="sde")
    assert task(method="sde")["options"] == {"dt": 10.0}
    assert task()["options"] == {} and task()["method"] == "reduced"
    assert parse_sweep(SWEEP).tasks[1]["options"] == {}  # simulations have none


def test_sweep_with_theory_options_runs_the_method_with_them(tmp_path):
    small = {
        **SWEEP,
        "parameters": {"learning.gamma": [0.6, 0.8]},
        "task": [{"run": "theory", "method": "particles", "particles": 3, "timescale": "full"}],
    }
    result = run_sweep(parse_sweep(small), tmp_path / "a.nc")
    sweep = parse_sweep(small)
    (task,) = sweep.tasks
    for position, values in sweep.points(task):
        expected = marldyn.predict(sweep.point_config(values, task), Particles(n=3, timescale="full"))
        last = max(1, int(sweep.summary["window"] * expected.sizes["time"]))
        final = expected["policy"].isel(time=slice(-last, None)).mean("time").values
        np.testing.assert_allclose(result["theory_particles_policy"].values[position], final, rtol=1e-12)
    respelled = {**small, "task": [{"run": "theory", "method": "particles", "n": 3, "timescale": "full"}]}
    again = run_sweep(parse_sweep(respelled), tmp_path / "b.nc")
    xr.testing.assert_identical(again, result)
    parts = sorted(p.name for p in (tmp_path / "a.nc.parts").iterdir())
    assert parts == sorted(p.name for p in (tmp_path / "b.nc.parts").iterdir()) and len(parts) == 2


def test_cli_sweep(tmp_path, capsys):
    sweep_file = tmp_path / "tiny.toml"
    sweep_file.write_text(
        'base = "base.toml"\n[parameters]\n"learning.gamma" = [0.6, 0.8]\n"learning.beta" = [0.5, 1.0]\n'
        '[[task]]\nrun = "theory"\nmethod = "reduced"\n'
    )
    (tmp_path / "base.toml").write_text('[graph]\nkind = "lattice"\nn = 9\n[run]\nsteps = 100\nrecord_every = 50\n')
    out, figure = tmp_path / "tiny.nc", tmp_path / "tiny.png"
    assert main(["sweep", str(sweep_file), "-o", str(out), "--workers", "1", "--plot", str(figure)]) == 0
    assert "4 points" in capsys.readouterr().out and figure.is_file()
    assert load_sweep(sweep_file).parameters["learning.beta"] == [0.5, 1.0]
    assert main(["sweep", str(sweep_file), "-o", str(out), "--workers", "1"]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2


def test_example_sweep_file_is_valid():
    sweep = load_sweep("examples/sweep_gamma_b1.toml")
    assert list(sweep.parameters) == ["learning.gamma", "game.b[0]"]
    assert len(sweep.points(sweep.tasks[1])) < len(sweep.points(sweep.tasks[0]))


def test_phase_diagram(serial, tmp_path):
    figure = phase_diagram_figure(serial, tmp_path / "phase.png")
    assert len(figure.axes) == 4  # two panels and their colour bars
    assert (tmp_path / "phase.png").is_file()


def test_a_sweep_over_an_agent_type_fraction_draws_a_curve(tmp_path):
    """``agent_types[k].key`` paths sweep a type's field; one swept parameter draws the theory's curve with the
    simulation's points (issue 13)."""
    from marldyn.analysis import parse_sweep, phase_diagram_figure, run_sweep

    sweep = parse_sweep(
        {
            "base": {
                "graph": {"kind": "lattice", "n": 16},
                "run": {"steps": 200, "record_every": 100, "runs": 2},
                "agent_types": [{"name": "z", "fraction": 0.1, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
            },
            "parameters": {"agent_types[0].fraction": [0.1, 0.3, 0.5]},
            "task": [
                {"run": "theory", "method": "full-discrete"},
                {"run": "simulate", "every": {"agent_types[0].fraction": 2}},
            ],
            "summary": {"variables": ["policy", "policy_by_type"]},
            "plot": {"x": "agent_types[0].fraction", "variable": "policy", "action": 0},
        }
    )
    config = sweep.point_config({"agent_types[0].fraction": 0.3}, sweep.tasks[1])
    assert config.agent_types[0].fraction == 0.3
    result = run_sweep(sweep, progress=False)
    theory = result["theory_full_discrete_policy"].sel(action=0, state=0).values
    assert np.all(np.diff(theory) > 0)  # more zealots, more cooperation in the population mean
    assert np.isnan(result["simulate_policy"].sel(action=0, state=0).values[1])  # every second point only
    by_type = result["theory_full_discrete_policy_by_type"]
    assert by_type.dims == ("agent_types[0].fraction", "agent_type", "state", "action")
    assert by_type["agent_type"].values.tolist() == ["default", "z"]
    np.testing.assert_allclose(by_type.sel(agent_type="z", action=0), 1.0)  # the zealots always cooperate
    simulated = result["simulate_policy_by_type"].sel(agent_type="default", state=0, action=0).values
    assert np.isfinite(simulated[0]) and np.isfinite(result["simulate_policy_by_type_std"].values[0]).all()
    figure = phase_diagram_figure(result, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 0 and figure.axes[0].get_xlabel() == "agent_types[0].fraction"
    with pytest.raises(ConfigError, match=r"write it as agent_types\[entry\]\.key"):
        parse_sweep({"base": {}, "parameters": {"agent_types.fraction": [0.1]}, "task": [{"run": "theory"}]})
