"""marldyn.config: the schema and its defaults, a table of bad configs each with the message it must give,
TOML files, round trips and copies (fields not given stay not given), relative paths."""

from __future__ import annotations

import math
import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from marldyn.config import DEFAULT_N, SECTIONS, Config, load_config, parse_config
from marldyn.errors import ConfigError, MarldynWarning

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pd_lattice.toml"

PAYOFF = [[[1.0, 0.0], [2.0, 0.5]], [[0.5, 0.0], [1.0, 0.0]]]
UNIFORM = [[[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]] * 2
SHORT_ROW = [[[[0.5, 0.4], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]] * 2
ASYMMETRIC = [[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]]] * 2
NEGATIVE = [[[[1.5, -0.5], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]]] * 2


def custom(payoff=PAYOFF, transition=UNIFORM, **extra):
    return {"game": {"name": "custom", "payoff": payoff, "transition": transition, **extra}}


def case(data, match, name):
    """One table row: the input, a regex the ConfigError message must match, an id."""
    return pytest.param(data, match, id=name)


BAD_CONFIGS = [
    # policies, rules and agent types (issue 13)
    case({"learning": {"policy": "greedy"}}, r"^learning\.policy = 'greedy': must be 'boltzmann' or", "policy"),
    case({"learning": {"policy": "epsilon_greedy"}}, r"^learning\.epsilon is required with policy", "eps-missing"),
    case(
        {"learning": {"epsilon": 0.1}}, r"^learning\.epsilon is only used with policy = 'epsilon_greedy'", "eps-extra"
    ),
    case(
        {"learning": {"policy": "epsilon_greedy", "epsilon": 1.5}},
        r"^learning\.epsilon = 1\.5: must be less than or equal to 1",
        "eps-range",
    ),
    case(
        {"learning": {"policy": "epsilon_greedy", "epsilon": 0.1, "beta": 2.0}},
        r"^learning\.beta is only used with policy = 'boltzmann'",
        "beta-with-greedy",
    ),
    case({"learning": {"rule": "faq"}}, r"^learning\.faq_beta is required with rule = 'faq'", "faq-missing"),
    case({"learning": {"faq_beta": 0.1}}, r"^learning\.faq_beta is only used with rule = 'faq'", "faq-extra"),
    case(
        {"learning": {"rule": "faq", "faq_beta": 0.0}}, r"^learning\.faq_beta = 0\.0: must be greater than 0", "faq-0"
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.7}, {"name": "b", "fraction": 0.5}]},
        r"^agent_types: the fractions add up to 1\.2, more than 1$",
        "fractions",
    ),
    case({"agent_types": [{"name": "a"}]}, r"^agent_types\[0\]\.fraction or agents must be given", "no-members"),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "agents": [1]}]},
        r"^agent_types\[0\]\.fraction or agents must be given \(exactly one",
        "both-members",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "bogus": 1}]},
        r"^unknown key 'bogus' in \[\[agent_types\]\] entry 0; allowed: name, fraction",
        "type-extra",
    ),
    case(
        {"agent_types": [{"name": "default", "fraction": 0.1}]}, r"^agent_types\[0\]\.name = 'default' is", "reserved"
    ),
    case(
        {"agent_types": [{"name": "a", "agents": [1]}, {"name": "a", "agents": [2]}]},
        r"^agent_types\[1\]\.name = 'a' is given twice",
        "type-twice",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.5, "alpha": 3.0}]},
        r"^agent_types\[0\]\.alpha = 3\.0: must be less than or equal to 1",
        "type-alpha",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.5, "policy": "epsilon_greedy"}]},
        r"^agent_types\[0\]\.epsilon is required with policy = 'epsilon_greedy'",
        "type-eps",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "fixed_policy": [[1.0, 0.0]]}]},
        r"^agent_types\[0\]\.fixed_policy must have shape \(state, action\) = \(2, 2\), got \(1, 2\)",
        "fixed-shape",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "fixed_policy": [[0.5, 0.0], [1.0, 0.0]]}]},
        r"^agent_types\[0\]\.fixed_policy rows \(one per state\) must each sum to 1",
        "fixed-sum",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "fixed_policy": [[1.5, -0.5], [1.0, 0.0]]}]},
        r"^agent_types\[0\]\.fixed_policy probabilities must be finite and >= 0",
        "fixed-negative",
    ),
    case(
        {"agent_types": [{"name": "a", "fraction": 0.1, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]], "alpha": 0.1}]},
        r"^agent_types\[0\]\.alpha is not allowed with fixed_policy",
        "fixed-learns",
    ),
    case(
        {"agent_types": [{"name": "a", "agents": [3, 100]}]},
        r"^agent_types\[0\]\.agents: agent id 100 is out of range for graph\.n = 100",
        "ids-range",
    ),
    case(
        {"agent_types": [{"name": "a", "agents": [1, 1]}]},
        r"^agent_types\[0\]\.agents lists an agent id twice",
        "ids-twice",
    ),
    case(
        {"agent_types": [{"name": "a", "agents": [1]}, {"name": "b", "agents": [1]}]},
        r"^agent_types\[1\]\.agents: agent 1 is also in agent_types\[0\]",
        "ids-shared",
    ),
    case({"agent_types": {"name": "a"}}, r"^agent_types must be a list of tables", "types-table"),
    # unknown keys, at the top level and in every section, with a suggestion
    case({"gmae": {}}, r"unknown key 'gmae' in the top level \(did you mean 'game'\?\)", "top-typo"),
    case({"output": "x.nc"}, r"unknown key 'output' in the top level; allowed: game, graph", "top-extra"),
    case({"game": {"nmae": "custom"}}, r"unknown key 'nmae' in \[game\] \(did you mean 'name'\?\)", "game"),
    case({"graph": {"degre": 4}}, r"unknown key 'degre' in \[graph\] \(did you mean 'degree'\?\)", "graph"),
    case({"learning": {"alpah": 0.1}}, r"unknown key 'alpah' in \[learning\] \(did you mean 'alpha'\?\)", "learning"),
    case({"init": {"qnoise": 0.1}}, r"unknown key 'qnoise' in \[init\] \(did you mean 'q_noise'\?\)", "init"),
    case({"run": {"step": 10}}, r"unknown key 'step' in \[run\] \(did you mean 'steps'\?\)", "run"),
    case({"run": {"zzz": 1}}, r"unknown key 'zzz' in \[run\]; allowed: steps, runs, seed", "no-suggestion"),
    case(
        {"base_dir": "/tmp"},
        r"unknown key 'base_dir' in the top level",
        "top-base_dir",
    ),
    # wrong types
    case({"learning": 0.1}, r"^learning = 0\.1: must be a valid dictionary", "section-not-table"),
    case({"learning": {"alpha": "big"}}, r"^learning\.alpha = 'big': must be a valid number", "alpha-str"),
    case({"learning": {"alpha": [0.1]}}, r"^learning\.alpha = \[0\.1\]: must be a valid number", "alpha-list"),
    case({"run": {"steps": 1.5}}, r"^run\.steps = 1\.5: must be a valid integer", "steps-fraction"),
    case({"graph": {"n": "ten"}}, r"^graph\.n = 'ten': must be a valid integer", "n-str"),
    case({"learning": {"rule": 1}}, r"^learning\.rule = 1: must be 'q_learning'", "rule-int"),
    case({"init": {"q": "zeros"}}, r"^init\.q = 'zeros': must be a valid list", "q-str"),
    case({"game": {"b": "5"}}, r"^game\.b", "b-str"),
    case({"learning": {"alpha": True}}, r"learning\.alpha", "alpha-bool"),
    case({"run": {"runs": True}}, r"run\.runs", "runs-bool"),
    case({"init": {"edge_state": True}}, r"init\.edge_state", "edge-bool"),
    case({"learning": {"alpha": "0.5"}}, r"learning\.alpha", "alpha-numstr"),
    case({"run": {"steps": "10"}}, r"run\.steps", "steps-numstr"),
    # learning parameters out of range
    case({"learning": {"alpha": 0.0}}, r"^learning\.alpha = 0\.0: must be greater than 0", "alpha-0"),
    case({"learning": {"alpha": 1.5}}, r"^learning\.alpha = 1\.5: must be less than or equal to 1", "alpha>1"),
    case({"learning": {"alpha": -0.1}}, r"^learning\.alpha = -0\.1: must be greater than 0", "alpha<0"),
    case({"learning": {"gamma": 1.0}}, r"^learning\.gamma = 1\.0: must be less than 1", "gamma-1"),
    case({"learning": {"gamma": -0.1}}, r"^learning\.gamma = -0\.1: must be greater than or equal to 0", "g<0"),
    case({"learning": {"beta": -1.0}}, r"^learning\.beta = -1\.0: must be greater than or equal to 0", "beta"),
    case({"learning": {"alpha": math.nan}}, r"^learning\.alpha = nan: must be a finite number", "alpha-nan"),
    case({"learning": {"beta": math.inf}}, r"^learning\.beta = inf: must be a finite number", "beta-inf"),
    case({"learning": {"gamma": math.nan}}, r"^learning\.gamma = nan: must be a finite", "gamma-nan"),
    case(
        {"learning": {"rule": "q-learning"}},
        r"^learning\.rule = 'q-learning': must be 'q_learning', 'sarsa', 'expected_sarsa' or 'faq'",
        "rule",
    ),
    # run
    case({"run": {"steps": 0}}, r"^run\.steps = 0: must be greater than or equal to 1", "steps-0"),
    case({"run": {"steps": -5}}, r"^run\.steps = -5: must be greater than or equal to 1", "steps-neg"),
    case({"run": {"runs": 0}}, r"^run\.runs = 0: must be greater than or equal to 1", "runs-0"),
    case({"run": {"record_every": 0}}, r"^run\.record_every = 0: must be greater than or equal to 1", "rec"),
    case({"run": {"seed": -1}}, r"^run\.seed = -1: must be greater than or equal to 0", "seed-neg"),
    # graph
    case({"graph": {"kind": "latice"}}, r"^graph\.kind = 'latice': must be 'lattice', 'random_regular'", "kind"),
    case(
        {"graph": {"kind": "random_regular", "n": 10}}, r"^graph\.degree is required with kind = 'random_regular'", "rr"
    ),
    case({"graph": {"kind": "erdos_renyi"}}, r"^graph\.edge_probability is required with kind = 'erdos_renyi'", "er"),
    case({"graph": {"kind": "barabasi_albert"}}, r"^graph\.m is required with kind = 'barabasi_albert'", "ba"),
    case({"graph": {"kind": "edgelist"}}, r"^graph\.path is required with kind = 'edgelist'", "edgelist"),
    case(
        {"graph": {"kind": "lattice", "n": 16, "degree": 4}},
        r"^graph\.degree is only allowed with kind = 'random_regular'",
        "lattice-degree",
    ),
    case({"graph": {"kind": "complete", "m": 2}}, r"^graph\.m is only allowed with kind = 'barabasi_albert'", "c-m"),
    case({"graph": {"n": 1}}, r"^graph\.n = 1: must be greater than or equal to 2", "n-1"),
    case({"graph": {"n": None}}, r"^graph\.n = None: kind = 'lattice' needs a number of agents", "n-none"),
    case({"graph": {"kind": "random_regular", "degree": 0}}, r"^graph\.degree = 0: must be greater", "deg-0"),
    case(
        {"graph": {"kind": "erdos_renyi", "edge_probability": 1.5}},
        r"^graph\.edge_probability = 1\.5: must be less than or equal to 1",
        "er-p",
    ),
    case({"graph": {"seed": -3}}, r"^graph\.seed = -3: must be greater than or equal to 0", "graph-seed"),
    case(
        {"graph": {"kind": "lattice", "n": 10}},
        r"graph\.n = 10",
        "lattice-non-square",
    ),
    case(
        {"graph": {"kind": "random_regular", "n": 9, "degree": 3}},
        r"graph\.degree = 3",
        "rr-odd",
    ),
    case(
        {"graph": {"kind": "random_regular", "n": 6, "degree": 6}},
        r"graph\.degree = 6",
        "rr-degree-n",
    ),
    case(
        {"graph": {"kind": "barabasi_albert", "n": 5, "m": 5}},
        r"graph\.m = 5",
        "ba-m-n",
    ),
    case(
        {"graph": {"kind": "edgelist", "path": "/nonexistent/marldyn/edges.txt"}},
        r"graph\.path",
        "edgelist-missing",
    ),
    # game
    case({"game": {"name": "pd"}}, r"^game\.name = 'pd': must be 'two_state_pd', 'custom', ", "game-name"),
    case({"game": {"p": [1.2, 0.2]}}, r"^game\.p\[0\] = 1\.2 must be a probability", "pd-p"),
    case({"game": {"b": [1.0, 2.0, 3.0]}}, r"^game\.b = \[1\.0, 2\.0, 3\.0\]", "pd-b-length"),
    case({"game": {"c": [math.nan, 0.5]}}, r"^game\.c must be a list of two finite numbers", "pd-c-nan"),
    case({"game": {"payoff": PAYOFF}}, r"^game\.payoff is only allowed with name = 'custom'", "pd-with-payoff"),
    case(
        {"game": {"name": "custom", "payoff": PAYOFF}},
        r"^game\.name = 'custom' needs payoff and transition, or file",
        "custom-no-transition",
    ),
    case(custom(b=[1.0, 2.0]), r"^game\.b is only allowed with name = 'two_state_pd'", "custom-with-b"),
    case(custom(file="g.npz"), r"^game: give either file or payoff \+ transition", "custom-file-and-arrays"),
    case(custom(transition=[[[[1.0]]]]), r"^game\.transition must have shape .* = \(2, 2, 2, 2\)", "custom-shape"),
    case(custom(payoff=[[1.0, 0.0]]), r"^game\.payoff must have shape", "custom-payoff-2d"),
    case(custom(payoff=[[[1.0, 0.0], [2.0]]]), r"^game\.payoff must be a nested list", "custom-ragged"),
    case(custom(payoff=[[[math.inf]]]), r"^game\.payoff contains NaN or infinite", "custom-inf"),
    case(custom(transition=SHORT_ROW), r"^game\.transition\[0, 0, 0, :\] sums to", "custom-row-sum"),
    case(custom(transition=NEGATIVE), r"^game\.transition\[0, 0, 0, 1\] = -0\.5 is negative", "custom-neg"),
    case(custom(transition=ASYMMETRIC), r"^game\.transition must be symmetric", "custom-asym"),
    case(
        {"game": {"name": "custom", "file": "/nonexistent/marldyn/game.npz"}},
        r"^game\.file: no such file: /nonexistent/marldyn/game\.npz",
        "game-file-missing",
    ),
    # init
    case(
        {"init": {"q": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]}},
        r"^init\.q must have shape .* \(2, 2\), got \(2, 3\)",
        "q-shape",
    ),
    case({"init": {"q": [[0.0, 0.0]]}}, r"^init\.q must have shape .* got \(1, 2\)", "q-one-row"),
    case({"init": {"q": [0.0, 0.0]}}, r"^init\.q\.0 = 0\.0: must be a valid list", "q-1d"),
    case({"init": {"q": [[math.nan, 0.0], [0.0, 0.0]]}}, r"^init\.q contains NaN or infinite", "q-nan"),
    case(
        {"init": {"q": [[0.0, 0.0], [0.0]]}},
        r"init\.q",
        "q-ragged",
    ),
    case({"init": {"q_noise": -0.1}}, r"^init\.q_noise = -0\.1: must be greater than or equal to 0", "qn"),
    case({"init": {"q_noise": math.inf}}, r"^init\.q_noise = inf: must be a finite number", "q_noise-inf"),
    case(
        {"init": {"q_noise_distribution": "gauss"}},
        r"^init\.q_noise_distribution = 'gauss': must be 'normal' or 'uniform'",
        "q_noise_distribution",
    ),
    case({"init": {"edge_state": 2}}, r"^init\.edge_state = 2 must be 'uniform' or a state in 0\.\.1", "es-2"),
    case({"init": {"edge_state": -1}}, r"^init\.edge_state = -1 must be 'uniform' or a state", "es-neg"),
    case({"init": {"edge_state": "random"}}, r"^init\.edge_state.*'random'", "edge_state-str"),
]


@pytest.mark.parametrize(("data", "match"), BAD_CONFIGS)
def test_bad_config_is_rejected_naming_the_field(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_the_table_is_large():
    assert len(BAD_CONFIGS) >= 30


@pytest.mark.parametrize("data", [None, [], "game", 3])
def test_top_level_must_be_a_table(data):
    with pytest.raises(ConfigError, match=r"must be a table of tables"):
        parse_config(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"graph": {"kind": "lattice", "n": 10}}, r"graph\.n = 10: a lattice needs a perfect square"),
        ({"graph": {"kind": "random_regular", "n": 9, "degree": 3}}, r"graph\.degree = 3: a random regular graph"),
        ({"graph": {"kind": "barabasi_albert", "n": 5, "m": 5}}, r"graph\.m = 5 must be"),
        ({"graph": {"kind": "edgelist", "path": "/nonexistent/marldyn/e.txt"}}, r"graph\.path: no such file"),
    ],
)
def test_impossible_graphs_are_rejected_by_build_at_the_latest(data, match):
    """Impossible graphs give a ConfigError naming the field (at parse time, and from build_graph())."""
    with pytest.raises(ConfigError, match=match):
        parse_config(data).build_graph()


# ---------------------------------------------------------------- TOML files


TOML_CASES = [
    case("[learning\nalpha = 0.1\n", r"not valid TOML", "syntax-table"),
    case("[learning]\nalpha = \n", r"not valid TOML", "syntax-value"),
    case("[run]\nsteps = 10\nsteps = 20\n", r"not valid TOML", "duplicate-key"),
    case("[learning]\nalpha = nan\n", r"^learning\.alpha = nan: must be a finite number", "nan"),
    case("[learning]\nbeta = inf\n", r"^learning\.beta = inf: must be a finite number", "inf"),
    case("[learning]\ngamma = -inf\n", r"^learning\.gamma = -inf: must be a finite number", "-inf"),
    case("[init]\nq_noise = nan\n", r"^init\.q_noise = nan: must be a finite number", "q_noise-nan"),
    case("[init]\nq = [[nan, 0.0], [0.0, 0.0]]\n", r"^init\.q contains NaN", "q-nan"),
    case("[learning]\nalpah = 0.1\n", r"unknown key 'alpah' in \[learning\] \(did you mean 'alpha'\?\)", "key"),
    case("[runs]\nsteps = 10\n", r"unknown key 'runs' in the top level \(did you mean 'run'\?\)", "section"),
    case("[run]\nsteps = 'ten'\n", r"^run\.steps = 'ten': must be a valid integer", "steps-text"),
    case("[graph]\nkind = 'lattice'\ndegree = 4\n", r"degree is only allowed with kind", "lattice-degree"),
    case("[game]\nname = 'custom'\nfile = 'absent.npz'\n", r"^game\.file: no such file: .*absent\.npz", "game-file"),
]


@pytest.mark.parametrize(("text", "match"), TOML_CASES)
def test_bad_toml_file(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_game_file_is_reported_at_its_resolved_path(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[game]\nname = 'custom'\nfile = 'sub/absent.json'\n")
    with pytest.raises(ConfigError, match=rf"game\.file: no such file: {tmp_path}/sub/absent\.json"):
        load_config(path)


def test_non_utf8_toml(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes("[game]\n# caf\xe9\nname = 'two_state_pd'\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.toml: not valid TOML"):
        load_config(path)


@pytest.mark.parametrize("name", ["absent.toml", "."])
def test_missing_config_file(tmp_path, name):
    with pytest.raises(ConfigError, match=r"config file not found"):
        load_config(tmp_path / name)


# ---------------------------------------------------------------- valid configs


def test_defaults():
    config = parse_config({})
    assert config == Config()
    assert config.game.name == "two_state_pd" and config.game.b is None
    assert (config.graph.kind, config.graph.n, config.graph.degree) == ("lattice", 100, None)
    assert config.learning.rule == "q_learning"
    assert (config.learning.alpha, config.learning.beta, config.learning.gamma) == (0.001, 1.0, 0.8)
    assert (config.init.q, config.init.q_noise, config.init.edge_state) == (None, 0.0, "uniform")
    assert (config.run.steps, config.run.runs, config.run.seed, config.run.record_every) == (20000, 10, 0, 100)
    game = config.build_game()
    np.testing.assert_array_equal(config.initial_q_table(game), np.zeros((2, 2)))
    np.testing.assert_allclose(game.transition[0, 0, 0, 0], 0.7)


def test_config_is_frozen():
    config = parse_config({})
    with pytest.raises(ValidationError):
        config.run = None


def test_example_config():
    config = load_config(EXAMPLE)
    assert config.base_dir == str(EXAMPLE.parent)
    assert (config.graph.kind, config.graph.n, config.run.steps, config.run.runs) == ("lattice", 100, 20000, 10)
    assert config.init.q == [[0.5, 0.0], [0.0, 0.5]] and config.init.q_noise == 0.1
    assert config.game.p == (0.7, 0.2)
    assert config.build_graph().n_edges == 200


ROUND_TRIP = [
    pytest.param({}, id="defaults"),
    pytest.param(tomllib.loads(EXAMPLE.read_text()), id="example"),
    pytest.param(
        {
            **custom(),
            "init": {"q": [[1.0, -2.5], [0.0, 1e-300]], "edge_state": 1, "q_noise_distribution": "uniform"},
            "learning": {"rule": "expected_sarsa", "alpha": 1.0, "gamma": 0.0, "beta": 0.0},
        },
        id="custom-game",
    ),
    pytest.param(
        {"graph": {"kind": "random_regular", "n": 12, "degree": 3, "seed": 4}, "run": {"seed": 2**62}}, id="random"
    ),
    pytest.param({"graph": {"kind": "erdos_renyi", "n": 12, "edge_probability": 0.25}}, id="erdos_renyi"),
    pytest.param({"graph": {"kind": "barabasi_albert", "n": 12, "m": 2}, "learning": {"rule": "sarsa"}}, id="ba"),
    pytest.param({"game": {"b": [3.0, 1.0], "c": [0.1, 0.2], "p": [1.0, 0.0]}}, id="pd-parameters"),
]


@pytest.mark.parametrize("data", ROUND_TRIP)
def test_toml_round_trip(data):
    config = parse_config(data)
    text = config.to_toml()
    assert parse_config(tomllib.loads(text)) == config
    assert parse_config(tomllib.loads(text)).to_toml() == text


def test_with_overrides():
    config = parse_config({"run": {"steps": 100, "runs": 3, "seed": 1, "record_every": 10}})
    changed = config.with_overrides(steps=50, runs=None, seed=9)
    assert (changed.run.steps, changed.run.runs, changed.run.seed, changed.run.record_every) == (50, 3, 9, 10)
    assert config.run.steps == 100 and config.run.seed == 1  # the original is untouched
    assert changed.learning == config.learning and changed.graph == config.graph
    assert config.with_overrides() == config
    with pytest.raises(ConfigError, match=r"^run\.steps = -1: must be greater than or equal to 1"):
        config.with_overrides(steps=-1)
    with pytest.raises(ConfigError, match=r"^run\.seed = -2"):
        config.with_overrides(seed=-2)


def test_with_overrides_keeps_the_base_directory(tmp_path, monkeypatch):
    write_game(tmp_path / "game.json")
    config_path = tmp_path / "c.toml"
    config_path.write_text("[game]\nname = 'custom'\nfile = 'game.json'\n")
    monkeypatch.chdir(Path(__file__).parent)
    changed = load_config(config_path).with_overrides(runs=2)
    assert changed.base_dir == str(tmp_path) and changed.build_game().name == "game"


def write_game(path: Path) -> None:
    if path.suffix == ".npz":
        np.savez(path, payoff=np.array(PAYOFF), transition=np.array(UNIFORM))
    else:
        path.write_text(f'{{"payoff": {PAYOFF}, "transition": {UNIFORM}}}')


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_relative_paths_resolve_next_to_the_config_file(tmp_path, monkeypatch, suffix):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    write_game(folder / "data" / f"mygame{suffix}")
    (folder / "data" / "ring.txt").write_text("0 1\n1 2\n2 3\n3 0\n")
    config_path = folder / "config.toml"
    config_path.write_text(
        f"[game]\nname = 'custom'\nfile = 'data/mygame{suffix}'\n\n[graph]\nkind = 'edgelist'\npath = 'data/ring.txt'\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(config_path)
    game, graph = config.build_game(), config.build_graph()
    assert game.name == "mygame" and game.n_states == 2
    np.testing.assert_array_equal(game.payoff, PAYOFF)
    assert graph.n_agents == 4 and graph.edges.tolist() == [[0, 1], [0, 3], [1, 2], [2, 3]]
    assert "data/mygame" in config.to_toml()  # the file keeps the path as written
    assert parse_config(tomllib.loads(config.to_toml()), base_dir=config.base_dir) == config


def test_relative_game_file_is_not_resolved_against_the_working_directory(tmp_path, monkeypatch):
    write_game(tmp_path / "game.json")  # in the working directory, not next to the config
    (tmp_path / "configs").mkdir()
    config_path = tmp_path / "configs" / "c.toml"
    config_path.write_text("[game]\nname = 'custom'\nfile = 'game.json'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"game\.file: no such file: .*configs/game\.json"):
        load_config(config_path)


def test_edgelist_n_allows_isolated_agents(tmp_path):
    (tmp_path / "e.txt").write_text("0 1\n1 2\n")
    (tmp_path / "c.toml").write_text("[graph]\nkind = 'edgelist'\npath = 'e.txt'\nn = 5\n")
    config = load_config(tmp_path / "c.toml")
    for copy in (config, config.with_overrides(seed=2), parse_config(tomllib.loads(config.to_toml()), config.base_dir)):
        assert copy.graph.n == 5  # a given n survives every copy too
        with pytest.warns(UserWarning, match=r"2 isolated agent"):
            graph = copy.build_graph()
        assert graph.n_agents == 5


def test_init_checked_against_the_custom_game_shape():
    one_by_three = {"name": "custom", "payoff": [[[1.0, 0.0, 0.0]] * 3], "transition": [[[[1.0]] * 3] * 3]}
    config = parse_config({"game": one_by_three, "init": {"q": [[0.1, 0.2, 0.3]], "edge_state": 0}})
    np.testing.assert_array_equal(config.initial_q_table(config.build_game()), [[0.1, 0.2, 0.3]])
    with pytest.raises(ConfigError, match=r"init\.q must have shape \(state, action\) = \(1, 3\), got \(2, 2\)"):
        parse_config({"game": one_by_three, "init": {"q": [[0.0, 0.0], [0.0, 0.0]]}})
    with pytest.raises(ConfigError, match=r"init\.edge_state = 1 must be 'uniform' or a state in 0\.\.0"):
        parse_config({"game": one_by_three, "init": {"edge_state": 1}})


# ---------------------------------------------------------------- empty files (issue 12, bug 3)


@pytest.mark.parametrize(
    "text", ["", "\n\n  \t\n", "# nothing here\n\n# still nothing\n"], ids=["empty", "blank", "comments"]
)
def test_an_empty_config_file_warns_naming_the_file(tmp_path, text):
    path = tmp_path / "empty.toml"
    path.write_text(text)
    with pytest.warns(MarldynWarning, match=rf"^{re.escape(str(path))} is empty: running the built-in default case"):
        config = load_config(path)
    assert config == parse_config({}, base_dir=tmp_path)


def test_a_config_file_with_content_does_not_warn(tmp_path):
    path = tmp_path / "short.toml"
    path.write_text("# a comment\n[run]\nsteps = 10\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_config(path).run.steps == 10


# ---------------------------------------------------------------- fields not given survive every copy (issue 12, bug 1)


def write_ring(path: Path, n: int) -> Path:
    path.write_text("".join(f"{i} {(i + 1) % n}\n" for i in range(n)))
    return path


def copies(config: Config) -> dict[str, Config]:
    """Every way marldyn copies a config: overrides (the CLI), TOML (stored configs), a dump (sweeps, maps)."""
    return {
        "with_overrides": config.with_overrides(steps=5, runs=1, seed=3),
        "to_toml": parse_config(tomllib.loads(config.to_toml()), base_dir=config.base_dir),
        "model_dump": parse_config(config.model_dump(exclude_none=True), base_dir=config.base_dir),
    }


@pytest.mark.parametrize("n", [60, 200])
def test_edgelist_without_n_has_the_files_agents_after_every_copy(tmp_path, n):
    """Regression (issue 12): the copies gave n = 100 (40 isolated agents, or 'agent id 199 out of range')."""
    write_ring(tmp_path / "ring.txt", n)
    (tmp_path / "c.toml").write_text("[graph]\nkind = 'edgelist'\npath = 'ring.txt'\n")
    config = load_config(tmp_path / "c.toml")
    assert config.graph.n is None and config.build_graph().n_agents == n
    assert "\nn = " not in config.to_toml()
    for name, copy in copies(config).items():
        assert copy.graph.n is None, name
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no isolated agents
            assert copy.build_graph().n_agents == n, name


def test_generated_graphs_default_to_100_agents_in_every_copy():
    for kind in ("lattice", "complete", "barabasi_albert"):
        data = {"graph": {"kind": kind, **({"m": 2} if kind == "barabasi_albert" else {})}}
        config = parse_config(data)
        assert config.graph.n == DEFAULT_N == 100
        assert all(copy.graph.n == DEFAULT_N for copy in copies(config).values())


ERDOS_RENYI = {"kind": "erdos_renyi", "n": 30, "edge_probability": 0.2}


def test_unset_graph_seed_follows_the_run_seed_through_copies():
    """``graph.seed`` not given means the run seed: a stored config or a copy must still follow ``--seed``."""
    config = parse_config({"graph": ERDOS_RENYI, "run": {"seed": 1}})
    seven = parse_config({"graph": ERDOS_RENYI, "run": {"seed": 7}}).build_graph().edges
    assert not np.array_equal(config.build_graph().edges, seven)
    for name, copy in {"original": config, **copies(config)}.items():
        moved = copy.with_overrides(seed=7)
        assert moved.graph.seed is None, name
        np.testing.assert_array_equal(moved.build_graph().edges, seven, err_msg=name)


def test_a_given_graph_seed_stays_fixed_through_copies():
    config = parse_config({"graph": {**ERDOS_RENYI, "seed": 4}, "run": {"seed": 1}})
    edges = config.build_graph().edges
    for name, copy in copies(config).items():
        assert copy.graph.seed == 4, name
        np.testing.assert_array_equal(copy.with_overrides(seed=7).build_graph().edges, edges, err_msg=name)


def test_unset_game_parameters_and_init_q_stay_unset_through_copies():
    config = parse_config({"game": {"b": [3.0, 1.0]}})
    for name, copy in copies(config).items():
        assert (copy.game.b, copy.game.c, copy.game.p, copy.init.q) == ((3.0, 1.0), None, None, None), name
        np.testing.assert_array_equal(copy.build_game().payoff, config.build_game().payoff)


RING = 12
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
probability = st.floats(min_value=0.0, max_value=1.0)
pair = st.lists(finite, min_size=2, max_size=2)


@st.composite
def config_data(draw) -> dict:
    """A random valid config as a nested dict, each field given or not (sections too)."""

    def maybe(table: dict, key: str, strategy) -> None:
        if draw(st.booleans()):
            table[key] = draw(strategy)

    game: dict = {}
    if draw(st.booleans()):
        maybe(game, "name", st.just("two_state_pd"))
        maybe(game, "b", pair)
        maybe(game, "c", pair)
        maybe(game, "p", st.lists(probability, min_size=2, max_size=2))
    else:
        game = custom(payoff=draw(st.lists(st.lists(pair, min_size=2, max_size=2), min_size=2, max_size=2)))["game"]
    kind = draw(st.sampled_from([None, "lattice", "complete", "random_regular", "erdos_renyi", "barabasi_albert"]))
    kind = draw(st.sampled_from([kind, "edgelist"]))
    graph: dict = {} if kind is None else {"kind": kind}
    if kind in (None, "lattice"):
        maybe(graph, "n", st.sampled_from([9, 16, 25, 100]))
    elif kind == "edgelist":
        graph["path"] = "ring.txt"
        maybe(graph, "n", st.integers(RING, 2 * RING))
    else:
        maybe(graph, "n", st.integers(4, 15).map(lambda half: 2 * half))  # even: n * degree is even
    if kind == "random_regular":
        graph["degree"] = draw(st.integers(1, 3))
    if kind == "erdos_renyi":
        graph["edge_probability"] = draw(st.floats(min_value=0.01, max_value=1.0))
    if kind == "barabasi_albert":
        graph["m"] = draw(st.integers(1, 3))
    maybe(graph, "seed", st.integers(0, 2**63 - 1))
    maybe(graph, "order", st.sampled_from(["given", "rcm"]))
    learning: dict = {}
    maybe(learning, "rule", st.sampled_from(["q_learning", "sarsa", "expected_sarsa"]))
    maybe(learning, "alpha", st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
    maybe(learning, "beta", st.floats(min_value=0.0, max_value=1e6))
    maybe(learning, "gamma", st.floats(min_value=0.0, max_value=1.0, exclude_max=True))
    init: dict = {}
    maybe(init, "q", st.lists(pair, min_size=2, max_size=2))
    maybe(init, "q_noise", st.floats(min_value=0.0, max_value=10.0))
    maybe(init, "q_noise_distribution", st.sampled_from(["normal", "uniform"]))
    maybe(init, "edge_state", st.sampled_from(["uniform", 0, 1]))
    run: dict = {}
    maybe(run, "steps", st.integers(1, 10**6))
    maybe(run, "runs", st.integers(1, 100))
    maybe(run, "seed", st.integers(0, 2**63 - 1))
    maybe(run, "record_every", st.integers(1, 10**4))
    sections = {"game": game, "graph": graph, "learning": learning, "init": init, "run": run}
    return {name: table for name, table in sections.items() if table or draw(st.booleans())}


def given_fields(config: Config) -> set[tuple[str, str]]:
    return {(name, key) for name in config.model_fields_set for key in getattr(config, name).model_fields_set}


def not_given(config: Config) -> set[tuple[str, str]]:
    """The fields whose value means "not given" (``None``: resolved where used)."""
    return {(name, key) for name in SECTIONS for key, value in getattr(config, name) if value is None}


@pytest.fixture(scope="module")
def ring_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ring")
    write_ring(folder / "ring.txt", RING)
    return folder


def same_graph(config: Config, other: Config) -> int | None:
    """Both configs build the same graph (agents and edges); returns its number of agents. A draw that cannot be
    built (an Erdős–Rényi graph that came out without edges) must fail alike for both: then None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # isolated agents of an edge list with a larger n
        try:
            graph = config.build_graph()
        except ConfigError as error:
            with pytest.raises(ConfigError, match=re.escape(str(error))):
                other.build_graph()
            return None
        other_graph = other.build_graph()
    assert graph.n_agents == other_graph.n_agents
    np.testing.assert_array_equal(graph.edges, other_graph.edges)
    return graph.n_agents


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=config_data())
@example(data={"game": {"b": [0.0, 0.0]}, "graph": {"kind": "erdos_renyi", "n": 8, "edge_probability": 0.0625}})
def test_a_toml_round_trip_keeps_what_was_given_and_what_was_not(ring_folder, data):
    config = parse_config(data, base_dir=ring_folder)
    assert given_fields(config) == {(name, key) for name, table in data.items() for key in table}
    back = parse_config(tomllib.loads(config.to_toml()), base_dir=config.base_dir)
    assert back == config
    assert back.to_toml() == config.to_toml()
    assert given_fields(config) <= given_fields(back)  # what was given is still given, with its value
    assert not_given(back) == not_given(config)  # what was not given is still not given
    n_agents = same_graph(back, config)  # the example above: this seed's graph has no edges (a CI failure)
    if n_agents is None:
        return
    if config.graph.kind == "edgelist":
        assert n_agents == data["graph"].get("n", RING)
    assert same_graph(back.with_overrides(seed=5), config.with_overrides(seed=5)) == n_agents


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=config_data(),
    steps=st.none() | st.integers(1, 10**6),
    runs=st.none() | st.integers(1, 100),
    seed=st.none() | st.integers(0, 2**63 - 1),
)
def test_with_overrides_means_the_same_as_editing_the_input(ring_folder, data, steps, runs, seed):
    config = parse_config(data, base_dir=ring_folder)
    overrides = {key: value for key, value in {"steps": steps, "runs": runs, "seed": seed}.items() if value is not None}
    moved = config.with_overrides(steps=steps, runs=runs, seed=seed)
    edited = parse_config({**data, "run": {**data.get("run", {}), **overrides}}, base_dir=ring_folder)
    assert moved == edited
    assert not_given(moved) == not_given(config)
    assert all(getattr(moved, name) == getattr(config, name) for name in SECTIONS if name != "run")
    assert parse_config(tomllib.loads(moved.to_toml()), base_dir=ring_folder) == edited
    n_agents = same_graph(moved, edited)  # the same agents (edge lists) and the same seed (random graphs)
    if config.graph.kind == "edgelist":
        assert n_agents == data["graph"].get("n", RING)
