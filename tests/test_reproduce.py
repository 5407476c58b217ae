"""``marldyn reproduce``: every reproduction in quick mode — files, figures, summaries, datasets and errors.

Each reproduction runs once per module (a fixture), through the Python API, except ``si-beta``, which runs
through the command line; the same structural checks apply to both. The error checks use bounds that follow
from the number of runs (standard errors of run-means), not numbers fitted to the outputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import warnings

import matplotlib.image
import numpy as np
import pytest

from marldyn.cli import main
from marldyn.compare import NOISE_FACTOR, compare
from marldyn.errors import ConfigError, MarldynWarning
from marldyn.io import read_dataset
from marldyn.reproduce import NAMES, REPRODUCTIONS, reproduce
from marldyn.reproduce.common import QUICK_RUNS, Case, Reproduction, TheorySpec, make_config
from marldyn.theory import Closure

CLI_NAME = "si-beta"
API_NAMES = [name for name in REPRODUCTIONS if name != CLI_NAME]
SUMMARY_KEYS = {
    "name",
    "title",
    "command",
    "quick",
    "marldyn_version",
    "seconds",
    "parameters",
    "initial_condition",
    "runs",
    "horizon",
    "provenance",
    "notes",
    "cases",
    "figures",
    "files",
}
CASE_KEYS = {"key", "label", "varied", "parameters", "runs", "horizon", "initial_condition", "theories", "errors"}
SIMULATION_VARIABLES = {"policy": 4, "q": 4, "q_std": 4, "state_fraction": 3}
#: Standard errors a theory may be off at its worst time before we call it wrong (|z| > 4 has probability
#: 6e-5 for a Gaussian error).
Z = 4.0


@pytest.fixture(autouse=True)
def _no_progress_bar(monkeypatch):
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Quick outputs by name: (directory, summary), computed on first use and kept for the module; what the
    command line printed is kept in ``printed``."""
    cache = {}

    def get(name):
        if name not in cache:
            directory = tmp_path_factory.mktemp(name)
            if name == CLI_NAME:
                with contextlib.redirect_stdout(io.StringIO()) as stdout:
                    code = main(["reproduce", name, "--quick", "--out", str(directory)])
                assert code == 0
                printed[name] = stdout.getvalue()
                summary = json.loads((directory / "summary.json").read_text())
            else:
                summary = reproduce(name, directory, quick=True, workers=1)
            cache[name] = (directory, summary)
        return cache[name]

    printed = {}
    get.printed = printed

    return get


# ----------------------------------------------------------------------------------------------
# structure, for every reproduction
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*API_NAMES, CLI_NAME])
def test_files_figures_and_summary(outputs, name):
    directory, summary = outputs(name)
    assert SUMMARY_KEYS <= set(summary)
    assert summary["name"] == name and summary["quick"] is True
    assert summary == json.loads((directory / "summary.json").read_text())
    markdown = (directory / "summary.md").read_text()
    assert markdown.startswith(f"# {name}")
    pngs = [f for f in summary["figures"] if f.endswith(".png")]
    assert pngs and {f.replace(".png", ".pdf") for f in pngs} <= set(summary["figures"])
    for figure in summary["figures"]:
        assert (directory / figure).stat().st_size > 10_000
    for png in pngs:
        image = matplotlib.image.imread(directory / png)
        assert image.shape[0] > 500 and image.shape[1] > 800
        assert np.std(image[..., :3]) > 0.05  # not blank
    assert (directory / pngs[0].replace(".png", ".pdf")).read_bytes().startswith(b"%PDF")
    assert not [p.name for p in directory.iterdir() if p.name.endswith(".part")]  # atomic writes left no debris
    assert set(summary["files"]) == {p.name for p in directory.iterdir() if not p.name.startswith(".")}
    if summary["parameters"] is not None and summary["parameters"]["game"] == "two_state_pd":
        assert "p1 = 0.7, p2 = 0.2" in summary["provenance"] and "authors'" in summary["provenance"]
        assert "authors' public code" in markdown


@pytest.mark.parametrize("name", [*API_NAMES, CLI_NAME])
def test_cases_datasets_and_recorded_errors(outputs, name):
    directory, summary = outputs(name)
    if "sweeps" in summary:  # a sweep reproduction (the group games'): the theory grid and the simulated points
        for file in summary["sweeps"]:
            sweep = read_dataset(directory / file)
            theory = [v for v in sweep.data_vars if v.startswith("theory_reduced_") and not v.endswith("_error")]
            simulated = [v for v in sweep.data_vars if v.startswith("simulate_") and not v.endswith(("_std", "_error"))]
            assert theory and simulated
            assert np.isfinite(sweep[theory[0]]).all()  # every grid point predicted
            assert 0 < int(np.isfinite(sweep[simulated[0]]).sum()) < sweep[simulated[0]].size  # a few simulated
        return
    assert summary["cases"]
    for case in summary["cases"]:
        assert CASE_KEYS <= set(case)
        if case["simulation_file"] is None:
            assert not case["errors"]
        else:
            assert case["runs"] == QUICK_RUNS
            simulation = read_dataset(directory / case["simulation_file"])
            for variable, ndim in SIMULATION_VARIABLES.items():
                assert simulation[variable].ndim == ndim
            assert simulation.sizes["run"] == QUICK_RUNS
            assert int(simulation["time"].values[-1]) == case["horizon"] == simulation.attrs["horizon"]
            assert case["initial_condition"] == simulation.attrs["initial_condition"]
            assert case["initial_condition"] in (directory / "summary.md").read_text()
        for label, info in case["theories"].items():
            theory = read_dataset(directory / info["file"])
            assert {"policy", "state_fraction"} <= set(theory.data_vars)
            assert theory.attrs["method"] == info["method"]
            assert json.loads(theory.attrs["method_options"]) == info["options"]  # the method object's options
            assert info["initial_condition"] == theory.attrs["initial_condition"]
            if label in case["errors"]:
                # the recorded table is the comparison of the written datasets
                recorded = case["errors"][label]
                again = compare(simulation, theory)
                assert [c["max_error"] for c in recorded["components"]] == pytest.approx(
                    [c["max_error"] for c in again["components"]], rel=1e-12, abs=1e-15
                )
                assert 0.0 <= recorded["max_policy_error"] <= 1.0
                assert recorded["simulation_runs"] == QUICK_RUNS
                assert f"Simulation vs `{label}`" in (directory / "summary.md").read_text()


# ----------------------------------------------------------------------------------------------
# errors and findings of single reproductions
# ----------------------------------------------------------------------------------------------
def _policy_components(comparison):
    return [c for c in comparison["components"] if c["variable"] == "policy"]


def test_fig3_sde_is_within_noise_and_particles_within_z_standard_errors(outputs):
    """The SDE ensemble models the finite population, so its mean must be within the run-mean's noise
    (compare's criterion: mean error <= NOISE_FACTOR x mean standard error; an exact theory gives about 0.8).
    The deterministic particle theory neglects the diffusion, so it may carry a small systematic lead; it must
    still stay within Z standard errors of the QUICK_RUNS-run mean at every time, the standard error pooled
    over time (a 3-run estimate at a single time is too noisy to bound anything). This bound shrinks as
    1/sqrt(runs): with the full 10 runs the particle theory's lead is resolved (the full summary reports it as
    outside the noise), so this test does not claim the particle theory exact, only that its error is of the
    size of a few-run noise; the SDE check above is the strict one."""
    directory, summary = outputs("fig3")
    simulation = read_dataset(directory / "main_simulation.nc")
    sde = compare(simulation, read_dataset(directory / "main_sde.nc"))
    for component in _policy_components(sde):
        assert component["within_noise"], component["label"]
        assert component["mean_error"] <= NOISE_FACTOR * component["mean_noise"]
    particles = compare(simulation, read_dataset(directory / "main_particles.nc"))
    for component in _policy_components(particles):
        standard_error = float(np.mean(component["standard_error"]))  # theory without runs: noise = sim's SE
        assert component["max_error"] <= Z * standard_error, component["label"]
    # The heterogeneous theory is closer than the point mass in s1 (NOTES.md 9: a point mass lags).
    reduced = compare(simulation, read_dataset(directory / "main_reduced.nc"))
    first = {c["label"]: c["mean_error"] for c in _policy_components(particles)}["policy s=0 a=0"]
    point = {c["label"]: c["mean_error"] for c in _policy_components(reduced)}["policy s=0 a=0"]
    assert first < point


def test_fig3_edge_states_relax_as_the_exact_one_step_map(outputs):
    """From 50/50, the edge states follow full-discrete within the binomial standard error of a fraction of
    E edges averaged over R runs, sqrt(f (1 - f) / (E R)); the dense start is the main run's exact prefix."""
    directory, summary = outputs("fig3")
    early = read_dataset(directory / "early_simulation.nc")
    main_run = read_dataset(directory / "main_simulation.nc")
    discrete = read_dataset(directory / "early_full-discrete.nc")
    edges, runs = early.attrs["n_edges"], early.sizes["run"]
    for step in (0, 1, 2, 3):
        fraction = float(early["state_fraction"].sel(time=step, state=0).mean("run"))
        expected = float(discrete["state_fraction"].sel(time=step, state=0))
        assert abs(fraction - expected) <= Z * math.sqrt(expected * (1 - expected) / (edges * runs)), step
    shared = np.intersect1d(early["time"].values, main_run["time"].values)
    assert shared.size > 1
    np.testing.assert_array_equal(early["q"].sel(time=shared).values, main_run["q"].sel(time=shared).values)
    relaxation = summary["edge_state_relaxation"]
    assert relaxation["times"] == [0, 1, 2, 3] and len(relaxation["simulation"]) == 4
    assert set(summary["long_horizon"]) == {"reduced", "full", "particles"}
    assert summary["sde"]["dt"] > 0


def test_fig3_summary_has_the_closure(outputs):
    """The closure is computed, compared and reported in the main and Q = 0 cases: its dataset, its error table,
    the per-state errors and wall times of ``summary["closure"]`` (the same numbers as the case's tables) and
    the note."""
    directory, summary = outputs("fig3")
    cases = {case["key"]: case for case in summary["cases"]}
    assert set(summary["closure"]) == {"main", "zero"}
    for key, info in summary["closure"].items():
        case = cases[key]
        assert case["theories"]["closure"]["method"] == "closure"
        assert isinstance(case["theories"]["closure"]["warnings"], list)
        assert info["warnings"] == case["theories"]["closure"]["warnings"]
        assert info["seconds"] == case["theories"]["closure"]["seconds"] > 0
        assert info["sde_seconds"] == case["theories"]["sde"]["seconds"] > 0
        dataset = read_dataset(directory / case["theories"]["closure"]["file"])
        assert {"q_std", "q_skewness", "q_kurtosis"} <= set(dataset.data_vars)
        assert info["max_abs_skewness"] == pytest.approx(float(np.abs(dataset["q_skewness"]).max()), rel=1e-12)
        for label in ("closure", "sde"):
            components = case["errors"][label]["components"]
            cooperation = {
                c["state"]: c["max_error"] for c in components if c["variable"] == "policy" and c["action"] == 0
            }
            fraction = {c["state"]: c["max_error"] for c in components if c["variable"] == "state_fraction"}
            assert info[f"{label}_max_error"]["cooperation"] == [cooperation[0], cooperation[1]]
            assert info[f"{label}_max_error"]["state_fraction"] == [fraction[0], fraction[1]]
            assert 0.0 <= max(cooperation.values()) <= 1.0
    assert any(note.startswith("The Gaussian moment closure") and "vs sde" in note for note in summary["notes"])
    assert "Simulation vs `closure`" in (directory / "summary.md").read_text()


def test_theory_warnings_are_recorded_in_the_summary_not_raised(tmp_path, monkeypatch):
    """A theory's MarldynWarning (the closure's non-Gaussianity diagnostic, which fires on the paper's setting
    by 4,000 steps) is kept in the case summary instead of escaping, with the message the theory gives when
    called directly; any other warning still escapes."""
    import marldyn.theory

    config = make_config(steps=4000, runs=1)
    with warnings.catch_warnings(record=True) as direct:
        warnings.simplefilter("always")
        marldyn.theory.theory(config, Closure(), progress=False)
    expected = [str(w.message) for w in direct if issubclass(w.category, MarldynWarning)]
    assert expected and "far from Gaussian" in expected[0]  # the check below is not vacuous

    real_theory = marldyn.theory.theory

    def theory_that_also_warns(*args, **kwargs):
        warnings.warn("an unrelated warning", RuntimeWarning, stacklevel=2)
        return real_theory(*args, **kwargs)

    monkeypatch.setattr(marldyn.theory, "theory", theory_that_also_warns)
    job = Reproduction("warned", "closure warnings", tmp_path, quick=True, progress=False)
    case = Case("only", "theory only", config, (TheorySpec(Closure()),), simulate=False)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        job.run([case])
        summary = job.finish()
    assert not [w for w in escaped if issubclass(w.category, MarldynWarning)]
    assert [str(w.message) for w in escaped if issubclass(w.category, RuntimeWarning)] == ["an unrelated warning"]
    assert summary["cases"][0]["theories"]["closure"]["warnings"] == expected
    assert f"warned: {expected[0]}" in (tmp_path / "summary.md").read_text()


def test_fig4_no_cooperation_without_the_state_incentive(outputs):
    """b1 = b2 = 1.2: cooperation falls in both states for every gamma (the paper's Figure 4a-b)."""
    directory, summary = outputs("fig4")
    flat = [case for case in summary["cases"] if case["varied"]["b"] == [1.2, 1.2]]
    assert len(flat) == 4
    for case in flat:
        simulation = read_dataset(directory / case["simulation_file"])
        cooperation = simulation["policy"].sel(action=0).mean("run")
        assert np.all(cooperation.isel(time=-1).values < cooperation.isel(time=0).values), case["label"]


def test_fig5_larger_degree_learns_faster(outputs):
    """Cooperation in s1 at the horizon: degree 3 below the complete graph, in simulation and particle theory."""
    directory, summary = outputs("fig5")
    final = {case["key"]: case["final"] for case in summary["cases"] if case["key"].startswith("degree")}
    assert set(final) == {"degree3", "degree4", "degree6", "degree10", "degree20", "degree99"}
    for source in ("simulation", "particles"):
        assert final["degree3"][source]["policy"][0][0] < final["degree99"][source]["policy"][0][0]
    alphas = [case for case in summary["cases"] if case["key"].startswith("alpha")]
    assert [case["varied"]["alpha"] for case in alphas] == [1e-4, 1e-3, 1e-2, 1e-1]
    assert all({"sde", "full", "closure"} <= set(case["errors"]) for case in alphas)


def test_crossval_games_graphs_and_symmetric_transitions(outputs):
    directory, summary = outputs("crossval")
    games = summary["games"]
    assert set(games) == {"commons", "stag_hunt", "random"}
    assert np.asarray(games["commons"]["payoff"]).shape == (3, 3, 3)
    for game in games.values():
        transition = np.asarray(game["transition"])
        np.testing.assert_allclose(transition, transition.transpose(0, 2, 1, 3))
        np.testing.assert_allclose(transition.sum(axis=-1), 1.0)
    kinds = {case["parameters"]["graph"]["kind"] for case in summary["cases"]}
    assert len(kinds) >= 2
    assert len(summary["cases"]) == 6 and all(case["errors"] for case in summary["cases"])
    assert len([f for f in summary["figures"] if f.endswith(".png")]) == 3


# ----------------------------------------------------------------------------------------------
# names and the command line
# ----------------------------------------------------------------------------------------------
def test_theory_specs_hold_method_objects():
    from marldyn.reproduce import fig3, fig5
    from marldyn.reproduce.common import TheorySpec, sde_theory
    from marldyn.theory import SDE, Particles

    assert TheorySpec("particles") == TheorySpec(Particles())  # a name is stored as the default object
    assert TheorySpec("particles").options() == {"n": None, "timescale": "reduced"}
    assert fig5.PARTICLES_FULL.method == Particles(timescale="full") and fig5.PARTICLES_FULL.name == "particles-full"
    assert sde_theory(5e-3).method == SDE(dt=10.0) and sde_theory(1.0).method == SDE(dt=1.0)
    assert {spec.method.name for spec in fig3.THEORIES} == {
        "particles",
        "reduced",
        "full",
        "sde",
        "closure",
        "full-discrete",
    }
    assert "closure" in fig3.POLICY_THEORIES and len(fig3.POLICY_COLOURS) == len(fig3.POLICY_DASHES) == 5
    assert Closure() in {spec.method for spec in fig5.ALPHA_THEORIES} and "closure" in fig5.POPULATION
    with pytest.raises(ConfigError, match="must be one of"):
        TheorySpec("particle")


def test_unknown_name_is_a_config_error_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'fig3'"):
        reproduce("fgi3", tmp_path)
    with pytest.raises(ConfigError, match="workers"):
        reproduce("fig3", tmp_path, workers=0)
    assert "all" in NAMES and set(REPRODUCTIONS) <= set(NAMES)


def test_cli_unknown_name_exits_2_with_one_line(capsys, tmp_path):
    code = main(["reproduce", "fig33", "--out", str(tmp_path / "x")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("marldyn: error:") and "did you mean 'fig3'" in lines[0]
    assert not (tmp_path / "x").exists()


def test_cli_prints_one_line_per_reproduction(outputs):
    directory, summary = outputs(CLI_NAME)  # ran through main([...]) in the fixture
    assert summary["command"] == f"marldyn reproduce {CLI_NAME} --quick"
    lines = outputs.printed[CLI_NAME].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{CLI_NAME}: wrote {directory}")
    assert "largest policy error vs simulation: particles" in lines[0]
