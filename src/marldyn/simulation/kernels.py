"""The numba kernel of Algorithm 1: many steps in place, bit-identical to ``reference.step``."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..learning import bootstrap_value
from ..policy import sample_index, softmax_row
from .counter_rng import uniform


@njit(cache=True)
def run_steps(q, edge_state, edges, payoff, cum_transition, alpha, beta, gamma, rule, key, first_step, n_steps):
    """Advance ``q`` and ``edge_state`` in place by ``n_steps`` steps, starting at step ``first_step``.

    Arguments are those of :func:`marldyn.simulation.reference.step`; ``q`` (agent, state, action)
    and ``edge_state`` (edge,) are modified in place.
    """
    n_agents, n_states, n_actions = q.shape
    n_edges = edges.shape[0]
    policy = np.empty((n_agents, n_states, n_actions))
    actions = np.empty((n_agents, n_states), dtype=np.int64)
    values = np.empty((n_agents, n_states))
    target_sum = np.zeros((n_agents, n_states))
    count = np.zeros((n_agents, n_states), dtype=np.int64)
    agent_draws = np.uint64(n_agents * n_states)
    draws_per_step = np.uint64(n_agents * n_states + n_edges)
    for t in range(first_step, first_step + n_steps):
        base = np.uint64(t) * draws_per_step
        for i in range(n_agents):
            for s in range(n_states):
                softmax_row(q[i, s], beta, policy[i, s])
                actions[i, s] = sample_index(policy[i, s], uniform(key, base + np.uint64(i * n_states + s)))
        for i in range(n_agents):
            for s in range(n_states):
                values[i, s] = bootstrap_value(rule, q[i, s], policy[i, s], actions[i, s])
        for e in range(n_edges):
            i = edges[e, 0]
            j = edges[e, 1]
            s = edge_state[e]
            action_i = actions[i, s]
            action_j = actions[j, s]
            u = uniform(key, base + agent_draws + np.uint64(e))
            nxt = 0
            while cum_transition[s, action_i, action_j, nxt] <= u:
                nxt += 1
            target_sum[i, s] += payoff[s, action_i, action_j] + gamma * values[i, nxt]
            count[i, s] += 1
            target_sum[j, s] += payoff[s, action_j, action_i] + gamma * values[j, nxt]
            count[j, s] += 1
            edge_state[e] = nxt
        for i in range(n_agents):
            for s in range(n_states):
                if count[i, s] > 0:
                    a = actions[i, s]
                    old = q[i, s, a]
                    q[i, s, a] = old + alpha * (target_sum[i, s] / count[i, s] - old)
                    target_sum[i, s] = 0.0
                    count[i, s] = 0
