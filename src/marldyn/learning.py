"""Temporal-difference learning rules: the bootstrap value in the TD target, defined once.

For an interaction of agent i in state s with chosen action a, reward r and next state s', the TD
error is ``δ = r + γ V_i(s') - Q_i(s, a)`` (eq. 4), where the bootstrap value V depends on the rule:

- ``q_learning``: V(s') = max_a' Q(s', a') (eq. 4).
- ``sarsa``: V(s') = Q(s', a_t(s')), the action the agent has *already drawn* for s' at this step
  (Algorithm 1 draws one action per state per step; shared/NOTES.md 8). If s' = s this is the same
  action a that is being updated.
- ``expected_sarsa``: V(s') = Σ_a' X(s', a') Q(s', a'), the expectation under the agent's policy.
- ``faq``: frequency-adjusted Q-learning (Kaisers & Tuyls, AAMAS 2010): the Q-learning target, and the update
  of the played action scaled by min(faq_beta / X(s, a), 1) (:func:`faq_scale`), X the policy at the start of
  the step. Its reduced dynamics are the replicator-mutator equations of Tuyls et al. (2003).

All Q-values are those at the start of the step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .errors import ConfigError, did_you_mean

RULES = ("q_learning", "sarsa", "expected_sarsa", "faq")
Q_LEARNING, SARSA, EXPECTED_SARSA, FAQ = 0, 1, 2, 3


def rule_code(rule: str | int) -> int:
    """Integer code of a rule (a name of :data:`RULES`, or already a code), as the numba kernels take it.

    Examples
    --------
    >>> rule_code("sarsa"), rule_code(2), rule_code("faq")
    (1, 2, 3)
    """
    if isinstance(rule, int | np.integer) and not isinstance(rule, bool) and 0 <= int(rule) < len(RULES):
        return int(rule)
    if rule not in RULES:
        raise ConfigError(f"learning.rule = {rule!r} is not one of {', '.join(RULES)}{did_you_mean(rule, RULES)}")
    return RULES.index(rule)


def faq_factor(rule: str | int, faq_beta: float | None) -> float:
    """The faq_beta the cores take for ``rule``: ``faq_beta`` for FAQ (0 < faq_beta <= 1, required), 1 otherwise.

    With 1 the FAQ factor min(1 / X, 1) is exactly 1, so every other rule passes through the same code unchanged.

    Examples
    --------
    >>> faq_factor("faq", 0.2), faq_factor("q_learning", None)
    (0.2, 1.0)
    """
    if rule_code(rule) != FAQ:
        if faq_beta is not None:
            raise ConfigError("faq_beta is only used with rule = 'faq'")
        return 1.0
    if faq_beta is None or not 0.0 < float(faq_beta) <= 1.0:
        raise ConfigError(f"faq_beta = {faq_beta!r}: rule = 'faq' needs 0 < faq_beta <= 1")
    return float(faq_beta)


@njit(cache=True, inline="always")
def bootstrap_value(rule, q_row, policy_row, drawn_action):
    """V_i(s'): the value of the next state in the TD target of ``rule`` (scalar, numba).

    Parameters
    ----------
    rule : int
        ``Q_LEARNING``, ``SARSA``, ``EXPECTED_SARSA`` or ``FAQ`` (whose target is Q-learning's).
    q_row, policy_row : ndarray, shape (action,)
        Q(s', ·) and X(s', ·) of the agent.
    drawn_action : int
        The action the agent drew for s' at this step (used by SARSA).
    """
    if rule == SARSA:
        return q_row[drawn_action]
    if rule == EXPECTED_SARSA:
        value = 0.0
        for a in range(q_row.shape[0]):
            value += policy_row[a] * q_row[a]
        return value
    value = q_row[0]
    for a in range(1, q_row.shape[0]):
        if q_row[a] > value:
            value = q_row[a]
    return value


@njit(cache=True, inline="always")
def faq_scale(faq_beta, probability):
    """min(faq_beta / X(s, a), 1): the factor of frequency-adjusted Q-learning's update (Kaisers & Tuyls 2010).

    Written without the division where it is not needed, so that faq_beta = 1 (and every rule but FAQ,
    which passes 1) gives exactly 1.0, and X = 0 needs no special case.

    Parameters
    ----------
    faq_beta : float
        0 < faq_beta <= 1.
    probability : float
        X(s, a), the probability of the played action at the start of the step.

    Examples
    --------
    >>> from marldyn.learning import faq_scale
    >>> faq_scale(0.1, 0.5), faq_scale(0.1, 0.05), faq_scale(1.0, 0.3)
    (0.2, 1.0, 1.0)
    """
    return 1.0 if probability <= faq_beta else faq_beta / probability


def played_weight(policy, faq_beta) -> np.ndarray:
    """X(s, a) c(s, a) = min(X(s, a), faq_beta): how often an action is played times its update's FAQ factor.

    The factor of every update-rate formula of the theory, μ = α π_s X c δ̄ (eq. 9): X · min(faq_beta / X, 1)
    (:func:`faq_scale`) is min(X, faq_beta), and X itself for faq_beta = 1 (every rule but FAQ, see
    :func:`faq_factor`). ``faq_beta`` may be an array that broadcasts against ``policy`` (one per agent).

    Examples
    --------
    >>> played_weight(np.array([0.5, 0.05]), 0.1)
    array([0.1 , 0.05])
    """
    return np.minimum(np.asarray(policy, dtype=np.float64), np.asarray(faq_beta, dtype=np.float64))


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
    if rule == SARSA:
        return np.take_along_axis(q, drawn_actions[..., None], axis=-1)[..., 0]
    if rule == EXPECTED_SARSA:
        value = np.zeros(q.shape[:-1])
        for a in range(q.shape[-1]):  # sequential, in the kernel's order
            value = value + policy[..., a] * q[..., a]
        return value
    return q.max(axis=-1)
