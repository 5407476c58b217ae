"""The edge-state Markov chain: transition matrix λ (eq. 12), master equation (eqs. 13-14, 17) and
stationary distribution p* (eq. 18).

For fixed policies, the state of one edge between a focal agent (policy X) and a neighbour
(policy X̃) is a Markov chain on the K states with one-step transition matrix

    λ[s, s'] = Σ_{a, ã} X(s, a) X̃(s, ã) T(s, a, ã, s'),                         (eq. 12)

because in Algorithm 1 both agents draw their action for the edge's current state from their
policies and the edge moves to ``s'`` with probability T. One simulator step is one application of
λ, so the *exact* evolution of the edge-state distribution at fixed policies is the discrete map
``p_{t+1} = p_t λ`` (:func:`master_equation_step`); the paper's continuous master equation (14, 17)
is its rate form ``dp/dt = p (λ - I)``.

Everything here is batched over leading dimensions: ``policy (..., state, action)`` gives
``λ (..., state, state)``, and :func:`stationary_distribution` accepts ``(..., state, state)``.
The small ``@njit`` functions with a leading underscore are the single implementation shared with
the homogeneous integrators (``marldyn.theory.homogeneous``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..errors import ConfigError
from .one_step import success_count_into

__all__ = [
    "advance_edges",
    "edge_chains_into",
    "edge_transition_into",
    "group_chains_into",
    "edge_transition_matrix",
    "master_equation_step",
    "stationary_distribution",
    "stationary_into",
]

ROW_SUM_TOLERANCE = 1e-8

# Status codes of the numba stationary-distribution routine.
_OK = 0
_NEEDS_INITIAL = 1


# ----------------------------------------------------------------------------------------------
# λ, eq. (12)
# ----------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def edge_transition_into(policy, neighbor_policy, transition, out):
    """λ[s, s'] = Σ_{a, b} X[s, a] X̃[s, b] T[s, a, b, s'] for one pair, written into ``out`` (K, K).

    In a group game ``neighbor_policy`` is the outcome distribution (:func:`marldyn.theory.one_step.outcome_into`)
    and ``transition`` the sized game's (:meth:`marldyn.group_games.GroupGame.sized`): λ_g(s → s') =
    Σ_m P(m members choose 0) T[s, m, s'].

    Each entry is summed in a local accumulator over (a, b) in order, and stored once.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.theory.markov import edge_transition_into
    >>> _, transition = two_state_pd().arrays()
    >>> policy = np.array([[0.9, 0.1], [0.5, 0.5]])
    >>> out = np.empty((2, 2))
    >>> edge_transition_into(policy, policy, transition, out)
    >>> out  # λ[s, s']: s1 follows mutual cooperation with probability 0.7, anything else with 0.2
    array([[0.605, 0.395],
           [0.325, 0.675]])
    >>> out.sum(axis=1)
    array([1., 1.])
    """
    n_states, n_actions = policy.shape
    n_outcomes = neighbor_policy.shape[1]
    for s in range(n_states):
        for t in range(n_states):
            value = 0.0
            for a in range(n_actions):
                x = policy[s, a]
                for b in range(n_outcomes):
                    value += x * neighbor_policy[s, b] * transition[s, a, b, t]
            out[s, t] = value


@njit(cache=True)
def _edge_transition_batch(policy, neighbor_policy, transition):
    n_pairs, n_states, _ = policy.shape
    out = np.empty((n_pairs, n_states, n_states))
    for n in range(n_pairs):
        edge_transition_into(policy[n], neighbor_policy[n], transition, out[n])
    return out


def edge_transition_matrix(policy, neighbor_policy, transition) -> np.ndarray:
    """λ(Q, Q̃), the one-step transition matrix of an edge's state, eq. (12).

    λ[s, s'] = Σ_{a, ã} X(Q, s, a) X(Q̃, s, ã) T(s, a, ã, s').

    Parameters
    ----------
    policy : array_like, shape (..., state, action)
        X(Q, s, a), the focal agent's policy (rows are probability vectors).
    neighbor_policy : array_like, shape (..., state, action)
        X(Q̃, s, ã), the neighbour's policy; its leading dimensions broadcast against ``policy``'s. In a group
        game the outcome distribution (..., state, outcome) (:func:`marldyn.theory.moments.outcome_distribution`).
    transition : array_like, shape (state, action, action, state)
        T(s, a, ã, s') of the game (``Game.transition``; ``SizedGroupGame.transition``, (state, action,
        outcome, state), in a group game).

    Returns
    -------
    ndarray, shape (..., state, state)
        λ[..., s, s'], row-stochastic; the broadcast of the two leading shapes. Time unit: one
        simulator step (λ is the probability per step, so it doubles as the rate in eq. 14).

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.theory.markov import edge_transition_matrix
    >>> transition = two_state_pd().transition
    >>> cooperate, defect = [[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]  # (state, action)
    >>> edge_transition_matrix(cooperate, cooperate, transition)  # p = (0.7, 0.2) of the game
    array([[0.7, 0.3],
           [0.7, 0.3]])
    >>> edge_transition_matrix(cooperate, defect, transition)
    array([[0.2, 0.8],
           [0.2, 0.8]])
    >>> edge_transition_matrix([cooperate, defect], cooperate, transition).shape  # broadcast over pairs
    (2, 2, 2)
    """
    policy = np.asarray(policy, dtype=np.float64)
    neighbor_policy = np.asarray(neighbor_policy, dtype=np.float64)
    transition = np.array(transition, dtype=np.float64, order="C")  # writable: one compiled signature
    outcomes = transition.shape[2] if transition.ndim == 4 else -1
    if (
        policy.shape[-2:] != transition.shape[:2]
        or neighbor_policy.shape[-2:] != (policy.shape[-2], outcomes)
        or transition.shape[3:] != policy.shape[-2:-1]
    ):
        raise ConfigError(
            f"edge_transition_matrix: policy {policy.shape}, neighbor_policy {neighbor_policy.shape} and "
            f"transition {transition.shape} disagree on (state, action)"
        )
    batch = np.broadcast_shapes(policy.shape[:-2], neighbor_policy.shape[:-2])
    n_states, n_actions = policy.shape[-2:]
    flat_policy = np.array(np.broadcast_to(policy, batch + (n_states, n_actions)), order="C")
    flat_neighbor = np.array(np.broadcast_to(neighbor_policy, batch + (n_states, outcomes)), order="C")
    out = _edge_transition_batch(
        flat_policy.reshape(-1, n_states, n_actions),
        flat_neighbor.reshape(-1, n_states, outcomes),
        transition,
    )
    return out.reshape(batch + (n_states, n_states))


# ----------------------------------------------------------------------------------------------
# Master equation, eqs. (13)-(14), (17)
# ----------------------------------------------------------------------------------------------
def master_equation_step(distribution, matrix) -> np.ndarray:
    """One simulator step of the edge-state distribution at fixed policies: p_{t+1} = p_t λ.

    p_{t+1}(s') = Σ_s p_t(s) λ[s, s'] is the exact discrete-time form of the master equation
    (eqs. 13-14; its rate form is dp/dt = p (λ - I), eq. 17 with α = 0): the fluxes J_{ss'} = p(s) λ_{ss'}
    of one step, applied once.

    Parameters
    ----------
    distribution : array_like, shape (..., state)
        p_t(s), a probability vector (or a batch of them).
    matrix : array_like, shape (..., state, state)
        λ[s, s'] from :func:`edge_transition_matrix`.

    Returns
    -------
    ndarray, shape (..., state)
        p_{t+1}.

    Examples
    --------
    >>> from marldyn.theory.markov import master_equation_step
    >>> matrix = [[0.9, 0.1], [0.5, 0.5]]
    >>> p = [1.0, 0.0]
    >>> for _ in range(3):
    ...     p = master_equation_step(p, matrix)
    ...     print(p.round(4))
    [0.9 0.1]
    [0.86 0.14]
    [0.844 0.156]
    """
    distribution = np.asarray(distribution, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return np.einsum("...s,...st->...t", distribution, matrix)


# ----------------------------------------------------------------------------------------------
# Stationary distribution, eq. (18)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _gth_into(sub, out):
    """Stationary vector of an irreducible stochastic matrix by Grassmann-Taksar-Heyman elimination.

    Writes into ``out`` (size,). GTH uses no subtractions, so it stays accurate for nearly reducible
    chains (tiny but positive transition probabilities, as Boltzmann policies produce at large β ΔQ).
    """
    size = sub.shape[0]
    work = sub.copy()
    for n in range(size - 1, 0, -1):
        total = 0.0
        for j in range(n):
            total += work[n, j]
        for i in range(n):
            work[i, n] /= total
        for i in range(n):
            factor = work[i, n]
            if factor != 0.0:
                for j in range(n):
                    work[i, j] += factor * work[n, j]
    out[0] = 1.0
    norm = 1.0
    for n in range(1, size):
        value = 0.0
        for i in range(n):
            value += out[i] * work[i, n]
        out[n] = value
        norm += value
    for n in range(size):
        out[n] /= norm


@njit(cache=True)
def _solve_linear(system, right):
    """Solve ``system @ x = right`` (n, n) x (n, m) by Gaussian elimination with partial pivoting.

    Small and quick to compile (``np.linalg.solve`` costs seconds of numba compilation). Used for the
    absorption probabilities, where ``system = I - P_TT`` is a nonsingular M-matrix.
    """
    size = system.shape[0]
    width = right.shape[1]
    matrix = system.copy()
    result = right.copy()
    for col in range(size):
        pivot = col
        for row in range(col + 1, size):
            if abs(matrix[row, col]) > abs(matrix[pivot, col]):
                pivot = row
        if pivot != col:
            for j in range(size):
                matrix[col, j], matrix[pivot, j] = matrix[pivot, j], matrix[col, j]
            for j in range(width):
                result[col, j], result[pivot, j] = result[pivot, j], result[col, j]
        for row in range(col + 1, size):
            factor = matrix[row, col] / matrix[col, col]
            if factor != 0.0:
                for j in range(col, size):
                    matrix[row, j] -= factor * matrix[col, j]
                for j in range(width):
                    result[row, j] -= factor * result[col, j]
    for col in range(size - 1, -1, -1):
        for j in range(width):
            value = result[col, j]
            for k in range(col + 1, size):
                value -= matrix[col, k] * result[k, j]
            result[col, j] = value / matrix[col, col]
    return result


@njit(cache=True)
def stationary_into(matrix, initial, has_initial, out):
    """Long-run (Cesàro) distribution of one chain, written into ``out``; returns a status code.

    Returns ``_NEEDS_INITIAL`` (and leaves ``out`` undefined) if the chain has several closed classes
    and ``has_initial`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.markov import stationary_into
    >>> out = np.empty(2)
    >>> stationary_into(np.array([[0.9, 0.1], [0.5, 0.5]]), np.zeros(2), False, out), out.round(4)  # 0: ok
    (0, array([0.8333, 0.1667]))
    >>> stationary_into(np.eye(2), np.zeros(2), False, out)  # two closed classes, no initial: 1
    1
    """
    size = matrix.shape[0]
    positive = True  # fast path: all off-diagonal entries > 0, so the chain is irreducible
    for i in range(size):
        for j in range(size):
            if i != j and not matrix[i, j] > 0.0:
                positive = False
    if positive:
        _gth_into(matrix, out)
        return _OK
    # (Only plain loops and np.empty below: numba compiles them quickly.)
    reach = np.empty((size, size), dtype=np.bool_)
    for i in range(size):
        for j in range(size):
            reach[i, j] = i == j or matrix[i, j] > 0.0
    for m in range(size):  # Warshall transitive closure
        for i in range(size):
            if reach[i, m]:
                for j in range(size):
                    if reach[m, j]:
                        reach[i, j] = True
    # A state is recurrent iff every state it reaches reaches it back (its class is closed).
    label = np.empty(size, dtype=np.int64)
    for i in range(size):
        label[i] = -1
    n_classes = 0
    for i in range(size):
        if label[i] >= 0:
            continue
        closed = True
        for j in range(size):
            if reach[i, j] and not reach[j, i]:
                closed = False
                break
        if closed:
            for j in range(size):
                if reach[i, j]:
                    label[j] = n_classes
            n_classes += 1
    for i in range(size):
        out[i] = 0.0
    if n_classes > 1 and not has_initial:
        return _NEEDS_INITIAL
    # Weight of each closed class: the probability of ending in it from ``initial``.
    weight = np.empty(n_classes)
    for c in range(n_classes):
        weight[c] = 1.0 if n_classes == 1 else 0.0
    if n_classes > 1:
        n_transient = 0
        for i in range(size):
            if label[i] < 0:
                n_transient += 1
            else:
                weight[label[i]] += initial[i]
        if n_transient > 0:
            transient = np.empty(n_transient, dtype=np.int64)
            r = 0
            for i in range(size):
                if label[i] < 0:
                    transient[r] = i
                    r += 1
            system = np.empty((n_transient, n_transient))
            exits = np.empty((n_transient, n_classes))
            for r in range(n_transient):
                for c in range(n_transient):
                    system[r, c] = -matrix[transient[r], transient[c]]
                # 1 - λ_rr as the sum of the row's other entries (no cancellation: a row whose only exit is
                # tiny, λ_rr = 1 - 1e-308 = 1.0 in floating point, keeps a positive diagonal)
                leave = 0.0
                for j in range(size):
                    if j != transient[r]:
                        leave += matrix[transient[r], j]
                system[r, r] = leave
                for c in range(n_classes):
                    exits[r, c] = 0.0
                for j in range(size):
                    if label[j] >= 0:
                        exits[r, label[j]] += matrix[transient[r], j]
            absorption = _solve_linear(system, exits)
            for r in range(n_transient):
                for c in range(n_classes):
                    weight[c] += initial[transient[r]] * absorption[r, c]
        total = 0.0
        for c in range(n_classes):
            total += weight[c]
        if total > 0.0:
            for c in range(n_classes):
                weight[c] /= total
    members = np.empty(size, dtype=np.int64)
    for c in range(n_classes):
        if weight[c] == 0.0:
            continue
        n_members = 0
        for i in range(size):
            if label[i] == c:
                members[n_members] = i
                n_members += 1
        sub = np.empty((n_members, n_members))
        for r in range(n_members):
            for q in range(n_members):
                sub[r, q] = matrix[members[r], members[q]]
        local = np.empty(n_members)
        _gth_into(sub, local)
        for r in range(n_members):
            out[members[r]] += weight[c] * local[r]
    return _OK


@njit(cache=True)
def _stationary_batch(matrix, initial, has_initial):
    n_chains, size, _ = matrix.shape
    out = np.empty((n_chains, size))
    status = np.zeros(n_chains, dtype=np.int64)
    for n in range(n_chains):
        status[n] = stationary_into(matrix[n], initial[n], has_initial, out[n])
    return out, status


def stationary_distribution(matrix, initial=None) -> np.ndarray:
    """p*(s | Q, Q̃), the stationary edge-state distribution, eq. (18); robust for any finite chain.

    What is returned, exactly: the long-run time average (Cesàro limit)
    ``lim_{T→∞} (1/T) Σ_{t<T} p_0 λ^t`` of the master equation started from ``p_0 = initial``.

    - If the chain has **one closed communicating class** (irreducible chains, and chains with
      transient states that all drain into one class), this is the unique solution of p = p λ,
      Σ p = 1 (eq. 18), supported on that class; ``initial`` is ignored. Periodic chains are included:
      p_t then oscillates forever, but its time average converges to this p*.
    - If there are **several closed classes**, the solution of eq. (18) is not unique; the result is
      the mixture of the classes' stationary distributions weighted by the probability of being
      absorbed into each one from ``initial`` (which is then required).

    Classes are found from the support of λ (entries > 0, exactly), and each class's distribution is
    computed by Grassmann-Taksar-Heyman elimination (no subtractions: accurate also for nearly
    reducible chains with tiny positive entries).

    Parameters
    ----------
    matrix : array_like, shape (..., state, state)
        Row-stochastic λ (rows sum to 1 within 1e-8, entries >= 0).
    initial : array_like, shape (..., state), optional
        Initial edge-state distribution p_0; broadcasts against ``matrix``'s leading dimensions. Needed
        only for chains with more than one closed class.

    Returns
    -------
    ndarray, shape (..., state)
        Probability vectors.

    Raises
    ------
    ConfigError
        If ``matrix`` is not square and row-stochastic, or a chain has several closed classes and
        ``initial`` is None.

    Examples
    --------
    >>> from marldyn.theory.markov import stationary_distribution
    >>> stationary_distribution([[0.9, 0.1], [0.5, 0.5]]).round(4)  # (5/6, 1/6)
    array([0.8333, 0.1667])

    Two closed classes (no edge ever leaves its state): the long-run distribution is where it starts.

    >>> stationary_distribution([[1.0, 0.0], [0.0, 1.0]], initial=[0.25, 0.75])
    array([0.25, 0.75])
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim < 2 or matrix.shape[-1] != matrix.shape[-2]:
        raise ConfigError(f"stationary_distribution: matrix must have shape (..., state, state), got {matrix.shape}")
    if np.any(matrix < 0) or np.any(np.abs(matrix.sum(axis=-1) - 1.0) > ROW_SUM_TOLERANCE):
        raise ConfigError("stationary_distribution: matrix must be row-stochastic (entries >= 0, rows sum to 1)")
    size = matrix.shape[-1]
    batch = matrix.shape[:-2]
    if initial is not None:
        initial = np.asarray(initial, dtype=np.float64)
        if initial.shape[-1:] != (size,) or np.any(initial < 0):
            raise ConfigError(
                f"stationary_distribution: initial must be a distribution of shape (..., {size}), got {initial.shape}"
            )
        batch = np.broadcast_shapes(batch, initial.shape[:-1])
        initial_flat = np.array(np.broadcast_to(initial, batch + (size,)), order="C").reshape(-1, size)
        initial_flat = initial_flat / initial_flat.sum(axis=-1, keepdims=True)
    # writable copies: a read-only view would compile a second specialization of the kernels
    matrix_flat = np.array(np.broadcast_to(matrix, batch + (size, size)), order="C").reshape(-1, size, size)
    if initial is None:
        initial_flat = np.zeros((matrix_flat.shape[0], size))
    out, status = _stationary_batch(matrix_flat, initial_flat, initial is not None)
    if np.any(status == _NEEDS_INITIAL):
        raise ConfigError(
            "stationary_distribution: the chain has several closed classes, so its long-run distribution "
            "depends on where it starts; pass initial= (the initial edge-state distribution)"
        )
    return out.reshape(batch + (size,))


# ----------------------------------------------------------------------------------------------
# Edge chains on a graph: λ_e and p_e per edge (eqs. 12-14, 18)
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def group_chains_into(policy, pointer, member, transition, initial, reduced, state, chain):
    """The state chain of every group from its members' actual policies, into ``chain`` (group, K, K).

    λ_g(s → s') = Σ_m P(m of g's members choose action 0 in s) T[s, m, s'], the count m Poisson-binomial over the
    members' X_i(s, 0) (:func:`marldyn.theory.one_step.success_count_into`); ``transition`` (state, m = 0..n,
    state) is the group game's :meth:`~marldyn.group_games.GroupGame.transition` of the groups' one size n. With
    ``reduced`` also ``state[g]`` = the stationary law of λ_g (``initial[g]`` for a reducible chain): the group
    analogue of :func:`edge_chains_into`, for the per-agent SDE on the graph.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.group_games import public_goods
    >>> from marldyn.theory.markov import group_chains_into
    >>> policy = np.array([[[1.0, 0.0], [0.5, 0.5]]] * 3)  # three agents: cooperate in s1, toss a coin in s2
    >>> pointer, member = np.array([0, 3]), np.array([0, 1, 2])  # one group of all three
    >>> state, chain = np.empty((1, 2)), np.empty((1, 2, 2))
    >>> group_chains_into(policy, pointer, member, public_goods().transition(3), np.full((1, 2), 0.5), True,
    ...                   state, chain)
    >>> chain[0]  # from s1 everybody cooperates: p1 = 0.8; from s2 all three cooperate with probability 1/8
    array([[0.8   , 0.2   ],
           [0.3625, 0.6375]])
    """
    n_states = policy.shape[1]
    largest = transition.shape[1] - 1
    probability = np.empty(largest)
    counts = np.empty(largest + 1)
    for g in range(pointer.shape[0] - 1):
        size = pointer[g + 1] - pointer[g]
        for s in range(n_states):
            for h in range(size):
                probability[h] = policy[member[pointer[g] + h], s, 0]
            success_count_into(probability, size, counts)
            for t in range(n_states):
                value = 0.0
                for m in range(size + 1):
                    value += counts[m] * transition[s, m, t]
                chain[g, s, t] = value
        if reduced:
            stationary_into(chain[g], initial[g], np.bool_(True), state[g])


@njit(cache=True)
def edge_chains_into(policy, edges, transition, initial, reduced, pair, chain):
    """Per edge e = (i, j): λ_e = λ(X_i, X_j) (eq. 12) into ``chain`` (edge, state, state) and, if ``reduced``,
    the stationary p_e = p*(λ_e) (eq. 18) into ``pair`` (edge, state).

    ``policy`` (agent, state, action), ``edges`` (edge, 2), ``initial`` (edge, state) (used only by reducible
    chains). Two states: p* in closed form, (λ_10, λ_01) / (λ_01 + λ_10); otherwise :func:`stationary_into`.

    Examples
    --------
    A 3x3 lattice where agent 0 cooperates more than the others: its four edges spend more time in s1.

    >>> import numpy as np
    >>> from marldyn import lattice, two_state_pd
    >>> from marldyn.policy import boltzmann
    >>> from marldyn.theory.markov import edge_chains_into
    >>> graph, (_, transition) = lattice(9), two_state_pd().arrays()
    >>> q = np.zeros((9, 2, 2))
    >>> q[0, :, 0] = 2.0  # agent 0 prefers C in both states
    >>> pair, chain = np.empty((graph.n_edges, 2)), np.empty((graph.n_edges, 2, 2))
    >>> initial = np.full((graph.n_edges, 2), 0.5)
    >>> edge_chains_into(boltzmann(q, 1.0), graph.edges, transition, initial, True, pair, chain)
    >>> np.unique(pair[:, 0].round(4), return_counts=True)  # p_e(s1): 14 edges at 0.325, 4 at 0.4202
    (array([0.325 , 0.4202]), array([14,  4]))
    """
    n_states = policy.shape[1]
    for e in range(edges.shape[0]):
        edge_transition_into(policy[edges[e, 0]], policy[edges[e, 1]], transition, chain[e])
        if reduced:
            if n_states == 2 and chain[e, 0, 1] + chain[e, 1, 0] > 0.0:
                total = chain[e, 0, 1] + chain[e, 1, 0]
                pair[e, 0] = chain[e, 1, 0] / total
                pair[e, 1] = chain[e, 0, 1] / total
            else:
                stationary_into(chain[e], initial[e], np.bool_(True), pair[e])


@njit(cache=True)
def advance_edges(chain, pair, n_applications, current):
    """p_e ← p_e λ_e^n for every edge, in place: the exact discrete master equation (eqs. 13-14) for n steps.

    ``chain`` (edge, state, state), ``pair`` (edge, state), ``current`` (state,) scratch.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.theory.markov import advance_edges
    >>> chain = np.array([[[0.9, 0.1], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])  # two edges
    >>> pair = np.array([[1.0, 0.0], [1.0, 0.0]])  # both start in s1
    >>> advance_edges(chain, pair, 2, np.empty(2))  # two simulator steps
    >>> pair  # p λ²: (0.9² + 0.1 · 0.5, ...) for the first edge
    array([[0.86, 0.14],
           [0.5 , 0.5 ]])
    """
    n_states = pair.shape[1]
    for e in range(pair.shape[0]):
        for _ in range(n_applications):
            for t in range(n_states):
                value = 0.0
                for s in range(n_states):
                    value += pair[e, s] * chain[e, s, t]
                current[t] = value
            for t in range(n_states):
                pair[e, t] = current[t]
