"""Heterogeneous populations: a particle representation of p_t(Q), coupled by the pair approximation.

The population density p_t(Q) is represented by P particles Q_p (state, action) with weights w_p (the
fraction of agents each stands for, Σ w_p = 1) and degrees k_p (NOTES.md 4: each agent's own degree).
A neighbour met by any agent is particle q with probability v_q = w_q k_q / Σ_r w_r k_r (an edge end
falls on an agent in proportion to its degree; v = w on a regular graph), independently of the focal
agent (pair approximation, eq. 11: a neighbour's neighbour is distributed like a neighbour).

For a focal particle p and a neighbour q the edge state is a Markov chain with λ(Q_p, Q_q) (eq. 12).

- ``reduced`` (eqs. 19-20): the pair is at its stationary distribution p*(s | Q_p, Q_q) (eq. 18), so
  p(s | Q_p) = Σ_q v_q p*(s | Q_p, Q_q) and the neighbour met in s has the action distribution
  X̃_p(s, ·) = Σ_q v_q p*(s | Q_p, Q_q) X_q(s, ·) / p(s | Q_p) (eq. 20 with 8); dQ_p/dt = μ(Q_p) (eq. 9).
- ``full`` (eq. 15 without diffusion): every pair (p, q) carries its own edge-state distribution
  p_t(s | Q_p, Q_q), moved one simulator step at a time by λ (the exact discrete master equation),
  and Q_p moves by μ(Q_p) computed from the current pair distributions, step by step.

Cost: O(P² K² M) / 2 per drift evaluation (reduced; on all threads, memory O(P K M)) or O(P² K² M) per step
(full; memory O(P² K)). Measured (benchmarks/theory.py): P = 1000 in ~1-2 ms per evaluation, P = 1e4 in ~0.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange
from scipy.integrate import solve_ivp

from ..agents import TYPE_RECORDS, learners_of, member_policies, type_records
from ..errors import ConfigError, ConvergenceError
from ..policy import FIXED
from .markov import advance_edges, edge_transition_into, stationary_into
from .one_step import MEAN, drift_into, outcome_into, td_moments_into, workspace

TIMESCALES = ("reduced", "full")


@dataclass(frozen=True, eq=False)
class ParticleTrajectory:
    """A heterogeneous-theory trajectory; arrays named as in the simulation's Dataset.

    Attributes
    ----------
    time : ndarray, shape (time,)
        Times in simulator steps.
    q, policy : ndarray, shape (time, state, action)
        Population (weight-averaged) mean of Q and of the Boltzmann policy X.
    q_std : ndarray, shape (time, state, action)
        Weighted standard deviation of Q across particles (the spread across agents).
    state_fraction : ndarray, shape (time, state)
        Fraction of edges in each state, Σ_p v_p p(s | Q_p).
    particle_q : ndarray, shape (time, particle, state, action)
        Every particle's Q.
    policy_by_type, q_by_type : ndarray, shape (time, type, state, action), optional
        With agent types (``learners`` of several types): the weighted means over each type's particles.
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    state_fraction: np.ndarray
    particle_q: np.ndarray
    policy_by_type: np.ndarray | None = None
    q_by_type: np.ndarray | None = None


PAIR_CHUNKS = 16  # fixed row blocks of the pair sum: the result does not depend on the number of threads
#: From this many particles on the reduced rate uses the threaded pair sum (:func:`stationary_marginals`).
THREADED_PARTICLES = 1024


@njit(cache=True)
def _partner_rows(policy, transition):
    """Y_q[s, a, s'] = Σ_b X_q(s, b) T(s, a, b, s'): the edge's next-state law when the focal agent plays a
    against particle q, shape (particle, state, action, state). Then λ(Q_p, Q_q)[s, s'] = Σ_a X_p(s, a) Y_q[s, a, s']
    (eq. 12), O(K² M) per pair instead of O(K² M²)."""
    n_particles, n_states, n_actions = policy.shape
    partner = np.zeros((n_particles, n_states, n_actions, n_states))
    for q in range(n_particles):
        for s in range(n_states):
            for a in range(n_actions):
                for b in range(n_actions):
                    x = policy[q, s, b]
                    for t in range(n_states):
                        partner[q, s, a, t] += x * transition[s, a, b, t]
    return partner


@njit(cache=True)
def _pair_chain_into(policy, partner, out):
    """λ(Q_p, Q_q)[s, s'] = Σ_a X_p(s, a) Y_q[s, a, s'] (eq. 12) from ``policy`` X_p and ``partner`` Y_q."""
    n_states, n_actions = policy.shape
    for s in range(n_states):
        for t in range(n_states):
            value = 0.0
            for a in range(n_actions):
                value += policy[s, a] * partner[s, a, t]
            out[s, t] = value


@njit(cache=True)
def _pair_rows_2x2_into(policy, partner, neighbor_weight, initial, first, stride, state_distribution, numerator):
    """:func:`_pair_rows_into` for two states and two actions, with row p's sums held in scalars."""
    chain = np.empty((2, 2))
    pair = np.empty(2)
    n_particles = policy.shape[0]
    for p in range(first, n_particles, stride):
        x00, x01, x10, x11 = policy[p, 0, 0], policy[p, 0, 1], policy[p, 1, 0], policy[p, 1, 1]
        weight_p = neighbor_weight[p]
        d0 = d1 = n00 = n01 = n10 = n11 = 0.0
        for q in range(p, n_particles):
            leave0 = x00 * partner[q, 0, 0, 1] + x01 * partner[q, 0, 1, 1]  # λ[0, 1]
            leave1 = x10 * partner[q, 1, 0, 0] + x11 * partner[q, 1, 1, 0]  # λ[1, 0]
            total = leave0 + leave1
            if total > 0.0:
                p0 = leave1 / total
                p1 = leave0 / total
            else:
                _pair_chain_into(policy[p], partner[q], chain)
                stationary_into(chain, initial, np.bool_(True), pair)
                p0, p1 = pair[0], pair[1]
            mass0 = neighbor_weight[q] * p0
            mass1 = neighbor_weight[q] * p1
            d0 += mass0
            d1 += mass1
            n00 += mass0 * policy[q, 0, 0]
            n01 += mass0 * policy[q, 0, 1]
            n10 += mass1 * policy[q, 1, 0]
            n11 += mass1 * policy[q, 1, 1]
            if q != p:
                mass0 = weight_p * p0
                mass1 = weight_p * p1
                state_distribution[q, 0] += mass0
                state_distribution[q, 1] += mass1
                numerator[q, 0, 0] += mass0 * x00
                numerator[q, 0, 1] += mass0 * x01
                numerator[q, 1, 0] += mass1 * x10
                numerator[q, 1, 1] += mass1 * x11
        state_distribution[p, 0] += d0
        state_distribution[p, 1] += d1
        numerator[p, 0, 0] += n00
        numerator[p, 0, 1] += n01
        numerator[p, 1, 0] += n10
        numerator[p, 1, 1] += n11


@njit(cache=True)
def _pair_rows_into(policy, partner, neighbor_weight, initial, first, stride, state_distribution, numerator):
    """Add the stationary pairs (p, q ≥ p) of rows p = first, first + stride, ... to both ends' sums.

    λ(Q_p, Q_q) = λ(Q_q, Q_p) because T is symmetric in the two actions, so each unordered pair is solved
    once: p*(s | Q_p, Q_q) (eq. 18; closed form for two states) adds v_q p* to p(s | Q_p) and v_q p* X_q(s, ·)
    to p's neighbour-policy numerator, and the same with p and q exchanged.
    """
    n_particles, n_states, n_actions = policy.shape
    if n_states == 2 and n_actions == 2:
        _pair_rows_2x2_into(policy, partner, neighbor_weight, initial, first, stride, state_distribution, numerator)
        return
    chain = np.empty((n_states, n_states))
    pair = np.empty(n_states)
    for p in range(first, n_particles, stride):
        for q in range(p, n_particles):
            total = 0.0
            if n_states == 2:
                leave0 = 0.0  # λ[0, 1]
                leave1 = 0.0  # λ[1, 0]
                for a in range(n_actions):
                    leave0 += policy[p, 0, a] * partner[q, 0, a, 1]
                    leave1 += policy[p, 1, a] * partner[q, 1, a, 0]
                total = leave0 + leave1
            if total > 0.0:
                pair[0] = leave1 / total
                pair[1] = leave0 / total
            else:
                _pair_chain_into(policy[p], partner[q], chain)
                stationary_into(chain, initial, np.bool_(True), pair)
            for s in range(n_states):
                mass_q = neighbor_weight[q] * pair[s]
                state_distribution[p, s] += mass_q
                for a in range(n_actions):
                    numerator[p, s, a] += mass_q * policy[q, s, a]
                if q != p:
                    mass_p = neighbor_weight[p] * pair[s]
                    state_distribution[q, s] += mass_p
                    for a in range(n_actions):
                        numerator[q, s, a] += mass_p * policy[p, s, a]


@njit(cache=True, parallel=True)
def stationary_marginals(policy, neighbor_weight, transition, initial):
    """Reduced pair-approximation marginals without storing the P x P pair distributions.

    Memory O(P K M) (per row block), time O(P² K² M) / 2 on all threads; the row blocks are fixed
    (``PAIR_CHUNKS``) and summed in order, so the result does not depend on the number of threads.
    Returns what :func:`_marginals` returns for the stationary pairs.
    """
    n_particles, n_states, n_actions = policy.shape
    partner = _partner_rows(policy, transition)
    chunks = min(PAIR_CHUNKS, n_particles)
    distribution_parts = np.zeros((chunks, n_particles, n_states))
    numerator_parts = np.zeros((chunks, n_particles, n_states, n_actions))
    for c in prange(chunks):
        _pair_rows_into(
            policy, partner, neighbor_weight, initial, np.int64(c), chunks, distribution_parts[c], numerator_parts[c]
        )
    state_distribution = np.zeros((n_particles, n_states))
    numerator = np.zeros((n_particles, n_states, n_actions))
    for c in range(chunks):
        state_distribution += distribution_parts[c]
        numerator += numerator_parts[c]
    return _normalised_marginals(policy, neighbor_weight, state_distribution, numerator)


@njit(cache=True)
def stationary_marginals_serial(policy, neighbor_weight, transition, initial):
    """:func:`stationary_marginals` on one thread (for callers that are parallel over populations)."""
    n_particles, n_states, n_actions = policy.shape
    state_distribution = np.zeros((n_particles, n_states))
    numerator = np.zeros((n_particles, n_states, n_actions))
    partner = _partner_rows(policy, transition)
    _pair_rows_into(policy, partner, neighbor_weight, initial, np.int64(0), np.int64(1), state_distribution, numerator)
    return _normalised_marginals(policy, neighbor_weight, state_distribution, numerator)


GROUP_ITERATIONS = 100  # at most, for the self-consistent co-player policy of a group game
GROUP_TOLERANCE = 1e-13


@njit(cache=True)
def group_marginals(policy, neighbor_weight, transition, initial, group_size):
    """The pair approximation for groups: each particle's group-state law and the outcome its groups meet.

    A focal particle p's co-players are n - 1 independent draws from the population (particle q with
    probability v_q, in proportion to its groups), so the number j of them choosing action 0 in state s is
    Binomial(n - 1, x̄_s), with x̄_s = Σ_q v_q p_q(s) X_q(s, 0) / Σ_q v_q p_q(s) the co-players' cooperation given
    the group is in s (eq. 20 for groups). p_p is the stationary law of p's group chain λ_p(s → s') =
    Σ_a X_p(s, a) Σ_j P(j) T(s, a, j, s') (``transition`` in outcomes, :meth:`marldyn.group_games.GroupGame.sized`).
    x̄ and the p_p are solved together by fixed-point iteration from the unconditional mean (one iteration for
    identical particles, where it is the point mass's).

    Returns ``(state_distribution (particle, state), outcome (particle, state, n))``, as
    :func:`stationary_marginals` returns the pair marginals (the outcome in place of X̃).
    """
    n_particles, n_states, _ = policy.shape
    cooperation = np.empty((n_states, 2))
    _mean_cooperation_into(policy, neighbor_weight, cooperation)
    row = np.empty((n_states, group_size))
    matrix = np.empty((n_states, n_states))
    distribution = np.empty((n_particles, n_states))
    for _ in range(GROUP_ITERATIONS):
        outcome_into(cooperation, group_size, row)
        for p in range(n_particles):
            edge_transition_into(policy[p], row, transition, matrix)
            stationary_into(matrix, initial, np.bool_(True), distribution[p])
        if _conditional_cooperation_into(policy, neighbor_weight, distribution, cooperation) <= GROUP_TOLERANCE:
            break
    return distribution, _group_outcome(cooperation, n_particles, group_size)


@njit(cache=True)
def _mean_cooperation_into(policy, neighbor_weight, cooperation):
    """The co-players' unconditional cooperation x̄_s = Σ_q v_q X_q(s, 0) into ``cooperation`` (state, 2)."""
    n_particles, n_states, _ = policy.shape
    for s in range(n_states):
        mean = 0.0
        for q in range(n_particles):
            mean += neighbor_weight[q] * policy[q, s, 0]
        cooperation[s, 0] = mean
        cooperation[s, 1] = 1.0 - mean


@njit(cache=True)
def _conditional_cooperation_into(policy, neighbor_weight, distribution, cooperation):
    """x̄_s = Σ_q v_q p_q(s) X_q(s, 0) / Σ_q v_q p_q(s) into ``cooperation`` (state, 2) (kept where no particle's
    group is in s); returns the largest change."""
    n_particles, n_states, _ = policy.shape
    change = 0.0
    for s in range(n_states):
        numerator = 0.0
        mass = 0.0
        for q in range(n_particles):
            weight = neighbor_weight[q] * distribution[q, s]
            numerator += weight * policy[q, s, 0]
            mass += weight
        if mass > 0.0:
            value = min(max(numerator / mass, 0.0), 1.0)
            change = max(change, abs(value - cooperation[s, 0]))
            cooperation[s, 0] = value
            cooperation[s, 1] = 1.0 - value
    return change


@njit(cache=True)
def _group_outcome(cooperation, n_particles, group_size):
    """Every particle's outcome (particle, state, n): Binomial(n - 1, x̄_s) of its co-players."""
    n_states = cooperation.shape[0]
    row = np.empty((n_states, group_size))
    outcome_into(cooperation, group_size, row)
    outcome = np.empty((n_particles, n_states, group_size))
    for p in range(n_particles):
        for s in range(n_states):
            for j in range(group_size):
                outcome[p, s, j] = row[s, j]
    return outcome


@njit(cache=True)
def _group_full_run(
    q, distribution, record_steps, neighbor_weight, degree, particle_type, learners, payoff, transition, group_size
):
    """The full particle map of a group game: every particle's group-state law p_p moved one step at a time.

    One step: X_t = X(Q_t); x̄_t from the laws p_t (:func:`_conditional_cooperation_into`, one evaluation: no
    iteration, the laws are state variables); Q_{t+1} = Q_t + μ(Q_t; x̄_t, p_t); p_{t+1} = p_t λ_p(X_t, x̄_t) —
    the order of :func:`_full_run`. Returns Q and p at ``record_steps``.
    """
    n_particles, n_states, _ = q.shape
    n_records = record_steps.shape[0]
    q_records = np.empty((n_records,) + q.shape)
    state_records = np.empty((n_records, n_particles, n_states))
    q = q.copy()
    cooperation = np.empty((n_states, 2))
    chain = np.empty((n_particles, n_states, n_states))
    current = np.empty(n_states)
    step = 0
    for r in range(n_records):
        while True:
            policy = member_policies(q, particle_type, learners)
            _mean_cooperation_into(policy, neighbor_weight, cooperation)  # kept where no group is in s (π_s = 0)
            _conditional_cooperation_into(policy, neighbor_weight, distribution, cooperation)
            outcome = _group_outcome(cooperation, n_particles, group_size)
            if step == record_steps[r]:
                q_records[r] = q
                state_records[r] = distribution
                break
            rate = _drifts(q, policy, outcome, distribution, degree, particle_type, learners, payoff, transition)
            for p in range(n_particles):
                edge_transition_into(policy[p], outcome[p], transition, chain[p])
            advance_edges(chain, distribution, np.int64(1), current)  # p_p ← p_p λ_p, the edges' master equation
            q += rate
            step += 1
    return q_records, state_records


@njit(cache=True)
def _advance_pairs(policy, transition, pairs):
    """One simulator step of every pair's edge-state distribution, p ← p λ(Q_p, Q_q), in place."""
    n_particles, n_states, _ = policy.shape
    partner = _partner_rows(policy, transition)
    chain = np.empty((n_states, n_states))
    current = np.empty(n_states)
    for p in range(n_particles):
        for q in range(n_particles):
            _pair_chain_into(policy[p], partner[q], chain)
            for s in range(n_states):
                current[s] = pairs[p, q, s]
            for t in range(n_states):
                value = 0.0
                for s in range(n_states):
                    value += current[s] * chain[s, t]
                pairs[p, q, t] = value


@njit(cache=True)
def _marginals(policy, neighbor_weight, pairs):
    """p(s | Q_p) = Σ_q v_q p(s|p,q) and X̃_p(s, ·) = Σ_q v_q p(s|p,q) X_q(s, ·) / p(s | Q_p) (eqs. 8, 20).

    ``neighbor_weight`` v sums to 1; ``pairs`` (particle, particle, state) are the pair distributions.
    """
    n_particles, n_states, n_actions = policy.shape
    state_distribution = np.zeros((n_particles, n_states))
    numerator = np.zeros((n_particles, n_states, n_actions))
    for p in range(n_particles):
        for q in range(n_particles):
            weight = neighbor_weight[q]
            if weight == 0.0:
                continue
            for s in range(n_states):
                mass = weight * pairs[p, q, s]
                state_distribution[p, s] += mass
                for a in range(n_actions):
                    numerator[p, s, a] += mass * policy[q, s, a]
    return _normalised_marginals(policy, neighbor_weight, state_distribution, numerator)


@njit(cache=True)
def _normalised_marginals(policy, neighbor_weight, state_distribution, numerator):
    """Divide the accumulated neighbour-policy mass by p(s | Q_p). Where p(s | Q_p) = 0 (never met in s)
    X̃ is the v-mean policy; μ and Σ multiply it by P(n_s >= 1) = 0 anyway."""
    n_particles, n_states, n_actions = policy.shape
    mean_policy = np.zeros((n_states, n_actions))
    for q in range(n_particles):
        for s in range(n_states):
            for a in range(n_actions):
                mean_policy[s, a] += neighbor_weight[q] * policy[q, s, a]
    neighbor_policy = np.empty_like(numerator)
    for p in range(n_particles):
        for s in range(n_states):
            mass = state_distribution[p, s]
            for a in range(n_actions):
                neighbor_policy[p, s, a] = numerator[p, s, a] / mass if mass > 0.0 else mean_policy[s, a]
    return state_distribution, neighbor_policy


@njit(cache=True)
def _drifts(q, policy, neighbor_policy, state_distribution, degree, particle_type, learners, payoff, transition):
    """μ(Q_p) of every particle (eq. 9) with its type's parameters (0 for a committed type), (particle, state,
    action)."""
    out = np.zeros_like(q)
    work = workspace(q.shape[1], q.shape[2])
    alpha, _, gamma, _, faq_beta, kind, rule, _ = learners
    for p in range(q.shape[0]):
        t = particle_type[p]
        if kind[t] == FIXED:
            continue
        drift_into(
            q[p],
            policy[p],
            neighbor_policy[p],
            state_distribution[p],
            degree[p],
            payoff,
            transition,
            alpha[t],
            gamma[t],
            rule[t],
            faq_beta[t],
            work,
            out[p],
        )
    return out


def reduced_rate(q, neighbor_weight, degree, particle_type, learners, payoff, transition, initial, group_size=0):
    """dQ_p/dt of every particle at stationary pairs (eq. 19), with p(s | Q_p) and X̃_p (a group game: the
    outcome of :func:`group_marginals`).

    ``q`` (particle, state, action), ``neighbor_weight`` v (particle,) (:func:`neighbor_weights`), ``degree``
    and ``particle_type`` (particle,) int64, ``learners`` the kernel arrays (``Learners.kernel_arrays()``),
    ``payoff`` and ``transition`` of ``Game.arrays()``, ``initial`` (state,). Returns the rate (particle,
    state, action) per step, p(s | Q_p) (particle, state) and X̃_p (particle, state, outcome).

    The threaded pair sum runs (and is compiled) only from :data:`THREADED_PARTICLES` particles on: below,
    waking the threads costs more than the sum (on two busy cores ~0.7 ms per call against 44 µs serial at
    P = 100, and still 3.2 against 2.6 ms at P = 800).
    """
    policy = member_policies(q, particle_type, learners)
    if group_size:
        distribution, neighbor_policy = group_marginals(policy, neighbor_weight, transition, initial, group_size)
    else:
        marginals = stationary_marginals if q.shape[0] >= THREADED_PARTICLES else stationary_marginals_serial
        distribution, neighbor_policy = marginals(policy, neighbor_weight, transition, initial)
    rate = _drifts(q, policy, neighbor_policy, distribution, degree, particle_type, learners, payoff, transition)
    return rate, distribution, neighbor_policy


def td_errors(q, neighbor_weight, particle_type, learners, payoff, transition, initial):
    """δ̄(Q_p) of every particle at stationary pairs (eq. 7 against X̃_p, with p(s | Q_p) of eq. 19), a pairwise
    game; 0 for the particles of a committed type. The zeros of :func:`reduced_rate` are the zeros of δ̄
    where α π X > 0: the residual a root finder takes (O(1) in payoff units, where the rate is O(α X)).

    Arguments as :func:`reduced_rate`. Returns δ̄ (particle, state, action) and p(s | Q_p) (particle, state).
    """
    policy = member_policies(q, particle_type, learners)
    distribution, neighbor_policy = stationary_marginals_serial(policy, neighbor_weight, transition, initial)
    _, _, gamma, _, _, kind, rule, _ = learners
    out = np.zeros_like(q)
    work = workspace(q.shape[1], q.shape[2])
    for p in range(q.shape[0]):
        t = particle_type[p]
        if kind[t] != FIXED:
            td_moments_into(q[p], policy[p], neighbor_policy[p], payoff, transition, gamma[t], rule[t], work)
            out[p] = work[MEAN]
    return out, distribution


@njit(cache=True)
def _full_run(q, pairs, record_steps, neighbor_weight, degree, particle_type, learners, payoff, transition):
    """Iterate the full particle map; return Q and p(s | Q_p) at ``record_steps`` (sorted, from 0).

    One step: X_t = X(Q_t); marginals from the pair distributions p_t; Q_{t+1} = Q_t + μ(Q_t; p_t);
    p_{t+1} = p_t λ(Q_t) — the same order as Algorithm 1, where the edges play in their state at the
    start of the step.
    """
    n_records = record_steps.shape[0]
    q_records = np.empty((n_records,) + q.shape)
    state_records = np.empty((n_records, q.shape[0], q.shape[1]))
    q = q.copy()
    step = 0
    for r in range(n_records):
        while True:
            policy = member_policies(q, particle_type, learners)
            distribution, neighbor_policy = _marginals(policy, neighbor_weight, pairs)
            if step == record_steps[r]:
                q_records[r] = q
                state_records[r] = distribution
                break
            rate = _drifts(
                q, policy, neighbor_policy, distribution, degree, particle_type, learners, payoff, transition
            )
            _advance_pairs(policy, transition, pairs)
            q += rate
            step += 1
    return q_records, state_records


def initial_particles(q_table, q_noise, n_particles, *, graph_degrees, distribution="normal", sampling="sobol", seed=0):
    """Particles drawn from the simulator's per-agent initial distribution.

    Parameters
    ----------
    q_table : array_like, shape (state, action)
        The common initial table.
    q_noise : float
        Scale of the independent noise per particle and entry (std for ``normal``, half-width for ``uniform``).
    n_particles : int
        P.
    graph_degrees : array_like of int, shape (agent,)
        The graph's degree sequence. Particle degrees are its quantiles (P = N gives the degree sequence
        itself, sorted), so degree classes appear in proportion.
    distribution : {"normal", "uniform"}
    sampling : {"sobol", "random"}
        Scrambled Sobol points (low-discrepancy: the particle cloud matches the initial distribution's
        moments far better than P random draws) or plain random draws.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    q : ndarray, shape (particle, state, action)
    degree : ndarray of int64, shape (particle,)
    """
    import warnings

    from scipy.stats import norm, qmc

    if isinstance(n_particles, bool) or not isinstance(n_particles, int | np.integer) or n_particles < 1:
        raise ConfigError(f"particles = {n_particles!r} must be an integer >= 1")
    if sampling not in ("sobol", "random"):
        raise ConfigError(f"sampling = {sampling!r} must be 'sobol' or 'random'")
    table = np.asarray(q_table, dtype=np.float64)
    shape = (int(n_particles),) + table.shape
    rng = np.random.default_rng(seed)
    if sampling == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # balance warning when P is not a power of 2
            unit = qmc.Sobol(d=table.size, scramble=True, seed=rng).random(int(n_particles)).reshape(shape)
    else:
        unit = rng.random(shape)
    unit = np.clip(unit, 1e-12, 1 - 1e-12)
    if q_noise == 0:
        q = np.broadcast_to(table, shape).copy()
    elif distribution == "normal":
        q = table + q_noise * norm.ppf(unit)
    else:
        q = table + q_noise * (2.0 * unit - 1.0)
    ordered = np.sort(np.asarray(graph_degrees, dtype=np.int64))
    index = np.minimum(((np.arange(n_particles) + 0.5) / n_particles * ordered.size).astype(np.int64), ordered.size - 1)
    return q, ordered[index]


def neighbor_weights(degree, weight=None) -> np.ndarray:
    """v_q = w_q k_q / Σ_r w_r k_r: the probability that a neighbour is particle q, shape (particle,)."""
    degree = np.asarray(degree, dtype=np.float64)
    weight = np.full(degree.shape, 1.0 / degree.size) if weight is None else np.asarray(weight, dtype=np.float64)
    total = np.sum(weight * degree)
    if total <= 0:
        raise ConfigError("the particles have no edges (all degrees are 0)")
    return weight * degree / total


def solve_particles(
    q0,
    game,
    time,
    *,
    degree,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    learners=None,
    particle_type=None,
    weight=None,
    timescale="reduced",
    initial_state_distribution=None,
    rtol=1e-5,
    atol=1e-9,
) -> ParticleTrajectory:
    """Heterogeneous theory: P particles coupled by the pair approximation (eqs. 11, 15, 19-20).

    Parameters
    ----------
    q0 : array_like, shape (particle, state, action)
        Initial Q of every particle (e.g. :func:`initial_particles`).
    game : Game or SizedGroupGame
        A pairwise game, or a group game in groups of one size (``GroupGame.sized(n)``: co-players and group
        states by :func:`group_marginals`; on the full time scale every particle's group-state law is moved one
        step at a time).
    time : array_like, shape (time,)
        Output times in simulator steps (from 0, non-decreasing; whole steps for ``full``).
    degree : array_like of int, shape (particle,)
        k_p of every particle (a group game: the number of groups it is in).
    alpha, beta, gamma : float
    rule : str or int
        One Boltzmann learner for every particle (the paper's population), unless ``learners`` is given.
    learners : marldyn.agents.Learners, optional
        Agent types (policies, rules, parameters, committed tables) instead of ``alpha`` ... ``rule``.
    particle_type : array_like of int, shape (particle,), optional
        Each particle's type with ``learners`` (default 0). Committed particles do not move.
    weight : array_like, shape (particle,), optional
        Fraction of agents per particle (default equal).
    timescale : {"reduced", "full"}
        Stationary pair distributions (ODE, eq. 19) or the exact per-step master equation of every pair
        (eq. 15, discrete in time like the simulator).
    initial_state_distribution : array_like, shape (state,), optional
        Edge-state distribution at t = 0 of every pair (``full``; default uniform).
    rtol, atol : float
        Tolerances of the ODE solver (``reduced``).
    """
    from .homogeneous import time_grid

    payoff, transition = game.arrays()
    q0 = np.array(q0, dtype=np.float64, order="C")  # a writable copy: one compiled signature
    n_particles = q0.shape[0]
    if q0.ndim != 3 or q0.shape[1:] != payoff.shape[:2] or not np.all(np.isfinite(q0)):
        raise ConfigError(
            f"q0 must be finite with shape (particle, state, action) = (P, {game.n_states}, {game.n_actions})"
        )
    degree = np.asarray(degree, dtype=np.int64).reshape(-1)
    if degree.shape != (n_particles,) or np.any(degree < 0):
        raise ConfigError(f"degree must hold one non-negative integer per particle ({n_particles})")
    if timescale not in TIMESCALES:
        raise ConfigError(f"timescale = {timescale!r} must be one of {', '.join(TIMESCALES)}")
    weight = np.full(n_particles, 1.0 / n_particles) if weight is None else np.asarray(weight, dtype=np.float64)
    weight = weight / weight.sum()
    neighbor_weight = neighbor_weights(degree, weight)
    initial = (
        np.full(game.n_states, 1.0 / game.n_states)
        if initial_state_distribution is None
        else np.asarray(initial_state_distribution, dtype=np.float64)
    )
    grid = time_grid(time, integer=timescale == "full")
    learners, particle_type = learners_of(learners, particle_type, (n_particles,), game, alpha, beta, gamma, rule)
    parameters = (particle_type, learners.kernel_arrays(), payoff, transition)
    group_size = game.group_size
    if timescale == "full" and group_size:
        laws = np.broadcast_to(initial, (n_particles, game.n_states)).copy()  # written in place
        q_path, distribution_path = _group_full_run(
            q0, laws, grid.astype(np.int64), neighbor_weight, degree, *parameters, group_size
        )
    elif timescale == "full":
        pairs = np.broadcast_to(initial, (n_particles, n_particles, game.n_states)).copy()  # written in place
        q_path, distribution_path = _full_run(q0, pairs, grid.astype(np.int64), neighbor_weight, degree, *parameters)
    else:
        shape = q0.shape

        def rate(_, flat):
            return reduced_rate(
                np.ascontiguousarray(flat).reshape(shape), neighbor_weight, degree, *parameters, initial, group_size
            )[0].ravel()

        solution = solve_ivp(rate, (0.0, grid[-1]), q0.ravel(), method="RK45", t_eval=grid, rtol=rtol, atol=atol)
        if not solution.success:
            raise ConvergenceError(f"particle ODE failed: {solution.message}")
        q_path = solution.y.T.reshape((grid.size,) + shape)
        distribution_path = np.stack(
            [
                reduced_rate(np.ascontiguousarray(q), neighbor_weight, degree, *parameters, initial, group_size)[1]
                for q in q_path
            ]
        )
    return _summarise(grid, q_path, distribution_path, weight, neighbor_weight, learners, particle_type)


def _summarise(grid, q_path, distribution_path, weight, neighbor_weight, learners, particle_type) -> ParticleTrajectory:
    """Population means and spreads of a particle path (time, particle, state, action)."""
    mean_q = np.einsum("p,tpsa->tsa", weight, q_path)
    spread = np.sqrt(np.maximum(np.einsum("p,tpsa->tsa", weight, (q_path - mean_q[:, None]) ** 2), 0.0))
    policies = np.stack([learners.policies(q, particle_type) for q in q_path])
    policy = np.einsum("p,tpsa->tsa", weight, policies)
    state_fraction = np.einsum("p,tps->ts", neighbor_weight, distribution_path)
    by_type = {}
    if learners.typed:
        records = [
            type_records(x, q, particle_type, learners.n_types, weight) for x, q in zip(policies, q_path, strict=True)
        ]
        by_type = {name: np.stack([record[name] for record in records]) for name in TYPE_RECORDS}
    return ParticleTrajectory(grid, mean_q, policy, spread, state_fraction, q_path, **by_type)
