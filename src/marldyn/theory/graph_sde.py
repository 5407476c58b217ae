"""SDE ensemble on the actual graph: one stochastic differential equation per agent (eqs. 5, 9, 12, 18).

Every agent i carries its own Q_i (state, action) and sees its *actual* neighbours. Per edge e = (i, j)
the edge-state distribution p_e(s) is

- ``timescale="reduced"``: the stationary distribution p*(· | Q_i, Q_j) of the pair's chain λ(X_i, X_j)
  (eqs. 12, 18), recomputed from the current policies at every step (time-scale separation, eq. 19);
- ``timescale="full"``: a state variable moved by the pair's exact one-step map p_e ← p_e λ(X_i, X_j)
  (eqs. 13-14), once per simulator step (eq. 15).

From its own edges agent i gets p(s | i) = (1/k_i) Σ_{e ∋ i} p_e(s) and the action distribution of the
neighbour met in s, X̃_i(s, ·) = Σ_{j ~ i} p_ij(s) X_j(s, ·) / Σ_{j ~ i} p_ij(s) (eqs. 8, 20; the semantics
of :func:`marldyn.theory.moments.neighbor_marginals` with one unit weight per actual neighbour). Its
drift is μ_i = μ(Q_i, X̃_i, p(·|i), k_i) (eq. 9) and its diffusion the exact one-step covariance
Σ_i = Σ(Q_i, X̃_i, p(·|i), k_i) (eq. 5; docs/diffusion.md), both from the one numba core
(:mod:`marldyn.theory.one_step`; :func:`graph_moments` returns them with numpy in- and outputs). The
Euler–Maruyama step of size h (in simulator steps; :func:`marldyn.theory.euler_maruyama.agent_step`) is

    Q_i ← Q_i + μ_i h + √h L_i ξ_i,   L_i L_iᵀ = Σ_i,   ξ_i ~ N(0, I) independent over agents and steps,

so with h = 1 the increments have exactly the mean and covariance of one simulator step of that agent
given the current Q's and edge-state distributions (the noise of different agents is independent here;
the correlations through shared edges and shared neighbours are the subject of :mod:`marldyn.theory.lna`).
Larger h trades accuracy for speed (docs/fluctuations.md). ``noise=False`` gives the deterministic
per-agent system on the graph (the same drift, no diffusion).

The normal deviates come from the counter-based SplitMix64 stream (Marsaglia's polar method on fixed counters,
:func:`marldyn.simulation.counter_rng.normal_pair`), indexed by (member key, step, agent, entry pair), so results do
not depend on how the output grid splits the run. Everything runs on one thread, members one after another
(N = 1e4 agents x 2e4 steps with dt = 1: ~4-5 min of CPU, ~30 s with dt = 10; docs/fluctuations.md).

Equations of docs/fluctuations.md: G1 (edge states), G2 (neighbourhoods), G3 (μ_i, Σ_i), G4 (the step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..agents import TYPE_RECORDS, learners_of, member_policies_into, type_records
from ..errors import ConfigError, DivergenceError
from ..graphs import Graph
from ..progress import progress_bar
from ..simulation.counter_rng import run_key
from .euler_maruyama import agent_step, normal_pairs_per_agent
from .markov import advance_edges, edge_chains_into, group_chains_into
from .one_step import moments_batch, success_count_into, workspace

__all__ = ["GraphEnsembleTrajectory", "graph_moments", "solve_graph_sde"]

TIMESCALES = ("reduced", "full")


@dataclass(frozen=True, eq=False)
class GraphEnsembleTrajectory:
    """An SDE ensemble on a graph, recorded on a time grid (time in simulator steps).

    Attributes
    ----------
    time : ndarray, shape (time,)
    q, policy, q_std : ndarray, shape (run, time, state, action)
        Per member: agent mean of Q and of X, and the across-agent standard deviation of Q (ddof 0).
    state_fraction : ndarray, shape (run, time, state)
        Per member: the mean over edges of p_e(s).
    final_q : ndarray, shape (run, agent, state, action)
        Every agent's Q at the last time.
    attrs : dict
        Parameters of the run.
    policy_by_type, q_by_type : ndarray, shape (run, time, type, state, action), optional
        With agent types: per member, the means over each type's agents.
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    state_fraction: np.ndarray
    final_q: np.ndarray
    attrs: dict
    policy_by_type: np.ndarray | None = None
    q_by_type: np.ndarray | None = None


@njit(cache=True)
def _neighbourhoods(policy, pair, indptr, indices, half_edge, state_out, neighbor_out):
    """p(s | i) and X̃_i(s, ·) of every agent from its own edges (eqs. 8, 20; ``neighbor_marginals``
    with one unit weight per actual neighbour)."""
    n_agents, n_states, n_actions = policy.shape
    for i in range(n_agents):
        degree = indptr[i + 1] - indptr[i]
        for s in range(n_states):
            state_out[i, s] = 0.0
            for a in range(n_actions):
                neighbor_out[i, s, a] = 0.0
        if degree == 0:
            continue
        for position in range(indptr[i], indptr[i + 1]):
            j = indices[position]
            e = half_edge[position]
            for s in range(n_states):
                mass = pair[e, s]
                state_out[i, s] += mass
                for a in range(n_actions):
                    neighbor_out[i, s, a] += mass * policy[j, s, a]
        for s in range(n_states):
            mass = state_out[i, s]
            if mass > 0.0:
                for a in range(n_actions):
                    neighbor_out[i, s, a] /= mass
            else:  # never met in s: the plain mean policy (multiplied by P(n_s >= 1) = 0 in μ and Σ)
                for a in range(n_actions):
                    value = 0.0
                    for position in range(indptr[i], indptr[i + 1]):
                        value += policy[indices[position], s, a]
                    neighbor_out[i, s, a] = value / degree
            state_out[i, s] = mass / degree


@njit(cache=True, inline="always")
def _co_player_counts_into(policy, pointer, member, g, i, s, probability, counts):
    """The Poisson-binomial law of the number of agent i's co-players in group g choosing action 0 in s, into
    ``counts``; returns the number of co-players."""
    trials = np.int64(0)  # not the literal 0: success_count_into compiles once
    for h in range(pointer[g], pointer[g + 1]):
        if member[h] != i:
            probability[trials] = policy[member[h], s, 0]
            trials += 1
    success_count_into(probability, trials, counts)
    return trials


@njit(cache=True)
def _group_neighbourhoods(policy, group_state, agent_pointer, agent_group, pointer, member, state_out, outcome_out):
    """p(s | i) and the outcome distribution of every agent from its own groups (the group analogue of
    :func:`_neighbourhoods`): over i's groups g, the number j of its co-players in g choosing action 0 is
    Poisson-binomial over their actual X(s, 0), weighted by the group's state law p_g(s)."""
    n_agents, n_states, _ = policy.shape
    n_outcomes = outcome_out.shape[2]
    probability = np.empty(n_outcomes)
    counts = np.empty(n_outcomes)
    for i in range(n_agents):
        groups = agent_pointer[i + 1] - agent_pointer[i]
        for s in range(n_states):
            state_out[i, s] = 0.0
            for j in range(n_outcomes):
                outcome_out[i, s, j] = 0.0
        if groups == 0:
            continue
        for s in range(n_states):
            for position in range(agent_pointer[i], agent_pointer[i + 1]):
                g = agent_group[position]
                trials = _co_player_counts_into(policy, pointer, member, g, i, s, probability, counts)
                mass = group_state[g, s]
                state_out[i, s] += mass
                for j in range(trials + 1):
                    outcome_out[i, s, j] += mass * counts[j]
            mass = state_out[i, s]
            if mass > 0.0:
                for j in range(n_outcomes):
                    outcome_out[i, s, j] /= mass
            else:  # never in s: the plain mean over its groups (multiplied by P(n_s >= 1) = 0 in μ and Σ)
                for position in range(agent_pointer[i], agent_pointer[i + 1]):
                    g = agent_group[position]
                    trials = _co_player_counts_into(policy, pointer, member, g, i, s, probability, counts)
                    for j in range(trials + 1):
                        outcome_out[i, s, j] += counts[j] / groups
            state_out[i, s] = mass / groups


@njit(cache=True)
def _run_segment(
    q,
    pair,
    initial,
    sizes,
    first,
    last,
    edges,
    indptr,
    indices,
    half_edge,
    payoff,
    transition,
    agent_type,
    learners,
    reduced,
    noise,
    key,
    per_step,
    policy,
    chain,
    groups,
):
    """Integration steps ``first .. last - 1`` of one member, in place; leaves ``policy`` and (reduced) ``pair``
    at the values of the state reached (for the record).

    ``groups`` = (agent pointer, agent's groups, group pointer, members, the group game's transition (state, m,
    state)) of a group game, whose ``pair`` rows are the groups' state laws; empty arrays for a pairwise game.
    """
    n_agents, n_states, n_actions = q.shape
    agent_pointer, agent_group, group_pointer, group_member, group_transition = groups
    grouped = group_pointer.shape[0] > 0
    size = n_states * n_actions
    work = workspace(n_states, n_actions)
    current = np.empty(n_states)
    distribution = np.empty((n_agents, n_states))
    neighbor = np.empty((n_agents, n_states, transition.shape[2]))  # the outcome: neighbour's action, or j
    mu = np.empty((n_states, n_actions))
    sigma = np.empty((size, size))
    factor = np.empty((size, size))
    xi = np.empty(size + 1)
    degree = np.empty(n_agents, dtype=np.int64)
    for i in range(n_agents):
        degree[i] = agent_pointer[i + 1] - agent_pointer[i] if grouped else indptr[i + 1] - indptr[i]
    member_policies_into(q, agent_type, learners, policy)
    if grouped:
        group_chains_into(policy, group_pointer, group_member, group_transition, initial, reduced, pair, chain)
    else:
        edge_chains_into(policy, edges, transition, initial, reduced, pair, chain)
    for step in range(first, last):
        h = sizes[step]
        if grouped:
            _group_neighbourhoods(
                policy, pair, agent_pointer, agent_group, group_pointer, group_member, distribution, neighbor
            )
        else:
            _neighbourhoods(policy, pair, indptr, indices, half_edge, distribution, neighbor)
        agent_step(
            q,
            policy,
            distribution,
            neighbor,
            degree,
            agent_type,
            learners,
            payoff,
            transition,
            h,
            noise,
            key,
            np.uint64(step) * per_step,
            work,
            mu,
            sigma,
            factor,
            xi,
        )
        if not reduced:
            advance_edges(chain, pair, int(round(h)), current)
        member_policies_into(q, agent_type, learners, policy)
        if grouped:
            group_chains_into(policy, group_pointer, group_member, group_transition, initial, reduced, pair, chain)
        else:
            edge_chains_into(policy, edges, transition, initial, reduced, pair, chain)


@njit(cache=True)
def _summary_into(q, policy, pair, q_out, std_out, policy_out, state_out):
    """Agent means of Q and X, across-agent std of Q (ddof 0), edge mean of p_e."""
    n_agents, n_states, n_actions = q.shape
    for s in range(n_states):
        for a in range(n_actions):
            total = 0.0
            total_policy = 0.0
            for i in range(n_agents):
                total += q[i, s, a]
                total_policy += policy[i, s, a]
            mean = total / n_agents
            spread = 0.0
            for i in range(n_agents):
                spread += (q[i, s, a] - mean) ** 2
            q_out[s, a] = mean
            std_out[s, a] = math.sqrt(spread / n_agents)
            policy_out[s, a] = total_policy / n_agents
        value = 0.0
        for e in range(pair.shape[0]):
            value += pair[e, s]
        state_out[s] = value / max(pair.shape[0], 1)


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def _half_edges(graph: Graph) -> np.ndarray:
    """For every CSR position (agent i, its neighbour indices[pos]) the id of the edge {i, j}."""
    edges = np.asarray(graph.edges, dtype=np.int64)
    n = graph.n_agents
    code = edges[:, 0] * n + edges[:, 1]
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(graph.indptr))
    other = np.asarray(graph.indices, dtype=np.int64)
    lookup = np.minimum(owner, other) * n + np.maximum(owner, other)
    position = np.searchsorted(code, lookup)  # graph.edges is sorted lexicographically, so code is sorted
    if np.any(code[position] != lookup):
        raise ConfigError("graph: the CSR adjacency and the edge list disagree")
    return position


def _grouping(game, groups, n_agents: int) -> tuple:
    """The group arrays of :func:`_run_segment`: (agent pointer, agent's groups, group pointer, members, the
    game's transition (state, m, state)); empty arrays for a pairwise game."""
    if not game.group_size:
        if groups is not None:
            raise ConfigError("groups are for a group game (GroupGame.sized(n)); this game is pairwise")
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty, np.zeros((0, 0, 0))
    if groups is None or groups.n_agents != n_agents:
        raise ConfigError(f"a group game needs its groups (marldyn.groups.Groups) of the graph's {n_agents} agents")
    if groups.distinct_sizes != (game.group_size,):
        raise ConfigError(
            f"the groups have sizes {list(groups.distinct_sizes)}; the game is sized for {game.group_size}"
        )
    owner = np.argsort(groups.member, kind="stable")  # memberships by agent, in group order
    agent_group = np.repeat(np.arange(groups.n_groups, dtype=np.int64), groups.sizes)[owner]
    agent_pointer = np.zeros(n_agents + 1, dtype=np.int64)
    np.cumsum(groups.memberships, out=agent_pointer[1:])
    transition = np.ascontiguousarray(game.game.transition(game.group_size), dtype=np.float64)
    return agent_pointer, agent_group, groups.pointer.astype(np.int64), groups.member.astype(np.int64), transition


def _initial_pairs(initial_state_distribution, n_edges, n_states) -> np.ndarray:
    if initial_state_distribution is None:
        return np.full((n_edges, n_states), 1.0 / n_states)
    initial = np.asarray(initial_state_distribution, dtype=np.float64)
    if initial.shape not in ((n_states,), (n_edges, n_states)):
        raise ConfigError(f"initial_state_distribution must have shape ({n_states},) or ({n_edges}, {n_states})")
    if np.any(initial < 0) or np.any(np.abs(initial.sum(axis=-1) - 1.0) > 1e-9):
        raise ConfigError("initial_state_distribution must hold probability vectors")
    return np.ascontiguousarray(np.broadcast_to(initial, (n_edges, n_states)), dtype=np.float64)


def graph_moments(
    q,
    graph,
    game,
    *,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    learners=None,
    agent_type=None,
    pair_distribution=None,
):
    """Per-agent drift and one-step diffusion on the graph, as the ensemble uses them (eqs. 5, 9, 18, 20).

    Parameters
    ----------
    q : array_like, shape (agent, state, action)
        Every agent's Q.
    graph : Graph
    game : Game
    alpha, beta, gamma : float
    rule : str or int
        One Boltzmann learner for every agent, unless ``learners`` is given.
    learners : marldyn.agents.Learners, optional
        Agent types instead of ``alpha`` ... ``rule``; ``agent_type`` (agent,) gives each agent's (default 0).
        Committed agents have μ = 0 and Σ = 0.
    pair_distribution : array_like, shape (edge, state), optional
        p_e(s) per edge (in ``graph.edges`` order); default: the stationary p*(· | Q_i, Q_j) (reduced).

    Returns
    -------
    dict
        ``mu`` (agent, state, action), ``sigma`` (agent, K M, K M), ``state_distribution`` p(s | i)
        (agent, state), ``neighbor_policy`` X̃_i (agent, state, action), ``pair`` p_e (edge, state).
    """
    payoff, transition = game.arrays()
    q = np.ascontiguousarray(q, dtype=np.float64)
    n_agents, n_states, n_actions = q.shape
    edges = np.asarray(graph.edges, dtype=np.int64)
    learners, agent_type = learners_of(learners, agent_type, (n_agents,), game, alpha, beta, gamma, rule)
    policy = np.empty_like(q)
    member_policies_into(q, agent_type, learners.kernel_arrays(), policy)
    chain = np.empty((edges.shape[0], n_states, n_states))
    if pair_distribution is None:
        pair = np.empty((edges.shape[0], n_states))
        initial = np.full((edges.shape[0], n_states), 1.0 / n_states)
        edge_chains_into(policy, edges, transition, initial, True, pair, chain)
    else:
        pair = np.ascontiguousarray(pair_distribution, dtype=np.float64)
    half_edge = _half_edges(graph)
    indptr, indices = np.asarray(graph.indptr, dtype=np.int64), np.asarray(graph.indices, dtype=np.int64)
    distribution = np.empty((n_agents, n_states))
    neighbor = np.empty((n_agents, n_states, n_actions))
    _neighbourhoods(policy, pair, indptr, indices, half_edge, distribution, neighbor)
    size = n_states * n_actions
    mu, sigma = np.zeros_like(q), np.zeros((n_agents, size, size))
    degree = np.diff(indptr)
    for t in range(learners.n_types):
        mine = np.flatnonzero(agent_type == t)
        if learners.committed[t] or mine.size == 0:
            continue
        mu[mine], sigma[mine] = moments_batch(
            q[mine],
            policy[mine],
            neighbor[mine],
            distribution[mine],
            degree[mine],
            payoff,
            transition,
            float(learners.alpha[t]),
            float(learners.gamma[t]),
            int(learners.rule[t]),
            float(learners.faq_beta[t]),
        )
    return {"mu": mu, "sigma": sigma, "state_distribution": distribution, "neighbor_policy": neighbor, "pair": pair}


def _step_plan(grid, dt, integer):
    """Step sizes (landing on every output time) and, per output time, the number of steps before it."""
    sizes, marks, now = [], [], 0.0
    for target in grid:
        while now < target - 1e-9:
            step = min(dt, target - now)
            sizes.append(step)
            now += step
        marks.append(len(sizes))
    sizes = np.asarray(sizes, dtype=np.float64)
    if integer and np.any(sizes != np.round(sizes)):
        raise ConfigError("timescale='full' needs whole simulator steps: an integer dt and integer output times")
    return sizes, np.asarray(marks, dtype=np.int64)


def solve_graph_sde(
    q0,
    game,
    graph: Graph,
    time,
    *,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    learners=None,
    agent_type=None,
    timescale="reduced",
    dt=1.0,
    noise=True,
    seed=0,
    initial_state_distribution=None,
    progress=None,
    groups=None,
) -> GraphEnsembleTrajectory:
    """Euler–Maruyama ensemble of one SDE per agent on the actual graph (eqs. 5, 9, 12-15, 18-20).

    Parameters
    ----------
    q0 : array_like, shape (run, agent, state, action)
        Initial Q of every agent of every ensemble member (e.g. the simulator's own initial draws).
    game : Game
    graph : Graph
        The interaction graph (every agent's actual neighbours and degree).
    time : array_like, shape (time,)
        Output times in simulator steps, increasing, from 0.
    alpha, beta, gamma : float
    rule : str or int
        ``q_learning``, ``sarsa``, ``expected_sarsa`` or ``faq`` (all with the exact Σ), one Boltzmann learner
        for every agent, unless ``learners`` is given.
    learners : marldyn.agents.Learners, optional
        Agent types (policies, rules, parameters, committed tables) instead of ``alpha`` ... ``rule``.
    agent_type : array_like of int, shape (run, agent), optional
        Each agent's type in each member (e.g. the simulator's assignment of every run); default type 0.
    timescale : {"reduced", "full"}
        Stationary pair distributions p*(· | Q_i, Q_j) (eq. 18), or per-edge distributions moved by the
        pair's one-step map (eqs. 13-14; needs an integer ``dt`` and integer output times).
    dt : float
        Step in simulator steps (> 0). ``dt = 1`` gives increments with exactly the mean and covariance of one
        simulator step of each agent (given the current Q's and edge-state distributions); steps are shortened to
        land on the output times.
    noise : bool
        False: the deterministic system (drift only) on the graph.
    seed : int or numpy.random.SeedSequence
        Member r draws its noise from the counter-based stream keyed by ``SeedSequence(seed).spawn(runs)[r]``.
    initial_state_distribution : array_like, shape (state,) or (edge, state), optional
        p_e at time 0 for ``full`` (default uniform); for ``reduced`` only used by reducible pair chains.
    progress : bool, optional
        Progress bar (default: on a terminal).
    groups : marldyn.groups.Groups, optional
        With a group game (``game`` a :class:`~marldyn.group_games.SizedGroupGame`): the actual groups. Every
        group carries its state law (its chain from its members' actual policies, :func:`group_chains_into`), and
        every agent sees the co-players of its own groups (Poisson-binomial counts, weighted by each group's law).

    Returns
    -------
    GraphEnsembleTrajectory
    """
    payoff, transition = game.arrays()
    q_start = np.array(q0, dtype=np.float64, order="C")  # standard strides: one compiled signature
    if q_start.ndim == 3:
        q_start = q_start[None]
    n_states, n_actions = payoff.shape[:2]
    if q_start.ndim != 4 or q_start.shape[1:] != (graph.n_agents, n_states, n_actions):
        raise ConfigError(f"q0 must have shape (run, agent, state, action) with agent = {graph.n_agents}")
    if not np.all(np.isfinite(q_start)):
        raise ConfigError("q0 contains NaN or infinite values")
    if timescale not in TIMESCALES:
        raise ConfigError(f"timescale = {timescale!r} must be one of {', '.join(TIMESCALES)}")
    if not (isinstance(dt, int | float | np.integer | np.floating) and dt > 0 and np.isfinite(dt)):
        raise ConfigError(f"dt = {dt!r} must be a positive number of simulator steps")
    grid = np.asarray(time, dtype=np.float64)
    if grid.ndim != 1 or grid.size == 0 or grid[0] < 0 or np.any(np.diff(grid) <= 0):
        raise ConfigError("time must be increasing, from 0, in simulator steps")
    reduced = timescale == "reduced"
    sizes, marks = _step_plan(grid, float(dt), integer=not reduced)
    n_runs, n_agents = q_start.shape[:2]
    edges = np.ascontiguousarray(graph.edges, dtype=np.int64)
    n_edges = edges.shape[0]
    indptr = np.ascontiguousarray(graph.indptr, dtype=np.int64)
    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    half_edge = _half_edges(graph)
    grouping = _grouping(game, groups, graph.n_agents)
    n_sites = grouping[2].size - 1 if grouping[2].size else n_edges  # the groups, or the edges
    initial = _initial_pairs(initial_state_distribution, n_sites, n_states)
    learners, agent_type = learners_of(learners, agent_type, (n_runs, n_agents), game, alpha, beta, gamma, rule)
    arrays = learners.kernel_arrays()
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys = [run_key(child) for child in root.spawn(n_runs)]
    per_step = np.uint64(n_agents * normal_pairs_per_agent(n_states * n_actions))
    shape = (n_runs, grid.size)
    out_q, out_std, out_policy = (np.empty(shape + (n_states, n_actions)) for _ in range(3))
    out_state = np.empty(shape + (n_states,))
    by_type = {name: np.empty(shape + (learners.n_types, n_states, n_actions)) for name in TYPE_RECORDS}
    by_type = by_type if learners.typed else {}
    final = np.empty_like(q_start)
    policy = np.empty((n_agents, n_states, n_actions))
    chain = np.empty((n_sites, n_states, n_states))
    with progress_bar(progress, total=n_runs * sizes.size, unit="step", desc="sde-graph") as bar:
        for r in range(n_runs):
            q = q_start[r].copy()
            pair = initial.copy()
            step = 0
            for record in range(grid.size):
                _run_segment(
                    q,
                    pair,
                    initial,
                    sizes,
                    step,
                    marks[record],
                    edges,
                    indptr,
                    indices,
                    half_edge,
                    payoff,
                    transition,
                    agent_type[r],
                    arrays,
                    reduced,
                    bool(noise),
                    keys[r],
                    per_step,
                    policy,
                    chain,
                    grouping,
                )
                bar.update(int(marks[record] - step))
                step = int(marks[record])
                _summary_into(
                    q, policy, pair, out_q[r, record], out_std[r, record], out_policy[r, record], out_state[r, record]
                )
                if by_type:
                    for name, value in type_records(policy, q, agent_type[r], learners.n_types).items():
                        by_type[name][r, record] = value
                if not np.all(np.isfinite(out_q[r, record])):
                    raise DivergenceError(f"sde-graph: member {r} left the finite numbers before t = {grid[record]}")
            final[r] = q
    attrs = {
        "learners": learners.describe(),
        "timescale": timescale,
        "dt": float(dt),
        "noise": bool(noise),
        "members": int(n_runs),
        "agents": int(n_agents),
        "time_unit": "simulator steps",
    }
    return GraphEnsembleTrajectory(grid, out_q, out_policy, out_std, out_state, final, attrs, **by_type)
