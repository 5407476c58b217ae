"""SDE ensembles of eq. (5): interacting particles with drift μ and the exact one-step diffusion Σ.

Each ensemble member (``run``) is a population of P particles — by default one per agent, with the
agents' degrees and the simulator's initial draws — coupled by the pair approximation at stationary
pair distributions (as in :mod:`marldyn.theory.particles`, ``reduced``). Every particle follows

    Q_p(t + dt) = Q_p(t) + μ_p dt + sqrt(dt) Σ_p^{1/2} ξ,   ξ ~ N(0, I)          (Euler–Maruyama)

with μ_p (eq. 9) and Σ_p (eq. 5, :func:`marldyn.theory.moments.diffusion`) evaluated for particle p's
own neighbourhood marginals. With dt = 1 step the increments have exactly the first two moments of one
simulator step (given the stationary edge states); larger dt trades accuracy for speed.

The spread of Q across particles is comparable to the simulator's ``q_std`` and the spread across
members to its run-to-run variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..policy import boltzmann
from .graph_sde import agent_moments
from .moments import _game_arrays, _rule_code
from .particles import _reduced_rate, neighbor_weights


@dataclass(frozen=True, eq=False)
class EnsembleTrajectory:
    """An SDE ensemble on a time grid.

    Attributes
    ----------
    time : ndarray, shape (time,)
        Times in simulator steps.
    q, policy, q_std : ndarray, shape (run, time, state, action)
        Per member: particle mean of Q and of X, and the across-particle standard deviation of Q.
    state_fraction : ndarray, shape (run, time, state)
        Per member: fraction of edges in each state (stationary pair distributions).
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    state_fraction: np.ndarray


def matrix_square_root(covariance: np.ndarray) -> np.ndarray:
    """Symmetric square root of (batches of) positive semi-definite matrices; tiny negative eigenvalues → 0."""
    values, vectors = np.linalg.eigh(covariance)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]) @ np.swapaxes(vectors, -1, -2)


def solve_sde(
    q0,
    game,
    time,
    *,
    degree,
    alpha,
    beta,
    gamma,
    rule="q_learning",
    dt=1.0,
    seed=0,
    initial_state_distribution=None,
    progress=None,
) -> EnsembleTrajectory:
    """Euler–Maruyama ensemble of interacting particles (eq. 5 with the pair approximation).

    Parameters
    ----------
    q0 : array_like, shape (run, particle, state, action)
        Initial Q of every particle of every member.
    game : Game
    time : array_like of int, shape (time,)
        Output times in simulator steps (from 0, increasing).
    degree : array_like of int, shape (particle,)
        k_p of every particle (the same in every member).
    alpha, beta, gamma : float
    rule : str or int
    dt : float
        Time step in simulator steps (> 0); steps are shortened to land on the output times.
    seed : int or numpy.random.SeedSequence
        Member r draws its noise from ``SeedSequence(seed).spawn(runs)[r]``.
    initial_state_distribution : array_like, shape (state,), optional
        Only for reducible pair chains (see :func:`marldyn.theory.markov.stationary_distribution`).
    progress : bool, optional
        Progress bar (default: on a terminal).
    """
    payoff, transition = _game_arrays(game)
    q = np.array(q0, dtype=np.float64)
    if q.ndim != 4 or q.shape[2:] != payoff.shape[:2] or not np.all(np.isfinite(q)):
        raise ConfigError("q0 must be finite with shape (run, particle, state, action)")
    n_runs, n_particles, n_states, n_actions = q.shape
    degree = np.asarray(degree, dtype=np.int64).reshape(-1)
    if degree.shape != (n_particles,):
        raise ConfigError(f"degree must hold one integer per particle ({n_particles})")
    if not dt > 0:
        raise ConfigError(f"dt = {dt!r} must be positive (in simulator steps)")
    grid = np.asarray(time, dtype=np.float64)
    if grid.ndim != 1 or grid[0] < 0 or np.any(np.diff(grid) <= 0):
        raise ConfigError("time must be increasing, from 0, in simulator steps")
    weight = np.full(n_particles, 1.0 / n_particles)
    neighbor_weight = neighbor_weights(degree, weight)
    initial = (
        np.full(n_states, 1.0 / n_states)
        if initial_state_distribution is None
        else np.asarray(initial_state_distribution, dtype=np.float64)
    )
    parameters = (payoff, transition, float(alpha), float(beta), float(gamma), _rule_code(rule))
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    generators = [np.random.default_rng(s) for s in root.spawn(n_runs)]
    size = n_states * n_actions
    records = {name: [] for name in ("q", "policy", "q_std", "state_fraction")}

    def coupled(current):
        rates, distributions, neighbor_policies = zip(
            *(_reduced_rate(current[r], neighbor_weight, degree, *parameters, initial) for r in range(n_runs)),
            strict=True,
        )
        return np.stack(rates), np.stack(distributions), np.stack(neighbor_policies)

    def record(current, distribution):
        mean = current.mean(axis=1)
        records["q"].append(mean)
        records["q_std"].append(current.std(axis=1))
        records["policy"].append(boltzmann(current, beta).mean(axis=1))
        records["state_fraction"].append(np.einsum("p,rps->rs", neighbor_weight, distribution))

    now = 0.0
    with tqdm(
        total=float(grid[-1]), unit="step", desc="sde", disable=None if progress is None else not progress
    ) as bar:
        for target in grid:
            while now < target:
                step = min(dt, target - now)
                rate, distribution, neighbor_policy = coupled(q)
                _, sigma = agent_moments(  # numba twin of moments.diffusion (equal to 1e-12)
                    q, neighbor_policy, distribution, degree, game, alpha=alpha, beta=beta, gamma=gamma, rule=rule
                )
                root = matrix_square_root(sigma)
                noise = np.stack([g.standard_normal((n_particles, size)) for g in generators])
                kick = np.einsum("rpij,rpj->rpi", root, noise).reshape(q.shape)
                q = q + rate * step + np.sqrt(step) * kick
                now += step
                bar.update(step)
            _, distribution, _ = coupled(q)
            record(q, distribution)
    stacked = {name: np.stack(values, axis=1) for name, values in records.items()}
    return EnsembleTrajectory(grid, stacked["q"], stacked["policy"], stacked["q_std"], stacked["state_fraction"])
