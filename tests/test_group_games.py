"""Groups (groups.py) and group games (group_games.py): construction, closed-form tables, the config's errors."""

from __future__ import annotations

import numpy as np
import pytest

import marldyn
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert, from_edges, lattice
from marldyn.group_games import as_group_game, custom_group, ecological_public_good, public_goods
from marldyn.groups import from_lists, neighborhood_groups, pairwise_groups, read_groups


# ----------------------------------------------------------------------------------------------
# groups
# ----------------------------------------------------------------------------------------------
def test_neighborhood_groups_centre_every_agent_on_its_neighbors():
    graph = barabasi_albert(40, 2, seed=1)
    groups = neighborhood_groups(graph)
    assert groups.n_groups == graph.n_agents
    for g in range(groups.n_groups):
        members = groups.members(g)
        assert members[0] == g and sorted(members[1:].tolist()) == graph.neighbors(g).tolist()
    assert np.array_equal(groups.memberships, graph.degree + 1)  # its own group and each neighbour's
    assert np.array_equal(groups.sizes, graph.degree + 1)


def test_isolated_agents_centre_no_group():
    with pytest.warns(UserWarning, match="isolated"):
        graph = from_edges([[0, 1], [1, 2]], n_agents=4)
    groups = neighborhood_groups(graph)
    assert groups.n_groups == 3 and groups.memberships.tolist() == [2, 3, 2, 0]


def test_pairwise_groups_are_the_edges_in_order():
    graph = lattice(16)
    groups = pairwise_groups(graph)
    assert np.array_equal(groups.member.reshape(-1, 2), graph.edges)
    assert groups.distinct_sizes == (2,)


@pytest.mark.parametrize(
    "groups, match",
    [
        ([[0, 1], [2]], r"group 1 has 1 agent\(s\); a group needs at least two"),
        ([[0, 1, 1]], r"group 0 lists agent 1 twice"),
        ([[0, 9]], r"agent id 9 is out of range for 5 agents"),
        ([[0, -1]], r"agent ids must be >= 0"),
        ([], r"there are no groups"),
    ],
)
def test_bad_groups_get_one_line_errors(groups, match):
    with pytest.raises(ConfigError, match=match):
        from_lists(groups, n_agents=5)


def test_read_groups_skips_comments_and_names_the_bad_line(tmp_path):
    path = tmp_path / "triads.txt"
    path.write_text("# triads\n0 1 2\n\n2,3,4  # a comment\n")
    groups = read_groups(path, 5)
    assert groups.sizes.tolist() == [3, 3] and groups.members(1).tolist() == [2, 3, 4]
    path.write_text("0 1\n1 x\n")
    with pytest.raises(ConfigError, match=r"triads.txt, line 2: agent ids must be integers"):
        read_groups(path, 5)


# ----------------------------------------------------------------------------------------------
# the games' tables
# ----------------------------------------------------------------------------------------------
def test_public_goods_tables_by_hand():
    game = public_goods(r=(3.0, 2.0), c=(1.0, 0.5), p=(0.9, 0.1))
    payoff = game.payoff(3)
    # s1, n = 3: cooperator 3 (j + 1) / 3 - 1 = j; defector 3 j / 3 = j
    assert np.allclose(payoff[0, 0, :, 0], [0.0, 1.0, 2.0]) and np.allclose(payoff[0, 1, :, 1], [0.0, 1.0, 2.0])
    # s2: cooperator 2 * 0.5 (j + 1) / 3 - 0.5, defector j / 3
    assert np.allclose(payoff[1, 0, :, 0], (np.arange(3) + 1) / 3 - 0.5)
    assert np.allclose(payoff[1, 1, :, 0], np.arange(3) / 3)
    transition = game.transition(3)
    assert np.allclose(transition[:, :3, 0], 0.1) and np.allclose(transition[:, 3, 0], 0.9)
    assert np.allclose(transition.sum(axis=-1), 1.0)


def test_ecological_public_good_tables_by_hand():
    game = ecological_public_good(r=1.5, c=2.0, collapse=0.4, impact=-3.0, recovery=0.05)
    n = 4
    transition = game.transition(n)
    assert np.allclose(transition[0, :, 1], 0.4 * np.arange(n, -1, -1) / n)  # each defector adds collapse / n
    assert np.allclose(transition[1, :, 0], 0.05)
    payoff = game.payoff(n)
    j = np.arange(n)
    assert np.allclose(payoff[0, 0, :, 0], 1.5 * 2.0 * (j + 1) / n - 2.0)
    assert np.allclose(payoff[0, 1, :, 0], 1.5 * 2.0 * j / n)
    assert np.all(payoff[0, :, :, 1] == -3.0) and np.all(payoff[1] == -3.0)  # collapse and degraded state
    assert game.next_state_payoff and not public_goods().next_state_payoff


def test_as_group_game_is_the_pairwise_game():
    pd = two_state_pd()
    game = as_group_game(pd)
    payoff, transition = game.payoff(2), game.transition(2)
    for s in range(2):
        for a in range(2):
            for b in range(2):
                j = int(b == 0)
                assert np.all(payoff[s, a, j] == pd.payoff[s, a, b])
                assert np.array_equal(transition[s, int(a == 0) + int(b == 0)], pd.transition[s, a, b])


def test_tables_pad_several_sizes():
    payoff, cum = public_goods().tables([2, 4])
    assert payoff.shape == (2, 2, 2, 4, 2) and cum.shape == (2, 2, 5, 2)
    assert np.array_equal(payoff[0, :, :, :2], public_goods().payoff(2)) and np.all(payoff[0, :, :, 2:] == 0)
    assert np.all(cum[..., -1] == 1.0)


@pytest.mark.parametrize(
    "payoff, transition, match",
    [
        (np.zeros((1, 2, 3)), np.ones((1, 3, 1)), r"to fit game.transition \(groups of 2\)"),
        (np.zeros((1, 3, 2)), np.ones((1, 3, 1)), r"two actions \(M = 2\)"),
        (np.zeros((1, 2, 2)), np.full((1, 3, 1), 0.5), r"game.transition\[0, 0, :\] sums to 0.5"),
        (np.zeros((1, 2, 2)), np.ones((1, 2, 1)), r"with n >= 2"),
        (np.zeros((2, 2, 2)), np.ones((2, 3, 1)), r"must have shape \(state, m, state\)"),
    ],
)
def test_custom_group_shapes_are_checked(payoff, transition, match):
    with pytest.raises(ConfigError, match=match):
        custom_group(payoff, transition)


# ----------------------------------------------------------------------------------------------
# the config
# ----------------------------------------------------------------------------------------------
PD_GROUP = as_group_game(two_state_pd())
CUSTOM_PAIR = {
    "name": "custom_group",
    "payoff": PD_GROUP.parameters["payoff"].tolist(),
    "transition": PD_GROUP.parameters["transition"].tolist(),
}


@pytest.mark.parametrize(
    "data, match",
    [
        ({"graph": {"groups": "neighborhood"}}, r"^graph.groups = 'neighborhood' needs a group game"),
        ({"game": {"name": "public_goods", "b": [1.0, 2.0]}}, r"^game.b is only allowed with name = 'two_state_pd'"),
        ({"game": {"name": "public_goods", "r": 2.0}}, r"^game.r must be"),
        ({"game": {"name": "ecological_public_good", "r": [1.0, 2.0]}}, r"^game.r must be one number"),
        ({"game": {"name": "ecological_public_good", "impact": 1.0}}, r"^game.impact = 1.0"),
        ({"game": {"name": "ecological_public_good", "collapse": 1.5}}, r"^game.collapse = 1.5"),
        ({"game": {"name": "public_goods", "p": [0.5, 1.5]}}, r"^game.p\[1\] = 1.5 must be a probability"),
        ({"game": {"name": "custom_group", "payoff": [[[0.0]]]}}, r"needs payoff and transition"),
        ({"game": {"name": "public_goods"}, "graph": {"groups": "file"}}, r"^graph.groups_path is required"),
        ({"graph": {"groups_path": "g.txt"}}, r"^graph.groups_path is only allowed with groups = 'file'"),
        ({"game": {"name": "public_goods"}, "graph": {"groups": "file", "groups_path": "nope.txt"}}, r"no such file"),
        ({"game": {"name": "public_goods"}, "graph": {"groups": "clique"}}, r"^graph.groups = 'clique'"),
    ],
)
def test_bad_group_configs_name_the_field(data, match):
    with pytest.raises(ConfigError, match=match):
        marldyn.parse_config(data)


def test_custom_group_on_groups_of_several_sizes_is_refused():
    config = marldyn.parse_config(
        {"game": CUSTOM_PAIR, "graph": {"kind": "barabasi_albert", "n": 20, "m": 2, "groups": "neighborhood"}}
    )
    with pytest.raises(ConfigError, match=r"has tables for groups of 2, but the groups have sizes \[2, 3, "):
        marldyn.simulate(config)


def test_groups_file_errors_reach_the_user(tmp_path):
    (tmp_path / "groups.txt").write_text("0 1 2\n3\n")
    (tmp_path / "run.toml").write_text(
        '[game]\nname = "public_goods"\n[graph]\nn = 9\ngroups = "file"\ngroups_path = "groups.txt"\n'
    )
    config = marldyn.load_config(tmp_path / "run.toml")
    with pytest.raises(ConfigError, match=r"group 1 has 1 agent"):
        marldyn.simulate(config)


@pytest.mark.parametrize("name", ["public_goods.toml", "ecological_public_good.toml"])
def test_the_group_examples_are_valid_configs(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / name
    config = marldyn.load_config(path)
    assert config.game.is_group_game and config.graph.groups == "neighborhood"
    groups = config.build_groups(config.build_graph(), config.build_game())
    assert groups.distinct_sizes == (5,)
