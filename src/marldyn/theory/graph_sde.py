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
Σ_i = Σ(Q_i, X̃_i, p(·|i), k_i) (eq. 5; docs/diffusion.md), both computed here in numba
(:func:`agent_moments` is the same core with numpy in- and outputs). The Euler–Maruyama step of size h
(in simulator steps) is

    Q_i ← Q_i + μ_i h + √h L_i ξ_i,   L_i L_iᵀ = Σ_i,   ξ_i ~ N(0, I) independent over agents and steps,

so with h = 1 the increments have exactly the mean and covariance of one simulator step of that agent
given the current Q's and edge-state distributions (the noise of different agents is independent here;
the correlations through shared edges and shared neighbours are the subject of :mod:`marldyn.theory.lna`).
Larger h trades accuracy for speed (docs/fluctuations.md). ``noise=False`` gives the deterministic
per-agent system on the graph (the same drift, no diffusion).

The normal deviates come from the counter-based SplitMix64 stream of :mod:`marldyn.simulation.counter_rng`
(Marsaglia's polar method on fixed counters), indexed by (member key, step, agent, entry pair), so results do
not depend on how the output grid splits the run. Everything runs on one thread, members one after another
(N = 1e4 agents x 2e4 steps with dt = 1: ~55 s of CPU; docs/fluctuations.md).

Equations of docs/fluctuations.md: G1 (edge states), G2 (neighbourhoods), G3 (μ_i, Σ_i), G4 (the step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..errors import ConfigError, DivergenceError
from ..graphs import Graph
from ..learning import EXPECTED_SARSA, SARSA, rule_code
from ..policy import softmax_row
from ..progress import progress_bar
from ..simulation.counter_rng import run_key, uniform
from .markov import stationary_into

__all__ = ["GraphEnsembleTrajectory", "agent_moments", "graph_moments", "solve_graph_sde"]

TIMESCALES = ("reduced", "full")
_LOG_PMF_DEGREE = 512  # from this degree on, binomial weights are computed with lgamma (no under/overflow)


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
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    state_fraction: np.ndarray
    final_q: np.ndarray
    attrs: dict


# ----------------------------------------------------------------------------------------------
# numba: edge-count factors and the one-step moments of one agent (eqs. 5, 9; docs/diffusion.md)
# ----------------------------------------------------------------------------------------------
# The hot loop runs once per agent and step (2e8 times for N = 1e4, 2e4 steps), so these cores index
# the population arrays directly and never allocate: calling ``moments._td_moments_into`` on slices
# costs ~110 ns per agent (two allocations, array arguments), the flat loop below ~25 ns. The
# operations and their order are those of ``moments._td_moments_into`` / ``_drift_into`` /
# ``moments.diffusion``; tests/theory/test_graph_sde.py checks the results against them.
@njit(cache=True)
def _mean_inverse_count_scalar(probability, degree):
    """h = E[1/n; n ≥ 1] for n ~ Binomial(k, p) (docs/diffusion.md, section 2).

    The binomial weights are built by the ratio recursion from the end whose weight cannot underflow
    (p ≤ 1/2: from n = 0, weight (1 - p)^k; else from n = k, weight p^k); for k ≥ 512 by lgamma.
    """
    if degree <= 0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return 1.0 / degree
    total = 0.0
    if degree >= _LOG_PMF_DEGREE:
        log_p = math.log(probability)
        log_q = math.log1p(-probability)
        base = math.lgamma(degree + 1.0)
        for n in range(1, degree + 1):
            log_weight = base - math.lgamma(n + 1.0) - math.lgamma(degree - n + 1.0) + n * log_p + (degree - n) * log_q
            total += math.exp(log_weight) / n
        return total
    if probability <= 0.5:
        weight = (1.0 - probability) ** degree
        ratio = probability / (1.0 - probability)
        for n in range(1, degree + 1):
            weight *= ratio * (degree - n + 1) / n
            total += weight / n
    else:
        weight = probability**degree
        ratio = (1.0 - probability) / probability
        for n in range(degree, 0, -1):
            total += weight / n
            weight *= ratio * n / (degree - n + 1)
    return total


@njit(cache=True)
def _workspace(n_states, n_actions):
    """Scratch arrays of :func:`_moments_into` (allocated once per batch, never per agent)."""
    return (
        np.empty((n_states, n_actions)),  # δ̄(s, a), eq. (7)
        np.empty((n_states, n_actions)),  # E[δ² | a in s]
        np.empty((n_states, n_actions)),  # SARSA: D(s, a) = Q(s, a) - E V(s)
        np.empty(n_states),  # E V(s') of the rule
        np.empty(n_states),  # SARSA: Var V(s')
        np.empty(n_states),  # π_s = P(n_s ≥ 1)
        np.empty(n_states),  # h_s = E[1/n_s; n_s ≥ 1]
        np.empty(n_states),  # (1 - p_s)^k
        np.empty(n_states),  # p_s clipped to [0, 1]
        np.empty((n_states, n_actions, n_states)),  # W(s, a, z) = Σ_b X̃(s, b) T(s, a, b, z)
        np.empty((n_states, n_states)),  # π_{ss'} = P(n_s ≥ 1, n_s' ≥ 1)
    )


@njit(cache=True)
def _moments_into(
    i, q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, work, mu, sigma
):
    """μ (K, M) (eq. 9) and the exact one-step Σ (K M, K M) (eq. 5) of agent ``i``, into ``mu``, ``sigma``.

    ``q``, ``policy``, ``neighbor_policy`` (agent, state, action) and ``state_distribution`` (agent, state)
    are indexed at ``i``. δ̄ and E[δ²] as ``moments._td_moments_into`` (eqs. 6-7), μ as
    ``moments._drift_into`` (eq. 9), Σ as ``moments.diffusion`` (docs/diffusion.md, eqs. D3-D8, and for
    SARSA D2, D4-D5); all three rules. ``work`` is :func:`_workspace` (K, M).
    """
    n_states, n_actions = q.shape[1], q.shape[2]
    size = n_states * n_actions
    (
        mean,
        second,
        deviation,
        value_mean,
        value_variance,
        engaged,
        inverse,
        none,
        probability,
        next_state,
        joint_table,
    ) = work
    gamma2 = gamma * gamma
    # bootstrap statistics of V(s') (moments._bootstrap_statistics_into)
    for z in range(n_states):
        if rule == SARSA or rule == EXPECTED_SARSA:
            value = 0.0
            for a in range(n_actions):
                value += policy[i, z, a] * q[i, z, a]
            value_mean[z] = value
        else:
            value = q[i, z, 0]
            for a in range(1, n_actions):
                if q[i, z, a] > value:
                    value = q[i, z, a]
            value_mean[z] = value
        variance = 0.0
        for a in range(n_actions):
            if rule == SARSA:
                deviation[z, a] = q[i, z, a] - value_mean[z]
                variance += policy[i, z, a] * deviation[z, a] * deviation[z, a]
            else:
                deviation[z, a] = 0.0
        value_variance[z] = variance
    # TD moments (moments._td_moments_into) and W(s, a, z)
    for s in range(n_states):
        for a in range(n_actions):
            first = 0.0
            second_sum = 0.0
            for z in range(n_states):
                next_state[s, a, z] = 0.0
            for b in range(n_actions):
                opponent = neighbor_policy[i, s, b]
                if opponent == 0.0:
                    continue
                base = payoff[s, a, b] - q[i, s, a]
                for z in range(n_states):
                    weight = opponent * transition[s, a, b, z]
                    next_state[s, a, z] += weight
                    if rule == SARSA and z == s:
                        td = base + gamma * q[i, s, a]
                        spread = 0.0
                    else:
                        td = base + gamma * value_mean[z]
                        spread = gamma2 * value_variance[z]
                    first += weight * td
                    second_sum += weight * (td * td + spread)
            mean[s, a] = first
            second[s, a] = second_sum
    # edge counts and μ (moments._drift_into)
    for s in range(n_states):
        p = min(max(state_distribution[i, s], 0.0), 1.0)
        probability[s] = p
        if degree <= 0 or p <= 0.0:  # moments._interaction_probability_scalar, inlined
            engaged[s] = 0.0
        elif p >= 1.0:
            engaged[s] = 1.0
        else:
            engaged[s] = -math.expm1(degree * math.log1p(-p))
        inverse[s] = _mean_inverse_count_scalar(p, degree)
        none[s] = (1.0 - p) ** degree
        rate = alpha * engaged[s]
        for a in range(n_actions):
            mu[s, a] = mean[s, a] * (rate * policy[i, s, a])
    for s in range(n_states):  # π_{ss'} by inclusion-exclusion
        for t in range(s + 1, n_states):
            pair_none = min(max(1.0 - probability[s] - probability[t], 0.0), 1.0) ** degree
            joint = min(max(1.0 - none[s] - none[t] + pair_none, 0.0), 1.0)
            joint_table[s, t] = joint
            joint_table[t, s] = joint
    alpha2 = alpha * alpha
    for row in range(size):
        for col in range(size):
            sigma[row, col] = 0.0
    row = -1
    for s in range(n_states):
        for a in range(n_actions):
            row += 1
            # D4/D6: same state, same action (same state, other action: only -μμ, below)
            mean_square = mean[s, a] * mean[s, a]
            if rule == SARSA:
                extra = 0.0
                for z in range(n_states):
                    if z != s:
                        extra += next_state[s, a, z] * next_state[s, a, z] * value_variance[z]
                mean_square += gamma2 * extra
            within = max(second[s, a] - mean_square, 0.0)
            sigma[row, row] = alpha2 * policy[i, s, a] * (engaged[s] * mean_square + inverse[s] * within)
            # D5/D8: different states
            for t in range(n_states):
                if t == s:
                    continue
                for b in range(n_actions):
                    col = t * n_actions + b
                    first = mean[s, a] + gamma * next_state[s, a, t] * deviation[t, b]
                    other = mean[t, b] + gamma * next_state[t, b, s] * deviation[s, a]
                    cross_mean = first * other
                    if rule == SARSA:
                        extra = 0.0
                        for z in range(n_states):
                            if z != s and z != t:
                                extra += next_state[s, a, z] * next_state[t, b, z] * value_variance[z]
                        cross_mean = cross_mean + gamma2 * extra
                    sigma[row, col] = alpha2 * policy[i, s, a] * policy[i, t, b] * joint_table[s, t] * cross_mean
    row = 0
    for s in range(n_states):
        for a in range(n_actions):
            col = 0
            for t in range(n_states):
                for b in range(n_actions):
                    sigma[row, col] -= mu[s, a] * mu[t, b]
                    col += 1
            row += 1
    for row in range(size):
        for col in range(row + 1, size):
            value = 0.5 * (sigma[row, col] + sigma[col, row])
            sigma[row, col] = value
            sigma[col, row] = value


@njit(cache=True, inline="always")
def _engaged_scalar(probability, degree, none):
    """π = 1 - (1 - p)^k given ``none`` = (1 - p)^k; by -expm1(k log1p(-p)) where k p is small (no cancellation)."""
    if degree <= 0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return 1.0
    if degree * probability < 0.05:
        return -math.expm1(degree * math.log1p(-probability))
    return 1.0 - none


@njit(cache=True, inline="always")
def _moments_2x2_into(
    i, q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, mu, sigma
):
    """:func:`_moments_into` written out for two states, two actions and a deterministic bootstrap value
    (Q-learning, expected SARSA), where Σ is eqs. D6-D8 of docs/diffusion.md; ~8x faster (scalars only)."""
    values = (0.0, 0.0)
    for z in range(2):
        if rule == EXPECTED_SARSA:
            value = 0.0 + policy[i, z, 0] * q[i, z, 0] + policy[i, z, 1] * q[i, z, 1]
        else:
            value = q[i, z, 1] if q[i, z, 1] > q[i, z, 0] else q[i, z, 0]
        if z == 0:
            values = (value, 0.0)
        else:
            values = (values[0], value)
    v0, v1 = values
    mean = np.empty(4)  # (s, a) flattened; a 4-vector on the stack after LLVM's scalar replacement
    excess = np.empty(4)
    for s in range(2):
        for a in range(2):
            first = 0.0
            second = 0.0
            base_q = q[i, s, a]
            for b in range(2):
                opponent = neighbor_policy[i, s, b]
                base = payoff[s, a, b] - base_q
                w0 = opponent * transition[s, a, b, 0]
                w1 = opponent * transition[s, a, b, 1]
                t0 = base + gamma * v0
                t1 = base + gamma * v1
                first += w0 * t0
                second += w0 * (t0 * t0)
                first += w1 * t1
                second += w1 * (t1 * t1)
            mean[2 * s + a] = first
            excess[2 * s + a] = max(second - first * first, 0.0)
    p0 = min(max(state_distribution[i, 0], 0.0), 1.0)
    p1 = min(max(state_distribution[i, 1], 0.0), 1.0)
    none0 = (1.0 - p0) ** degree
    none1 = (1.0 - p1) ** degree
    engaged0 = _engaged_scalar(p0, degree, none0)
    engaged1 = _engaged_scalar(p1, degree, none1)
    inverse0 = _mean_inverse_count_scalar(p0, degree)
    inverse1 = _mean_inverse_count_scalar(p1, degree)
    joint = min(max(1.0 - none0 - none1 + min(max(1.0 - p0 - p1, 0.0), 1.0) ** degree, 0.0), 1.0)
    alpha2 = alpha * alpha
    drift = np.empty(4)
    for r in range(4):
        s = r // 2
        x = policy[i, s, r % 2]
        engaged = engaged0 if s == 0 else engaged1
        inverse = inverse0 if s == 0 else inverse1
        drift[r] = mean[r] * (alpha * engaged * x)
        mu[s, r % 2] = drift[r]
        sigma[r, r] = alpha2 * x * (engaged * mean[r] * mean[r] + inverse * excess[r]) - drift[r] * drift[r]
    for r in range(4):
        for c in range(r + 1, 4):
            value = -drift[r] * drift[c]
            if r < 2 and c >= 2:  # D8: different states
                value += alpha2 * policy[i, 0, r] * policy[i, 1, c - 2] * joint * mean[r] * mean[c]
            sigma[r, c] = value
            sigma[c, r] = value


@njit(cache=True)
def _agent_moments_batch(
    q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule
):
    n, n_states, n_actions = q.shape
    size = n_states * n_actions
    mu = np.empty((n, n_states, n_actions))
    sigma = np.empty((n, size, size))
    work = _workspace(n_states, n_actions)
    mu_i = np.empty((n_states, n_actions))
    sigma_i = np.empty((size, size))
    fast = n_states == 2 and n_actions == 2 and rule != SARSA
    for m in range(n):
        if fast:
            _moments_2x2_into(
                m,
                q,
                policy,
                neighbor_policy,
                state_distribution,
                degree[m],
                payoff,
                transition,
                alpha,
                gamma,
                rule,
                mu_i,
                sigma_i,
            )
        else:
            _moments_into(
                m,
                q,
                policy,
                neighbor_policy,
                state_distribution,
                degree[m],
                payoff,
                transition,
                alpha,
                gamma,
                rule,
                work,
                mu_i,
                sigma_i,
            )
        mu[m] = mu_i
        sigma[m] = sigma_i
    return mu, sigma


@njit(cache=True, inline="always")
def _psd_cholesky_into(matrix, out):
    """Lower-triangular L with L Lᵀ = ``matrix`` for a symmetric positive semi-definite matrix.

    A pivot at or below 1e-14 × the largest diagonal entry (a zero eigen-direction up to round-off)
    gives a zero column, so singular Σ (an action never played, a state never visited) is handled.
    """
    size = matrix.shape[0]
    scale = 0.0
    for r in range(size):
        if matrix[r, r] > scale:
            scale = matrix[r, r]
    threshold = 1e-14 * scale
    for r in range(size):
        for c in range(size):
            out[r, c] = 0.0
    for c in range(size):
        pivot = matrix[c, c]
        for k in range(c):
            pivot -= out[c, k] * out[c, k]
        if pivot <= threshold:
            continue
        root = math.sqrt(pivot)
        out[c, c] = root
        inverse = 1.0 / root
        for r in range(c + 1, size):
            value = matrix[r, c]
            for k in range(c):
                value -= out[r, k] * out[c, k]
            out[r, c] = value * inverse


_ATTEMPTS = 16  # polar-method attempts per normal pair before the Box–Muller fallback (P = 0.2146^16 ≈ 2e-11)


@njit(cache=True, inline="always")
def _normal_pair(key, counter):
    """Two independent standard normals from the counter-based stream: pair ``counter`` owns the uniforms
    ``32 counter .. 32 counter + 31``.

    Marsaglia's polar method (exact; one log and one square root, no trigonometry) on up to 16 pairs of
    uniforms; if all 16 are rejected, Box–Muller on the first pair (also exact).
    """
    base = counter * np.uint64(2 * _ATTEMPTS)
    for attempt in range(_ATTEMPTS):
        u = 2.0 * uniform(key, base + np.uint64(2 * attempt)) - 1.0
        v = 2.0 * uniform(key, base + np.uint64(2 * attempt + 1)) - 1.0
        radius2 = u * u + v * v
        if 0.0 < radius2 < 1.0:
            factor = math.sqrt(-2.0 * math.log(radius2) / radius2)
            return u * factor, v * factor
    u1 = uniform(key, base)
    u2 = uniform(key, base + np.uint64(1))
    radius = math.sqrt(-2.0 * math.log(1.0 - u1))  # 1 - u1 in (0, 1]
    return radius * math.cos(2.0 * math.pi * u2), radius * math.sin(2.0 * math.pi * u2)


@njit(cache=True)
def _normals(key, first_counter, count):
    """``count`` standard normals of the stream (for tests): pairs at counters first_counter, first_counter + 1, ..."""
    out = np.empty(count + (count % 2))
    for c in range(out.shape[0] // 2):
        out[2 * c], out[2 * c + 1] = _normal_pair(key, np.uint64(first_counter) + np.uint64(c))
    return out[:count]


# ----------------------------------------------------------------------------------------------
# numba: one member on the graph
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _policies(q, beta, policy):
    """X_i = softmax(β Q_i) of every agent (eq. 2)."""
    for i in range(q.shape[0]):
        for s in range(q.shape[1]):
            softmax_row(q[i, s], beta, policy[i, s])


@njit(cache=True)
def _edge_distributions_2x2(policy, edges, transition, initial, reduced, pair, chain):
    """:func:`_edge_distributions` written out for two states and two actions."""
    for e in range(edges.shape[0]):
        i = edges[e, 0]
        j = edges[e, 1]
        for s in range(2):
            x0 = policy[i, s, 0]
            x1 = policy[i, s, 1]
            y0 = policy[j, s, 0]
            y1 = policy[j, s, 1]
            to0 = x0 * y0 * transition[s, 0, 0, 0] + x0 * y1 * transition[s, 0, 1, 0]
            to0 += x1 * y0 * transition[s, 1, 0, 0] + x1 * y1 * transition[s, 1, 1, 0]
            to1 = x0 * y0 * transition[s, 0, 0, 1] + x0 * y1 * transition[s, 0, 1, 1]
            to1 += x1 * y0 * transition[s, 1, 0, 1] + x1 * y1 * transition[s, 1, 1, 1]
            chain[e, s, 0] = to0
            chain[e, s, 1] = to1
        if reduced:
            total = chain[e, 0, 1] + chain[e, 1, 0]
            if total > 0.0:
                pair[e, 0] = chain[e, 1, 0] / total
                pair[e, 1] = chain[e, 0, 1] / total
            else:
                stationary_into(chain[e], initial[e], True, pair[e])


@njit(cache=True)
def _edge_distributions(policy, edges, transition, initial, reduced, pair, chain):
    """Per edge e = (i, j): λ_e = λ(X_i, X_j) (eq. 12) into ``chain`` and, if ``reduced``, p_e = p*(λ_e)
    (eq. 18) into ``pair`` (closed form for two states; else ``markov.stationary_into``)."""
    n_states, n_actions = policy.shape[1], policy.shape[2]
    if n_states == 2 and n_actions == 2:
        _edge_distributions_2x2(policy, edges, transition, initial, reduced, pair, chain)
        return
    for e in range(edges.shape[0]):
        i = edges[e, 0]
        j = edges[e, 1]
        for s in range(n_states):  # markov.edge_transition_into, flat
            for t in range(n_states):
                chain[e, s, t] = 0.0
            for a in range(n_actions):
                x = policy[i, s, a]
                if x == 0.0:
                    continue
                for b in range(n_actions):
                    weight = x * policy[j, s, b]
                    if weight == 0.0:
                        continue
                    for t in range(n_states):
                        chain[e, s, t] += weight * transition[s, a, b, t]
        if reduced:
            if n_states == 2 and chain[e, 0, 1] + chain[e, 1, 0] > 0.0:
                out = chain[e, 0, 1] + chain[e, 1, 0]
                pair[e, 0] = chain[e, 1, 0] / out
                pair[e, 1] = chain[e, 0, 1] / out
            else:
                stationary_into(chain[e], initial[e], True, pair[e])


@njit(cache=True)
def _advance_edges(chain, pair, n_applications, current):
    """p_e ← p_e λ_e^n, the exact discrete master equation (eqs. 13-14) for n simulator steps."""
    n_states = pair.shape[1]
    for e in range(pair.shape[0]):
        for _ in range(n_applications):
            for t in range(n_states):
                value = 0.0
                for s in range(n_states):
                    value += pair[e, s] * chain[e, s, t]
                current[t] = value
            for t in range(n_states):
                pair[e, t] = current[t]


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


@njit(cache=True)
def _agent_step(
    q,
    policy,
    distribution,
    neighbor,
    degree,
    payoff,
    transition,
    alpha,
    gamma,
    rule,
    h,
    noise,
    key,
    counter0,
    work,
    mu,
    sigma,
    factor,
    xi,
):
    """Q_i ← Q_i + μ_i h + √h L_i ξ_i for every agent, in place (μ_i, Σ_i from the step's start values).

    ``policy``, ``distribution`` and ``neighbor`` hold the start-of-step values, so updating Q in place is safe.
    """
    n_agents, n_states, n_actions = q.shape
    size = n_states * n_actions
    pairs_per_agent = (size + 1) // 2
    root_h = math.sqrt(h)
    fast = n_states == 2 and n_actions == 2 and rule != SARSA
    for i in range(n_agents):
        if degree[i] == 0:
            continue
        if fast:
            _moments_2x2_into(
                i, q, policy, neighbor, distribution, degree[i], payoff, transition, alpha, gamma, rule, mu, sigma
            )
        else:
            _moments_into(
                i, q, policy, neighbor, distribution, degree[i], payoff, transition, alpha, gamma, rule, work, mu, sigma
            )
        if noise:
            _psd_cholesky_into(sigma, factor)
            base = counter0 + np.uint64(i * pairs_per_agent)
            for c in range(pairs_per_agent):
                xi[2 * c], xi[2 * c + 1] = _normal_pair(key, base + np.uint64(c))
            for s in range(n_states):
                for a in range(n_actions):
                    row = s * n_actions + a
                    kick = 0.0
                    for c in range(row + 1):
                        kick += factor[row, c] * xi[c]
                    q[i, s, a] += mu[s, a] * h + root_h * kick
        else:
            for s in range(n_states):
                for a in range(n_actions):
                    q[i, s, a] += mu[s, a] * h


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
    alpha,
    beta,
    gamma,
    rule,
    reduced,
    noise,
    key,
    per_step,
    policy,
    chain,
):
    """Integration steps ``first .. last - 1`` of one member, in place; leaves ``policy`` and (reduced) ``pair``
    at the values of the state reached (for the record)."""
    n_agents, n_states, n_actions = q.shape
    size = n_states * n_actions
    work = _workspace(n_states, n_actions)
    current = np.empty(n_states)
    distribution = np.empty((n_agents, n_states))
    neighbor = np.empty((n_agents, n_states, n_actions))
    mu = np.empty((n_states, n_actions))
    sigma = np.empty((size, size))
    factor = np.empty((size, size))
    xi = np.empty(size + 1)
    degree = np.empty(n_agents, dtype=np.int64)
    for i in range(n_agents):
        degree[i] = indptr[i + 1] - indptr[i]
    _policies(q, beta, policy)
    _edge_distributions(policy, edges, transition, initial, reduced, pair, chain)
    for step in range(first, last):
        h = sizes[step]
        _neighbourhoods(policy, pair, indptr, indices, half_edge, distribution, neighbor)
        _agent_step(
            q,
            policy,
            distribution,
            neighbor,
            degree,
            payoff,
            transition,
            alpha,
            gamma,
            rule,
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
            _advance_edges(chain, pair, int(round(h)), current)
        _policies(q, beta, policy)
        _edge_distributions(policy, edges, transition, initial, reduced, pair, chain)


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


def _pairs_per_agent(size):
    return (size + 1) // 2


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def agent_moments(q, neighbor_policy, state_distribution, degree, game, *, alpha, beta, gamma, rule="q_learning"):
    """μ (eq. 9) and the exact one-step Σ (eq. 5) of (a batch of) agents, from the numba core.

    The same quantities as :func:`marldyn.theory.moments.drift` and
    :func:`marldyn.theory.moments.diffusion` (to round-off), for all three rules; this is the code the
    ensemble runs per agent and step.

    Parameters
    ----------
    q, neighbor_policy : array_like, shape (..., state, action)
    state_distribution : array_like, shape (..., state)
    degree : int or array_like of int, shape (...)
    game : Game
    alpha, beta, gamma : float
    rule : str or int

    Returns
    -------
    mu : ndarray, shape (..., state, action)
    sigma : ndarray, shape (..., state * action, state * action)
    """
    from ..policy import boltzmann

    payoff, transition = game.arrays()
    n_states, n_actions = payoff.shape[:2]
    q = np.asarray(q, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    state_distribution = np.asarray(state_distribution, dtype=np.float64)
    degree = np.asarray(degree, dtype=np.int64)
    batch = np.broadcast_shapes(q.shape[:-2], neighbor_policy.shape[:-2], state_distribution.shape[:-1], degree.shape)
    if q.shape[-2:] != (n_states, n_actions) or neighbor_policy.shape[-2:] != (n_states, n_actions):
        raise ConfigError(f"q and neighbor_policy must have shape (..., {n_states}, {n_actions})")
    if state_distribution.shape[-1] != n_states:
        raise ConfigError(f"state_distribution must have shape (..., {n_states})")
    if np.any(degree < 0):
        raise ConfigError("degree must be a non-negative integer")

    def flat(array, tail):
        return np.ascontiguousarray(np.broadcast_to(array, batch + tail)).reshape((-1,) + tail)

    q_flat = flat(q, (n_states, n_actions))
    mu, sigma = _agent_moments_batch(
        q_flat,
        boltzmann(q_flat, beta),
        flat(neighbor_policy, (n_states, n_actions)),
        flat(state_distribution, (n_states,)),
        flat(degree, ()),
        payoff,
        transition,
        float(alpha),
        float(gamma),
        rule_code(rule),
    )
    size = n_states * n_actions
    return mu.reshape(batch + (n_states, n_actions)), sigma.reshape(batch + (size, size))


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


def _initial_pairs(initial_state_distribution, n_edges, n_states) -> np.ndarray:
    if initial_state_distribution is None:
        return np.full((n_edges, n_states), 1.0 / n_states)
    initial = np.asarray(initial_state_distribution, dtype=np.float64)
    if initial.shape not in ((n_states,), (n_edges, n_states)):
        raise ConfigError(f"initial_state_distribution must have shape ({n_states},) or ({n_edges}, {n_states})")
    if np.any(initial < 0) or np.any(np.abs(initial.sum(axis=-1) - 1.0) > 1e-9):
        raise ConfigError("initial_state_distribution must hold probability vectors")
    return np.ascontiguousarray(np.broadcast_to(initial, (n_edges, n_states)), dtype=np.float64)


def graph_moments(q, graph, game, *, alpha, beta, gamma, rule="q_learning", pair_distribution=None):
    """Per-agent drift and one-step diffusion on the graph, as the ensemble uses them (eqs. 5, 9, 18, 20).

    Parameters
    ----------
    q : array_like, shape (agent, state, action)
        Every agent's Q.
    graph : Graph
    game : Game
    alpha, beta, gamma : float
    rule : str or int
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
    policy = np.empty_like(q)
    _policies(q, float(beta), policy)
    chain = np.empty((edges.shape[0], n_states, n_states))
    if pair_distribution is None:
        pair = np.empty((edges.shape[0], n_states))
        initial = np.full((edges.shape[0], n_states), 1.0 / n_states)
        _edge_distributions(policy, edges, transition, initial, True, pair, chain)
    else:
        pair = np.ascontiguousarray(pair_distribution, dtype=np.float64)
    half_edge = _half_edges(graph)
    indptr, indices = np.asarray(graph.indptr, dtype=np.int64), np.asarray(graph.indices, dtype=np.int64)
    distribution = np.empty((n_agents, n_states))
    neighbor = np.empty((n_agents, n_states, n_actions))
    _neighbourhoods(policy, pair, indptr, indices, half_edge, distribution, neighbor)
    mu, sigma = _agent_moments_batch(
        q,
        policy,
        neighbor,
        distribution,
        np.diff(indptr),
        payoff,
        transition,
        float(alpha),
        float(gamma),
        rule_code(rule),
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
    alpha,
    beta,
    gamma,
    rule="q_learning",
    timescale="reduced",
    dt=1.0,
    noise=True,
    seed=0,
    initial_state_distribution=None,
    progress=None,
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
        ``q_learning``, ``sarsa`` or ``expected_sarsa`` (all three with the exact Σ).
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

    Returns
    -------
    GraphEnsembleTrajectory
    """
    payoff, transition = game.arrays()
    q_start = np.array(q0, dtype=np.float64)
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
    initial = _initial_pairs(initial_state_distribution, n_edges, n_states)
    code = rule_code(rule)
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys = [run_key(child) for child in root.spawn(n_runs)]
    per_step = np.uint64(n_agents * _pairs_per_agent(n_states * n_actions))
    shape = (n_runs, grid.size)
    out_q, out_std, out_policy = (np.empty(shape + (n_states, n_actions)) for _ in range(3))
    out_state = np.empty(shape + (n_states,))
    final = np.empty_like(q_start)
    policy = np.empty((n_agents, n_states, n_actions))
    chain = np.empty((n_edges, n_states, n_states))
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
                    float(alpha),
                    float(beta),
                    float(gamma),
                    code,
                    reduced,
                    bool(noise),
                    keys[r],
                    per_step,
                    policy,
                    chain,
                )
                bar.update(int(marks[record] - step))
                step = int(marks[record])
                _summary_into(
                    q, policy, pair, out_q[r, record], out_std[r, record], out_policy[r, record], out_state[r, record]
                )
                if not np.all(np.isfinite(out_q[r, record])):
                    raise DivergenceError(f"sde-graph: member {r} left the finite numbers before t = {grid[record]}")
            final[r] = q
    attrs = {
        "alpha": float(alpha),
        "beta": float(beta),
        "gamma": float(gamma),
        "timescale": timescale,
        "dt": float(dt),
        "noise": bool(noise),
        "members": int(n_runs),
        "agents": int(n_agents),
        "time_unit": "simulator steps",
    }
    return GraphEnsembleTrajectory(grid, out_q, out_policy, out_std, out_state, final, attrs)
