"""The theory of group games (issue 14): the outcome distribution, μ and Σ against Monte-Carlo of single steps
of the simulator, the pairwise model as the special case, and the point mass against simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import marldyn
from marldyn.agents import Learners
from marldyn.errors import ConfigError
from marldyn.games import two_state_pd
from marldyn.group_games import as_group_game, custom_group, ecological_public_good, public_goods
from marldyn.groups import from_lists
from marldyn.learning import RULES
from marldyn.simulation import kernels
from marldyn.theory import Particles
from marldyn.theory.homogeneous import solve_full, solve_full_discrete, solve_reduced
from marldyn.theory.moments import diffusion, drift, outcome_distribution

RNG = np.random.default_rng(11)
GAMES = {
    "public_goods": public_goods(),
    "ecological": ecological_public_good(collapse=0.6, recovery=0.3),
    "random3": custom_group(RNG.normal(size=(3, 2, 3, 3)), RNG.dirichlet(np.ones(3), size=(3, 4)), name="random3"),
}


@pytest.mark.parametrize("n", [2, 3, 7, 40])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_outcome_distribution_is_the_binomial_of_the_co_players(n, p):
    out = outcome_distribution([[p, 1.0 - p]], group_size=n)
    assert np.allclose(out[0], stats.binom.pmf(np.arange(n), n - 1, p), rtol=1e-12, atol=1e-300)
    assert np.array_equal(outcome_distribution([[p, 1.0 - p]]), [[p, 1.0 - p]])  # pairwise: the neighbour's action


def _one_step_samples(game, n, groups_per_agent, q, neighbor_policy, state_distribution, rule, samples, seed):
    """ΔQ of a focal agent in ``groups_per_agent`` disjoint groups of ``n`` after one simulator step, many times.

    ``samples`` independent copies of the focal agent and its groups in one population, stepped once. The
    co-players are committed agents playing ``neighbor_policy`` (so their actions are i.i.d. X̃, as the theory
    assumes) and every group's state is drawn from ``state_distribution``: the exact setting of μ and Σ.
    """
    block = 1 + groups_per_agent * (n - 1)  # a focal agent and its co-players
    members = [
        [c * block, *range(c * block + 1 + g * (n - 1), c * block + 1 + (g + 1) * (n - 1))]
        for c in range(samples)
        for g in range(groups_per_agent)
    ]
    groups = from_lists(members, samples * block)
    payoff, cum = game.tables(groups.distinct_sizes)
    learning = dict(alpha=0.1, beta=1.5, gamma=0.7, rule=rule, **({"faq_beta": 0.3} if rule == "faq" else {}))
    shape_game = {
        "name": "custom_group",
        "payoff": np.zeros((game.n_states, 2, 2)).tolist(),
        "transition": np.full((game.n_states, 3, game.n_states), 1.0 / game.n_states).tolist(),
    }
    focal = np.arange(samples) * block
    co_players = np.setdiff1d(np.arange(groups.n_agents), focal)
    config = marldyn.parse_config(
        {
            "game": shape_game,
            "graph": {"kind": "complete", "n": groups.n_agents},
            "learning": learning,
            "agent_types": [
                {"name": "co-players", "agents": co_players.tolist(), "fixed_policy": neighbor_policy.tolist()}
            ],
        }
    )
    learners = Learners.from_config(config, game, groups.n_agents)
    agent_type = np.full(groups.n_agents, learners.names.index("co-players"), dtype=np.int64)
    agent_type[focal] = learners.names.index("default")
    rng = np.random.default_rng(seed)
    table = np.zeros((groups.n_agents,) + q.shape)
    table[focal] = q
    state = rng.choice(game.n_states, size=groups.n_groups, p=state_distribution).astype(np.int64)
    kernels.run_group_steps(
        table,
        state,
        groups.pointer,
        groups.member,
        groups.size_index(),
        payoff,
        cum,
        learners,
        agent_type,
        np.uint64(rng.integers(2**63)),
        0,
        1,
    )
    return (table[focal] - q).reshape(samples, -1)


@pytest.mark.parametrize(
    "game_name, rule",
    [("public_goods", rule) for rule in RULES]  # every rule; every game with a fixed and a sampled bootstrap value
    + [(game, rule) for game in ("ecological", "random3") for rule in ("q_learning", "sarsa")],
)
def test_mu_and_sigma_of_group_games_match_single_steps(game_name, rule):
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    game = GAMES[game_name]
    n = game.size or 4
    groups_per_agent = 3
    q = rng.normal(size=(game.n_states, 2))
    neighbor_policy = rng.dirichlet([2.0, 2.0], size=game.n_states)
    state_distribution = rng.dirichlet(np.ones(game.n_states))
    samples = 20_000
    changes = _one_step_samples(
        game, n, groups_per_agent, q, neighbor_policy, state_distribution, rule, samples, seed=5
    )
    keywords = dict(alpha=0.1, beta=1.5, gamma=0.7, rule=rule, faq_beta=0.3 if rule == "faq" else None)
    sized = game.sized(n)
    mu = drift(q, neighbor_policy, state_distribution, groups_per_agent, sized, **keywords).ravel()
    sigma = diffusion(q, neighbor_policy, state_distribution, groups_per_agent, sized, **keywords)
    mean_error = changes.std(axis=0) / np.sqrt(samples)
    assert np.all(np.abs(changes.mean(axis=0) - mu) <= 5 * mean_error + 1e-12)
    centred = changes - mu
    products = centred[:, :, None] * centred[:, None, :]
    covariance = products.mean(axis=0)
    covariance_error = products.std(axis=0) / np.sqrt(samples)
    # Products of rare events (a state few groups are in, a rare next state) have few non-zero samples, so their
    # sample SE is itself noisy; the floor of 0.1 % of the largest entry covers that (the formula is exact to
    # 1e-13 against enumeration below: this test is that the simulator's step is the theory's model).
    floor = 1e-3 * np.abs(sigma).max()
    assert np.all(np.abs(covariance - sigma) <= 5 * covariance_error + floor)


def test_the_pairwise_game_as_groups_of_two_gives_the_pairwise_theory():
    """μ and Σ to 1e-12, and the point-mass trajectories (tight tolerances) to 1e-12 relative, of the PD as a
    size-2 group game and of the pairwise PD (the sums run in another order, so the adaptive integrators see
    last-bit differences: measured 1e-14 reduced, 3e-12 full with LSODA, 1e-14 full-discrete)."""
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    pd = two_state_pd()
    sized = as_group_game(pd).sized(2)
    q = rng.normal(size=(5, 2, 2))
    neighbor_policy = rng.dirichlet([1.0, 1.0], size=(5, 2))
    p = rng.dirichlet([1.0, 1.0], size=5)
    for rule in RULES:
        keywords = dict(alpha=0.05, beta=1.0, gamma=0.8, rule=rule, faq_beta=0.3 if rule == "faq" else None)
        for function in (drift, diffusion):
            pair = function(q, neighbor_policy, p, 4, pd, **keywords)
            group = function(q, neighbor_policy, p, 4, sized, **keywords)
            assert np.allclose(pair, group, rtol=0, atol=1e-12)
    q0 = [[0.5, 0.0], [0.0, 0.5]]
    parameters = dict(degree=4, alpha=0.01, beta=1.0, gamma=0.8)
    for solver, tight in ((solve_reduced, True), (solve_full, True), (solve_full_discrete, False)):
        options = dict(rtol=1e-13, atol=1e-14) if tight else {}
        pair = solver(q0, pd, [0, 500, 2000], **parameters, **options)
        group = solver(q0, sized, [0, 500, 2000], **parameters, **options)
        assert np.allclose(pair.q, group.q, rtol=1e-11, atol=1e-12)
        assert np.allclose(pair.state_fraction, group.state_fraction, rtol=1e-11, atol=1e-12)


def test_point_mass_of_the_public_goods_game_matches_simulation():
    """Neighbourhood groups on a lattice of 400 (every agent in 5 groups of 5): the reduced point mass against
    the simulation's run mean, within 5 standard errors of it plus the point mass's O(α) bias (0.005, measured:
    0.001-0.002 at α = 0.01)."""
    config = {
        "game": {"name": "public_goods"},
        "graph": {"n": 400, "groups": "neighborhood"},
        "learning": {"alpha": 0.01},
        "run": {"steps": 6000, "runs": 4, "record_every": 2000},
    }
    simulation = marldyn.simulate(config)
    for method in ("reduced", "full", "full-discrete"):
        theory = marldyn.predict(config, method)
        assert theory.attrs["group_size"] == 5 and theory.attrs["groups_per_agent"] == "[5]"
        runs = simulation.policy.sizes["run"]
        error = simulation.policy.std("run") / np.sqrt(runs)
        gap = np.abs(simulation.policy.mean("run") - theory.policy)
        assert bool((gap <= 5 * error + 0.005).all()), gap.max().item()
        fraction_error = simulation.state_fraction.std("run") / np.sqrt(runs)
        fraction_gap = np.abs(simulation.state_fraction.mean("run") - theory.state_fraction).isel(time=slice(1, None))
        assert bool((fraction_gap <= 5 * fraction_error + 0.01).all())


@pytest.mark.parametrize(
    "data, method, match",
    [
        ({"graph": {"n": 16, "groups": "neighborhood"}}, "lna", r"does not take group games yet"),
        (
            {"graph": {"kind": "barabasi_albert", "n": 30, "m": 2, "groups": "neighborhood"}},
            "reduced",
            r"theory needs groups of one size",
        ),
    ],
)
def test_group_theory_refusals_are_one_line(data, method, match):
    config = {"game": {"name": "public_goods"}, **data}
    with pytest.raises(ConfigError, match=match):
        marldyn.predict(config, method)


def test_groups_learn_to_avoid_collapse_only_when_they_care_for_the_future():
    """The ecological public good with collapse = 1 in neighbourhood groups of 5: the point mass's groups stay
    degraded at γ = 0.9 and learn to keep the prosperous state at γ = 0.95 (docs/group_games.md)."""
    shares = {}
    for gamma in (0.9, 0.95):
        config = {
            "game": {"name": "ecological_public_good", "collapse": 1.0},
            "graph": {"n": 100, "groups": "neighborhood"},
            "learning": {"alpha": 0.01, "gamma": gamma},
            "run": {"steps": 100_000, "record_every": 100_000},
        }
        shares[gamma] = float(marldyn.predict(config, "reduced").state_fraction.isel(time=-1, state=0))
    assert shares[0.9] < 0.05 and shares[0.95] > 0.99


def test_public_goods_cooperation_needs_a_factor_above_the_group_size():
    """Cooperation in s1 of the public goods game (groups of 5, γ = 0.95): mixed (< 0.5) at r1/n = 0.6, full at
    r1/n = 1.2, where the groups also coordinate on defection in s2 (all must cooperate to leave it)."""
    policies = {}
    for factor in (3.0, 6.0):
        config = {
            "game": {"name": "public_goods", "r": [factor, 1.5]},
            "graph": {"n": 100, "groups": "neighborhood"},
            "learning": {"alpha": 0.01, "gamma": 0.95},
            "run": {"steps": 30_000, "record_every": 30_000},
        }
        policies[factor] = marldyn.predict(config, "reduced").policy.isel(time=-1).sel(action=0).values
    assert policies[3.0][0] < 0.5 and policies[6.0][0] > 0.99 and policies[6.0][1] < 0.01


def test_group_marginals_of_identical_particles_are_the_point_mass():
    """One x̄ for identical particles: the co-players play the focal policy, the group law is the point mass's."""
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    from marldyn.theory.homogeneous import stationary_state_fraction
    from marldyn.theory.particles import group_marginals

    sized = GAMES["ecological"].sized(4)
    policy = np.tile(rng.dirichlet([1.0, 1.0], size=2), (3, 1, 1))
    _, transition = sized.arrays()
    weight = np.full(3, 1 / 3)
    distribution, outcome = group_marginals(policy, weight, transition, np.full(2, 0.5), 4)
    assert np.allclose(distribution, stationary_state_fraction(policy[0], sized, np.full(2, 0.5)), atol=1e-12)
    assert np.allclose(outcome[0], outcome_distribution(policy[0], 4), atol=1e-15)


def test_group_particles_and_sde_follow_the_simulation():
    """Particles without initial noise reproduce the point mass; the SDE ensemble keeps the spread across agents
    (q_std within 30 % of the simulation's on the public goods game) and the mean within 5 SE + 0.005."""
    from marldyn.theory import SDE

    config = {
        "game": {"name": "public_goods"},
        "graph": {"n": 100, "groups": "neighborhood"},
        "learning": {"alpha": 0.01},
        "run": {"steps": 6000, "runs": 4, "record_every": 2000},
    }
    reduced = marldyn.predict(config, "reduced")
    particles = marldyn.predict(config, Particles(n=8))
    assert np.allclose(particles.policy, reduced.policy, atol=1e-4)
    simulation = marldyn.simulate(config)
    sde = marldyn.predict(config, SDE(dt=10.0))
    error = simulation.policy.std("run") / 2.0
    assert bool((np.abs(sde.policy.mean("run") - simulation.policy.mean("run")) <= 5 * error + 0.005).all())
    ratio = (sde.q_std.mean("run") / simulation.q_std.mean("run")).isel(time=-1).values
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio


def _enumerated_moments(game, n, groups, q, neighbor_policy, state_distribution, rule, alpha, beta, gamma, faq_beta):
    """Mean and covariance of one step's ΔQ of a focal agent in ``groups`` groups of ``n``, by enumerating every
    own action profile, group state, co-player action and next state (the model μ and Σ describe)."""
    import itertools

    from marldyn.policy import boltzmann

    n_states = q.shape[0]
    own = boltzmann(q, beta)
    payoff, transition = game.payoff(n), game.transition(n)
    first, second = np.zeros(q.size), np.zeros((q.size, q.size))
    for actions in itertools.product(range(2), repeat=n_states):  # the focal agent's draw in every state
        p_actions = np.prod([own[s, actions[s]] for s in range(n_states)])
        if rule == "sarsa":
            value = np.array([q[z, actions[z]] for z in range(n_states)])
        elif rule == "expected_sarsa":
            value = (own * q).sum(axis=1)
        else:
            value = q.max(axis=1)
        for states in itertools.product(range(n_states), repeat=groups):
            p_states = np.prod([state_distribution[s] for s in states])
            per_group = []  # [(probability, target)] of every group
            for s in states:
                outcomes = []
                for co in itertools.product(range(2), repeat=n - 1):
                    p_co = np.prod([neighbor_policy[s, b] for b in co])
                    j = sum(b == 0 for b in co)
                    m = j + (actions[s] == 0)
                    for z in range(n_states):
                        target = payoff[s, actions[s], j, z] + gamma * value[z]
                        outcomes.append((p_co * transition[s, m, z], target))
                per_group.append(outcomes)
            for combination in itertools.product(*per_group):
                weight = p_actions * p_states * np.prod([w for w, _ in combination])
                change = np.zeros((n_states, 2))
                for s in set(states):
                    targets = [t for (w, t), state in zip(combination, states, strict=True) if state == s]
                    a = actions[s]
                    scale = min(faq_beta / own[s, a], 1.0) if rule == "faq" else 1.0
                    change[s, a] = alpha * scale * (np.mean(targets) - q[s, a])
                first += weight * change.ravel()
                second += weight * np.outer(change.ravel(), change.ravel())
    return first, second - np.outer(first, first)


@pytest.mark.parametrize(
    "game_name, rule",
    [(game, rule) for game in ("ecological", "public_goods") for rule in RULES]
    + [("random3", rule) for rule in ("q_learning", "sarsa")],
)
def test_mu_and_sigma_of_group_games_equal_exact_enumeration(game_name, rule):
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    game = GAMES[game_name]
    n_states = game.n_states
    q = rng.normal(size=(n_states, 2))
    neighbor_policy = rng.dirichlet([2.0, 2.0], size=n_states)
    state_distribution = rng.dirichlet(np.ones(n_states))
    parameters = dict(alpha=0.1, beta=1.5, gamma=0.7)
    faq_beta = 0.3
    mean, covariance = _enumerated_moments(
        game, 3, 2, q, neighbor_policy, state_distribution, rule, **parameters, faq_beta=faq_beta
    )
    keywords = dict(parameters, rule=rule, faq_beta=faq_beta if rule == "faq" else None)
    sized = game.sized(3)
    assert np.allclose(drift(q, neighbor_policy, state_distribution, 2, sized, **keywords).ravel(), mean, atol=1e-13)
    assert np.allclose(diffusion(q, neighbor_policy, state_distribution, 2, sized, **keywords), covariance, atol=1e-13)


def test_success_counts_are_the_enumerated_poisson_binomial():
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    import itertools

    from marldyn.theory.one_step import success_count_into

    probability = rng.uniform(size=4)
    out = np.empty(5)
    success_count_into(probability, 4, out)
    exact = np.zeros(5)
    for draws in itertools.product((0, 1), repeat=4):
        exact[sum(draws)] += np.prod([p if d else 1 - p for p, d in zip(probability, draws, strict=True)])
    assert np.allclose(out, exact, atol=1e-15)


def test_group_chains_of_equal_members_are_the_point_mass_chain():
    rng = np.random.default_rng(7)  # fixed draws, whatever the order the tests run in
    from marldyn.theory.markov import edge_transition_matrix, group_chains_into

    game = GAMES["ecological"]
    own = rng.dirichlet([1.0, 1.0], size=2)
    policy = np.tile(own, (4, 1, 1))
    state, chain = np.empty((1, 2)), np.empty((1, 2, 2))
    group_chains_into(
        policy, np.array([0, 4]), np.arange(4), game.transition(4), np.full((1, 2), 0.5), True, state, chain
    )
    sized = game.sized(4)
    expected = edge_transition_matrix(own, outcome_distribution(own, 4), sized.transition)
    assert np.allclose(chain[0], expected, atol=1e-14)


def test_graph_sde_of_the_pd_as_groups_of_two_is_the_pairwise_graph_sde():
    """The same equations in outcomes: one co-player's Bernoulli count is its action; the same noise."""
    from marldyn.theory import GraphSDE

    pairwise = {
        "graph": {"n": 16},
        "learning": {"alpha": 0.05},
        "init": {"q_noise": 0.3},
        "run": {"steps": 200, "runs": 2, "record_every": 100},
    }
    game = as_group_game(two_state_pd())
    grouped = {
        **pairwise,
        "game": {
            "name": "custom_group",
            "payoff": game.parameters["payoff"].tolist(),
            "transition": game.parameters["transition"].tolist(),
        },
    }
    a = marldyn.predict(pairwise, GraphSDE(dt=1.0))
    b = marldyn.predict(grouped, GraphSDE(dt=1.0))
    assert np.allclose(a.q, b.q, atol=1e-9) and np.allclose(a.state_fraction, b.state_fraction, atol=1e-9)


def test_graph_sde_of_the_public_goods_game_keeps_the_spread():
    """One SDE per agent on the lattice's neighbourhood groups: the mean within 5 SE + 0.005 of the simulation and
    the spread of Q across agents within 30 % of it."""
    from marldyn.theory import GraphSDE

    config = {
        "game": {"name": "public_goods"},
        "graph": {"n": 100, "groups": "neighborhood"},
        "learning": {"alpha": 0.01},
        "run": {"steps": 6000, "runs": 4, "record_every": 2000},
    }
    simulation = marldyn.simulate(config)
    sde = marldyn.predict(config, GraphSDE(dt=10.0))
    error = simulation.policy.std("run") / 2.0
    assert bool((np.abs(sde.policy.mean("run") - simulation.policy.mean("run")) <= 5 * error + 0.005).all())
    ratio = (sde.q_std.mean("run") / simulation.q_std.mean("run")).isel(time=-1).values
    assert np.all((ratio > 0.7) & (ratio < 1.3)), ratio


def test_group_particles_on_the_full_time_scale():
    """Identical particles with dynamic group laws are the full-discrete point mass; types take the class point
    masses on the full time scale (the fast type learns faster)."""
    config = {
        "game": {"name": "public_goods"},
        "graph": {"n": 100, "groups": "neighborhood"},
        "learning": {"alpha": 0.01},
        "run": {"steps": 3000, "record_every": 1000},
    }
    point_mass = marldyn.predict(config, "full-discrete")
    particles = marldyn.predict(config, Particles(n=4, timescale="full"))
    assert np.allclose(particles.q, point_mass.q, atol=1e-12)
    assert np.allclose(particles.state_fraction, point_mass.state_fraction, atol=1e-12)
    typed = {**config, "agent_types": [{"name": "fast", "fraction": 0.5, "alpha": 0.05}]}
    classes = marldyn.predict(typed, "full-discrete")
    by_type = classes.q_by_type.isel(time=-1)
    assert float(abs(by_type.sel(agent_type="fast") - by_type.isel(agent_type=0)).max()) > 0.01
