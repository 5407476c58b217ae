"""One Euler–Maruyama step of every agent's SDE, dQ = μ dt + √Σ dW (eq. 5): the agent kernel of the ensembles.

Shared by the particle ensembles of :mod:`marldyn.theory.sde` and the per-agent SDE on the graph of
:mod:`marldyn.theory.graph_sde`: both build each agent's neighbourhood (its state distribution p(s | i), the
action distribution X̃_i of the neighbour met in s, its degree) their own way and hand it to
:func:`agent_step`, which takes μ_i and Σ_i from the one core :func:`marldyn.theory.one_step.moments_into`,
factors Σ_i = L_i L_iᵀ (:func:`psd_cholesky_into`) and moves

    Q_i ← Q_i + μ_i h + √h L_i ξ_i,   ξ_i ~ N(0, I),

with ξ from the counter-based stream (:func:`marldyn.simulation.counter_rng.normal_pair`): agent i's normals of
integration step n sit at fixed counters, so results do not depend on threads or output grids.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..policy import FIXED
from ..simulation.counter_rng import normal_pair
from .one_step import moments_into

__all__ = ["agent_step", "normal_pairs_per_agent", "psd_cholesky_into"]


@njit(cache=True)
def normal_pairs_per_agent(size):
    """Normal pairs one agent draws per integration step for a Q-table of ``size`` = K M entries."""
    return (size + 1) // 2


@njit(cache=True, inline="always")
def psd_cholesky_into(matrix, out):
    """Lower-triangular L with L Lᵀ = ``matrix`` for a symmetric positive semi-definite matrix.

    A pivot at or below 1e-14 × the largest diagonal entry (a zero eigen-direction up to round-off)
    gives a zero column, so singular Σ (an action never played, a state never visited) is handled.
    """
    size = matrix.shape[0]
    scale = 0.0
    for r in range(size):
        if matrix[r, r] > scale:
            scale = matrix[r, r]
    threshold = 1e-14 * scale
    for r in range(size):
        for c in range(size):
            out[r, c] = 0.0
    for c in range(size):
        pivot = matrix[c, c]
        for k in range(c):
            pivot -= out[c, k] * out[c, k]
        if pivot <= threshold:
            continue
        root = math.sqrt(pivot)
        out[c, c] = root
        inverse = 1.0 / root
        for r in range(c + 1, size):
            value = matrix[r, c]
            for k in range(c):
                value -= out[r, k] * out[c, k]
            out[r, c] = value * inverse


# ----------------------------------------------------------------------------------------------
# numba: one member on the graph
# ----------------------------------------------------------------------------------------------


@njit(cache=True)
def agent_step(
    q,
    policy,
    distribution,
    neighbor,
    degree,
    agent_type,
    learners,
    payoff,
    transition,
    h,
    noise,
    key,
    counter0,
    work,
    mu,
    sigma,
    factor,
    xi,
):
    """Q_i ← Q_i + μ_i h + √h L_i ξ_i for every agent i, in place (μ_i, Σ_i from the step's start values).

    Parameters
    ----------
    q : ndarray, shape (agent, state, action)
        Q of every agent, updated in place.
    policy, neighbor : ndarray, shape (agent, state, action)
        X_i and X̃_i at the start of the step (so updating Q in place is safe).
    distribution : ndarray, shape (agent, state)
        p(s | i) at the start of the step.
    degree : ndarray of int, shape (agent,)
        k_i; agents without edges do not move.
    agent_type : ndarray of int64, shape (agent,)
        Each agent's type: an index into ``learners``.
    learners : tuple
        :meth:`marldyn.agents.Learners.kernel_arrays`: α, β, γ, ε, faq_beta, policy code, rule code and fixed
        table per type. Committed agents (policy ``FIXED``) do not move.
    payoff, transition
        The game.
    h : float
        Step size in simulator steps.
    noise : bool
        False: the drift only (deterministic).
    key, counter0 : uint64
        Stream key and the first normal-pair counter of this step; agent i uses the pairs from
        ``counter0 + i * normal_pairs_per_agent(K M)``.
    work, mu, sigma, factor, xi
        Scratch: :func:`marldyn.theory.one_step.workspace`, (K, M), (K M, K M) twice, (K M + 1,).
    """
    n_agents, n_states, n_actions = q.shape
    size = n_states * n_actions
    pairs_per_agent = normal_pairs_per_agent(size)
    root_h = math.sqrt(h)
    alpha, _, gamma, _, faq_beta, kind, rule, _ = learners
    for i in range(n_agents):
        t = agent_type[i]
        if degree[i] == 0 or kind[t] == FIXED:
            continue
        moments_into(
            q[i],
            policy[i],
            neighbor[i],
            distribution[i],
            degree[i],
            payoff,
            transition,
            alpha[t],
            gamma[t],
            rule[t],
            faq_beta[t],
            work,
            mu,
            sigma,
        )
        if noise:
            psd_cholesky_into(sigma, factor)
            base = counter0 + np.uint64(i * pairs_per_agent)
            for c in range(pairs_per_agent):
                xi[2 * c], xi[2 * c + 1] = normal_pair(key, base + np.uint64(c))
            for s in range(n_states):
                for a in range(n_actions):
                    row = s * n_actions + a
                    kick = 0.0
                    for c in range(row + 1):
                        kick += factor[row, c] * xi[c]
                    q[i, s, a] += mu[s, a] * h + root_h * kick
        else:
            for s in range(n_states):
                for a in range(n_actions):
                    q[i, s, a] += mu[s, a] * h
