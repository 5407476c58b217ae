"""SDE ensembles of eq. (5): interacting particles with drift μ and the exact one-step diffusion Σ.

Each ensemble member (``run``) is a population of P particles — by default one per agent, with the
agents' degrees and the simulator's initial draws — coupled by the pair approximation at stationary
pair distributions (as in :mod:`marldyn.theory.particles`, ``reduced``). Every particle follows

    Q_p(t + dt) = Q_p(t) + μ_p dt + sqrt(dt) L_p ξ,   L_p L_pᵀ = Σ_p,   ξ ~ N(0, I)      (Euler–Maruyama)

with μ_p (eq. 9) and Σ_p (eq. 5, :func:`marldyn.theory.moments.diffusion`) evaluated for particle p's
own neighbourhood marginals. One compiled step advances a member (a large ensemble: all members, in
parallel over members), with the per-agent step of :mod:`marldyn.theory.euler_maruyama` (Cholesky factor,
counter-based normals). With dt = 1 step the increments have exactly the first two moments of one
simulator step (given the stationary edge states); larger dt trades accuracy for speed.

The spread of Q across particles is comparable to the simulator's ``q_std`` and the spread across
members to its run-to-run variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from ..agents import TYPE_RECORDS, learners_of, member_policies, type_records
from ..errors import ConfigError, DivergenceError
from ..progress import progress_bar
from ..simulation.counter_rng import run_key
from .euler_maruyama import agent_step, normal_pairs_per_agent
from .one_step import workspace
from .particles import group_marginals, neighbor_weights, stationary_marginals_serial


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
    policy_by_type, q_by_type : ndarray, shape (run, time, type, state, action), optional
        With agent types: per member, the means over each type's particles.
    """

    time: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    q_std: np.ndarray
    state_fraction: np.ndarray
    policy_by_type: np.ndarray | None = None
    q_by_type: np.ndarray | None = None


@njit(cache=True)
def _marginals(policy, neighbor_weight, transition, initial, group_size):
    """The stationary marginals of one member: pairs (:func:`~marldyn.theory.particles.stationary_marginals_serial`)
    or, with ``group_size`` n, groups (:func:`~marldyn.theory.particles.group_marginals`)."""
    if group_size > 0:
        return group_marginals(policy, neighbor_weight, transition, initial, group_size)
    return stationary_marginals_serial(policy, neighbor_weight, transition, initial)


@njit(cache=True, nogil=True)
def _member_step(
    q, member_type, neighbor_weight, degree, learners, payoff, transition, initial, group_size, h, key, counter
):
    """One Euler–Maruyama step of one member's particles ``q`` (particle, state, action), in place.

    X of every particle by its type (``member_type``, an index into ``learners``: Boltzmann, ε-greedy or a
    committed agent's table), the stationary pair marginals (as in ``particles``, reduced), then for every particle
    μ_p, Σ_p, a Cholesky factor L_p and Q_p ← Q_p + μ_p h + √h L_p ξ_p
    (:func:`marldyn.theory.euler_maruyama.agent_step`). ξ comes from the member's counter-based stream ``key``
    at counters from ``counter``, so the result does not depend on which thread runs the member.
    """
    _, n_states, n_actions = q.shape
    size = n_states * n_actions
    policy = member_policies(q, member_type, learners)
    distribution, neighbor = _marginals(policy, neighbor_weight, transition, initial, group_size)
    agent_step(
        q,
        policy,
        distribution,
        neighbor,
        degree,
        member_type,
        learners,
        payoff,
        transition,
        h,
        np.bool_(True),  # typed, not Literal[bool](True): one compiled agent_step for sde and sde-graph
        key,
        counter,
        workspace(n_states, n_actions),
        np.empty((n_states, n_actions)),
        np.empty((size, size)),
        np.empty((size, size)),
        np.empty(size + 1),
    )


@njit(cache=True, nogil=True)
def _member_state_fraction(q, member_type, neighbor_weight, learners, transition, initial, group_size, out):
    """Fraction of edges (groups) in each state, Σ_p v_p p(s | Q_p), of one member's particles, into ``out``."""
    policy = member_policies(q, member_type, learners)
    distribution, _ = _marginals(policy, neighbor_weight, transition, initial, group_size)
    for s in range(q.shape[2]):
        out[s] = 0.0
    for p in range(q.shape[0]):
        for s in range(q.shape[2]):
            out[s] += neighbor_weight[p] * distribution[p, s]


@njit(cache=True, parallel=True)
def _ensemble_step(
    q, member_type, neighbor_weight, degree, learners, payoff, transition, initial, group_size, h, keys, counter
):
    """:func:`_member_step` of every member, in place, members in parallel (each on one thread)."""
    for r in prange(q.shape[0]):
        _member_step(
            q[r],
            member_type[r],
            neighbor_weight,
            degree,
            learners,
            payoff,
            transition,
            initial,
            group_size,
            h,
            keys[r],
            counter,
        )


@njit(cache=True, parallel=True)
def _ensemble_state_fraction(q, member_type, neighbor_weight, learners, transition, initial, group_size, out):
    """:func:`_member_state_fraction` of every member into ``out`` (run, state), members in parallel."""
    for r in prange(q.shape[0]):
        _member_state_fraction(q[r], member_type[r], neighbor_weight, learners, transition, initial, group_size, out[r])


#: From this many members on, one threaded call advances the whole ensemble; fewer members are advanced one
#: compiled call each from Python, so small ensembles neither compile nor wake the threaded variants.
THREADED_MEMBERS = 16


def _advance(q, member_type, neighbor_weight, degree, parameters, h, keys, counter) -> None:
    """One Euler–Maruyama step of every member of the ensemble ``q`` (run, particle, state, action), in place."""
    if q.shape[0] >= THREADED_MEMBERS:
        _ensemble_step(q, member_type, neighbor_weight, degree, *parameters, h, keys, counter)
        return
    for r in range(q.shape[0]):
        _member_step(q[r], member_type[r], neighbor_weight, degree, *parameters, h, keys[r], counter)


def _state_fraction(q, member_type, neighbor_weight, learners, transition, initial, group_size) -> np.ndarray:
    """Fraction of edges (groups) in each state of every member, shape (run, state)."""
    out = np.empty((q.shape[0], q.shape[2]))
    if q.shape[0] >= THREADED_MEMBERS:
        _ensemble_state_fraction(q, member_type, neighbor_weight, learners, transition, initial, group_size, out)
    else:
        for r in range(q.shape[0]):
            _member_state_fraction(
                q[r], member_type[r], neighbor_weight, learners, transition, initial, group_size, out[r]
            )
    return out


def solve_sde(
    q0,
    game,
    time,
    *,
    degree,
    alpha=None,
    beta=None,
    gamma=None,
    rule="q_learning",
    learners=None,
    particle_type=None,
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
    game : Game or SizedGroupGame
        A pairwise game, or a group game in groups of one size (``GroupGame.sized(n)``: the marginals of
        :func:`marldyn.theory.particles.group_marginals`).
    time : array_like of int, shape (time,)
        Output times in simulator steps (from 0, increasing).
    degree : array_like of int, shape (particle,)
        k_p of every particle (the same in every member; a group game: the number of groups it is in).
    alpha, beta, gamma : float
    rule : str or int
        One Boltzmann learner for every particle (the paper's population), unless ``learners`` is given.
    learners : marldyn.agents.Learners, optional
        Agent types (policies, rules, parameters, committed tables) instead of ``alpha`` ... ``rule``.
    particle_type : array_like of int, shape (run, particle), optional
        Each particle's type with ``learners`` (e.g. the simulator's assignment of every run); default type 0.
    dt : float
        Time step in simulator steps (> 0); steps are shortened to land on the output times.
    seed : int or numpy.random.SeedSequence
        Member r draws its noise from the counter-based stream keyed by ``SeedSequence(seed).spawn(runs)[r]``
        (the result does not depend on the number of threads).
    initial_state_distribution : array_like, shape (state,), optional
        Only for reducible pair chains (see :func:`marldyn.theory.markov.stationary_distribution`).
    progress : bool, optional
        Progress bar (default: on a terminal).
    """
    payoff, transition = game.arrays()
    q = np.array(q0, dtype=np.float64, order="C")  # standard strides: one compiled signature (numba "C")
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
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    keys = np.array([run_key(child) for child in root.spawn(n_runs)], dtype=np.uint64)
    per_step = np.uint64(n_particles * normal_pairs_per_agent(n_states * n_actions))  # normal pairs per step
    learners, particle_type = learners_of(
        learners, particle_type, (n_runs, n_particles), game, alpha, beta, gamma, rule
    )
    arrays = learners.kernel_arrays()
    parameters = (arrays, payoff, transition, initial, game.group_size)
    names = ("q", "policy", "q_std", "state_fraction") + (TYPE_RECORDS if learners.typed else ())
    records = {name: [] for name in names}
    now, step_index = 0.0, 0
    with progress_bar(progress, total=float(grid[-1]), unit="step", desc="sde") as bar:
        for target in grid:
            while now < target:
                h = min(dt, target - now)
                counter = np.uint64(step_index) * per_step
                _advance(q, particle_type, neighbor_weight, degree, parameters, float(h), keys, counter)
                now += h
                step_index += 1
                bar.update(h)
            if not np.all(np.isfinite(q)):
                raise DivergenceError(f"the SDE ensemble left the finite numbers by t = {now:g} steps (reduce dt)")
            records["q"].append(q.mean(axis=1))
            records["q_std"].append(q.std(axis=1))
            policies = np.stack([learners.policies(q[r], particle_type[r]) for r in range(n_runs)])
            records["policy"].append(policies.mean(axis=1))
            if learners.typed:
                members = [type_records(policies[r], q[r], particle_type[r], learners.n_types) for r in range(n_runs)]
                for name in TYPE_RECORDS:
                    records[name].append(np.stack([member[name] for member in members]))
            records["state_fraction"].append(
                _state_fraction(q, particle_type, neighbor_weight, arrays, transition, initial, game.group_size)
            )
    stacked = {name: np.stack(values, axis=1) for name, values in records.items()}
    return EnsembleTrajectory(grid, **stacked)
