"""Gauss rules for a Gaussian cut into cells by the ε-greedy switching surfaces.

Under an ε-greedy policy the policy X(s, ·) is a step function of the within-state contrasts
c(s, a) = Q(s, a) - Q(s, M-1): it jumps on the switching surfaces c(s, a) = c(s, b) and c(s, a) = 0. A
Gauss–Hermite rule spread over such a jump integrates it to O(1 / order) only. The rules here put the jumps on
cell boundaries instead, so that every node of a cell sees the same greedy actions and the integrand is smooth
within the cell:

- **Sequential coordinates.** With c = m + L ξ, L the lower Cholesky root of the contrasts' covariance and ξ
  standard normal, contrast t depends on ξ_1 … ξ_t only. Given ξ_1 … ξ_{t-1}, every surface that involves
  contrast t and an earlier contrast of its state (or 0, the last action's contrast) is crossed at one value of
  ξ_t: ξ_t = (v - m_t - Σ_{u<t} L_tu ξ_u) / L_tt. These break points cut the line of ξ_t into pieces.
- **Truncated-normal Gauss rules.** On each piece [a, b], the ``order``-node Gauss rule of the standard normal
  density restricted to [a, b] (exact for polynomials of degree 2 order - 1 on the piece), computed by the
  discretised Stieltjes procedure (Gautschi, *Orthogonal Polynomials: Computation and Approximation*, 2004,
  §2.2.3) on a 40-node Gauss–Legendre discretisation of the piece, then the eigenvalues of the Jacobi matrix
  (Golub & Welsch 1969). Its weights sum to the piece's probability Φ(b) - Φ(a).
- **Product.** The rule for ξ is the sequential product: each node of ξ_1 … ξ_{t-1} gets its own pieces and
  nodes in ξ_t. With M = 2 actions every coordinate has one break point and two pieces: (2 order)^K nodes.
  A coordinate with no spread (L_tt = 0) gets the single node ξ_t = 0. Pieces of probability below
  :data:`MIN_MASS` get weight 0 (their nodes are kept, so that every rule of one shape has one size).

Used by the moment closure's ε-greedy route (:mod:`marldyn.theory.closure`, ``docs/closure.md`` [C11]).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit
from numpy.polynomial.legendre import leggauss

__all__ = ["MIN_MASS", "greedy_profiles", "switching_rule", "truncated_normal_rule"]

CUT = 9.0
"""The standard normal beyond ±CUT (probability 2e-19) is dropped."""
MIN_MASS = 1e-14
"""Pieces of smaller probability get weight 0."""
BASE_NODES = 40  # Gauss–Legendre nodes of the discretisation: moments to 4e-12 on a piece of width ≤ 18 (measured)


@functools.lru_cache(maxsize=1)
def _legendre():
    nodes, weights = leggauss(BASE_NODES)
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


@njit(cache=True)
def _symmetric_eigen_into(matrix, vectors):
    """Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations (Golub & Van Loan, *Matrix
    Computations*, §8.5), in place: ``matrix`` ends diagonal (its eigenvalues), ``vectors`` (columns) its
    eigenvectors. Faster than LAPACK for the 2-6 rows of a Gauss rule's Jacobi matrix."""
    n = matrix.shape[0]
    vectors[:, :] = 0.0
    for i in range(n):
        vectors[i, i] = 1.0
    for _ in range(50):
        off = 0.0
        scale = 0.0
        for i in range(n):
            scale += matrix[i, i] * matrix[i, i]
            for j in range(i + 1, n):
                off += matrix[i, j] * matrix[i, j]
        if off <= 1e-32 * scale:
            return
        for p in range(n - 1):
            for q in range(p + 1, n):
                if matrix[p, q] == 0.0:
                    continue
                theta = (matrix[q, q] - matrix[p, p]) / (2.0 * matrix[p, q])
                t = (1.0 if theta >= 0.0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
                c = 1.0 / math.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):  # A ← A J
                    kp, kq = matrix[k, p], matrix[k, q]
                    matrix[k, p] = c * kp - s * kq
                    matrix[k, q] = s * kp + c * kq
                for k in range(n):  # A ← Jᵀ A
                    pk, qk = matrix[p, k], matrix[q, k]
                    matrix[p, k] = c * pk - s * qk
                    matrix[q, k] = s * pk + c * qk
                for k in range(n):
                    kp, kq = vectors[k, p], vectors[k, q]
                    vectors[k, p] = c * kp - s * kq
                    vectors[k, q] = s * kp + c * kq


@njit(cache=True)
def _truncated_rules_into(lower, upper, order, base_nodes, base_weights, nodes, weights):
    """The Gauss rules of :func:`truncated_normal_rule` for clipped ends ``lower`` <= ``upper`` (interval,), into
    ``nodes`` and ``weights`` (interval, order): discretised Stieltjes on the Gauss–Legendre nodes of each
    interval, in the interval's own mean and spread, then the Jacobi matrix's eigen-decomposition."""
    n_base = base_nodes.size
    x = np.empty(n_base)
    w = np.empty(n_base)
    previous = np.empty(n_base)
    current = np.empty(n_base)
    following = np.empty(n_base)
    jacobi = np.zeros((order, order))
    vectors = np.empty((order, order))
    root_two_pi = math.sqrt(2.0 * math.pi)
    for i in range(lower.size):
        a, b = lower[i], upper[i]
        mid = 0.5 * (a + b)
        # Φ(b) - Φ(a) without cancellation in the upper tail
        mass = 0.5 * (math.erfc(a / math.sqrt(2.0)) - math.erfc(b / math.sqrt(2.0)))
        if a <= 0.0:
            mass = 0.5 * (math.erfc(-b / math.sqrt(2.0)) - math.erfc(-a / math.sqrt(2.0)))
        if not mass >= MIN_MASS:
            for k in range(order):
                nodes[i, k] = mid
                weights[i, k] = 0.0
            continue
        if order == 1:  # the piece's mean (φ(a) - φ(b)) / (Φ(b) - Φ(a)): exact for linear functions
            value = (math.exp(-0.5 * a * a) - math.exp(-0.5 * b * b)) / (root_two_pi * mass)
            nodes[i, 0] = min(max(value, a), b)
            weights[i, 0] = mass
            continue
        half = 0.5 * (b - a)
        total = 0.0
        for j in range(n_base):
            x[j] = mid + half * base_nodes[j]
            w[j] = base_weights[j] * math.exp(-0.5 * x[j] * x[j])
            total += w[j]
        mean = 0.0
        for j in range(n_base):
            w[j] /= total
            mean += w[j] * x[j]
        spread = 0.0
        for j in range(n_base):
            spread += w[j] * (x[j] - mean) ** 2
        spread = math.sqrt(spread) if spread > 0.0 else 1.0
        for j in range(n_base):
            x[j] = (x[j] - mean) / spread
            previous[j] = 0.0
            current[j] = 1.0  # orthonormal with respect to w: Σ w π_k² = 1
        jacobi[:, :] = 0.0
        off = 0.0
        for k in range(order):
            diagonal = 0.0
            for j in range(n_base):
                diagonal += w[j] * x[j] * current[j] * current[j]
            jacobi[k, k] = diagonal
            if k == order - 1:
                break
            norm = 0.0
            for j in range(n_base):
                following[j] = (x[j] - diagonal) * current[j] - off * previous[j]
                norm += w[j] * following[j] * following[j]
            off = math.sqrt(norm)
            jacobi[k, k + 1] = off
            jacobi[k + 1, k] = off
            scale = off if off > 0.0 else 1.0
            for j in range(n_base):
                previous[j] = current[j]
                current[j] = following[j] / scale
        _symmetric_eigen_into(jacobi, vectors)
        for k in range(order):
            nodes[i, k] = min(max(mean + spread * jacobi[k, k], a), b)
            weights[i, k] = mass * vectors[0, k] ** 2


def truncated_normal_rule(lower, upper, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rules of the standard normal density restricted to intervals [lower, upper].

    Parameters
    ----------
    lower, upper : array_like, shape (interval,)
        Interval ends in standard units (±inf allowed; lower <= upper).
    order : int
        Nodes per interval (≥ 1): exact for polynomials of degree 2 order - 1 times the density.

    Returns
    -------
    nodes : ndarray, shape (interval, order)
        Inside each interval (at its clipped mid-point where the interval has no probability).
    weights : ndarray, shape (interval, order)
        Non-negative, summing to Φ(upper) - Φ(lower) per interval (0 below :data:`MIN_MASS`).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.switching_cubature import truncated_normal_rule
    >>> nodes, weights = truncated_normal_rule([0.0], [np.inf], 3)
    >>> round(float(weights.sum()), 12), round(float(weights @ nodes[0]), 12)  # 1/2 and φ(0) = 1/√(2π)
    (0.5, 0.398942280401)
    >>> round(float(weights @ nodes[0] ** 5), 10)  # E[ξ⁵; ξ > 0] = 8 φ(0)
    3.1915382432
    """
    order = int(order)
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    lower = np.clip(np.asarray(lower, dtype=np.float64).ravel(), -CUT, CUT)
    upper = np.maximum(np.clip(np.asarray(upper, dtype=np.float64).ravel(), -CUT, CUT), lower)
    nodes = np.empty((lower.size, order))
    weights = np.empty((lower.size, order))
    _truncated_rules_into(lower, upper, order, *_legendre(), nodes, weights)
    return nodes, weights


def switching_rule(mean, root, n_actions: int, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rules for c = mean + root ξ (ξ standard normal) whose cells do not cross a switching surface.

    Parameters
    ----------
    mean : array_like, shape (batch, n_c)
        Means of the contrasts, n_c = K (M - 1), state-major (:func:`marldyn.theory.closure.contrast_basis`);
        one rule per row.
    root : array_like, shape (n_c, n_c)
        Lower-triangular root of their covariance (zero columns where it is singular), shared by the batch.
    n_actions : int
        M: the contrasts of a state are M - 1 consecutive entries.
    order : int
        Gauss nodes per piece and coordinate.

    Returns
    -------
    xi : ndarray, shape (batch, point, n_c)
        Nodes in the standard coordinates ξ (the contrasts are ``mean + xi @ root.T``).
    weights : ndarray, shape (batch, point)
        Non-negative, summing to 1 (to 1 - 2e-19) per row.

    Examples
    --------
    A Gaussian of mean 0.3 and unit variance in one contrast (a game of one state and two actions): one break
    point, at ξ = -0.3, whose two pieces carry P(c < 0) = Φ(-0.3) and P(c > 0).

    >>> import numpy as np
    >>> from marldyn.theory.switching_cubature import switching_rule
    >>> xi, weights = switching_rule([[0.3]], [[1.0]], 2, 2)
    >>> xi.shape, round(float(weights[0, :2].sum()), 6), round(float(weights[0, 2:].sum()), 6)
    ((1, 4, 1), 0.382089, 0.617911)
    """
    mean = np.atleast_2d(np.asarray(mean, dtype=np.float64))
    root = np.asarray(root, dtype=np.float64)
    batch, n_contrasts = mean.shape
    per_state = int(n_actions) - 1
    scale = max(float(np.abs(root).max(initial=0.0)), 1e-300)
    xi = np.zeros((batch, 1, 0))
    weights = np.ones((batch, 1))
    for t in range(n_contrasts):
        points = xi.shape[1]
        pivot = root[t, t]
        if not pivot > 1e-12 * scale:  # no spread of its own: ξ_t does not enter
            xi = np.concatenate([xi, np.zeros((batch, points, 1))], axis=2)
            continue
        known = mean[:, None, :t] + xi @ root[:t, :t].T  # the contrasts so far (batch, point, t)
        offset = mean[:, t, None] + xi @ root[t, :t]  # contrast t at ξ_t = 0
        first = t - t % per_state  # the earlier contrasts of the same state, and 0 (the last action)
        values = np.concatenate([np.zeros((batch, points, 1)), known[:, :, first:t]], axis=2)
        breaks = np.sort((values - offset[:, :, None]) / pivot, axis=2)
        lower = np.concatenate([np.full((batch, points, 1), -np.inf), breaks], axis=2)
        upper = np.concatenate([breaks, np.full((batch, points, 1), np.inf)], axis=2)
        pieces = lower.shape[2]
        nodes, piece_weights = truncated_normal_rule(lower.ravel(), upper.ravel(), order)
        nodes = nodes.reshape(batch, points, pieces * order)
        piece_weights = piece_weights.reshape(batch, points, pieces * order)
        xi = np.concatenate(
            [np.repeat(xi, pieces * order, axis=1), nodes.reshape(batch, points * pieces * order, 1)], axis=2
        )
        weights = (weights[:, :, None] * piece_weights).reshape(batch, points * pieces * order)
    weights = np.where(weights >= MIN_MASS, weights, 0.0)
    return xi, weights


def greedy_profiles(contrasts, weights, n_actions: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum the weights of nodes by their greedy actions: an ε-greedy agent's policy depends on nothing else.

    Parameters
    ----------
    contrasts : array_like, shape (batch, point, n_c)
        Nodes' contrasts c(s, a) = Q(s, a) - Q(s, M-1), state-major, K (M - 1) of them.
    weights : array_like, shape (batch, point)
    n_actions : int
        M.

    Returns
    -------
    representatives : ndarray, shape (M^K, n_c)
        One table of contrasts per greedy profile g (g(s) = argmax_a, profile index Σ_s g(s) M^s): c(s, a) = 1
        for a = g(s) < M-1 and 0 otherwise, or -1 for every a < M-1 where g(s) = M-1; its ε-greedy policy is g's.
    profile_weights : ndarray, shape (batch, M^K)
        The summed weights of the nodes whose greedy actions are the profile's (ties, of weight 0 under a
        Gaussian, go to the lowest action).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.switching_cubature import greedy_profiles
    >>> representatives, weights = greedy_profiles([[[0.5], [-0.2], [1.5]]], [[0.2, 0.3, 0.5]], 2)
    >>> representatives.tolist(), weights.tolist()  # profile 0: action 0 greedy (c > 0), profile 1: action 1
    ([[1.0], [-1.0]], [[0.7, 0.3]])
    """
    contrasts = np.asarray(contrasts, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    batch, points, n_contrasts = contrasts.shape
    per_state = int(n_actions) - 1
    n_states = n_contrasts // per_state
    rows = contrasts.reshape(batch, points, n_states, per_state)
    greedy = np.argmax(np.concatenate([rows, np.zeros((batch, points, n_states, 1))], axis=3), axis=3)
    index = greedy @ (int(n_actions) ** np.arange(n_states))
    count = int(n_actions) ** n_states
    profile_weights = np.zeros((batch, count))
    np.add.at(profile_weights, (np.arange(batch)[:, None], index), weights)
    digits = (np.arange(count)[:, None] // int(n_actions) ** np.arange(n_states)[None, :]) % int(n_actions)
    representatives = np.where(
        digits[:, :, None] == per_state, -1.0, (digits[:, :, None] == np.arange(per_state)[None, None, :]) * 1.0
    )
    return representatives.reshape(count, n_contrasts), profile_weights
