"""The one numba implementation of one agent's one-step moments: π (eq. 9), δ̄ (eq. 7), μ (eq. 9), Σ (eq. 5).

Every theory of marldyn calls these cores: the point mass (:mod:`~marldyn.theory.homogeneous`), the particles
(:mod:`~marldyn.theory.particles`), the SDE ensembles (:mod:`~marldyn.theory.sde`,
:mod:`~marldyn.theory.graph_sde`), the LNA and the fixed points, and the public numpy functions of
:mod:`~marldyn.theory.moments`, which are thin wrappers. The independent check -- the same formulas written with
``numpy.einsum`` -- lives in the tests (``tests/moments_reference.py``), beside enumeration and
Monte-Carlo checks of single steps.

Inputs of one focal agent (its *neighbourhood*, however the caller builds it):

- ``q``, ``policy`` (state, action): its Q-values and Boltzmann policy X = softmax(β Q) (eq. 2);
- ``neighbor_policy`` (state, action): X̃(s, ·), the action distribution of a neighbour met on an edge in s
  (eqs. 8, 20);
- ``state_distribution`` (state,): p(s | Q), the probability that one of its edges is in s; the k edge states
  are independent draws from it, so the counts (n_s) are multinomial(k, p);
- ``degree``: k, its number of edges;
- ``payoff`` U (state, action, action), ``transition`` T (state, action, action, state), ``alpha`` α,
  ``gamma`` γ, ``rule`` (integer code of :mod:`marldyn.learning`), ``faq_beta`` (frequency-adjusted
  Q-learning: the played action's update is scaled by c(s, a) = min(faq_beta / X(s, a), 1); 1 for every other
  rule, when c = 1 exactly and every result is bit for bit that of plain Q-learning).

The policy X is whatever the caller's agent plays: Boltzmann, ε-greedy or a committed agent's fixed table
(:mod:`marldyn.policy`); a committed agent passes α = 0, so that μ = 0 and Σ = 0.

Outputs: μ (state, action), the expected change of Q in one simulator step, and Σ (K M, K M), the covariance of
that change, in the row-major ordering of ``q.ravel()`` (docs/diffusion.md, eqs. D2-D8).

The cores never allocate: scratch arrays come from :func:`workspace` (once per batch), so the per-agent call
in the SDE ensembles stays at tens of nanoseconds.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..games import reward_at
from ..learning import EXPECTED_SARSA, SARSA, faq_scale

__all__ = [
    "MEAN",
    "SECOND",
    "bootstrap_value_into",
    "drift_batch",
    "drift_into",
    "interaction_probability_batch",
    "interaction_probability_scalar",
    "joint_interaction_probability_batch",
    "joint_interaction_probability_scalar",
    "mean_inverse_count_batch",
    "mean_inverse_count_scalar",
    "moments_batch",
    "moments_into",
    "outcome_batch",
    "outcome_into",
    "pair_td_into",
    "shared_noise_into",
    "success_count_into",
    "td_moments_batch",
    "td_moments_into",
    "workspace",
]

LOG_PMF_DEGREE = 512  # from this degree on, binomial weights are computed with lgamma (no under/overflow)

# Fields of the workspace tuple (see ``workspace``).
MEAN, SECOND, DEVIATION, VALUE_MEAN, VALUE_VARIANCE, ENGAGED, INVERSE, PROBABILITY, NEXT_STATE, JOINT, SCALE = range(11)


# ----------------------------------------------------------------------------------------------
# Edge counts: multinomial(k, p)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def interaction_probability_scalar(probability, degree):
    """π = P(n ≥ 1) = 1 - (1 - p)^k for n ~ Binomial(k, p), eq. (9).

    Where k p < 1/2 (so (1 - p)^k is near 1 and ``1 - (1 - p)^k`` would cancel) it is computed as
    -expm1(k log1p(-p)), accurate to the last digits for any small p; elsewhere π > 0.39, and 1 - (1 - p)^k
    (a few ulp of error from the power) is accurate to ~1e-14 relative without a transcendental function.
    ``probability`` is clipped to [0, 1]; π = 0 for k = 0, 1 at p = 1.

    Examples
    --------
    >>> from marldyn.theory.one_step import interaction_probability_scalar
    >>> interaction_probability_scalar(0.5, 4)  # 1 - (1 - 0.5)**4
    0.9375
    >>> interaction_probability_scalar(1e-12, 4)  # k p, without the cancellation of 1 - (1 - p)**k
    3.999999999994e-12
    """
    if degree <= 0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return 1.0
    if degree * probability < 0.5:
        return -math.expm1(degree * math.log1p(-probability))
    return 1.0 - (1.0 - probability) ** degree


@njit(cache=True)
def joint_interaction_probability_scalar(first, second, degree):
    """π_{ss'} = P(n_s ≥ 1, n_s' ≥ 1) for two different states of multinomial(k, p) edge counts.

    Inclusion-exclusion: 1 - (1 - p_s)^k - (1 - p_s')^k + (1 - p_s - p_s')^k, clipped to [0, 1]
    (0 for k = 1: one edge is in one state). ``first``, ``second``: p_s, p_s' (each clipped to [0, 1]).

    Examples
    --------
    >>> from marldyn.theory.one_step import joint_interaction_probability_scalar
    >>> joint_interaction_probability_scalar(0.5, 0.5, 4)  # 1 - 2 (1 - 0.5)**4 + 0**4
    0.875
    >>> joint_interaction_probability_scalar(0.5, 0.5, 1)  # one edge is in one state
    0.0
    """
    p = min(max(first, 0.0), 1.0)
    r = min(max(second, 0.0), 1.0)
    if degree <= 0:
        return 0.0
    both_none = min(max(1.0 - p - r, 0.0), 1.0) ** degree
    return min(max(1.0 - (1.0 - p) ** degree - (1.0 - r) ** degree + both_none, 0.0), 1.0)


@njit(cache=True)
def mean_inverse_count_scalar(probability, degree):
    """h = E[1/n; n ≥ 1] for n ~ Binomial(k, p) (docs/diffusion.md, section 2).

    The variance of the mean of n independent TD errors is v / n; h is its expectation factor. The binomial
    weights are built by the ratio recursion from the end whose weight cannot underflow (p ≤ 1/2: from n = 0,
    weight (1 - p)^k; else from n = k, weight p^k); for k ≥ 512 by lgamma.

    Examples
    --------
    >>> from marldyn.theory.one_step import mean_inverse_count_scalar
    >>> mean_inverse_count_scalar(0.5, 2)  # P(n = 1) / 1 + P(n = 2) / 2 = 0.5 + 0.25 / 2
    0.625
    >>> mean_inverse_count_scalar(1.0, 4)  # every edge in the state: 1 / 4
    0.25
    """
    if degree <= 0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return 1.0 / degree
    total = 0.0
    if degree >= LOG_PMF_DEGREE:
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


# ----------------------------------------------------------------------------------------------
# What an agent meets: the outcome distribution and the reward
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def outcome_into(neighbor_policy, group_size, out):
    """The distribution of the outcome an agent meets in each state, into ``out`` (state, outcome).

    ``group_size`` 0 (a pairwise game): the neighbour's action, ``out = X̃`` (outcome = action). ``group_size``
    n ≥ 2 (a group game, co-players i.i.d. from X̃): j, the number of the n - 1 co-players choosing action 0,
    Binomial(n - 1, X̃(s, 0)) (outcome j = 0..n-1), with the weights built by the ratio recursion from the end
    whose weight cannot underflow.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import outcome_into
    >>> out = np.empty((1, 4))
    >>> outcome_into(np.array([[0.5, 0.5]]), 4, out)  # three co-players: Binomial(3, 1/2)
    >>> out
    array([[0.125, 0.375, 0.375, 0.125]])
    """
    n_states = neighbor_policy.shape[0]
    if group_size == 0:
        for s in range(n_states):
            for b in range(neighbor_policy.shape[1]):
                out[s, b] = neighbor_policy[s, b]
        return
    trials = group_size - 1
    for s in range(n_states):
        p = min(max(neighbor_policy[s, 0], 0.0), 1.0)
        for j in range(group_size):
            out[s, j] = 0.0
        if p <= 0.5:
            weight = (1.0 - p) ** trials
            out[s, 0] = weight
            if p > 0.0:
                ratio = p / (1.0 - p)
                for j in range(1, trials + 1):
                    weight *= ratio * (trials - j + 1) / j
                    out[s, j] = weight
        else:
            weight = p**trials
            out[s, trials] = weight
            if p < 1.0:
                ratio = (1.0 - p) / p
                for j in range(trials, 0, -1):
                    weight *= ratio * j / (trials - j + 1)
                    out[s, j - 1] = weight


@njit(cache=True)
def success_count_into(probability, trials, out):
    """P(m successes), m = 0..trials, of independent Bernoulli trials with the success probabilities
    ``probability[:trials]`` (Poisson-binomial), into ``out[:trials + 1]``, by the one-trial-at-a-time recursion.

    The count of a group's members choosing action 0 when each plays its own policy (the per-agent SDE on the
    graph); Binomial when they are equal (:func:`outcome_into`).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import success_count_into
    >>> out = np.empty(3)
    >>> success_count_into(np.array([0.5, 0.2]), 2, out)
    >>> out  # P(0) = 0.5 * 0.8, P(1) = 0.5 * 0.8 + 0.5 * 0.2, P(2) = 0.5 * 0.2
    array([0.4, 0.5, 0.1])
    """
    out[0] = 1.0
    for m in range(1, trials + 1):
        out[m] = 0.0
    for t in range(trials):
        p = min(max(probability[t], 0.0), 1.0)
        for m in range(t + 1, 0, -1):
            out[m] = out[m] * (1.0 - p) + out[m - 1] * p
        out[0] *= 1.0 - p


@njit(cache=True)
def outcome_batch(neighbor_policy, group_size):
    """:func:`outcome_into` for a batch (n, state, action) → (n, state, outcome); a copy when pairwise.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import outcome_batch
    >>> outcome_batch(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]), 3)[:, 0]  # all co-players cooperate / defect
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    n_rows, n_states, n_actions = neighbor_policy.shape
    n_outcomes = n_actions if group_size == 0 else group_size
    out = np.empty((n_rows, n_states, n_outcomes))
    for n in range(n_rows):
        outcome_into(neighbor_policy[n], group_size, out[n])
    return out


# ----------------------------------------------------------------------------------------------
# One agent
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def workspace(n_states, n_actions):
    """Scratch arrays of the cores for (K, M), as a tuple (allocate once per batch, never per agent).

    Fields (indices ``MEAN`` … ``JOINT`` of this module): δ̄(s, a) (eq. 7); E[δ² | a in s]; SARSA's
    D(s, a) = Q(s, a) - E V(s); E V(s') of the rule; SARSA's Var V(s'); π_s; h_s; p_s clipped to [0, 1];
    W(s, a, z) = Σ_b X̃(s, b) T(s, a, b, z); π_{ss'}; FAQ's c(s, a) = min(faq_beta / X(s, a), 1).

    Examples
    --------
    >>> from marldyn.theory.one_step import MEAN, NEXT_STATE, workspace
    >>> work = workspace(2, 2)  # K = 2 states, M = 2 actions
    >>> len(work), work[MEAN].shape, work[NEXT_STATE].shape
    (11, (2, 2), (2, 2, 2))
    """
    return (
        np.empty((n_states, n_actions)),
        np.empty((n_states, n_actions)),
        np.empty((n_states, n_actions)),
        np.empty(n_states),
        np.empty(n_states),
        np.empty(n_states),
        np.empty(n_states),
        np.empty(n_states),
        np.empty((n_states, n_actions, n_states)),
        np.empty((n_states, n_states)),
        np.empty((n_states, n_actions)),
    )


@njit(cache=True, inline="always")
def bootstrap_value_into(q, policy, rule, out):
    """E V(z) of the rule's bootstrap value per state z (eqs. 4, 6), into ``out`` (K,).

    max Q(z, ·) (Q-learning); Σ X(z, ·) Q(z, ·) (expected SARSA, and SARSA's mean over its own draw a(z) ~ X).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import bootstrap_value_into
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> value = np.empty(2)
    >>> bootstrap_value_into(q, boltzmann(q, 1.0), rule_code("q_learning"), value)
    >>> value  # max Q(z, ·)
    array([0.5, 0.5])
    >>> bootstrap_value_into(q, boltzmann(q, 1.0), rule_code("expected_sarsa"), value)
    >>> value.round(4)  # Σ X(z, ·) Q(z, ·) = 0.5 / (1 + exp(-0.5))
    array([0.3112, 0.3112])
    """
    n_states, n_actions = q.shape
    for z in range(n_states):
        if rule == SARSA or rule == EXPECTED_SARSA:
            value = 0.0
            for a in range(n_actions):
                value += policy[z, a] * q[z, a]
        else:
            value = q[z, 0]
            for a in range(1, n_actions):
                if q[z, a] > value:
                    value = q[z, a]
        out[z] = value


@njit(cache=True)
def td_moments_into(q, policy, neighbor_policy, payoff, transition, gamma, rule, work):
    """δ̄(s, a) (eq. 7) and E[δ² | a chosen in s] of one edge, into ``work[MEAN]``, ``work[SECOND]``.

    ``neighbor_policy`` (state, outcome) is the distribution of what the agent meets: the neighbour's action
    (outcome = action) in a pairwise game, the number j of co-players choosing action 0 in a group game
    (:func:`outcome_into`), with ``payoff`` (state, action, outcome[, next state]) and ``transition`` (state,
    action, outcome, next state) in the same outcomes (:meth:`marldyn.group_games.GroupGame.sized`).

    δ = U(s, a, ã) + γ V(s') - Q(s, a) (eqs. 4, 6) with ã ~ X̃(s, ·), s' ~ T(s, a, ã, ·) and the rule's
    bootstrap value V: max Q(s', ·) (Q-learning), Σ X(s', ·) Q(s', ·) (expected SARSA), Q(s', a(s')) with the
    agent's own draw a(s') ~ X(s', ·) (SARSA; Q(s, a) itself when s' = s, shared/NOTES.md 8). Also fills
    E V, Var V, D = Q - E V (SARSA) and W(s, a, z) = Σ_b X̃(s, b) T(s, a, b, z), which Σ needs.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import MEAN, NEXT_STATE, SECOND, td_moments_into, workspace
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> neighbor_policy = np.array([[0.6, 0.4], [0.4, 0.6]])
    >>> work = workspace(2, 2)
    >>> td_moments_into(q, boltzmann(q, 1.0), neighbor_policy, payoff, transition, 0.8, rule_code("q_learning"), work)
    >>> work[MEAN]  # δ̄(s, a); rows s1, s2, columns C, D
    array([[2.4 , 3.4 ],
           [0.38, 0.38]])
    >>> work[SECOND]  # E[δ² | a chosen in s]
    array([[11.76, 17.56],
           [ 0.49,  0.49]])
    >>> work[NEXT_STATE].sum(axis=-1)  # W(s, a, ·), the distribution of the next state
    array([[1., 1.],
           [1., 1.]])
    """
    mean = work[MEAN]
    second = work[SECOND]
    deviation = work[DEVIATION]
    value_mean = work[VALUE_MEAN]
    value_variance = work[VALUE_VARIANCE]
    next_state = work[NEXT_STATE]
    n_states, n_actions = q.shape
    gamma2 = gamma * gamma
    bootstrap_value_into(q, policy, rule, value_mean)
    for z in range(n_states):  # statistics of V(s') over the agent's own draw in s'
        value = value_mean[z]
        variance = 0.0
        for a in range(n_actions):
            if rule == SARSA:
                deviation[z, a] = q[z, a] - value
                variance += policy[z, a] * deviation[z, a] * deviation[z, a]
            else:
                deviation[z, a] = 0.0
        value_variance[z] = variance
    sarsa = rule == SARSA
    n_outcomes = neighbor_policy.shape[1]
    for s in range(n_states):
        for a in range(n_actions):
            first = 0.0
            second_sum = 0.0
            base_q = q[s, a]
            for b in range(n_outcomes):
                opponent = neighbor_policy[s, b]
                for z in range(n_states):
                    base = reward_at(payoff, s, a, b, z) - base_q
                    weight = opponent * transition[s, a, b, z]
                    if sarsa and z == s:
                        td = base + gamma * base_q
                        spread = 0.0
                    else:
                        td = base + gamma * value_mean[z]
                        spread = gamma2 * value_variance[z]
                    first += weight * td
                    second_sum += weight * (td * td + spread)
            mean[s, a] = first
            second[s, a] = second_sum
            for z in range(n_states):
                flow = 0.0
                for b in range(n_outcomes):
                    flow += neighbor_policy[s, b] * transition[s, a, b, z]
                next_state[s, a, z] = flow


@njit(cache=True)
def _counts_and_drift_into(policy, state_distribution, degree, alpha, faq_beta, work, mu):
    """π_s, h_s, p_s, c(s, a) into ``work`` and μ(s, a) = α π_s X(s, a) c(s, a) δ̄(s, a) (eq. 9) into ``mu``."""
    mean = work[MEAN]
    engaged = work[ENGAGED]
    inverse = work[INVERSE]
    probability = work[PROBABILITY]
    scale = work[SCALE]
    n_states, n_actions = policy.shape
    for s in range(n_states):
        p = min(max(state_distribution[s], 0.0), 1.0)
        probability[s] = p
        engaged[s] = interaction_probability_scalar(p, degree)
        inverse[s] = mean_inverse_count_scalar(p, degree)
        rate = alpha * engaged[s]
        for a in range(n_actions):
            scale[s, a] = faq_scale(faq_beta, policy[s, a])
            mu[s, a] = mean[s, a] * (rate * (policy[s, a] * scale[s, a]))


@njit(cache=True)
def moments_into(
    q,
    policy,
    neighbor_policy,
    state_distribution,
    degree,
    payoff,
    transition,
    alpha,
    gamma,
    rule,
    faq_beta,
    work,
    mu,
    sigma,
):
    """μ (K, M) (eq. 9) and the exact one-step covariance Σ (K M, K M) (eq. 5) of one agent.

    With π_s = P(n_s ≥ 1), π_{ss'} = P(n_s ≥ 1, n_s' ≥ 1), h_s = E[1/n_s; n_s ≥ 1] and, for Q-learning and
    expected SARSA (deterministic bootstrap values), v = E[δ²] - δ̄² one edge's TD variance
    (docs/diffusion.md, eqs. D3-D8):

    - Σ[(s,a),(s,a)] = α² X(s,a) [π_s δ̄(s,a)² + h_s v(s,a)] - μ(s,a)²;
    - Σ[(s,a),(s,a')] = -μ(s,a) μ(s,a'), a ≠ a' (one action per state moves);
    - Σ[(s,a),(s',a')] = α² X(s,a) X(s',a') (π_{ss'} - π_s π_s') δ̄(s,a) δ̄(s',a'), s ≠ s'.

    FAQ multiplies every α by the played action's c(s, a) = min(faq_beta / X(s, a), 1).

    For SARSA the TD errors also depend on the agent's own draws in the other states (eqs. D2, D4-D5): the
    γ² Var V terms and the coupling through V(s') = Q(s', a(s')) are included. Σ is exactly symmetric (each
    entry is computed once and written to both halves).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import moments_into, workspace
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> neighbor_policy = np.array([[0.6, 0.4], [0.4, 0.6]])
    >>> work, mu, sigma = workspace(2, 2), np.empty((2, 2)), np.empty((4, 4))
    >>> moments_into(q, boltzmann(q, 1.0), neighbor_policy, np.array([0.5, 0.5]), 4, payoff, transition,
    ...              0.01, 0.8, rule_code("q_learning"), 1.0, work, mu, sigma)
    >>> (np.diag(sigma) / 0.01**2).round(3)  # variances of ΔQ(s, a), O(α²)
    array([3.403, 3.859, 0.103, 0.15 ])
    >>> bool(np.array_equal(sigma, sigma.T))
    True
    """
    td_moments_into(q, policy, neighbor_policy, payoff, transition, gamma, rule, work)
    _counts_and_drift_into(policy, state_distribution, degree, alpha, faq_beta, work, mu)
    scale = work[SCALE]
    mean = work[MEAN]
    second = work[SECOND]
    deviation = work[DEVIATION]
    value_variance = work[VALUE_VARIANCE]
    engaged = work[ENGAGED]
    inverse = work[INVERSE]
    probability = work[PROBABILITY]
    next_state = work[NEXT_STATE]
    joint_table = work[JOINT]
    n_states, n_actions = q.shape
    gamma2 = gamma * gamma
    alpha2 = alpha * alpha
    sarsa = rule == SARSA
    for s in range(n_states):
        for t in range(s + 1, n_states):
            joint = joint_interaction_probability_scalar(probability[s], probability[t], degree)
            joint_table[s, t] = joint
            joint_table[t, s] = joint
    # One pass over the upper triangle (row (s, a) <= column (t, b)); every entry is symmetric by construction.
    for s in range(n_states):
        for a in range(n_actions):
            row = s * n_actions + a
            # D4/D6: same state, same action
            mean_square = mean[s, a] * mean[s, a]
            if sarsa:
                extra = 0.0
                for z in range(n_states):
                    if z != s:
                        extra += next_state[s, a, z] * next_state[s, a, z] * value_variance[z]
                mean_square += gamma2 * extra
            within = max(second[s, a] - mean_square, 0.0)
            weight = policy[s, a] * (scale[s, a] * scale[s, a])
            sigma[row, row] = alpha2 * weight * (engaged[s] * mean_square + inverse[s] * within) - mu[s, a] * mu[s, a]
            # same state, other action: one action per state moves, so only -μμ
            for b in range(a + 1, n_actions):
                value = -mu[s, a] * mu[s, b]
                sigma[row, s * n_actions + b] = value
                sigma[s * n_actions + b, row] = value
            # D5/D8: different states
            for t in range(s + 1, n_states):
                for b in range(n_actions):
                    col = t * n_actions + b
                    first = mean[s, a] + gamma * next_state[s, a, t] * deviation[t, b]
                    other = mean[t, b] + gamma * next_state[t, b, s] * deviation[s, a]
                    cross_mean = first * other
                    if sarsa:
                        extra = 0.0
                        for z in range(n_states):
                            if z != s and z != t:
                                extra += next_state[s, a, z] * next_state[t, b, z] * value_variance[z]
                        cross_mean = cross_mean + gamma2 * extra
                    both = alpha2 * (policy[s, a] * scale[s, a]) * (policy[t, b] * scale[t, b])
                    value = both * joint_table[s, t] * cross_mean - mu[s, a] * mu[t, b]
                    sigma[row, col] = value
                    sigma[col, row] = value


@njit(cache=True)
def drift_into(
    q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, faq_beta, work, mu
):
    """μ(s, a) = α [1 - (1 - p(s))^k] X(s, a) c(s, a) δ̄(s, a), eq. (9), of one agent, into ``mu`` (K, M).

    Exact for one step of Algorithm 1 given the inputs: Q(s, a) moves iff a(s) = a and n_s ≥ 1, and then by
    α c(s, a) δ̄(s, a) in expectation (c = min(faq_beta / X, 1) for FAQ, 1 otherwise). ``work``:
    :func:`workspace`.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import ENGAGED, MEAN, drift_into, workspace
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> policy = boltzmann(q, 1.0)
    >>> neighbor_policy = np.array([[0.6, 0.4], [0.4, 0.6]])
    >>> work, mu = workspace(2, 2), np.empty((2, 2))
    >>> drift_into(q, policy, neighbor_policy, np.array([0.5, 0.5]), 4, payoff, transition, 0.01, 0.8,
    ...            rule_code("q_learning"), 1.0, work, mu)
    >>> mu.round(5)  # Q units per step
    array([[0.01401, 0.01203],
           [0.00134, 0.00222]])
    >>> work[ENGAGED]  # π_s = 1 - (1 - 0.5)**4
    array([0.9375, 0.9375])
    >>> bool(np.allclose(mu, 0.01 * work[ENGAGED][:, None] * policy * work[MEAN]))  # μ = α π X δ̄
    True
    """
    td_moments_into(q, policy, neighbor_policy, payoff, transition, gamma, rule, work)
    _counts_and_drift_into(policy, state_distribution, degree, alpha, faq_beta, work, mu)


# ----------------------------------------------------------------------------------------------
# Batches (one agent after another; the numpy wrappers and the tests call these)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def td_moments_batch(q, policy, neighbor_policy, payoff, transition, gamma, rule):
    """δ̄ and E[δ²] (agent, state, action) of a batch of agents (:func:`td_moments_into` for each).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import td_moments_batch
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.stack([[[0.5, 0.0], [0.0, 0.5]], np.zeros((2, 2))])  # two agents
    >>> neighbor_policy = np.full((2, 2, 2), 0.5)
    >>> mean, second = td_moments_batch(q, boltzmann(q, 1.0), neighbor_policy, payoff, transition, 0.8,
    ...                                 rule_code("q_learning"))
    >>> mean.shape, second.shape  # (agent, state, action)
    ((2, 2, 2), (2, 2, 2))
    >>> mean[1]  # at Q = 0, δ̄(s, a) = Σ_b X̃(s, b) U(s, a, b)
    array([[2. , 2.5],
           [0.1, 0.6]])
    """
    n_agents, n_states, n_actions = q.shape
    mean = np.empty((n_agents, n_states, n_actions))
    second = np.empty((n_agents, n_states, n_actions))
    work = workspace(n_states, n_actions)
    for n in range(n_agents):
        td_moments_into(q[n], policy[n], neighbor_policy[n], payoff, transition, gamma, rule, work)
        mean[n] = work[MEAN]
        second[n] = work[SECOND]
    return mean, second


@njit(cache=True)
def drift_batch(
    q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, faq_beta
):
    """μ (agent, state, action) of a batch of agents (:func:`drift_into` for each); ``degree`` (agent,).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import drift_batch
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.tile([[0.5, 0.0], [0.0, 0.5]], (2, 1, 1))  # two agents with the same table ...
    >>> degree = np.array([4, 1])  # ... and different degrees
    >>> neighbor_policy = np.full((2, 2, 2), 0.5)
    >>> state_distribution = np.full((2, 2), 0.5)
    >>> mu = drift_batch(q, boltzmann(q, 1.0), neighbor_policy, state_distribution, degree, payoff, transition,
    ...                  0.01, 0.8, rule_code("q_learning"), 1.0)
    >>> mu.shape
    (2, 2, 2)
    >>> (mu[1] / mu[0]).round(4)  # π(k = 1) / π(k = 4) = 0.5 / 0.9375
    array([[0.5333, 0.5333],
           [0.5333, 0.5333]])
    """
    n_agents, n_states, n_actions = q.shape
    mu = np.empty((n_agents, n_states, n_actions))
    work = workspace(n_states, n_actions)
    for n in range(n_agents):
        drift_into(
            q[n],
            policy[n],
            neighbor_policy[n],
            state_distribution[n],
            degree[n],
            payoff,
            transition,
            alpha,
            gamma,
            rule,
            faq_beta,
            work,
            mu[n],
        )
    return mu


@njit(cache=True)
def moments_batch(
    q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, faq_beta
):
    """μ (agent, state, action) and Σ (agent, K M, K M) of a batch of agents (:func:`moments_into` for each).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.one_step import drift_batch, moments_batch
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.stack([[[0.5, 0.0], [0.0, 0.5]], np.zeros((2, 2))])  # two agents
    >>> arguments = (q, boltzmann(q, 1.0), np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), np.array([4, 4]),
    ...              payoff, transition, 0.01, 0.8, rule_code("q_learning"), 1.0)
    >>> mu, sigma = moments_batch(*arguments)
    >>> mu.shape, sigma.shape
    ((2, 2, 2), (2, 4, 4))
    >>> bool(np.array_equal(mu, drift_batch(*arguments))), bool(np.linalg.eigvalsh(sigma).min() >= 0.0)
    (True, True)
    """
    n_agents, n_states, n_actions = q.shape
    size = n_states * n_actions
    mu = np.empty((n_agents, n_states, n_actions))
    sigma = np.empty((n_agents, size, size))
    work = workspace(n_states, n_actions)
    for n in range(n_agents):
        moments_into(
            q[n],
            policy[n],
            neighbor_policy[n],
            state_distribution[n],
            degree[n],
            payoff,
            transition,
            alpha,
            gamma,
            rule,
            faq_beta,
            work,
            mu[n],
            sigma[n],
        )
    return mu, sigma


@njit(cache=True)
def interaction_probability_batch(probability, degree):
    """π for flat arrays ``probability`` (n,) and ``degree`` (n,) (:func:`interaction_probability_scalar`).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import interaction_probability_batch
    >>> interaction_probability_batch(np.array([0.5, 0.1]), np.array([4, 4]))  # 1 - (1 - p)**4
    array([0.9375, 0.3439])
    """
    out = np.empty(probability.shape[0])
    for n in range(probability.shape[0]):
        out[n] = interaction_probability_scalar(probability[n], degree[n])
    return out


@njit(cache=True)
def mean_inverse_count_batch(probability, degree):
    """h for flat arrays ``probability`` (n,) and ``degree`` (n,) (:func:`mean_inverse_count_scalar`).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import mean_inverse_count_batch
    >>> mean_inverse_count_batch(np.array([1.0, 0.5]), np.array([4, 2]))
    array([0.25 , 0.625])
    """
    out = np.empty(probability.shape[0])
    for n in range(probability.shape[0]):
        out[n] = mean_inverse_count_scalar(probability[n], degree[n])
    return out


@njit(cache=True)
def joint_interaction_probability_batch(probability, degree):
    """π_{ss'} (n, state, state) for ``probability`` (n, state), ``degree`` (n,); the diagonal holds π_s.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.one_step import joint_interaction_probability_batch
    >>> joint_interaction_probability_batch(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([4, 1]))
    array([[[0.9375, 0.875 ],
            [0.875 , 0.9375]],
    <BLANKLINE>
           [[0.9   , 0.    ],
            [0.    , 0.1   ]]])
    """
    n_rows, n_states = probability.shape
    out = np.empty((n_rows, n_states, n_states))
    for n in range(n_rows):
        for s in range(n_states):
            out[n, s, s] = interaction_probability_scalar(probability[n, s], degree[n])
            for t in range(s + 1, n_states):
                value = joint_interaction_probability_scalar(probability[n, s], probability[n, t], degree[n])
                out[n, s, t] = value
                out[n, t, s] = value
    return out


# ----------------------------------------------------------------------------------------------
# Two agents at a homogeneous point: the noise they share (LNA eqs. L6-L7, docs/fluctuations.md)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def pair_td_into(q, policy, payoff, transition, gamma, rule, expected_td, product_td, common_product):
    """TD products of two agents with the same table Q and policy X, Q-learning or expected SARSA (eq. L6-L7).

    - ``expected_td`` r(s, a, b) = Σ_z T(s, a, b, z) [U(s, a, b) + γ V(z)] - Q(s, a): the expected TD error
      of an agent playing a against b;
    - ``product_td`` E_z[δ_i δ_j | s, a, b] on one shared edge (i plays a, j plays b, both bootstrap from the
      same next state z; δ_j uses U(s, b, a) and Q(s, b));
    - ``common_product`` Σ_c X(s, c) r(s, a, c) r(s, b, c): two agents meeting one common neighbour's action c.

    All (state, action, action). V is :func:`bootstrap_value_into`'s; for SARSA that is the mean over the own
    draw, whose spread is not derived here (the LNA and the closure refuse SARSA before calling).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.moments import mean_td_error
    >>> from marldyn.theory.one_step import pair_td_into
    >>> game = two_state_pd()
    >>> payoff, transition = game.arrays()
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> policy = boltzmann(q, 1.0)
    >>> expected_td, product_td, common_product = (np.empty((2, 2, 2)) for _ in range(3))
    >>> pair_td_into(q, policy, payoff, transition, 0.8, rule_code("q_learning"), expected_td, product_td,
    ...              common_product)
    >>> expected_td[0]  # r(s1, a, b) = U(s1, a, b) + 0.8 max Q(z, ·) - Q(s1, a); rows a, columns b
    array([[ 4.4, -0.6],
           [ 5.4,  0.4]])
    >>> delta = mean_td_error(q, policy, game, beta=1.0, gamma=0.8)  # δ̄ = Σ_b X(s, b) r(s, a, b)
    >>> bool(np.allclose(np.einsum("sb,sab->sa", policy, expected_td), delta))
    True
    """
    n_states, n_actions = q.shape
    value = np.empty(n_states)
    bootstrap_value_into(q, policy, rule, value)
    for s in range(n_states):
        for a in range(n_actions):
            for b in range(n_actions):
                first = 0.0
                both = 0.0
                for z in range(n_states):
                    weight = transition[s, a, b, z]
                    own = reward_at(payoff, s, a, b, z) + gamma * value[z] - q[s, a]
                    other = reward_at(payoff, s, b, a, z) + gamma * value[z] - q[s, b]
                    first += weight * own
                    both += weight * own * other
                expected_td[s, a, b] = first
                product_td[s, a, b] = both
    for s in range(n_states):
        for a in range(n_actions):
            for b in range(n_actions):
                total = 0.0
                for c in range(n_actions):
                    total += policy[s, c] * expected_td[s, a, c] * expected_td[s, b, c]
                common_product[s, a, b] = total


@njit(cache=True)
def shared_noise_into(policy, state_distribution, degree_i, degree_j, alpha, product_td, common_product, edge, common):
    """One-step noise covariance of two agents i, j with the same X, edge states i.i.d. from p (eqs. L6-L7).

    On the (s, s) diagonal blocks of (K M, K M), zero elsewhere:

    - ``edge`` (one shared edge): α² X(s, a) X(s, b) F_s E_z[δ_i δ_j | s, a, b],
      F_s = π_s(k_i) π_s(k_j) / (k_i k_j p_s);
    - ``common`` (per common neighbour, i and j not adjacent): α² X(s, a) X(s, b) G_s Σ_c X(s, c) r r,
      G_s = π_s(k_i) π_s(k_j) / (k_i k_j).

    ``product_td``, ``common_product`` from :func:`pair_td_into`.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.learning import rule_code
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.markov import edge_transition_matrix, stationary_distribution
    >>> from marldyn.theory.one_step import pair_td_into, shared_noise_into
    >>> payoff, transition = two_state_pd().arrays()
    >>> q = np.array([[0.5, 0.0], [0.0, 0.5]])
    >>> policy = boltzmann(q, 1.0)
    >>> p = stationary_distribution(edge_transition_matrix(policy, policy, transition))
    >>> expected_td, product_td, common_product = (np.empty((2, 2, 2)) for _ in range(3))
    >>> pair_td_into(q, policy, payoff, transition, 0.8, rule_code("q_learning"), expected_td, product_td,
    ...              common_product)
    >>> edge, common = np.empty((4, 4)), np.empty((4, 4))
    >>> shared_noise_into(policy, p, 4, 4, 0.01, product_td, common_product, edge, common)
    >>> (edge[:2, :2] / 0.01**2).round(3)  # one shared edge: the (s1, s1) block, O(α²)
    array([[ 0.904, -0.092],
           [-0.092,  0.003]])
    >>> float(np.abs(edge[:2, 2:]).max()), float(np.abs(common[:2, 2:]).max())  # zero across states
    (0.0, 0.0)
    """
    n_states, n_actions = policy.shape
    edge[:] = 0.0
    common[:] = 0.0
    if degree_i <= 0 or degree_j <= 0:
        return
    for s in range(n_states):
        p = min(max(state_distribution[s], 0.0), 1.0)
        if p <= 0.0:
            continue
        both = interaction_probability_scalar(p, degree_i) * interaction_probability_scalar(p, degree_j)
        shared_edge = both / (degree_i * degree_j * p)
        shared_neighbor = both / (degree_i * degree_j)
        for a in range(n_actions):
            for b in range(n_actions):
                scale = alpha * alpha * policy[s, a] * policy[s, b]
                row = s * n_actions + a
                column = s * n_actions + b
                edge[row, column] = scale * shared_edge * product_td[s, a, b]
                common[row, column] = scale * shared_neighbor * common_product[s, a, b]
