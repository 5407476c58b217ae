"""The numba kernel and the numpy reference produce bit-identical trajectories."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from helpers import learners_of, one_type, random_game
from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert, complete, erdos_renyi, lattice, random_regular
from marldyn.learning import RULES
from marldyn.simulation import kernels, reference
from marldyn.simulation.counter_rng import uniform, uniforms

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # erdos_renyi may leave isolated agents: that case is wanted here
    GRAPHS = {
        "lattice16": lattice(16),
        "random_regular30": random_regular(30, 3, seed=1),
        "erdos_renyi40": erdos_renyi(40, 0.06, seed=2),
        "barabasi_albert30": barabasi_albert(30, 2, seed=3),
        "complete8": complete(8),
    }
GAMES = {
    "pd": two_state_pd(),
    "random3x3": random_game(3, 3, seed=4),
    "one_state": random_game(1, 3, seed=5),
    "one_action": random_game(2, 1, seed=6),
}


def _initial_state(game, graph, seed=0):
    """Random Q (agent, state, action), edge states and stream key."""
    rng = np.random.default_rng(seed)
    q0 = rng.normal(0, 1, size=(graph.n_agents, game.n_states, game.n_actions))
    state0 = rng.integers(0, game.n_states, size=graph.n_edges)
    return q0, state0, np.uint64(rng.integers(0, 2**63))


def _trajectories(game, graph, rule, beta, steps=25, alpha=0.2, gamma=0.8, seed=0):
    q0, state0, key = _initial_state(game, graph, seed)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, alpha, beta, gamma, rule),
        one_type(graph),
        key,
    )
    q_ref, state_ref = q0.copy(), state0.copy()
    for t in range(steps):
        q_ref, state_ref = reference.step(q_ref, state_ref, *args, t)
    q_fast, state_fast = q0.copy(), state0.copy()
    kernels.run_steps(q_fast, state_fast, *args, 0, steps)
    return q0, (q_ref, state_ref), (q_fast, state_fast)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("graph_name", list(GRAPHS))
@pytest.mark.parametrize("game_name", list(GAMES))
def test_bit_identical_trajectories(game_name, graph_name, rule):
    q0, (q_ref, state_ref), (q_fast, state_fast) = _trajectories(GAMES[game_name], GRAPHS[graph_name], rule, 1.0)
    assert np.array_equal(q_ref, q_fast)
    assert np.array_equal(state_ref, state_fast)
    assert not np.array_equal(q_ref, q0)  # something happened


@pytest.mark.parametrize("beta", [0.0, 3.0, 1e4])
def test_bit_identical_for_extreme_temperatures(beta):
    _, (q_ref, state_ref), (q_fast, state_fast) = _trajectories(
        GAMES["random3x3"], GRAPHS["lattice16"], "expected_sarsa", beta
    )
    assert np.array_equal(q_ref, q_fast) and np.array_equal(state_ref, state_fast)
    assert np.all(np.isfinite(q_ref))


def test_chunked_kernel_equals_one_call():
    game, graph = GAMES["pd"], GRAPHS["lattice16"]
    _, _, (q_once, state_once) = _trajectories(game, graph, "q_learning", 1.0, steps=20)
    rng = np.random.default_rng(0)
    q = rng.normal(0, 1, size=(graph.n_agents, 2, 2))
    state = rng.integers(0, 2, size=graph.n_edges)
    key = np.uint64(rng.integers(0, 2**63))
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.2, 1.0, 0.8),
        one_type(graph),
        key,
    )
    for first in range(0, 20, 7):
        kernels.run_steps(q, state, *args, first, min(7, 20 - first))
    assert np.array_equal(q, q_once) and np.array_equal(state, state_once)


def test_counter_rng_numpy_equals_numba_and_is_uniform():
    key = np.uint64(987654321)
    draws = uniforms(key, 10**12, 200_000)
    assert all(draws[k] == uniform(key, np.uint64(10**12 + k)) for k in (0, 1, 777, 199_999))
    assert draws.min() >= 0.0 and draws.max() < 1.0
    # Kolmogorov-Smirnov against U(0,1) and lag-1 correlation, at levels a correct generator passes
    from scipy import stats

    assert stats.kstest(draws, "uniform").pvalue > 1e-4
    correlation = np.corrcoef(draws[:-1], draws[1:])[0, 1]
    assert abs(correlation) < 5 / np.sqrt(draws.size)
    other = uniforms(np.uint64(987654322), 10**12, 200_000)
    assert abs(np.corrcoef(draws, other)[0, 1]) < 5 / np.sqrt(draws.size)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("game_name", ["pd", "random3x3", "one_state"])
def test_threaded_kernel_is_bit_identical(game_name, rule):
    """The threaded kernel (gather in edge order) equals the serial one for any graph, game and rule."""
    game, graph = GAMES[game_name], GRAPHS["erdos_renyi40"]
    rng = np.random.default_rng(1)
    q0 = rng.normal(0, 1, size=(graph.n_agents, game.n_states, game.n_actions))
    state0 = rng.integers(0, game.n_states, size=graph.n_edges)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.2, 1.0, 0.8, rule),
        one_type(graph),
        np.uint64(5),
    )
    q_serial, state_serial = q0.copy(), state0.copy()
    kernels.run_steps(q_serial, state_serial, *args, 3, 30)
    q_threads, state_threads = q0.copy(), state0.copy()
    kernels.run_steps_parallel(q_threads, state_threads, *args, 3, 30, *kernels.incidence(graph.edges, graph.n_agents))
    assert np.array_equal(q_serial, q_threads) and np.array_equal(state_serial, state_threads)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("beta", [0.0, 1.0, 1e4])
def test_unrolled_two_action_draw_equals_the_generic_draw(rule, beta):
    """The M = 2 specialisation and the generic (any M) code path give the same trajectory, serial and threaded."""
    game, graph = GAMES["pd"], GRAPHS["barabasi_albert30"]
    rng = np.random.default_rng(2)
    q0 = rng.normal(0, 1, size=(graph.n_agents, 2, 2))
    q0[:3, 0, 1] = q0[:3, 0, 0]  # ties: both paths must skip the exponential alike
    state0 = rng.integers(0, 2, size=graph.n_edges)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.2, beta, 0.8, rule),
        one_type(graph),
        np.uint64(9),
    )
    incidence = kernels.incidence(graph.edges, graph.n_agents)
    results = []
    for specialise in (True, False):
        q, state = q0.copy(), state0.copy()
        kernels.run_steps(q, state, *args, 0, 40, specialise)
        q_threads, state_threads = q0.copy(), state0.copy()
        kernels.run_steps_parallel(q_threads, state_threads, *args, 0, 40, *incidence, specialise)
        assert np.array_equal(q, q_threads) and np.array_equal(state, state_threads)
        results.append((q, state))
    assert np.array_equal(results[0][0], results[1][0]) and np.array_equal(results[0][1], results[1][1])
    assert not np.array_equal(results[0][0], q0)


@pytest.mark.parametrize("game_name", ["pd", "random3x3"])
def test_prefetching_kernels_are_bit_identical(game_name):
    """On a population whose per-agent rows exceed the L2 cache the edge sweeps prefetch far agents' rows;
    serial and threaded kernels still equal the numpy reference (a random graph: every second end is far)."""
    game = GAMES[game_name]
    graph = random_regular(4 * kernels.PREFETCH_MIN_BYTES // (32 * game.n_states), 4, seed=7)
    assert kernels.prefetch_distance(graph.edges, graph.n_agents, 16 * game.n_states) > 0  # threaded rows
    assert kernels.prefetch_distance(graph.edges[:100], 100, 32 * game.n_states) == 0  # fits the cache
    local = lattice(300**2)  # large, but every end on a regular stream
    assert kernels.prefetch_distance(local.edges, local.n_agents, 32 * game.n_states) == 0
    _, (q_ref, state_ref), (q_fast, state_fast) = _trajectories(game, graph, "q_learning", 1.0, steps=3)
    assert np.array_equal(q_ref, q_fast) and np.array_equal(state_ref, state_fast)
    q_threads, state_threads, key = _initial_state(game, graph)  # as in _trajectories
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.2, 1.0, 0.8),
        one_type(graph),
        key,
    )
    q_plain, state_plain = q_threads.copy(), state_threads.copy()
    kernels.run_steps_parallel(q_threads, state_threads, *args, 0, 3, *kernels.incidence(graph.edges, graph.n_agents))
    assert np.array_equal(q_ref, q_threads) and np.array_equal(state_ref, state_threads)
    kernels.run_steps(q_plain, state_plain, *args, 0, 3, True, False)  # prefetching off
    assert np.array_equal(q_ref, q_plain) and np.array_equal(state_ref, state_plain)
