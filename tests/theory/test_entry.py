"""``marldyn.theory.theory(config, method)`` and the CLI ``theory`` / ``compare`` commands, end to end.

Every method must return a Dataset that lines up with the simulator's: the same variable names and
dimensions, the same time grid (in simulator steps), and the attributes that say what was computed.
"""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
import xarray as xr

import marldyn
from marldyn.cli import main
from marldyn.errors import ConfigError
from marldyn.theory import METHODS, theory

SMALL = {
    "graph": {"kind": "lattice", "n": 9},
    "learning": {"alpha": 0.05, "beta": 1.0, "gamma": 0.8},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
    "run": {"steps": 60, "runs": 2, "seed": 3, "record_every": 20},
}
SMALL_TOML = """\
[graph]
kind = "lattice"
n = 9

[learning]
alpha = 0.05

[init]
q = [[0.5, 0.0], [0.0, 0.5]]
q_noise = 0.1

[run]
steps = 60
runs = 2
seed = 3
record_every = 20
"""
IRREGULAR = SMALL | {"graph": {"kind": "barabasi_albert", "n": 30, "m": 2, "seed": 4}}
OPTIONS = {"particles": dict(particles=6), "sde": dict(dt=5.0)}
POINT_MASSES = ("reduced", "full", "full-discrete")


@pytest.fixture(autouse=True)
def _no_progress_bar(monkeypatch):
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")


@pytest.fixture(scope="module")
def simulation():
    return marldyn.simulate(SMALL)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_lines_up_with_the_simulation(simulation, method):
    result = theory(SMALL, method, **OPTIONS.get(method, {}))
    assert isinstance(result, xr.Dataset)
    np.testing.assert_array_equal(result["time"].values, simulation["time"].values)
    assert result["time"].attrs["units"] == "steps"
    for dimension in ("state", "action"):
        np.testing.assert_array_equal(result[dimension].values, simulation[dimension].values)
    core = {"policy", "q", "state_fraction"}
    assert core <= set(result.data_vars)
    if method in POINT_MASSES:
        assert "q_std" not in result  # a point mass has no spread across agents
    if method in ("particles", "sde"):
        assert "q_std" in result
    if method == "sde":
        assert "run" in result.dims
    if "run" in result.dims:  # ensemble members line up with the simulation's runs
        assert result.sizes["run"] == simulation.sizes["run"]
    for name in set(result.data_vars) & set(simulation.data_vars):  # shared names mean the same dims
        dims = simulation[name].dims if "run" in result.dims else simulation[name].dims[1:]  # no run axis
        assert result[name].dims == dims, name
        assert np.all(np.isfinite(result[name].values)), name
    np.testing.assert_allclose(result["policy"].sum("action"), 1.0, atol=1e-12)
    np.testing.assert_allclose(result["state_fraction"].sum("state"), 1.0, atol=1e-9)
    # attributes: what was computed, from what, by which version
    attrs = result.attrs
    assert attrs["method"] == method and attrs["kind"] == "theory"
    assert attrs["marldyn_version"] == marldyn.__version__
    assert attrs["seed"] == 3 and attrs["horizon"] == 60
    assert tomllib.loads(attrs["config"]) == tomllib.loads(marldyn.parse_config(SMALL).to_toml())
    assert "[[0.5, 0.0], [0.0, 0.5]]" in attrs["initial_condition"]
    assert "edge states uniform" in attrs["initial_condition"]
    if method in ("particles", "sde"):
        assert "noise of scale 0.1" in attrs["initial_condition"]
    if method in POINT_MASSES:
        assert "point mass" in attrs["initial_condition"]


def test_the_point_mass_methods_start_at_the_initial_table():
    result = theory(SMALL, "reduced")
    np.testing.assert_allclose(result["q"].isel(time=0), SMALL["init"]["q"])
    np.testing.assert_allclose(result["state_fraction"].isel(time=0).sum(), 1.0)
    discrete = theory(SMALL, "full-discrete")
    np.testing.assert_allclose(discrete["state_fraction"].isel(time=0), [0.5, 0.5])  # uniform edge states


def test_sde_starts_from_the_simulators_own_initial_draws(simulation):
    result = theory(SMALL, "sde", dt=5.0)
    for name in ("q", "q_std"):
        np.testing.assert_allclose(result[name].isel(time=0), simulation[name].isel(time=0), rtol=1e-12)


def test_particles_and_timescale_options_are_recorded():
    result = theory(SMALL, "particles", particles=5, timescale="full")
    assert result.attrs["particles"] == 5 and result.attrs["timescale"] == "full"
    assert json.loads(result.attrs["method_options"]) == {"n": 5, "timescale": "full"}
    assert "5 particles" in result.attrs["initial_condition"]


@pytest.mark.parametrize(("method", "hint"), [("particle", "particles"), ("full_discrete", "full-discrete")])
def test_unknown_method_is_a_config_error_with_a_suggestion(method, hint):
    with pytest.raises(ConfigError, match=f"did you mean '{hint}'"):
        theory(SMALL, method)
    with pytest.raises(ConfigError, match="must be one of"):
        theory(SMALL, "zzz")


@pytest.mark.parametrize("method", ["reduced", "full", "full-discrete"])
def test_degree_classes_on_an_irregular_graph(method):
    graph = marldyn.parse_config(IRREGULAR).build_graph()
    classes = np.unique(graph.degree)
    assert classes.size > 2
    result = theory(IRREGULAR, method)
    assert result.attrs["degree_classes"] == str(classes.tolist())
    assert f"{classes.size} classes" in result.attrs["initial_condition"]
    assert "q_std" in result
    np.testing.assert_allclose(result["q_std"].isel(time=0), 0.0, atol=1e-12)  # all classes start together
    assert np.all(result["q_std"].isel(time=-1).values > 0)  # and drift apart: degree sets the speed
    assert np.all(np.isfinite(result["policy"].values))


def test_particles_on_an_irregular_graph_use_its_degrees():
    result = theory(IRREGULAR, "particles", particles=8)
    assert result.attrs["particles"] == 8
    assert np.all(np.isfinite(result["q"].values))


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_theory_then_compare_as_json(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    simulated, predicted = tmp_path / "sim.nc", tmp_path / "theory.nc"
    code, out, err = run_cli(capsys, "simulate", config, "-o", simulated)
    assert code == 0, err
    code, out, err = run_cli(capsys, "theory", config, "--method", "particles", "--particles", 4, "-o", predicted)
    assert code == 0, err
    assert f"wrote {predicted}" in out and "particles theory to step 60" in out
    with xr.open_dataset(predicted, engine="h5netcdf") as dataset:
        assert dataset.attrs["method"] == "particles" and dataset.sizes["time"] == 4
    code, out, err = run_cli(capsys, "compare", simulated, predicted, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["theory_method"] == "particles" and result["simulation_runs"] == 2
    assert result["time"] == [0, 20, 40, 60]
    labels = {component["label"] for component in result["components"]}
    assert {"policy s=0 a=0", "policy s=1 a=1", "fraction s=0"} <= labels
    assert all(0 <= component["max_error"] <= 1 for component in result["components"])
    code, out, err = run_cli(capsys, "compare", simulated, predicted)  # the text table
    assert code == 0 and "max err" in out


def test_cli_theory_sde_with_overrides(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    output = tmp_path / "sde.nc"
    code, out, err = run_cli(
        capsys, "theory", config, "--method", "sde", "--dt", 10, "--steps", 40, "--runs", 3, "-o", output
    )
    assert code == 0, err
    with xr.open_dataset(output, engine="h5netcdf") as dataset:
        assert dataset.sizes["run"] == 3 and int(dataset["time"][-1]) == 40
        assert dataset.attrs["dt"] == 10.0


@pytest.mark.parametrize(
    "arguments",
    [
        ["--method", "particle"],  # unknown method
        ["--method", "particles", "--timescale", "slow"],
        ["--method", "sde", "--dt", "0"],
        ["--method", "particles", "--particles", "0"],
    ],
)
def test_cli_theory_user_errors_are_one_line_with_exit_code_2(tmp_path, capsys, arguments):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    code, out, err = run_cli(capsys, "theory", config, *arguments, "-o", tmp_path / "out.nc")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("marldyn: error:"), err
    assert "Traceback" not in err
    assert not (tmp_path / "out.nc").exists()


def test_cli_refuses_to_overwrite_and_compare_rejects_mismatched_files(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    output = tmp_path / "reduced.nc"
    assert run_cli(capsys, "theory", config, "-o", output)[0] == 0
    code, _, err = run_cli(capsys, "theory", config, "-o", output)
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    assert run_cli(capsys, "theory", config, "-o", output, "--overwrite")[0] == 0
    longer = tmp_path / "longer.nc"
    shorter = tmp_path / "shorter.nc"
    assert run_cli(capsys, "simulate", config, "-o", longer, "--steps", 100)[0] == 0
    assert run_cli(capsys, "theory", config, "-o", shorter, "--steps", 40)[0] == 0
    code, _, err = run_cli(capsys, "compare", longer, shorter, "--json")  # the theory does not cover the simulation
    assert code == 2 and err.startswith("marldyn: error:") and len(err.strip().splitlines()) == 1
