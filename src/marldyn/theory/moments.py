"""TD-error moments, the drift μ (eqs. 6-9) and the exact one-step diffusion Σ (eq. 5).

The focal agent has Q-values ``q (state, action)`` and the Boltzmann policy X = softmax(β Q) (eq. 2).
One simulator step (Algorithm 1) changes its Q-values as follows: it draws one action a(s) ~ X(s, ·)
per state; each of its k edges is in some state s; on an edge in state s the neighbour plays
ã ~ X̃(s, ·), the focal agent receives U(s, a(s), ã) and the edge moves to s' ~ T(s, a(s), ã, ·); for
every state s with n_s ≥ 1 edges, Q(s, a(s)) moves by α times the mean over those n_s edges of the
TD error

    δ = U(s, a, ã) + γ V(s') - Q(s, a)                                            (eq. 6, 4)

with the bootstrap value V of the learning rule (``marldyn.learning``): max_a' Q(s', a') for
Q-learning, Σ_a' X(s', a') Q(s', a') for expected SARSA, and Q(s', a(s')) for SARSA -- the action the
agent has already drawn for s' at this step (shared/NOTES.md 8), which is a(s) itself when s' = s.

Inputs common to this module (one focal agent; every array may carry extra leading batch dimensions
``...``, which broadcast against each other):

- ``q`` (..., state, action): the focal agent's Q-values Q(s, a).
- ``neighbor_policy`` (..., state, action): X̃(s, ã), the distribution of the action of a neighbour met
  on an edge in state s. For a mixture of neighbours this is the p(Q̃ | Q, s)-weighted mean of their
  policies (eq. 8; :func:`neighbor_marginals`): the TD error of one edge depends on the neighbour only
  through its action. Neighbours on different edges are treated as independent draws (pair
  approximation, eq. 11); with identical neighbours this is exact.
- ``state_distribution`` (..., state): p(s | Q), the probability that one of the focal agent's edges is
  in state s at the start of the step. The k edge states are taken as independent draws from it, so the
  counts (n_s)_s are multinomial(k, p(· | Q)).
- ``degree`` (int or int array, ...): k, the number of edges of the focal agent (NOTES.md 4).
- ``game``: a :class:`marldyn.games.Game` (payoff U (state, action, action), transition T).
- ``alpha, beta, gamma``: learning rate α, inverse temperature β, discount γ.
- ``rule``: ``"q_learning"``, ``"sarsa"``, ``"expected_sarsa"`` or their integer codes.

Time unit: one simulator step. μ is the expected change of Q per step and Σ the covariance of the
change in one step (so dQ = μ dt + sqrt(Σ) dW with dt in steps, eq. 5). The derivation of Σ is in
``docs/diffusion.md``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import gammaln, xlog1py, xlogy

from ..errors import ConfigError
from ..learning import EXPECTED_SARSA, SARSA, bootstrap_value, rule_code
from ..policy import boltzmann

__all__ = [
    "TDErrorMoments",
    "diffusion",
    "diffusion_paper",
    "drift",
    "interaction_probability",
    "joint_interaction_probability",
    "mean_inverse_count",
    "mean_td_error",
    "neighbor_marginals",
    "td_error_moments",
]


class TDErrorMoments(NamedTuple):
    """Per-edge moments of the TD error of the focal agent, each of shape (..., state, action).

    Attributes
    ----------
    mean : ndarray
        δ̄(s, a) = E[δ | a chosen in s], eq. (7).
    second_moment : ndarray
        E[δ² | a chosen in s] for one edge in state s.
    variance : ndarray
        ``second_moment - mean**2``, the variance of one edge's TD error.

    The expectation is over the neighbour's action ã ~ X̃(s, ·), the next state s' ~ T(s, a, ã, ·)
    and, for SARSA, the focal agent's own actions drawn in the other states (which set V(s')).
    """

    mean: np.ndarray
    second_moment: np.ndarray
    variance: np.ndarray


# ----------------------------------------------------------------------------------------------
# numba cores (the single implementation, also used by marldyn.theory.homogeneous)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _bootstrap_statistics_into(q, policy, rule, value_mean, value_variance):
    """Mean and variance of V(s') over the agent's own action draw in s', for every s' (K,).

    Q-learning and expected SARSA: V is deterministic. SARSA: V(s') = Q(s', a(s')) with a(s') ~ X(s', ·),
    so its mean is the expected-SARSA value and its variance Σ_a X (Q - mean)². (When s' is the very
    state being updated, SARSA's V is Q(s, a) instead; callers handle that case.)
    """
    n_states, n_actions = q.shape
    for z in range(n_states):
        if rule == SARSA:
            mean = bootstrap_value(EXPECTED_SARSA, q[z], policy[z], 0)
            variance = 0.0
            for a in range(n_actions):
                deviation = q[z, a] - mean
                variance += policy[z, a] * deviation * deviation
            value_mean[z] = mean
            value_variance[z] = variance
        else:
            value_mean[z] = bootstrap_value(rule, q[z], policy[z], 0)
            value_variance[z] = 0.0


@njit(cache=True)
def _td_moments_into(q, policy, neighbor_policy, payoff, transition, gamma, rule, mean_out, second_out):
    """δ̄(s, a) (eq. 7) and E[δ² | a in s] of one focal agent, written into (K, M) arrays."""
    n_states, n_actions = q.shape
    value_mean = np.empty(n_states)
    value_variance = np.empty(n_states)
    _bootstrap_statistics_into(q, policy, rule, value_mean, value_variance)
    gamma_squared = gamma * gamma
    for s in range(n_states):
        for a in range(n_actions):
            first = 0.0
            second = 0.0
            for b in range(n_actions):
                opponent = neighbor_policy[s, b]
                if opponent == 0.0:
                    continue
                base = payoff[s, a, b] - q[s, a]
                for z in range(n_states):
                    weight = opponent * transition[s, a, b, z]
                    if weight == 0.0:
                        continue
                    if rule == SARSA and z == s:
                        td = base + gamma * q[s, a]
                        spread = 0.0
                    else:
                        td = base + gamma * value_mean[z]
                        spread = gamma_squared * value_variance[z]
                    first += weight * td
                    second += weight * (td * td + spread)
            mean_out[s, a] = first
            second_out[s, a] = second


@njit(cache=True)
def _td_moments_batch(q, policy, neighbor_policy, payoff, transition, gamma, rule):
    n_agents, n_states, n_actions = q.shape
    mean = np.empty((n_agents, n_states, n_actions))
    second = np.empty((n_agents, n_states, n_actions))
    for n in range(n_agents):
        _td_moments_into(q[n], policy[n], neighbor_policy[n], payoff, transition, gamma, rule, mean[n], second[n])
    return mean, second


@njit(cache=True)
def _interaction_probability_scalar(probability, degree):
    """1 - (1 - p)^k, computed as -expm1(k log1p(-p)) (accurate for small p)."""
    if degree <= 0 or probability <= 0.0:
        return 0.0
    if probability >= 1.0:
        return 1.0
    return -math.expm1(degree * math.log1p(-probability))


@njit(cache=True)
def _drift_into(q, policy, neighbor_policy, state_distribution, degree, payoff, transition, alpha, gamma, rule, out):
    """μ(s, a) = α [1 - (1 - p(s))^k] X(s, a) δ̄(s, a), eq. (9), for one focal agent, into ``out`` (K, M)."""
    n_states, n_actions = q.shape
    second = np.empty((n_states, n_actions))
    _td_moments_into(q, policy, neighbor_policy, payoff, transition, gamma, rule, out, second)
    for s in range(n_states):
        rate = alpha * _interaction_probability_scalar(state_distribution[s], degree)
        for a in range(n_actions):
            out[s, a] *= rate * policy[s, a]


# ----------------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------------
def _check_state_action(name, array, n_states, n_actions):
    if array.ndim < 2 or array.shape[-2:] != (n_states, n_actions):
        raise ConfigError(
            f"{name} must have shape (..., state, action) = (..., {n_states}, {n_actions}), got {array.shape}"
        )


def _check_state(name, array, n_states):
    if array.ndim < 1 or array.shape[-1] != n_states:
        raise ConfigError(f"{name} must have shape (..., state) = (..., {n_states}), got {array.shape}")


def _degree_array(degree) -> np.ndarray:
    array = np.asarray(degree)
    if array.dtype.kind == "f":
        if not np.all(array == np.round(array)):
            raise ConfigError(f"degree must be a non-negative integer, got {degree!r}")
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu" or np.any(array < 0):
        raise ConfigError(f"degree must be a non-negative integer, got {degree!r}")
    return array.astype(np.int64)


def _td_batch(q, neighbor_policy, game, beta, gamma, rule):
    """Broadcast and run the numba core. Returns (policy, mean, second, neighbor_policy, batch shape)."""
    payoff, transition = game.arrays()
    n_states, n_actions = payoff.shape[:2]
    q = np.asarray(q, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    _check_state_action("q", q, n_states, n_actions)
    _check_state_action("neighbor_policy", neighbor_policy, n_states, n_actions)
    batch = np.broadcast_shapes(q.shape[:-2], neighbor_policy.shape[:-2])
    shape = batch + (n_states, n_actions)
    q = np.ascontiguousarray(np.broadcast_to(q, shape))
    neighbor_policy = np.ascontiguousarray(np.broadcast_to(neighbor_policy, shape))
    policy = boltzmann(q, beta)
    mean, second = _td_moments_batch(
        q.reshape(-1, n_states, n_actions),
        policy.reshape(-1, n_states, n_actions),
        neighbor_policy.reshape(-1, n_states, n_actions),
        payoff,
        transition,
        float(gamma),
        rule_code(rule),
    )
    return policy, mean.reshape(shape), second.reshape(shape), neighbor_policy, q


# ----------------------------------------------------------------------------------------------
# TD error, eqs. (6)-(7)
# ----------------------------------------------------------------------------------------------
def mean_td_error(q, neighbor_policy, game, *, beta, gamma, rule="q_learning") -> np.ndarray:
    """δ̄(Q, s, a), the expected TD error of one edge in state s when the focal agent chose a, eq. (7).

    δ̄(s, a) = Σ_{ã, s'} X̃(s, ã) T(s, a, ã, s') [U(s, a, ã) + γ E V(s') - Q(s, a)], with E V(s') the
    rule's bootstrap value averaged over the agent's own draw in s' (for SARSA: Q(s, a) when s' = s,
    Σ_a' X(s', a') Q(s', a') otherwise).

    Parameters
    ----------
    q : array_like, shape (..., state, action)
    neighbor_policy : array_like, shape (..., state, action)
    game : Game
    beta, gamma : float
        β (sets the own policy X, used by SARSA and expected SARSA) and γ.
    rule : str or int

    Returns
    -------
    ndarray, shape (..., state, action)
        δ̄, in payoff units.
    """
    return _td_batch(q, neighbor_policy, game, beta, gamma, rule)[1]


def td_error_moments(q, neighbor_policy, game, *, beta, gamma, rule="q_learning") -> TDErrorMoments:
    """Mean δ̄ (eq. 7), second moment and variance of one edge's TD error, each (..., state, action).

    See :class:`TDErrorMoments`; arguments as in :func:`mean_td_error`.
    """
    _, mean, second, _, _ = _td_batch(q, neighbor_policy, game, beta, gamma, rule)
    return TDErrorMoments(mean, second, np.maximum(second - mean * mean, 0.0))


# ----------------------------------------------------------------------------------------------
# Edge counts: multinomial(k, p(.|Q))
# ----------------------------------------------------------------------------------------------
def interaction_probability(state_distribution, degree) -> np.ndarray:
    """P(n_s ≥ 1) = 1 - (1 - p(s|Q))^k, the probability of at least one interaction in s (eq. 9).

    Parameters
    ----------
    state_distribution : array_like, shape (..., state)
        p(s | Q).
    degree : int or array_like of int, shape (...)
        k.

    Returns
    -------
    ndarray, shape (..., state)
    """
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = _degree_array(degree)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        engaged = -np.expm1(degree * np.log1p(-probability))  # exact 1 at p = 1; accurate for small p
    return np.where(degree > 0, engaged, 0.0)


def joint_interaction_probability(state_distribution, degree) -> np.ndarray:
    """P(n_s ≥ 1, n_s' ≥ 1) for the multinomial edge counts, shape (..., state, state).

    Off the diagonal: 1 - (1 - p_s)^k - (1 - p_s')^k + (1 - p_s - p_s')^k (inclusion-exclusion); on the
    diagonal: P(n_s ≥ 1). For k = 1 the off-diagonal entries are 0 (one edge is in one state).

    Parameters
    ----------
    state_distribution : array_like, shape (..., state)
    degree : int or array_like of int, shape (...)

    Returns
    -------
    ndarray, shape (..., state, state)
    """
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = _degree_array(degree)[..., None]
    n_states = probability.shape[-1]
    none = (1.0 - probability) ** degree  # P(n_s = 0), (..., state)
    pair_none = np.clip(1.0 - probability[..., :, None] - probability[..., None, :], 0.0, 1.0) ** degree[..., None]
    joint = np.clip(1.0 - none[..., :, None] - none[..., None, :] + pair_none, 0.0, 1.0)
    index = np.arange(n_states)
    joint[..., index, index] = interaction_probability(probability, degree[..., 0])
    return joint


def mean_inverse_count(state_distribution, degree) -> np.ndarray:
    """E[1/n_s ; n_s ≥ 1] = Σ_{n=1}^{k} C(k, n) p^n (1 - p)^{k-n} / n, with n_s ~ Binomial(k, p(s|Q)).

    The variance of the mean of n_s independent TD errors is v / n_s; this is its expectation factor.

    Parameters
    ----------
    state_distribution : array_like, shape (..., state)
    degree : int or array_like of int, shape (...)

    Returns
    -------
    ndarray, shape (..., state)
    """
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = _degree_array(degree)[..., None]
    probability, degree = np.broadcast_arrays(probability, degree)
    total = np.zeros(degree.shape)
    for count in range(1, int(degree.max(initial=0)) + 1):
        total += _binomial_pmf(count, degree, probability) / count
    return total


def _binomial_pmf(count: int, degree: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """C(k, n) p^n (1 - p)^(k - n) in log space (exact limits at p = 0 and p = 1; 0 where n > k)."""
    rest = np.maximum(degree - count, 0)
    log_pmf = (
        gammaln(degree + 1.0)
        - gammaln(count + 1.0)
        - gammaln(rest + 1.0)
        + xlogy(count, probability)
        + xlog1py(rest, -probability)
    )
    return np.where(count <= degree, np.exp(log_pmf), 0.0)


# ----------------------------------------------------------------------------------------------
# Drift μ, eq. (9)
# ----------------------------------------------------------------------------------------------
def drift(q, neighbor_policy, state_distribution, degree, game, *, alpha, beta, gamma, rule="q_learning"):
    """μ(Q), the expected change of Q(s, a) in one step, eq. (9).

    μ(s, a) = α [1 - (1 - p(s|Q))^k] X(s, a) δ̄(s, a), for Q-learning, SARSA and expected SARSA (δ̄ of the
    rule, :func:`mean_td_error`). Exact for one step of Algorithm 1 given the inputs: the update of
    Q(s, a) happens iff a(s) = a and n_s ≥ 1, and then its expected size is α δ̄(s, a).

    Parameters
    ----------
    q : array_like, shape (..., state, action)
    neighbor_policy : array_like, shape (..., state, action)
    state_distribution : array_like, shape (..., state)
    degree : int or array_like of int, shape (...)
    game : Game
    alpha, beta, gamma : float
    rule : str or int

    Returns
    -------
    ndarray, shape (..., state, action)
        μ, in Q units per step.
    """
    policy, mean, _, _, _ = _td_batch(q, neighbor_policy, game, beta, gamma, rule)
    state_distribution = np.asarray(state_distribution, dtype=np.float64)
    _check_state("state_distribution", state_distribution, policy.shape[-2])
    rate = alpha * interaction_probability(state_distribution, degree)
    return rate[..., None] * policy * mean


# ----------------------------------------------------------------------------------------------
# Diffusion Σ, eq. (5)
# ----------------------------------------------------------------------------------------------
def _diffusion_parts(q, neighbor_policy, state_distribution, degree, game, alpha, beta, gamma, rule):
    policy, mean, second, neighbor_policy, q = _td_batch(q, neighbor_policy, game, beta, gamma, rule)
    state_distribution = np.asarray(state_distribution, dtype=np.float64)
    _check_state("state_distribution", state_distribution, policy.shape[-2])
    degree = _degree_array(degree)
    engaged = interaction_probability(state_distribution, degree)  # P(n_s >= 1), (..., state)
    mu = alpha * engaged[..., None] * policy * mean
    return policy, mean, second, neighbor_policy, q, state_distribution, degree, engaged, mu


def diffusion(q, neighbor_policy, state_distribution, degree, game, *, alpha, beta, gamma, rule="q_learning"):
    """Σ(Q), the exact covariance of one step's increment ΔQ of the focal agent (eq. 5; docs/diffusion.md).

    With π_s = P(n_s ≥ 1), π_{ss'} = P(n_s ≥ 1, n_s' ≥ 1) (:func:`joint_interaction_probability`),
    h_s = E[1/n_s; n_s ≥ 1] (:func:`mean_inverse_count`), and for Q-learning / expected SARSA
    (deterministic bootstrap values):

    - Σ[(s,a),(s,a)] = α² X(s,a) [π_s δ̄(s,a)² + h_s v(s,a)] - μ(s,a)²   (v: one edge's TD variance)
    - Σ[(s,a),(s,a')] = -μ(s,a) μ(s,a'), a ≠ a'   (one action per state moves)
    - Σ[(s,a),(s',a')] = α² X(s,a) X(s',a') (π_{ss'} - π_s π_s') δ̄(s,a) δ̄(s',a'), s ≠ s' (dependent counts).

    For SARSA the TD errors also depend on the agent's own drawn actions in the other states; Σ is
    computed conditionally on the full own action profile and averaged (docs/diffusion.md, eqs. D2, D4-D5),
    which adds γ² Var_X[Q(s'', ·)] terms and couples the states through V(s') = Q(s', a(s')).

    Parameters
    ----------
    (as :func:`drift`)

    Returns
    -------
    ndarray, shape (..., state * action, state * action)
        Σ in the paper's ordering of Q = [Q(s1, a1), Q(s1, a2), ..., Q(sK, aM)], i.e. the row-major
        flattening ``q.reshape(..., K * M)``; ``.reshape(..., K, M, K, M)`` gives Σ[s, a, s', a'].
        Units: Q² per step; symmetric positive semi-definite; O(α²).
    """
    policy, mean, second, neighbor_policy, q, state_distribution, degree, engaged, mu = _diffusion_parts(
        q, neighbor_policy, state_distribution, degree, game, alpha, beta, gamma, rule
    )
    code = rule_code(rule)
    n_states, n_actions = policy.shape[-2:]
    transition = np.asarray(game.transition, dtype=np.float64)
    # W[s, a, z]: probability that one edge in s moves to z when the agent plays a (neighbour averaged).
    next_state = np.einsum("...sb,sabz->...saz", neighbor_policy, transition)
    if code == SARSA:
        value_mean = np.sum(policy * q, axis=-1)
        value_variance = np.sum(policy * (q - value_mean[..., None]) ** 2, axis=-1)
        own_deviation = q - value_mean[..., None]  # D[s, a] = Q(s, a) - E V(s)
    else:
        value_variance = np.zeros(policy.shape[:-1])
        own_deviation = np.zeros(policy.shape)
    not_same = ~np.eye(n_states, dtype=bool)  # [s, z]: z != s
    joint = joint_interaction_probability(state_distribution, degree)
    inverse = mean_inverse_count(state_distribution, degree)
    gamma2 = gamma * gamma

    # Same state s, same action a: E[m_s(A)^2 | a(s) = a] and the conditional per-edge variance.
    mean_square = mean**2 + gamma2 * np.einsum("...saz,...z,sz->...sa", next_state**2, value_variance, not_same)
    within = np.maximum(second - mean_square, 0.0)
    diagonal = alpha**2 * policy * (engaged[..., None] * mean_square + inverse[..., None] * within)

    # Different states s != s': E[m_s(A) m_s'(A) | a(s) = a, a(s') = a'].
    first = mean[..., :, :, None, None] + gamma * next_state[..., :, :, :, None] * own_deviation[..., None, None, :, :]
    cross_mean = first * np.moveaxis(first, (-4, -3), (-2, -1))
    others = not_same[:, None, :] & not_same[None, :, :]  # [s, s', z]: z not in {s, s'}
    cross_mean = cross_mean + gamma2 * np.einsum(
        "...iaz,...jbz,...z,ijz->...iajb", next_state, next_state, value_variance, others
    )
    cross = (
        alpha**2
        * policy[..., :, :, None, None]
        * policy[..., None, None, :, :]
        * joint[..., :, None, :, None]
        * cross_mean
    )
    different = not_same[:, None, :, None]
    second_step = np.where(different, cross, 0.0)
    index_s, index_a = np.meshgrid(np.arange(n_states), np.arange(n_actions), indexing="ij")
    second_step[..., index_s, index_a, index_s, index_a] = diagonal
    size = n_states * n_actions
    mu_flat = mu.reshape(mu.shape[:-2] + (size,))
    sigma = second_step.reshape(mu.shape[:-2] + (size, size)) - mu_flat[..., :, None] * mu_flat[..., None, :]
    return 0.5 * (sigma + np.swapaxes(sigma, -1, -2))


def diffusion_paper(
    q,
    neighbor_policy,
    state_distribution,
    degree,
    game,
    *,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    diagonal="second_moment",
):
    """Σ as written in the supplement, its eqs. (4)-(6), for comparison with :func:`diffusion`.

    - across states (s ≠ s'): 0 (eq. 4);
    - same state, a ≠ a': -μ(s, a) μ(s, a') (eq. 5);
    - diagonal (eq. 6): α² X(s, a) [1 - (1 - p(s|Q))^k] E² - μ(s, a)².

    The printed eq. (6) squares the TD error inside the expectation over ã, s' and Q̃, so
    E² = E[δ² | a in s], the second moment of *one* edge's TD error (``diagonal="second_moment"``, the
    default): it ignores that the update is the mean of n_s TD errors (variance v / n_s). shared/NOTES.md 3
    describes it as "the square of the mean TD error"; that reading, E² = δ̄(s, a)², is available as
    ``diagonal="squared_mean"``.

    Returns
    -------
    ndarray, shape (..., state * action, state * action)
        Same ordering and units as :func:`diffusion`.
    """
    if diagonal not in ("second_moment", "squared_mean"):
        raise ConfigError(f"diagonal = {diagonal!r} must be 'second_moment' or 'squared_mean'")
    policy, mean, second, _, _, _, _, engaged, mu = _diffusion_parts(
        q, neighbor_policy, state_distribution, degree, game, alpha, beta, gamma, rule
    )
    n_states, n_actions = policy.shape[-2:]
    size = n_states * n_actions
    squared = second if diagonal == "second_moment" else mean**2
    mu_flat = mu.reshape(mu.shape[:-2] + (size,))
    sigma = -mu_flat[..., :, None] * mu_flat[..., None, :]
    block = np.kron(np.eye(n_states, dtype=bool), np.ones((n_actions, n_actions), dtype=bool))
    sigma = np.where(block, sigma, 0.0)
    on_diagonal = alpha**2 * policy * engaged[..., None] * squared - mu**2
    index = np.arange(size)
    sigma[..., index, index] = on_diagonal.reshape(mu.shape[:-2] + (size,))
    return sigma


# ----------------------------------------------------------------------------------------------
# Neighbour marginals, eqs. (8), (20)
# ----------------------------------------------------------------------------------------------
def neighbor_marginals(neighbor_policies, pair_state_distributions, weights=None):
    """p(s | Q) and the action distribution of a neighbour met in state s, for a mixture of neighbours.

    With neighbour j (weight w_j, e.g. a density p(Q̃_j | Q) or 1 per actual neighbour) and pair
    edge-state distribution p(s | Q, Q̃_j):

    - p(s | Q) = Σ_j w_j p(s | Q, Q̃_j) / Σ_j w_j;
    - X̃(s, ã) = Σ_j w_j p(s | Q, Q̃_j) X(Q̃_j, s, ã) / Σ_j w_j p(s | Q, Q̃_j), i.e. the policy averaged
      with p(Q̃ | Q, s) of eq. (8) (eq. 20 with the stationary pair distributions). Where no neighbour is
      ever in s, the plain weighted mean of the policies is returned (it is then multiplied by 0 in μ, Σ).

    Parameters
    ----------
    neighbor_policies : array_like, shape (..., neighbor, state, action)
    pair_state_distributions : array_like, shape (..., neighbor, state)
    weights : array_like, shape (..., neighbor), optional
        Default: equal weights.

    Returns
    -------
    state_distribution : ndarray, shape (..., state)
    neighbor_policy : ndarray, shape (..., state, action)
    """
    policies = np.asarray(neighbor_policies, dtype=np.float64)
    pairs = np.asarray(pair_state_distributions, dtype=np.float64)
    if weights is None:
        weights = np.ones(pairs.shape[:-1])
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    weighted = weights[..., None] * pairs  # (..., neighbor, state)
    state_distribution = weighted.sum(axis=-2)
    numerator = np.einsum("...js,...jsa->...sa", weighted, policies)
    fallback = np.einsum("...j,...jsa->...sa", weights, policies)
    safe = state_distribution > 0
    neighbor_policy = np.where(
        safe[..., None], numerator / np.where(safe, state_distribution, 1.0)[..., None], fallback
    )
    return state_distribution, neighbor_policy
