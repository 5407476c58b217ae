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
    payoff : ndarray, shape (state, action, action) or (state, action, action, state)
        U[s, a, b], or U[s, a, b, s'] (a reward that depends on the next state).
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
    n_agents, n_states, _ = q.shape
    n_edges = edges.shape[0]
    draws = uniforms(key, step * (n_agents * n_states + n_edges), n_agents * n_states + n_edges)
    policy, actions, discounted = _draw(q, learners, agent_type, draws[: n_agents * n_states])

    # Lines 8-10: every edge plays once in its state and moves to the next state.
    first, second = edges[:, 0], edges[:, 1]
    action_first = actions[first, edge_state]
    action_second = actions[second, edge_state]
    next_state = np.sum(
        cum_transition[edge_state, action_first, action_second] <= draws[n_agents * n_states :, None], axis=1
    )
    reward = payoff if payoff.ndim == 4 else payoff[..., None]  # a reward that may depend on the next state
    reached = next_state if payoff.ndim == 4 else 0
    target_first = reward[edge_state, action_first, action_second, reached] + discounted[first, next_state]
    target_second = reward[edge_state, action_second, action_first, reached] + discounted[second, next_state]

    # Lines 11-16, summed in edge order (first, then second end).
    slot = np.empty(2 * n_edges, dtype=np.int64)
    slot[0::2] = first * n_states + edge_state
    slot[1::2] = second * n_states + edge_state
    target = np.empty(2 * n_edges)
    target[0::2] = target_first
    target[1::2] = target_second
    return _update(q, policy, actions, learners, agent_type, slot, target), next_state


def group_step(q, group_state, pointer, member, size_index, payoff, cum_transition, learners, agent_type, key, step):
    """One step of a group game for all agents and groups (issue 14's model; Algorithm 1 for groups of two).

    Every agent draws one action per state; every group plays once in its state s_g, member i getting
    ``payoff[s_g, a_i, j, s']`` with j the number of its co-players choosing action 0, and moves to s' drawn
    from ``transition[s_g, m]``, m the number of members choosing action 0; every agent updates Q(s, a(s)) with
    the mean TD target over its groups that were in s.

    Parameters
    ----------
    q : ndarray, shape (agent, state, action)
    group_state : ndarray of int64, shape (group,)
    pointer, member : ndarray of int64
        The groups as CSR (:class:`marldyn.groups.Groups`).
    size_index : ndarray of int64, shape (group,)
        Each group's index into the tables' first axis.
    payoff : ndarray, shape (size, state, action, max size, state)
    cum_transition : ndarray, shape (size, state, max size + 1, state)
        :meth:`marldyn.group_games.GroupGame.tables`.
    learners, agent_type, key, step
        As in :func:`step`; the random numbers of step t sit at counters ``t (N K + G)`` on (agents first,
        then one per group).

    Returns
    -------
    q_next : ndarray, shape (agent, state, action)
    group_state_next : ndarray of int64, shape (group,)
    """
    n_agents, n_states, _ = q.shape
    n_groups = pointer.size - 1
    draws = uniforms(key, step * (n_agents * n_states + n_groups), n_agents * n_states + n_groups)
    policy, actions, discounted = _draw(q, learners, agent_type, draws[: n_agents * n_states])

    group = np.repeat(np.arange(n_groups), np.diff(pointer))  # the group of every membership
    state = group_state[group]
    action = actions[member, state]
    cooperating = np.bincount(group, weights=action == 0, minlength=n_groups).astype(np.int64)
    tables = cum_transition[size_index, group_state, cooperating]  # (group, state)
    next_state = np.sum(tables <= draws[n_agents * n_states :, None], axis=1)
    co_players = cooperating[group] - (action == 0)
    following = next_state[group]
    target = payoff[size_index[group], state, action, co_players, following] + discounted[member, following]
    # summed in membership order: group after group, member after member
    return _update(q, policy, actions, learners, agent_type, member * n_states + state, target), next_state


def _draw(q, learners, agent_type, draws):
    """Lines 3-7: every agent's policy, one action per state and γ V(s) of its own rule (start-of-step values)."""
    n_agents, n_states, _ = q.shape
    policy = learners.policies(q, agent_type)
    actions = sample_indices(policy, draws.reshape(n_agents, n_states))
    rule = learners.rule[agent_type]
    values = np.zeros((n_agents, n_states))
    for code in np.unique(rule):
        mine = rule == code
        values[mine] = bootstrap_values(int(code), q[mine], policy[mine], actions[mine])
    return policy, actions, learners.gamma[agent_type][:, None] * values


def _update(q, policy, actions, learners, agent_type, slot, target):
    """Lines 11-16: the mean TD target per (agent, state) played (``slot`` = agent K + state, summed in the
    order given), and Q(s, a(s)) moved towards it at the rate α min(faq_beta / X(s, a), 1) (FAQ; exactly α
    otherwise), 0 for a committed agent."""
    n_agents, n_states, n_actions = q.shape
    target_sum = np.bincount(slot, weights=target, minlength=n_agents * n_states)
    count = np.bincount(slot, minlength=n_agents * n_states)
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
    return q_next
