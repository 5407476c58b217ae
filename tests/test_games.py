"""Game validation, the paper's two-state prisoner's dilemma (eq. 21), sampling table, game files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import random_game
from marldyn.errors import ConfigError
from marldyn.games import Game, load_game, two_state_pd


def valid_arrays(n_states: int = 2, n_actions: int = 2):
    """A valid (payoff, transition) pair as writable float arrays: uniform transitions."""
    payoff = np.arange(n_states * n_actions * n_actions, dtype=float).reshape(n_states, n_actions, n_actions)
    transition = np.full((n_states, n_actions, n_actions, n_states), 1.0 / n_states)
    return payoff, transition


# ---------------------------------------------------------------- Game validation


def test_valid_game_properties_and_read_only_copies():
    payoff, transition = valid_arrays(3, 2)
    game = Game(payoff, transition, name="g")
    assert (game.n_states, game.n_actions, game.name) == (3, 2, "g")
    np.testing.assert_array_equal(game.payoff, payoff)
    payoff[0, 0, 0] = 99.0  # the game keeps its own copy
    assert game.payoff[0, 0, 0] == 0.0
    with pytest.raises(ValueError):
        game.payoff[0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        game.transition[0, 0, 0, 0] = 1.0


@pytest.mark.parametrize(("n_states", "n_actions"), [(1, 1), (1, 3), (3, 1), (2, 2)])
def test_degenerate_sizes_are_accepted(n_states, n_actions):
    game = Game(*valid_arrays(n_states, n_actions))
    assert (game.n_states, game.n_actions) == (n_states, n_actions)
    assert game.cumulative_transition().shape == (n_states, n_actions, n_actions, n_states)


def test_single_state_single_action_game_from_nested_lists():
    game = Game([[[3.0]]], [[[[1.0]]]])
    assert game.payoff.shape == (1, 1, 1) and game.transition.shape == (1, 1, 1, 1)


@pytest.mark.parametrize(
    ("payoff", "transition", "match"),
    [
        pytest.param(np.zeros((2, 2)), np.ones((2, 2, 1)), r"game\.payoff must have shape", id="payoff-2d"),
        pytest.param(
            np.zeros((2, 2, 3)), np.ones((2, 2, 3, 2)), r"game\.payoff must have shape", id="payoff-not-square"
        ),
        pytest.param(
            np.zeros((0, 2, 2)), np.ones((0, 2, 2, 0)), r"game\.payoff must have shape", id="payoff-no-states"
        ),
        pytest.param(
            np.zeros((2, 0, 0)), np.ones((2, 0, 0, 2)), r"game\.payoff must have shape", id="payoff-no-actions"
        ),
        pytest.param(np.zeros((2, 2, 2)), np.full((2, 2, 2), 0.5), r"game\.transition must have shape", id="trans-3d"),
        pytest.param(
            np.zeros((2, 2, 2)), np.full((2, 2, 2, 3), 1 / 3), r"game\.transition must have shape", id="trans-states"
        ),
        pytest.param(
            np.zeros((2, 2, 2)), np.full((2, 3, 3, 2), 0.5), r"game\.transition must have shape", id="trans-actions"
        ),
        pytest.param("abc", np.ones((1, 1, 1, 1)), r"game\.payoff must be a nested list of numbers", id="payoff-text"),
        pytest.param(
            [[[1.0, 2.0], [3.0]]], np.ones((1, 2, 2, 1)), r"game\.payoff must be a nested list", id="payoff-ragged"
        ),
        pytest.param(np.ones((1, 1, 1)), [[[["x"]]]], r"game\.transition must be a nested list", id="trans-text"),
    ],
)
def test_shapes_and_types_are_checked(payoff, transition, match):
    with pytest.raises(ConfigError, match=match):
        Game(payoff, transition)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_payoff_rejected(bad):
    payoff, transition = valid_arrays()
    payoff[1, 0, 1] = bad
    with pytest.raises(ConfigError, match=r"game\.payoff contains NaN or infinite"):
        Game(payoff, transition)


def test_non_finite_transition_rejected():
    payoff, transition = valid_arrays()
    transition[0, 1, 1, 0] = np.nan
    with pytest.raises(ConfigError, match=r"game\.transition contains NaN or infinite"):
        Game(payoff, transition)


def test_negative_transition_entry_rejected_even_if_row_sums_to_one():
    payoff, transition = valid_arrays()
    transition[1, 0, 0] = [1.5, -0.5]
    with pytest.raises(ConfigError, match=r"game\.transition\[1, 0, 0, 1\] = -0\.5 is negative"):
        Game(payoff, transition)


@pytest.mark.parametrize("excess", [1e-6, -1e-6, 0.1, -0.5])
def test_non_normalised_row_rejected(excess):
    payoff, transition = valid_arrays()
    transition[1, 1, 0, 0] += excess
    transition[1, 0, 1, 0] += excess  # keep the table symmetric: only the normalisation is wrong
    with pytest.raises(ConfigError, match=r"game\.transition\[1, 0, 1, :\] sums to .*must sum to 1"):
        Game(payoff, transition)


@pytest.mark.parametrize("excess", [1e-12, -1e-12, 5e-10])
def test_row_sums_within_tolerance_accepted(excess):
    payoff, transition = valid_arrays()
    transition[0, 0, 0, 0] += excess
    assert Game(payoff, transition).n_states == 2


def test_row_sum_just_outside_tolerance_rejected():
    payoff, transition = valid_arrays()
    transition[0, 0, 0, 0] += 2e-9
    with pytest.raises(ConfigError, match=r"game\.transition\[0, 0, 0, :\]"):
        Game(payoff, transition)


def test_asymmetric_transition_rejected():
    payoff, transition = valid_arrays()
    transition[1, 0, 1] = [0.9, 0.1]  # T[1, 0, 1] != T[1, 1, 0] = [0.5, 0.5]
    with pytest.raises(ConfigError, match=r"symmetric.*transition\[1, 0, 1\] != transition\[1, 1, 0\]"):
        Game(payoff, transition)


def test_asymmetric_payoff_is_allowed():
    """Only the transition has to be symmetric; U[s, a, b] is the row player's payoff."""
    payoff, transition = valid_arrays()
    assert not np.array_equal(payoff, payoff.transpose(0, 2, 1))
    Game(payoff, transition)


# ---------------------------------------------------------------- the paper's game, eq. (21)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [((5.0, 1.2), (0.5, 0.5), (0.7, 0.2)), ((2.0, 3.0), (0.25, 1.5), (0.0, 1.0)), ((1.2, 1.2), (0.1, 0.9), (0.3, 0.3))],
)
def test_two_state_pd_is_equation_21(b, c, p):
    game = two_state_pd(b=b, c=c, p=p)
    (b1, b2), (c1, c2), (p1, p2) = b, c, p
    # U(s) = [[b - c, -c], [b, 0]]: rows are my action (C, D), columns the opponent's.
    np.testing.assert_array_equal(game.payoff[0], [[b1 - c1, -c1], [b1, 0.0]])
    np.testing.assert_array_equal(game.payoff[1], [[b2 - c2, -c2], [b2, 0.0]])
    for s in range(2):  # the next state does not depend on the current one
        np.testing.assert_allclose(game.transition[s, 0, 0], [p1, 1 - p1])  # both cooperate
        np.testing.assert_allclose(game.transition[s, 0, 1], [p2, 1 - p2])  # I cooperate, the other defects
        np.testing.assert_allclose(game.transition[s, 1, 0], [p2, 1 - p2])
        np.testing.assert_allclose(game.transition[s, 1, 1], [p2, 1 - p2])  # both defect
    assert game.name == "two_state_pd" and (game.n_states, game.n_actions) == (2, 2)


def test_two_state_pd_defaults_are_figure_3():
    game = two_state_pd()
    np.testing.assert_allclose(game.payoff, [[[4.5, -0.5], [5.0, 0.0]], [[0.7, -0.5], [1.2, 0.0]]])
    np.testing.assert_allclose(game.transition[:, 0, 0, 0], 0.7)
    np.testing.assert_allclose(game.transition[:, 1, 1, 0], 0.2)


def test_two_state_pd_defection_dominates():
    """A prisoner's dilemma: defecting pays more whatever the opponent does, in both states."""
    game = two_state_pd()
    assert np.all(game.payoff[:, 1, :] > game.payoff[:, 0, :])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": (1.5, 0.2)}, r"game\.p\[0\] = 1\.5 must be a probability"),
        ({"p": (0.7, -0.1)}, r"game\.p\[1\] = -0\.1 must be a probability"),
        ({"b": (1.0, 2.0, 3.0)}, r"game\.b must be a list of two"),
        ({"c": (1.0,)}, r"game\.c must be a list of two"),
        ({"b": (np.nan, 1.0)}, r"game\.b must be a list of two finite"),
        ({"c": (0.5, np.inf)}, r"game\.c must be a list of two finite"),
        ({"p": 0.5}, r"game\.p must be a list of two numbers"),
        ({"b": ("x", "y")}, r"game\.b must be a list of two numbers"),
    ],
)
def test_two_state_pd_bad_parameters(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        two_state_pd(**kwargs)


# ---------------------------------------------------------------- cumulative transition


def draw(cum_row: np.ndarray, u: float) -> int:
    """The sampling rule documented in Game.cumulative_transition."""
    return int(np.sum(cum_row <= u))


def test_cumulative_transition_trailing_zeros_map_to_one():
    transition = np.zeros((3, 1, 1, 3))
    transition[0, 0, 0] = [0.5, 0.5, 0.0]
    transition[1, 0, 0] = [0.3, 0.7 - 5e-10, 0.0]  # sums to 1 - 5e-10: within tolerance, yet cumsum < 1
    transition[2, 0, 0] = [0.0, 1.0, 0.0]
    cum = Game(np.zeros((3, 1, 1)), transition).cumulative_transition()
    np.testing.assert_array_equal(cum[0, 0, 0], [0.5, 1.0, 1.0])
    np.testing.assert_array_equal(cum[1, 0, 0], [0.3, 1.0, 1.0])
    np.testing.assert_array_equal(cum[2, 0, 0], [0.0, 1.0, 1.0])
    for u in (0.0, 0.3, 1.0 - 5e-10, 1.0 - 1e-16):  # no draw in [0, 1) reaches a zero-probability state
        assert draw(cum[1, 0, 0], u) in (0, 1)
        assert draw(cum[2, 0, 0], u) == 1


def test_cumulative_transition_with_sums_below_one_still_ends_at_one():
    transition = np.zeros((2, 1, 1, 2))
    transition[:, 0, 0] = [0.25, 0.75 - 5e-10]  # within tolerance, cumsum ends below 1
    cum = Game(np.zeros((2, 1, 1)), transition).cumulative_transition()
    np.testing.assert_array_equal(cum[..., -1], 1.0)


def test_cumulative_transition_never_selects_a_zero_probability_state():
    rng = np.random.default_rng(1)
    n_states, n_actions = 4, 2
    raw = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions, n_actions))
    raw[rng.random(raw.shape) < 0.4] = 0.0  # many zeros, including leading and trailing ones
    raw[..., 1] += 1e-3  # every row keeps at least one positive entry
    raw /= raw.sum(axis=-1, keepdims=True)
    transition = 0.5 * (raw + raw.transpose(0, 2, 1, 3))
    game = Game(np.zeros((n_states, n_actions, n_actions)), transition)
    cum = game.cumulative_transition()
    assert np.all(np.diff(cum, axis=-1) >= 0)
    draws = np.concatenate([[0.0, np.nextafter(1.0, 0.0)], rng.random(200), np.unique(cum[cum < 1])])
    for index in np.ndindex(*cum.shape[:-1]):
        for u in draws:
            state = draw(cum[index], u)
            assert state < n_states
            assert transition[index][state] > 0, (index, u, state)


def test_cumulative_transition_of_random_game_matches_cumsum():
    game = random_game(3, 2, seed=4)
    np.testing.assert_allclose(game.cumulative_transition(), np.cumsum(game.transition, axis=-1), atol=1e-12)
    np.testing.assert_array_equal(game.cumulative_transition()[..., -1], 1.0)


# ---------------------------------------------------------------- game files


def test_npz_round_trip(tmp_path):
    game = random_game(3, 2, seed=2)
    path = tmp_path / "mygame.npz"
    np.savez(path, payoff=game.payoff, transition=game.transition)
    loaded = load_game(path)
    np.testing.assert_array_equal(loaded.payoff, game.payoff)
    np.testing.assert_array_equal(loaded.transition, game.transition)
    assert loaded.name == "mygame"


def test_json_round_trip(tmp_path):
    game = random_game(2, 3, seed=3)
    path = tmp_path / "other.json"
    path.write_text(json.dumps(game.to_dict()))
    loaded = load_game(str(path))
    np.testing.assert_array_equal(loaded.payoff, game.payoff)
    np.testing.assert_array_equal(loaded.transition, game.transition)
    assert loaded.name == "other"


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def write_json(path, data):
    return write_text(path, json.dumps(data))


def write_bytes(path, data):
    path.write_bytes(data)
    return path


def write_text(path, text):
    path.write_text(text)
    return path


PAYOFF, TRANSITION = (a.tolist() for a in valid_arrays())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        pytest.param(
            lambda d: write_npz(d / "g.npz", payoff=np.array(PAYOFF)), r"missing \['transition'\]", id="npz-missing"
        ),
        pytest.param(
            lambda d: write_npz(
                d / "g.npz", payoff=np.array(PAYOFF), transition=np.array(TRANSITION), extra=np.ones(2)
            ),
            r"unknown entries \['extra'\]",
            id="npz-extra",
        ),
        pytest.param(
            lambda d: write_json(d / "g.json", {"transition": TRANSITION}), r"missing \['payoff'\]", id="json-missing"
        ),
        pytest.param(
            lambda d: write_json(d / "g.json", {"payoff": PAYOFF, "transition": TRANSITION, "name": "x"}),
            r"unknown entries \['name'\]",
            id="json-extra",
        ),
        pytest.param(lambda d: write_json(d / "g.json", [PAYOFF, TRANSITION]), r"JSON object", id="json-list"),
        pytest.param(lambda d: write_text(d / "g.json", "{payoff: 1"), r"cannot be read", id="json-syntax"),
        pytest.param(lambda d: write_bytes(d / "g.json", b"\xff\xfe{"), r"cannot be read", id="json-not-utf8"),
        pytest.param(
            lambda d: write_json(d / "g.json", {"payoff": PAYOFF, "transition": [[[[0.5, 0.4]] * 2] * 2] * 2}),
            r"game\.transition\[0, 0, 0, :\] sums to",
            id="json-bad-row",
        ),
        pytest.param(lambda d: write_text(d / "g.npz", "not a zip file"), r"cannot be read", id="npz-garbage"),
        pytest.param(lambda d: d / "absent.npz", r"game\.file: no such file", id="missing-file"),
        pytest.param(lambda d: d, r"game\.file: no such file", id="directory"),
    ],
)
def test_bad_game_files(tmp_path, make, match):
    with pytest.raises(ConfigError, match=match):
        load_game(make(tmp_path))


@pytest.mark.parametrize("suffix", [".txt", ".npy", ".NPZ", ""])
def test_bad_suffix_rejected(tmp_path, suffix):
    path = tmp_path / f"game{suffix}"
    path.write_text(json.dumps({"payoff": PAYOFF, "transition": TRANSITION}))
    with pytest.raises(ConfigError, match=r"game\.file must end in \.npz or \.json"):
        load_game(path)


def test_npz_with_object_array_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payoff=np.array([[[1.0]]]), transition=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ConfigError, match=r"game\.file .*evil\.npz.*cannot be read.*allow_pickle"):
        load_game(path)


def test_npy_content_with_npz_suffix_gives_config_error(tmp_path):
    path = tmp_path / "array.npz"
    with path.open("wb") as handle:
        np.save(handle, np.ones(3))
    with pytest.raises(ConfigError, match=r"game\.file"):
        load_game(path)
