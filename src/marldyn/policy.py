"""The agents' policies -- Boltzmann (softmax, eq. 2), ε-greedy and fixed tables -- and sampling from them.

One implementation of each policy serves the numba kernel, the numpy reference, the theories and the recorded
outputs, so that they agree bit for bit (numpy's vectorised ``exp`` and the C library's ``exp`` used by numba
differ in the last bit for a few percent of arguments).

- ``boltzmann``: X(s, a) = exp(β Q(s, a)) / Σ_a' exp(β Q(s, a')) (eq. 2).
- ``epsilon_greedy``: X(s, a) = ε / M + (1 - ε) 1[a ∈ argmax Q(s, ·)] / #argmax Q(s, ·): with probability ε a
  uniformly random action, otherwise a greedy one, ties among the maximisers broken uniformly at random
  (Gomes & Kowalczyk, ICML 2009). Maximisers are the entries *equal* to the maximum.
- fixed: a given (state, action) probability table that never changes (committed agents).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .errors import ConfigError, did_you_mean


@njit(cache=True, inline="always")
def softmax_row(q_row, beta, out):
    """Write X(a) = exp(β Q(a)) / Σ_a' exp(β Q(a')) into ``out`` (eq. 2), overflow-safe.

    The maximum is subtracted first, so every exponent is <= 0; β = 0 gives the uniform policy.

    Parameters
    ----------
    q_row : ndarray, shape (action,)
        Q(s, ·) of one agent in one state.
    beta : float
        β >= 0, the inverse temperature.
    out : ndarray, shape (action,)
        Receives the policy X(s, ·).
    """
    n_actions = q_row.shape[0]
    largest = q_row[0]
    for a in range(1, n_actions):
        if q_row[a] > largest:
            largest = q_row[a]
    total = 0.0
    for a in range(n_actions):
        # exp(0) == 1 exactly: the maximal entries need no exponential (half the work when M = 2)
        weight = 1.0 if q_row[a] == largest else math.exp(beta * (q_row[a] - largest))
        out[a] = weight
        total += weight
    for a in range(n_actions):
        out[a] = out[a] / total


@njit(cache=True, inline="always")
def epsilon_greedy_row(q_row, epsilon, out):
    """Write X(a) = ε / M + (1 - ε) 1[a ∈ argmax] / #argmax into ``out`` (the ε-greedy policy of one state).

    Parameters
    ----------
    q_row : ndarray, shape (action,)
        Q(s, ·) of one agent in one state.
    epsilon : float
        0 <= ε <= 1, the probability of a uniformly random action (1: uniform play).
    out : ndarray, shape (action,)
        Receives the policy X(s, ·).
    """
    n_actions = q_row.shape[0]
    largest = q_row[0]
    for a in range(1, n_actions):
        if q_row[a] > largest:
            largest = q_row[a]
    ties = 0
    for a in range(n_actions):
        if q_row[a] == largest:
            ties += 1
    explore = epsilon / n_actions
    greedy = (1.0 - epsilon) / ties
    for a in range(n_actions):
        out[a] = explore + greedy if q_row[a] == largest else explore


BOLTZMANN, EPSILON_GREEDY, FIXED = 0, 1, 2
"""Codes of the policy kinds, as the numba kernels take them (``FIXED``: a committed agent's table)."""
POLICIES = ("boltzmann", "epsilon_greedy")
"""The names of the learning policies (``[learning] policy``)."""


@njit(cache=True, inline="always")
def policy_row(kind, q_row, beta, epsilon, fixed_row, out):
    """Write the policy X(s, ·) of one agent in one state into ``out``, for any policy kind.

    Parameters
    ----------
    kind : int
        ``BOLTZMANN`` (:func:`softmax_row` with ``beta``), ``EPSILON_GREEDY`` (:func:`epsilon_greedy_row` with
        ``epsilon``) or ``FIXED`` (a copy of ``fixed_row``).
    q_row, fixed_row, out : ndarray, shape (action,)
    beta, epsilon : float
    """
    if kind == BOLTZMANN:
        softmax_row(q_row, beta, out)
    elif kind == EPSILON_GREEDY:
        epsilon_greedy_row(q_row, epsilon, out)
    else:
        for a in range(q_row.shape[0]):
            out[a] = fixed_row[a]


@njit(cache=True)
def agent_policies(q, agent_type, kind, beta, epsilon, fixed_policy):
    """X (agent, state, action) of a population whose agents have types (:func:`policy_row` per agent).

    Parameters
    ----------
    q : ndarray, shape (agent, state, action)
    agent_type : ndarray of int64, shape (agent,)
        Each agent's type, an index into the per-type arrays.
    kind : ndarray of int64, shape (type,)
        Policy code of each type.
    beta, epsilon : ndarray, shape (type,)
    fixed_policy : ndarray, shape (type, state, action)
        The table of each ``FIXED`` type (ignored for the others).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.policy import BOLTZMANN, EPSILON_GREEDY, agent_policies
    >>> q = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])  # two agents, one state, two actions
    >>> agent_policies(q, np.array([0, 1]), np.array([BOLTZMANN, EPSILON_GREEDY]), np.array([0.0, 1.0]),
    ...                np.array([0.0, 0.2]), np.zeros((2, 1, 2)))[:, 0]
    array([[0.5, 0.5],
           [0.9, 0.1]])
    """
    out = np.empty_like(q)
    agent_policies_into(q, agent_type, kind, beta, epsilon, fixed_policy, out)
    return out


@njit(cache=True)
def agent_policies_into(q, agent_type, kind, beta, epsilon, fixed_policy, out):
    """:func:`agent_policies` into ``out`` (agent, state, action)."""
    for i in range(q.shape[0]):
        t = agent_type[i]
        for s in range(q.shape[1]):
            policy_row(kind[t], q[i, s], beta[t], epsilon[t], fixed_policy[t, s], out[i, s])


def epsilon_greedy(q, epsilon: float) -> np.ndarray:
    """The ε-greedy policy X = ε / M + (1 - ε) 1[a ∈ argmax] / #argmax over the last axis.

    Parameters
    ----------
    q : array_like, shape (..., action)
    epsilon : float
        0 <= ε <= 1.

    Returns
    -------
    ndarray, same shape as ``q``

    Examples
    --------
    >>> epsilon_greedy([[1.0, 0.0, 0.0], [2.0, 2.0, 0.0]], 0.3).round(3)  # ties share the greedy mass
    array([[0.8 , 0.1 , 0.1 ],
           [0.45, 0.45, 0.1 ]])
    """
    q = np.asarray(q, dtype=np.float64)
    rows = np.ascontiguousarray(q.reshape(-1, q.shape[-1]))
    return _epsilon_greedy_rows(rows, float(epsilon)).reshape(q.shape)


@njit(cache=True)
def _epsilon_greedy_rows(q_rows, epsilon):
    out = np.empty_like(q_rows)
    for r in range(q_rows.shape[0]):
        epsilon_greedy_row(q_rows[r], epsilon, out[r])
    return out


@njit(cache=True)
def _softmax_rows(q_rows, beta):
    out = np.empty_like(q_rows)
    for r in range(q_rows.shape[0]):
        softmax_row(q_rows[r], beta, out[r])
    return out


@njit(cache=True)
def boltzmann_table(q, beta):
    """:func:`boltzmann` for use inside numba code: ``q`` of shape (..., action)."""
    q = np.ascontiguousarray(q)
    return _softmax_rows(q.reshape(-1, q.shape[-1]), beta).reshape(q.shape)


def boltzmann(q, beta: float) -> np.ndarray:
    """The Boltzmann policy X = softmax(β Q) over the last axis (eq. 2).

    Parameters
    ----------
    q : array_like, shape (..., action)
        Q-values, e.g. (agent, state, action) or (state, action).
    beta : float
        Inverse temperature β >= 0.

    Returns
    -------
    ndarray, same shape as ``q``
        Probabilities that sum to 1 over the last axis.
    """
    q = np.asarray(q, dtype=np.float64)
    rows = np.ascontiguousarray(q.reshape(-1, q.shape[-1]))
    return _softmax_rows(rows, float(beta)).reshape(q.shape)


def policy_code(policy: str) -> int:
    """The integer code of a policy name of :data:`POLICIES` (``BOLTZMANN`` or ``EPSILON_GREEDY``).

    Examples
    --------
    >>> policy_code("epsilon_greedy") == EPSILON_GREEDY
    True
    """
    if policy not in POLICIES:
        raise ConfigError(f"policy = {policy!r} is not one of {', '.join(POLICIES)}{did_you_mean(policy, POLICIES)}")
    return POLICIES.index(policy)


def policy_of(q, policy: str = "boltzmann", *, beta: float = 1.0, epsilon: float | None = None) -> np.ndarray:
    """X(Q) of the named policy over the last axis: :func:`boltzmann` with ``beta`` or :func:`epsilon_greedy`.

    Examples
    --------
    >>> policy_of([[1.0, 0.0]], "epsilon_greedy", epsilon=0.5)
    array([[0.75, 0.25]])
    """
    if policy_code(policy) == EPSILON_GREEDY:
        return epsilon_greedy(q, epsilon_of(policy, epsilon))
    return boltzmann(q, beta)


def epsilon_of(policy: str, epsilon: float | None) -> float:
    """The ε a policy plays with: ``epsilon`` for ε-greedy (0 <= ε <= 1, required), 0 for Boltzmann (unused).

    Examples
    --------
    >>> epsilon_of("epsilon_greedy", 0.1), epsilon_of("boltzmann", None)
    (0.1, 0.0)
    """
    if policy_code(policy) != EPSILON_GREEDY:
        return 0.0
    if epsilon is None or not 0.0 <= float(epsilon) <= 1.0:
        raise ConfigError(f"epsilon = {epsilon!r}: policy = 'epsilon_greedy' needs 0 <= epsilon <= 1")
    return float(epsilon)


@njit(cache=True, inline="always")
def sample_index(probabilities, u):
    """Index drawn from ``probabilities`` with one uniform ``u`` in [0, 1) (inverse-CDF).

    Returns the first ``a`` with ``u < Σ_{a' <= a} p(a')``; if rounding leaves ``u`` above the total,
    the last index of positive probability.
    """
    cumulative = 0.0
    n = probabilities.shape[0]
    for a in range(n):
        cumulative += probabilities[a]
        if u < cumulative:
            return a
    for a in range(n - 1, -1, -1):
        if probabilities[a] > 0.0:
            return a
    return n - 1


def sample_indices(probabilities: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Vectorised :func:`sample_index` (the numpy reference): rows of ``probabilities`` (..., n), ``u`` (...)."""
    cumulative = np.cumsum(probabilities, axis=-1)
    index = np.sum(cumulative <= u[..., None], axis=-1)
    n = probabilities.shape[-1]
    overflow = index >= n
    if np.any(overflow):
        last_positive = n - 1 - np.argmax(probabilities[..., ::-1] > 0, axis=-1)
        index = np.where(overflow, last_positive, index)
    return index
