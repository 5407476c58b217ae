"""Plain numpy reference of one step of Algorithm 1 (readable; the kernel must match it bit for bit)."""

from __future__ import annotations

import numpy as np

from ..learning import bootstrap_values
from ..policy import sample_indices
from .counter_rng import uniforms


def step(q, edge_state, edges, payoff, cum_transition, learners, agent_type, key, step):
    """One step of Algorithm 1 for all agents and edges.

    Parameters
    ----------
    q : ndarray, shape (agent, state, action)
        Q_t, the Q-values at the start of the step.
    edge_state : ndarray of int64, shape (edge,)
        s_t(i, j), the state of every edge.
    edges : ndarray of int64, shape (edge, 2)
        The undirected edges (i, j).
    payoff : ndarray, shape (state, action, action)
        U[s, a, b].
    cum_transition : ndarray, shape (state, action, action, state)
        ``Game.cumulative_transition()``.
    learners : marldyn.agents.Learners
        The agent types: policy, rule, α, β, γ, ε and faq_beta of each.
    agent_type : ndarray of int64, shape (agent,)
        Each agent's type (``Learners.assign``).
    key : numpy.uint64
        The run's random stream key.
    step : int
        The index t of this step (selects the random numbers, see ``counter_rng``).

    Returns
    -------
    q_next : ndarray, shape (agent, state, action)
    edge_state_next : ndarray of int64, shape (edge,)
    """
    n_agents, n_states, n_actions = q.shape
    n_edges = edges.shape[0]
    draws = uniforms(key, step * (n_agents * n_states + n_edges), n_agents * n_states + n_edges)

    # Lines 3-7: every agent draws one action per state from its policy (Boltzmann, ε-greedy or fixed).
    policy = learners.policies(q, agent_type)
    actions = sample_indices(policy, draws[: n_agents * n_states].reshape(n_agents, n_states))
    rule = learners.rule[agent_type]
    values = np.zeros((n_agents, n_states))  # V_i(s'), start-of-step values, by each agent's own rule
    for code in np.unique(rule):
        mine = rule == code
        values[mine] = bootstrap_values(int(code), q[mine], policy[mine], actions[mine])
    discounted = learners.gamma[agent_type][:, None] * values

    # Lines 8-10: every edge plays once in its state and moves to the next state.
    first, second = edges[:, 0], edges[:, 1]
    action_first = actions[first, edge_state]
    action_second = actions[second, edge_state]
    next_state = np.sum(
        cum_transition[edge_state, action_first, action_second] <= draws[n_agents * n_states :, None], axis=1
    )
    target_first = payoff[edge_state, action_first, action_second] + discounted[first, next_state]
    target_second = payoff[edge_state, action_second, action_first] + discounted[second, next_state]

    # Lines 11-16: mean TD target per (agent, state) played, summed in edge order (first, then second end).
    slot = np.empty(2 * n_edges, dtype=np.int64)
    slot[0::2] = first * n_states + edge_state
    slot[1::2] = second * n_states + edge_state
    target = np.empty(2 * n_edges)
    target[0::2] = target_first
    target[1::2] = target_second
    target_sum = np.bincount(slot, weights=target, minlength=n_agents * n_states)
    count = np.bincount(slot, minlength=n_agents * n_states)

    # The update's rate: α min(faq_beta / X(s, a), 1) of the played action (FAQ; exactly α otherwise), 0 for a
    # committed agent.
    played = np.take_along_axis(policy, actions[..., None], axis=-1)[..., 0]
    faq_beta = learners.faq_beta[agent_type][:, None]
    scale = np.where(played <= faq_beta, 1.0, faq_beta / np.maximum(played, faq_beta))
    rate = np.where(learners.committed[agent_type][:, None], 0.0, learners.alpha[agent_type][:, None] * scale)

    q_next = q.copy()
    flat = q_next.reshape(n_agents * n_states, n_actions)
    rows = np.flatnonzero(count)
    chosen = actions.reshape(-1)[rows]
    old = flat[rows, chosen]
    flat[rows, chosen] = old + rate.reshape(-1)[rows] * (target_sum[rows] / count[rows] - old)
    return q_next, next_state
