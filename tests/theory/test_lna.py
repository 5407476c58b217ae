"""Linear-noise approximation (theory/lna.py): fixed point, Jacobian, noise blocks, Lyapunov routes.

- Q* zeroes δ̄ and ``homogeneous.stationary_drift``.
- The analytic J_self, J_nb equal finite differences of the graph drift (which also moves the pair
  distributions and the neighbour weights: their terms vanish at Q*).
- Every block of the one-step noise covariance D (own, shared edge, shared neighbour, triangle) equals the
  covariance of single simulator steps (numba kernel, all agents at Q*, edge states i.i.d. from p*) within
  5 standard errors, on a 4x4 lattice and on an irregular graph with a triangle.
- The LNA equals a brute-force (Smith doubling) solve of C = A C Aᵀ + D; Fourier and Laplacian routes agree.
"""

from __future__ import annotations

import numpy as np
import pytest

from marldyn.agents import Learners
from marldyn.errors import ConfigError, ConvergenceError
from marldyn.games import Game, two_state_pd
from marldyn.graphs import from_edges, lattice, random_regular
from marldyn.policy import boltzmann, policy_of
from marldyn.theory import lna
from marldyn.theory.graph_sde import graph_moments
from marldyn.theory.homogeneous import stationary_drift
from marldyn.theory.moments import mean_td_error

Z = 5.0
PD = two_state_pd()
PARAMETERS = dict(beta=1.0, gamma=0.8)
RULES = ["q_learning", "expected_sarsa"]


@pytest.fixture(scope="module")
def fixed_points():
    return {rule: lna.fixed_point(np.zeros((2, 2)), PD, rule=rule, **PARAMETERS) for rule in RULES}


def test_fixed_point_zeroes_the_mean_td_error_and_the_reduced_drift(fixed_points):
    for rule, q_star in fixed_points.items():
        policy = boltzmann(q_star, 1.0)
        assert np.max(np.abs(mean_td_error(q_star, policy, PD, rule=rule, **PARAMETERS))) < 1e-12
        for degree in (1, 4, 9):
            drift = stationary_drift(q_star, PD, degree=degree, alpha=1e-3, rule=rule, **PARAMETERS)
            assert np.max(np.abs(drift)) < 1e-14
        assert np.all(policy[:, 0] < 0.5)  # from Q = 0: the mixed point, cooperation below one half
    start = np.array([[0.5, 0.0], [0.0, 0.5]])  # the Figure 3 table finds the same point
    np.testing.assert_allclose(lna.fixed_point(start, PD, **PARAMETERS), fixed_points["q_learning"], atol=1e-10)


@pytest.mark.parametrize("degree", [3, 4])
@pytest.mark.parametrize("rule", RULES)
def test_jacobian_blocks_equal_finite_differences_of_the_graph_drift(fixed_points, rule, degree):
    q_star, alpha = fixed_points[rule], 1e-3
    numeric = star_jacobians(q_star, degree, Learners.uniform(2, 2, alpha, 1.0, 0.8, rule))
    j_self, j_nb = lna.jacobian_blocks(q_star, PD, degree, alpha=alpha, rule=rule, **PARAMETERS)
    np.testing.assert_allclose(j_self, numeric[0], atol=1e-9 * np.abs(j_self).max())
    np.testing.assert_allclose(j_nb, numeric[1], atol=1e-9 * np.abs(j_nb).max())
    assert np.abs(j_nb).max() > 1e-3 * np.abs(j_self).max()  # the coupling is there


def star_jacobians(q_star, degree, learners, step=1e-5):
    """∂μ_centre/∂Q_centre and ∂μ_centre/∂Q_leaf by central differences of the graph drift on a star of ``degree``
    leaves, every agent at Q* (the drift also moves the pair distributions and the neighbour weights)."""
    star = from_edges([(0, leaf) for leaf in range(1, degree + 1)])
    start = np.broadcast_to(q_star, (degree + 1, 2, 2)).copy()
    numeric = {0: np.zeros((4, 4)), 1: np.zeros((4, 4))}
    for agent, matrix in numeric.items():
        for m in range(4):
            up, down = start.copy(), start.copy()
            up[agent].flat[m] += step
            down[agent].flat[m] -= step
            rates = [graph_moments(q, star, PD, learners=learners)["mu"][0].ravel() for q in (up, down)]
            matrix[:, m] = (rates[0] - rates[1]) / (2 * step)
    return numeric


# ----------------------------------------------------------------------------------------------
# the noise blocks against single simulator steps
# ----------------------------------------------------------------------------------------------
def single_steps(q_star, graph, alpha, rule, copies, repeats, seed, **learner):
    """ΔQ of every agent (sample, agent * K * M) in ``copies * repeats`` independent single kernel steps with
    all agents at Q* and edge states drawn i.i.d. from p* for every sample (``learner``: policy, epsilon,
    faq_beta of the one type)."""
    from marldyn.simulation.kernels import run_steps
    from marldyn.theory.markov import edge_transition_matrix, stationary_distribution

    n = graph.n_agents
    edges = (np.asarray(graph.edges)[None] + n * np.arange(copies)[:, None, None]).reshape(-1, 2)
    policy = policy_of(q_star, learner.get("policy", "boltzmann"), beta=1.0, epsilon=learner.get("epsilon"))
    distribution = stationary_distribution(edge_transition_matrix(policy, policy, PD.transition))
    rng = np.random.default_rng(seed)
    payoff, cumulative = np.array(PD.payoff), PD.cumulative_transition()
    samples = []
    for repeat in range(repeats):
        q = np.broadcast_to(q_star, (n * copies, 2, 2)).copy()
        edge_state = rng.choice(2, size=edges.shape[0], p=distribution).astype(np.int64)
        learners = Learners.uniform(2, 2, alpha, 1.0, 0.8, rule, **learner)
        run_steps(
            q,
            edge_state,
            edges,
            payoff,
            cumulative,
            learners,
            np.zeros(n * copies, np.int64),
            np.uint64(seed),
            repeat,
            1,
        )
        samples.append((q - q_star).reshape(copies, n * 4))
    return np.concatenate(samples)


GRAPHS = {
    "lattice4x4": lattice(16),  # triangle-free; distance-2 pairs with one and with two common neighbours
    "irregular": from_edges([(0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (1, 4), (4, 5)]),  # triangle 0-1-2, k = 1..3
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_every_noise_block_equals_the_covariance_of_single_simulator_steps(fixed_points, name):
    graph = GRAPHS[name]
    q_star, alpha = fixed_points["q_learning"], 0.5
    samples = single_steps(q_star, graph, alpha, "q_learning", copies=4000, repeats=50, seed=3)
    count = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    estimate = centred.T @ centred / count
    spread = np.sqrt(np.maximum((centred**2).T @ (centred**2) / count - estimate**2, 0.0))
    _, noise = lna.dense_matrices(q_star, PD, graph, alpha=alpha, **PARAMETERS)
    assert np.all(np.abs(estimate - noise) <= Z * spread / np.sqrt(count) + 1e-12)
    n = graph.n_agents
    blocks = noise.reshape(n, 4, n, 4)
    adjacency = np.zeros((n, n), dtype=bool)
    adjacency[tuple(np.asarray(graph.edges).T)] = True
    adjacency |= adjacency.T
    assert np.abs(blocks[adjacency.nonzero()[0], :, adjacency.nonzero()[1]]).max() > 0.05 * np.abs(noise).max()
    np.testing.assert_allclose(np.abs(samples.mean(axis=0)), 0.0, atol=Z * samples.std(axis=0).max() / np.sqrt(count))


# ----------------------------------------------------------------------------------------------
# the Lyapunov solves
# ----------------------------------------------------------------------------------------------
def smith(matrix, noise, iterations=60):
    """C = Σ_t A^t D (A^t)ᵀ by doubling: C ← C + A C Aᵀ, A ← A²."""
    covariance, power = noise.copy(), matrix.copy()
    for _ in range(iterations):
        covariance = covariance + power @ covariance @ power.T
        power = power @ power
        if np.abs(power).max() < 1e-18:
            break
    return covariance


@pytest.mark.parametrize("name", ["lattice4x4", "irregular"])
def test_lna_equals_a_brute_force_lyapunov_solve(fixed_points, name):
    graph = GRAPHS[name]
    q_star, alpha = fixed_points["q_learning"], 0.01
    result = lna.solve_lna(q_star, PD, graph, alpha=alpha, **PARAMETERS)
    assert result.route == ("fourier" if name == "lattice4x4" else "direct")
    matrix, noise = lna.dense_matrices(q_star, PD, graph, alpha=alpha, **PARAMETERS)
    full = smith(matrix, noise).reshape(graph.n_agents, 4, graph.n_agents, 4)
    n = graph.n_agents
    mean = full.sum(axis=(0, 2)) / n**2
    within = np.einsum("iaib->ab", full) / n - mean
    np.testing.assert_allclose(result.mean_covariance, mean, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(result.within_covariance, within, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(result.q_std.ravel() ** 2, np.diag(within), rtol=1e-8)


def test_fourier_and_laplacian_routes_agree_on_the_lattice(fixed_points):
    for rule, q_star in fixed_points.items():
        kwargs = dict(alpha=1e-3, rule=rule, **PARAMETERS)
        fourier = lna.solve_lna(q_star, PD, lattice(100), route="fourier", **kwargs)
        laplacian = lna.solve_lna(q_star, PD, lattice(100), route="laplacian", **kwargs)
        np.testing.assert_allclose(fourier.within_covariance, laplacian.within_covariance, rtol=1e-9, atol=1e-16)
        np.testing.assert_allclose(fourier.mean_covariance, laplacian.mean_covariance, rtol=1e-9, atol=1e-16)
        np.testing.assert_allclose(fourier.policy_std, laplacian.policy_std, rtol=1e-9)


def test_laplacian_route_equals_the_direct_solve_on_a_random_regular_graph(fixed_points):
    graph = random_regular(40, 3, seed=8)
    adjacency = np.zeros((40, 40))
    adjacency[tuple(np.asarray(graph.edges).T)] = 1
    adjacency += adjacency.T
    assert np.trace(adjacency @ adjacency @ adjacency) == 0  # triangle-free (seed chosen so)
    q_star = fixed_points["q_learning"]
    kwargs = dict(alpha=3e-3, **PARAMETERS)
    modal = lna.solve_lna(q_star, PD, graph, route="laplacian", **kwargs)
    direct = lna.solve_lna(q_star, PD, graph, route="direct", **kwargs)
    np.testing.assert_allclose(modal.within_covariance, direct.within_covariance, rtol=1e-8, atol=1e-16)
    np.testing.assert_allclose(modal.mean_covariance, direct.mean_covariance, rtol=1e-8, atol=1e-16)


def test_the_discrete_solution_approaches_the_continuous_one_for_small_alpha(fixed_points):
    """C = A C Aᵀ + D with A = I + J differs from J C + C Jᵀ + D = 0 by the J C Jᵀ term, O(α) relative."""
    from scipy.linalg import solve_continuous_lyapunov

    q_star = fixed_points["q_learning"]
    graph = GRAPHS["irregular"]
    for alpha in (1e-2, 1e-3):
        matrix, noise = lna.dense_matrices(q_star, PD, graph, alpha=alpha, **PARAMETERS)
        discrete = lna.solve_lna(q_star, PD, graph, alpha=alpha, **PARAMETERS).within_covariance
        continuous = solve_continuous_lyapunov(matrix - np.eye(matrix.shape[0]), -noise)
        n = graph.n_agents
        blocks = continuous.reshape(n, 4, n, 4)
        mean = blocks.sum(axis=(0, 2)) / n**2
        within = np.einsum("iaib->ab", blocks) / n - mean
        relative = np.abs(np.diag(discrete) / np.diag(within) - 1).max()
        assert relative < 2 * alpha


def test_independent_ou_has_no_correlations_between_agents(fixed_points):
    q_star = fixed_points["q_learning"]
    result = lna.solve_lna(q_star, PD, lattice(100), alpha=1e-3, **PARAMETERS)
    independent = result.independent
    np.testing.assert_allclose(independent["mean_covariance"] * 100, independent["within_covariance"] * 100 / 99)
    assert np.all(result.q_mean_std > 2 * independent["q_mean_std"])  # correlations widen the mean's spread


def test_entry_point_returns_constant_fluctuations():
    import marldyn
    from marldyn.theory.entry import theory

    config = marldyn.load_config("examples/pd_lattice.toml").with_overrides(steps=1000, runs=2, record_every=500)
    dataset = theory(config, "lna")
    for name in ("q", "policy", "q_std", "q_mean_std", "policy_std", "state_fraction"):
        assert name in dataset
        assert np.all(dataset[name] == dataset[name].isel(time=0))
    assert dataset.attrs["route"] == "fourier"
    assert np.all(dataset["policy"].sel(action=0) < 0.5)


def test_refusals(fixed_points):
    q_star = fixed_points["q_learning"]
    with pytest.raises(ConfigError, match="sarsa"):
        lna.solve_lna(q_star, PD, lattice(16), alpha=1e-3, rule="sarsa", **PARAMETERS)
    with pytest.raises(ConfigError, match="not a fixed point"):
        lna.solve_lna(q_star + 0.1, PD, lattice(16), alpha=1e-3, **PARAMETERS)
    with pytest.raises(ConfigError, match="fourier"):
        lna.solve_lna(q_star, PD, GRAPHS["irregular"], alpha=1e-3, route="fourier", **PARAMETERS)
    with pytest.raises(ConfigError, match="route"):
        lna.solve_lna(q_star, PD, lattice(16), alpha=1e-3, route="magic", **PARAMETERS)


# ----------------------------------------------------------------------------------------------
# other learners (issue 13): FAQ and ε-greedy
# ----------------------------------------------------------------------------------------------
LEARNERS = {
    "faq": dict(rule="faq", faq_beta=0.3),  # c = 0.3 / X < 1 in every entry at Q*
    "greedy": dict(policy="epsilon_greedy", epsilon=0.2),
    "greedy_expected_sarsa": dict(rule="expected_sarsa", policy="epsilon_greedy", epsilon=0.2),
    "greedy_faq": dict(rule="faq", faq_beta=0.3, policy="epsilon_greedy", epsilon=0.2),
}
FIGURE3_TABLE = np.array([[0.5, 0.0], [0.0, 0.5]])


@pytest.fixture(scope="module")
def learner_points():
    return {name: lna.fixed_point(FIGURE3_TABLE, PD, **PARAMETERS, **learner) for name, learner in LEARNERS.items()}


def test_learners_fixed_points_zero_the_drift(learner_points):
    from marldyn.policy import epsilon_greedy

    for name, learner in LEARNERS.items():
        q_star = learner_points[name]
        drift = stationary_drift(q_star, PD, degree=4, alpha=1.0, **PARAMETERS, **learner)
        assert np.max(np.abs(drift)) < 1e-12, name
    # FAQ has Q-learning's fixed points; ε-greedy's from the Figure 3 table: C in s1, D in s2 (exact, a region's)
    np.testing.assert_allclose(learner_points["faq"], lna.fixed_point(FIGURE3_TABLE, PD, **PARAMETERS), atol=1e-10)
    np.testing.assert_allclose(learner_points["greedy_faq"], learner_points["greedy"], atol=1e-12)
    assert epsilon_greedy(learner_points["greedy"], 0.2)[:, 0].tolist() == [0.9, 0.1]


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learners_jacobian_blocks_equal_finite_differences_of_the_graph_drift(learner_points, name):
    learner, q_star, degree, alpha = LEARNERS[name], learner_points[name], 4, 1e-3
    types = Learners.uniform(2, 2, alpha, 1.0, 0.8, learner.get("rule", "q_learning"), **_policy_keys(learner))
    numeric = star_jacobians(q_star, degree, types)
    j_self, j_nb = lna.jacobian_blocks(q_star, PD, degree, alpha=alpha, **PARAMETERS, **learner)
    np.testing.assert_allclose(j_self, numeric[0], atol=1e-9 * np.abs(j_self).max())
    np.testing.assert_allclose(j_nb, numeric[1], atol=1e-9 * np.abs(j_self).max())
    if "policy" in learner:  # a neighbour's ε-greedy policy does not move inside its region
        assert np.abs(j_nb).max() == 0.0
    else:
        assert np.abs(j_nb).max() > 1e-3 * np.abs(j_self).max()


def _policy_keys(learner):
    return {key: value for key, value in learner.items() if key != "rule"}


@pytest.mark.parametrize("name", ["faq", "greedy"])
def test_learners_noise_blocks_equal_the_covariance_of_single_simulator_steps(learner_points, name):
    learner, q_star, graph, alpha = LEARNERS[name], learner_points[name], GRAPHS["irregular"], 0.5
    samples = single_steps(
        q_star,
        graph,
        alpha,
        learner.get("rule", "q_learning"),
        copies=4000,
        repeats=50,
        seed=5,
        **_policy_keys(learner),
    )
    count = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    estimate = centred.T @ centred / count
    spread = np.sqrt(np.maximum((centred**2).T @ (centred**2) / count - estimate**2, 0.0))
    _, noise = lna.dense_matrices(q_star, PD, graph, alpha=alpha, **PARAMETERS, **learner)
    assert np.all(np.abs(estimate - noise) <= Z * spread / np.sqrt(count) + 1e-12)
    assert np.abs(noise).max() > 1e-3


def test_faq_scales_rows_of_the_linear_map_and_the_noise():
    """At a shared Q*, FAQ's J is Q-learning's with row (s, a) times c(s, a), and its D is c D c."""
    q_star = lna.fixed_point(FIGURE3_TABLE, PD, **PARAMETERS)
    scale = np.minimum(0.3 / boltzmann(q_star, 1.0), 1.0).ravel()
    plain = lna.dense_matrices(q_star, PD, GRAPHS["irregular"], alpha=0.01, **PARAMETERS)
    faq = lna.dense_matrices(q_star, PD, GRAPHS["irregular"], alpha=0.01, rule="faq", faq_beta=0.3, **PARAMETERS)
    c = np.tile(scale, GRAPHS["irregular"].n_agents)
    np.testing.assert_allclose(faq[0] - np.eye(c.size), c[:, None] * (plain[0] - np.eye(c.size)), atol=1e-15)
    np.testing.assert_allclose(faq[1], c[:, None] * plain[1] * c[None, :], atol=1e-18)


def test_greedy_lna_has_no_policy_spread_and_refuses_switching_surfaces(learner_points):
    q_star = learner_points["greedy"]
    result = lna.solve_lna(q_star, PD, lattice(100), alpha=1e-4, **PARAMETERS, **LEARNERS["greedy"])
    assert np.all(result.policy_std == 0.0) and np.all(result.q_std > 0.0)
    assert result.attrs["switching_margin"] >= lna.SWITCHING_MARGIN
    # α ten times larger: the spread grows by √10 and the surface in s2 is within three standard deviations
    with pytest.raises(ConfigError, match="switching surface .* standard deviations"):
        lna.solve_lna(q_star, PD, lattice(100), alpha=1e-2, **PARAMETERS, **LEARNERS["greedy"])
    tied = np.array([[1.0, 1.0], [0.0, 0.5]])
    with pytest.raises(ConfigError, match="switching surface"):
        lna.jacobian_blocks(tied, PD, 4, alpha=1e-3, **PARAMETERS, **LEARNERS["greedy"])


def test_greedy_fixed_point_is_refused_where_the_flow_slides():
    """One-state anti-coordination game: a greedy action is answered by the other one, so the point mass slides
    on Q(C) = Q(D) for ever: no regular fixed point, an error rather than a number."""
    game = Game([[[0.0, 1.0], [1.0, 0.0]]], np.ones((1, 2, 2, 1)))
    with pytest.raises(ConvergenceError, match="none of the 0 regular fixed points"):
        lna.fixed_point([[0.2, 0.0]], game, **PARAMETERS, policy="epsilon_greedy", epsilon=0.2)


def test_entry_point_takes_greedy_and_faq():
    import marldyn
    from marldyn.theory.entry import theory

    base = marldyn.load_config("examples/pd_lattice.toml").with_overrides(steps=1000, runs=2, record_every=500)

    def changed(**learning):
        data = base.model_dump(exclude_none=True)
        data["learning"].update(learning)
        return marldyn.parse_config(data)

    dataset = theory(changed(policy="epsilon_greedy", epsilon=0.2, alpha=1e-4), "lna")
    assert dataset.attrs["switching_margin"] >= lna.SWITCHING_MARGIN
    assert np.all(dataset["policy_std"] == 0.0)
    faq = theory(changed(rule="faq", faq_beta=0.3), "lna")
    plain = theory(base, "lna")
    np.testing.assert_allclose(faq["q"], plain["q"], atol=1e-10)
    assert np.all(faq["q_std"] < plain["q_std"])  # c < 1: smaller steps, smaller spread


@pytest.mark.slow
def test_greedy_lna_variance_agrees_with_the_simulation():
    """ε-greedy learners started at the C/C region's Q*: the simulated within-run variance after 3 relaxation
    times equals the LNA's within 4 standard errors (across runs) plus 5 % for the O(α) nonlinearity."""
    import marldyn
    from marldyn.theory.switching import greedy_fixed_points

    q_star = next(q for choice, q in greedy_fixed_points(PD, 0.2, 0.8, "q_learning") if choice.tolist() == [0, 0])
    config = {
        "graph": {"kind": "lattice", "n": 36},
        "learning": {"alpha": 0.005, "policy": "epsilon_greedy", "epsilon": 0.2},
        "init": {"q": q_star.tolist()},
        "run": {"steps": 12_000, "runs": 4, "record_every": 200, "seed": 2},
    }
    predicted = marldyn.predict(config, "lna")
    tau = predicted.attrs["relaxation_time"]
    assert 2000 < tau < 3000 and predicted.attrs["switching_margin"] > 3
    simulation = marldyn.simulate(config, progress=False)
    late = (simulation.q_std.where(simulation.time >= 3 * tau, drop=True) ** 2).mean("time").values.reshape(4, 4)
    mean, error = late.mean(axis=0), late.std(axis=0, ddof=1) / 2.0
    theory = predicted.q_std.isel(time=0).values.ravel() ** 2
    assert np.all(np.abs(mean - theory) <= 4 * error + 0.05 * theory)
    np.testing.assert_allclose(simulation.policy.isel(time=-1).mean("run"), predicted.policy.isel(time=0), atol=0.02)


# ----------------------------------------------------------------------------------------------
# agent types that share the fixed point (different α, faq_beta; q_learning and faq)
# ----------------------------------------------------------------------------------------------
def typed_learners(n_agents):
    import marldyn

    config = marldyn.parse_config(
        {
            "graph": {"n": 16},
            "learning": {"alpha": 1e-3},
            "agent_types": [{"name": "fast", "agents": [0, 3], "alpha": 0.01, "rule": "faq", "faq_beta": 0.3}],
        }
    )
    learners = config.learners(PD, n_agents)
    return learners, learners.assign(n_agents, np.random.SeedSequence(0))


def test_typed_dense_matrix_equals_finite_differences_of_the_graph_drift(fixed_points):
    graph = GRAPHS["irregular"]
    q_star = fixed_points["q_learning"]
    learners, kind = typed_learners(graph.n_agents)
    assert kind.tolist() == [1, 0, 0, 1, 0, 0]
    matrix, _ = lna.dense_matrices(q_star, PD, graph, learners=learners, agent_type=kind)
    start = np.broadcast_to(q_star, (graph.n_agents, 2, 2)).copy()
    step, size = 1e-5, graph.n_agents * 4
    numeric = np.empty((size, size))
    for m in range(size):
        up, down = start.copy(), start.copy()
        up.reshape(-1)[m] += step
        down.reshape(-1)[m] -= step
        rates = [graph_moments(q, graph, PD, learners=learners, agent_type=kind)["mu"].ravel() for q in (up, down)]
        numeric[:, m] = (rates[0] - rates[1]) / (2 * step)
    jacobian = matrix - np.eye(size)
    np.testing.assert_allclose(jacobian, numeric, atol=1e-9 * np.abs(jacobian).max())
    fast, slow = np.abs(jacobian[:4, :4]).max(), np.abs(jacobian[4:8, 4:8]).max()
    assert fast > 3 * slow  # agent 0 learns with α = 0.01 (times its FAQ factor 0.3 / X), agent 1 with 1e-3


def test_typed_noise_equals_the_covariance_of_single_simulator_steps(fixed_points):
    from marldyn.simulation.kernels import run_steps
    from marldyn.theory.markov import edge_transition_matrix, stationary_distribution

    graph, q_star, copies, repeats = GRAPHS["irregular"], fixed_points["q_learning"], 4000, 50
    learners, kind = typed_learners(graph.n_agents)
    learners = type(learners)(**{**learners.__dict__, "alpha": learners.alpha * 50})  # α 0.05 and 0.5
    n = graph.n_agents
    edges = (np.asarray(graph.edges)[None] + n * np.arange(copies)[:, None, None]).reshape(-1, 2)
    policy = boltzmann(q_star, 1.0)
    distribution = stationary_distribution(edge_transition_matrix(policy, policy, PD.transition))
    rng = np.random.default_rng(9)
    payoff, cumulative = np.array(PD.payoff), PD.cumulative_transition()
    samples = []
    for repeat in range(repeats):
        q = np.broadcast_to(q_star, (n * copies, 2, 2)).copy()
        edge_state = rng.choice(2, size=edges.shape[0], p=distribution).astype(np.int64)
        run_steps(q, edge_state, edges, payoff, cumulative, learners, np.tile(kind, copies), np.uint64(9), repeat, 1)
        samples.append((q - q_star).reshape(copies, n * 4))
    samples = np.concatenate(samples)
    count = samples.shape[0]
    centred = samples - samples.mean(axis=0)
    estimate = centred.T @ centred / count
    spread = np.sqrt(np.maximum((centred**2).T @ (centred**2) / count - estimate**2, 0.0))
    _, noise = lna.dense_matrices(q_star, PD, graph, learners=learners, agent_type=kind)
    assert np.all(np.abs(estimate - noise) <= Z * spread / np.sqrt(count) + 1e-12)
    assert np.abs(noise[:4, 4:8]).max() > 0.02 * np.abs(noise[:4, :4]).max()  # the fast-slow edge 0-1 correlates


def test_types_that_share_the_fixed_point_in_the_lna(fixed_points):
    import marldyn

    base = {"graph": {"kind": "lattice", "n": 36}, "learning": {"alpha": 3e-3}, "run": {"steps": 100, "runs": 3}}
    plain = marldyn.predict(base, "lna")
    twins = marldyn.predict({**base, "agent_types": [{"name": "twin", "fraction": 0.5}]}, "lna")
    np.testing.assert_allclose(twins.q_std, plain.q_std, rtol=1e-9)
    assert twins.attrs["route"] == "direct" and plain.attrs["route"] == "fourier"
    mixed = marldyn.predict({**base, "agent_types": [{"name": "fast", "fraction": 0.5, "alpha": 0.01}]}, "lna")
    assert np.all(mixed.q_std > plain.q_std)  # faster learners, larger steps, larger spread
    np.testing.assert_allclose(mixed.q, plain.q, atol=1e-12)  # one fixed point for every type
    for bad, match in (
        ({"name": "z", "fraction": 0.1, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}, "committed"),
        ({"name": "far", "fraction": 0.1, "gamma": 0.5}, "differ in gamma"),
        ({"name": "cold", "fraction": 0.1, "beta": 2.0}, "differ in beta"),
    ):
        config = marldyn.parse_config({**base, "agent_types": [bad]})
        assert match in lna.fixed_point_difference(config.learners(PD, 36))
        with pytest.raises(ConfigError, match=match):  # predict takes these (theory/agent_lna.py)
            lna.shared_fixed_point(config.learners(PD, 36))
