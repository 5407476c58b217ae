"""A compiled adaptive Runge-Kutta integrator of the reduced point-mass ODE for many initial conditions.

``scipy.integrate.solve_ivp`` (as in :func:`marldyn.theory.homogeneous.solve_reduced`) pays Python overhead
per step; outcome maps and lifetime scans need thousands of trajectories to 1e7-1e8 steps. This is the
Dormand-Prince 5(4) pair (the coefficients of scipy's ``RK45``) with the standard step-size control, written
in numba around the same right-hand side ``reduced_rate`` that ``solve_reduced`` integrates, and hitting
the requested output times exactly. Tested against ``solve_reduced``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ConfigError
from ..theory.homogeneous import reduced_rate

# Dormand-Prince 5(4) tableau.
_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0])
_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1 / 5, 0.0, 0.0, 0.0, 0.0],
        [3 / 40, 9 / 40, 0.0, 0.0, 0.0],
        [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    ]
)
_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84])
_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@njit(cache=True)
def _integrate_one(y0, times, rtol, atol, max_steps, a, b, e, arguments):
    """Integrate dy/dt = μ*(y) from t = 0; y at the sorted ``times`` (time, dim); NaN rows after a failure."""
    n_states, n_actions, degree, payoff, transition, alpha, beta, gamma, rule, faq_beta, initial = arguments
    dim = y0.shape[0]
    out = np.full((times.shape[0], dim), np.nan)
    y = y0.copy()
    stages = np.empty((7, dim))
    stages[0] = reduced_rate(
        y, n_states, n_actions, degree, payoff, transition, alpha, beta, gamma, rule, faq_beta, initial
    )
    t = 0.0
    h = 1.0
    steps = 0
    for index in range(times.shape[0]):
        target = times[index]
        while t < target:
            if steps >= max_steps:
                return out, False
            step = min(h, target - t)
            work = np.empty(dim)
            for stage in range(1, 6):
                for i in range(dim):
                    value = y[i]
                    for j in range(stage):
                        value += step * a[stage, j] * stages[j, i]
                    work[i] = value
                stages[stage] = reduced_rate(
                    work, n_states, n_actions, degree, payoff, transition, alpha, beta, gamma, rule, faq_beta, initial
                )
            proposal = y.copy()
            for i in range(dim):
                for j in range(6):
                    proposal[i] += step * b[j] * stages[j, i]
            stages[6] = reduced_rate(
                proposal, n_states, n_actions, degree, payoff, transition, alpha, beta, gamma, rule, faq_beta, initial
            )
            norm = 0.0
            for i in range(dim):
                error = 0.0
                for j in range(7):
                    error += step * e[j] * stages[j, i]
                tolerance = atol + rtol * max(abs(y[i]), abs(proposal[i]))
                norm += (error / tolerance) ** 2
            norm = np.sqrt(norm / dim)
            steps += 1
            if not np.isfinite(norm):
                return out, False
            if norm <= 1.0:
                t = target if step == target - t else t + step
                y = proposal
                stages[0] = stages[6]
                factor = 10.0 if norm == 0.0 else min(10.0, 0.9 * norm**-0.2)
                if step == h:
                    h = step * factor
            else:
                h = step * max(0.2, 0.9 * norm**-0.2)
        out[index] = y
    return out, True


@njit(cache=True)
def _integrate_batch(y0, times, rtol, atol, max_steps, a, b, e, arguments):
    count, dim = y0.shape
    out = np.empty((count, times.shape[0], dim))
    ok = np.empty(count, dtype=np.bool_)
    for n in range(count):
        out[n], ok[n] = _integrate_one(y0[n], times, rtol, atol, max_steps, a, b, e, arguments)
    return out, ok


def integrate_reduced(q0, dynamics, times, *, rtol=1e-7, atol=1e-9, max_steps=10_000_000) -> np.ndarray:
    """Q(t) of the reduced point-mass theory for a batch of initial conditions (compiled Dormand-Prince 5(4)).

    Parameters
    ----------
    q0 : array_like, shape (..., state, action)
        Initial Q-values.
    dynamics : PointMassDynamics
    times : array_like, shape (time,)
        Output times in steps, non-negative and non-decreasing.
    rtol, atol : float
        Tolerances of the step-size control.
    max_steps : int
        Steps allowed per trajectory; a trajectory that needs more (or overflows) is NaN from then on.

    Returns
    -------
    ndarray, shape (..., time, state, action)

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, integrate_reduced
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> q = integrate_reduced([[0.5, 0.0], [0.0, 0.5]], dynamics, [0, 2e4, 1e7])  # the paper's initial Q
    >>> q.shape  # (time, state, action)
    (3, 2, 2)
    >>> q[1].round(1)  # near-full cooperation at 2e4 steps, D far below C
    array([[16.9,  2.2],
           [13.1,  4.9]])
    >>> q[2].round(1)  # 1e7 steps: D has caught up in s2
    array([[16.8,  2.2],
           [12.1, 11.2]])
    >>> integrate_reduced(np.zeros((5, 2, 2)), dynamics, [0, 1e3, 1e4]).shape  # a batch of 5 starts
    (5, 3, 2, 2)
    """
    q0 = np.asarray(q0, dtype=np.float64)
    shape = dynamics.shape
    if q0.shape[-2:] != shape or not np.all(np.isfinite(q0)):
        raise ConfigError(f"initial Q must be finite with shape (..., state, action) = (..., {shape[0]}, {shape[1]})")
    grid = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if grid.ndim != 1 or np.any(grid < 0) or np.any(np.diff(grid) < 0) or not np.all(np.isfinite(grid)):
        raise ConfigError("times must be finite, non-negative and non-decreasing (steps)")
    batch = q0.shape[:-2]
    flat = np.ascontiguousarray(q0.reshape(-1, shape[0] * shape[1]))
    out, _ = _integrate_batch(
        flat, grid, float(rtol), float(atol), int(max_steps), _A, _B, _E, dynamics.numba_arguments()
    )
    return out.reshape(batch + (grid.size,) + shape)
