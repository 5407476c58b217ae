"""ε-greedy's discontinuous drift: integration across switching surfaces, with Filippov sliding.

Under an ε-greedy policy X(s, a) = ε / M + (1 - ε) 1[a = g(s)], the greedy action g(s) = argmax_a Q(s, a) is a
step function of Q: the drift of every ODE theory jumps where two actions of a state tie (a *switching
surface*, Q(s, a) = Q(s, b)). An adaptive solver that meets such a jump shrinks its step until it gives up, or
grinds along the surface when both sides push towards it. This module integrates such systems properly
(Filippov 1988; for ε-greedy Q-learning, Gomes & Kowalczyk, ICML 2009, and Wunder et al., ICML 2010):

- **Regions.** Between surfaces every *unit* (a state of a point mass, a (particle, state) pair of the
  particles) has one greedy action, the policy is constant, and the field f(y; g) is smooth; it is integrated
  with ``scipy.integrate.solve_ivp`` and one event function, the largest gap Q(s, b) - Q(s, g(s)) over all
  units and actions b ≠ g(s), which reaches 0 where the first tie happens.
- **Crossing.** At a tie of b with g in a unit, the gap's rate under both sides' fields decides:
  r_g = d(Q_b - Q_g)/dt under g (≥ 0, it got here) and r_b under b greedy. If r_b > 0 the trajectory crosses
  and b becomes greedy.
- **Sliding.** If r_b ≤ 0 < r_g both sides push towards the surface: the unit slides on it with Filippov's
  field (1 - λ) f(y; g) + λ f(y; b), λ = r_g / (r_g - r_b), the convex combination that keeps the tie (λ: the
  fraction of time the greedy action is b while it flips back and forth). With several units sliding at once
  the field is the multilinear combination of the 2^m corner fields (each unit flips on its own), with every
  tie kept (Newton on λ). A unit stops sliding where one side clearly pushes away from the surface (into g's
  region, or b's); where the sliding flow only runs into λ = 0 or 1 (a pseudo-equilibrium on the surface) it
  stays. The recorded policy of a sliding unit is (1 - λ) X_g + λ X_b, the agents' time-average play.
- **Ties at t = 0.** A unit that starts tied is put in the one region whose field moves away from the tie, or
  slides; if both regions are self-consistent the deterministic theory cannot choose (the simulator's noise
  would) and :class:`~marldyn.errors.ConfigError` says so.

Fixed-step methods (``full-discrete``, the particles' ``full`` map, the SDE ensembles) step across the surfaces
the way the simulator does and need none of this.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import ConfigError, ConvergenceError, DivergenceError

__all__ = [
    "MAX_EVENTS",
    "MAX_REGIONS",
    "greedy_fixed_points",
    "integrate_switching",
    "region_fixed_point",
    "region_policy",
    "region_td_error",
    "tie_tolerance",
]

MAX_EVENTS = 20_000
"""Switching events (crossings, starts and ends of sliding) before an integration is stopped as chattering."""
STUCK_EVENTS = 100
"""Consecutive switching events without time advancing before an integration is stopped."""
PUSH = 1e-4
"""A side pushes away from a surface when its gap rate exceeds PUSH times the larger of the two sides' rates."""
TIE = 1e-10
"""Gaps abs(Q(s, a) - Q(s, b)) below TIE (relative to the Q scale, plus TIE absolute) count as ties."""


def region_policy(choice: np.ndarray, epsilon, n_actions: int, mixture: dict | None = None) -> np.ndarray:
    """ε-greedy rows with given greedy actions: X(u, a) = ε_u / M + (1 - ε_u) 1[a = choice_u], shape (unit, M).

    ``mixture`` maps a sliding unit u to ``(b, λ)``: its row is then (1 - λ) X_choice + λ X_b.

    Examples
    --------
    >>> region_policy(np.array([0, 1]), 0.2, 2, {1: (0, 0.25)})
    array([[0.9, 0.1],
           [0.3, 0.7]])
    """
    epsilon = np.broadcast_to(np.asarray(epsilon, dtype=np.float64), choice.shape)
    rows = np.repeat((epsilon / n_actions)[:, None], n_actions, axis=1)
    rows[np.arange(choice.size), choice] += 1.0 - epsilon
    for unit, (other, weight) in (mixture or {}).items():
        greedy_mass = 1.0 - epsilon[unit]
        rows[unit, choice[unit]] -= weight * greedy_mass
        rows[unit, other] += weight * greedy_mass
    return rows


class _Mode:
    """The discrete state of the integration: each unit's greedy action and the units that slide."""

    def __init__(self, choice: np.ndarray):
        self.choice = choice.copy()  # (unit,) greedy action of every ε-greedy unit
        self.sliding: dict[int, int] = {}  # unit -> the other action b of its tie (choice[unit] is a)


def integrate_switching(
    field: Callable[[np.ndarray, np.ndarray], np.ndarray],
    policy: Callable[[np.ndarray, np.ndarray, dict], np.ndarray],
    q_view: Callable[[np.ndarray], np.ndarray],
    greedy_units: np.ndarray,
    y0: np.ndarray,
    grid: np.ndarray,
    *,
    method: str = "DOP853",
    rtol: float = 1e-8,
    atol: float = 1e-10,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate dy/dt = f(y; g) with ε-greedy units whose greedy actions g switch (module docstring).

    Parameters
    ----------
    field : callable
        ``field(y, X)`` → dy/dt (dim,) for the policy table X (what ``policy`` returns).
    policy : callable
        ``policy(y, choice, mixture)`` → X: every unit's policy with greedy actions ``choice`` (unit,) for the
        ε-greedy units (other units: their own smooth or fixed policy); ``mixture`` maps a sliding unit to
        ``(b, λ)`` for the recorded time-average policy (empty for the fields).
    q_view : callable
        ``q_view(y)`` → Q of the units, shape (unit, action) (a view into y).
    greedy_units : ndarray of bool, shape (unit,)
        Which units are ε-greedy (the others never switch).
    y0 : ndarray, shape (dim,)
    grid : ndarray, shape (time,)
        Output times, non-decreasing, from 0.
    method, rtol, atol
        The ``solve_ivp`` integrator and its tolerances within regions.

    Returns
    -------
    y : ndarray, shape (time, dim)
    policy : ndarray, shape (time, ...)
        The recorded policy at every output time (sliding units: the Filippov mixture).

    Raises
    ------
    ConfigError
        Ties at t = 0 that the deterministic theory cannot resolve.
    ConvergenceError
        Sliding mixtures that do not converge, or more than :data:`MAX_EVENTS` switching events.

    Examples
    --------
    One ε-greedy unit with two actions whose drift pushes both values towards 1 - 2 X(a): each side pushes the
    gap Q_1 - Q_0 towards the other, so the trajectory slides on Q_0 = Q_1 with the mixture X = (1/2, 1/2).

    >>> import numpy as np
    >>> def policy(y, choice, mixture):
    ...     return region_policy(choice, 0.0, 2, mixture)
    >>> def field(y, x):
    ...     return (1.0 - 2.0 * x).ravel()  # dQ_a/dt = 1 - 2 X(a)
    >>> y, x = integrate_switching(field, policy, lambda y: y.reshape(1, 2), np.array([True]),
    ...                            np.array([1.0, 0.0]), np.array([0.0, 2.0]))
    >>> y[-1].round(6), x[-1].round(6)  # tied after t = 0.5, then both grow at rate 0
    (array([0.5, 0.5]), array([[0.5, 0.5]]))
    """
    y = np.array(y0, dtype=np.float64)
    units = np.flatnonzero(greedy_units)
    mode = _Mode(np.argmax(q_view(y), axis=1))
    _start(field, policy, q_view, units, y, mode)
    unique, inverse = np.unique(grid, return_inverse=True)
    states = np.empty((unique.size, y.size))
    policies: list = [None] * unique.size
    filled = 0
    t, horizon, events, stuck = 0.0, float(unique[-1]), 0, 0
    while filled < unique.size and unique[filled] <= t:  # outputs at t = 0
        states[filled], policies[filled] = y, _recorded_policy(field, policy, q_view, y, mode)
        filled += 1
    while t < horizon and filled < unique.size:
        rate, event_functions = _system(field, policy, q_view, units, mode)
        solution = solve_ivp(
            rate,
            (t, horizon),
            y,
            method=method,
            t_eval=unique[filled:],
            events=event_functions,
            rtol=rtol,
            atol=atol,
        )
        if solution.status == -1:
            raise ConvergenceError(f"solve_ivp ({method}) failed at t = {t:g} steps: {solution.message}")
        reached = np.asarray(solution.y).reshape(y.size, -1)
        for k in range(np.asarray(solution.t).size):
            states[filled] = reached[:, k]
            policies[filled] = _recorded_policy(field, policy, q_view, reached[:, k], mode)
            filled += 1
        if solution.status == 0:
            break
        t_event, y = _first_event(solution)
        stuck = stuck + 1 if t_event - t <= 1e-12 * (1.0 + t) else 0
        if stuck > STUCK_EVENTS:
            raise ConvergenceError(
                f"ε-greedy: {STUCK_EVENTS} switching events at t = {t_event:g} steps without time advancing "
                "(a Zeno point of the switching); use a fixed-step method (full-discrete, sde) for this case"
            )
        if not np.all(np.isfinite(y)):
            raise DivergenceError(f"the ε-greedy point mass left the finite numbers at t = {t_event:g} steps")
        events += 1
        if events > MAX_EVENTS:
            raise ConvergenceError(
                f"ε-greedy: {MAX_EVENTS} switching events by t = {t_event:g} steps (the greedy actions chatter); "
                "use a fixed-step method (full-discrete, sde) for this case"
            )
        _handle_events(field, policy, q_view, units, y, mode)
        t = t_event
    while filled < unique.size:  # a horizon reached exactly at an event
        states[filled], policies[filled] = y, _recorded_policy(field, policy, q_view, y, mode)
        filled += 1
    return states[inverse], np.stack(policies)[inverse]


# ----------------------------------------------------------------------------------------------
# the field of a mode: one region, or Filippov sliding on the surfaces of the sliding units
# ----------------------------------------------------------------------------------------------
SLIDING_ITERATIONS = 50
"""Newton iterations of the λ of several sliding units before the solve is given up."""


def _corner_fields(field, policy, q_view, y, mode: _Mode):
    """The 2^m fields with every sliding unit at one side, their 0/1 patterns (corner, unit) and the gap rates
    d(Q_b - Q_a)/dt of every sliding unit under each (corner, unit)."""
    units = list(mode.sliding)
    fields, patterns, gaps = [], [], []
    for pattern in itertools.product((0, 1), repeat=len(units)):
        choice = mode.choice.copy()
        for unit, bit in zip(units, pattern, strict=True):
            if bit:
                choice[unit] = mode.sliding[unit]
        rates = field(y, policy(y, choice, {}))
        dq = q_view(rates)
        fields.append(rates)
        patterns.append(pattern)
        gaps.append([dq[u, mode.sliding[u]] - dq[u, mode.choice[u]] for u in units])
    return np.array(fields), np.array(patterns, dtype=np.float64), np.array(gaps)


def _corner_weights(patterns: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Π_u (λ_u if the corner has b in unit u, else 1 - λ_u), per corner."""
    return np.prod(np.where(patterns == 1.0, weight, 1.0 - weight), axis=1)


def _sliding_weights(field, policy, q_view, y, mode: _Mode):
    """λ of every sliding unit (the Filippov weights that keep all ties, in [0, 1]) and the corner data."""
    fields, patterns, gaps = _corner_fields(field, policy, q_view, y, mode)
    m = patterns.shape[1]
    if m == 1:
        g_a, g_b = gaps[0, 0], gaps[1, 0]
        weight = np.array([g_a / (g_a - g_b) if g_a != g_b else 0.5])
    else:  # multilinear in λ: Newton with the exact Jacobian
        weight = np.full(m, 0.5)
        for _ in range(SLIDING_ITERATIONS):
            residual = _corner_weights(patterns, weight) @ gaps
            jacobian = np.empty((m, m))
            for v in range(m):
                others = np.delete(np.where(patterns == 1.0, weight, 1.0 - weight), v, axis=1).prod(axis=1)
                jacobian[:, v] = (np.where(patterns[:, v] == 1.0, 1.0, -1.0) * others) @ gaps
            try:
                step = np.linalg.solve(jacobian, residual)
            except np.linalg.LinAlgError:
                break
            weight = weight - step
            if np.max(np.abs(step)) < 1e-14:
                break
    return np.clip(weight, 0.0, 1.0), (fields, patterns, gaps)


def _rate_of_mode(field, policy, q_view, y, mode: _Mode) -> np.ndarray:
    if not mode.sliding:
        return field(y, policy(y, mode.choice, {}))
    weight, (fields, patterns, _) = _sliding_weights(field, policy, q_view, y, mode)
    rates = _corner_weights(patterns, weight) @ fields
    dq = q_view(rates)
    for u, b in mode.sliding.items():  # tangent to the surface: the tie is kept exactly (the weights keep it up to
        a = mode.choice[u]  # round-off; at a bound of λ, where the pushes vanish, this takes up the rest)
        dq[u, a] = dq[u, b] = 0.5 * (dq[u, a] + dq[u, b])
    return rates


def _system(field, policy, q_view, units, mode: _Mode):
    """The rate of the current mode and its two event functions (a new tie; a side of a sliding unit's surface
    starting to push away, :func:`_push_margins`)."""

    def rate(_, y):
        return _rate_of_mode(field, policy, q_view, y, mode)

    free = np.array([u for u in units if u not in mode.sliding], dtype=np.int64)

    def new_tie(_, y):
        if free.size == 0:
            return -1.0
        q = q_view(y)[free]
        greedy = q[np.arange(free.size), mode.choice[free]]
        gap = q - greedy[:, None]
        gap[np.arange(free.size), mode.choice[free]] = -np.inf
        return float(np.max(gap))

    new_tie.terminal, new_tie.direction = True, 1.0

    def sliding_ends(_, y):
        if not mode.sliding:
            return 1.0
        return float(np.min(_push_margins(field, policy, q_view, y, mode)))

    sliding_ends.terminal, sliding_ends.direction = True, -1.0
    return rate, [new_tie, sliding_ends]


def _push_margins(field, policy, q_view, y, mode: _Mode, both: bool = False) -> np.ndarray:
    """How much each sliding unit's two sides still push towards its surface: (r_g + p, p - r_b), r the unit's gap
    rates with itself at one side (the others at their weights) and p = PUSH max(|r_g|, |r_b|). A margin at or
    below 0 means that side pushes away clearly; where the sliding flow only runs into λ = 0 or 1 (r ≈ 0) the unit
    keeps sliding. Shape (unit, 2), or its row minimum."""
    weight, (_, patterns, gaps) = _sliding_weights(field, policy, q_view, y, mode)
    margins = np.empty((weight.size, 2))
    for k in range(weight.size):
        sides = []
        for bound in (0.0, 1.0):
            trial = weight.copy()
            trial[k] = bound
            sides.append(float(_corner_weights(patterns, trial) @ gaps[:, k]))
        at_g, at_b = sides
        push = PUSH * max(abs(at_g), abs(at_b))
        margins[k] = (at_g + push, push - at_b)
    return margins if both else margins.min(axis=1)


def _first_event(solution) -> tuple[float, np.ndarray]:
    times = [(events[0], k) for k, events in enumerate(solution.t_events) if events.size]
    t_event, k = min(times)
    return float(t_event), np.array(solution.y_events[k][0], dtype=np.float64)


def tie_tolerance(q: np.ndarray) -> float:
    """The gap below which two Q-values tie: :data:`TIE` relative to the Q scale, plus :data:`TIE` absolute.

    Examples
    --------
    >>> tie_tolerance(np.array([[9.0, 0.0]]))
    1e-09
    """
    return TIE * (1.0 + float(np.max(np.abs(q))))


def _handle_events(field, policy, q_view, units, y, mode: _Mode) -> None:
    """At an event: end the sliding of units one of whose sides pushes away, then cross or slide at new ties."""
    released = set()
    if mode.sliding:
        margins = _push_margins(field, policy, q_view, y, mode, both=True)
        for k, u in enumerate(list(mode.sliding)):
            if margins[k, 0] <= 0.0:  # the g side pushes away: into g's region
                del mode.sliding[u]
                released.add(u)
            elif margins[k, 1] <= 0.0:  # the b side pushes away: into b's region
                mode.choice[u] = mode.sliding.pop(u)
                released.add(u)
    q = q_view(y)
    tolerance = tie_tolerance(q)
    for u in units:
        if u in mode.sliding or u in released:  # a released unit leaves its surface: no new tie there yet
            continue
        a = mode.choice[u]
        tied = [b for b in range(q.shape[1]) if b != a and q[u, b] >= q[u, a] - tolerance]
        for b in tied:
            _resolve_tie(field, policy, q_view, y, mode, u, a, b)
            break
    for u in mode.sliding:  # back onto the surface exactly (the integrator's error moves it off by ~rtol)
        a, b = mode.choice[u], mode.sliding[u]
        q[u, a] = q[u, b] = 0.5 * (q[u, a] + q[u, b])


def _unit_gap_rate(field, policy, q_view, y, mode: _Mode, u, a, b, choose) -> float:
    """d(Q_b - Q_a)/dt in unit u with ``choose`` greedy there (the other units as they are)."""
    choice = mode.choice.copy()
    choice[u] = choose
    if mode.sliding:  # with other units sliding: their Filippov field, evaluated with this unit fixed
        trial = _Mode(choice)
        trial.sliding = {v: w for v, w in mode.sliding.items() if v != u}
        rates = _rate_of_mode(field, policy, q_view, y, trial)
    else:
        rates = field(y, policy(y, choice, {}))
    dq = q_view(rates)
    return float(dq[u, b] - dq[u, a])


def _resolve_tie(field, policy, q_view, y, mode: _Mode, u, a, b) -> None:
    """Unit u has reached the tie of its greedy a with b: cross, slide or graze (module docstring)."""
    rate_a = _unit_gap_rate(field, policy, q_view, y, mode, u, a, b, a)
    rate_b = _unit_gap_rate(field, policy, q_view, y, mode, u, a, b, b)
    if rate_b > 0.0:
        mode.choice[u] = b
    elif rate_a > 0.0:
        mode.sliding[u] = b
    # else: grazing (the g field turns back): stay


def _start(field, policy, q_view, units, y, mode: _Mode) -> None:
    """Greedy actions of the units that start tied: the self-consistent region, or sliding."""
    q = q_view(y)
    tolerance = tie_tolerance(q)
    for u in units:
        tied = np.flatnonzero(q[u] >= q[u].max() - tolerance)
        if tied.size < 2:
            continue
        consistent = []
        for c in tied:
            mode.choice[u] = c
            rates = q_view(field(y, policy(y, mode.choice, {})))
            if all(rates[u, c] - rates[u, b] > 0.0 for b in tied if b != c):
                consistent.append(int(c))
        if len(consistent) == 1:
            mode.choice[u] = consistent[0]
        elif len(consistent) > 1:
            raise ConfigError(
                f"ε-greedy: the initial Q ties actions {tied.tolist()} in unit {u} (a state), and the drift moves "
                "away from the tie on every side: the deterministic theory cannot choose (the simulator's noise "
                "does). Give an initial Q without ties (init.q), or use full-discrete (whose steps share the "
                "greedy mass at ties, as the simulator does), sde, or Particles(timescale='full') with q_noise"
            )
        elif tied.size == 2:
            a, b = int(tied[0]), int(tied[1])
            mode.choice[u] = a
            mode.sliding[u] = b
        else:
            raise ConfigError(
                f"ε-greedy: the initial Q ties {tied.size} actions {tied.tolist()} in unit {u} and the drift keeps "
                "them tied: sliding on a surface of more than two actions is not supported; give an initial Q "
                "without ties (init.q)"
            )


def _recorded_policy(field, policy, q_view, y, mode: _Mode) -> np.ndarray:
    """The policy recorded at y: the region's, with the Filippov mixture (1 - λ) X_g + λ X_b where units slide."""
    if not mode.sliding:
        return policy(y, mode.choice, {})
    weight, _ = _sliding_weights(field, policy, q_view, y, mode)
    return policy(y, mode.choice, {u: (b, float(w)) for (u, b), w in zip(mode.sliding.items(), weight, strict=True)})


# ----------------------------------------------------------------------------------------------
# equilibria inside the regions: δ̄ is affine in Q where the greedy actions are fixed
# ----------------------------------------------------------------------------------------------
MAX_REGIONS = 4096
"""Largest number of greedy-action patterns M^K that :func:`greedy_fixed_points` enumerates."""


def region_td_error(game, choice, epsilon: float, gamma: float, rule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """δ̄(Q) of the ε-greedy point mass inside one region, as the affine map δ̄ = A vec(Q) + b (eq. 7).

    With the greedy actions g(s) = ``choice[s]`` fixed, the policy X (own and neighbour's, the point mass meets
    itself) is constant, and every rule's TD target is linear in Q: Q-learning's (and FAQ's) max Q(z, ·) is
    Q(z, g(z)), expected SARSA's Σ_c X(z, c) Q(z, c), SARSA's the own draw's Q(z, a(z)). So δ̄ is affine in
    Q; A and b are read off the one-step core (:func:`marldyn.theory.one_step.td_moments_batch`) at Q = 0 and
    at the unit tables, exactly (to rounding) since the map is affine.

    Parameters
    ----------
    game : Game
    choice : array_like of int, shape (state,)
        g(s).
    epsilon, gamma : float
    rule : str or int

    Returns
    -------
    matrix : ndarray, shape (K M, K M)
        A = ∂δ̄/∂Q (per payoff unit of Q; row-major (state, action) order).
    offset : ndarray, shape (K M,)
        b = δ̄(0), payoff units.
    policy : ndarray, shape (state, action)
        The region's X.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> matrix, offset, policy = region_td_error(two_state_pd(), [1, 1], 0.1, 0.8, "q_learning")
    >>> matrix.shape, policy.round(2).tolist()
    ((4, 4), [[0.05, 0.95], [0.05, 0.95]])
    """
    from ..learning import EXPECTED_SARSA, SARSA, rule_code
    from .one_step import td_moments_batch

    payoff, transition = game.arrays()
    n_states, n_actions = payoff.shape[:2]
    choice = np.asarray(choice, dtype=np.int64)
    policy = region_policy(choice, float(epsilon), n_actions)
    code = rule_code(rule)
    if code in (SARSA, EXPECTED_SARSA):
        own, core_rule = policy, code
    else:  # the max is the greedy action's value: expected SARSA's target with the greedy indicator as "policy"
        own, core_rule = region_policy(choice, 0.0, n_actions), EXPECTED_SARSA
    size = n_states * n_actions
    tables = np.concatenate([np.zeros((1, size)), np.eye(size)]).reshape(size + 1, n_states, n_actions)
    mean, _ = td_moments_batch(
        tables,
        np.broadcast_to(own, tables.shape).copy(),
        np.broadcast_to(policy, tables.shape).copy(),
        payoff,
        transition,
        float(gamma),
        core_rule,
    )
    mean = mean.reshape(size + 1, size)
    return (mean[1:] - mean[0]).T.copy(), mean[0].copy(), policy


def region_fixed_point(game, choice, epsilon: float, gamma: float, rule) -> np.ndarray | None:
    """The zero of δ̄ in the region of greedy actions ``choice``, if it lies strictly inside that region.

    Solves A vec(Q) = -b (:func:`region_td_error`) and keeps the solution only if ``choice[s]`` is its unique
    maximiser in every state by more than :data:`TIE` (a solution on or beyond a surface is not an equilibrium
    of this region). Where X > 0 (ε > 0) and every state is reachable, the zeros of δ̄ are the zeros of the
    point-mass drift μ* = α π_s X c δ̄ (eq. 9).

    Returns
    -------
    ndarray, shape (state, action), or None

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> q = region_fixed_point(two_state_pd(), [1, 1], 0.1, 0.8, "q_learning")  # everyone defects greedily
    >>> q.round(3)
    array([[ 0.146,  0.642],
           [-0.044,  0.452]])
    >>> region_fixed_point(two_state_pd(), [1, 0], 0.1, 0.8, "q_learning") is None  # not self-consistent
    True
    """
    matrix, offset, _ = region_td_error(game, choice, epsilon, gamma, rule)
    try:
        q = np.linalg.solve(matrix, -offset)
    except np.linalg.LinAlgError:
        return None
    q = q.reshape(game.n_states, game.n_actions)
    if not np.all(np.isfinite(q)):
        return None
    choice = np.asarray(choice, dtype=np.int64)
    rows = np.arange(q.shape[0])
    best = q[rows, choice]
    others = q.copy()
    others[rows, choice] = -np.inf
    margin = tie_tolerance(q)
    return q if np.all(best - others.max(axis=1) > margin) else None


def greedy_fixed_points(game, epsilon: float, gamma: float, rule) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every equilibrium of the ε-greedy point mass inside a region: the self-consistent :func:`region_fixed_point`
    of each of the M^K greedy-action patterns (exact, no search).

    Equilibria *on* a switching surface (pseudo-equilibria of the sliding flow, where the Filippov field
    vanishes) are not among them; :func:`integrate_switching` finds the trajectories that end there.

    Parameters
    ----------
    game : Game
    epsilon : float
        0 < ε <= 1. At ε = 0 the non-greedy actions are never played, their Q-values never move, and the
        equilibria are not isolated.
    gamma : float
    rule : str or int

    Returns
    -------
    list of (choice, q)
        The greedy actions (state,) and Q* (state, action) of each region that has one.

    Raises
    ------
    ConfigError
        ε = 0, or more than :data:`MAX_REGIONS` patterns.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> [choice.tolist() for choice, _ in greedy_fixed_points(two_state_pd(), 0.1, 0.8, "q_learning")]
    [[0, 0], [0, 1], [1, 1]]
    >>> [choice.tolist() for choice, _ in greedy_fixed_points(two_state_pd(), 1.0, 0.8, "q_learning")]  # uniform
    [[1, 1]]
    """
    epsilon = float(epsilon)
    if not 0.0 < epsilon <= 1.0:
        raise ConfigError(
            f"epsilon = {epsilon}: the ε-greedy fixed points need ε > 0 (at ε = 0 the actions that are never "
            "played keep their Q-values, so fixed points are not isolated)"
        )
    n_states, n_actions = game.n_states, game.n_actions
    if n_actions**n_states > MAX_REGIONS:
        raise ConfigError(f"{n_actions}^{n_states} greedy-action patterns: more than {MAX_REGIONS} to enumerate")
    found = []
    for choice in itertools.product(range(n_actions), repeat=n_states):
        q = region_fixed_point(game, choice, epsilon, gamma, rule)
        if q is not None:
            found.append((np.array(choice, dtype=np.int64), q))
    return found
