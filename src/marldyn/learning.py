"""Temporal-difference learning rules: the bootstrap value in the TD target, defined once.

For an interaction of agent i in state s with chosen action a, reward r and next state s', the TD
error is ``δ = r + γ V_i(s') - Q_i(s, a)`` (eq. 4), where the bootstrap value V depends on the rule:

- ``q_learning``: V(s') = max_a' Q(s', a') (eq. 4).
- ``sarsa``: V(s') = Q(s', a_t(s')), the action the agent has *already drawn* for s' at this step
  (Algorithm 1 draws one action per state per step; shared/NOTES.md 8). If s' = s this is the same
  action a that is being updated.
- ``expected_sarsa``: V(s') = Σ_a' X(s', a') Q(s', a'), the expectation under the agent's policy.

All Q-values are those at the start of the step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .errors import ConfigError, did_you_mean

RULES = ("q_learning", "sarsa", "expected_sarsa")
Q_LEARNING, SARSA, EXPECTED_SARSA = 0, 1, 2


def rule_code(rule: str | int) -> int:
    """Integer code of a rule (a name of :data:`RULES`, or already a code), as the numba kernels take it.

    Examples
    --------
    >>> rule_code("sarsa"), rule_code(2)
    (1, 2)
    """
    if isinstance(rule, int | np.integer) and not isinstance(rule, bool) and 0 <= int(rule) < len(RULES):
        return int(rule)
    if rule not in RULES:
        raise ConfigError(f"learning.rule = {rule!r} is not one of {', '.join(RULES)}{did_you_mean(rule, RULES)}")
    return RULES.index(rule)


@njit(cache=True, inline="always")
def bootstrap_value(rule, q_row, policy_row, drawn_action):
    """V_i(s'): the value of the next state in the TD target of ``rule`` (scalar, numba).

    Parameters
    ----------
    rule : int
        ``Q_LEARNING``, ``SARSA`` or ``EXPECTED_SARSA``.
    q_row, policy_row : ndarray, shape (action,)
        Q(s', ·) and X(s', ·) of the agent.
    drawn_action : int
        The action the agent drew for s' at this step (used by SARSA).
    """
    if rule == Q_LEARNING:
        value = q_row[0]
        for a in range(1, q_row.shape[0]):
            if q_row[a] > value:
                value = q_row[a]
        return value
    if rule == SARSA:
        return q_row[drawn_action]
    value = 0.0
    for a in range(q_row.shape[0]):
        value += policy_row[a] * q_row[a]
    return value


def bootstrap_values(rule: int, q: np.ndarray, policy: np.ndarray, drawn_actions: np.ndarray) -> np.ndarray:
    """Vectorised :func:`bootstrap_value` for all agents and states (the numpy reference).

    Parameters
    ----------
    q, policy : ndarray, shape (agent, state, action)
    drawn_actions : ndarray of int, shape (agent, state)

    Returns
    -------
    ndarray, shape (agent, state)
    """
    if rule == Q_LEARNING:
        return q.max(axis=-1)
    if rule == SARSA:
        return np.take_along_axis(q, drawn_actions[..., None], axis=-1)[..., 0]
    value = np.zeros(q.shape[:-1])
    for a in range(q.shape[-1]):  # sequential, in the kernel's order
        value = value + policy[..., a] * q[..., a]
    return value
