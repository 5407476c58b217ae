"""A deterministic moment closure of the population on the graph: the mean and the spatial covariance of Q.

Derivation, assumptions and limits: ``docs/closure.md``. Summary (d = K M entries per agent):

- **State.** m(t), the mean of Q over agents and runs, and the covariance of the whole population's
  deviations, Cov(Q_i, Q_j), in the eigenbasis of the adjacency matrix of a regular graph: one d x d block
  C(λ) per adjacency eigenvalue λ (the graph's spectrum is grouped into at most ``MAX_MODES`` values; the
  uniform mode λ = k, which carries the run-to-run fluctuation of the population mean, is kept apart). The
  variance of one agent is C₀ = Σ_λ w_λ C(λ), the covariance of two neighbours C₁ = Σ_λ w_λ λ C(λ) / k
  [C1-C2].
- **Gaussian closure.** A focal agent's Q is N(m, C₀); given it, a neighbour's Q is Gaussian with mean
  m + C₁ C₀⁺ (Q - m) and covariance C₀ - C₁ C₀⁺ C₁ (the pair structure), and the neighbour field of the
  pair approximation (eqs. 11, 18-20: p(s | i), X̃_i) is that neighbour law's expectation of p*(s | Q_i, Q_j)
  and of p* X_j. Expectations are taken by Gauss–Hermite cubature in the coordinates that the one-step
  moments are non-linear in — the within-state contrasts Q(s, a) - Q(s, M-1), on which X, p* and the
  bootstrap value's kink depend — and by a two-point rule in the state levels Q(s, M-1), in which μ is
  linear and Σ quadratic (so those are exact) [C3-C5].
- **Moment equations.** dm/dt = E[μ] (eq. 9 under the closure); per mode, the statistically linearised map
  dC(λ)/dt = A C + C Aᵀ + A C Aᵀ + D(λ), A(λ) = Ā_self + λ Ā_nb with the Gaussian-averaged Jacobians
  Ā = E[∂μ_i/∂Q_i], E[∂μ_i/∂Q_j] (forward differences of the smoothed drift), and
  D(λ) = E[Σ] + λ D_edge + (λ² - k) D_common (eq. 5 for E[Σ]; the noise shared by neighbours through a
  common edge and a common neighbour as in :mod:`marldyn.theory.lna`, evaluated at the mean) [C6-C8]. At a
  fixed point and for C → 0 this is the LNA's discrete Lyapunov equation, mode by mode.
- **Diagnostic.** The skewness and excess kurtosis of each entry across agents that the drift and the noise
  create, to first order in the departure from the Gaussian (``q_skewness``, ``q_kurtosis``): where they
  pass 1 and 3 the population is far from Gaussian (a heavy tail, or a split near an outcome-map boundary)
  and :func:`solve_closure` warns [C9].
- **Degree classes** [C10]. On a graph whose degrees differ, one Gaussian per degree class, coupled by the
  pair approximation through the classes' edge-weighted mixture (mean field: no pair correlations, no shared
  noise, :class:`_ClassModel`). With agent types, one Gaussian per (type, degree) class with its type's α, γ,
  rule, β and faq_beta, on any graph: the learners' mixture taken in the effective contrasts (β_c' / β) c of the
  focal class's β, each committed class a point mass that plays its table; with ε-greedy types (or a focal
  β = 0) every neighbour node is the policy table it plays, each learner class a Gaussian of its own.
- **ε-greedy learners** [C11] (reduced time scale): the policy jumps on the switching surfaces, so
  the focal rule is the cells of :func:`~marldyn.theory.switching_cubature.switching_rule` (truncated-normal
  Gauss rules on pieces cut at the surfaces), rebuilt for every evaluation, the Jacobians' shifted ones
  included; a neighbour's law is cut the same way and summed by greedy profile, its policy's only argument.

Rules: Q-learning and expected SARSA (the shared-noise blocks are derived for deterministic bootstrap
values); SARSA with ``correlations=False``. Time scales: ``reduced`` (stationary pair distributions, an
adaptive ODE) and ``full`` (every cubature pair carries its edge-state distribution, moved by its one-step
map, the moments by the discrete moment map in steps of ``dt``).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from numpy.polynomial.hermite_e import hermegauss
from scipy.integrate import solve_ivp

from ..agents import TYPE_RECORDS, type_degree_classes, type_records
from ..errors import ConfigError, ConvergenceError, DivergenceError, MarldynWarning
from ..games import require_immediate_reward
from ..graphs import Graph, lattice_side
from ..learning import EXPECTED_SARSA, FAQ, Q_LEARNING, RULES, faq_factor, rule_code
from ..policy import BOLTZMANN, EPSILON_GREEDY, FIXED, POLICIES, boltzmann, epsilon_greedy, policy_code, policy_row
from .euler_maruyama import psd_cholesky_into
from .markov import edge_transition_into, stationary_into
from .one_step import drift_into, moments_into, pair_td_into, shared_noise_into, workspace
from .switching_cubature import greedy_profiles, switching_rule

__all__ = [
    "ClosureTrajectory",
    "closure_modes",
    "contrast_basis",
    "gaussian_mean_policy",
    "gaussian_nodes",
    "moment_terms",
    "solve_closure",
]

MAX_MODES = 64  # adjacency eigenvalues are grouped into at most this many values (besides the uniform mode)
DIRECT_MODES = 2000  # the spectrum of a non-lattice regular graph is computed densely up to this many agents
SKEWNESS_WARNING = 1.0  # predicted |skewness| above this: warn that the population is far from Gaussian
KURTOSIS_WARNING = 3.0  # the same for the predicted |excess kurtosis|
OUTPUT_ORDER = 24  # Gauss-Hermite order per contrast of the reported mean policy
TIMESCALES = ("reduced", "full")


@dataclass(frozen=True, eq=False)
class ClosureTrajectory:
    """A moment-closure trajectory; arrays named as in the simulation's Dataset.

    Attributes
    ----------
    time : ndarray, shape (time,)
        Times in simulator steps.
    q : ndarray, shape (time, state, action)
        The mean m of Q over agents (and runs).
    policy : ndarray, shape (time, state, action)
        E[X(Q)] under the Gaussian N(m, C₀): the mean policy of the population.
    q_std : ndarray, shape (time, state, action)
        √diag of the within-run across-agent covariance C₀ - C(k)/N (what the simulator's ``q_std``
        estimates).
    q_mean_std : ndarray, shape (time, state, action)
        √diag of C(k)/N, the run-to-run standard deviation of the population mean.
    state_fraction : ndarray, shape (time, state)
        Expected fraction of edges in each state.
    covariance, neighbor_covariance : ndarray, shape (time, K M, K M)
        C₀ (one agent's total covariance) and C₁ (two neighbours'), row-major order of Q.
    q_skewness, q_kurtosis : ndarray, shape (time, state, action)
        The diagnostic [C9]: the skewness and excess kurtosis of each entry's distribution across agents that
        the drift and the noise create, to first order in the departure from the Gaussian.
    attrs : dict
        Parameters and the cubature used.
    policy_by_type, q_by_type : ndarray, shape (time, type, state, action), optional
        With agent types: the agent-weighted means over each type's classes.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.theory.closure import solve_closure
    >>> trajectory = solve_closure([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 500, 1000], graph=lattice(9),
    ...                            alpha=1e-3, beta=1.0, gamma=0.8, initial_covariance=0.01 * np.eye(4))
    >>> trajectory.time, trajectory.q.shape, trajectory.covariance.shape
    (array([   0.,  500., 1000.]), (3, 2, 2), (3, 4, 4))
    >>> trajectory.q_std[0].round(4)  # at t = 0: draws of std 0.1 among N = 9 agents, 0.1 √(8/9)
    array([[0.0943, 0.0943],
           [0.0943, 0.0943]])
    >>> trajectory.state_fraction.sum(axis=-1)
    array([1., 1., 1.])
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    q_mean_std: np.ndarray
    state_fraction: np.ndarray
    covariance: np.ndarray
    neighbor_covariance: np.ndarray
    q_skewness: np.ndarray
    q_kurtosis: np.ndarray
    attrs: dict = field(default_factory=dict)
    policy_by_type: np.ndarray | None = None
    q_by_type: np.ndarray | None = None


# ----------------------------------------------------------------------------------------------
# coordinates, cubature, spectrum
# ----------------------------------------------------------------------------------------------
def contrast_basis(n_states: int, n_actions: int) -> np.ndarray:
    """R (d, d) with y = R q.ravel(): first the K (M - 1) contrasts Q(s, a) - Q(s, M-1), then the K levels
    Q(s, M-1) [C3].

    X(s, ·), p* and the bootstrap value's non-linearity depend on the contrasts only; μ is linear and Σ
    quadratic in the levels.

    Examples
    --------
    >>> from marldyn.theory.closure import contrast_basis
    >>> contrast_basis(1, 2)
    array([[ 1., -1.],
           [ 0.,  1.]])
    """
    size = n_states * n_actions
    basis = np.zeros((size, size))
    row = 0
    for s in range(n_states):
        last = s * n_actions + n_actions - 1
        for a in range(n_actions - 1):
            basis[row, s * n_actions + a] = 1.0
            basis[row, last] = -1.0
            row += 1
    for s in range(n_states):
        basis[row, s * n_actions + n_actions - 1] = 1.0
        row += 1
    return basis


@functools.lru_cache(maxsize=16)
def _basis(n_states: int, n_actions: int) -> np.ndarray:
    basis = contrast_basis(n_states, n_actions)
    basis.flags.writeable = False
    return basis


@functools.lru_cache(maxsize=64)
def _hermite(order: int):
    nodes, weights = hermegauss(order)
    nodes.flags.writeable = False
    weights = weights / weights.sum()
    weights.flags.writeable = False
    return nodes, weights


def gaussian_nodes(orders) -> tuple[np.ndarray, np.ndarray]:
    """Product Gauss–Hermite rule for the standard normal in len(orders) dimensions.

    Parameters
    ----------
    orders : sequence of int
        Nodes per dimension (order n integrates polynomials of degree 2n - 1 exactly).

    Returns
    -------
    nodes : ndarray, shape (point, dimension)
    weights : ndarray, shape (point,)
        Positive, summing to 1.

    Examples
    --------
    >>> from marldyn.theory.closure import gaussian_nodes
    >>> nodes, weights = gaussian_nodes([3, 2])
    >>> nodes.shape, round(float(weights @ nodes[:, 0] ** 4), 12)  # E[ξ⁴] = 3
    ((6, 2), 3.0)
    """
    rules = [_hermite(int(order)) for order in orders]
    if not rules:
        return np.zeros((1, 0)), np.ones(1)
    grids = np.meshgrid(*[nodes for nodes, _ in rules], indexing="ij")
    weight_grids = np.meshgrid(*[weights for _, weights in rules], indexing="ij")
    nodes = np.stack([grid.ravel() for grid in grids], axis=1)
    weights = np.prod(np.stack([grid.ravel() for grid in weight_grids], axis=1), axis=1)
    return nodes, weights


def _symmetric_nodes(dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """The degree-3 rule with 2n points ±√n e_i, equal weights (positive; exact up to degree 3)."""
    nodes = np.concatenate([np.eye(dimension), -np.eye(dimension)]) * math.sqrt(dimension)
    return nodes, np.full(2 * dimension, 1.0 / (2 * dimension))


def _contrast_rule(n_contrasts: int, order: int | None):
    """The focal agent's cubature over its contrasts: Gauss–Hermite of ``order`` per contrast (default 5 for
    ≤ 2 contrasts, 4 for 3-4, beyond that 0: the degree-3 symmetric rule)."""
    if order is None:
        order = 5 if n_contrasts <= 2 else (4 if n_contrasts <= 4 else 0)
    nodes, weights = _symmetric_nodes(n_contrasts) if order == 0 else gaussian_nodes([order] * n_contrasts)
    return nodes, weights, order


def _neighbor_rule(n_contrasts: int):
    """Neighbour cubature over its contrasts (its levels do not enter): Gauss–Hermite 3 per contrast up to 3
    contrasts (≤ 27 nodes), else the degree-3 symmetric rule."""
    if n_contrasts <= 3:
        return gaussian_nodes([3] * n_contrasts)
    return _symmetric_nodes(n_contrasts)


def closure_modes(graph: Graph, max_modes: int = MAX_MODES) -> tuple[np.ndarray, np.ndarray]:
    """The adjacency spectrum of a regular graph as (eigenvalue, weight) pairs, the uniform mode first [C1].

    Weights are multiplicities / N (summing to 1); the uniform mode λ = k has weight 1/N. The periodic
    lattice's spectrum is exact (2 cos θ_x + 2 cos θ_y); any other regular graph's comes from a dense
    eigensolve (N ≤ ``DIRECT_MODES``). Values within 1e-9 are merged; beyond ``max_modes`` distinct values
    the non-uniform spectrum is grouped into ``max_modes`` bins of equal width (each at its mean λ).

    Raises
    ------
    ConfigError
        A graph that is not regular, has no edges, or is too large for the dense spectrum.

    Examples
    --------
    >>> from marldyn.graphs import lattice
    >>> from marldyn.theory.closure import closure_modes
    >>> values, weights = closure_modes(lattice(16))
    >>> float(values[0]), float(weights.sum())
    (4.0, 1.0)
    """
    degree = np.asarray(graph.degree)
    n = graph.n_agents
    if graph.n_edges == 0 or not np.all(degree == degree[0]):
        raise ConfigError(
            "method 'closure' needs a regular graph with edges (all degrees equal; its covariance lives on the "
            "adjacency spectrum); use 'sde-graph' or 'particles' on this graph"
        )
    k = float(degree[0])
    side = lattice_side(graph)
    if side:
        wave = 2.0 * np.pi * np.arange(side) / side
        spectrum = (2.0 * np.cos(wave)[:, None] + 2.0 * np.cos(wave)[None, :]).ravel()
        spectrum = np.sort(spectrum)[::-1]
    else:
        if n > DIRECT_MODES:
            raise ConfigError(
                f"method 'closure' computes the spectrum of a non-lattice graph densely: at most {DIRECT_MODES} "
                f"agents, got {n}"
            )
        from scipy.sparse import csr_matrix

        adjacency = csr_matrix(
            (np.ones(len(graph.indices)), np.asarray(graph.indices), np.asarray(graph.indptr)), shape=(n, n)
        ).toarray()
        spectrum = np.sort(np.linalg.eigvalsh(adjacency))[::-1]
    rest = np.delete(spectrum, np.argmin(np.abs(spectrum - k)))  # the uniform mode is tracked on its own
    rest = np.sort(rest)
    group = np.concatenate([[0], np.cumsum(np.diff(rest) > 1e-9)])  # values within 1e-9 are one mode
    counts = np.bincount(group)
    values = np.bincount(group, weights=rest) / counts
    if values.size > max_modes:
        edges = np.linspace(rest.min(), rest.max(), max_modes + 1)
        bins = np.clip(np.searchsorted(edges, rest, side="right") - 1, 0, max_modes - 1)
        counts = np.bincount(bins, minlength=max_modes)
        sums = np.bincount(bins, weights=rest, minlength=max_modes)
        keep = counts > 0
        values, counts = sums[keep] / counts[keep], counts[keep]
    return np.concatenate([[k], values]), np.concatenate([[1.0], counts]) / n


# ----------------------------------------------------------------------------------------------
# the cubature kernel (numba)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _contrast_policy_into(contrasts, kind, beta, epsilon, logits, out):
    """X(s, ·) of a table with the given contrasts (n_c,), into ``out``: the policy ``kind`` (Boltzmann β or
    ε-greedy ε, :func:`marldyn.policy.policy_row`) of the row [c(s, 0), …, c(s, M-2), 0]."""
    n_states, n_actions = out.shape
    for s in range(n_states):
        for a in range(n_actions - 1):
            logits[a] = contrasts[s * (n_actions - 1) + a]
        logits[n_actions - 1] = 0.0
        policy_row(kind, logits, beta, epsilon, logits, out[s])


@njit(cache=True)
def _field_into(
    policy,
    neighbor_contrasts,
    neighbor_shift,
    neighbor_weight,
    fixed_tables,
    pairs,
    dynamic,
    kind,
    beta,
    epsilon,
    transition,
    initial,
    buffers,
    distribution,
    neighbor,
):
    """The pair-approximation field of one focal node over its neighbour nodes r (contrasts + ``neighbor_shift``,
    weights ``neighbor_weight`` (r,); nodes of weight 0 are skipped; a learner's policy of kind ``kind``,
    and the last len(``fixed_tables``) nodes play those tables): p(s) = Σ_r w_r p(s | focal, r) and
    X̃(s, ·) = Σ_r w_r p(s | focal, r) X_r(s, ·) / p(s) (eqs. 8, 18, 20) [C4], with p(· | focal, r) the stationary
    pair distribution p* (eq. 18; closed form for two states), or ``pairs[r]`` if ``dynamic`` (full time scale)."""
    chain, pair, logits, shifted, neighbor_policy = buffers
    n_states, n_actions = policy.shape
    distribution[:] = 0.0
    neighbor[:] = 0.0
    learners = neighbor_weight.size - fixed_tables.shape[0]
    for r in range(neighbor_weight.size):
        if r >= learners:
            for s in range(n_states):
                for a in range(n_actions):
                    neighbor_policy[r, s, a] = fixed_tables[r - learners, s, a]
        else:
            for c in range(shifted.size):
                shifted[c] = neighbor_contrasts[r, c] + neighbor_shift[c]
            _contrast_policy_into(shifted, kind, beta, epsilon, logits, neighbor_policy[r])
        if neighbor_weight[r] == 0.0:
            continue
        if dynamic:
            for s in range(n_states):
                pair[s] = pairs[r, s]
        else:
            edge_transition_into(policy, neighbor_policy[r], transition, chain)
            total = chain[0, 1] + chain[1, 0] if n_states == 2 else 0.0
            if total > 0.0:
                pair[0] = chain[1, 0] / total
                pair[1] = chain[0, 1] / total
            else:
                stationary_into(chain, initial, np.bool_(True), pair)
        for s in range(n_states):
            mass = neighbor_weight[r] * pair[s]
            distribution[s] += mass
            for a in range(n_actions):
                neighbor[s, a] += mass * neighbor_policy[r, s, a]
    for s in range(n_states):
        for a in range(n_actions):
            if distribution[s] > 0.0:
                neighbor[s, a] /= distribution[s]
            else:  # never met in s: μ and Σ multiply X̃(s, ·) by P(n_s ≥ 1) = 0
                value = 0.0
                for r in range(neighbor_weight.size):
                    value += neighbor_weight[r] * neighbor_policy[r, s, a]
                neighbor[s, a] = value


@njit(cache=True)
def _buffers(n_states, n_actions, n_neighbors, n_contrasts):
    return (
        np.empty((n_states, n_states)),
        np.empty(n_states),
        np.empty(n_actions),
        np.empty(n_contrasts),
        np.empty((n_neighbors, n_states, n_actions)),
    )


@njit(cache=True)
def _smoothed_drift_into(
    mean, deviation, weight, focal_shift, neighbor_contrasts, neighbor_weight, neighbor_shift, dynamic, context, out
):
    """E[μ] = Σ_p w_p μ(m + deviation_p + focal_shift | its neighbour nodes), into ``out`` (K, M) [C5]; node p's
    neighbours are ``neighbor_contrasts[p]`` (+ ``neighbor_shift``) with weights ``neighbor_weight[p]``; nodes of
    weight 0 are skipped.

    ``context``: (pairs, degree, payoff, transition, α, policy kind, β, ε, γ, rule, faq_beta, initial, fixed
    tables, workspace, buffers), the same for every call of one :func:`closure_terms`.
    """
    pairs, degree, payoff, transition, alpha, kind, beta, epsilon = context[:8]
    gamma, rule, faq_beta, initial, fixed_tables, work, buffers = context[8:]
    n_states, n_actions = out.shape
    q = np.empty((n_states, n_actions))
    policy = np.empty((n_states, n_actions))
    distribution = np.empty(n_states)
    neighbor = np.empty((n_states, n_actions))
    mu = np.empty((n_states, n_actions))
    out[:] = 0.0
    for p in range(weight.size):
        if weight[p] == 0.0:
            continue
        for s in range(n_states):
            for a in range(n_actions):
                i = s * n_actions + a
                q[s, a] = mean[i] + deviation[p, i] + focal_shift[i]
            policy_row(kind, q[s], beta, epsilon, q[s], policy[s])
        _field_into(
            policy,
            neighbor_contrasts[p],
            neighbor_shift,
            neighbor_weight[p],
            fixed_tables,
            pairs[p],
            dynamic,
            kind,
            beta,
            epsilon,
            transition,
            initial,
            buffers,
            distribution,
            neighbor,
        )
        drift_into(
            q, policy, neighbor, distribution, degree, payoff, transition, alpha, gamma, rule, faq_beta, work, mu
        )
        for s in range(n_states):
            for a in range(n_actions):
                out[s, a] += weight[p] * mu[s, a]


@njit(cache=True)
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
    degree,
    payoff,
    transition,
    alpha,
    kind,
    beta,
    epsilon,
    gamma,
    rule,
    faq_beta,
    initial,
):
    """The terms of the moment equations at one state, in one pass [C5-C8].

    Returns E[μ] (K, M) under the fine rule (from ``pairs`` if ``dynamic``); Ā_self (d, d) and ∂E[μ]/∂c_nb
    (d, n_c) by forward differences of step ``step`` of the coarse rule's E[μ] (stationary pairs): evaluation 0
    of the coarse stacks (``coarse_*[0]``) is the base, evaluation 1 + c that of the focal entry c < d shifted by
    ``step`` (``focal_shift[1 + c]``), evaluation 1 + d + c that of the neighbours' contrast c
    (``neighbor_shift[1 + d + c]``; with ε-greedy, whose cells move with the mean, each evaluation has its own
    nodes and the shift may be in them already); E[Σ] (d, d) over the coarse rule's full nodes (node p's
    neighbours: the base's ``coarse_neighbors[0, noise_contrast[p]]``); and at the mean table the shared-noise
    blocks D_edge, D_common (zero unless ``correlations``).
    """
    n_states, n_actions = payoff.shape[0], payoff.shape[1]
    size = n_states * n_actions
    n_contrasts = fine_neighbors.shape[2]
    work = workspace(n_states, n_actions)
    buffers = _buffers(n_states, n_actions, fine_neighbor_weight.shape[1], n_contrasts)
    context = (
        pairs,
        degree,
        payoff,
        transition,
        alpha,
        kind,
        beta,
        epsilon,
        gamma,
        rule,
        faq_beta,
        initial,
        fixed_tables,
        work,
        buffers,
    )
    no_neighbor = np.zeros(n_contrasts)
    # False as a bool variable: the constant would compile the callees a second time, for Literal[bool](False)
    stationary = dynamic & False
    drift = np.empty((n_states, n_actions))
    _smoothed_drift_into(
        mean,
        fine_deviation,
        fine_weight,
        np.zeros(size),
        fine_neighbors,
        fine_neighbor_weight,
        no_neighbor,
        dynamic,
        context,
        drift,
    )
    base = np.empty((n_states, n_actions))
    _smoothed_drift_into(
        mean,
        coarse_deviation[0],
        coarse_weight[0],
        focal_shift[0],
        coarse_neighbors[0],
        coarse_neighbor_weight[0],
        neighbor_shift[0],
        stationary,
        context,
        base,
    )
    derivative = np.empty((size, size + n_contrasts))  # columns: the focal entries, then the neighbour contrasts
    shifted = np.empty((n_states, n_actions))
    for c in range(size + n_contrasts):
        _smoothed_drift_into(
            mean,
            coarse_deviation[1 + c],
            coarse_weight[1 + c],
            focal_shift[1 + c],
            coarse_neighbors[1 + c],
            coarse_neighbor_weight[1 + c],
            neighbor_shift[1 + c],
            stationary,
            context,
            shifted,
        )
        for s in range(n_states):
            for a in range(n_actions):
                derivative[s * n_actions + a, c] = (shifted[s, a] - base[s, a]) / step
    own = np.ascontiguousarray(derivative[:, :size])
    per_contrast = np.ascontiguousarray(derivative[:, size:])
    focal_q = np.empty((noise_weight.size, n_states, n_actions))
    for p in range(noise_weight.size):
        for s in range(n_states):
            for a in range(n_actions):
                focal_q[p, s, a] = mean[s * n_actions + a] + noise_deviation[p, s * n_actions + a]
    _, sigma, _ = node_moments(
        focal_q,
        coarse_neighbors[0],
        coarse_neighbor_weight[0],
        fixed_tables,
        noise_contrast,
        pairs,
        stationary,
        *context[1:12],
    )
    noise = np.zeros((size, size))
    for p in range(noise_weight.size):
        if noise_weight[p] == 0.0:
            continue
        for i in range(size):
            for j in range(size):
                noise[i, j] += noise_weight[p] * sigma[p, i, j]
    q = np.empty((n_states, n_actions))
    policy = np.empty((n_states, n_actions))
    distribution = np.empty(n_states)
    edge = np.zeros((size, size))
    common = np.zeros((size, size))
    if correlations:
        for s in range(n_states):
            for a in range(n_actions):
                q[s, a] = mean[s * n_actions + a]
            policy_row(kind, q[s], beta, epsilon, q[s], policy[s])
        edge_transition_into(policy, policy, transition, buffers[0])
        stationary_into(buffers[0], initial, np.bool_(True), distribution)
        shape = (n_states, n_actions, n_actions)
        expected_td, product_td, common_product = np.empty(shape), np.empty(shape), np.empty(shape)
        pair_td_into(q, policy, payoff, transition, gamma, rule, expected_td, product_td, common_product)
        played = np.empty((n_states, n_actions))  # X c = min(X, faq_beta): the core's α² X X with FAQ's factors
        for s in range(n_states):
            for a in range(n_actions):
                played[s, a] = min(policy[s, a], faq_beta)
        shared_noise_into(played, distribution, degree, degree, alpha, product_td, common_product, edge, common)
    return drift, own, per_contrast, noise, edge, common


@njit(cache=True)
def node_moments(
    focal_q,
    neighbor_contrasts,
    neighbor_weight,
    fixed_tables,
    contrast_node,
    pairs,
    dynamic,
    degree,
    payoff,
    transition,
    alpha,
    kind,
    beta,
    epsilon,
    gamma,
    rule,
    faq_beta,
    initial,
):
    """Per focal node p: μ (point, K, M), Σ (point, K M, K M) (eqs. 9, 5) and the field's p(s) (point, K).

    Node p's neighbour nodes are ``neighbor_contrasts[contrast_node[p]]`` with the weights
    ``neighbor_weight[contrast_node[p]]`` (the last len(``fixed_tables``) playing those tables) and, if
    ``dynamic``, its pair distributions ``pairs[contrast_node[p]]`` [C4, C7].
    """
    n_points, n_states, n_actions = focal_q.shape
    size = n_states * n_actions
    mu = np.empty((n_points, n_states, n_actions))
    sigma = np.empty((n_points, size, size))
    distribution = np.empty((n_points, n_states))
    work = workspace(n_states, n_actions)
    buffers = _buffers(n_states, n_actions, neighbor_weight.shape[1], neighbor_contrasts.shape[2])
    no_neighbor = np.zeros(neighbor_contrasts.shape[2])
    policy = np.empty((n_states, n_actions))
    neighbor = np.empty((n_states, n_actions))
    for p in range(n_points):
        c = contrast_node[p]
        for s in range(n_states):
            policy_row(kind, focal_q[p, s], beta, epsilon, focal_q[p, s], policy[s])
        _field_into(
            policy,
            neighbor_contrasts[c],
            no_neighbor,
            neighbor_weight[c],
            fixed_tables,
            pairs[c],
            dynamic,
            kind,
            beta,
            epsilon,
            transition,
            initial,
            buffers,
            distribution[p],
            neighbor,
        )
        moments_into(
            focal_q[p],
            policy,
            neighbor,
            distribution[p],
            degree,
            payoff,
            transition,
            alpha,
            gamma,
            rule,
            faq_beta,
            work,
            mu[p],
            sigma[p],
        )
    return mu, sigma, distribution


@njit(cache=True)
def advance_pairs(focal_policy, neighbor_contrasts, beta, transition, pairs, steps):
    """``steps`` simulator steps of every cubature pair's edge-state distribution, p ← p λ (eq. 12), in place
    (full time scale, Boltzmann learners; the pair's policies held fixed over the steps). Neighbour r of focal
    node p has the contrasts ``neighbor_contrasts[p, r]``."""
    n_points, n_neighbors, n_states = pairs.shape
    n_actions = focal_policy.shape[2]
    chain = np.empty((n_states, n_states))
    current = np.empty(n_states)
    logits = np.empty(n_actions)
    neighbor_policy = np.empty((n_states, n_actions))
    for p in range(n_points):
        for r in range(n_neighbors):
            _contrast_policy_into(neighbor_contrasts[p, r], BOLTZMANN, beta, 0.0, logits, neighbor_policy)
            edge_transition_into(focal_policy[p], neighbor_policy, transition, chain)
            for _ in range(steps):
                for s in range(n_states):
                    current[s] = pairs[p, r, s]
                for t in range(n_states):
                    value = 0.0
                    for s in range(n_states):
                        value += current[s] * chain[s, t]
                    pairs[p, r, t] = value


# ----------------------------------------------------------------------------------------------
# the closure
# ----------------------------------------------------------------------------------------------
def _psd_root(matrix) -> np.ndarray:
    """Lower-triangular L with L Lᵀ = matrix for a symmetric PSD matrix (zero pivots give zero columns)."""
    out = np.empty_like(matrix)
    psd_cholesky_into(np.ascontiguousarray(0.5 * (matrix + matrix.T)), out)
    return out


@njit(cache=True)
def _psd_solve_into(root, right, out):
    """x with L Lᵀ x = b for the PSD root L of :func:`psd_cholesky_into`, the zero-pivot directions set to 0."""
    size = root.shape[0]
    for i in range(size):
        value = right[i]
        for j in range(i):
            value -= root[i, j] * out[j]
        out[i] = value / root[i, i] if root[i, i] > 0.0 else 0.0
    for i in range(size - 1, -1, -1):
        value = out[i]
        for j in range(i + 1, size):
            value -= root[j, i] * out[j]
        out[i] = value / root[i, i] if root[i, i] > 0.0 else 0.0


@njit(cache=True)
def closure_geometry(mean, own, neighbor, basis, inverse_basis, n_contrasts):
    """The Gaussian's roots for the cubature nodes [C3-C4].

    With y = R q (contrasts first, :func:`contrast_basis`): ``root`` = R⁻¹ L, L the lower root of R C₀ Rᵀ (so
    the contrasts of Q = m + root ξ depend on the contrast coordinates of ξ only); ``contrast_root`` the lower
    root of the contrasts' covariance Σ_c = R_c C₀ R_cᵀ; ``gain`` = Cov(c_j, c_i) Σ_c⁺ and ``conditional_root``
    the root of Σ_c - gain Cov(c_i, c_j), the law of a neighbour's contrasts given the focal contrasts; and
    ``mean_contrast`` = R_c m.
    """
    size = own.shape[0]
    transformed = basis @ own @ basis.T
    transformed = 0.5 * (transformed + transformed.T)
    lower = np.empty((size, size))
    psd_cholesky_into(transformed, lower)
    root = inverse_basis @ lower
    contrasts = np.ascontiguousarray(basis[:n_contrasts])
    contrast_cov = np.ascontiguousarray(transformed[:n_contrasts, :n_contrasts])
    contrast_root = np.ascontiguousarray(lower[:n_contrasts, :n_contrasts])
    cross = contrasts @ neighbor @ contrasts.T
    cross = 0.5 * (cross + cross.T)
    gain_t = np.empty((n_contrasts, n_contrasts))  # Σ_c⁺ cross = gainᵀ
    column = np.empty(n_contrasts)
    for c in range(n_contrasts):
        _psd_solve_into(contrast_root, np.ascontiguousarray(cross[:, c]), column)
        for r in range(n_contrasts):  # element-wise: an array assignment compiles numba's shape-mismatch message
            gain_t[r, c] = column[r]
    gain = np.ascontiguousarray(gain_t.T)
    conditional = contrast_cov - gain @ cross.T
    conditional = 0.5 * (conditional + conditional.T)
    conditional_root = np.empty((n_contrasts, n_contrasts))
    psd_cholesky_into(conditional, conditional_root)
    return root, contrast_root, gain, conditional_root, contrasts @ mean


@dataclass(frozen=True, eq=False)
class _Rule:
    """A focal cubature [C3-C5]: product Gauss–Hermite (or the symmetric degree-3 rule, or with ε-greedy the
    cells of :func:`~marldyn.theory.switching_cubature.switching_rule` [C11]) in the contrasts and two nodes per
    level. ``drift_xi`` puts the levels at their conditional mean (ξ_l = 0; exact for μ, linear in them);
    ``full_xi`` adds the level nodes (exact for Σ, quadratic in them); ``full_contrast`` maps a full node to its
    contrast node."""

    order: int
    contrast_xi: np.ndarray
    contrast_weight: np.ndarray
    drift_xi: np.ndarray
    full_xi: np.ndarray
    full_weight: np.ndarray
    full_contrast: np.ndarray

    @classmethod
    def build(cls, n_contrasts, n_states, order):
        contrast_xi, contrast_weight, order = _contrast_rule(n_contrasts, order)
        return cls.product(contrast_xi, contrast_weight, n_states, order)

    @classmethod
    def product(cls, contrast_xi, contrast_weight, n_states, order):
        """The rule of the given contrast nodes (point, n_c) and weights (point,) times two nodes per level."""
        level_xi, level_weight = gaussian_nodes([2] * n_states)
        count = len(contrast_weight)
        return cls(
            order=order,
            contrast_xi=contrast_xi,
            contrast_weight=contrast_weight,
            drift_xi=np.concatenate([contrast_xi, np.zeros((count, n_states))], axis=1),
            full_xi=np.concatenate(
                [np.repeat(contrast_xi, len(level_weight), axis=0), np.tile(level_xi, (count, 1))], axis=1
            ),
            full_weight=np.repeat(contrast_weight, len(level_weight)) * np.tile(level_weight, count),
            full_contrast=np.repeat(np.arange(count), len(level_weight)),
        )


@dataclass(frozen=True, eq=False)
class _Nodes:
    """The nodes of one evaluation [C3-C4]: the focal ``rule``, its deviations Q_p - m of the drift and the full
    rule, (point, d), and every focal contrast node's neighbour nodes, contrasts (point, neighbour, n_c) and
    weights (point, neighbour)."""

    rule: _Rule
    drift: np.ndarray
    full: np.ndarray
    neighbors: np.ndarray
    neighbor_weight: np.ndarray
    fixed_tables: np.ndarray  # (table, K, M): the last neighbour nodes play these tables (committed classes)


@dataclass(frozen=True, eq=False)
class _NeighborLaw:
    """A neighbour law that does not depend on the focal node (the degree classes' mixture [C10]).

    Boltzmann learners: their mixture as one Gaussian of contrast mean ``centre`` (n_c,), lower root ``root``
    and weight ``mass``, with point masses ``extra`` (node, n_c) of weights ``extra_weight`` (the committed
    classes, at their tables' log-ratios). Otherwise (``centre`` None) every neighbour node is a policy table,
    ``tables`` (table, K, M) of weights ``table_weight`` [C11]."""

    centre: np.ndarray | None
    root: np.ndarray | None
    mass: float
    extra: np.ndarray
    extra_weight: np.ndarray
    tables: np.ndarray
    table_weight: np.ndarray


def _cell_orders(n_contrasts: int, order: int | None) -> tuple[int, int]:
    """ε-greedy: Gauss nodes per cell piece and contrast of the focal agent (``order``, default 3 up to two
    contrasts, 2 up to three, else 1) and of a neighbour (2 up to three contrasts, else 1) [C11]."""
    focal = (3 if n_contrasts <= 2 else 2 if n_contrasts <= 3 else 1) if order is None else int(order)
    if focal < 1:
        raise ConfigError(f"order = {order!r}: the ε-greedy closure's cell rule needs at least 1 node per piece")
    return focal, 2 if n_contrasts <= 3 else 1


class _Model:
    """Everything fixed along one closure trajectory and the moment equations [C1-C9, C11].

    Two focal rules: ``fine`` (``order`` per contrast) for E[μ] and the outputs, ``coarse`` (3 per contrast,
    or the symmetric rule) for the Jacobians and E[Σ], whose errors enter only the covariances. With ε-greedy
    learners one cell rule (:func:`~marldyn.theory.switching_cubature.switching_rule`, ``order`` per piece) is
    built for every evaluation, where the Gaussian is then [C11]."""

    def __init__(
        self,
        game,
        degree,
        modes,
        weights,
        alpha,
        beta,
        gamma,
        rule,
        faq_beta,
        order,
        correlations,
        initial,
        policy="boltzmann",
        epsilon=None,
    ):
        require_immediate_reward(game, "closure")
        self.payoff, self.transition = game.arrays()
        self.shape = self.payoff.shape[:2]
        n_states, n_actions = self.shape
        self.size = n_states * n_actions
        self.n_contrasts = n_states * (n_actions - 1)
        self.basis = contrast_basis(n_states, n_actions)
        self.inverse_basis = np.linalg.inv(self.basis)
        self.contrasts = self.basis[: self.n_contrasts]
        self.degree = int(degree)
        self.modes = np.asarray(modes, dtype=np.float64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.n_modes = self.modes.size
        self.alpha, self.beta, self.gamma = float(alpha), float(beta), float(gamma)
        self.rule = rule_code(rule)
        self.faq_beta = faq_factor(rule, faq_beta)
        self.kind = policy_code(policy)
        self.greedy = self.kind == EPSILON_GREEDY
        self.epsilon = float(epsilon) if self.greedy else 0.0
        self.no_tables = np.zeros((0, n_states, n_actions))
        self.correlations = bool(correlations)
        self.initial = np.asarray(initial, dtype=np.float64)
        if self.greedy:  # the cells' shape at a standard Gaussian: every cell rule of this game has its size
            self.cell_order, self.neighbor_cell_order = _cell_orders(self.n_contrasts, order)
            unit = np.zeros((1, self.n_contrasts)), np.eye(self.n_contrasts)
            xi, weight = switching_rule(*unit, n_actions, self.cell_order)
            self.fine = self.coarse = _Rule.product(xi[0], weight[0], n_states, self.cell_order)
            # a neighbour enters through its policy only: one node per greedy profile (neighbor_nodes)
            self.neighbor_eta = None
            self.neighbor_weight = np.full(n_actions**n_states, 1.0 / n_actions**n_states)
        else:
            self.fine = _Rule.build(self.n_contrasts, n_states, order)
            coarse = min(3, self.fine.order) if self.fine.order else 0
            self.coarse = _Rule.build(self.n_contrasts, n_states, coarse if self.n_contrasts <= 4 else 0)
            self.neighbor_eta, self.neighbor_weight = _neighbor_rule(self.n_contrasts)
        self.order = self.fine.order
        self.no_pairs = np.zeros((len(self.fine.contrast_weight), len(self.neighbor_weight), n_states))

    # -- state -----------------------------------------------------------------------------------
    def pack(self, mean, modes) -> np.ndarray:
        return np.concatenate([np.ravel(mean), np.ravel(modes)])

    def unpack(self, y):
        d = self.size
        modes = y[d:].reshape(self.n_modes, d, d)
        return y[:d], 0.5 * (modes + np.swapaxes(modes, 1, 2))

    def covariances(self, modes):
        """C₀ = Σ_λ w_λ C(λ) and C₁ = Σ_λ w_λ λ C(λ) / k [C2]."""
        own = np.einsum("v,vij->ij", self.weights, modes)
        neighbor = np.einsum("v,v,vij->ij", self.weights, self.modes, modes) / self.degree
        return own, 0.5 * (neighbor + neighbor.T)

    # -- nodes -----------------------------------------------------------------------------------
    def geometry(self, mean, own, neighbor):
        """What every rule's nodes need (:func:`closure_geometry`) [C4]."""
        return closure_geometry(mean, own, neighbor, self.basis, self.inverse_basis, self.n_contrasts)

    def nodes(self, geometry, rule=None, shift=None, neighbor_shift=None, law=None) -> _Nodes:
        """The focal rule's deviations and its neighbour nodes [C3-C4].

        ``rule``: the focal rule (default: Boltzmann's ``fine``; with ε-greedy the cells built for the Gaussian of
        the focal mean shifted by ``shift`` (d,) [C11]). The neighbours' law: given each focal contrast node, the
        conditional law of [C4], or ``law`` (:class:`_NeighborLaw`); its contrasts shifted by ``neighbor_shift``
        (n_c,)."""
        root, contrast_root, gain, conditional_root, mean_contrast = geometry
        n_actions = self.shape[1]
        if rule is None and self.greedy:
            centre = mean_contrast if shift is None else mean_contrast + self.contrasts @ shift
            xi, weight = switching_rule(centre[None], contrast_root, n_actions, self.cell_order)
            rule = _Rule.product(xi[0], weight[0], self.shape[0], self.cell_order)
        elif rule is None:
            rule = self.fine
        count = len(rule.contrast_weight)
        tables, table_weight = self.no_tables, np.zeros(0)
        if law is None:  # the conditional law given each focal contrast node [C4]
            centres = mean_contrast[None, :] + (rule.contrast_xi @ contrast_root.T) @ gain.T  # (P, n_c)
            if neighbor_shift is not None:
                centres = centres + neighbor_shift
            neighbors, neighbor_weight = self.neighbor_nodes(centres, conditional_root)
        elif law.centre is None:  # every neighbour a table [C10-C11]
            neighbors, neighbor_weight = np.zeros((count, 0, self.n_contrasts)), np.zeros((count, 0))
        else:  # the learners' mixture as one Gaussian
            centres = np.broadcast_to(law.centre, (count, self.n_contrasts))
            if neighbor_shift is not None:
                centres = centres + neighbor_shift
            neighbors, neighbor_weight = self.neighbor_nodes(centres, law.root)
            neighbor_weight = law.mass * neighbor_weight
        if law is not None:
            tables, table_weight = (
                law.tables,
                law.table_weight,
            )  # the committed classes: contrast nodes, then tables (the kernels' order)
            extra = np.concatenate([law.extra, np.zeros((len(tables), self.n_contrasts))])
            neighbors = np.concatenate([neighbors, np.broadcast_to(extra, (count, *extra.shape))], axis=1)
            extra_weight = np.concatenate([law.extra_weight, table_weight])
            neighbor_weight = np.concatenate(
                [neighbor_weight, np.broadcast_to(extra_weight, (count, extra_weight.size))], axis=1
            )
        return _Nodes(
            rule,
            rule.drift_xi @ root.T,
            rule.full_xi @ root.T,
            np.ascontiguousarray(neighbors),
            np.ascontiguousarray(neighbor_weight),
            np.ascontiguousarray(tables),
        )

    def neighbor_nodes(self, centres, root):
        """The nodes (point, R, n_c) and weights (point, R) of the neighbour laws N(centres[p], root rootᵀ): the
        neighbour rule, or with ε-greedy neighbours the cells' weights summed by greedy profile [C4, C11]."""
        count = len(centres)
        if self.greedy:
            n_actions = self.shape[1]
            eta, cell_weight = switching_rule(centres, root, n_actions, self.neighbor_cell_order)
            profiles, weight = greedy_profiles(centres[:, None, :] + eta @ root.T, cell_weight, n_actions)
            return np.broadcast_to(profiles, (count, *profiles.shape)), weight
        neighbors = centres[:, None, :] + (self.neighbor_eta @ root.T)[None]
        return neighbors, np.broadcast_to(self.neighbor_weight, (count, len(self.neighbor_weight)))

    def parameters(self):
        return (
            self.degree,
            self.payoff,
            self.transition,
            self.alpha,
            self.kind,
            self.beta,
            self.epsilon,
            self.gamma,
            self.rule,
            self.faq_beta,
            self.initial,
        )

    def node_moments(self, nodes: _Nodes, mean, pairs=None):
        """μ, Σ and p(s) at the full nodes of ``nodes`` (:func:`node_moments`)."""
        focal_q = (mean[None, :] + nodes.full).reshape(-1, *self.shape)
        return node_moments(
            focal_q,
            nodes.neighbors,
            nodes.neighbor_weight,
            nodes.fixed_tables,
            nodes.rule.full_contrast,
            self.no_pairs if pairs is None else pairs,
            pairs is not None,
            *self.parameters(),
        )

    def terms(self, mean, own, neighbor, pairs=None, law=None) -> dict:
        """E[μ], Ā_self, Ā_nb, E[Σ], D_edge, D_common for C₀ = ``own`` and C₁ = ``neighbor`` [C5-C8, C11].

        With ``pairs`` (full time scale) E[μ] takes the pairs' edge-state distributions; the fluctuation terms
        (Ā, E[Σ], the shared noise) take the stationary ones: the fluctuations are slow, their edges follow
        them. ``law`` (:class:`_NeighborLaw`), if given, is the neighbours' law for every focal node (the
        degree classes' mixture [C10]) instead of the conditional law of [C4]."""
        arguments = self.terms_arguments(mean, own, neighbor, pairs, law)
        drift, a_self, per_contrast, noise, edge, common = closure_terms(*arguments, *self.parameters())
        # All k neighbours shift together: k Ā_nb = ∂E[μ]/∂c_nb · R_c (a neighbour's levels do not enter) [C6].
        return {
            "drift": drift.ravel(),
            "jacobian_self": a_self,
            "jacobian_neighbor": per_contrast @ self.contrasts / self.degree,
            "noise": noise,
            "noise_edge": edge,
            "noise_common": common,
        }

    def terms_arguments(self, mean, own, neighbor, pairs=None, law=None) -> tuple:
        """The arguments of :func:`closure_terms` before the model's :meth:`parameters`: the fine nodes, the
        coarse nodes of the base and of every shifted evaluation of the Jacobians with their shifts, the noise
        nodes, the pairs and the options."""
        geometry = self.geometry(mean, own, neighbor)
        step = 1e-6 * max(1.0, float(np.abs(mean).max()))
        size, n_contrasts = self.size, self.n_contrasts
        focal_shift = np.zeros((1 + size + n_contrasts, size))
        neighbor_shift = np.zeros((1 + size + n_contrasts, n_contrasts))
        focal_shift[1 + np.arange(size), np.arange(size)] = step
        if self.greedy:  # the cells move with the mean: every shifted evaluation has nodes of its own [C11]
            coarse = self.nodes(geometry, law=law)
            fine = coarse
            unit = np.eye(max(size, n_contrasts))
            sets = [coarse] + [self.nodes(geometry, shift=step * unit[c, :size], law=law) for c in range(size)]
            sets += [
                self.nodes(geometry, coarse.rule, neighbor_shift=step * unit[c, :n_contrasts], law=law)
                for c in range(n_contrasts)
            ]
        else:
            fine = self.nodes(geometry, law=law)
            coarse = self.nodes(geometry, self.coarse, law=law)
            sets = [coarse] * (1 + size + n_contrasts)
            neighbor_shift[1 + size + np.arange(n_contrasts), np.arange(n_contrasts)] = step
        return (
            mean,
            fine.drift,
            fine.rule.contrast_weight,
            fine.neighbors,
            fine.neighbor_weight,
            np.stack([s.drift for s in sets]),
            np.stack([s.rule.contrast_weight for s in sets]),
            np.stack([s.neighbors for s in sets]),
            np.stack([s.neighbor_weight for s in sets]),
            focal_shift,
            neighbor_shift,
            coarse.full,
            coarse.rule.full_weight,
            coarse.rule.full_contrast,
            self.no_pairs if pairs is None else pairs,
            pairs is not None,
            step,
            self.correlations,
            fine.fixed_tables,
        )

    def increments(self, mean, modes, pairs=None):
        """dm/dt = E[μ] and dC(λ)/dt = A C + C Aᵀ + A C Aᵀ + D(λ) for every mode, A(λ) = Ā_self + λ Ā_nb,
        D(λ) = E[Σ] + λ D_edge + (λ² - k) D_common [C5-C8]."""
        own, neighbor = self.covariances(modes)
        t = self.terms(mean, own, neighbor, pairs)
        lam = self.modes[:, None, None]
        a = t["jacobian_self"][None] + lam * t["jacobian_neighbor"][None]
        ac = a @ modes
        rate = ac + np.swapaxes(ac, 1, 2) + ac @ np.swapaxes(a, 1, 2) + t["noise"][None]
        rate += lam * t["noise_edge"][None] + (lam**2 - self.degree) * t["noise_common"][None]
        return t["drift"], 0.5 * (rate + np.swapaxes(rate, 1, 2))

    def rates(self, _, y):
        mean, modes = self.unpack(y)
        drift, mode_rates = self.increments(mean, modes)
        return self.pack(drift, mode_rates)

    # -- outputs ---------------------------------------------------------------------------------
    def mean_policy(self, mean, own):
        """E[X(Q)] under N(m, C₀) (:func:`gaussian_mean_policy`) with this model's policy."""
        return gaussian_mean_policy(
            mean.reshape(self.shape), own, self.beta, policy=POLICIES[self.kind], epsilon=self.epsilon
        )

    def record(self, mean, modes, n_agents, pairs=None):
        """The outputs at one state and the diagnostic's sources (:func:`_diagnostic_sources`) [C2, C9], over the
        fine rule's full nodes (the sources hold E[z³ f]: the coarse rule is not accurate enough for them)."""
        own, neighbor = self.covariances(modes)
        nodes = self.nodes(self.geometry(mean, own, neighbor))
        moments = self.node_moments(nodes, mean, pairs)
        out = _diagnostic_sources(nodes.rule.full_weight, nodes.full, own, *moments)
        out.update(
            q=mean,
            policy=self.mean_policy(mean, own),
            own=own,
            neighbor=neighbor,
            within=own - modes[0] / n_agents,
            mean_covariance=modes[0] / n_agents,
        )
        return out


def _diagnostic_sources(weight, deviation, own, mu, sigma, distribution) -> dict:
    """The sources of the non-Gaussianity diagnostic over one rule's nodes [C9], and the edge-state fraction.

    Per entry i, with z = (Q_i - m_i)/σ_i, f = (μ_i - E μ_i)/σ_i and g = Σ_ii/σ_i²: the rates at which a
    Gaussian gains skewness, S₃ = 3E[z² f] + 3E[z g], and excess kurtosis, S₄ = 4E[z³ f] + 6E[z² g] - 12E[z f]
    - 6E[g], and the noise's relative rate E[g] (which relaxes both) (:func:`diagnostic_sources`).
    """
    skew, kurtosis, relaxation = diagnostic_sources(
        weight, deviation, np.ascontiguousarray(np.diag(own)), mu.reshape(len(weight), -1), sigma
    )
    return {
        "state_fraction": weight @ distribution,
        "skew_source": skew,
        "kurtosis_source": kurtosis,
        "relaxation": relaxation,
    }


@njit(cache=True)
def diagnostic_sources(weight, deviation, variance, mu, sigma):
    """S₃, S₄ and E[g] per entry (d,) over nodes of ``weight`` (point,), ``deviation`` Q_p - m (point, d), with
    μ (point, d) and Σ (point, d, d) at the nodes [C9]; zero for an entry without spread."""
    n_points, size = deviation.shape
    skew = np.zeros(size)
    kurtosis = np.zeros(size)
    relaxation = np.zeros(size)
    for i in range(size):
        if not variance[i] > 0.0:
            continue
        scale = math.sqrt(variance[i])
        mean_mu = 0.0
        for p in range(n_points):
            mean_mu += weight[p] * mu[p, i]
        zf = z2f = z3f = zg = z2g = g_mean = 0.0
        for p in range(n_points):
            z = deviation[p, i] / scale
            f = (mu[p, i] - mean_mu) / scale
            g = sigma[p, i, i] / variance[i]
            w = weight[p]
            zf += w * z * f
            z2f += w * z * z * f
            z3f += w * z * z * z * f
            zg += w * z * g
            z2g += w * z * z * g
            g_mean += w * g
        skew[i] = 3.0 * z2f + 3.0 * zg
        kurtosis[i] = 4.0 * z3f + 6.0 * z2g - 12.0 * zf - 6.0 * g_mean
        relaxation[i] = g_mean
    return skew, kurtosis, relaxation


class _ClassModel:
    """Degree classes on a graph whose degrees differ: the mean-field Gaussian closure [C10].

    One Gaussian N(m_c, C_c) per degree class c; a neighbour is an independent draw from the classes' mixture,
    class c' with the edge-end weight v_c' = w_c' k_c' / Σ w k (as the particles, eq. 11), taken as one Gaussian
    of the mixture's mean and covariance; the pair correlations and the shared noise are not carried:
    dm_c/dt = E_c[μ], dC_c/dt = A C + C Aᵀ + A C Aᵀ + E_c[Σ] with A = Ā_self(c). Each class's cubature is
    that of :class:`_Model` (one per class, degree k_c).

    Agent types: each class has its type's α, β, γ, rule and faq_beta. A neighbour of class c' seen from a focal
    class of inverse temperature β plays softmax(β z) with the effective contrasts z = (β_c' / β) c, so the
    learners' mixture is taken in z. A committed class (``fixed_policy``) never moves: it is the point mass at
    the contrasts log(X(s, a) / X(s, M-1)) of its table (clipped at ±``FIXED_CONTRAST``, where the softmax gives
    the table to below 1e-300) with β = 1, a neighbour node of its own with its edge-end weight, and its
    recorded Q and covariance are the agents' initial ones.
    """

    def __init__(
        self,
        game,
        degrees,
        agent_weights,
        parameters,
        order,
        initial,
        class_type=None,
        n_types=1,
        fixed_policy=None,
        policies=None,
    ):
        """``parameters``: one (α, β, γ, rule, faq_beta) per class; ``class_type`` (class,) each class's type among
        ``n_types`` (agent types: the per-type records); ``fixed_policy`` (class, state, action), NaN for a
        learning class, the table of a committed one; ``policies``: one (policy, ε) per class (default
        Boltzmann; a committed class's point mass plays its table through a Boltzmann policy at β = 1)."""
        n_classes = len(degrees)
        self.fixed_policy = None if fixed_policy is None else np.asarray(fixed_policy, dtype=np.float64)
        self.committed = np.zeros(n_classes, bool)
        if self.fixed_policy is not None:
            self.committed = ~np.isnan(self.fixed_policy).any(axis=(1, 2))
        policies = [("boltzmann", None)] * n_classes if policies is None else policies
        self.parts = [
            _Model(game, k, [0.0], [1.0], *values, order, False, initial, policy=policy, epsilon=epsilon)
            for k, values, (policy, epsilon) in zip(degrees, parameters, policies, strict=True)
        ]
        # Boltzmann learners only: their mixture as one Gaussian; else every neighbour a table [C10-C11]
        self.tabled = any(part.greedy for part, fixed in zip(self.parts, self.committed, strict=True) if not fixed)
        self.class_type = None if class_type is None else np.asarray(class_type, dtype=np.int64)
        self.n_types = int(n_types)
        self.betas = np.array([part.beta for part in self.parts])
        self.recorded = None  # the committed classes' (initial mean, initial covariance), set by hold_committed
        first = self.parts[0]
        self.shape, self.size, self.n_contrasts = first.shape, first.size, first.n_contrasts
        self.alpha, self.beta, self.gamma, self.rule = first.alpha, first.beta, first.gamma, first.rule
        self.order, self.fine, self.coarse = first.order, first.fine, first.coarse
        self.correlations = False
        self.degrees = np.asarray(degrees, dtype=np.int64)
        self.agent_weight = np.asarray(agent_weights, dtype=np.float64)
        self.edge_weight = self.agent_weight * self.degrees / np.sum(self.agent_weight * self.degrees)
        self.n_classes = self.degrees.size
        self.n_modes = 1
        self.neighbor_weight = first.neighbor_weight

    def pack(self, means, covariances) -> np.ndarray:
        return np.concatenate([np.ravel(means), np.ravel(covariances)])

    def unpack(self, y):
        d, c = self.size, self.n_classes
        covariances = y[c * d :].reshape(c, d, d)
        return y[: c * d].reshape(c, d), 0.5 * (covariances + np.swapaxes(covariances, 1, 2))

    def hold_committed(self, y0):
        """The start ``y0`` with every committed class at its point mass (``committed_mean``, covariance 0); what it
        held there (the agents' initial Q) becomes the class's record."""
        means, covariances = self.unpack(y0)
        means, covariances = means.copy(), covariances.copy()
        self.recorded = (means[self.committed].copy(), covariances[self.committed].copy())
        for c in np.flatnonzero(self.committed):
            means[c] = committed_mean(self.fixed_policy[c])
            covariances[c] = 0.0
        return self.pack(means, covariances)

    def neighbor_field(self, means, covariances, beta) -> _NeighborLaw:
        """The neighbours' law seen from a focal class of inverse temperature ``beta``: the learners' law is the
        edge-weighted mixture of their Gaussians in the effective contrasts (β_c' / β) c, taken as the Gaussian of
        the same mean and covariance (its policy enters only through smooth averages; one neighbour rule instead
        of one per class), and every committed class is one node of its own. With ε-greedy learners among the
        classes (``tabled``), or seen from β = 0, every neighbour node is the policy table it plays [C11]: each
        learner class's own Gaussian, by its neighbour rule (Boltzmann, β_c') or its cells summed by greedy
        profile (ε-greedy, ε_c'), and each committed class's table; the mixture is then exact, and ``beta`` does
        not enter."""
        first = self.parts[0]
        contrasts = first.contrasts
        learning = ~self.committed
        if self.tabled or beta == 0.0:  # β = 0: no effective contrasts (β_c' / β); the tables are exact
            return self._table_law(means, covariances)
        scale = self.betas[learning] / beta
        weight = self.edge_weight[learning] / self.edge_weight[learning].sum()
        scaled = scale[:, None] * means[learning]
        mean = weight @ scaled
        spread = scaled - mean
        mixture = np.einsum("c,cij->ij", weight * scale**2, covariances[learning]) + np.einsum(
            "c,ci,cj->ij", weight, spread, spread
        )
        # β_c' = 1: the effective contrasts of a committed table are its log-ratios over β
        return _NeighborLaw(
            centre=contrasts @ mean,
            root=_psd_root(contrasts @ mixture @ contrasts.T),
            mass=float(self.edge_weight[learning].sum()),
            extra=means[self.committed] @ contrasts.T / beta,
            extra_weight=self.edge_weight[self.committed],
            tables=first.no_tables,
            table_weight=np.zeros(0),
        )

    def _table_law(self, means, covariances) -> _NeighborLaw:
        """:meth:`neighbor_field` with every neighbour node a policy table (weights: the classes' edge-end
        weights times their rules')."""
        n_states, n_actions = self.shape
        tables, weights = [], []
        for c, part in enumerate(self.parts):
            if self.committed[c]:
                tables.append(self.fixed_policy[c][None])
                weights.append(np.array([self.edge_weight[c]]))
                continue
            centre = (part.contrasts @ means[c])[None]
            nodes, node_weight = part.neighbor_nodes(
                centre, _psd_root(part.contrasts @ covariances[c] @ part.contrasts.T)
            )
            rows = nodes[0].reshape(-1, n_states, n_actions - 1)
            logits = np.concatenate([rows, np.zeros((len(rows), n_states, 1))], axis=2)
            tables.append(epsilon_greedy(logits, part.epsilon) if part.greedy else boltzmann(logits, part.beta))
            weights.append(self.edge_weight[c] * node_weight[0])
        return _NeighborLaw(
            centre=None,
            root=None,
            mass=0.0,
            extra=np.zeros((0, self.n_contrasts)),
            extra_weight=np.zeros(0),
            tables=np.concatenate(tables),
            table_weight=np.concatenate(weights),
        )

    def _fields(self, means, covariances, classes) -> dict:
        """:meth:`neighbor_field` once per distinct β among ``classes`` (it depends on the focal class's β only)."""
        return {beta: self.neighbor_field(means, covariances, beta) for beta in set(self.betas[classes].tolist())}

    def rates(self, _, y):
        means, covariances = self.unpack(y)
        drifts = np.empty_like(means)
        rates = np.empty_like(covariances)
        zero = np.zeros((self.size, self.size))
        fields = self._fields(means, covariances, ~self.committed)
        for c, part in enumerate(self.parts):
            if self.committed[c]:
                drifts[c], rates[c] = 0.0, 0.0
                continue
            terms = part.terms(means[c], covariances[c], zero, law=fields[float(part.beta)])
            drifts[c] = terms["drift"]
            a = terms["jacobian_self"]
            ac = a @ covariances[c]
            rate = ac + ac.T + ac @ a.T + terms["noise"]
            rates[c] = 0.5 * (rate + rate.T)
        return self.pack(drifts, rates)

    def record(self, means, covariances, n_agents, pairs=None):
        """The population's outputs: class mixtures weighted by the agents (edges for the edge fractions) [C10]."""
        w = self.agent_weight
        held = means, covariances
        if self.recorded is not None:  # the committed classes' recorded Q: the agents' own (they never learn)
            means, covariances = means.copy(), covariances.copy()
            means[self.committed], covariances[self.committed] = self.recorded
        mean = w @ means
        spread = means - mean
        own = np.einsum("c,cij->ij", w, covariances) + np.einsum("c,ci,cj->ij", w, spread, spread)
        out = {"q": mean, "own": own, "neighbor": np.zeros_like(own), "within": own}
        out["mean_covariance"] = np.full_like(own, np.nan)  # the run-to-run mode is not carried here
        class_policy = np.empty((self.n_classes,) + self.shape)
        parts = []
        zero = np.zeros((self.size, self.size))
        fields = self._fields(*held, np.ones(self.n_classes, bool))
        for c, part in enumerate(self.parts):
            at, spread_c = held[0][c], held[1][c]  # a committed class: its point mass, which plays its table
            nodes = part.nodes(part.geometry(at, spread_c, zero), law=fields[float(part.beta)])
            moments = part.node_moments(nodes, at)
            parts.append(_diagnostic_sources(nodes.rule.full_weight, nodes.full, spread_c, *moments))
            class_policy[c] = part.mean_policy(at, spread_c)
        out["policy"] = np.einsum("c,csa->sa", w, class_policy)
        if self.class_type is not None:
            class_q = means.reshape((self.n_classes,) + self.shape)
            out.update(type_records(class_policy, class_q, self.class_type, self.n_types, w))
        out["state_fraction"] = sum(self.edge_weight[c] * part["state_fraction"] for c, part in enumerate(parts))
        for key in ("skew_source", "kurtosis_source", "relaxation"):  # within-class, agent-weighted
            out[key] = sum(w[c] * part[key] for c, part in enumerate(parts))
        return out


def gaussian_mean_policy(q, covariance, beta, order=None, *, policy="boltzmann", epsilon=None) -> np.ndarray:
    """E[X(s, ·)] for Q ~ N(q, C): the mean policy of a Gaussian population.

    Per state from the marginal of its M - 1 contrasts Q(s, a) - Q(s, M-1): for X = softmax(β Q(s, ·)) (eq. 2)
    by Gauss–Hermite of ``order`` nodes per contrast (default :data:`OUTPUT_ORDER`); for the ε-greedy policy,
    a step function of the contrasts, by the cells of
    :func:`~marldyn.theory.switching_cubature.switching_rule` (``order`` nodes per piece, default 8; with two
    actions exactly ε / 2 + (1 - ε) Φ(m_c / σ_c)) [C11].

    Parameters
    ----------
    q : array_like, shape (state, action)
        The mean.
    covariance : array_like, shape (K M, K M)
        The covariance, row-major order of Q.
    beta : float
        β of the Boltzmann policy (not used by ε-greedy).
    order : int, optional
    policy : {"boltzmann", "epsilon_greedy"}
    epsilon : float, optional
        ε of the ε-greedy policy.

    Returns
    -------
    ndarray, shape (state, action)

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.closure import gaussian_mean_policy
    >>> gaussian_mean_policy([[1.0, 0.0]], np.diag([2.0, 0.0]), 1.0).round(4)  # E[σ(1 + √2 ξ)] < σ(1) = 0.7311
    array([[0.6751, 0.3249]])
    >>> gaussian_mean_policy([[1.0, 0.0]], np.diag([2.0, 0.0]), 1.0, policy="epsilon_greedy", epsilon=0.2).round(4)
    array([[0.7082, 0.2918]])

    The second is ε / 2 + (1 - ε) Φ(1 / √2) = 0.1 + 0.8 · 0.7602.
    """
    q = np.asarray(q, dtype=np.float64)
    n_states, n_actions = q.shape
    covariance = np.asarray(covariance, dtype=np.float64)
    basis = _basis(n_states, n_actions)
    greedy = policy_code(policy) == EPSILON_GREEDY
    if greedy:
        cell_order = 8 if order is None else int(order)
    else:
        xi, weight = gaussian_nodes([OUTPUT_ORDER if order is None else order] * (n_actions - 1))
    out = np.empty(q.shape)
    for s in range(n_states):
        rows = basis[s * (n_actions - 1) : (s + 1) * (n_actions - 1)]
        centre = rows @ q.ravel()
        root = _psd_root(rows @ covariance @ rows.T)
        if greedy:
            xi, weight = switching_rule(centre[None], root, n_actions, cell_order)
            xi, weight = xi[0], weight[0]
        contrasts = centre[None, :] + xi @ root.T
        logits = np.concatenate([contrasts, np.zeros((len(contrasts), 1))], axis=1)
        out[s] = weight @ (epsilon_greedy(logits, epsilon) if greedy else boltzmann(logits, beta))
    return out


def moment_terms(
    q,
    covariance,
    neighbor_covariance,
    game,
    degree,
    *,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    faq_beta=None,
    correlations=True,
    order=None,
    initial_state_distribution=None,
) -> dict:
    """The terms of the closure's moment equations for one Gaussian population state [C4-C8].

    Parameters
    ----------
    q : array_like, shape (state, action)
        The mean m.
    covariance, neighbor_covariance : array_like, shape (K M, K M)
        C₀ (one agent) and C₁ (two neighbours), row-major order of Q.
    game : Game
    degree : int
        k of every agent.
    alpha, beta, gamma : float
    rule, faq_beta, correlations, order, initial_state_distribution
        As in :func:`solve_closure`.

    Returns
    -------
    dict
        ``drift`` E[μ] (d,), ``jacobian_self`` Ā_self = E[∂μ_i/∂Q_i] and ``jacobian_neighbor``
        Ā_nb = E[∂μ_i/∂Q_j] per neighbour (d, d), ``noise`` E[Σ], ``noise_edge`` D_edge and ``noise_common``
        D_common (d, d), all per simulator step. With C₀ = C₁ = 0 at a fixed point they are the LNA's
        J_self, J_nb, D_self, D_edge, D_common (:mod:`marldyn.theory.lna`).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.games import two_state_pd
    >>> from marldyn.theory.closure import moment_terms
    >>> terms = moment_terms([[3.0, 1.0], [1.0, 2.0]], 0.1 * np.eye(4), 0.05 * np.eye(4), two_state_pd(), 4,
    ...                      alpha=1e-3, beta=1.0, gamma=0.8)
    >>> terms["drift"].shape, terms["jacobian_self"].shape
    ((4,), (4, 4))
    """
    payoff, _ = game.arrays()
    shape = payoff.shape[:2]
    q = np.asarray(q, dtype=np.float64).reshape(shape)
    size = q.size
    own = np.asarray(covariance, dtype=np.float64).reshape(size, size)
    neighbor = np.asarray(neighbor_covariance, dtype=np.float64).reshape(size, size)
    initial = (
        np.full(shape[0], 1.0 / shape[0])
        if initial_state_distribution is None
        else np.asarray(initial_state_distribution, dtype=np.float64)
    )
    model = _Model(
        game, degree, [float(degree)], [1.0], alpha, beta, gamma, rule, faq_beta, order, correlations, initial
    )
    return model.terms(q.ravel(), own, neighbor)


def _relax(value, source, rate, dt):
    """Exact step of dγ/dt = S - r γ over dt with S, r constant (r ≥ 0)."""
    decay = np.exp(-rate * dt)
    gain = np.where(rate * dt > 1e-12, (1.0 - decay) / np.where(rate > 0, rate, 1.0), dt)
    return value * decay + source * gain


def solve_closure(
    q0,
    game,
    time,
    *,
    graph: Graph,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    faq_beta=None,
    policy="boltzmann",
    epsilon=None,
    learners=None,
    agent_type=None,
    initial_covariance=None,
    initial_kurtosis=0.0,
    timescale="reduced",
    dt=10,
    correlations=True,
    order=None,
    initial_state_distribution=None,
    rtol=3e-4,
    atol=1e-6,
    warn=True,
) -> ClosureTrajectory:
    """The Gaussian moment closure of the population on the graph [C1-C10] (``docs/closure.md``).

    Parameters
    ----------
    q0 : array_like, shape (state, action)
        Mean initial table m(0).
    game : Game
    time : array_like, shape (time,)
        Output times in simulator steps (from 0, non-decreasing; whole steps for ``full``).
    graph : Graph
        A regular graph: the covariance per adjacency eigenvalue (:func:`closure_modes`). A graph whose degrees
        differ: one Gaussian per degree class, mean field (no pair correlations, no shared noise; reduced time
        scale only) [C10].
    alpha, beta, gamma : float
        One type of learners (required unless ``learners`` has several types).
    rule : {"q_learning", "expected_sarsa", "sarsa", "faq"}
        SARSA only with ``correlations=False``.
    faq_beta : float, optional
        With ``rule = "faq"``: every update of the played action scaled by min(faq_beta / X, 1), in E[μ], E[Σ]
        and the shared noise (whose α² X X factors become α² min(X, faq_beta) min(X', faq_beta)).
    policy : {"boltzmann", "epsilon_greedy"}
        The learners' policy. ε-greedy (with ``epsilon``; ``beta`` is then not used): the cubature's cells
        follow the switching surfaces, where the policy jumps, so that E[μ], E[Σ], the Jacobians and the mean
        policy integrate the jumps (:mod:`marldyn.theory.switching_cubature`, [C11]); ``order`` is then the
        nodes per piece and contrast (default 3). Reduced time scale.
    epsilon : float, optional
        ε of the ε-greedy policy, 0 ≤ ε ≤ 1.
    learners : marldyn.agents.Learners, optional
        Agent types (with ``agent_type``, every agent's type, shape (agent,)): one Gaussian per (type, degree)
        class with its type's α, β, γ, rule and faq_beta, mean field as the degree classes [C10] (reduced time
        scale only, no pair correlations); committed classes never move and enter their neighbours' field with
        their tables; ε-greedy types too, of any ε and beside Boltzmann types (every neighbour node then the
        policy table it plays, each learner class its own Gaussian [C11]). One type (``learners.typed`` False)
        is the plain closure with its values.
    initial_covariance : array_like, shape (K M, K M), optional
        Covariance of the agents' independent initial draws around ``q0`` (default 0: identical tables),
        e.g. σ² I for the simulator's normal ``q_noise`` σ.
    initial_kurtosis : float
        Excess kurtosis of those draws (0 normal, -1.2 uniform): the diagnostic's start.
    timescale : {"reduced", "full"}
        ``reduced``: stationary pair distributions, an adaptive ODE (``scipy.integrate.solve_ivp``, RK45,
        ``rtol``, ``atol``). ``full``: every cubature pair carries its edge-state distribution, moved by its
        pair's one-step map (eq. 12) from ``initial_state_distribution``; the moments take steps of ``dt``
        simulator steps of the discrete moment map (dt = 1: one simulator step at a time).
    dt : int
        Step of the full time scale in simulator steps (≥ 1).
    correlations : bool
        Keep the noise that neighbours share through a common edge and a common neighbour (D_edge,
        D_common); False drops it (the closure of ``sde-graph``, whose agents get independent noise).
    order : int, optional
        Gauss–Hermite nodes per within-state contrast of the focal agent (0: the degree-3 symmetric rule);
        default 5 for up to two contrasts, 4 for up to four, 0 beyond.
    initial_state_distribution : array_like, shape (state,), optional
        For reducible pair chains (reduced) and as the edges' p(0) (full); default uniform.
    rtol, atol : float
        Tolerances of the reduced ODE (``scipy.integrate.solve_ivp``); the defaults keep the policy within
        ~1e-4 of a tight solve (rtol 1e-6) on Figure 3.
    warn : bool
        Warn (:class:`~marldyn.errors.MarldynWarning`) where the predicted skewness passes 1 or the
        excess kurtosis passes 3 in absolute value: the population is far from Gaussian there.

    Returns
    -------
    ClosureTrajectory

    Raises
    ------
    ConfigError
        SARSA with correlations, the full time scale on a graph whose degrees differ, an isolated agent, bad
        shapes or options.
    DivergenceError, ConvergenceError
        The moments left the finite numbers, or the ODE solver failed.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.games import two_state_pd
    >>> from marldyn.graphs import lattice
    >>> from marldyn.theory.closure import solve_closure
    >>> result = solve_closure([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1000], graph=lattice(16),
    ...                        alpha=1e-3, beta=1.0, gamma=0.8, initial_covariance=0.01 * np.eye(4))
    >>> result.policy[-1].round(2)  # cooperation per state after 1,000 steps
    array([[0.68, 0.32],
           [0.36, 0.64]])
    >>> bool(result.q_std[-1, 0].min() > 0.15)  # the spread across agents in s1 grew from 0.1
    True
    """
    from .homogeneous import time_grid

    payoff, _ = game.arrays()
    shape = payoff.shape[:2]
    q0 = np.asarray(q0, dtype=np.float64)
    if q0.shape != shape or not np.all(np.isfinite(q0)):
        raise ConfigError(f"q0 must be a finite (state, action) = {shape} table")
    size = q0.size
    covariance = np.zeros((size, size)) if initial_covariance is None else np.asarray(initial_covariance, float)
    if covariance.shape != (size, size) or not np.all(np.isfinite(covariance)):
        raise ConfigError(f"initial_covariance must be a finite ({size}, {size}) matrix")
    if np.linalg.eigvalsh(0.5 * (covariance + covariance.T)).min() < -1e-12 * max(1.0, np.abs(covariance).max()):
        raise ConfigError("initial_covariance must be positive semi-definite")
    if timescale not in TIMESCALES:
        raise ConfigError(f"timescale = {timescale!r} must be one of {', '.join(TIMESCALES)}")
    if isinstance(dt, bool) or not isinstance(dt, int | np.integer | float) or dt < 1 or dt != int(dt):
        raise ConfigError(f"dt = {dt!r} must be a whole number of simulator steps ≥ 1")
    if learners is not None and not learners.typed:  # one type: its own parameters, the plain closure
        alpha, beta, gamma, rule = learners.alpha[0], learners.beta[0], learners.gamma[0], RULES[learners.rule[0]]
        faq_beta = learners.faq_beta[0] if learners.rule[0] == FAQ else None
        policy, epsilon = POLICIES[learners.policy[0]], learners.epsilon[0]
        learners = None
    kind = policy_code(policy)
    if kind == EPSILON_GREEDY:
        if epsilon is None or not 0.0 <= float(epsilon) <= 1.0:
            raise ConfigError(f"epsilon = {epsilon!r}: the ε-greedy closure needs 0 <= epsilon <= 1")
        if timescale == "full":
            raise ConfigError(
                "the ε-greedy closure has the reduced time scale only: its cubature cells move with the switching "
                "surfaces, so no cubature pair can carry its edge-state distribution from step to step"
            )
        beta = 1.0 if beta is None else beta  # not used: ε-greedy does not depend on β
    if learners is None and (alpha is None or beta is None or gamma is None):
        raise ConfigError("the closure needs alpha, beta and gamma (or learners)")
    code = rule_code(rule)
    if learners is None and correlations and code not in (Q_LEARNING, EXPECTED_SARSA, FAQ):
        raise ConfigError(
            f"the closure's shared-noise terms are derived for q_learning, expected_sarsa and faq, not "
            f"{RULES[code]!r}: use correlations=False"
        )
    if order is not None and (isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 0):
        raise ConfigError(f"order = {order!r} must be a non-negative integer (0: the degree-3 symmetric rule)")
    n_states = shape[0]
    initial = (
        np.full(n_states, 1.0 / n_states)
        if initial_state_distribution is None
        else np.asarray(initial_state_distribution, dtype=np.float64)
    )
    degrees, counts = np.unique(np.asarray(graph.degree), return_counts=True)
    grid = time_grid(time, integer=timescale == "full")
    if learners is not None:
        if timescale == "full":
            raise ConfigError(
                "the closure with agent types (a Gaussian per (type, degree) class) has the reduced time scale only"
            )
        model = _typed_model(game, graph, learners, agent_type, order, initial)
        classes = model.n_classes
        y0 = model.hold_committed(
            model.pack(np.broadcast_to(q0.ravel(), (classes, size)), np.broadcast_to(covariance, (classes, size, size)))
        )
    elif degrees.size == 1:
        modes, weights = closure_modes(graph)
        model = _Model(
            game,
            degrees[0],
            modes,
            weights,
            alpha,
            beta,
            gamma,
            code,
            faq_beta,
            order,
            correlations,
            initial,
            policy=policy,
            epsilon=epsilon,
        )
        y0 = model.pack(q0.ravel(), np.broadcast_to(covariance, (model.n_modes, size, size)))
    else:
        if timescale == "full":
            raise ConfigError(
                "the closure on a graph whose degrees differ (degree classes) has the reduced time scale only"
            )
        if degrees[0] == 0:
            raise ConfigError("the closure needs every agent to have an edge (isolated agents never learn here)")
        model = _ClassModel(
            game,
            degrees,
            counts / counts.sum(),
            [(alpha, beta, gamma, code, faq_beta)] * degrees.size,
            order,
            initial,
            policies=[(policy, epsilon)] * degrees.size,
        )
        y0 = model.pack(
            np.broadcast_to(q0.ravel(), (degrees.size, size)), np.broadcast_to(covariance, (degrees.size, size, size))
        )
    if timescale == "reduced":
        path = _integrate_reduced(model, y0, grid, rtol, atol)
        pair_path = [None] * grid.size
    else:
        path, pair_path = _iterate_full(model, y0, grid, int(dt), initial)
    return _trajectory(model, grid, path, pair_path, graph.n_agents, timescale, initial_kurtosis, warn)


FIXED_CONTRAST = 740.0
"""The largest log-ratio of a committed table's point mass: exp(-740) ≈ 4e-322, a probability 0 to double precision."""


def committed_mean(table) -> np.ndarray:
    """The Q (flat, K M) whose softmax with β = 1 is ``table`` (state, action): the contrasts
    log(X(s, a) / X(s, M-1)) clipped at ±:data:`FIXED_CONTRAST` (a zero probability), levels 0."""
    logits = np.log(np.maximum(np.asarray(table, dtype=np.float64), np.exp(-FIXED_CONTRAST)))
    return np.clip(logits - logits[:, -1:], -FIXED_CONTRAST, FIXED_CONTRAST).ravel()


def _typed_model(game, graph, learners, agent_type, order, initial) -> _ClassModel:
    """The class model of a population with agent types: one Gaussian per (type, degree) class [C10]."""
    if agent_type is None or np.shape(agent_type) != (graph.n_agents,):
        raise ConfigError(f"agent_type must give every agent's type, shape ({graph.n_agents},)")
    class_type, class_degree, weight = type_degree_classes(learners, np.asarray(agent_type), graph.degree)
    present = np.unique(class_type)
    if np.all(learners.policy[present] == FIXED):
        raise ConfigError("the closure needs some agents that learn: every agent is committed")
    if class_degree.min() == 0:
        raise ConfigError("the closure needs every agent to have an edge (isolated agents never learn here)")
    committed = learners.policy[class_type] == FIXED
    parameters = [
        (1.0, 1.0, 0.0, Q_LEARNING, None)  # a committed class's point mass plays its table at β = 1; it never moves
        if fixed
        else (
            learners.alpha[t],
            learners.beta[t],
            learners.gamma[t],
            learners.rule[t],
            learners.faq_beta[t] if learners.rule[t] == FAQ else None,
        )
        for t, fixed in zip(class_type, committed, strict=True)
    ]
    tables = np.where(committed[:, None, None], learners.fixed_policy[class_type], np.nan)
    policies = [
        ("boltzmann", None) if fixed else (POLICIES[learners.policy[t]], learners.epsilon[t])
        for t, fixed in zip(class_type, committed, strict=True)
    ]
    return _ClassModel(
        game,
        class_degree,
        weight,
        parameters,
        order,
        initial,
        class_type,
        learners.n_types,
        fixed_policy=tables,
        policies=policies,
    )


def _integrate_reduced(model, y0, grid, rtol, atol) -> np.ndarray:
    horizon = float(grid[-1])
    if horizon == 0.0:
        return np.repeat(y0[None], grid.size, axis=0)
    unique, inverse = np.unique(grid, return_inverse=True)
    solution = solve_ivp(model.rates, (0.0, horizon), y0, method="RK45", t_eval=unique, rtol=rtol, atol=atol)
    if not solution.success:
        raise ConvergenceError(f"the closure ODE failed: {solution.message}")
    path = solution.y.T[inverse]
    if not np.all(np.isfinite(path)):
        raise DivergenceError("the closure left the finite numbers")
    return path


def _iterate_full(model, y0, grid, dt, initial):
    """The full time scale: pairs by their one-step maps, moments by the discrete moment map, steps of dt."""
    pairs = np.broadcast_to(initial, model.no_pairs.shape).copy()
    mean, modes = model.unpack(y0)
    path, pair_path = [], []
    now = 0
    for target in grid.astype(np.int64):
        while now < target:
            h = int(min(dt, target - now))
            drift, mode_rates = model.increments(mean, modes, pairs)
            own, neighbor = model.covariances(modes)
            nodes = model.nodes(model.geometry(mean, own, neighbor))
            focal_policy = boltzmann((mean[None, :] + nodes.drift).reshape(-1, *model.shape), model.beta)
            advance_pairs(focal_policy, nodes.neighbors, model.beta, model.transition, pairs, h)
            mean = mean + h * drift
            modes = modes + h * mode_rates
            now += h
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(modes))):
            raise DivergenceError(f"the closure left the finite numbers by t = {now} steps (reduce dt)")
        path.append(model.pack(mean, modes))
        pair_path.append(pairs.copy())
    return np.asarray(path), pair_path


def _trajectory(model, grid, path, pair_path, n_agents, timescale, initial_kurtosis, warn) -> ClosureTrajectory:
    names = ("q", "policy", "q_std", "q_mean_std", "state_fraction", "own", "neighbor", "skew", "kurtosis")
    typed = getattr(model, "class_type", None) is not None
    records = {name: [] for name in names + (TYPE_RECORDS if typed else ())}
    skew = np.zeros(model.size)
    kurtosis = np.full(model.size, float(initial_kurtosis))
    previous = None
    for index, y in enumerate(path):
        out = model.record(*model.unpack(y), n_agents, pair_path[index])
        if previous is not None:  # the diagnostic's linear ODEs, sources at the interval's mid-point
            span = float(grid[index] - grid[index - 1])
            source3 = 0.5 * (previous["skew_source"] + out["skew_source"])
            source4 = 0.5 * (previous["kurtosis_source"] + out["kurtosis_source"])
            rate = 0.5 * (previous["relaxation"] + out["relaxation"])
            skew = _relax(skew, source3, 1.5 * rate, span)
            kurtosis = _relax(kurtosis, source4, 2.0 * rate, span)
        previous = out
        records["q"].append(out["q"].reshape(model.shape))
        records["policy"].append(out["policy"])
        records["q_std"].append(np.sqrt(np.clip(np.diag(out["within"]), 0.0, None)).reshape(model.shape))
        records["q_mean_std"].append(np.sqrt(np.clip(np.diag(out["mean_covariance"]), 0.0, None)).reshape(model.shape))
        records["state_fraction"].append(out["state_fraction"])
        records["own"].append(out["own"])
        records["neighbor"].append(out["neighbor"])
        records["skew"].append(skew.reshape(model.shape))
        records["kurtosis"].append(kurtosis.reshape(model.shape))
        for name in TYPE_RECORDS if typed else ():
            records[name].append(out[name])
    stacked = {name: np.stack(values) for name, values in records.items()}
    if typed:  # the types' own α, γ and rules are in the entry's agent_types attribute
        parameters = {"types": model.n_types, "beta": model.beta}
    else:
        parameters = {"alpha": model.alpha, "beta": model.beta, "gamma": model.gamma, "rule": RULES[model.rule]}
    if warn:
        _warn_non_gaussian(grid, stacked["skew"], stacked["kurtosis"])
    return ClosureTrajectory(
        time=grid,
        q=stacked["q"],
        policy=stacked["policy"],
        q_std=stacked["q_std"],
        q_mean_std=stacked["q_mean_std"],
        state_fraction=stacked["state_fraction"],
        covariance=stacked["own"],
        neighbor_covariance=stacked["neighbor"],
        q_skewness=stacked["skew"],
        q_kurtosis=stacked["kurtosis"],
        attrs={
            "timescale": timescale,
            "order": int(model.order),
            "focal_nodes": int(model.fine.full_weight.size),
            "neighbor_nodes": int(model.neighbor_weight.size),
            "modes": int(model.n_modes),
            "route": "modes" if isinstance(model, _Model) else "type classes" if typed else "degree classes",
            "correlations": bool(model.correlations),
            **parameters,
        },
        policy_by_type=stacked.get("policy_by_type"),
        q_by_type=stacked.get("q_by_type"),
    )


def _warn_non_gaussian(grid, skew, kurtosis) -> None:
    bad = (np.abs(skew) > SKEWNESS_WARNING).any(axis=(1, 2)) | (np.abs(kurtosis) > KURTOSIS_WARNING).any(axis=(1, 2))
    if not bad.any():
        return
    first = int(np.argmax(bad))
    warnings.warn(
        f"the closure predicts a population far from Gaussian from t = {grid[first]:g} on (|skewness| up to "
        f"{np.abs(skew).max():.1f}, |excess kurtosis| up to {np.abs(kurtosis).max():.1f}): from there its "
        "moments may be off (a heavy tail or a split); check against 'sde-graph' or a simulation",
        MarldynWarning,
        stacklevel=3,
    )
