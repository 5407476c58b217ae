"""The ``marldyn`` command line: outputs, overrides, overwrite protection, workers, and user errors.

Every user mistake must end with exit code 2 and exactly one line ``marldyn: error: ...`` on stderr; numerical
failures and other marldyn errors with exit code 1 and one such line; marldyn's warnings show as one line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import xarray as xr

import marldyn
import marldyn.config
from marldyn.cli import main

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
steps = 50
runs = 2
seed = 3
record_every = 10
"""


@pytest.fixture(autouse=True)
def _no_progress_bar(monkeypatch):
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")


def write_config(folder: Path, text: str = SMALL_TOML, name: str = "small.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def open_result(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as dataset:
        return dataset.load()


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_user_error(code: int, out: str, err: str, match: str) -> None:
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("marldyn: error: ")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err and "Traceback" not in out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """The small config run once with --workers 1: (config path, output path, dataset)."""
    folder = tmp_path_factory.mktemp("baseline")
    config = write_config(folder)
    output = folder / "base.nc"
    assert main(["simulate", str(config), "-o", str(output), "--workers", "1", "--no-progress"]) == 0
    return config, output, open_result(output)


def test_simulate_writes_a_readable_netcdf(baseline):
    _, output, dataset = baseline
    assert {"policy", "q", "q_std", "state_fraction"} <= set(dataset.data_vars)
    assert dataset["policy"].dims == ("run", "time", "state", "action")
    assert dataset["q"].dims == dataset["q_std"].dims == ("run", "time", "state", "action")
    assert dataset["state_fraction"].dims == ("run", "time", "state")
    assert dict(dataset.sizes) == {"run": 2, "time": 6, "state": 2, "action": 2}
    assert dataset["time"].values.tolist() == [0, 10, 20, 30, 40, 50]
    assert dataset.attrs["seed"] == 3 and dataset.attrs["n_agents"] == 9
    assert "agent_q" not in dataset
    assert marldyn.parse_config(tomllib.loads(dataset.attrs["config"])).run.steps == 50
    assert not list(output.parent.glob("*.part"))


def test_success_message(tmp_path, capsys):
    config = write_config(tmp_path)
    code, out, err = run_cli(capsys, "simulate", config, "-o", tmp_path / "out.nc", "--steps", "10", "--runs", "1")
    assert code == 0, err
    assert out.startswith(f"wrote {tmp_path / 'out.nc'}: 1 runs x 10 steps")
    assert "final mean probability of action 0 per state: s1: " in out


def test_default_output_name_is_the_config_stem(tmp_path, capsys, monkeypatch):
    config = write_config(tmp_path, name="my_run.toml")
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "simulate", config, "--steps", "5", "--runs", "1")
    assert code == 0, err
    assert open_result(tmp_path / "my_run.nc").sizes["run"] == 1


def test_run_overrides(tmp_path, capsys):
    config = write_config(tmp_path)
    output = tmp_path / "over.nc"
    code, _, err = run_cli(capsys, "simulate", config, "-o", output, "--steps", "20", "--runs", "3", "--seed", "5")
    assert code == 0, err
    dataset = open_result(output)
    assert dataset.sizes["run"] == 3 and dataset["time"].values.tolist() == [0, 10, 20]
    assert dataset.attrs["seed"] == 5
    recorded = marldyn.parse_config(tomllib.loads(dataset.attrs["config"]))
    assert (recorded.run.steps, recorded.run.runs, recorded.run.seed) == (20, 3, 5)
    expected = marldyn.simulate(marldyn.load_config(config).with_overrides(steps=20, runs=3, seed=5))
    xr.testing.assert_equal(dataset, expected)


def test_refuses_to_overwrite_without_flag(tmp_path, capsys):
    config = write_config(tmp_path)
    output = tmp_path / "taken.nc"
    output.write_bytes(b"keep me")
    code, out, err = run_cli(capsys, "simulate", config, "-o", output, "--steps", "5")
    assert_user_error(code, out, err, r"exists; choose another name or pass --overwrite")
    assert output.read_bytes() == b"keep me"
    code, _, err = run_cli(capsys, "simulate", config, "-o", output, "--steps", "5", "--overwrite")
    assert code == 0, err
    assert open_result(output)["time"].values[-1] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml", "taken.nc"]


@pytest.mark.parametrize("workers", [["--workers", "2"], ["--workers", "3"], []], ids=["2", "3", "default"])
def test_workers_do_not_change_the_result(baseline, tmp_path, capsys, workers):
    config, _, expected = baseline
    output = tmp_path / "other.nc"
    code, _, err = run_cli(capsys, "simulate", config, "-o", output, *workers)
    assert code == 0, err
    xr.testing.assert_identical(open_result(output), expected)


def test_snapshots_add_agent_records(baseline, tmp_path, capsys):
    config, _, expected = baseline
    output = tmp_path / "snap.nc"
    code, _, err = run_cli(capsys, "simulate", config, "-o", output, "--snapshots")
    assert code == 0, err
    dataset = open_result(output)
    assert dataset["agent_q"].dims == ("run", "time", "agent", "state", "action")
    assert dataset["agent_q"].shape == (2, 6, 9, 2, 2)
    assert dataset["agent_edge_state"].dims == ("run", "time", "edge") and dataset.sizes["edge"] == 18
    xr.testing.assert_allclose(dataset["agent_q"].mean("agent"), dataset["q"], rtol=1e-12)
    xr.testing.assert_identical(dataset[list(expected.data_vars)], expected[list(expected.data_vars)])


def test_help_exits_zero(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "simulate" in out
    code, out, _ = run_cli(capsys)
    assert code == 0 and "Usage" in out
    code, out, _ = run_cli(capsys, "simulate", "--help")
    assert code == 0 and "--workers" in out and "--overwrite" in out


def _config_with(replace: dict[str, str]):
    def make(folder: Path) -> Path:
        text = SMALL_TOML
        for old, new in replace.items():
            assert old in text
            text = text.replace(old, new)
        return write_config(folder, text)

    return make


def _edgelist_config(content: bytes):
    def make(folder: Path) -> Path:
        (folder / "edges.txt").write_bytes(content)
        return write_config(
            folder, SMALL_TOML.replace('kind = "lattice"\nn = 9', 'kind = "edgelist"\npath = "edges.txt"')
        )

    return make


SMALL = _config_with({})

BAD_INPUTS = [
    pytest.param(_config_with({"alpha = 0.05": "alpha = 2.0"}), [], r"learning\.alpha = 2\.0", id="bad-value"),
    pytest.param(_config_with({"alpha = 0.05": "alpah = 0.05"}), [], r"unknown key 'alpah'", id="unknown-key"),
    pytest.param(_config_with({"[run]": "[run"}), [], r"not valid TOML", id="bad-toml"),
    pytest.param(_config_with({"n = 9": "n = 10"}), [], r"graph\.n = 10: a lattice needs", id="non-square"),
    pytest.param(
        _config_with({'kind = "lattice"\nn = 9': 'kind = "random_regular"\nn = 9\ndegree = 3'}),
        [],
        r"graph\.degree = 3",
        id="impossible-degree",
    ),
    pytest.param(
        _config_with({"[graph]": '[game]\nname = "custom"\nfile = "absent.npz"\n\n[graph]'}),
        [],
        r"game\.file: no such file",
        id="missing-game-file",
    ),
    pytest.param(_edgelist_config(b"0 1\n1 1\n"), [], r"graph\.path: self-loop at agent 1", id="edgelist-loop"),
    pytest.param(lambda folder: folder / "absent.toml", [], r"config file not found", id="missing-config"),
    pytest.param(SMALL, ["--bogus"], r"No such option: --bogus", id="unknown-option"),
    pytest.param(SMALL, ["--workers", "two"], r"--workers", id="workers-not-int"),
    pytest.param(SMALL, ["--workers", "1.5"], r"--workers", id="workers-float"),
    pytest.param(SMALL, ["--workers", "0"], r"workers = 0 must be an integer >= 1", id="workers-0"),
    pytest.param(SMALL, ["--steps", "-3"], r"run\.steps = -3: must be greater than or equal to 1", id="steps-neg"),
    pytest.param(SMALL, ["--steps", "0"], r"run\.steps = 0", id="steps-0"),
    pytest.param(SMALL, ["--steps", "1e3"], r"--steps", id="steps-float"),
    pytest.param(SMALL, ["--runs", "0"], r"run\.runs = 0", id="runs-0"),
    pytest.param(SMALL, ["--seed", "-1"], r"run\.seed = -1", id="seed-neg"),
    pytest.param(SMALL, ["-o", "/nonexistent/marldyn/out.nc"], r"output directory .* does not exist", id="no-dir"),
    pytest.param(SMALL, ["--steps", str(10**20)], r"run\.steps", id="steps-huge"),
    pytest.param(SMALL, ["--seed", str(2**70)], r"run\.seed", id="seed-huge"),
    pytest.param(
        _config_with({"q = [[0.5, 0.0], [0.0, 0.5]]": "q = [[0.5, 0.0], [0.0]]"}), [], r"init\.q", id="ragged-init-q"
    ),
    pytest.param(_edgelist_config(b"0 1\n\xff 2\n"), [], r"graph\.path", id="edgelist-not-utf8"),
]


@pytest.mark.parametrize(("make_config", "extra", "match"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make_config, extra, match):
    config = make_config(tmp_path)
    output = tmp_path / "out.nc"
    args = ["simulate", config, *(["-o", output] if "-o" not in extra else []), *extra]
    code, out, err = run_cli(capsys, *args)
    assert_user_error(code, out, err, match)
    assert not output.exists()
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["frobnicate"], r"No such command 'frobnicate'"),
        (["simulate"], r"give either CONFIG or --resume CHECKPOINT"),
    ],
)
def test_bad_command_line_exits_2(capsys, args, match):
    code, out, err = run_cli(capsys, *args)
    assert_user_error(code, out, err, match)


@pytest.mark.parametrize("n", [60, 200])
def test_an_edge_list_gets_its_own_number_of_agents(tmp_path, capsys, n):
    """Regression (issue 12): the CLI's copy of the config turned the default n = 100 into a given value, so a
    60-node edge list got 40 isolated agents and a 200-node one was refused ("agent id 199 out of range")."""
    (tmp_path / "edges.txt").write_text("".join(f"{i} {(i + 1) % n}\n" for i in range(n)))
    config = write_config(
        tmp_path, SMALL_TOML.replace('kind = "lattice"\nn = 9', 'kind = "edgelist"\npath = "edges.txt"')
    )
    output = tmp_path / "ring.nc"
    code, _, err = run_cli(capsys, "simulate", config, "-o", output, "--steps", "5", "--runs", "1", "--seed", "4")
    assert code == 0, err
    assert "isolated" not in err
    dataset = open_result(output)
    assert dataset.attrs["n_agents"] == n and dataset.attrs["n_edges"] == n
    stored = marldyn.parse_config(tomllib.loads(dataset.attrs["config"]), base_dir=tmp_path)
    assert stored.graph.n is None and stored.build_graph().n_agents == n


def test_an_empty_config_file_warns_in_one_line_and_runs_the_default_case(tmp_path, capsys):
    config = write_config(tmp_path, "# nothing yet\n", name="empty.toml")
    output = tmp_path / "default.nc"
    code, out, err = run_cli(capsys, "simulate", config, "-o", output, "--steps", "2", "--runs", "1")
    assert code == 0, err
    assert err.splitlines() == [
        f"marldyn: warning: {config} is empty: running the built-in default case (two-state prisoner's dilemma "
        "on a lattice of 100 agents, 10 runs of 20000 steps)"
    ]
    assert out.startswith(f"wrote {output}")
    assert open_result(output).attrs["n_agents"] == 100


def test_other_warnings_keep_the_python_format(tmp_path, capsys, monkeypatch):
    def load_config(path):
        import warnings

        warnings.warn("something else", UserWarning, stacklevel=1)
        raise marldyn.ConfigError("stop here")

    monkeypatch.setattr(marldyn.config, "load_config", load_config)
    with pytest.warns(UserWarning, match="something else"):
        code, out, err = run_cli(capsys, "simulate", write_config(tmp_path), "-o", tmp_path / "x.nc")
    assert_user_error(code, out, err, r"stop here")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (marldyn.ConfigError, 2),
        (marldyn.SimulationError, 1),
        (marldyn.DivergenceError, 1),
        (marldyn.ConvergenceError, 1),
        (marldyn.NumericalError, 1),
        (marldyn.MarldynError, 1),
    ],
)
def test_exit_codes_and_one_line_per_error_class(tmp_path, capsys, monkeypatch, error, code):
    """User mistakes exit with 2, numerical failures and other marldyn errors with 1: always one line, no traceback."""

    def fail(path):
        raise error("it went wrong\n  at step 7")

    monkeypatch.setattr(marldyn.config, "load_config", fail)
    exit_code, out, err = run_cli(capsys, "simulate", write_config(tmp_path), "-o", tmp_path / "x.nc")
    assert exit_code == code
    assert err.splitlines() == ["marldyn: error: it went wrong at step 7"]
    assert "Traceback" not in out + err


def test_other_exceptions_are_not_hidden(tmp_path, monkeypatch):
    def fail(path):
        raise KeyError("a bug")

    monkeypatch.setattr(marldyn.config, "load_config", fail)
    with pytest.raises(KeyError, match="a bug"):
        main(["simulate", str(write_config(tmp_path)), "-o", str(tmp_path / "x.nc")])


def console_script() -> str:
    beside_python = Path(sys.executable).with_name("marldyn")
    found = str(beside_python) if beside_python.exists() else shutil.which("marldyn")
    assert found, "the marldyn console script is not installed (pip install -e .)"
    return found


def test_console_script(tmp_path):
    config = write_config(tmp_path)
    env = {**os.environ, "MARLDYN_PROGRESS": "0"}
    output = tmp_path / "script.nc"
    done = subprocess.run(
        [console_script(), "simulate", str(config), "-o", str(output), "--steps", "20", "--runs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {output}")
    assert open_result(output)["time"].values[-1] == 20

    failed = subprocess.run(
        [console_script(), "simulate", str(config), "-o", str(output), "--steps", "-1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == ["marldyn: error: run.steps = -1: must be greater than or equal to 1"]
    assert "Traceback" not in failed.stdout + failed.stderr
