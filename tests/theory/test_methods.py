"""Theory methods as frozen option objects (theory.methods): validation, names, and their use by predict and the CLI.

Regression tests for issue 12, bug 5: an option a method does not take used to be ignored silently
(``predict(config, "reduced", dt=5.0)`` ran the reduced theory).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import marldyn
from marldyn.cli import main
from marldyn.errors import ConfigError
from marldyn.theory import (
    LNA,
    METHODS,
    SDE,
    Closure,
    Full,
    FullDiscrete,
    GraphSDE,
    Particles,
    Reduced,
    TheoryMethod,
    as_method,
    method_from_name,
)
from marldyn.theory.methods import DEFAULT_MAX_PARTICLES, METHOD_CLASSES

SMALL = {
    "graph": {"kind": "lattice", "n": 9},
    "learning": {"alpha": 0.05},
    "init": {"q": [[0.5, 0.0], [0.0, 0.5]], "q_noise": 0.1},
    "run": {"steps": 40, "runs": 2, "seed": 3, "record_every": 20},
}
SMALL_TOML = """\
[graph]
kind = "lattice"
n = 9
[learning]
alpha = 0.05
[run]
steps = 40
runs = 2
record_every = 20
"""
DEFAULTS = {
    Reduced: {},
    Full: {},
    FullDiscrete: {},
    Particles: {"n": None, "timescale": "reduced"},
    SDE: {"dt": 10.0},
    GraphSDE: {"dt": 1.0, "timescale": "reduced", "noise": True},
    LNA: {},
    Closure: {"timescale": "reduced", "dt": 10.0, "correlations": True, "order": None},
}


@pytest.fixture(autouse=True)
def _no_progress_bar(monkeypatch):
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")


# ----------------------------------------------------------------------------------------------
# the objects
# ----------------------------------------------------------------------------------------------
def test_every_method_has_a_class_with_todays_defaults():
    assert METHODS == ("reduced", "full", "full-discrete", "particles", "sde", "sde-graph", "lna", "closure")
    assert tuple(cls.name for cls in DEFAULTS) == METHODS == tuple(METHOD_CLASSES)
    for cls, options in DEFAULTS.items():
        method = cls()
        assert isinstance(method, TheoryMethod) and method.options() == options
        assert method_from_name(cls.name) == method == as_method(cls.name)
        assert json.loads(json.dumps(method.options())) == options  # JSON-ready (Dataset attrs, sweep tasks)


def test_objects_are_frozen_hashable_and_compare_by_value():
    method = Particles(n=64, timescale="full")
    with pytest.raises(dataclasses.FrozenInstanceError):
        method.n = 3
    assert method == Particles(n=64, timescale="full") != Particles(n=64)
    assert len({method, Particles(n=64, timescale="full"), SDE(), SDE(dt=10)}) == 2
    assert Reduced() != Full()  # no options, still different methods
    with pytest.raises(TypeError, match="base class"):
        TheoryMethod()


def test_values_are_normalised_so_equal_options_are_equal_objects():
    assert SDE(dt=10) == SDE(dt=10.0) and isinstance(SDE(dt=10).dt, float)
    assert json.dumps(SDE(dt=10).options()) == json.dumps(SDE().options())
    count = Particles(n=np.int64(7)).n
    assert count == 7 and type(count) is int
    assert GraphSDE(noise=np.bool_(False)).noise is False


def test_particle_count_default():
    assert Particles().count(9) == 9
    assert Particles().count(10_000) == DEFAULT_MAX_PARTICLES
    assert Particles(n=10_000).count(9) == 10_000


not_positive_integers = st.one_of(
    st.integers(max_value=0),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.just([4]),
)
not_positive_finite = st.one_of(
    st.floats(max_value=0.0),
    st.integers(max_value=0),
    st.sampled_from([math.inf, -math.inf, math.nan, True, False, "10", None]),
)
not_timescales = st.one_of(st.text(max_size=8).filter(lambda t: t not in ("reduced", "full")), st.integers(), st.none())


@given(not_positive_integers)
def test_bad_particle_counts_are_one_line_config_errors(value):
    with pytest.raises(ConfigError, match=r"^Particles\.n = .* must be a positive integer") as error:
        Particles(n=value)
    assert "\n" not in str(error.value)


@given(not_positive_finite)
def test_bad_time_steps_are_config_errors(value):
    for cls in (SDE, GraphSDE):
        with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.dt = .* must be a positive finite number"):
            cls(dt=value)


@given(not_timescales)
def test_bad_timescales_are_config_errors(value):
    for cls in (Particles, GraphSDE):
        with pytest.raises(ConfigError, match=rf"^{cls.__name__}\.timescale = .* must be one of reduced, full"):
            cls(timescale=value)


@given(st.one_of(st.integers(), st.text(max_size=3), st.none(), st.floats()))
def test_noise_must_be_a_bool(value):
    with pytest.raises(ConfigError, match=r"^GraphSDE\.noise = .* must be true or false"):
        GraphSDE(noise=value)


@given(st.integers(min_value=1, max_value=10**9), st.floats(min_value=1e-6, max_value=1e6))
def test_good_values_are_kept(n, dt):
    assert Particles(n=n).n == n
    assert SDE(dt=dt).dt == dt and GraphSDE(dt=dt).dt == dt


# ----------------------------------------------------------------------------------------------
# names and options -> objects
# ----------------------------------------------------------------------------------------------
def test_method_from_name_takes_fields_and_keyword_aliases():
    assert method_from_name("particles", n=64) == Particles(n=64) == method_from_name("particles", particles=64)
    assert method_from_name("sde-graph", dt=1, timescale="full", noise=False) == GraphSDE(1.0, "full", False)
    with pytest.raises(ConfigError, match="given twice"):
        method_from_name("particles", n=4, particles=4)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "reduced",
            {"dt": 5.0},
            r"method 'reduced' does not take the option 'dt' \(it has no options\); "
            r"dt is an option of sde, sde-graph",
        ),
        ("sde", {"timescale": "full"}, r"method 'sde' does not take the option 'timescale' \(its options: dt\)"),
        ("sde", {"particles": 8}, "'particles'.*particles is an option of particles"),
        ("particles", {"timescal": "full"}, "did you mean 'timescale'"),
        ("lna", {"noise": False}, "noise is an option of sde-graph"),
    ],
)
def test_an_option_the_method_does_not_take_is_an_error(name, options, message):
    with pytest.raises(ConfigError, match=message):
        method_from_name(name, **options)


@pytest.mark.parametrize(
    ("name", "hint"), [("particle", "particles"), ("sde_graph", "sde-graph"), ("sde-grahp", "sde-graph")]
)
def test_unknown_names_suggest_the_nearest(name, hint):
    with pytest.raises(ConfigError, match=f"must be one of .*did you mean '{hint}'"):
        method_from_name(name)


def test_as_method_refuses_options_with_an_object_and_other_types():
    method = Particles(n=4)
    assert as_method(method) is method
    with pytest.raises(ConfigError, match="already holds its options"):
        as_method(method, n=5)
    with pytest.raises(ConfigError, match="must be a method name"):
        as_method(Particles)  # the class, not an instance
    with pytest.raises(ConfigError, match="must be a method name"):
        as_method(3)


# ----------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------
def test_predict_refuses_an_option_the_method_does_not_take_before_any_work():
    with pytest.raises(ConfigError, match="'reduced' does not take the option 'dt'"):
        marldyn.predict(SMALL, "reduced", dt=5.0)
    with pytest.raises(ConfigError, match="'sde' does not take the option 'particles'"):
        marldyn.predict(SMALL, "sde", particles=4)
    with pytest.raises(ConfigError, match="'lna' does not take the option 'timescale'"):
        marldyn.predict(SMALL, "lna", timescale="full")
    # checked before the config is read: a missing file is not the error
    with pytest.raises(ConfigError, match="does not take the option 'dt'"):
        marldyn.predict("no_such_config.toml", "full", dt=1.0)


def test_predict_refuses_keywords_beside_an_object():
    with pytest.raises(ConfigError, match="already holds its options"):
        marldyn.predict(SMALL, Particles(n=4), particles=4)
    with pytest.raises(ConfigError, match="already holds its options"):
        marldyn.predict(SMALL, SDE(), dt=5.0)


def test_predict_with_an_object_equals_the_string_shortcut():
    by_object = marldyn.predict(SMALL, Particles(n=6, timescale="full"))
    by_name = marldyn.predict(SMALL, "particles", particles=6, timescale="full")
    xr.testing.assert_identical(by_object, by_name)
    assert by_object.attrs["particles"] == 6 and by_object.attrs["timescale"] == "full"
    assert json.loads(by_object.attrs["method_options"]) == {"n": 6, "timescale": "full"}
    assert by_object.attrs["method"] == "particles"


@pytest.mark.parametrize(
    ("method", "name", "options"),
    [
        (SDE(dt=5.0), "sde", {"dt": 5}),
        (GraphSDE(dt=5.0, timescale="full"), "sde-graph", {"dt": 5.0, "timescale": "full"}),
        (Reduced(), "reduced", {}),
    ],
)
def test_objects_with_options_give_the_same_numbers_as_names_with_keywords(method, name, options):
    xr.testing.assert_identical(marldyn.predict(SMALL, method), marldyn.predict(SMALL, name, **options))


def test_string_defaults_are_the_object_defaults():
    by_name = marldyn.predict(SMALL, "sde-graph")
    assert by_name.attrs["dt"] == 1.0 and by_name.attrs["timescale"] == "reduced"  # the exact one-step default
    xr.testing.assert_identical(by_name, marldyn.predict(SMALL, GraphSDE()))
    assert json.loads(by_name.attrs["method_options"]) == DEFAULTS[GraphSDE]


def test_graph_sde_without_noise_is_deterministic_across_members():
    result = marldyn.predict(SMALL | {"init": {"q": [[0.5, 0.0], [0.0, 0.5]]}}, GraphSDE(noise=False))
    assert "without noise" in result.attrs["initial_condition"]
    np.testing.assert_allclose(result["q"].isel(run=0), result["q"].isel(run=1))  # same start, no noise
    noisy = marldyn.predict(SMALL | {"init": {"q": [[0.5, 0.0], [0.0, 0.5]]}}, GraphSDE())
    assert not np.allclose(noisy["q"].isel(run=0, time=-1), noisy["q"].isel(run=1, time=-1))


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--method", "reduced", "--dt", "5"], "'reduced' does not take the option 'dt'"),
        (["--method", "sde", "--particles", "4"], "'sde' does not take the option 'particles'"),
        (["--method", "sde", "--timescale", "full"], "'sde' does not take the option 'timescale'"),
        (["--method", "particles", "--no-noise"], "'particles' does not take the option 'noise'"),
        (["--method", "sde-graph", "--dt", "-1"], r"GraphSDE\.dt = -1.0 must be a positive finite number"),
    ],
)
def test_cli_flag_the_method_does_not_take_exits_2_with_one_line(tmp_path, capsys, arguments, message):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    output = tmp_path / "out.nc"
    code = main(["theory", str(config), *arguments, "-o", str(output)])
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("marldyn: error:"), err
    assert re.search(message, lines[0]), lines[0]
    assert not output.exists()


def test_cli_flags_build_the_same_object(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL_TOML)
    output = tmp_path / "particles.nc"
    arguments = ["theory", str(config), "--method", "particles", "--particles", "5", "--timescale", "full"]
    assert main([*arguments, "-o", str(output)]) == 0, capsys.readouterr().err
    written = marldyn.read_dataset(output)
    expected = marldyn.predict(marldyn.load_config(config), Particles(n=5, timescale="full"))
    np.testing.assert_array_equal(written["q"].values, expected["q"].values)
    assert json.loads(written.attrs["method_options"]) == {"n": 5, "timescale": "full"}
