"""Homogeneous (point-mass) theory: every agent has the same Q, so a neighbour is the focal agent itself.

In a population concentrated at one Q (a point mass of p_t(Q), all neighbours Q̃ = Q), the
neighbour's action distribution is X(Q) itself and every edge is a chain with λ(Q, Q) (eq. 12).
Diffusion is dropped (it is O(α²), eqs. 15-16), so a point mass stays a point mass and Q(t) follows
the drift. Three versions, all with time in simulator steps (shared/NOTES.md 1):

- ``reduced`` (eq. 19 with eq. 18, time-scale separation): dQ/dt = μ*(Q) = μ(Q, X(Q), p*(·|Q, Q), k),
  with p* the stationary distribution of λ(Q, Q) (:func:`stationary_drift`). An ODE in Q alone,
  integrated with scipy's explicit ``solve_ivp`` (DOP853 by default).
- ``full`` (eq. 15 without diffusion, for a point mass): the ODE in (Q, p) with dp/dt = p (λ(Q, Q) - I)
  (eq. 14/17) and dQ/dt = μ(Q, X(Q), p, k). The edge states relax on a time scale of O(1) steps while
  Q moves on O(1/α) steps, so the system is stiff; it is integrated with LSODA by default.
- ``full_discrete``: the exact one-step map of the expected dynamics of a point mass,
  Q_{t+1} = Q_t + μ(Q_t, X(Q_t), p_t, k), p_{t+1} = p_t λ(Q_t, Q_t)
  (:func:`marldyn.theory.markov.master_equation_step`), iterated step by step (numba loop).

Degree (NOTES.md 4): one degree k for the whole population (a k-regular graph, e.g. the 10x10 lattice
with k = 4, or a complete graph with k = N - 1). On a graph with unequal degrees, agents of different
degree learn at different speeds, so the population is not a point mass; use the heterogeneous
(particle) theory, which gives each agent its own degree.

Outputs are :class:`HomogeneousTrajectory` objects with arrays named as in the simulation's Dataset:
``time`` (time,), ``q`` (time, state, action), ``policy`` (time, state, action),
``state_fraction`` (time, state).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.integrate import solve_ivp

from ..agents import Learners
from ..errors import ConfigError, ConvergenceError, DivergenceError
from ..policy import EPSILON_GREEDY, boltzmann_table, policy_of, policy_row
from .markov import edge_transition_into, edge_transition_matrix, stationary_distribution, stationary_into
from .moments import drift, outcome_distribution
from .one_step import drift_into, outcome_into, workspace
from .switching import integrate_switching, region_policy

__all__ = [
    "METHODS",
    "HomogeneousTrajectory",
    "solve_full",
    "solve_full_discrete",
    "solve_homogeneous",
    "solve_reduced",
    "stationary_drift",
]

METHODS = ("reduced", "full", "full_discrete")


@dataclass(frozen=True, eq=False)
class HomogeneousTrajectory:
    """A point-mass theory trajectory on a time grid (time in simulator steps).

    Attributes
    ----------
    time : ndarray, shape (time,)
        The requested times t (steps since the initial condition).
    q : ndarray, shape (time, state, action)
        Q(t).
    policy : ndarray, shape (time, state, action)
        X(t) = softmax(β Q(t)), eq. (2).
    state_fraction : ndarray, shape (time, state)
        Fraction of edges in each state: p*(·|Q(t), Q(t)) for ``reduced``, p(t) otherwise.
    method : str
        ``"reduced"``, ``"full"`` or ``"full_discrete"``.
    attrs : dict
        Parameters, initial condition and horizon (degree, alpha, beta, gamma, rule, q0,
        initial_state_fraction, horizon, and the integrator settings).
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    state_fraction: np.ndarray
    method: str
    attrs: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The arrays by name (``time``, ``q``, ``policy``, ``state_fraction``) plus ``method`` and ``attrs``."""
        return {
            "time": self.time,
            "q": self.q,
            "policy": self.policy,
            "state_fraction": self.state_fraction,
            "method": self.method,
            "attrs": dict(self.attrs),
        }


# ----------------------------------------------------------------------------------------------
# numba right-hand sides (the policy X is an input: Boltzmann, or an ε-greedy region's table)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def reduced_rate_at(q_flat, policy, degree, payoff, transition, alpha, gamma, rule, faq_beta, initial, group_size):
    """dQ/dt = μ*(Q) for the point mass playing ``policy`` (state, action), flattened (K*M,).

    ``group_size`` 0: a pairwise game (the neighbour plays ``policy``); n: a group game in the outcome form of
    :class:`~marldyn.group_games.SizedGroupGame` (the n - 1 co-players play ``policy``), ``degree`` then the
    number of groups each agent is in.
    """
    n_states, n_actions = policy.shape
    q = q_flat.reshape(n_states, n_actions)
    outcome = np.empty((n_states, transition.shape[2]))
    outcome_into(policy, group_size, outcome)
    matrix = np.empty((n_states, n_states))
    edge_transition_into(policy, outcome, transition, matrix)
    distribution = np.empty(n_states)
    stationary_into(matrix, initial, np.bool_(True), distribution)
    rate = np.empty((n_states, n_actions))
    drift_into(
        q,
        policy,
        outcome,
        distribution,
        degree,
        payoff,
        transition,
        alpha,
        gamma,
        rule,
        faq_beta,
        workspace(n_states, n_actions),
        rate,
    )
    return rate.ravel()


@njit(cache=True)
def full_rate_at(y, policy, degree, payoff, transition, alpha, gamma, rule, faq_beta, group_size):
    """d(Q, p)/dt = (μ(Q, p), p (λ - I)) for the point mass playing ``policy``, flattened (K*M + K,)
    (``group_size`` as in :func:`reduced_rate_at`)."""
    n_states, n_actions = policy.shape
    size = n_states * n_actions
    q = y[:size].copy().reshape(n_states, n_actions)
    distribution = y[size:]
    outcome = np.empty((n_states, transition.shape[2]))
    outcome_into(policy, group_size, outcome)
    matrix = np.empty((n_states, n_states))
    edge_transition_into(policy, outcome, transition, matrix)
    out = np.empty(size + n_states)
    rate = np.empty((n_states, n_actions))
    drift_into(
        q,
        policy,
        outcome,
        distribution,
        degree,
        payoff,
        transition,
        alpha,
        gamma,
        rule,
        faq_beta,
        workspace(n_states, n_actions),
        rate,
    )
    for s in range(n_states):  # element-wise: an array assignment compiles numba's shape-mismatch message
        for a in range(n_actions):
            out[s * n_actions + a] = rate[s, a]
    for t in range(n_states):
        flow = -distribution[t]
        for s in range(n_states):
            flow += distribution[s] * matrix[s, t]
        out[size + t] = flow
    return out


@njit(cache=True)
def reduced_rate(q_flat, n_states, n_actions, degree, payoff, transition, alpha, beta, gamma, rule, faq_beta, initial):
    """:func:`reduced_rate_at` of a Boltzmann point mass (the right-hand side the fixed-point analysis and its
    integrator take); ``faq_beta`` 1 for every rule but FAQ."""
    policy = boltzmann_table(q_flat.reshape(n_states, n_actions), beta)
    pairwise = np.int64(0)  # typed, not Literal[int](0): one compiled reduced_rate_at
    return reduced_rate_at(q_flat, policy, degree, payoff, transition, alpha, gamma, rule, faq_beta, initial, pairwise)


@njit(cache=True)
def _full_discrete_run(
    q0, p0, record_steps, degree, payoff, transition, group_size, kind, alpha, beta, gamma, epsilon, rule, faq_beta
):
    """Iterate Q_{t+1} = Q_t + μ(Q_t, p_t), p_{t+1} = p_t λ(Q_t); record at the sorted ``record_steps``."""
    n_states, n_actions = q0.shape
    n_records = record_steps.shape[0]
    q_out = np.empty((n_records, n_states, n_actions))
    p_out = np.empty((n_records, n_states))
    q = q0.copy()
    distribution = p0.copy()
    nxt = np.empty(n_states)
    policy = np.empty((n_states, n_actions))
    matrix = np.empty((n_states, n_states))
    rate = np.empty((n_states, n_actions))
    outcome = np.empty((n_states, transition.shape[2]))
    work = workspace(n_states, n_actions)
    record = 0
    last = record_steps[n_records - 1] if n_records > 0 else 0
    for t in range(last + 1):
        while record < n_records and record_steps[record] == t:
            for s in range(n_states):  # element-wise (see full_rate_at)
                p_out[record, s] = distribution[s]
                for a in range(n_actions):
                    q_out[record, s, a] = q[s, a]
            record += 1
        if t == last:
            break
        for s in range(n_states):
            policy_row(kind, q[s], beta, epsilon, q[s], policy[s])
        outcome_into(policy, group_size, outcome)
        edge_transition_into(policy, outcome, transition, matrix)
        drift_into(
            q,
            policy,
            outcome,
            distribution,
            degree,
            payoff,
            transition,
            alpha,
            gamma,
            rule,
            faq_beta,
            work,
            rate,
        )
        for t_state in range(n_states):
            value = 0.0
            for s in range(n_states):
                value += distribution[s] * matrix[s, t_state]
            nxt[t_state] = value
        for s in range(n_states):
            distribution[s] = nxt[s]
        for s in range(n_states):
            for a in range(n_actions):
                q[s, a] += rate[s, a]
    return q_out, p_out


# ----------------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------------
def _setup(q0, game, degree, initial_state_distribution):
    payoff, transition = game.arrays()
    n_states, n_actions = payoff.shape[:2]
    q0 = np.array(q0, dtype=np.float64)
    if q0.shape != (n_states, n_actions) or not np.all(np.isfinite(q0)):
        raise ConfigError(
            f"q0 must be a finite array of shape (state, action) = ({n_states}, {n_actions}), got {q0.shape}"
        )
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise ConfigError(f"degree = {degree!r} must be a non-negative integer (one degree for the point mass)")
    if initial_state_distribution is None:
        initial = np.full(n_states, 1.0 / n_states)
    else:
        initial = np.array(initial_state_distribution, dtype=np.float64)
        if initial.shape != (n_states,) or np.any(initial < 0) or abs(initial.sum() - 1.0) > 1e-9:
            raise ConfigError(
                f"initial_state_distribution must be a probability vector of length {n_states}, got {initial!r}"
            )
    return payoff, transition, q0, int(degree), initial


def stationary_state_fraction(own, game, initial) -> np.ndarray:
    """p*(·|Q, Q) (..., state) of a point mass playing ``own`` (..., state, action): the stationary law of its
    edges' (pairwise) or groups' (group game: n i.i.d. members) state chain, eq. (18)."""
    outcome = outcome_distribution(own, game.group_size)
    return stationary_distribution(edge_transition_matrix(own, outcome, game.transition), initial)


def _point_mass(q0, alpha, beta, gamma, rule, policy, epsilon, faq_beta):
    """The point mass's learner as one type (:class:`~marldyn.agents.Learners`, which checks the values) and its
    values as plain numbers: policy code, α, β, γ, ε, rule code, faq_beta."""
    n_states, n_actions = q0.shape
    learner = Learners.uniform(n_states, n_actions, alpha, beta, gamma, rule, policy, epsilon, faq_beta)
    values = (
        int(learner.policy[0]),
        float(learner.alpha[0]),
        float(learner.beta[0]),
        float(learner.gamma[0]),
        float(learner.epsilon[0]),
        int(learner.rule[0]),
        float(learner.faq_beta[0]),
    )
    return learner, values


def time_grid(time, integer=False) -> np.ndarray:
    grid = np.atleast_1d(np.asarray(time, dtype=np.float64))
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ConfigError("time must be a non-empty 1-d array of finite times (in steps)")
    if np.any(grid < 0) or np.any(np.diff(grid) < 0):
        raise ConfigError("time must be non-negative and non-decreasing (steps since the initial condition)")
    if integer and np.any(grid != np.round(grid)):
        raise ConfigError("time must hold whole steps for the full_discrete theory")
    return grid


def _attrs(method, q0, initial, degree, learner: Learners, grid, **extra):
    return {
        "method": method,
        "degree": degree,
        **learner.type_parameters(0),
        "q0": q0.tolist(),
        "initial_state_fraction": initial.tolist(),
        "horizon": float(grid[-1]),
        "time_unit": "simulator steps",
        **extra,
    }


def _solve_ode(rate_at, learner: Learners, y0, grid, integrator, rtol, atol, n_states, n_actions):
    """y on ``grid`` and X at every output: one smooth ODE (Boltzmann) or the switching integrator (ε-greedy)."""
    size = n_states * n_actions
    if learner.policy[0] != EPSILON_GREEDY:
        beta = float(learner.beta[0])

        def rate(_, y):
            y = np.ascontiguousarray(y)
            return rate_at(y, boltzmann_table(y[:size].reshape(n_states, n_actions), beta))

        y = _integrate(rate, y0, grid, integrator, rtol, atol)
        return y, learner.type_policy(y[:, :size].reshape(grid.size, n_states, n_actions))
    epsilon = float(learner.epsilon[0])

    def policy(_, choice, mixture):  # the switching integrator's units are the states
        return region_policy(choice, epsilon, n_actions, mixture)

    if integrator not in EXPLICIT:
        raise ConfigError(f"integrator = {integrator!r}: the ε-greedy point mass integrates with one of {EXPLICIT}")
    y, policy = integrate_switching(
        lambda y, x: rate_at(np.ascontiguousarray(y), np.ascontiguousarray(x)),
        policy,
        lambda y: y[:size].reshape(n_states, n_actions),
        np.ones(n_states, dtype=bool),
        y0,
        grid,
        method=integrator,
        rtol=rtol,
        atol=atol,
    )
    return y, policy


EXPLICIT = ("DOP853", "RK45", "RK23")
"""The explicit ``solve_ivp`` methods the switching integrator accepts (between switching events)."""


# ----------------------------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------------------------
def stationary_drift(
    q,
    game,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    initial_state_distribution=None,
) -> np.ndarray:
    """μ*(Q), the point-mass drift at the stationary edge-state distribution (eqs. 9, 18-19).

    μ*(Q) = μ(Q, X(Q), p*(·|Q, Q), k): the neighbour is the focal agent itself and the edge states are
    at the stationary distribution of λ(Q, Q). Its zeros are the fixed points of the reduced theory.

    Parameters
    ----------
    q : array_like, shape (..., state, action)
        Q-values of the point mass (a batch of them).
    game : Game or SizedGroupGame
        A pairwise game, or a group game in groups of one size (``GroupGame.sized(n)``; ``degree`` is then the
        number of groups each agent is in).
    degree : int
        k.
    alpha, beta, gamma : float
    rule : str or int
    policy : {"boltzmann", "epsilon_greedy"}
        With ``epsilon`` for ε-greedy; ``faq_beta`` with ``rule = "faq"``.
    initial_state_distribution : array_like, shape (state,), optional
        Only used when λ(Q, Q) has several closed classes (see
        :func:`marldyn.theory.markov.stationary_distribution`); default uniform.

    Returns
    -------
    ndarray, shape (..., state, action)
        μ* in Q units per step.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> stationary_drift([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), degree=4, alpha=0.01, beta=1.0,
    ...                  gamma=0.8).round(5)
    array([[0.01208, 0.01024],
           [0.00132, 0.00218]])
    """
    q = np.asarray(q, dtype=np.float64)
    n_states = game.n_states
    initial = (
        np.full(n_states, 1.0 / n_states)
        if initial_state_distribution is None
        else np.asarray(initial_state_distribution, dtype=np.float64)
    )
    own = policy_of(q, policy, beta=beta, epsilon=epsilon)
    distribution = stationary_state_fraction(own, game, initial)
    return drift(
        q,
        own,
        distribution,
        degree,
        game,
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        rule=rule,
        policy=policy,
        epsilon=epsilon,
        faq_beta=faq_beta,
    )


def solve_reduced(
    q0,
    game,
    time,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    initial_state_distribution=None,
    integrator="DOP853",
    rtol=1e-8,
    atol=1e-10,
) -> HomogeneousTrajectory:
    """Reduced point-mass theory (eq. 19 with 18): dQ/dt = μ*(Q), edge states always stationary.

    Parameters
    ----------
    q0 : array_like, shape (state, action)
        Q(0).
    game : Game or SizedGroupGame
        A pairwise game, or a group game in groups of one size (``GroupGame.sized(n)``; ``degree`` is then the
        number of groups each agent is in).
    time : array_like, shape (time,)
        Output times in simulator steps, non-negative and non-decreasing (integration starts at 0).
    degree : int
        k, the degree of every agent.
    alpha, beta, gamma : float
        α, β, γ.
    rule : str or int
    policy : {"boltzmann", "epsilon_greedy"}
        ε-greedy (with ``epsilon``) makes the drift jump where the greedy action changes: it is integrated
        across the switching surfaces, sliding on them where both sides push in (:mod:`marldyn.theory.switching`).
    epsilon, faq_beta : float, optional
        ε of ε-greedy; faq_beta of ``rule = "faq"``.
    initial_state_distribution : array_like, shape (state,), optional
        Recorded, and used only if λ(Q, Q) has several closed classes (default uniform, NOTES.md 7).
    integrator : str
        An explicit ``scipy.integrate.solve_ivp`` method ("DOP853", "RK45", "RK23").
    rtol, atol : float
        Integrator tolerances.

    Returns
    -------
    HomogeneousTrajectory
        ``state_fraction`` is p*(·|Q(t), Q(t)).

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> result = solve_reduced([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1000], degree=4, alpha=0.01,
    ...                        beta=1.0, gamma=0.8)
    >>> result.policy[-1].round(3)  # P(cooperate) has grown in both states
    array([[1.   , 0.   ],
           [0.909, 0.091]])
    """
    payoff, transition, q0, degree, initial = _setup(q0, game, degree, initial_state_distribution)
    learner, (_, alpha, _, gamma, _, code, faq) = _point_mass(q0, alpha, beta, gamma, rule, policy, epsilon, faq_beta)
    grid = time_grid(time)
    n_states, n_actions = q0.shape
    args = (degree, payoff, transition, alpha, gamma, code, faq, initial, game.group_size)

    def rate_at(y, x):
        return reduced_rate_at(y, x, *args)

    y, own = _solve_ode(rate_at, learner, q0.ravel(), grid, integrator, rtol, atol, n_states, n_actions)
    q = y[:, : n_states * n_actions].reshape(grid.size, n_states, n_actions)
    state_fraction = stationary_state_fraction(own, game, initial)
    attrs = _attrs("reduced", q0, initial, degree, learner, grid, integrator=integrator, rtol=rtol, atol=atol)
    return HomogeneousTrajectory(grid, q, own, state_fraction, "reduced", attrs)


def solve_full(
    q0,
    game,
    time,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    initial_state_distribution=None,
    integrator="LSODA",
    rtol=1e-8,
    atol=1e-10,
) -> HomogeneousTrajectory:
    """Full point-mass theory (eq. 15 without diffusion): the ODE in (Q, p), edge states dynamic.

    dp/dt = p (λ(Q, Q) - I) (eq. 17), dQ/dt = μ(Q, X(Q), p, k) (eq. 9). Stiff (fast edge states, slow
    Q), hence LSODA by default; any ``solve_ivp`` method is accepted. ε-greedy is integrated across its
    switching surfaces (as in :func:`solve_reduced`) with an explicit method (DOP853 when LSODA is asked for).

    Parameters
    ----------
    (as :func:`solve_reduced`; ``initial_state_distribution`` is p(0), default uniform.)

    Returns
    -------
    HomogeneousTrajectory
        ``state_fraction`` is p(t).

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> result = solve_full([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1000], degree=4, alpha=0.01,
    ...                     beta=1.0, gamma=0.8)
    >>> result.state_fraction.round(3)  # p(t): uniform at t = 0, then following λ(Q, Q)
    array([[0.5  , 0.5  ],
           [0.671, 0.329]])
    """
    payoff, transition, q0, degree, initial = _setup(q0, game, degree, initial_state_distribution)
    learner, values = _point_mass(q0, alpha, beta, gamma, rule, policy, epsilon, faq_beta)
    kind, alpha, _, gamma, _, code, faq = values
    grid = time_grid(time)
    n_states, n_actions = q0.shape
    size = n_states * n_actions
    args = (degree, payoff, transition, alpha, gamma, code, faq, game.group_size)

    def rate_at(y, x):
        return full_rate_at(y, x, *args)

    method = "DOP853" if kind == EPSILON_GREEDY and integrator == "LSODA" else integrator
    y, own = _solve_ode(
        rate_at, learner, np.concatenate([q0.ravel(), initial]), grid, method, rtol, atol, n_states, n_actions
    )
    q = y[:, :size].reshape(grid.size, n_states, n_actions)
    state_fraction = y[:, size:]
    attrs = _attrs("full", q0, initial, degree, learner, grid, integrator=method, rtol=rtol, atol=atol)
    return HomogeneousTrajectory(grid, q, own, state_fraction, "full", attrs)


def solve_full_discrete(
    q0,
    game,
    time,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    policy="boltzmann",
    epsilon=None,
    faq_beta=None,
    initial_state_distribution=None,
) -> HomogeneousTrajectory:
    """Full-discrete point-mass theory: the exact expected one-step map, iterated.

    Q_{t+1} = Q_t + μ(Q_t, X(Q_t), p_t, k) (eq. 9), p_{t+1} = p_t λ(Q_t, Q_t) (eq. 12): one simulator
    step per iteration, edge states dynamic, no time-scale separation and no continuum limit. An ε-greedy
    policy needs no switching treatment here: each step uses the greedy action of its start, as the simulator
    does (ties share the greedy mass).

    Parameters
    ----------
    (as :func:`solve_reduced`; ``time`` must hold whole steps.)

    Returns
    -------
    HomogeneousTrajectory
        ``state_fraction`` is p_t.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> result = solve_full_discrete([[0.5, 0.0], [0.0, 0.5]], two_state_pd(), [0, 1, 2], degree=4,
    ...                              alpha=0.01, beta=1.0, gamma=0.8)
    >>> result.q.shape, result.time.tolist()
    ((3, 2, 2), [0.0, 1.0, 2.0])
    """
    payoff, transition, q0, degree, initial = _setup(q0, game, degree, initial_state_distribution)
    learner, values = _point_mass(q0, alpha, beta, gamma, rule, policy, epsilon, faq_beta)
    grid = time_grid(time, integer=True)
    steps = grid.astype(np.int64)
    q, state_fraction = _full_discrete_run(q0, initial, steps, degree, payoff, transition, game.group_size, *values)
    attrs = _attrs("full_discrete", q0, initial, degree, learner, grid)
    return HomogeneousTrajectory(grid, q, learner.type_policy(q), state_fraction, "full_discrete", attrs)


def solve_homogeneous(q0, game, time, *, method="reduced", **parameters) -> HomogeneousTrajectory:
    """One entry point for the three point-mass theories: ``method`` in :data:`METHODS`.

    ``parameters`` are those of :func:`solve_reduced` / :func:`solve_full` / :func:`solve_full_discrete`.
    """
    solvers = {"reduced": solve_reduced, "full": solve_full, "full_discrete": solve_full_discrete}
    if method not in solvers:
        raise ConfigError(f"method = {method!r} must be one of {', '.join(METHODS)}")
    return solvers[method](q0, game, time, **parameters)


#: Evaluations of a right-hand side without getting past the furthest time before an integration is stopped.
STALLED_EVALUATIONS = 10_000


def _integrate(rate, y0, grid, integrator, rtol, atol) -> np.ndarray:
    """Integrate dy/dt = rate(t, y) from t = 0 and return y at the times of ``grid`` (time, dim)."""
    horizon = float(grid[-1])
    if horizon == 0.0:
        return np.repeat(y0[None, :], grid.size, axis=0)
    unique, inverse = np.unique(grid, return_inverse=True)

    furthest, stalled = -np.inf, 0  # the furthest time evaluated, and the evaluations since it last advanced

    def guarded_rate(t, y):
        """``rate``, or a numerical error where the integrator could only grind on: a rate that is not
        finite, or :data:`STALLED_EVALUATIONS` evaluations without getting past the furthest time (LSODA
        retried at t = 0 for ever on payoffs of 1e306)."""
        nonlocal furthest, stalled
        if t > furthest:
            furthest, stalled = t, 0
        else:
            stalled += 1
            if stalled > STALLED_EVALUATIONS:
                raise ConvergenceError(
                    f"solve_ivp ({integrator}) made no progress beyond t = {furthest:g} steps in "
                    f"{STALLED_EVALUATIONS} evaluations (a stiff or overflowing rate: check the payoff scale and alpha)"
                )
        value = rate(t, y)
        if not np.all(np.isfinite(value)):
            raise DivergenceError(f"the point mass's rate is not finite at t = {t:g} steps (Q overflowed)")
        return value

    try:
        solution = solve_ivp(guarded_rate, (0.0, horizon), y0, method=integrator, t_eval=unique, rtol=rtol, atol=atol)
    except ValueError as exc:
        raise ConfigError(f"integrator = {integrator!r}: {exc}") from None
    if not solution.success:
        raise ConvergenceError(f"solve_ivp ({integrator}) failed: {solution.message}")
    return solution.y.T[inverse].copy()
