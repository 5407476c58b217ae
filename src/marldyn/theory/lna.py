"""Linear-noise approximation (LNA) of the agents' Q-values on the graph around a homogeneous fixed point.

Derivation: ``docs/fluctuations.md``. Summary (d = K M entries per agent, all agents at Q*):

- **Fixed point.** μ*(Q) = α π_s X(s, a) δ̄(s, a) (eqs. 9, 18-19) vanishes with X, π > 0 iff the mean TD
  error δ̄(s, a; Q, X̃ = X(Q)) (eq. 7) vanishes, which involves neither α, nor k, nor p*: one Q* serves every
  degree and both time scales. :func:`fixed_point` finds it by root-finding on δ̄ from a start table and
  checks that ``homogeneous.stationary_drift`` vanishes there.
- **Mean map, linearised.** The simulator is a discrete-time map, Q_i(t+1) = Q_i(t) + μ_i(Q(t)) + ξ_i(t),
  with μ_i the drift of agent i given its actual neighbours (eqs. 9, 20: neighbour policies and stationary
  pair distributions). Around Q*, δQ(t+1) = (I + J) δQ(t) + ξ(t) with J_ii = J_self(k_i) (own Q, neighbours
  fixed) and J_ij = J_nb(k_i) for j ~ i (through the neighbour's policy in the TD error; the terms through
  the pair state distribution and through π_s, X multiply δ̄ = 0 and vanish) [eqs. L3-L4].
- **Noise.** ξ(t) are martingale differences at Q* (E[ΔQ_i | past, edge states] ∝ δ̄ = 0), so the one-step
  covariance D is the whole noise intensity. D_ii = Σ(Q*, X*, p*, k_i) (eq. 5, docs/diffusion.md); a shared
  edge correlates two neighbours (both TD errors use the same two actions and the same next state) [L6];
  a shared neighbour l correlates agents two steps apart (both meet l's one action in state s) [L7]. All
  blocks are diagonal in the state and vanish across states.
- **Stationary covariance.** C = (I + J) C (I + J)ᵀ + D, the discrete Lyapunov equation (its continuous
  small-α limit is J C + C Jᵀ + D = 0) [L8]. Solved per Fourier mode on the periodic lattice, per eigenvector
  of the graph Laplacian on regular triangle-free graphs (J and D are polynomials in the adjacency matrix
  there), and by a dense solve on any other (small) graph.

Outputs: the within-run across-agent covariance (what the simulator's ``q_std`` estimates, squared), the
covariance of the population mean across runs, the policy spread by the delta method, and the same for
the *independent OU* (each agent alone with J_self and D_ii, no correlations). Rules: Q-learning and
expected SARSA (deterministic bootstrap value); SARSA is refused (its own-action coupling of the TD errors
across states is not derived here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_discrete_lyapunov
from scipy.optimize import root
from scipy.stats import binom

from ..errors import ConfigError, ConvergenceError
from ..games import require_immediate_reward
from ..graphs import Graph, lattice_side
from ..learning import EXPECTED_SARSA, FAQ, Q_LEARNING, RULES, faq_factor, played_weight, rule_code
from ..policy import EPSILON_GREEDY, POLICIES, epsilon_of, policy_code, policy_of
from .markov import edge_transition_matrix, stationary_distribution
from .moments import diffusion, interaction_probability, mean_td_error
from .one_step import pair_td_into, shared_noise_into

__all__ = [
    "SWITCHING_MARGIN",
    "shared_fixed_point",
    "fixed_point_difference",
    "LNAResult",
    "dense_matrices",
    "fixed_point",
    "independent_ou",
    "jacobian_blocks",
    "noise_blocks",
    "shared_noise_blocks",
    "solve_lna",
]

ROUTES = ("auto", "fourier", "laplacian", "direct")
DIRECT_LIMIT = 4000  # largest N·K·M for the dense direct solve
LAPLACIAN_LIMIT = 5000  # solve_lna(method="auto"): the dense Laplacian route up to this many agents


@dataclass(frozen=True, eq=False)
class LNAResult:
    """Stationary fluctuations of the Q-values on a graph around a fixed point (linear-noise approximation).

    Covariances are (K M, K M) in the row-major order of Q (state, action); standard deviations (K, M).

    Attributes
    ----------
    fixed_point, policy : ndarray, shape (state, action)
        Q* and X* = X(Q*) (softmax(β Q*) for Boltzmann learners).
    state_distribution : ndarray, shape (state,)
        p*(· | Q*, Q*), the stationary edge-state distribution.
    within_covariance : ndarray
        E[(1/N) Σ_i (Q_i - Q̄)(Q_i - Q̄)ᵀ]: the across-agent covariance within one run (its diagonal is
        ``q_std`` squared).
    mean_covariance : ndarray
        Cov(Q̄) of the population mean Q̄ = (1/N) Σ_i Q_i across runs.
    q_std, q_mean_std, policy_std : ndarray, shape (state, action)
        √diag of ``within_covariance``, of ``mean_covariance``, and of G ``within_covariance`` Gᵀ with
        G = ∂X/∂Q at Q* (delta method).
    independent : dict
        The same four quantities (``within_covariance``, ``mean_covariance``, ``q_std``, ``q_mean_std``) for
        the independent OU: every agent alone with J_self(k_i) and Σ_i, no coupling, no correlated noise.
    route : str
        ``fourier``, ``laplacian`` or ``direct``.
    relaxation_time : float
        The slowest relaxation time of the linear map in steps, 1 / (1 - max abs(eig(I + J))).
    blocks : dict
        J_self, J_nb, D_self, D_edge, D_common per degree (the ingredients; see :func:`jacobian_blocks`,
        :func:`noise_blocks`).
    attrs : dict
        Parameters.

    Examples
    --------
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.theory.lna import fixed_point, solve_lna
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> result = solve_lna(q_star, game, lattice(16), alpha=1e-3, beta=1.0, gamma=0.8)
    >>> result.route, round(result.relaxation_time)  # steps
    ('fourier', 13611)
    >>> result.q_std.round(4)  # the spread of Q across the 16 agents within a run
    array([[0.0706, 0.061 ],
           [0.0304, 0.0276]])
    >>> result.independent["q_std"].round(4)  # the same without coupling and shared noise
    array([[0.0596, 0.0584],
           [0.0298, 0.0276]])
    """

    fixed_point: np.ndarray
    policy: np.ndarray
    state_distribution: np.ndarray
    within_covariance: np.ndarray
    mean_covariance: np.ndarray
    q_std: np.ndarray
    q_mean_std: np.ndarray
    policy_std: np.ndarray
    independent: dict
    route: str
    relaxation_time: float
    blocks: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# fixed point
# ----------------------------------------------------------------------------------------------
def _check_rule(rule) -> int:
    code = rule_code(rule)
    if code not in (Q_LEARNING, EXPECTED_SARSA, FAQ):
        raise ConfigError(
            f"the linear-noise approximation is derived for q_learning, expected_sarsa and faq, not {RULES[code]!r} "
            "(SARSA's TD errors share the agent's own actions across states; use method 'sde-graph')"
        )
    return code


def fixed_point(
    q0,
    game,
    *,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    degree=4,
    tolerance=1e-12,
) -> np.ndarray:
    """Q* with δ̄(Q*, X(Q*)) = 0, i.e. μ*(Q*) = 0 of the homogeneous reduced dynamics (eqs. 7, 9, 19).

    μ*(Q) = α [1 - (1 - p*_s)^k] X(s, a) c(s, a) δ̄(s, a) (``homogeneous.stationary_drift``; c the FAQ factor);
    where X, p* > 0 its zeros are those of δ̄, which depend on neither α, k, p* nor faq_beta (FAQ has
    Q-learning's fixed points).

    - **Boltzmann**: root-finding on μ*/α itself tends to run off to X → 0 (where μ* vanishes only
      asymptotically), so the root is sought on δ̄ (scipy ``hybr``, then Levenberg–Marquardt) from ``q0``,
      and μ*(Q*) = 0 is checked afterwards.
    - **ε-greedy**: δ̄ is affine in Q inside each region of fixed greedy actions, so every regular
      equilibrium is known exactly (:func:`marldyn.theory.switching.greedy_fixed_points`). With one, that is
      Q*; with several, Q* is the one the reduced dynamics from ``q0`` converges to (integrated across the
      switching surfaces, with α = 1: μ* ∝ α only rescales time). If that trajectory ends on a switching
      surface (sliding) or keeps switching, there is no fixed point to linearise around, and
      :class:`~marldyn.errors.ConvergenceError` says so.

    Parameters
    ----------
    q0 : array_like, shape (state, action)
        Start of the search (e.g. the config's initial table).
    game : Game
    beta, gamma : float
    rule : str or int
    policy : {"boltzmann", "epsilon_greedy"}
        With ``epsilon`` for ε-greedy.
    epsilon, faq_beta : float, optional
    degree : int
        For the check of μ* (any k ≥ 1 gives the same zeros) and the ε-greedy integration.
    tolerance : float
        Largest accepted abs(δ̄) (payoff units) at the root.

    Returns
    -------
    ndarray, shape (state, action)

    Raises
    ------
    ConvergenceError
        If no root is found from ``q0``.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.policy import boltzmann, epsilon_greedy
    >>> from marldyn.theory.lna import fixed_point
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], two_state_pd(), beta=1.0, gamma=0.8)
    >>> q_star.round(4)
    array([[5.631 , 5.8188],
           [3.9089, 4.0967]])
    >>> boltzmann(q_star, 1.0).round(4)  # the mixed policy X*(C) = 0.4532 in both states
    array([[0.4532, 0.5468],
           [0.4532, 0.5468]])

    ε-greedy learners from the Figure 3 table settle in the region "cooperate in s1, defect in s2" (one of the
    three regions of this game that hold an equilibrium):

    >>> q_star = fixed_point([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), beta=1.0, gamma=0.8,
    ...                      policy="epsilon_greedy", epsilon=0.1)
    >>> epsilon_greedy(q_star, 0.1)
    array([[0.95, 0.05],
           [0.05, 0.95]])
    """
    from .homogeneous import stationary_drift

    q0 = np.asarray(q0, dtype=np.float64)
    shape = q0.shape
    learner = dict(policy=policy, epsilon=epsilon)
    if policy_code(policy) == EPSILON_GREEDY:
        return _greedy_fixed_point(q0, game, gamma, rule, epsilon_of(policy, epsilon), faq_beta, degree)

    def residual(x):
        q = x.reshape(shape)
        own = policy_of(q, beta=beta, **learner)
        return mean_td_error(q, own, game, beta=beta, gamma=gamma, rule=rule, **learner).ravel()

    best = None
    for method in ("hybr", "lm"):
        solution = root(residual, q0.ravel(), method=method, tol=1e-15)
        error = np.max(np.abs(residual(solution.x)))
        if best is None or error < best[1]:
            best = (solution.x, error)
        if error <= tolerance:
            break
    x, error = best
    if not error <= tolerance:
        raise ConvergenceError(f"no fixed point found from Q = {q0.tolist()} (smallest |δ̄| = {error:.2e}); give q_star")
    q_star = x.reshape(shape)
    rate = stationary_drift(
        q_star, game, degree=degree, alpha=1.0, beta=beta, gamma=gamma, rule=rule, faq_beta=faq_beta, **learner
    )
    if not np.max(np.abs(rate)) <= 10 * tolerance:
        raise ConfigError(f"the root of δ̄ at {q_star.tolist()} is not a zero of μ* (|μ*/α| = {np.abs(rate).max():.2e})")
    return q_star


GREEDY_HORIZONS = (1e2, 1e3, 1e4, 1e5, 1e6)
"""Horizons (α t, steps at α = 1) at which the ε-greedy fixed-point search checks where the reduced flow is."""


def _greedy_fixed_point(q0, game, gamma, rule, epsilon, faq_beta, degree) -> np.ndarray:
    """The regular ε-greedy equilibrium that the reduced dynamics from ``q0`` reaches (see :func:`fixed_point`).

    With one regular equilibrium that is Q*; otherwise the flow is integrated, checked at :data:`GREEDY_HORIZONS`,
    and given up as soon as it sits on a switching surface (sliding).
    """
    from .homogeneous import solve_reduced
    from .switching import greedy_fixed_points, tie_tolerance

    points = greedy_fixed_points(game, epsilon, gamma, rule)
    if len(points) == 1:
        return points[0][1]

    def tied(q):
        ordered = np.sort(q, axis=1)
        return bool(np.any(ordered[:, -1] - ordered[:, -2] <= 1e3 * tie_tolerance(q)))

    q, elapsed = q0, 0.0
    for horizon in GREEDY_HORIZONS:
        q = solve_reduced(
            q,
            game,
            [0.0, horizon - elapsed],
            degree=degree,
            alpha=1.0,
            beta=1.0,
            gamma=gamma,
            rule=rule,
            policy="epsilon_greedy",
            epsilon=epsilon,
            faq_beta=faq_beta,
        ).q[-1]
        elapsed = horizon
        scale = 1.0 + np.abs(q).max()
        for _, q_star in points:
            if np.max(np.abs(q - q_star)) <= 1e-6 * scale:
                return q_star
        if tied(q):
            break
    raise ConvergenceError(
        f"ε-greedy: the reduced dynamics from Q = {q0.tolist()} reaches none of the {len(points)} regular fixed "
        f"points (at α t = {elapsed:g} it is at {np.round(q, 6).tolist()}: sliding on a switching surface or "
        "still switching), so there is no fixed point to linearise around; use method 'sde-graph'"
    )


# ----------------------------------------------------------------------------------------------
# ingredients at Q*
# ----------------------------------------------------------------------------------------------
SWITCHING_MARGIN = 3.0
"""ε-greedy: the LNA needs the nearest switching surface at least this many standard deviations of the agents'
gap Q(s, g) - Q(s, b) away from Q* (beyond it 0.13 % of a Gaussian population, whose greedy action differs)."""


@dataclass(frozen=True, eq=False)
class _Point:
    q: np.ndarray  # (K, M)
    policy: np.ndarray  # X, (K, M)
    weight: np.ndarray  # X(s, a) c(s, a): the played action's probability times its FAQ factor, (K, M)
    policy_jacobian: np.ndarray  # ∂X(s, a)/∂Q(s, c), (K, M, M); zero for ε-greedy inside a region
    distribution: np.ndarray  # p*, (K,)
    value: np.ndarray  # V(z), (K,)
    value_gradient: np.ndarray  # ∂V(z)/∂Q(z, c), (K, M)
    next_state: np.ndarray  # W(s, a, z) = Σ_b X(s, b) T(s, a, b, z), (K, M, K)
    expected_td: np.ndarray  # r(s, a, b) = Σ_z T(s, a, b, z) [U(s, a, b) + γ V(z)] - Q(s, a), (K, M, M)
    product_td: np.ndarray  # E_z[δ_i δ_j | s, a, b] on a shared edge, (K, M, M)
    common_product: np.ndarray  # Σ_c X(s, c) r(s, a, c) r(s, b, c), (K, M, M)
    learner: dict  # beta, gamma, rule, policy, epsilon, faq_beta: the keywords of moments.diffusion


def _point(q_star, game, beta, gamma, rule, policy="boltzmann", epsilon=None, faq_beta=None, check=True) -> _Point:
    code = _check_rule(rule)
    kind = policy_code(policy)
    greedy = kind == EPSILON_GREEDY
    epsilon = epsilon_of(policy, epsilon) if greedy else None
    faq = faq_factor(rule, faq_beta)
    require_immediate_reward(game, "lna")
    payoff, transition = game.arrays()
    q = np.asarray(q_star, dtype=np.float64)
    if q.shape != payoff.shape[:2] or not np.all(np.isfinite(q)):
        raise ConfigError(f"q_star must be a finite (state, action) = {payoff.shape[:2]} table")
    x = policy_of(q, policy, beta=beta, epsilon=epsilon)
    tied = (q == q.max(axis=1, keepdims=True)).sum(axis=1) > 1
    if check and greedy and np.any(tied):
        raise ConfigError(
            f"Q* = {q.tolist()} lies on an ε-greedy switching surface (tied maxima in state(s) "
            f"{(np.flatnonzero(tied) + 1).tolist()}): the drift jumps there, so the LNA is undefined"
        )
    if code in (Q_LEARNING, FAQ):
        value = q.max(axis=1)
        gradient = (q == value[:, None]).astype(np.float64)
        if check and np.any(tied):
            raise ConfigError("Q* has tied maxima: V = max Q is not differentiable there (LNA undefined)")
    elif greedy:
        value = np.sum(x * q, axis=1)
        gradient = x.copy()
    else:
        value = np.sum(x * q, axis=1)
        gradient = x * (1.0 + beta * (q - value[:, None]))
    if greedy:
        policy_jacobian = np.zeros(q.shape + q.shape[1:])
    else:
        policy_jacobian = beta * (np.einsum("sa,ac->sac", x, np.eye(q.shape[1])) - x[:, :, None] * x[:, None, :])
    learner = dict(beta=beta, gamma=gamma, rule=RULES[code], policy=POLICIES[kind], epsilon=epsilon, faq_beta=faq_beta)
    if check:
        delta = mean_td_error(
            q, x, game, **{key: learner[key] for key in ("beta", "gamma", "rule", "policy", "epsilon")}
        )
        scale = max(1.0, float(np.abs(payoff).max()), float(np.abs(q).max()))
        if np.max(np.abs(delta)) > 1e-8 * scale:
            raise ConfigError(f"q_star is not a fixed point: max |δ̄| = {np.abs(delta).max():.2e} (use lna.fixed_point)")
    distribution = stationary_distribution(edge_transition_matrix(x, x, transition))
    next_state = np.einsum("sb,sabz->saz", x, transition)
    shape = payoff.shape[:1] + payoff.shape[1:2] * 2
    expected_td, product_td, common_product = np.empty(shape), np.empty(shape), np.empty(shape)
    pair_td_into(q, x, payoff, transition, float(gamma), code, expected_td, product_td, common_product)
    weight = played_weight(x, faq)
    return _Point(
        q,
        x,
        weight,
        policy_jacobian,
        distribution,
        value,
        gradient,
        next_state,
        expected_td,
        product_td,
        common_product,
        learner,
    )


def _policy_gradient(point: _Point) -> np.ndarray:
    """G = ∂X/∂Q (K M, K M), block diagonal in the state (eq. 2 for Boltzmann; zero for ε-greedy in a region)."""
    n_states, n_actions = point.q.shape
    gradient = np.zeros((n_states * n_actions, n_states * n_actions))
    for s in range(n_states):
        rows = slice(s * n_actions, (s + 1) * n_actions)
        gradient[rows, rows] = point.policy_jacobian[s]
    return gradient


def jacobian_blocks(
    q_star, game, degree, *, alpha, beta, gamma, rule="q_learning", policy="boltzmann", epsilon=None, faq_beta=None
):
    """J_self(k) = ∂μ_i/∂Q_i and J_nb(k) = ∂μ_i/∂Q_j (j ~ i) at a homogeneous fixed point [L3-L4].

    With δ̄ = 0 only the derivative of δ̄ survives in μ_i = α π_s X_i c_i δ̄_i (eq. 9; c the FAQ factor, whose
    kink at X = faq_beta multiplies δ̄ = 0 too):

    - J_self[(s,a),(z,c)] = α π_s X(s,a) c(s,a) [-1((z,c) = (s,a)) + γ W(s,a,z) ∂V(z)/∂Q(z,c)],
      ∂V/∂Q = 1(c = argmax) (Q-learning, FAQ), X(z,c) [1 + β (Q(z,c) - V(z))] (Boltzmann expected SARSA) or
      X(z,c) (ε-greedy expected SARSA, X constant in a region);
    - J_nb[(s,a),(s,c)] = α π_s X(s,a) c(s,a) (1/k) Σ_b r(s,a,b) ∂X(s,b)/∂Q(s,c), zero across states, with
      r(s,a,b) the expected TD error when the neighbour plays b (the neighbour met in s is j with
      probability p_ij(s) / Σ_l p_il(s) = 1/k at the homogeneous point, eq. 20); ∂X/∂Q = β X (1 - X) terms for
      Boltzmann, 0 for ε-greedy (J_nb = 0: a neighbour's policy does not move inside its region).

    Parameters
    ----------
    q_star : array_like, shape (state, action)
        A fixed point (δ̄ = 0 is checked).
    game : Game
    degree : int
        k of the focal agent.
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    policy : {"boltzmann", "epsilon_greedy"}
    epsilon, faq_beta : float, optional
        ε of ε-greedy, faq_beta of FAQ.

    Returns
    -------
    J_self, J_nb : ndarray, shape (K M, K M)
        Per simulator step.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.theory.lna import fixed_point, jacobian_blocks
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> j_self, j_nb = jacobian_blocks(q_star, game, 4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> j_self.shape, j_nb.shape
    ((4, 4), (4, 4))
    >>> float(np.abs(j_nb[:2, 2:]).max())  # a neighbour acts through its policy in the same state only
    0.0
    >>> bool(np.linalg.eigvals(j_self).real.max() < 0)  # one agent alone relaxes to Q*
    True
    """
    point = _point(q_star, game, beta, gamma, rule, policy, epsilon, faq_beta)
    return _jacobians(point, int(degree), alpha)


def _jacobians(point: _Point, degree, alpha):
    n_states, n_actions = point.q.shape
    size = n_states * n_actions
    if degree <= 0:
        return np.zeros((size, size)), np.zeros((size, size))
    engaged = interaction_probability(point.distribution, degree)  # π_s
    rate = alpha * engaged[:, None] * point.weight  # α π_s X c, (s, a)
    own = point.learner["gamma"] * point.next_state[:, :, :, None] * point.value_gradient[None, None, :, :]
    own = own.reshape(size, size) - np.eye(size)
    j_self = rate.reshape(size, 1) * own
    j_nb = np.zeros((size, size))
    for s in range(n_states):
        block = point.expected_td[s] @ point.policy_jacobian[s] / degree  # [a, c]
        rows = slice(s * n_actions, (s + 1) * n_actions)
        j_nb[rows, rows] = rate[s][:, None] * block
    return j_self, j_nb


def _inverse_moment(offset, trials, probability):
    """E[1 / (offset + B)] for B ~ Binomial(trials, probability) (offset ≥ 1)."""
    if trials < 0:
        return 0.0
    counts = np.arange(trials + 1)
    return float(np.sum(binom.pmf(counts, trials, probability) / (offset + counts)))


def _adjacent_common_factor(distribution, k_i, k_j):
    """Per state: G_s per common neighbour of two *adjacent* agents of degrees k_i, k_j (a triangle, eq. L7).

    Edge states i.i.d. from p*; both counts include the edge i-j:
    G_s = p_s² [p_s E[1/(2+B_i)] E[1/(2+B_j)] + (1-p_s) E[1/(1+B_i)] E[1/(1+B_j)]], B ~ Bin(k - 2, p_s).
    (F_s and the non-adjacent G_s are in :func:`marldyn.theory.one_step.shared_noise_into`.)
    """
    common = np.zeros(distribution.size)
    if k_i < 2 or k_j < 2:
        return common
    for s, p in enumerate(np.asarray(distribution, dtype=np.float64)):
        if p <= 0.0:
            continue
        with_edge = _inverse_moment(2, k_i - 2, p) * _inverse_moment(2, k_j - 2, p)
        without = _inverse_moment(1, k_i - 2, p) * _inverse_moment(1, k_j - 2, p)
        common[s] = p * p * (p * with_edge + (1.0 - p) * without)
    return common


def noise_blocks(
    q_star,
    game,
    k_i,
    k_j=None,
    *,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
):
    """One-step noise covariance blocks at a homogeneous fixed point, edge states i.i.d. from p* [L5-L7].

    - ``self``: D_ii = Σ(Q*, X*, p*, k_i), eq. (5) (docs/diffusion.md);
    - ``edge``: D_ij for neighbours (one shared edge): α² w(s,a) w(s,b) F_s E_z[δ_i δ_j | s, a, b] on the
      (s, s) blocks, where on the shared edge i plays a, j plays b and both bootstrap from the same s';
    - ``common`` / ``common_adjacent``: D_ij per common neighbour l (j not adjacent / adjacent to i):
      α² w(s,a) w(s,b) G_s Σ_c X(s,c) r(s,a,c) r(s,b,c) on the (s, s) blocks (both meet l's one action c).

    w = X c is the played action's probability times its FAQ factor c = min(faq_beta / X, 1) (w = X for the
    other rules). Every other block is zero at the fixed point (a TD error from an edge not shared averages to
    δ̄ = 0).

    Parameters
    ----------
    q_star : array_like, shape (state, action)
    game : Game
    k_i, k_j : int
        Degrees of the two agents (``k_j`` defaults to ``k_i``).
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    policy : {"boltzmann", "epsilon_greedy"}
    epsilon, faq_beta : float, optional

    Returns
    -------
    dict of ndarray, each (K M, K M)
        ``self`` (agent i), ``edge``, ``common``, ``common_adjacent``; rows: agent i, columns: agent j.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.lna import fixed_point, noise_blocks
    >>> from marldyn.theory.markov import edge_transition_matrix, stationary_distribution
    >>> from marldyn.theory.moments import diffusion
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> blocks = noise_blocks(q_star, game, 4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> sorted(blocks), blocks["edge"].shape
    (['common', 'common_adjacent', 'edge', 'self'], (4, 4))

    The ``self`` block is the exact one-step diffusion Σ at (Q*, X*, p*):

    >>> policy = boltzmann(q_star, 1.0)
    >>> p_star = stationary_distribution(edge_transition_matrix(policy, policy, game.transition))
    >>> sigma = diffusion(q_star, policy, p_star, 4, game, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> bool(np.allclose(blocks["self"], sigma))
    True
    """
    point = _point(q_star, game, beta, gamma, rule, policy, epsilon, faq_beta)
    return _noise(point, int(k_i), int(k_i if k_j is None else k_j), game, alpha)


def shared_noise_blocks(q, game, degree, *, alpha, beta, gamma, rule="q_learning", faq_beta=None):
    """The shared-noise blocks of :func:`noise_blocks` (``edge``, ``common``) at any table, not only a fixed point.

    The same formulas (eqs. L6-L7) evaluated at Q with X = softmax(β Q) and p*(· | Q, Q), for agents of equal
    degree: away from a fixed point they keep only the terms that survive there (the terms through δ̄ ≠ 0 are
    dropped). The moment closure (:mod:`marldyn.theory.closure`) takes the same blocks at the population mean
    from the numba core (:func:`marldyn.theory.one_step.shared_noise_into`) inside its kernel.

    Parameters
    ----------
    q : array_like, shape (state, action)
    game : Game
    degree : int
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    faq_beta : float, optional
        With ``rule = "faq"``.

    Returns
    -------
    dict of ndarray, each (K M, K M)
        ``edge`` and ``common``.

    Examples
    --------
    >>> from marldyn.games import two_state_pd
    >>> from marldyn.theory.lna import shared_noise_blocks
    >>> blocks = shared_noise_blocks([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), 4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> sorted(blocks), blocks["edge"].shape
    (['common', 'edge'], (4, 4))
    """
    point = _point(q, game, beta, gamma, rule, faq_beta=faq_beta, check=False)
    return _noise(point, int(degree), int(degree), game, alpha, shared_only=True)


def _noise(point: _Point, k_i, k_j, game, alpha, shared_only=False):
    """The blocks of :func:`noise_blocks` for two agents of one type; ``shared_only``: just ``edge`` and ``common``."""
    rate = (alpha * point.weight).ravel()
    edge, common, adjacent = (np.outer(rate, rate) * block for block in _unit_shared_noise(point, k_i, k_j))
    out = {"edge": edge, "common": common}
    if not shared_only:
        out["self"] = _self_noise(point, k_i, game, alpha)
        out["common_adjacent"] = adjacent
    return out


def _self_noise(point: _Point, degree, game, alpha):
    """D_ii = Σ(Q*, X*, p*, k), eq. (5), of an agent of ``point``'s type with rate α."""
    return diffusion(point.q, point.policy, point.distribution, degree, game, alpha=alpha, **point.learner)


def _unit_shared_noise(point: _Point, k_i, k_j):
    """``edge``, ``common`` and ``common_adjacent`` of agents of degrees k_i, k_j without their prefactor
    α_i w_i(s, a) α_j w_j(s, b) (w = X c): it depends only on Q*, X*, p* and γ, which agents that share the fixed
    point share, so the blocks of two agents of different α or faq_beta are these times their own prefactors."""
    size = point.q.size
    ones = np.ones_like(point.policy)
    edge, common = np.empty((size, size)), np.empty((size, size))
    shared_noise_into(ones, point.distribution, k_i, k_j, 1.0, point.product_td, point.common_product, edge, common)
    factor = _adjacent_common_factor(point.distribution, k_i, k_j)
    return edge, common, _state_blocks(ones, 1.0, factor[:, None, None] * point.common_product)


def _state_blocks(weight, alpha, inner):
    """α² w(s,a) w(s,b) inner[s, a, b] on the (s, s) diagonal blocks of a (K M, K M) matrix."""
    n_states, n_actions = weight.shape
    out = np.zeros((n_states * n_actions, n_states * n_actions))
    for s in range(n_states):
        rows = slice(s * n_actions, (s + 1) * n_actions)
        out[rows, rows] = alpha**2 * weight[s][:, None] * weight[s][None, :] * inner[s]
    return out


# ----------------------------------------------------------------------------------------------
# the linear system on the graph
# ----------------------------------------------------------------------------------------------
def _adjacency(graph: Graph):
    from scipy.sparse import csr_matrix

    n = graph.n_agents
    data = np.ones(len(graph.indices))
    return csr_matrix((data, np.asarray(graph.indices), np.asarray(graph.indptr)), shape=(n, n))


def dense_matrices(
    q_star,
    game,
    graph: Graph,
    *,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    learners=None,
    agent_type=None,
    correlations=True,
):
    """A = I + J and D of the whole population (N K M, N K M), dense, agent-major order [L2, L5-L7].

    For the brute-force solve on small graphs (any degrees, triangles included). ``correlations=False`` drops
    the noise correlations between agents (D block diagonal), keeping the coupling through the drift.

    Parameters
    ----------
    q_star : array_like, shape (state, action)
        A homogeneous fixed point (:func:`fixed_point`).
    game : Game
    graph : Graph
        Any graph with N K M ≤ 4000.
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    policy : {"boltzmann", "epsilon_greedy"}
    epsilon, faq_beta : float, optional
    learners, agent_type : optional
        Agent types that share the fixed point, as in :func:`solve_lna`.
    correlations : bool

    Returns
    -------
    matrix, covariance : ndarray, shape (N K M, N K M)
        The linear one-step map A = I + J and the one-step noise covariance D (symmetric), per simulator step;
        agent i's entries are rows ``i * K M`` to ``(i + 1) * K M``.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.theory.lna import dense_matrices, fixed_point
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> matrix, covariance = dense_matrices(q_star, game, lattice(9), alpha=1e-3, beta=1.0, gamma=0.8)
    >>> matrix.shape, covariance.shape  # N K M = 9 * 2 * 2
    ((36, 36), (36, 36))
    >>> bool(np.abs(np.linalg.eigvals(matrix)).max() < 1.0)  # Q* is linearly stable on the graph
    True
    """
    if learners is None:
        point = _point(q_star, game, beta, gamma, rule, policy, epsilon, faq_beta)
        population = _Population.uniform(point, alpha, graph.n_agents)
    else:
        population = _typed_population(q_star, game, learners, agent_type, graph.n_agents)
    return _dense_matrices(population, game, graph, correlations)


@dataclass(frozen=True, eq=False)
class _Population:
    """Agents that share one fixed point: each agent's type, and per type its point (its FAQ factor) and α."""

    points: tuple  # _Point per type (None for a type without agents)
    alpha: np.ndarray  # (type,)
    agent_type: np.ndarray  # (agent,)

    @classmethod
    def uniform(cls, point: _Point, alpha, n_agents: int) -> _Population:
        return cls((point,), np.array([float(alpha)]), np.zeros(n_agents, dtype=np.int64))

    @property
    def reference(self) -> _Point:
        """A type's point: Q*, X*, p* and the TD products are every type's."""
        return next(point for point in self.points if point is not None)

    def rate(self, t) -> np.ndarray:
        """α_t w_t (K M,): the prefactor of a type-t agent's rows in J and in the shared noise."""
        return (self.alpha[t] * self.points[t].weight).ravel()

    def classes(self, degree):
        """(type, degree) pairs of the agents and their counts."""
        pairs, counts = np.unique(np.stack([self.agent_type, np.asarray(degree)], axis=1), axis=0, return_counts=True)
        return [(int(t), int(k), int(c)) for (t, k), c in zip(pairs, counts, strict=True)]


def _dense_matrices(population: _Population, game, graph: Graph, correlations):
    n = graph.n_agents
    point = population.reference
    size = point.q.size
    if n * size > DIRECT_LIMIT:
        raise ConfigError(f"the dense LNA needs N·K·M ≤ {DIRECT_LIMIT}, got {n * size}")
    adjacency = _adjacency(graph).toarray()
    common = adjacency @ adjacency
    np.fill_diagonal(common, 0.0)
    degree = np.asarray(graph.degree)
    kind = population.agent_type
    own = {}
    for t, k, _ in population.classes(degree):
        type_point, alpha = population.points[t], population.alpha[t]
        own[(t, k)] = (*_jacobians(type_point, k, alpha), _self_noise(type_point, k, game, alpha))
    rates = {t: population.rate(t) for t in np.unique(kind)}
    shared: dict = {}

    def unit(k_i, k_j):
        if (k_i, k_j) not in shared:
            shared[(k_i, k_j)] = _unit_shared_noise(point, int(k_i), int(k_j))
        return shared[(k_i, k_j)]

    matrix = np.eye(n * size)
    covariance = np.zeros((n * size, n * size))
    for i in range(n):
        rows = slice(i * size, (i + 1) * size)
        j_self, j_nb, sigma = own[(kind[i], degree[i])]
        matrix[rows, rows] += j_self
        covariance[rows, rows] = sigma
        for j in range(n):
            if j == i or (adjacency[i, j] == 0 and common[i, j] == 0):
                continue
            cols = slice(j * size, (j + 1) * size)
            if adjacency[i, j]:
                matrix[rows, cols] += j_nb
            if not correlations:
                continue
            edge, common_block, adjacent = unit(degree[i], degree[j])
            block = edge + common[i, j] * adjacent if adjacency[i, j] else common[i, j] * common_block
            covariance[rows, cols] += np.outer(rates[kind[i]], rates[kind[j]]) * block
    return matrix, 0.5 * (covariance + covariance.T)


def _lyapunov_batch(matrices, covariances):
    """Solve C = A C Aᵀ + D for a batch of small (d, d) systems via (I - A ⊗ A) vec C = vec D."""
    count, size, _ = matrices.shape
    kron = np.einsum("nij,nkl->nikjl", matrices, matrices).reshape(count, size * size, size * size)
    system = np.eye(size * size)[None] - kron
    solution = np.linalg.solve(system, covariances.reshape(count, size * size, 1))
    solution = solution.reshape(count, size, size)
    return 0.5 * (solution + np.swapaxes(solution, -1, -2))


def _modal_covariances(point, degree, eigenvalues, alpha, game, correlations=True):
    """C(λ) for every adjacency eigenvalue λ of a k-regular triangle-free graph: A(λ) = I + J_self + λ J_nb,
    D(λ) = D_self + λ D_edge + (λ² - k) D_common [L9]."""
    j_self, j_nb = _jacobians(point, degree, alpha)
    blocks = _noise(point, degree, degree, game, alpha)
    size = j_self.shape[0]
    lam = np.asarray(eigenvalues, dtype=np.float64)[:, None, None]
    matrices = np.eye(size)[None] + j_self[None] + lam * j_nb[None]
    noises = blocks["self"][None] + correlations * (
        lam * blocks["edge"][None] + (lam**2 - degree) * blocks["common"][None]
    )
    return _lyapunov_batch(matrices, noises), matrices, blocks, (j_self, j_nb)


def solve_lna(
    q_star,
    game,
    graph: Graph,
    *,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    learners=None,
    agent_type=None,
    route="auto",
    correlations=True,
) -> LNAResult:
    """Stationary covariance of the agents' Q-values on ``graph`` around the fixed point ``q_star`` [L1-L10].

    Parameters
    ----------
    q_star : array_like, shape (state, action)
        A homogeneous fixed point (:func:`fixed_point`).
    game : Game
    graph : Graph
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    policy : {"boltzmann", "epsilon_greedy"}
        ε-greedy (with ``epsilon``): inside a region the policy is constant, so J_nb = 0 and the policy spread
        is 0; Q* must lie at least :data:`SWITCHING_MARGIN` standard deviations of the agents' greedy gaps from
        every switching surface (else ConfigError: some agents would play another greedy action).
    epsilon, faq_beta : float, optional
        ε of ε-greedy, faq_beta of FAQ (which scales each row of J and D by c = min(faq_beta / X, 1)).
    learners : marldyn.agents.Learners, optional
        Agent types instead of ``alpha`` ... ``faq_beta``, with ``agent_type`` (agent,) each agent's type. The
        types must share the fixed point: they may differ in α, faq_beta and in the rule between q_learning and
        faq (whose TD target is Q-learning's), not in the policy, β, ε or γ, and none may be committed
        (:func:`shared_fixed_point`). Then every agent sits at the same Q*, the derivation holds agent by agent
        (each row of J and D with its own α and c), and the dense route solves it. Types that move the fixed
        point: :func:`marldyn.theory.agent_lna.solve_agent_lna`.
    route : {"auto", "fourier", "laplacian", "direct"}
        ``fourier``: the periodic lattice, one d x d discrete Lyapunov equation per wave vector (any size);
        ``laplacian``: a regular triangle-free graph, one per eigenvector of its Laplacian (dense eigh);
        ``direct``: the dense (N d)² discrete Lyapunov equation (any graph, N·d ≤ 4000). ``auto`` picks the
        first that applies.
    correlations : bool
        False: drop the noise correlations between agents (shared edges, shared neighbours) and keep the
        coupling through the drift — the linearisation of the ``sde-graph`` ensemble, whose agents get
        independent noise.

    Returns
    -------
    LNAResult

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.theory.lna import fixed_point, solve_lna
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> result = solve_lna(q_star, game, lattice(16), alpha=1e-3, beta=1.0, gamma=0.8)
    >>> result.route, result.q_std.round(4)  # Q's spread across agents (state, action)
    ('fourier', array([[0.0706, 0.061 ],
                       [0.0304, 0.0276]]))

    The dense solve (64 x 64 here) gives the same covariance:

    >>> direct = solve_lna(q_star, game, lattice(16), alpha=1e-3, beta=1.0, gamma=0.8, route="direct")
    >>> bool(np.allclose(direct.within_covariance, result.within_covariance))
    True
    """
    if route not in ROUTES:
        raise ConfigError(f"route = {route!r} must be one of {', '.join(ROUTES)}")
    n = graph.n_agents
    if learners is None:
        point = _point(q_star, game, beta, gamma, rule, policy, epsilon, faq_beta)
        population = _Population.uniform(point, alpha, n)
    else:
        population = _typed_population(q_star, game, learners, agent_type, n)
        point = population.reference
        if route == "auto":
            route = "direct"
        elif route != "direct":
            raise ConfigError(f"route {route!r}: agents of several types break the graph's symmetry; use 'direct'")
    size = point.q.size
    degree = np.asarray(graph.degree)
    regular = bool(np.all(degree == degree[0])) and degree[0] > 0
    side = lattice_side(graph)
    adjacency = _adjacency(graph)
    triangle_free = regular and (adjacency @ adjacency).multiply(adjacency).sum() == 0
    if route == "auto":
        route = "fourier" if side else ("laplacian" if triangle_free and n <= LAPLACIAN_LIMIT else "direct")
    if route == "fourier" and not side:
        raise ConfigError("route 'fourier' needs the periodic L x L lattice")
    if route == "laplacian" and not triangle_free:
        raise ConfigError("route 'laplacian' needs a regular graph without triangles (J, D polynomials in A)")
    blocks: dict = {}
    if route in ("fourier", "laplacian"):
        k = int(degree[0])
        if route == "fourier":
            wave = 2.0 * np.pi * np.arange(side) / side
            eigenvalues = (2.0 * np.cos(wave)[:, None] + 2.0 * np.cos(wave)[None, :]).ravel()
            weights = np.zeros(eigenvalues.size)
            weights[0] = n  # (Σ_i v(i))² of the uniform mode; 0 for every other wave vector
        else:
            from scipy.sparse.csgraph import laplacian

            values, vectors = np.linalg.eigh(laplacian(adjacency.toarray()))
            eigenvalues = k - values  # adjacency eigenvalues
            weights = vectors.sum(axis=0) ** 2
        modes, matrices, noise, jac = _modal_covariances(point, k, eigenvalues, alpha, game, correlations)
        mean = np.einsum("m,mij->ij", weights, modes) / n**2
        within = modes.sum(axis=0) / n - mean
        radius = np.max(np.abs(np.linalg.eigvals(matrices)))
        blocks = {
            "J_self": jac[0],
            "J_nb": jac[1],
            "D_self": noise["self"],
            "D_edge": noise["edge"],
            "D_common": noise["common"],
        }
    else:
        matrix, covariance = _dense_matrices(population, game, graph, correlations)
        full = solve_discrete_lyapunov(matrix, covariance)
        full = 0.5 * (full + full.T)
        per_agent = full.reshape(n, size, n, size)
        mean = per_agent.sum(axis=(0, 2)) / n**2
        within = np.einsum("iaib->ab", per_agent) / n - mean
        radius = np.max(np.abs(np.linalg.eigvals(matrix)))
    if not radius < 1.0:
        raise ConfigError(f"Q* is not linearly stable on this graph (spectral radius of I + J = {radius:.6f})")
    gradient = _policy_gradient(point)
    shape = point.q.shape
    margin = _switching_margin(point, within)
    independent = _independent_ou(population, game, graph)
    return LNAResult(
        fixed_point=point.q.copy(),
        policy=point.policy,
        state_distribution=point.distribution,
        within_covariance=within,
        mean_covariance=mean,
        q_std=np.sqrt(np.clip(np.diag(within), 0.0, None)).reshape(shape),
        q_mean_std=np.sqrt(np.clip(np.diag(mean), 0.0, None)).reshape(shape),
        policy_std=np.sqrt(np.clip(np.diag(gradient @ within @ gradient.T), 0.0, None)).reshape(shape),
        independent=independent,
        route=route,
        relaxation_time=float(1.0 / (1.0 - radius)),
        blocks=blocks,
        attrs={
            **({"alpha": float(alpha)} if learners is None else {"learners": learners.describe()}),
            **{key: value for key, value in point.learner.items() if value is not None},
            "agents": int(n),
            **({} if margin is None else {"switching_margin": margin}),
        },
    )


def shared_fixed_point(learners) -> dict:
    """The parameters that fix Q* for a population of types, if the types share one fixed point (else ConfigError).

    δ̄ = 0 involves the policy (and β or ε), γ and the TD target, not α or the FAQ factor; q_learning and faq have
    the same target. Committed types (fixed tables) move their neighbours' fixed points agent by agent.

    Returns
    -------
    dict
        ``beta``, ``gamma``, ``rule``, ``policy``, ``epsilon``: the keywords of :func:`fixed_point`.

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({"graph": {"n": 16}, "agent_types": [{"name": "fast", "fraction": 0.5,
    ...                                "alpha": 0.01, "rule": "faq", "faq_beta": 0.2}]})
    >>> shared_fixed_point(config.learners(config.build_game(), 16))
    {'beta': 1.0, 'gamma': 0.8, 'rule': 'q_learning', 'policy': 'boltzmann', 'epsilon': None}
    """
    difference = fixed_point_difference(learners)
    if difference is not None:
        raise ConfigError(
            f"one fixed point for all types needs types that differ in alpha, faq_beta and q_learning/faq only: "
            f"{difference} (marldyn.theory.agent_lna solves per-agent fixed points)"
        )
    target = np.where(learners.rule == FAQ, Q_LEARNING, learners.rule)  # FAQ's TD target is Q-learning's
    greedy = learners.policy[0] == EPSILON_GREEDY
    return {
        "beta": float(learners.beta[0]),
        "gamma": float(learners.gamma[0]),
        "rule": RULES[int(target[0])],
        "policy": POLICIES[int(learners.policy[0])],
        "epsilon": float(learners.epsilon[0]) if greedy else None,
    }


def fixed_point_difference(learners) -> str | None:
    """Why the types of a population do not share one fixed point Q* (committed types, or types that differ in
    the policy, β or ε, γ or the TD target), or None when they do.

    Examples
    --------
    >>> from marldyn.agents import Learners
    >>> fixed_point_difference(Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8)) is None
    True
    """
    if np.any(learners.committed):
        return "committed agents move their neighbours' fixed points agent by agent"
    target = np.where(learners.rule == FAQ, Q_LEARNING, learners.rule)
    greedy = learners.policy[0] == EPSILON_GREEDY
    checks = {
        "policy": learners.policy,
        "gamma": learners.gamma,
        "rule (its TD target)": target,
        "epsilon" if greedy else "beta": learners.epsilon if greedy else learners.beta,
    }
    for name, values in checks.items():
        if np.unique(values).size > 1:
            return f"the types differ in {name} ({np.asarray(values).tolist()})"
    return None


def _typed_population(q_star, game, learners, agent_type, n_agents) -> _Population:
    shared = shared_fixed_point(learners)
    agent_type = np.asarray(agent_type, dtype=np.int64).reshape(-1)
    if agent_type.shape != (n_agents,) or np.any(agent_type < 0) or np.any(agent_type >= learners.n_types):
        raise ConfigError(f"agent_type must hold one type index in [0, {learners.n_types}) per agent ({n_agents})")
    points = []
    for t in range(learners.n_types):
        if not np.any(agent_type == t):
            points.append(None)
            continue
        faq = RULES[int(learners.rule[t])] == "faq"
        rule = "faq" if faq else shared["rule"]
        points.append(
            _point(
                q_star,
                game,
                shared["beta"],
                shared["gamma"],
                rule,
                shared["policy"],
                shared["epsilon"],
                float(learners.faq_beta[t]) if faq else None,
            )
        )
    return _Population(tuple(points), np.asarray(learners.alpha, dtype=np.float64), agent_type)


def _switching_margin(point: _Point, within) -> float | None:
    """ε-greedy: the smallest gap Q*(s, g) - Q*(s, b) over states and actions b ≠ g in standard deviations of
    that gap across agents; a ConfigError below :data:`SWITCHING_MARGIN`. None for Boltzmann learners."""
    if point.learner["policy"] != "epsilon_greedy":
        return None
    n_states, n_actions = point.q.shape
    margin = np.inf
    for s in range(n_states):
        g = int(np.argmax(point.q[s]))
        for b in range(n_actions):
            if b == g:
                continue
            i, j = s * n_actions + g, s * n_actions + b
            spread = np.sqrt(max(within[i, i] + within[j, j] - 2.0 * within[i, j], 0.0))
            gap = point.q[s, g] - point.q[s, b]
            margin = min(margin, gap / spread if spread > 0 else np.inf)
            if margin < SWITCHING_MARGIN:
                raise ConfigError(
                    f"ε-greedy: at Q* the switching surface Q(s{s + 1}, a{g + 1}) = Q(s{s + 1}, a{b + 1}) is "
                    f"{gap / spread:.2f} standard deviations of the agents' gap away (the LNA needs "
                    f"{SWITCHING_MARGIN:g}: beyond it agents play another greedy action); use method 'sde-graph'"
                )
    return float(margin)


def independent_ou(
    q_star,
    game,
    graph: Graph,
    *,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
) -> dict:
    """Each agent alone: C_i = (I + J_self(k_i)) C_i (I + J_self(k_i))ᵀ + Σ_i, no coupling, independent noise.

    Returns the across-agent covariance within a run, E[(1/N) Σ_i (Q_i - Q̄)²] = (1/N) Σ_i C_i - (1/N²) Σ_i C_i,
    and the covariance of the mean, (1/N²) Σ_i C_i, with their square-root diagonals (``q_std``,
    ``q_mean_std``, (K, M)).

    Parameters
    ----------
    q_star : array_like, shape (state, action)
        A homogeneous fixed point (:func:`fixed_point`).
    game : Game
    graph : Graph
        Only its degrees matter.
    alpha, beta, gamma : float
    rule : {"q_learning", "expected_sarsa", "faq"}
    policy : {"boltzmann", "epsilon_greedy"}
    epsilon, faq_beta : float, optional

    Returns
    -------
    dict
        ``within_covariance``, ``mean_covariance`` (K M, K M) and ``q_std``, ``q_mean_std`` (K, M).

    Examples
    --------
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.theory.lna import fixed_point, independent_ou
    >>> game = two_state_pd()
    >>> q_star = fixed_point([[0.0, 0.0], [0.0, 0.0]], game, beta=1.0, gamma=0.8)
    >>> alone = independent_ou(q_star, game, lattice(16), alpha=1e-3, beta=1.0, gamma=0.8)
    >>> sorted(alone)
    ['mean_covariance', 'q_mean_std', 'q_std', 'within_covariance']
    >>> alone["q_std"].round(4)
    array([[0.0596, 0.0584],
           [0.0298, 0.0276]])
    """
    point = _point(q_star, game, beta, gamma, rule, policy, epsilon, faq_beta)
    return _independent_ou(_Population.uniform(point, alpha, graph.n_agents), game, graph)


def _independent_ou(population: _Population, game, graph: Graph) -> dict:
    degree = np.asarray(graph.degree)
    n = graph.n_agents
    point = population.reference
    size = point.q.size
    total = np.zeros((size, size))
    for t, k, count in population.classes(degree):
        if k == 0:
            continue
        type_point, alpha = population.points[t], population.alpha[t]
        j_self, _ = _jacobians(type_point, k, alpha)
        sigma = _self_noise(type_point, k, game, alpha)
        total += count * _lyapunov_batch((np.eye(size) + j_self)[None], sigma[None])[0]
    mean = total / n**2
    within = total / n - mean
    shape = point.q.shape
    return {
        "within_covariance": within,
        "mean_covariance": mean,
        "q_std": np.sqrt(np.clip(np.diag(within), 0.0, None)).reshape(shape),
        "q_mean_std": np.sqrt(np.clip(np.diag(mean), 0.0, None)).reshape(shape),
    }


def run_averaged_variables(results, count: int) -> dict:
    """The dataset variables of ``theory(config, "lna")`` from one :class:`LNAResult` per run, each repeated on
    ``count`` times, averaged as the simulation's outputs are: ``q``, ``policy``, ``state_fraction`` the runs'
    means; ``q_std``, ``policy_std`` (and the independent OU's) the root of the runs' mean variance;
    ``q_mean_std`` adds the variance across runs of their population means of Q* (zero when every run has the
    same Q*) to the runs' mean fluctuation of the mean."""

    def constant(value):
        return np.broadcast_to(value, (count,) + np.shape(value)).copy()

    def mean_of(get):
        return np.mean([get(r) for r in results], axis=0)

    def spread(get, between=0.0):  # √ of the runs' mean variance
        return np.sqrt(mean_of(lambda r: get(r) ** 2) + between)

    means = np.array([r.fixed_point for r in results])
    between = means.var(axis=0)
    return {
        "q": constant(means.mean(axis=0)),
        "policy": constant(mean_of(lambda r: r.policy)),
        "q_std": constant(spread(lambda r: r.q_std)),
        "state_fraction": constant(mean_of(lambda r: r.state_distribution)),
        "q_mean_std": constant(spread(lambda r: r.q_mean_std, between)),
        "policy_std": constant(spread(lambda r: r.policy_std)),
        "q_std_independent": constant(spread(lambda r: r.independent["q_std"])),
        "q_mean_std_independent": constant(spread(lambda r: r.independent["q_mean_std"], between)),
    }


def lna_dataset_variables(config, game, graph, grid, table, *, learners=None, assignments=None, **learner):
    """Variables of ``theory(config, "lna")``: Q* from the config's initial table, constant on the time grid.

    With agent types (``learners`` and ``assignments``, each run's agent types (run, agent)) the LNA is solved
    for every run's assignment and the covariances averaged over the runs, as the simulation's ``q_std`` is
    (the mean across runs is Q* for every assignment, so the runs' covariances of the mean average too).

    Returns ``(variables, condition, extra)`` for ``entry._dataset``: ``q`` (= Q*), ``policy`` (X*),
    ``state_fraction`` (p*), ``q_std``, ``q_mean_std``, ``policy_std``, and the independent OU's
    ``q_std_independent``, ``q_mean_std_independent``, each repeated on every time of the grid.
    """
    degree = int(np.max(graph.degree)) if graph.n_edges else 1
    alpha = learner.pop("alpha")
    if learners is None:
        q_star = fixed_point(table, game, degree=max(degree, 1), **learner)
        results = [solve_lna(q_star, game, graph, alpha=alpha, **learner)]
    else:
        q_star = fixed_point(table, game, degree=max(degree, 1), **shared_fixed_point(learners))
        results = [solve_lna(q_star, game, graph, learners=learners, agent_type=kind) for kind in assignments]
    result = results[0]
    variables = run_averaged_variables(results, np.asarray(grid).size)
    condition = (
        f"stationary fluctuations around the fixed point Q* = {np.round(result.fixed_point, 10).tolist()} "
        f"(root of the mean TD error from Q = {np.asarray(table).tolist()}); time-independent"
    )
    if learners is not None:
        condition += f"; every type at Q*, the covariances averaged over the {len(results)} runs' assignments"
    extra = {
        "route": result.route,
        "relaxation_time": max(r.relaxation_time for r in results),
        "fixed_point": np.round(result.fixed_point, 12).tolist(),
    }
    if "switching_margin" in result.attrs:
        extra["switching_margin"] = min(r.attrs["switching_margin"] for r in results)
    return variables, condition, extra
