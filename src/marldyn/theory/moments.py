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

Every function here is a thin numpy wrapper (validation, broadcasting) over the one numba implementation in
:mod:`marldyn.theory.one_step`, which all theories call; the independent einsum formulas are in the tests.

Time unit: one simulator step. μ is the expected change of Q per step and Σ the covariance of the
change in one step (so dQ = μ dt + sqrt(Σ) dW with dt in steps, eq. 5). The derivation of Σ is in
``docs/diffusion.md``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ConfigError
from ..learning import FAQ, faq_factor, rule_code
from ..policy import policy_of
from . import one_step

__all__ = [
    "TDErrorMoments",
    "diffusion",
    "diffusion_paper",
    "drift",
    "interaction_probability",
    "joint_interaction_probability",
    "mean_inverse_count",
    "mean_td_error",
    "outcome_distribution",
    "neighbor_marginals",
    "td_error_moments",
]


class TDErrorMoments(NamedTuple):
    """Per-edge moments of the TD error of the focal agent, each of shape (..., state, action).

    The expectation is over the neighbour's action ã ~ X̃(s, ·), the next state s' ~ T(s, a, ã, ·)
    and, for SARSA, the focal agent's own actions drawn in the other states (which set V(s')).

    Attributes
    ----------
    mean : ndarray
        δ̄(s, a) = E[δ | a chosen in s], eq. (7).
    second_moment : ndarray
        E[δ² | a chosen in s] for one edge in state s.
    variance : ndarray
        ``second_moment - mean**2``, the variance of one edge's TD error.

    Examples
    --------
    >>> from marldyn.games import two_state_pd
    >>> from marldyn.theory.moments import td_error_moments
    >>> moments = td_error_moments([[0.5, 0.0], [0.0, 0.5]], [[0.6, 0.4], [0.4, 0.6]], two_state_pd(),
    ...                            beta=1.0, gamma=0.8)
    >>> moments.mean.round(4)  # δ̄(s, a): rows s1, s2; columns C, D
    array([[2.4 , 3.4 ],
           [0.38, 0.38]])
    >>> moments.variance.round(4)  # second_moment - mean**2
    array([[6.    , 6.    ],
           [0.3456, 0.3456]])
    """

    mean: np.ndarray
    second_moment: np.ndarray
    variance: np.ndarray


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


class _Batch(NamedTuple):
    """Inputs broadcast to one batch shape and flattened to (n, ...) for the numba core."""

    shape: tuple
    q: np.ndarray
    policy: np.ndarray
    neighbor_policy: np.ndarray
    state_distribution: np.ndarray | None
    degree: np.ndarray | None


def _batch(q, neighbor_policy, game, beta, state_distribution=None, degree=None, policy="boltzmann", epsilon=None):
    n_states, n_actions = game.n_states, game.n_actions
    q = np.asarray(q, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    _check_state_action("q", q, n_states, n_actions)
    _check_state_action("neighbor_policy", neighbor_policy, n_states, n_actions)
    shapes = [q.shape[:-2], neighbor_policy.shape[:-2]]
    if state_distribution is not None:
        state_distribution = np.asarray(state_distribution, dtype=np.float64)
        _check_state("state_distribution", state_distribution, n_states)
        degree = _degree_array(degree)
        shapes += [state_distribution.shape[:-1], degree.shape]
    shape = np.broadcast_shapes(*shapes)

    def flat(array, tail):
        return np.array(np.broadcast_to(array, shape + tail), order="C").reshape((-1,) + tail)  # writable copy

    table = (n_states, n_actions)
    q_flat = flat(q, table)
    return _Batch(
        shape,
        q_flat,
        policy_of(q_flat, policy, beta=beta, epsilon=epsilon),
        one_step.outcome_batch(flat(neighbor_policy, table), game.group_size),
        None if state_distribution is None else flat(state_distribution, (n_states,)),
        None if degree is None else flat(degree, ()),
    )


def outcome_distribution(neighbor_policy, group_size: int = 0) -> np.ndarray:
    """What an agent meets in each state: the neighbour's action, or the count of co-players choosing action 0.

    Parameters
    ----------
    neighbor_policy : array_like, shape (..., state, action)
        X̃, the policy of the neighbour (pairwise) or of each of the i.i.d. co-players (group game).
    group_size : int
        0 for a pairwise game; n >= 2 for a group game in groups of n.

    Returns
    -------
    ndarray, shape (..., state, outcome)
        X̃ itself (outcome = action) when pairwise; Binomial(n - 1, X̃(s, 0)) over j = 0..n-1 for groups
        (:func:`marldyn.theory.one_step.outcome_into`).

    Examples
    --------
    >>> outcome_distribution([[0.25, 0.75]], group_size=3)  # two co-players: (3/4)², 2 (1/4)(3/4), (1/4)²
    array([[0.5625, 0.375 , 0.0625]])
    """
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    if neighbor_policy.ndim < 2:
        raise ConfigError(f"neighbor_policy must have shape (..., state, action), got {neighbor_policy.shape}")
    integer = isinstance(group_size, int | np.integer) and not isinstance(group_size, bool)
    if not integer or group_size == 1 or group_size < 0:
        raise ConfigError(f"group_size = {group_size!r} must be 0 (pairwise) or a group size >= 2")
    head, table = neighbor_policy.shape[:-2], neighbor_policy.shape[-2:]
    flat = np.ascontiguousarray(neighbor_policy.reshape((-1,) + table))
    out = one_step.outcome_batch(flat, int(group_size))
    return out.reshape(head + out.shape[1:])


# ----------------------------------------------------------------------------------------------
# TD error, eqs. (6)-(7)
# ----------------------------------------------------------------------------------------------
def td_error_moments(
    q, neighbor_policy, game, *, beta, gamma, rule="q_learning", policy="boltzmann", epsilon=None
) -> TDErrorMoments:
    """Mean δ̄ (eq. 7), second moment and variance of one edge's TD error, each (..., state, action).

    See :class:`TDErrorMoments`; arguments as in :func:`mean_td_error`.

    Examples
    --------
    >>> from marldyn.games import two_state_pd
    >>> moments = td_error_moments([[0.5, 0.0], [0.0, 0.5]], [[1.0, 0.0], [1.0, 0.0]], two_state_pd(),
    ...                            beta=1.0, gamma=0.8)
    >>> moments.variance.shape
    (2, 2)
    """
    batch = _batch(q, neighbor_policy, game, beta, policy=policy, epsilon=epsilon)
    payoff, transition = game.arrays()
    mean, second = one_step.td_moments_batch(
        batch.q, batch.policy, batch.neighbor_policy, payoff, transition, float(gamma), rule_code(rule)
    )
    shape = batch.shape + (game.n_states, game.n_actions)
    mean, second = mean.reshape(shape), second.reshape(shape)
    return TDErrorMoments(mean, second, np.maximum(second - mean * mean, 0.0))


def mean_td_error(q, neighbor_policy, game, *, beta, gamma, rule="q_learning", policy="boltzmann", epsilon=None):
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
        β (sets the own Boltzmann policy X, used by SARSA and expected SARSA) and γ.
    rule : str or int
    policy : {"boltzmann", "epsilon_greedy"}
        The own policy; ``epsilon`` with ``"epsilon_greedy"``.

    Returns
    -------
    ndarray, shape (..., state, action)
        δ̄, in payoff units.

    Examples
    --------
    >>> from marldyn.games import Game
    >>> game = Game([[[2.0]]], [[[[1.0]]]])  # one state, one action: δ = 2 + γ Q - Q
    >>> mean_td_error([[3.0]], [[1.0]], game, beta=1.0, gamma=0.5)
    array([[0.5]])
    """
    return td_error_moments(
        q, neighbor_policy, game, beta=beta, gamma=gamma, rule=rule, policy=policy, epsilon=epsilon
    ).mean


# ----------------------------------------------------------------------------------------------
# Edge counts: multinomial(k, p(.|Q))
# ----------------------------------------------------------------------------------------------
def _counts(state_distribution, degree):
    probability = np.asarray(state_distribution, dtype=np.float64)
    if probability.ndim < 1:
        raise ConfigError(f"state_distribution must have shape (..., state), got {probability.shape}")
    degree = _degree_array(degree)
    shape = np.broadcast_shapes(probability.shape[:-1], degree.shape)
    n_states = probability.shape[-1]
    probability = np.array(np.broadcast_to(probability, shape + (n_states,)), order="C")
    degree = np.array(np.broadcast_to(degree[..., None], shape + (n_states,)), order="C")
    return shape, n_states, probability, degree


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

    Examples
    --------
    >>> interaction_probability([0.5, 0.5], 2)
    array([0.75, 0.75])
    """
    shape, n_states, probability, degree = _counts(state_distribution, degree)
    return one_step.interaction_probability_batch(probability.ravel(), degree.ravel()).reshape(shape + (n_states,))


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

    Examples
    --------
    >>> joint_interaction_probability([0.5, 0.5], 1)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    shape, n_states, probability, degree = _counts(state_distribution, degree)
    joint = one_step.joint_interaction_probability_batch(
        probability.reshape(-1, n_states), np.ascontiguousarray(degree.reshape(-1, n_states)[:, 0])
    )
    return joint.reshape(shape + (n_states, n_states))


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

    Examples
    --------
    >>> mean_inverse_count([1.0, 0.0], 4)  # all four edges in the first state: 1/4
    array([0.25, 0.  ])
    """
    shape, n_states, probability, degree = _counts(state_distribution, degree)
    return one_step.mean_inverse_count_batch(probability.ravel(), degree.ravel()).reshape(shape + (n_states,))


# ----------------------------------------------------------------------------------------------
# Drift μ, eq. (9), and diffusion Σ, eq. (5)
# ----------------------------------------------------------------------------------------------
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
    """μ(Q), the expected change of Q(s, a) in one step, eq. (9).

    μ(s, a) = α [1 - (1 - p(s|Q))^k] X(s, a) c(s, a) δ̄(s, a), for Q-learning, SARSA, expected SARSA and FAQ
    (δ̄ of the rule, :func:`mean_td_error`; c = min(faq_beta / X, 1) for FAQ, 1 otherwise). Exact for one step
    of Algorithm 1 given the inputs: the update of Q(s, a) happens iff a(s) = a and n_s ≥ 1, and then its
    expected size is α c δ̄(s, a).

    Parameters
    ----------
    q : array_like, shape (..., state, action)
    neighbor_policy : array_like, shape (..., state, action)
    state_distribution : array_like, shape (..., state)
    degree : int or array_like of int, shape (...)
    game : Game
    alpha, beta, gamma : float
    rule : str or int
    policy : {"boltzmann", "epsilon_greedy"}
        The focal agent's policy X (``beta`` for Boltzmann, ``epsilon`` for ε-greedy).
    epsilon : float, optional
    faq_beta : float, optional
        With ``rule = "faq"`` (required there).

    Returns
    -------
    ndarray, shape (..., state, action)
        μ, in Q units per step.

    Examples
    --------
    >>> from marldyn.games import Game
    >>> game = Game([[[2.0]]], [[[[1.0]]]])
    >>> drift([[3.0]], [[1.0]], [1.0], 4, game, alpha=0.1, beta=1.0, gamma=0.5)  # α δ̄ = 0.1 * 0.5
    array([[0.05]])
    """
    batch = _batch(q, neighbor_policy, game, beta, state_distribution, degree, policy, epsilon)
    return _drift(batch, game, alpha, gamma, rule, faq_factor(rule, faq_beta))


def _drift(batch: _Batch, game, alpha, gamma, rule, faq_beta) -> np.ndarray:
    """μ of a prepared batch from the numba core, in the batch shape (state, action)."""
    payoff, transition = game.arrays()
    mu = one_step.drift_batch(
        batch.q,
        batch.policy,
        batch.neighbor_policy,
        batch.state_distribution,
        batch.degree,
        payoff,
        transition,
        float(alpha),
        float(gamma),
        rule_code(rule),
        faq_beta,
    )
    return mu.reshape(batch.shape + (game.n_states, game.n_actions))


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
    """Σ(Q), the exact covariance of one step's increment ΔQ of the focal agent (eq. 5; docs/diffusion.md).

    With π_s = P(n_s ≥ 1), π_{ss'} = P(n_s ≥ 1, n_s' ≥ 1) (:func:`joint_interaction_probability`),
    h_s = E[1/n_s; n_s ≥ 1] (:func:`mean_inverse_count`), and for Q-learning / expected SARSA
    (deterministic bootstrap values):

    - Σ[(s,a),(s,a)] = α² X(s,a) [π_s δ̄(s,a)² + h_s v(s,a)] - μ(s,a)²   (v: one edge's TD variance)
    - Σ[(s,a),(s,a')] = -μ(s,a) μ(s,a'), a ≠ a'   (one action per state moves)
    - Σ[(s,a),(s',a')] = α² X(s,a) X(s',a') (π_{ss'} - π_s π_s') δ̄(s,a) δ̄(s',a'), s ≠ s' (dependent counts).

    For SARSA the TD errors also depend on the agent's own drawn actions in the other states; Σ is
    computed conditionally on the full own action profile and averaged (docs/diffusion.md, eqs. D2, D4-D5),
    which adds γ² Var_X[Q(s'', ·)] terms and couples the states through V(s') = Q(s', a(s')). FAQ multiplies
    each α by the played action's c(s, a) = min(faq_beta / X(s, a), 1).

    Parameters
    ----------
    (as :func:`drift`)

    Returns
    -------
    ndarray, shape (..., state * action, state * action)
        Σ in the paper's ordering of Q = [Q(s1, a1), Q(s1, a2), ..., Q(sK, aM)], i.e. the row-major
        flattening ``q.reshape(..., K * M)``; ``.reshape(..., K, M, K, M)`` gives Σ[s, a, s', a'].
        Units: Q² per step; symmetric positive semi-definite; O(α²).

    Examples
    --------
    >>> from marldyn.games import two_state_pd
    >>> sigma = diffusion([[0.5, 0.0], [0.0, 0.5]], [[0.6, 0.4], [0.4, 0.6]], [0.5, 0.5], 4, two_state_pd(),
    ...                   alpha=0.01, beta=1.0, gamma=0.8)
    >>> sigma.shape, bool(np.allclose(sigma, sigma.T))
    ((4, 4), True)
    """
    batch = _batch(q, neighbor_policy, game, beta, state_distribution, degree, policy, epsilon)
    payoff, transition = game.arrays()
    code = rule_code(rule)
    _, sigma = one_step.moments_batch(
        batch.q,
        batch.policy,
        batch.neighbor_policy,
        batch.state_distribution,
        batch.degree,
        payoff,
        transition,
        float(alpha),
        float(gamma),
        code,
        faq_factor(rule, faq_beta),
    )
    size = game.n_states * game.n_actions
    return sigma.reshape(batch.shape + (size, size))


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

    Parameters
    ----------
    q, neighbor_policy, state_distribution, degree, game, alpha, beta, gamma, rule
        As in :func:`drift`.
    diagonal : {"second_moment", "squared_mean"}
        The reading of E² in eq. (6) (see above).

    Returns
    -------
    ndarray, shape (..., state * action, state * action)
        Same ordering and units as :func:`diffusion`.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.games import two_state_pd
    >>> from marldyn.theory.moments import diffusion, diffusion_paper
    >>> arguments = ([[0.5, 0.0], [0.0, 0.5]], [[0.6, 0.4], [0.4, 0.6]], [0.5, 0.5], 4, two_state_pd())
    >>> paper = diffusion_paper(*arguments, alpha=0.01, beta=1.0, gamma=0.8)
    >>> exact = diffusion(*arguments, alpha=0.01, beta=1.0, gamma=0.8)
    >>> paper[:2, 2:]  # eq. (4): no covariance across states
    array([[0., 0.],
           [0., 0.]])
    >>> (np.diag(paper) / np.diag(exact)).round(2)  # eq. (6) ignores the averaging over the n_s edges
    array([1.44, 1.24, 1.51, 1.57])
    """
    if diagonal not in ("second_moment", "squared_mean"):
        raise ConfigError(f"diagonal = {diagonal!r} must be 'second_moment' or 'squared_mean'")
    if rule_code(rule) == FAQ:
        raise ConfigError("diffusion_paper: the supplement's Σ is for Q-learning, SARSA and expected SARSA, not FAQ")
    n_states, n_actions = game.n_states, game.n_actions
    batch = _batch(q, neighbor_policy, game, beta, state_distribution, degree)
    mu = _drift(batch, game, alpha, gamma, rule, 1.0)  # the supplement's Σ needs μ and the TD moments, not the exact Σ
    payoff, transition = game.arrays()
    table = batch.shape + (n_states, n_actions)
    mean, second = (
        part.reshape(table)
        for part in one_step.td_moments_batch(
            batch.q, batch.policy, batch.neighbor_policy, payoff, transition, float(gamma), rule_code(rule)
        )
    )
    policy = batch.policy.reshape(table)
    engaged = interaction_probability(batch.state_distribution, batch.degree).reshape(batch.shape + (n_states,))
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

    Examples
    --------
    Two neighbours, one mostly cooperating and one mostly defecting in s1; the edge to the first is more
    often in s1, so the neighbour met in s1 leans towards the first one's policy:

    >>> from marldyn.theory.moments import neighbor_marginals
    >>> policies = [[[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]]]  # (neighbor, state, action)
    >>> pairs = [[0.75, 0.25], [0.25, 0.75]]  # p(s | Q, Q̃_j), (neighbor, state)
    >>> state_distribution, neighbor_policy = neighbor_marginals(policies, pairs)
    >>> state_distribution
    array([0.5, 0.5])
    >>> neighbor_policy  # s1: (0.75 * 0.9 + 0.25 * 0.1) / (0.75 + 0.25) = 0.7
    array([[0.7, 0.3],
           [0.5, 0.5]])
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
