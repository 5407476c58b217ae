"""The numba kernels of Algorithm 1: many steps in place, bit-identical to ``reference.step``.

Per step three sweeps: (A) every agent draws its actions and computes its bootstrap values,
(B) every edge plays and moves, accumulating TD targets per (agent, state), (C) every agent updates
the chosen Q entries. Sweep C of one step and sweep A of the next are fused, so Q is read once per step.

Per-agent hot data sit together in one row ``hot[i]`` (float64): ``γ V(s)`` at ``[0, K)``, the drawn action at
``[K, 2K)``, the TD-target sum at ``[2K, 3K)``, the count at ``[3K, 4K)`` (small integers are exact as
floats); the update's rate α min(faq_beta / X, 1) of every (agent, state) is a separate array, used only by
the agent sweeps, so the rows the edges touch keep their size (64 bytes for K = 2: one cache line). Each
agent's policy, rule and parameters come from its type (:class:`marldyn.agents.Learners`), looked up once per
agent and step; the paper's population (one type) costs 1.15x the single-parameter kernel of before on a
10^4-agent lattice (simulate, 2,000 steps: 1.20 s against 1.04 s, alternated in one run) and the same on a
random 4-regular graph of 10^5 agents (threaded). An edge then touches one row — one or two
cache lines — per agent instead of several arrays, which is what a random graph's far neighbours cost.

Edges are sorted by their first agent, so the first end's rows stream through memory; the second end of a
random graph is anywhere. On such scattered graphs (:func:`prefetch_distance`) the edge sweeps prefetch the
row of the second end ``PREFETCH_DISTANCE`` edges ahead (and the threaded gather its half-edges), so that
many cache misses are in flight at once instead of one: 2-3.4x on random 4-regular graphs of 1e5 to 1e7
agents (``benchmarks/scaling.py``). Prefetching only moves data into the cache; it changes no result.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from ..games import next_state_form, reward_at
from ..learning import EXPECTED_SARSA, SARSA, bootstrap_value, faq_scale
from ..policy import BOLTZMANN, FIXED, policy_row, sample_index
from .counter_rng import uniform

PREFETCH_DISTANCE = 16  # edges ahead: enough misses in flight to cover the memory latency (measured 8-64)
PREFETCH_MIN_BYTES = 1 << 20  # per-agent rows beyond this size (≈ the L2 cache) may be prefetched
FAR_ROWS = 4096  # an edge whose ends are further apart than this is "far" (no hardware stream covers it)
FAR_SAMPLE = 1024  # edges looked at to tell a scattered graph from a local one
FAR_FRACTION = 1 / 16  # prefetch when at least this fraction of the sampled edges is far


@intrinsic
def _prefetch_row(typingctx, array, row):
    """Hint the CPU to fetch ``array[row]`` (a row; an element of a 1-D array) into the cache
    (``llvm.prefetch``, for writing, all cache levels). Never faults and changes nothing; the caller keeps
    ``row`` in bounds.
    """
    if not (isinstance(array, types.Array) and isinstance(row, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0])
        byte = ir.IntType(8).as_pointer()
        offset = builder.mul(args[1], builder.extract_value(data.strides, 0))
        address = builder.gep(builder.bitcast(data.data, byte), [offset])
        i32 = ir.IntType(32)
        prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", fnty=ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32])
        )
        # (address, write = 1, locality = 3: keep in all cache levels, data cache = 1)
        builder.call(prefetch, [address, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, row), codegen


@njit(cache=True)
def prefetch_distance(edges, n_agents, row_bytes):
    """How far ahead the edge sweeps prefetch, in edges: 0 (off) unless prefetching pays.

    It pays when the per-agent rows (``row_bytes`` each) overflow the L2 cache and the graph is scattered:
    at least ``FAR_FRACTION`` of ``FAR_SAMPLE`` evenly spaced edges join agents more than ``FAR_ROWS``
    apart (random, Erdős–Rényi and Barabási–Albert graphs). On a lattice every end lies on a regular stream
    that the hardware prefetcher follows, and the extra instructions would only cost time.
    """
    n_edges = edges.shape[0]
    if n_edges == 0 or n_agents * row_bytes <= PREFETCH_MIN_BYTES:
        return 0
    sample = min(n_edges, FAR_SAMPLE)
    far = 0
    for k in range(sample):
        e = k * n_edges // sample
        far += abs(edges[e, 1] - edges[e, 0]) > FAR_ROWS
    return PREFETCH_DISTANCE if far >= FAR_FRACTION * sample else 0


@njit(cache=True, inline="always")
def _draw_agent(
    i, q, kind, alpha, beta, gamma, epsilon, faq_beta, rule, fixed_policy, t, key, base, policy, hot, rates, specialise
):
    """Sweep A for agent i: one action per state from X_i(s, ·) into ``hot[i, K + s]``, γ_i V_i(s) into
    ``hot[i, s]`` and the update's rate α_i min(faq_beta_i / X_i(s, a(s)), 1) into ``rates[i, s]`` (0 for a
    committed agent, whose Q then stays as it is; read only by sweep C, in agent order, so it stays out of the
    rows the edges touch).

    ``kind`` ... ``rule`` are agent i's type's values and ``fixed_policy[t]`` its fixed table (state, action)
    (:meth:`marldyn.agents.Learners.kernel_arrays`), looked up by the caller: scalars, because every array
    handed to this inlined function costs two reference-count updates per agent (the per-type arrays made the
    10^4-agent lattice 1.75x slower). ``specialise`` selects the unrolled code for Boltzmann agents with M = 2
    (bit-identical to the generic code, which is kept reachable for the tests and the benchmark that compare the
    two).
    """
    n_states, n_actions = q.shape[1], q.shape[2]
    if specialise and n_actions == 2 and kind == BOLTZMANN:
        _draw_agent_two_actions(i, q, beta, gamma, alpha, faq_beta, rule, key, base, hot, rates)
        return
    learns = kind != FIXED
    for s in range(n_states):
        q_row = q[i, s]
        policy_row_s = policy[s]
        policy_row(kind, q_row, beta, epsilon, fixed_policy[t, s], policy_row_s)
        action = sample_index(policy_row_s, uniform(key, base + np.uint64(i * n_states + s)))
        hot[i, n_states + s] = action
        hot[i, s] = gamma * bootstrap_value(rule, q_row, policy_row_s, action)
        rates[i, s] = alpha * faq_scale(faq_beta, policy_row_s[action]) if learns else 0.0


@njit(cache=True, inline="always")
def _draw_agent_two_actions(i, q, beta, gamma, alpha, faq_beta, rule, key, base, hot, rates):
    """:func:`_draw_agent` of a Boltzmann agent unrolled for M = 2, with the same floating-point operations in
    the same order as ``softmax_row``, ``sample_index`` and ``bootstrap_value`` (so the result is
    bit-identical)."""
    n_states = q.shape[1]
    for s in range(n_states):
        q0 = q[i, s, 0]
        q1 = q[i, s, 1]
        if q1 > q0:
            w0 = math.exp(beta * (q0 - q1))
            w1 = 1.0
        else:
            w0 = 1.0
            w1 = 1.0 if q1 == q0 else math.exp(beta * (q1 - q0))
        total = w0 + w1
        x0 = w0 / total
        x1 = w1 / total
        # sample_index: 0 if u < x0, else 1 (x1 = 0 forces x0 = 1 > u, so the fallback never differs)
        action = 1.0 if uniform(key, base + np.uint64(i * n_states + s)) >= x0 else 0.0
        hot[i, n_states + s] = action
        if rule == SARSA:  # V(s) = Q(s, a(s)): this state's own draw
            value = q1 if action == 1.0 else q0
        elif rule == EXPECTED_SARSA:
            value = 0.0 + x0 * q0 + x1 * q1  # the loop order of bootstrap_value
        else:  # Q-learning and FAQ
            value = q1 if q1 > q0 else q0
        hot[i, s] = gamma * value
        rates[i, s] = alpha * faq_scale(faq_beta, x1 if action == 1.0 else x0)


@njit(cache=True, inline="always")
def _play_edge(e, edges, edge_state, hot, payoff, cum_transition, key, base, ahead):
    """Sweep B for edge e: the next state and the TD targets r + γ V(s') of both ends (lines 8-10).

    Returns ``(i, j, s, s', target_i, target_j)``; ``base`` is the counter of the step's first edge draw.
    ``hot[i, z]`` holds γ_i V_i(z) (:func:`_draw_agent`). With ``ahead > 0`` (:func:`prefetch_distance`) it
    first prefetches the second end's row of edge ``e + ahead``.
    """
    n_states = cum_transition.shape[0]
    if ahead > 0:
        _prefetch_row(hot, edges[min(e + ahead, edges.shape[0] - 1), 1])
    i = edges[e, 0]
    j = edges[e, 1]
    s = edge_state[e]
    action_i = int(hot[i, n_states + s])
    action_j = int(hot[j, n_states + s])
    u = uniform(key, base + np.uint64(e))
    nxt = 0
    for k in range(n_states - 1):  # #{k : cum[k] <= u}, branch-free (cum[K-1] = 1 > u)
        nxt += cum_transition[s, action_i, action_j, k] <= u
    target_i = reward_at(payoff, s, action_i, action_j, nxt) + hot[i, nxt]
    target_j = reward_at(payoff, s, action_j, action_i, nxt) + hot[j, nxt]
    return i, j, s, nxt, target_i, target_j


@njit(cache=True, inline="always")
def _update_agent(i, q, hot, rates, target_sum, count):
    """Sweep C for agent i: Q(s, a(s)) += rate (mean TD target - Q(s, a(s))) where the agent played in s."""
    n_states = q.shape[1]
    for s in range(n_states):
        if count[s] > 0:
            a = int(hot[i, n_states + s])
            old = q[i, s, a]
            q[i, s, a] = old + rates[i, s] * (target_sum[s] / count[s] - old)


@njit(cache=True, inline="always")
def _draw_all(q, agent_type, learners, key, base, policy, hot, rates, specialise):
    """Sweep A for every agent in order (:func:`_draw_agent`, each agent's type's values looked up here)."""
    alpha, beta, gamma, epsilon, faq_beta, kind, rule, fixed_policy = learners
    for i in range(q.shape[0]):
        t = agent_type[i]
        _draw_agent(
            i,
            q,
            kind[t],
            alpha[t],
            beta[t],
            gamma[t],
            epsilon[t],
            faq_beta[t],
            rule[t],
            fixed_policy,
            t,
            key,
            base,
            policy,
            hot,
            rates,
            specialise,
        )


@njit(cache=True, inline="always")
def _settle_all(q, agent_type, learners, key, next_base, policy, hot, rates, specialise, draw_next):
    """Sweep C of the serial kernels for every agent, from the TD-target sums and counts in ``hot``, which it
    clears; fused with sweep A of the next step when ``draw_next`` (Q is read once per step)."""
    alpha, beta, gamma, epsilon, faq_beta, kind, rule, fixed_policy = learners
    n_states = q.shape[1]
    sums, counts = 2 * n_states, 3 * n_states
    for i in range(q.shape[0]):
        for s in range(n_states):
            if hot[i, counts + s] > 0.0:
                a = int(hot[i, n_states + s])
                old = q[i, s, a]
                q[i, s, a] = old + rates[i, s] * (hot[i, sums + s] / hot[i, counts + s] - old)
            hot[i, sums + s] = 0.0
            hot[i, counts + s] = 0.0
        if draw_next:
            t = agent_type[i]
            _draw_agent(
                i,
                q,
                kind[t],
                alpha[t],
                beta[t],
                gamma[t],
                epsilon[t],
                faq_beta[t],
                rule[t],
                fixed_policy,
                t,
                key,
                next_base,
                policy,
                hot,
                rates,
                specialise,
            )


@njit(cache=True, nogil=True)
def _run_steps_jit(
    q,
    edge_state,
    edges,
    payoff,
    cum_transition,
    agent_type,
    learners,
    key,
    first_step,
    n_steps,
    specialise=True,
    prefetch=True,
):
    """The compiled serial kernel of :func:`run_steps` (arguments typed by it: one signature)."""
    if n_steps <= 0:
        return
    n_agents, n_states, n_actions = q.shape
    n_edges = edges.shape[0]
    policy = np.empty((n_states, n_actions))
    hot = np.zeros((n_agents, 4 * n_states))
    rates = np.empty((n_agents, n_states))
    sums, counts = 2 * n_states, 3 * n_states
    agent_draws = np.uint64(n_agents * n_states)
    draws_per_step = np.uint64(n_agents * n_states + n_edges)
    _draw_all(q, agent_type, learners, key, np.uint64(first_step) * draws_per_step, policy, hot, rates, specialise)
    last_step = first_step + n_steps - 1
    ahead = prefetch_distance(edges, n_agents, hot.shape[1] * 8) if prefetch else 0
    for t in range(first_step, first_step + n_steps):
        base = np.uint64(t) * draws_per_step
        for e in range(n_edges):  # sweep B
            i, j, s, nxt, target_i, target_j = _play_edge(
                e, edges, edge_state, hot, payoff, cum_transition, key, base + agent_draws, ahead
            )
            hot[i, sums + s] += target_i
            hot[i, counts + s] += 1.0
            hot[j, sums + s] += target_j
            hot[j, counts + s] += 1.0
            edge_state[e] = nxt
        _settle_all(q, agent_type, learners, key, base + draws_per_step, policy, hot, rates, specialise, t < last_step)


@njit(cache=True, nogil=True)
def _run_group_steps_jit(
    q,
    group_state,
    pointer,
    member,
    size_index,
    payoff,
    cum_transition,
    agent_type,
    learners,
    key,
    first_step,
    n_steps,
    specialise=True,
):
    """The compiled serial kernel of :func:`run_group_steps` (arguments typed by it: one signature).

    Sweep B plays the groups in order: the number m of members choosing action 0 in the group's state, the next
    state from ``cum_transition[size, s, m]``, then every member's TD target ``payoff[size, s, a, j, s'] +
    γ V(s')`` (j = m minus its own cooperation) into its row, member after member.
    """
    if n_steps <= 0:
        return
    n_agents, n_states, n_actions = q.shape
    n_groups = pointer.shape[0] - 1
    policy = np.empty((n_states, n_actions))
    hot = np.zeros((n_agents, 4 * n_states))
    rates = np.empty((n_agents, n_states))
    sums, counts = 2 * n_states, 3 * n_states
    agent_draws = np.uint64(n_agents * n_states)
    draws_per_step = np.uint64(n_agents * n_states + n_groups)
    _draw_all(q, agent_type, learners, key, np.uint64(first_step) * draws_per_step, policy, hot, rates, specialise)
    last_step = first_step + n_steps - 1
    for t in range(first_step, first_step + n_steps):
        base = np.uint64(t) * draws_per_step + agent_draws
        for g in range(n_groups):  # sweep B
            s = group_state[g]
            cooperating = 0
            for h in range(pointer[g], pointer[g + 1]):
                cooperating += hot[member[h], n_states + s] == 0.0
            z = size_index[g]
            u = uniform(key, base + np.uint64(g))
            nxt = 0
            for k in range(n_states - 1):  # #{k : cum[k] <= u}, branch-free (cum[K-1] = 1 > u)
                nxt += cum_transition[z, s, cooperating, k] <= u
            for h in range(pointer[g], pointer[g + 1]):
                i = member[h]
                a = int(hot[i, n_states + s])
                co_players = cooperating - (a == 0)
                hot[i, sums + s] += payoff[z, s, a, co_players, nxt] + hot[i, nxt]
                hot[i, counts + s] += 1.0
            group_state[g] = nxt
        next_base = np.uint64(t + 1) * draws_per_step
        _settle_all(q, agent_type, learners, key, next_base, policy, hot, rates, specialise, t < last_step)


def incidence(edges: np.ndarray, n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """Every agent's half-edges in increasing edge order, as CSR: ``pointer`` (agent + 1,), ``half_edge``.

    Half-edge ``2 e + side`` is edge e seen from its first (side 0) or second (side 1) agent. Summing an
    agent's TD targets in this order repeats the serial kernel's order exactly.
    """
    owner = edges.reshape(-1)  # half-edge h = 2 e + side belongs to edges[e, side]
    half_edge = np.argsort(owner, kind="stable").astype(np.int64)
    pointer = np.zeros(n_agents + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=n_agents), out=pointer[1:])
    return pointer, half_edge


@njit(cache=True, parallel=True)
def _run_steps_parallel_jit(
    q,
    edge_state,
    edges,
    payoff,
    cum_transition,
    agent_type,
    learners,
    key,
    first_step,
    n_steps,
    pointer,
    half_edge,
    specialise=True,
    prefetch=True,
):
    """The compiled threaded kernel of :func:`run_steps_parallel` (arguments typed by it: one signature)."""
    if n_steps <= 0:
        return
    alpha, beta, gamma, epsilon, faq_beta, kind, rule, fixed_policy = learners  # once, not per agent
    n_agents, n_states, n_actions = q.shape
    n_edges = edges.shape[0]
    hot = np.zeros((n_agents, 2 * n_states))  # γ V and actions; the sums are per thread
    rates = np.empty((n_agents, n_states))
    half_target = np.empty(2 * n_edges)
    next_state = np.empty_like(edge_state)
    agent_draws = np.uint64(n_agents * n_states)
    draws_per_step = np.uint64(n_agents * n_states + n_edges)
    n_chunks = min(n_agents, 1024)
    n_edge_chunks = min(n_edges, 1024)
    last_step = first_step + n_steps - 1
    ahead = prefetch_distance(edges, n_agents, hot.shape[1] * 8) if prefetch else 0
    last_half = 2 * n_edges - 1
    base = np.uint64(first_step) * draws_per_step
    for c in prange(n_chunks):
        policy = np.empty((n_states, n_actions))
        for i in range(c * n_agents // n_chunks, (c + 1) * n_agents // n_chunks):
            _draw_agent(
                i,
                q,
                kind[agent_type[i]],
                alpha[agent_type[i]],
                beta[agent_type[i]],
                gamma[agent_type[i]],
                epsilon[agent_type[i]],
                faq_beta[agent_type[i]],
                rule[agent_type[i]],
                fixed_policy,
                agent_type[i],
                key,
                base,
                policy,
                hot,
                rates,
                specialise,
            )
    for t in range(first_step, first_step + n_steps):
        base = np.uint64(t) * draws_per_step
        for c in prange(n_edge_chunks):  # sweep B
            for e in range(c * n_edges // n_edge_chunks, (c + 1) * n_edges // n_edge_chunks):
                _, _, _, nxt, target_i, target_j = _play_edge(
                    e, edges, edge_state, hot, payoff, cum_transition, key, base + agent_draws, ahead
                )
                half_target[2 * e] = target_i
                half_target[2 * e + 1] = target_j
                next_state[e] = nxt
        next_base = base + draws_per_step
        for c in prange(n_chunks):  # sweep C (gather in edge order), fused with sweep A of the next step
            policy = np.empty((n_states, n_actions))
            target_sum = np.empty(n_states)
            count = np.empty(n_states)
            for i in range(c * n_agents // n_chunks, (c + 1) * n_agents // n_chunks):
                for s in range(n_states):
                    target_sum[s] = 0.0
                    count[s] = 0.0
                for h in range(pointer[i], pointer[i + 1]):
                    if ahead > 0:
                        far = half_edge[min(h + ahead, last_half)]
                        _prefetch_row(half_target, far)
                        _prefetch_row(edge_state, far >> 1)
                    half = half_edge[h]
                    s = edge_state[half >> 1]
                    target_sum[s] += half_target[half]
                    count[s] += 1.0
                _update_agent(i, q, hot, rates, target_sum, count)
                if t < last_step:
                    _draw_agent(
                        i,
                        q,
                        kind[agent_type[i]],
                        alpha[agent_type[i]],
                        beta[agent_type[i]],
                        gamma[agent_type[i]],
                        epsilon[agent_type[i]],
                        faq_beta[agent_type[i]],
                        rule[agent_type[i]],
                        fixed_policy,
                        agent_type[i],
                        key,
                        next_base,
                        policy,
                        hot,
                        rates,
                        specialise,
                    )
        for e in range(n_edges):
            edge_state[e] = next_state[e]


# ----------------------------------------------------------------------------------------------
# the entry points: one argument type per kernel, so each compiles once (a readonly view of the
# read-only inputs costs nothing; numba compiles a new copy of a kernel for every new combination of
# readonly flags and omitted defaults)
# ----------------------------------------------------------------------------------------------
def _readonly(array: np.ndarray) -> np.ndarray:
    view = np.asarray(array).view()
    view.flags.writeable = False
    return view


def _typed(edges, payoff, cum_transition, learners, agent_type, key, first_step, n_steps) -> tuple:
    """The shared arguments of both kernels, in the one type each compiles for (the payoff as U(s, a, b, z),
    :func:`marldyn.games.next_state_form`, whatever the game)."""
    return (
        _readonly(edges),
        _readonly(next_state_form(payoff)),
        _readonly(cum_transition),
        _readonly(np.ascontiguousarray(agent_type, dtype=np.int64)),
        learners.kernel_arrays(),
        np.uint64(key),
        int(first_step),
        int(n_steps),
    )


def run_steps(
    q,
    edge_state,
    edges,
    payoff,
    cum_transition,
    learners,
    agent_type,
    key,
    first_step,
    n_steps,
    specialise=True,
    prefetch=True,
):
    """Advance ``q`` and ``edge_state`` in place by ``n_steps`` steps, starting at step ``first_step``.

    Arguments are those of :func:`marldyn.simulation.reference.step`; ``q`` (agent, state, action)
    and ``edge_state`` (edge,) are modified in place. ``specialise=False`` forces the generic (any M)
    action draw also for M = 2, ``prefetch=False`` turns prefetching off (same results, for tests and
    benchmarks). The compiled kernel releases the GIL, so independent runs can share a process on several
    threads.
    """
    inputs = _typed(edges, payoff, cum_transition, learners, agent_type, key, first_step, n_steps)
    _run_steps_jit(q, edge_state, *inputs, bool(specialise), bool(prefetch))


def run_steps_parallel(
    q,
    edge_state,
    edges,
    payoff,
    cum_transition,
    learners,
    agent_type,
    key,
    first_step,
    n_steps,
    pointer,
    half_edge,
    specialise=True,
    prefetch=True,
):
    """:func:`run_steps` on several threads, bit-identical to it for any number of threads.

    Each step: (B) every edge, in parallel, draws its next state and writes the TD targets of its two ends
    into its two half-edge slots; (C + A) every agent, in parallel, sums its own half-edges in edge order —
    the serial kernel's order, so the floating-point sums are the same — updates its Q and draws the next
    step's actions. No two threads write the same memory. ``pointer, half_edge`` come from :func:`incidence`.
    """
    inputs = _typed(edges, payoff, cum_transition, learners, agent_type, key, first_step, n_steps)
    _run_steps_parallel_jit(
        q, edge_state, *inputs, _readonly(pointer), _readonly(half_edge), bool(specialise), bool(prefetch)
    )


def run_group_steps(
    q,
    group_state,
    pointer,
    member,
    size_index,
    payoff,
    cum_transition,
    learners,
    agent_type,
    key,
    first_step,
    n_steps,
    specialise=True,
):
    """Advance ``q`` and ``group_state`` of a group game in place by ``n_steps`` steps from ``first_step``.

    Arguments are those of :func:`marldyn.simulation.reference.group_step`, bit-identical to it; releases the
    GIL like :func:`run_steps`. With the groups the edges (size 2) and the tables of
    :func:`marldyn.group_games.as_group_game` it is bit for bit :func:`run_steps` of the pairwise game.
    """
    _run_group_steps_jit(
        q,
        group_state,
        _readonly(pointer),
        _readonly(member),
        _readonly(size_index),
        _readonly(payoff),
        _readonly(cum_transition),
        _readonly(np.ascontiguousarray(agent_type, dtype=np.int64)),
        learners.kernel_arrays(),
        np.uint64(key),
        int(first_step),
        int(n_steps),
        bool(specialise),
    )
