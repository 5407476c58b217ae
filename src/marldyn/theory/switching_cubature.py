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

__all__ = ["CUT", "MIN_MASS", "greedy_profiles", "switching_rule", "truncated_normal_rule"]

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
def _rule_workspace(n_base, order):
    return (
        np.empty(n_base),
        np.empty(n_base),
        np.empty(n_base),
        np.empty(n_base),
        np.empty(n_base),
        np.zeros((order, order)),
        np.empty((order, order)),
    )


@njit(cache=True)
def _truncated_rule_into(a, b, base_nodes, base_weights, work, nodes, weights):
    """The Gauss rule of :func:`truncated_normal_rule` on [a, b] (clipped, a <= b) into ``nodes`` and
    ``weights`` (order,): discretised Stieltjes on the Gauss–Legendre nodes of the interval, in the interval's
    own mean and spread, then the Jacobi matrix's eigen-decomposition."""
    x, w, previous, current, following, jacobi, vectors = work
    order = nodes.size
    n_base = base_nodes.size
    mid = 0.5 * (a + b)
    # Φ(b) - Φ(a) without cancellation in either tail
    if a > 0.0:
        mass = 0.5 * (math.erfc(a / math.sqrt(2.0)) - math.erfc(b / math.sqrt(2.0)))
    else:
        mass = 0.5 * (math.erfc(-b / math.sqrt(2.0)) - math.erfc(-a / math.sqrt(2.0)))
    if not mass >= MIN_MASS:
        for k in range(order):
            nodes[k] = mid
            weights[k] = 0.0
        return
    if order == 1:  # the piece's mean (φ(a) - φ(b)) / (Φ(b) - Φ(a)): exact for linear functions
        value = (math.exp(-0.5 * a * a) - math.exp(-0.5 * b * b)) / (math.sqrt(2.0 * math.pi) * mass)
        nodes[0] = min(max(value, a), b)
        weights[0] = mass
        return
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
        nodes[k] = min(max(mean + spread * jacobi[k, k], a), b)
        weights[k] = mass * vectors[0, k] ** 2


@njit(cache=True)
def _truncated_rules_into(lower, upper, base_nodes, base_weights, nodes, weights):
    """:func:`_truncated_rule_into` for every interval (interval,), into ``nodes`` and ``weights`` (interval,
    order)."""
    work = _rule_workspace(base_nodes.size, nodes.shape[1])
    for i in range(lower.size):
        _truncated_rule_into(lower[i], upper[i], base_nodes, base_weights, work, nodes[i], weights[i])


@njit(cache=True)
def _switching_rule_into(mean, root, per_state, order, base_nodes, base_weights, xi, weights):
    """The cells of :func:`switching_rule` for every row of ``mean`` (batch, n_c), into ``xi`` (batch, point,
    n_c) and ``weights`` (batch, point): each node of ξ_1 … ξ_{t-1} gets, in ξ_t, the pieces between its break
    points (sorted) and ``order`` nodes per piece, in that order."""
    batch, n_contrasts = mean.shape
    points = xi.shape[1]
    work = _rule_workspace(base_nodes.size, order)
    current = np.zeros((points, n_contrasts))
    following = np.zeros((points, n_contrasts))
    current_weight = np.zeros(points)
    following_weight = np.zeros(points)
    breaks = np.empty(per_state + 1)
    piece_nodes = np.empty(order)
    piece_weights = np.empty(order)
    scale = 0.0
    for i in range(n_contrasts):
        for j in range(n_contrasts):
            scale = max(scale, abs(root[i, j]))
    for row in range(batch):
        count = 1
        current_weight[0] = 1.0
        for t in range(n_contrasts):
            pivot = root[t, t]
            if not pivot > 1e-12 * scale:  # no spread of its own: ξ_t does not enter
                for j in range(count):
                    current[j, t] = 0.0
                continue
            first = t - t % per_state  # the earlier contrasts of the same state, and 0 (the last action)
            n_breaks = t - first + 1
            for j in range(count):
                offset = mean[row, t]  # contrast t at ξ_t = 0
                for v in range(t):
                    offset += root[t, v] * current[j, v]
                breaks[0] = -offset / pivot
                for u in range(first, t):
                    known = mean[row, u]
                    for v in range(u + 1):
                        known += root[u, v] * current[j, v]
                    breaks[u - first + 1] = (known - offset) / pivot
                for k in range(1, n_breaks):  # insertion sort of at most M - 1 values
                    value = breaks[k]
                    m = k - 1
                    while m >= 0 and breaks[m] > value:
                        breaks[m + 1] = breaks[m]
                        m -= 1
                    breaks[m + 1] = value
                for piece in range(n_breaks + 1):
                    low = -CUT if piece == 0 else min(max(breaks[piece - 1], -CUT), CUT)
                    high = CUT if piece == n_breaks else min(max(breaks[piece], -CUT), CUT)
                    high = max(high, low)
                    _truncated_rule_into(low, high, base_nodes, base_weights, work, piece_nodes, piece_weights)
                    for n in range(order):
                        index = (j * (n_breaks + 1) + piece) * order + n
                        for v in range(t):
                            following[index, v] = current[j, v]
                        following[index, t] = piece_nodes[n]
                        following_weight[index] = current_weight[j] * piece_weights[n]
            count *= (n_breaks + 1) * order
            current, following = following, current
            current_weight, following_weight = following_weight, current_weight
        for j in range(points):
            for v in range(n_contrasts):
                xi[row, j, v] = current[j, v]
            weights[row, j] = current_weight[j] if current_weight[j] >= MIN_MASS else 0.0


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
    >>> round(float(weights.sum()), 12), round(float(weights[0] @ nodes[0]), 12)  # 1/2 and φ(0) = 1/√(2π)
    (0.5, 0.398942280401)
    >>> round(float(weights[0] @ nodes[0] ** 5), 10)  # E[ξ⁵; ξ > 0] = 8 φ(0)
    3.1915382432
    """
    order = int(order)
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    lower = np.clip(np.asarray(lower, dtype=np.float64).ravel(), -CUT, CUT)
    upper = np.maximum(np.clip(np.asarray(upper, dtype=np.float64).ravel(), -CUT, CUT), lower)
    nodes = np.empty((lower.size, order))
    weights = np.empty((lower.size, order))
    _truncated_rules_into(lower, upper, *_legendre(), nodes, weights)
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
    mean = np.ascontiguousarray(np.atleast_2d(np.asarray(mean, dtype=np.float64)))
    root = np.ascontiguousarray(root, dtype=np.float64)
    batch, n_contrasts = mean.shape
    per_state = int(n_actions) - 1
    order = int(order)
    scale = max(float(np.abs(root).max(initial=0.0)), 1e-300)
    points = 1
    for t in range(n_contrasts):
        if root[t, t] > 1e-12 * scale:
            points *= (t % per_state + 2) * order
    xi = np.empty((batch, points, n_contrasts))
    weights = np.empty((batch, points))
    _switching_rule_into(mean, root, per_state, order, *_legendre(), xi, weights)
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
