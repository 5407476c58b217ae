"""Boltzmann (softmax) policies, eq. (2), and sampling from them.

One implementation of the exponential serves the numba kernel, the numpy reference and the
recorded outputs, so that they agree bit for bit (numpy's vectorised ``exp`` and the C library's
``exp`` used by numba differ in the last bit for a few percent of arguments).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


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
