"""Independent numpy (einsum) formulas of the one-step moments: the check of :mod:`marldyn.theory.one_step`.

marldyn has one implementation of π, δ̄, μ and Σ (numba, ``marldyn.theory.one_step``); these are the same
formulas written a second time, vectorised with numpy and without sharing any code with it, so the tests can
compare the two (and both against enumeration and Monte-Carlo of single steps in ``test_moments.py``).
Shapes and arguments as in :mod:`marldyn.theory.moments`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlog1py, xlogy

from marldyn.learning import RULES, SARSA
from marldyn.policy import boltzmann


def _code(rule):
    return RULES.index(rule) if isinstance(rule, str) else int(rule)


def own_policy(q, beta, policy="boltzmann", epsilon=None):
    """X(Q): Boltzmann, or ε-greedy written out (ε / M + (1 - ε) / |argmax| on the maximisers)."""
    if policy == "epsilon_greedy":
        greedy = q == q.max(axis=-1, keepdims=True)
        return epsilon / q.shape[-1] + (1.0 - epsilon) * greedy / greedy.sum(axis=-1, keepdims=True)
    return boltzmann(q, beta)


def faq_scale(policy, rule, faq_beta):
    """c(s, a) = min(faq_beta / X(s, a), 1) for FAQ, 1 for the other rules."""
    if _code(rule) != RULES.index("faq"):
        return np.ones_like(policy)
    with np.errstate(divide="ignore"):
        return np.minimum(faq_beta / policy, 1.0)


def td_moments(q, neighbor_policy, game, *, beta, gamma, rule="q_learning", policy="boltzmann", epsilon=None):
    """δ̄(s, a) (eq. 7) and E[δ² | a in s], (..., state, action), by explicit sums over (ã, s')."""
    q = np.asarray(q, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    q, neighbor_policy = np.broadcast_arrays(q, neighbor_policy)
    policy = own_policy(q, beta, policy, epsilon)
    payoff, transition = np.asarray(game.payoff), np.asarray(game.transition)
    n_states = payoff.shape[0]
    code = _code(rule)
    if code in (RULES.index("q_learning"), RULES.index("faq")):
        value, variance = q.max(axis=-1), np.zeros(q.shape[:-1])
    else:
        value = np.sum(policy * q, axis=-1)
        variance = np.sum(policy * (q - value[..., None]) ** 2, axis=-1) if code == SARSA else np.zeros(q.shape[:-1])
    # td[..., s, a, b, z] and its extra variance from the own draw in z
    td = payoff[..., :, :, :, None] + gamma * value[..., None, None, None, :] - q[..., :, :, None, None]
    spread = np.broadcast_to(gamma**2 * variance[..., None, None, None, :], td.shape).copy()
    if code == SARSA:  # V(s) = Q(s, a) itself when the edge stays in the state being updated
        for s in range(n_states):
            td[..., s, :, :, s] = payoff[..., s, :, :] + (gamma - 1.0) * q[..., s, :, None]
            spread[..., s, :, :, s] = 0.0
    weight = neighbor_policy[..., :, None, :, None] * transition
    mean = np.sum(weight * td, axis=(-2, -1))
    second = np.sum(weight * (td**2 + spread), axis=(-2, -1))
    return policy, mean, second


def interaction_probability(state_distribution, degree) -> np.ndarray:
    """P(n_s ≥ 1) = 1 - (1 - p(s|Q))^k, the probability of at least one interaction in s (eq. 9)."""
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = np.asarray(degree, dtype=np.int64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        engaged = -np.expm1(degree * np.log1p(-probability))  # exact 1 at p = 1; accurate for small p
    return np.where(degree > 0, engaged, 0.0)


def joint_interaction_probability(state_distribution, degree) -> np.ndarray:
    """P(n_s ≥ 1, n_s' ≥ 1) for the multinomial edge counts, shape (..., state, state)."""
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = np.asarray(degree, dtype=np.int64)[..., None]
    n_states = probability.shape[-1]
    none = (1.0 - probability) ** degree  # P(n_s = 0), (..., state)
    pair_none = np.clip(1.0 - probability[..., :, None] - probability[..., None, :], 0.0, 1.0) ** degree[..., None]
    joint = np.clip(1.0 - none[..., :, None] - none[..., None, :] + pair_none, 0.0, 1.0)
    index = np.arange(n_states)
    joint[..., index, index] = interaction_probability(probability, degree[..., 0])
    return joint


def mean_inverse_count(state_distribution, degree) -> np.ndarray:
    """E[1/n_s ; n_s ≥ 1] = Σ_{n=1}^{k} C(k, n) p^n (1 - p)^{k-n} / n, with n_s ~ Binomial(k, p(s|Q))."""
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    degree = np.asarray(degree, dtype=np.int64)[..., None]
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


def drift(
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
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
):
    """μ(s, a) = α π_s X(s, a) c(s, a) δ̄(s, a) (eq. 9; c the FAQ factor)."""
    policy, mean, _ = td_moments(
        q, neighbor_policy, game, beta=beta, gamma=gamma, rule=rule, policy=policy, epsilon=epsilon
    )
    engaged = interaction_probability(state_distribution, degree)
    return alpha * engaged[..., None] * policy * faq_scale(policy, rule, faq_beta) * mean


def diffusion(
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
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
):
    """The exact one-step Σ (eq. 5; docs/diffusion.md, eqs. D2-D8), (..., K M, K M), with einsum."""
    q = np.asarray(q, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    state_distribution = np.asarray(state_distribution, dtype=np.float64)
    degree = np.asarray(degree, dtype=np.int64)
    policy, mean, second = td_moments(
        q, neighbor_policy, game, beta=beta, gamma=gamma, rule=rule, policy=policy, epsilon=epsilon
    )
    q = np.broadcast_to(q, policy.shape)
    neighbor_policy = np.broadcast_to(neighbor_policy, policy.shape)
    engaged = interaction_probability(state_distribution, degree)
    scale = faq_scale(policy, rule, faq_beta)
    mu = alpha * engaged[..., None] * policy * scale * mean
    code = _code(rule)
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
    diagonal = alpha**2 * policy * scale**2 * (engaged[..., None] * mean_square + inverse[..., None] * within)

    # Different states s != s': E[m_s(A) m_s'(A) | a(s) = a, a(s') = a'].
    first = mean[..., :, :, None, None] + gamma * next_state[..., :, :, :, None] * own_deviation[..., None, None, :, :]
    cross_mean = first * np.moveaxis(first, (-4, -3), (-2, -1))
    others = not_same[:, None, :] & not_same[None, :, :]  # [s, s', z]: z not in {s, s'}
    cross_mean = cross_mean + gamma2 * np.einsum(
        "...iaz,...jbz,...z,ijz->...iajb", next_state, next_state, value_variance, others
    )
    weighted = policy * scale
    cross = (
        alpha**2
        * weighted[..., :, :, None, None]
        * weighted[..., None, None, :, :]
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


def pair_td(q, policy, game, *, gamma, rule="q_learning"):
    """TD products of two agents sharing Q and X at one table (docs/fluctuations.md, eqs. L6-L7), with einsum.

    Returns r(s, a, b) = Σ_z T(s, a, b, z) [U(s, a, b) + γ V(z)] - Q(s, a), the shared-edge product
    E_z[δ_i δ_j | s, a, b] (δ_j with U(s, b, a) and Q(s, b), the same next state z) and the common-neighbour
    product Σ_c X(s, c) r(s, a, c) r(s, b, c), each (state, action, action). V(z) = max_a Q(z, a) for
    Q-learning and FAQ, Σ_a X(z, a) Q(z, a) for expected SARSA.
    """
    q = np.asarray(q, dtype=np.float64)
    policy = np.asarray(policy, dtype=np.float64)
    payoff, transition = np.asarray(game.payoff, dtype=np.float64), np.asarray(game.transition, dtype=np.float64)
    code = _code(rule)
    if code == RULES.index("expected_sarsa"):
        value = np.einsum("za,za->z", policy, q)
    elif code in (RULES.index("q_learning"), RULES.index("faq")):
        value = q.max(axis=1)
    else:
        raise ValueError("pair_td: the shared-noise blocks are defined for q_learning, expected_sarsa and faq")
    # own[s, a, b, z] = δ_i when i plays a and j plays b; other[s, a, b, z] = δ_j (j's payoff U(s, b, a))
    own = payoff[:, :, :, None] + gamma * value[None, None, None, :] - q[:, :, None, None]
    other = np.swapaxes(payoff, 1, 2)[:, :, :, None] + gamma * value[None, None, None, :] - q[:, None, :, None]
    expected_td = np.einsum("sabz,sabz->sab", transition, own)
    product_td = np.einsum("sabz,sabz,sabz->sab", transition, own, other)
    common_product = np.einsum("sc,sac,sbc->sab", policy, expected_td, expected_td)
    return expected_td, product_td, common_product


def shared_noise(policy, state_distribution, degree_i, degree_j, product_td, common_product, *, alpha):
    """The shared-edge and common-neighbour noise blocks (eqs. L6-L7), (K M, K M) each, with einsum.

    edge = α² X(s, a) X(s, b) F_s product_td(s, a, b), F_s = π_s(k_i) π_s(k_j) / (k_i k_j p_s);
    common = α² X(s, a) X(s, b) G_s common_product(s, a, b), G_s = π_s(k_i) π_s(k_j) / (k_i k_j);
    on the (s, s) blocks, zero elsewhere, and zero in a state with p_s = 0 or for a degree 0.
    """
    policy = np.asarray(policy, dtype=np.float64)
    n_states, n_actions = policy.shape
    size = n_states * n_actions
    if degree_i <= 0 or degree_j <= 0:
        return np.zeros((size, size)), np.zeros((size, size))
    probability = np.clip(np.asarray(state_distribution, dtype=np.float64), 0.0, 1.0)
    both = interaction_probability(probability, degree_i) * interaction_probability(probability, degree_j)
    met = probability > 0.0
    per_edge = np.where(met, both / (degree_i * degree_j * np.where(met, probability, 1.0)), 0.0)
    per_neighbor = np.where(met, both / (degree_i * degree_j), 0.0)
    pair = alpha**2 * policy[:, :, None] * policy[:, None, :]  # (s, a, b)
    same_state = np.eye(n_states)[:, None, :, None]  # [s, ., s', .]: the (s, s) blocks
    edge = np.einsum("sab,s,sab->sab", pair, per_edge, product_td)[:, :, None, :] * same_state
    common = np.einsum("sab,s,sab->sab", pair, per_neighbor, common_product)[:, :, None, :] * same_state
    return edge.reshape(size, size), common.reshape(size, size)
