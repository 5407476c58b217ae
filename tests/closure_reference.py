"""Independent numpy formulas of the closure's cubature kernels: the check of ``closure.closure_terms`` and
``closure.node_moments`` (src/marldyn/theory/closure.py, [C3-C8]).

The kernels are numba loops; these are the same sums written again with numpy arrays over all nodes at once.
They share no code with :mod:`marldyn.theory.closure`: the pair chains and their stationary distributions come
from the public numpy functions of :mod:`marldyn.theory.markov` (eqs. 12, 18), μ and Σ from those of
:mod:`marldyn.theory.moments` (eqs. 9, 5), and the shared-noise blocks (eqs. L6-L7) from the einsum formulas of
``moments_reference`` (which share nothing with ``one_step.pair_td_into`` / ``shared_noise_into``).

Node layout, as the kernels take it (d = K M entries, n_c = K (M - 1) contrasts, R neighbour nodes):

- focal deviations (point, d), Q_p = m + deviation_p, with weights (point,);
- neighbour contrasts (contrast point, R, n_c) and weights (contrast point, R): node p's neighbours are
  ``neighbors[p]`` (drift rules) or ``neighbors[contrast_node[p]]`` (full rules); a neighbour's policy is
  X_r(s, ·) = softmax(β [c_r(s, 0), …, c_r(s, M-2), 0]), or ε-greedy of that row;
- the Jacobians' evaluations stacked (evaluation, ...), each with its focal and neighbour shift;
- pair distributions (contrast point, R, K), used instead of the stationary ones when ``dynamic``.
"""

from __future__ import annotations

import numpy as np

import moments_reference
from marldyn.theory import markov, moments


def softmax(logits, beta) -> np.ndarray:
    """softmax(β logits) over the last axis, the maximum subtracted first (eq. 2)."""
    logits = np.asarray(logits, dtype=np.float64)
    weight = np.exp(beta * (logits - logits.max(axis=-1, keepdims=True)))
    return weight / weight.sum(axis=-1, keepdims=True)


def greedy(logits, epsilon) -> np.ndarray:
    """ε / M + (1 - ε) 1[a ∈ argmax] / #argmax over the last axis."""
    logits = np.asarray(logits, dtype=np.float64)
    best = logits == logits.max(axis=-1, keepdims=True)
    return epsilon / logits.shape[-1] + (1.0 - epsilon) * best / best.sum(axis=-1, keepdims=True)


def policy_of(logits, beta, epsilon):
    """softmax(β logits), or the ε-greedy policy if ``epsilon`` is given."""
    return softmax(logits, beta) if epsilon is None else greedy(logits, epsilon)


def contrast_policy(contrasts, n_states, n_actions, beta, epsilon=None) -> np.ndarray:
    """X (..., K, M) of tables with the given contrasts (..., K (M - 1)): softmax(β [c(s, ·), 0]) per state (or
    ε-greedy)."""
    contrasts = np.asarray(contrasts, dtype=np.float64)
    lead = contrasts.shape[:-1]
    per_state = contrasts.reshape(lead + (n_states, n_actions - 1))
    return policy_of(np.concatenate([per_state, np.zeros(lead + (n_states, 1))], axis=-1), beta, epsilon)


def neighbor_field(policy, neighbor_policy, neighbor_weight, transition, *, pairs=None, initial=None):
    """The pair-approximation field of each focal node (eqs. 8, 18, 20) [C4].

    Parameters
    ----------
    policy : ndarray, shape (point, K, M)
        The focal nodes' X.
    neighbor_policy : ndarray, shape (point, R, K, M)
        The policies X_r of each node's neighbour nodes.
    neighbor_weight : ndarray, shape (point, R)
    transition : ndarray, shape (K, M, M, K)
    pairs : ndarray, shape (point, R, K), optional
        p(· | focal, r); default the stationary distribution of λ[s, s'] = Σ_{a,b} X(s,a) X_r(s,b) T(s,a,b,s')
        (from ``initial`` for a reducible chain).
    initial : ndarray, shape (K,), optional

    Returns
    -------
    distribution : ndarray, shape (point, K)
        p(s) = Σ_r w_r p(s | focal, r).
    field : ndarray, shape (point, K, M)
        X̃(s, ·) = Σ_r w_r p(s | focal, r) X_r(s, ·) / p(s); the w-mean of X_r(s, ·) where p(s) = 0.
    """
    if pairs is None:
        chain = markov.edge_transition_matrix(policy[:, None], neighbor_policy, transition)  # (point, R, K, K)
        pairs = markov.stationary_distribution(chain, initial)
    mass = neighbor_weight[:, :, None] * pairs  # (point, R, K)
    distribution = mass.sum(axis=1)
    met = np.einsum("prs,prsa->psa", mass, neighbor_policy)
    plain = np.einsum("pr,prsa->psa", neighbor_weight, neighbor_policy)
    positive = distribution[:, :, None] > 0.0
    field = np.where(positive, met / np.where(positive, distribution[:, :, None], 1.0), plain)
    return distribution, field


def node_moments(
    focal_q,
    neighbor_contrasts,
    neighbor_weight,
    game,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule,
    faq_beta=None,
    epsilon=None,
    pairs=None,
    initial=None,
    with_diffusion=True,
    fixed_tables=None,
):
    """μ (point, K, M), Σ (point, d, d) (None unless ``with_diffusion``) and p(s) (point, K) of each focal node
    Q_p = ``focal_q[p]`` with the neighbour nodes ``neighbor_contrasts[p]`` (R, n_c) of weights
    ``neighbor_weight[p]`` (R,) (shape (R,): the same for every node) and, if given, the pair distributions
    ``pairs[p]`` (R, K) [C4, C7]; ε-greedy learners if ``epsilon`` is given; the last len(``fixed_tables``)
    neighbour nodes play those tables (K, M) instead."""
    focal_q = np.asarray(focal_q, dtype=np.float64)
    n_states, n_actions = focal_q.shape[1:]
    neighbor_weight = np.broadcast_to(neighbor_weight, neighbor_contrasts.shape[:2])
    policy = policy_of(focal_q, beta, epsilon)
    neighbor_policy = contrast_policy(neighbor_contrasts, n_states, n_actions, beta, epsilon)
    if fixed_tables is not None and len(fixed_tables):
        neighbor_policy[:, neighbor_policy.shape[1] - len(fixed_tables) :] = fixed_tables
    distribution, field = neighbor_field(
        policy, neighbor_policy, neighbor_weight, np.asarray(game.transition), pairs=pairs, initial=initial
    )
    parameters = dict(alpha=alpha, beta=beta, gamma=gamma, rule=rule, faq_beta=faq_beta)
    if epsilon is not None:
        parameters.update(policy="epsilon_greedy", epsilon=epsilon)
    mu = moments.drift(focal_q, field, distribution, degree, game, **parameters)
    sigma = moments.diffusion(focal_q, field, distribution, degree, game, **parameters) if with_diffusion else None
    return mu, sigma, distribution


def closure_terms(
    mean,
    fine_deviation,
    fine_weight,
    fine_neighbors,
    fine_neighbor_weight,
    coarse_deviation,
    coarse_weight,
    coarse_neighbors,
    coarse_neighbor_weight,
    focal_shift,
    neighbor_shift,
    noise_deviation,
    noise_weight,
    noise_contrast,
    pairs,
    dynamic,
    step,
    correlations,
    fixed_tables,
    game,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule,
    initial,
    faq_beta=None,
    epsilon=None,
):
    """The six outputs of ``closure.closure_terms`` from the same nodes [C5-C8, C11].

    Returns
    -------
    drift : ndarray, shape (K, M)
        E[μ] = Σ_p w_p μ(Q_p) over the fine rule (pairs ``pairs[p]`` if ``dynamic``, else stationary).
    own : ndarray, shape (d, d)
        Column c: (E[μ] of evaluation 1 + c - E[μ] of evaluation 0) / step, each evaluation over its own coarse
        nodes with its focal shift (added to every focal node) and neighbour shift (to every neighbour node),
        stationary pairs.
    per_contrast : ndarray, shape (d, n_c)
        Column c: the same for evaluation 1 + d + c.
    noise : ndarray, shape (d, d)
        E[Σ] = Σ_p w_p Σ(Q_p) over the coarse full rule, node p's neighbours those of evaluation 0 at
        ``noise_contrast[p]``.
    edge, common : ndarray, shape (d, d)
        The shared-noise blocks (eqs. L6-L7) at the mean table, p = p*(· | m, m), degrees k, k (zero unless
        ``correlations``).
    """
    n_states, n_actions = game.n_states, game.n_actions
    size = n_states * n_actions
    parameters = dict(degree=degree, alpha=alpha, beta=beta, gamma=gamma, rule=rule, faq_beta=faq_beta, initial=initial)
    parameters.update(epsilon=epsilon, fixed_tables=fixed_tables)

    def expected_drift(deviation, weight, neighbors, neighbor_weight, focal_shift, neighbor_shift, node_pairs):
        focal_q = ((mean[None, :] + deviation) + focal_shift[None, :]).reshape(-1, n_states, n_actions)
        mu, _, _ = node_moments(
            focal_q,
            neighbors[: weight.size] + neighbor_shift,
            neighbor_weight[: weight.size],
            game,
            pairs=node_pairs,
            with_diffusion=False,
            **parameters,
        )
        return np.einsum("p,psa->sa", weight, mu)

    no_focal, no_neighbor = np.zeros(size), np.zeros(fine_neighbors.shape[2])
    fine_pairs = pairs[: fine_weight.size] if dynamic else None
    drift = expected_drift(
        fine_deviation, fine_weight, fine_neighbors, fine_neighbor_weight, no_focal, no_neighbor, fine_pairs
    )
    evaluations = [
        expected_drift(
            coarse_deviation[e],
            coarse_weight[e],
            coarse_neighbors[e],
            coarse_neighbor_weight[e],
            focal_shift[e],
            neighbor_shift[e],
            None,
        ).ravel()
        for e in range(len(coarse_weight))
    ]
    derivative = (np.stack(evaluations[1:], axis=1) - evaluations[0][:, None]) / step
    own, per_contrast = derivative[:, :size], derivative[:, size:]

    focal_q = (mean[None, :] + noise_deviation).reshape(-1, n_states, n_actions)
    _, sigma, _ = node_moments(
        focal_q, coarse_neighbors[0][noise_contrast], coarse_neighbor_weight[0][noise_contrast], game, **parameters
    )
    noise = np.einsum("p,pij->ij", noise_weight, sigma)

    edge, common = np.zeros((size, size)), np.zeros((size, size))
    if correlations:
        q = mean.reshape(n_states, n_actions)
        policy = policy_of(q, beta, epsilon)
        chain = markov.edge_transition_matrix(policy, policy, np.asarray(game.transition))
        distribution = markov.stationary_distribution(chain, initial)
        _, product_td, common_product = moments_reference.pair_td(q, policy, game, gamma=gamma, rule=rule)
        played = policy * moments_reference.faq_scale(policy, rule, faq_beta)  # FAQ: X c in the α² X X factors
        edge, common = moments_reference.shared_noise(
            played, distribution, degree, degree, product_td, common_product, alpha=alpha
        )
    return drift, own, per_contrast, noise, edge, common
