"""Group games in the simulator (issue 14): the numba kernel against the numpy reference, the pairwise model as
the special case, outputs, checkpoints and closed forms of single steps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import marldyn
from marldyn.games import two_state_pd
from marldyn.graphs import barabasi_albert, erdos_renyi, lattice, random_regular
from marldyn.group_games import as_group_game, custom_group, ecological_public_good, public_goods
from marldyn.groups import from_lists, neighborhood_groups
from marldyn.learning import RULES
from marldyn.simulation import kernels, reference
from marldyn.simulation.problem import agent_types, initial_state, make_problem, run_streams

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # erdos_renyi may leave isolated agents: agents in no group are wanted here
    GRAPHS = {
        "lattice16": lattice(16),
        "random_regular30": random_regular(30, 3, seed=1),
        "barabasi_albert30": barabasi_albert(30, 2, seed=3),
        "erdos_renyi40": erdos_renyi(40, 0.06, seed=2),
    }
RNG = np.random.default_rng(7)
THREE_STATE = custom_group(  # three states, groups of three, next-state payoffs
    RNG.normal(size=(3, 2, 3, 3)), RNG.dirichlet(np.ones(3), size=(3, 4)), name="random3"
)
GAMES = {
    "public_goods": public_goods(),
    "ecological": ecological_public_good(),
    "pd_as_group": as_group_game(two_state_pd()),
    "random3": THREE_STATE,
}


def group_config(game, n_agents: int, learning: dict | None = None, types=(), groups="neighborhood") -> dict:
    """A config dict for ``game`` (built-in by name, custom by its tables) on ``n_agents`` agents."""
    if game.kind == "custom_group":
        section = {
            "name": "custom_group",
            "payoff": game.parameters["payoff"].tolist(),
            "transition": game.parameters["transition"].tolist(),
        }
    else:
        section = {"name": game.kind}
    return {
        "game": section,
        "graph": {"kind": "complete", "n": n_agents, "groups": groups},
        "learning": {"alpha": 0.1, **(learning or {})},
        "init": {"q_noise": 1.0},
        "agent_types": list(types),
    }


def group_problem(game, graph, groups, learning=None, types=(), backend="numba"):
    config = marldyn.parse_config(group_config(game, graph.n_agents, learning, types))
    problem = make_problem(config, game, graph, groups=groups, backend=backend)
    stream = run_streams(3, 1)[0]
    q, state = initial_state(problem, stream[0])
    return problem, q, state, agent_types(problem, stream[2]), stream[1]


def _both(problem, q0, state0, agent_type, key, steps=20):
    args = (
        problem.group_pointer,
        problem.group_member,
        problem.group_size_index,
        problem.payoff,
        problem.cum_transition,
        problem.learners,
        agent_type,
        key,
    )
    q_ref, state_ref = q0.copy(), state0.copy()
    for t in range(steps):
        q_ref, state_ref = reference.group_step(q_ref, state_ref, *args, t)
    q_fast, state_fast = q0.copy(), state0.copy()
    kernels.run_group_steps(q_fast, state_fast, *args, 0, steps)
    return (q_ref, state_ref), (q_fast, state_fast)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("graph_name", list(GRAPHS))
@pytest.mark.parametrize("game_name", ["public_goods", "ecological", "random3"])
def test_group_kernel_is_bit_identical_to_the_reference(game_name, graph_name, rule):
    game, graph = GAMES[game_name], GRAPHS[graph_name]
    groups = neighborhood_groups(graph)
    if game.size is not None:  # a custom game of one size: random groups of that size
        rng = np.random.default_rng(0)
        groups = from_lists(
            [rng.choice(graph.n_agents, game.size, replace=False) for _ in range(graph.n_agents)], graph.n_agents
        )
    learning = {"rule": rule, **({"faq_beta": 0.3} if rule == "faq" else {})}
    problem, q0, state0, agent_type, key = group_problem(game, graph, groups, learning)
    (q_ref, state_ref), (q_fast, state_fast) = _both(problem, q0, state0, agent_type, key)
    assert np.array_equal(q_ref, q_fast) and np.array_equal(state_ref, state_fast)
    assert not np.array_equal(q_ref, q0)


@pytest.mark.parametrize("policy", ["boltzmann", "epsilon_greedy"])
def test_group_kernel_with_types_and_committed_agents(policy):
    game, graph = GAMES["public_goods"], GRAPHS["barabasi_albert30"]
    learning = {"policy": policy, **({"epsilon": 0.2} if policy == "epsilon_greedy" else {})}
    types = [
        {"name": "fast", "fraction": 0.3, "alpha": 0.4, "rule": "faq", "faq_beta": 0.2},
        {"name": "committed", "agents": [0, 3], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]},
    ]
    problem, q0, state0, agent_type, key = group_problem(game, graph, neighborhood_groups(graph), learning, types)
    (q_ref, state_ref), (q_fast, state_fast) = _both(problem, q0, state0, agent_type, key)
    assert np.array_equal(q_ref, q_fast) and np.array_equal(state_ref, state_fast)
    committed = agent_type == problem.learners.names.index("committed")
    assert np.array_equal(q_ref[committed], q0[committed])


def test_groups_from_a_file_simulate_identically_on_both_backends(tmp_path):
    (tmp_path / "groups.txt").write_text("0 1 2\n2 3 4 5\n5 6 7 8 0\n1 4 7\n")
    config = {
        "game": {"name": "ecological_public_good", "collapse": 0.5, "recovery": 0.2},
        "graph": {"n": 9, "groups": "file", "groups_path": str(tmp_path / "groups.txt")},
        "learning": {"alpha": 0.2},
        "run": {"steps": 200, "runs": 2, "record_every": 50},
    }
    fast, slow = marldyn.simulate(config), marldyn.simulate(config, backend="numpy")
    assert fast.policy.equals(slow.policy) and fast.state_fraction.equals(slow.state_fraction)
    assert fast.attrs["n_groups"] == 4 and fast.attrs["group_sizes"].tolist() == [3, 4, 5]
    assert fast.state_fraction.dims == ("run", "time", "state")
    assert np.allclose(fast.state_fraction.sum("state"), 1.0)
    assert set(np.unique(fast.state_fraction.values * 4)) <= {0.0, 1.0, 2.0, 3.0, 4.0}  # fractions of 4 groups


@pytest.mark.parametrize("rule", RULES)
def test_the_pairwise_game_as_groups_of_two_is_the_pairwise_simulation_bit_for_bit(rule):
    """Algorithm 1 is the special case: the PD as a size-2 custom_group on pairwise groups = two_state_pd."""
    learning = {"alpha": 0.05, "rule": rule, **({"faq_beta": 0.3} if rule == "faq" else {})}
    pairwise = {
        "graph": {"n": 25},
        "learning": learning,
        "run": {"steps": 400, "runs": 2, "record_every": 100},
        "init": {"q_noise": 0.5},
    }
    grouped = {**pairwise, "game": group_config(GAMES["pd_as_group"], 2)["game"]}
    a, b = marldyn.simulate(pairwise, snapshots=True), marldyn.simulate(grouped, snapshots=True)
    assert a.agent_q.equals(b.agent_q)
    assert np.array_equal(a.agent_edge_state.values, b.agent_group_state.values)
    assert a.state_fraction.equals(b.state_fraction)


def test_group_checkpoint_resumes_bit_identically(tmp_path):
    config = {
        "game": {"name": "public_goods"},
        "graph": {"n": 16, "groups": "neighborhood"},
        "learning": {"alpha": 0.05},
        "run": {"steps": 300, "runs": 2, "record_every": 100},
    }
    whole = marldyn.simulate(config)
    marldyn.simulate(config, checkpoint=tmp_path / "c", checkpoint_every=100)
    assert marldyn.resume(tmp_path / "c").policy.equals(whole.policy)


def test_one_step_mean_of_a_group_matches_the_closed_form():
    """One step from Q = 0 (uniform play) in a lone public goods group of n: E[ΔQ(s, a)] by hand vs Monte-Carlo.

    Every member plays C with probability 1/2, so the j cooperating co-players are Binomial(n - 1, 1/2); the
    member's Q(s, a) moves iff it drew a in s (probability 1/2), by α (E[payoff | a] - 0), γ V = 0 at Q = 0.
    """
    n, alpha, runs = 4, 0.5, 4000
    game = public_goods()
    groups = from_lists([list(range(n))], n)
    config = marldyn.parse_config({**group_config(game, n), "init": {"edge_state": 0}, "learning": {"alpha": alpha}})
    problem = make_problem(config, game, marldyn.complete(n), groups=groups)
    changes = np.empty((runs, 2))
    for r in range(runs):
        q = np.zeros((n, 2, 2))
        state = np.zeros(1, dtype=np.int64)
        kernels.run_group_steps(
            q,
            state,
            problem.group_pointer,
            problem.group_member,
            problem.group_size_index,
            problem.payoff,
            problem.cum_transition,
            problem.learners,
            np.zeros(n, np.int64),
            np.uint64(r + 1),
            0,
            1,
        )
        changes[r] = q[0, 0]  # member 0, state s1
    j = np.arange(n)
    weights = np.array([1, 3, 3, 1]) / 8
    expected = 0.5 * alpha * np.array([weights @ game.payoff(n)[0, a, j, 0] for a in range(2)])  # s1 stays s1 or not:
    # the public goods reward does not depend on the next state
    error = changes.std(axis=0) / np.sqrt(runs)
    assert np.all(np.abs(changes.mean(axis=0) - expected) < 5 * error)


# ----------------------------------------------------------------------------------------------
# rewards that depend on the next state, in pairwise games too
# ----------------------------------------------------------------------------------------------
def _next_state_game(seed: int = 2):
    rng = np.random.default_rng(seed)
    raw = rng.dirichlet(np.ones(3), size=(3, 2, 2))
    return marldyn.Game(rng.normal(size=(3, 2, 2, 3)), 0.5 * (raw + raw.transpose(0, 2, 1, 3)), name="ns")


@pytest.mark.parametrize("rule", RULES)
def test_pairwise_next_state_rewards_serial_threaded_and_reference_agree(rule):
    from helpers import learners_of, one_type

    game, graph = _next_state_game(), GRAPHS["barabasi_albert30"]
    rng = np.random.default_rng(0)
    q0 = rng.normal(size=(graph.n_agents, 3, 2))
    state0 = rng.integers(0, 3, size=graph.n_edges)
    args = (
        graph.edges,
        game.payoff,
        game.cumulative_transition(),
        learners_of(game, 0.2, 1.0, 0.8, rule),
        one_type(graph),
        np.uint64(5),
    )
    q_ref, state_ref = q0.copy(), state0.copy()
    for t in range(20):
        q_ref, state_ref = reference.step(q_ref, state_ref, *args, t)
    for run in (
        lambda q, s: kernels.run_steps(q, s, *args, 0, 20),
        lambda q, s: kernels.run_steps_parallel(q, s, *args, 0, 20, *kernels.incidence(graph.edges, graph.n_agents)),
    ):
        q, state = q0.copy(), state0.copy()
        run(q, state)
        assert np.array_equal(q, q_ref) and np.array_equal(state, state_ref)


def test_a_next_state_reward_that_ignores_the_next_state_is_the_plain_game():
    pd = two_state_pd()
    broadcast = marldyn.Game(np.repeat(pd.payoff[..., None], 2, axis=-1), pd.transition)
    assert broadcast.next_state_payoff and not pd.next_state_payoff
    base = {"graph": {"n": 16}, "learning": {"alpha": 0.05}, "run": {"steps": 200, "runs": 2, "record_every": 100}}
    plain = marldyn.simulate(base)
    extended = marldyn.simulate(
        {**base, "game": {"name": "custom", "payoff": broadcast.payoff.tolist(), "transition": pd.transition.tolist()}}
    )
    assert plain.q.equals(extended.q)


def test_pairwise_next_state_rewards_as_groups_of_two_are_the_same_game():
    """The simulation bit for bit, the point mass to 1e-12: next-state rewards need no special case."""
    game = _next_state_game()
    two_actions = marldyn.Game(game.payoff, game.transition)
    group = as_group_game(two_actions)
    base = {"graph": {"n": 16}, "learning": {"alpha": 0.05}, "run": {"steps": 300, "runs": 2, "record_every": 100}}
    pairwise = {
        **base,
        "game": {"name": "custom", "payoff": game.payoff.tolist(), "transition": game.transition.tolist()},
    }
    grouped = {**base, "game": group_config(group, 16)["game"]}
    assert marldyn.simulate(pairwise).q.equals(marldyn.simulate(grouped).q)
    assert np.allclose(
        marldyn.predict(pairwise, "full-discrete").q, marldyn.predict(grouped, "full-discrete").q, rtol=0, atol=1e-12
    )


def test_bad_next_state_payoff_and_refusals_are_one_line():
    pd = two_state_pd()
    with pytest.raises(marldyn.ConfigError, match=r"or \(state, action, action, state\) for a reward that depends"):
        marldyn.Game(np.zeros((2, 2, 2, 3)), pd.transition)
    game = _next_state_game()
    config = {
        "game": {"name": "custom", "payoff": game.payoff.tolist(), "transition": game.transition.tolist()},
        "graph": {"n": 16},
    }
    for method in ("lna", "closure"):
        with pytest.raises(marldyn.ConfigError, match=rf"method '{method}' takes rewards U\(s, a, b\) only"):
            marldyn.predict(config, method)
