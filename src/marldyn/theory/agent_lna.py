"""The LNA around a per-agent fixed point: agent types that move the fixed point, on the actual graph.

With committed agents, or types that differ in β, ε, γ or the TD target, the learners no longer share one
fixed point Q*: each agent's stationary Q depends on who its neighbours are. This module carries the
linear-noise approximation of :mod:`marldyn.theory.lna` over to that case. Derivation: ``docs/fluctuations.md``
("Agents at their own fixed points"); summary (agent i with edges f = (i, l), d = K M entries per agent):

- **Edge states.** Every edge e = (i, j) is in state s with its own pair-stationary probability
  p_e(s) = p*(s | Q_i, Q_j) (eq. 18 with the edge's two policies), the edges independently: the
  approximation the homogeneous LNA makes too (its counts n_s are binomial), here with a different p per edge.
- **Drift, exact under that law.** One simulator step moves Q_i(s, a) by α_i c_i(s, a) 1[a_i(s) = a] times
  the mean TD error over the n_i(s) edges of i in state s. With δ̄_f(s, a) the mean TD error of i's edge f
  (its neighbour's own policy, its own orientation of T):

      μ_i(s, a) = α_i X_i(s, a) c_i(s, a) Σ_f w_f(s) δ̄_f(s, a),   w_f(s) = E[1[σ_f = s] / n_i(s)]     [A1]

  which is eq. (9) with the neighbourhood resolved edge by edge. E is over the K^k edge-state configurations
  σ of i's k edges (enumerated exactly, :data:`ENUMERATION_LIMIT`).
- **Fixed point.** Q*_i solves Σ_f w_f(s) δ̄_f(s, a) = 0 for every learner, jointly (the edges couple
  them); committed agents keep their table. An edge's own δ̄_f no longer vanishes there.
- **Noise.** D = Cov(ΔQ) of one step at Q*, by the law of total covariance over σ [A2-A5]: own blocks from the
  enumeration (actions are drawn once per state, so an agent's edges in one state share its action);
  neighbours i ~ j share edge e (both TD errors use both actions and the same next state; ρ terms because
  δ̄_f ≠ 0); agents with a common neighbour l meet l's one action; and Cov_σ of the conditional means for
  neighbours (their counts share σ_e). Nothing is assumed to be a martingale: E[ΔQ | σ] ≠ 0 edge by edge.
- **Linear map.** J = ∂μ/∂Q by central finite differences of [A1] (μ_i depends on Q_i and its
  neighbours' Q only, so one column changes 1 + k rows); C = (I + J) C (I + J)ᵀ + D over the learners'
  entries (discrete Lyapunov, dense).

Outputs (:class:`~marldyn.theory.lna.LNAResult`): the population's across-agent covariance within a run now
adds the spread of the agents' own fixed points (and of the committed agents' tables) to the fluctuations.
Accuracy: the linearisation error is O(α) relative (measured in ``docs/fluctuations.md``).
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
from scipy.linalg import block_diag, solve_discrete_lyapunov
from scipy.optimize import root

from ..errors import ConfigError, ConvergenceError
from ..graphs import Graph
from ..learning import FAQ, Q_LEARNING, RULES, SARSA, bootstrap_values, played_weight
from ..policy import EPSILON_GREEDY, POLICIES, agent_policies
from .lna import SWITCHING_MARGIN, LNAResult, fixed_point, run_averaged_variables
from .markov import edge_transition_matrix, stationary_distribution

__all__ = [
    "ENUMERATION_LIMIT",
    "AgentNetwork",
    "agent_fixed_point",
    "solve_agent_lna",
]

ENUMERATION_LIMIT = 65536  # largest K^k of edge-state configurations enumerated for one agent
STEP = 1e-6  # relative finite-difference step of the Jacobians


class AgentNetwork:
    """The learners of a graph with agent types, and the exact one-step moments of their Q under independent edges.

    Parameters
    ----------
    game : Game
    graph : Graph
    learners : marldyn.agents.Learners
        The agent types (``Config.learners``).
    agent_type : array_like of int, shape (agent,)
        Each agent's type (``Learners.assign``).

    Attributes
    ----------
    moving : ndarray of bool, shape (agent,)
        The agents whose Q moves: not committed, at least one edge.

    Raises
    ------
    ConfigError
        SARSA learners (their own-action coupling across states is not derived), or an agent with more than
        :data:`ENUMERATION_LIMIT` edge-state configurations K^k.

    Examples
    --------
    A committed cooperator among three Q-learners on a ring of four: the learners' drift at Q = 0.

    >>> import numpy as np
    >>> import marldyn
    >>> from marldyn.theory.agent_lna import AgentNetwork
    >>> config = marldyn.parse_config({"graph": {"kind": "complete", "n": 4}, "agent_types": [
    ...     {"name": "committed", "agents": [0], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]})
    >>> game, graph = config.build_game(), marldyn.graphs.from_edges([(0, 1), (1, 2), (2, 3), (3, 0)])
    >>> learners = config.learners(game, 4)
    >>> network = AgentNetwork(game, graph, learners, learners.assign(4, None))
    >>> network.moving.tolist()
    [False, True, True, True]
    >>> network.drift(np.zeros((4, 2, 2))).shape
    (4, 2, 2)
    """

    def __init__(self, game, graph: Graph, learners, agent_type):
        payoff, transition = game.arrays()
        self.payoff, self.transition = payoff, transition
        self.n_agents = graph.n_agents
        self.n_states, self.n_actions = payoff.shape[:2]
        agent_type = np.asarray(agent_type, dtype=np.int64).reshape(-1)
        if agent_type.shape != (graph.n_agents,) or np.any(agent_type < 0) or np.any(agent_type >= learners.n_types):
            raise ConfigError(
                f"agent_type must hold one type index in [0, {learners.n_types}) per agent ({graph.n_agents})"
            )
        self.learners, self.agent_type = learners, agent_type
        rule = learners.rule[agent_type]
        if np.any((rule == SARSA) & ~learners.committed[agent_type]):
            raise ConfigError("the LNA does not derive SARSA (its TD error couples the own actions across states)")
        self.alpha = learners.alpha[agent_type]
        self.gamma = learners.gamma[agent_type]
        self.target = np.where(rule == FAQ, Q_LEARNING, rule)  # FAQ bootstraps like Q-learning
        self.faq_beta = learners.faq_beta[agent_type]
        self.kind = learners.policy[agent_type]
        edges = np.asarray(graph.edges, dtype=np.int64).reshape(-1, 2)
        self.edges = edges
        # per agent: its edges, neighbours and whether it is the edge's first end (which orients T)
        self.edge_of = [[] for _ in range(graph.n_agents)]
        self.other = [[] for _ in range(graph.n_agents)]
        self.first = [[] for _ in range(graph.n_agents)]
        for e, (u, v) in enumerate(edges):
            for owner, neighbor, first in ((u, v, True), (v, u, False)):
                self.edge_of[owner].append(e)
                self.other[owner].append(neighbor)
                self.first[owner].append(first)
        self.edge_of = [np.array(x, dtype=np.int64) for x in self.edge_of]
        self.other = [np.array(x, dtype=np.int64) for x in self.other]
        self.first = [np.array(x, dtype=bool) for x in self.first]
        self.degree = np.array([x.size for x in self.edge_of])
        self.moving = ~learners.committed[agent_type] & (self.degree > 0)
        self.movers = np.flatnonzero(self.moving)  # the learners' agent ids, in the order of J, D and C
        self.index = -np.ones(graph.n_agents, dtype=np.int64)  # agent id -> its row block among the learners
        self.index[self.movers] = np.arange(self.movers.size)
        for i in self.movers:
            if float(self.n_states) ** self.degree[i] > ENUMERATION_LIMIT:
                raise ConfigError(
                    f"the LNA at per-agent fixed points enumerates each learner's K^k edge-state configurations: "
                    f"agent {i} has degree {self.degree[i]}, {self.n_states}^{self.degree[i]} > {ENUMERATION_LIMIT}; "
                    "use method 'sde-graph'"
                )
        self._configurations = {}
        self._groups = None  # the colouring of the Jacobian (:meth:`_colors`), made on first use

    # -- the agents' policies, values and edge-state distributions ------------------------------------------

    def policies(self, q) -> np.ndarray:
        """X_i(s, a) of every agent (agent, state, action): its type's policy of its Q, or its fixed table."""
        learners = self.learners
        return agent_policies(
            np.ascontiguousarray(q, dtype=np.float64),
            self.agent_type,
            learners.policy,
            learners.beta,
            learners.epsilon,
            learners.fixed_policy,
        )

    def edge_distribution(self, policy, edges=None) -> np.ndarray:
        """p_e(s), the pair-stationary state distribution of each edge (edge, state) (eq. 18)."""
        ends = self.edges if edges is None else self.edges[edges]
        matrix = edge_transition_matrix(policy[ends[:, 0]], policy[ends[:, 1]], self.transition)
        return stationary_distribution(matrix)

    def _half_edges(self, q, policy, agents):
        """TD-error moments of agents of one degree k on each of their edges f, each with a leading (agent,) axis:
        d(s, a, b, z), T_f(s, a, b, z) (oriented: the agent's action first), r_f(s, a, b), δ̄_f(s, a), v_f(s, a)."""
        value = np.empty((agents.size, self.n_states))
        for code in np.unique(self.target[agents]):  # V(z) of each agent's rule
            mine = self.target[agents] == code
            drawn = np.zeros((int(mine.sum()), self.n_states), dtype=np.int64)
            value[mine] = bootstrap_values(int(code), q[agents[mine]], policy[agents[mine]], drawn)
        first = np.stack([self.first[i] for i in agents])  # (n, f)
        oriented = np.where(
            first[:, :, None, None, None, None], self.transition, self.transition.transpose(0, 2, 1, 3)
        )  # (n, f, s, a, b, z)
        error = self.payoff + (self.gamma[agents, None] * value)[:, None, None, None, :] - q[agents][..., None, None]
        expected = np.einsum("nfsabz,nsabz->nfsab", oriented, error)  # r_f(s, a, b)
        second = np.einsum("nfsabz,nsabz->nfsab", oriented, error**2)
        neighbor = policy[np.stack([self.other[i] for i in agents])]  # (n, f, s, b)
        mean = np.einsum("nfsb,nfsab->nfsa", neighbor, expected)
        variance = np.einsum("nfsb,nfsab->nfsa", neighbor, second) - mean**2
        return error, oriented, expected, mean, variance

    def _states(self, k):
        if k not in self._configurations:
            sigma = np.array(list(itertools.product(range(self.n_states), repeat=k)), dtype=np.int64).reshape(-1, k)
            onehot = (sigma[:, :, None] == np.arange(self.n_states)).astype(np.float64)  # (c, f, s)
            count = onehot.sum(axis=1)
            inverse = np.divide(1.0, count, out=np.zeros_like(count), where=count > 0)  # 1[n_s ≥ 1] / n_s
            self._configurations[k] = (sigma, onehot, inverse)
        return self._configurations[k]

    def _enumerate(self, distribution, agents):
        """Weights (agent, c) of the edge-state configurations of agents of one degree, their one-hot states
        (c, f, s) and 1 / n_s (c, s)."""
        sigma, onehot, inverse = self._states(int(self.degree[agents[0]]))
        rows = distribution[np.stack([self.edge_of[i] for i in agents])]  # (n, f, s)
        weight = np.prod(rows[:, np.arange(sigma.shape[1]), sigma], axis=2)  # Π_f p_f(σ_f), (n, c)
        return weight, onehot, inverse

    # -- drift [A1] --------------------------------------------------------------------------------------

    def _td_average(self, q, policy, distribution, agents) -> np.ndarray:
        """Σ_f w_f(s) δ̄_f(s, a) of agents of one degree (agent, state, action): the edge-averaged TD error whose
        roots are the Q*_i; ``distribution`` is every edge's p_e (edge, state)."""
        _, _, _, mean, _ = self._half_edges(q, policy, agents)
        weight, onehot, inverse = self._enumerate(distribution, agents)
        edge_weight = np.einsum("nc,cfs,cs->nfs", weight, onehot, inverse, optimize=True)  # w_f(s)
        return np.einsum("nfs,nfsa->nsa", edge_weight, mean)

    def _rate(self, policy, agents) -> np.ndarray:
        """α_i X_i c_i = α_i min(X_i, faq_beta_i) (agent, state, action)."""
        return self.alpha[agents, None, None] * played_weight(policy[agents], self.faq_beta[agents, None, None])

    def _drift_of(self, q, policy, distribution, agents) -> np.ndarray:
        return self._rate(policy, agents) * self._td_average(q, policy, distribution, agents)

    def drift(self, q) -> np.ndarray:
        """μ_i(s, a) of every agent, eq. [A1] (agent, state, action), Q per step; zero for agents that do not move.

        Parameters
        ----------
        q : array_like, shape (agent, state, action)
        """
        q = np.asarray(q, dtype=np.float64)
        out = np.zeros_like(q)
        if self.movers.size:
            out[self.movers] = self._local(q, self.movers, self._drift_of)
        return out

    def _local(self, q, agents, function, base=None, changed=None):
        """``function(q, policy, distribution, group)`` for the agents in ``agents`` (agent, state, action), in
        groups of one degree; with ``base`` (every edge's p_e at another Q) only the edges of the ``changed``
        agents get their p_e recomputed."""
        policy = self.policies(q)
        if base is None:
            distribution = self.edge_distribution(policy)
        else:
            distribution = base.copy()
            edges = np.concatenate([self.edge_of[j] for j in changed])
            if edges.size:
                distribution[edges] = self.edge_distribution(policy, edges)
        agents = np.asarray(agents, dtype=np.int64)
        out = np.empty((agents.size, self.n_states, self.n_actions))
        degree = self.degree[agents]
        for k in np.unique(degree):
            group = degree == k
            out[group] = function(q, policy, distribution, agents[group])
        return out

    def _colors(self) -> list:
        """The moving agents in groups of pairwise distance ≥ 3 (a greedy colouring of the graph's square): the
        rows {j} ∪ N(j) that a change of Q_j moves are disjoint within a group."""
        if self._groups is None:
            graph = nx.Graph()
            graph.add_nodes_from(range(self.n_agents))
            graph.add_edges_from(self.edges.tolist())
            square = nx.power(graph, 2)
            color = nx.coloring.greedy_color(square.subgraph(self.movers.tolist()), strategy="largest_first")
            groups = {}
            for j in self.movers:
                groups.setdefault(color[int(j)], []).append(int(j))
            self._groups = [np.array(sorted(g), dtype=np.int64) for _, g in sorted(groups.items())]
        return self._groups

    def _jacobian(self, q, function, scale) -> np.ndarray:
        """∂ function_i / ∂Q_j over the moving agents by central differences, (L d, L d). Only i ∈ {j} ∪ N(j)
        change when Q_j does (through X_j, V_j and the p_e of j's edges), so the agents of one colour
        (:meth:`_colors`) are perturbed together and each row is credited to the one agent that moved it."""
        index, d = self.index, self.n_states * self.n_actions
        base = self.edge_distribution(self.policies(q))
        jacobian = np.zeros((self.movers.size * d, self.movers.size * d))
        for members in self._colors():
            rows, position = [], []  # the rows each member moves, and that member's place in ``members``
            for m, j in enumerate(members):
                mine = [j] + [int(l) for l in self.other[j] if self.moving[l]]
                rows += mine
                position += [m] * len(mine)
            rows = np.array(rows, dtype=np.int64)
            for entry in range(d):
                s, a = divmod(entry, self.n_actions)
                h = STEP * np.maximum(np.maximum(1.0, np.abs(q[members, s, a])), scale)
                plus, minus = q.copy(), q.copy()
                plus[members, s, a] += h
                minus[members, s, a] -= h
                up = self._local(plus, rows, function, base, members)
                down = self._local(minus, rows, function, base, members)
                change = (up - down) / (2.0 * h[position, None, None])
                for r, (i, m) in enumerate(zip(rows, position, strict=True)):
                    jacobian[index[i] * d : (index[i] + 1) * d, index[members[m]] * d + entry] = change[r].reshape(-1)
        return jacobian

    # -- noise [A2-A5] ----------------------------------------------------------------------------------

    def _agent_moments(self, q, policy, distribution, i) -> dict:
        one = np.array([i])
        error, oriented, expected, mean, variance = (x[0] for x in self._half_edges(q, policy, one))
        weight, onehot, inverse = self._enumerate(distribution, one)
        weight = weight[0]
        rate = self._rate(policy, one)[0]  # α X c
        squared = np.divide(rate**2, policy[i], out=np.zeros_like(rate), where=policy[i] > 0)  # α² c² X
        total = np.einsum("cfs,fsa->csa", onehot, mean)  # S(σ; s, a) = Σ_{f in s} δ̄_f
        spread = np.einsum("cfs,fsa->csa", onehot, variance)  # Σ_{f in s} v_f
        averaged = total * inverse[:, :, None]  # S / n_s
        conditional = rate * averaged  # g(σ) = E[ΔQ_i | σ]
        drift = weight @ conditional.reshape(weight.size, -1)
        d = drift.size
        weighted = weight[:, None] * conditional.reshape(weight.size, d)
        second = (weighted.T @ conditional.reshape(weight.size, d)).reshape(
            self.n_states, -1, self.n_states, d // self.n_states
        )
        same = np.einsum("c,csa->sa", weight, (spread + total**2) * inverse[:, :, None] ** 2) * squared
        for s in range(self.n_states):
            second[s, :, s, :] = np.diag(same[s])
        own = second.reshape(d, d) - np.outer(drift, drift)
        drift = drift.reshape(rate.shape)
        # contractions over the configurations c as matrix products (no (c, f, s, e, t) intermediate)
        share = weight[:, None] * inverse  # w_c / n_s, (c, s)
        edge_weight = np.einsum("cfs,cs->fs", onehot, share)  # H1[f, s] = E[1[σ_f = s] / n_s]
        k = onehot.shape[1]
        flat = onehot.reshape(weight.size, -1)  # (c, e t)
        given = (flat.T @ (weight[:, None] * averaged.reshape(weight.size, -1))).reshape(k, self.n_states, *rate.shape)
        pair = (flat.T @ (onehot * share[:, None, :]).reshape(weight.size, -1)).reshape(
            k, self.n_states, k, self.n_states
        )
        pair = pair.transpose(2, 0, 1, 3)  # H2[f, e, t, s] = E[1[σ_f = s] 1[σ_e = t] / n_s]
        return dict(
            drift=drift,
            own=own,
            rate=rate,
            error=error,
            oriented=oriented,
            expected=expected,
            mean=mean,
            edge_weight=edge_weight,
            given=given,
            pair=pair,
        )

    def noise(self, q) -> np.ndarray:
        """D = Cov(ΔQ) of one step over the moving agents' entries, (L d, L d), eqs. [A2-A5].

        Exact for edge states drawn independently from their pair-stationary laws p_e (``docs/fluctuations.md``).

        Parameters
        ----------
        q : array_like, shape (agent, state, action)
        """
        q = np.asarray(q, dtype=np.float64)
        policy = self.policies(q)
        distribution = self.edge_distribution(policy)
        movers, index = self.movers, self.index
        terms = {i: self._agent_moments(q, policy, distribution, i) for i in movers}
        K, M = self.n_states, self.n_actions
        d = K * M
        noise = np.zeros((movers.size * d, movers.size * d))

        def add(i, j, block):
            bi, bj = index[i] * d, index[j] * d
            noise[bi : bi + d, bj : bj + d] += block
            if i != j:
                noise[bj : bj + d, bi : bi + d] += block.T

        def state_diagonal(values):  # (s, a, b) -> (d, d), zero across states
            block = np.zeros((K, M, K, M))
            for s in range(K):
                block[s, :, s, :] = values[s]
            return block.reshape(d, d)

        slot = [{int(e): f for f, e in enumerate(self.edge_of[i])} for i in range(self.n_agents)]
        for i in movers:
            add(i, i, terms[i]["own"])
        for e, (i, j) in enumerate(self.edges):  # [A3], [A5]: the shared edge
            if not (self.moving[i] and self.moving[j]):
                continue
            ti, tj = terms[i], terms[j]
            fi, fj = slot[i][e], slot[j][e]
            p = distribution[e]
            safe = np.where(p > 0, p, 1.0)
            product = np.einsum("sabz,sabz,sbaz->sab", ti["oriented"][fi], ti["error"], tj["error"])
            own_i, own_j = ti["mean"][fi], tj["mean"][fj]  # δ̄_ie(s, a), δ̄_je(s, b)
            r_i, r_j = ti["expected"][fi], tj["expected"][fj].transpose(0, 2, 1)  # (s, a, b)
            h_i, h_j = ti["edge_weight"][fi], tj["edge_weight"][fj]  # E[1[σ_e = s] / n]
            rho_i = np.array([ti["given"][fi, s, s] for s in range(K)]) - own_i * h_i[:, None]
            rho_j = np.array([tj["given"][fj, s, s] for s in range(K)]) - own_j * h_j[:, None]
            values = (
                (product - own_i[:, :, None] * own_j[:, None, :]) * (h_i * h_j)[:, None, None]
                + (r_i - own_i[:, :, None]) * h_i[:, None, None] * rho_j[:, None, :]
                + (r_j - own_j[:, None, :]) * rho_i[:, :, None] * h_j[:, None, None]
            ) / safe[:, None, None]
            values *= ti["rate"][:, :, None] * tj["rate"][:, None, :]
            block = state_diagonal(values)
            mean_i = ti["rate"][None] * ti["given"][fi]  # E[1[σ_e = t] g_i], (t, s, a)
            mean_j = tj["rate"][None] * tj["given"][fj]
            block += np.einsum("tx,ty->xy", mean_i.reshape(K, d) / safe[:, None], mean_j.reshape(K, d))
            block -= np.outer(ti["drift"].reshape(-1), tj["drift"].reshape(-1))
            add(i, j, block)
        for l in range(self.n_agents):  # [A4]: two agents meeting l's one action
            neighbors = self.other[l]
            for x in range(neighbors.size):
                for y in range(x + 1, neighbors.size):
                    i, j = int(neighbors[x]), int(neighbors[y])
                    if not (self.moving[i] and self.moving[j]):
                        continue
                    ti, tj = terms[i], terms[j]
                    f, g = slot[i][int(self.edge_of[l][x])], slot[j][int(self.edge_of[l][y])]
                    common = np.einsum("sc,sac,sbc->sab", policy[l], ti["expected"][f], tj["expected"][g])
                    common -= ti["mean"][f][:, :, None] * tj["mean"][g][:, None, :]
                    shared = [e for e in self.edge_of[i] if int(e) in slot[j]]
                    if shared:  # a triangle: n_i and n_j both count the edge i-j
                        e = int(shared[0])
                        p = distribution[e]
                        safe = np.where(p > 0, p, 1.0)
                        both = np.einsum("ts,ts,t->s", ti["pair"][f, slot[i][e]], tj["pair"][g, slot[j][e]], 1.0 / safe)
                    else:
                        both = ti["edge_weight"][f] * tj["edge_weight"][g]
                    values = common * both[:, None, None] * ti["rate"][:, :, None] * tj["rate"][:, None, :]
                    add(i, j, state_diagonal(values))
        return noise


def _scale(network: AgentNetwork, q) -> float:
    return max(1.0, float(np.abs(network.payoff).max()), float(np.abs(q).max()))


def agent_fixed_point(network: AgentNetwork, q0, *, tolerance=1e-12) -> np.ndarray:
    """Q*_i of every learner: the joint root of Σ_f w_f(s) δ̄_f(s, a) = 0 ([A1]), committed agents fixed.

    Root-finding on the edge-averaged TD error (not on μ, which also vanishes as X → 0), scipy ``hybr`` with the
    local finite-difference Jacobian, then Levenberg–Marquardt if that stalls.

    Parameters
    ----------
    network : AgentNetwork
    q0 : array_like, shape (agent, state, action)
        The start of the search for the learners; the agents that do not move keep theirs.
    tolerance : float
        Largest accepted abs(Σ_f w_f δ̄_f) relative to max(1, max abs(U), max abs(Q)).

    Returns
    -------
    ndarray, shape (agent, state, action)

    Raises
    ------
    ConvergenceError
        If no root is found from ``q0``.

    Examples
    --------
    A committed cooperator on a ring of four: its two neighbours sit at another Q* than the agent opposite it.

    >>> import numpy as np
    >>> import marldyn
    >>> from marldyn.theory.agent_lna import AgentNetwork, agent_fixed_point
    >>> config = marldyn.parse_config({"graph": {"kind": "complete", "n": 4}, "agent_types": [
    ...     {"name": "committed", "agents": [0], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]})
    >>> game, graph = config.build_game(), marldyn.graphs.from_edges([(0, 1), (1, 2), (2, 3), (3, 0)])
    >>> learners = config.learners(game, 4)
    >>> network = AgentNetwork(game, graph, learners, learners.assign(4, None))
    >>> q_star = agent_fixed_point(network, np.zeros((4, 2, 2)))
    >>> bool(np.allclose(q_star[1], q_star[3])), bool(np.allclose(q_star[1], q_star[2]))
    (True, False)
    >>> float(np.abs(network.drift(q_star)).max()) < 1e-12
    True
    """
    q = np.array(q0, dtype=np.float64)
    if q.shape != (network.n_agents, network.n_states, network.n_actions) or not np.all(np.isfinite(q)):
        raise ConfigError(
            f"q0 must be a finite (agent, state, action) = {(network.n_agents, network.n_states, network.n_actions)} "
            "table"
        )
    movers = network.movers
    if movers.size == 0:
        return q

    def unpack(x):
        full = q.copy()
        full[movers] = x.reshape(movers.size, network.n_states, network.n_actions)
        return full

    def residual(x):
        return network._local(unpack(x), movers, network._td_average).reshape(-1)

    def jacobian(x):
        full = unpack(x)
        return network._jacobian(full, network._td_average, _scale(network, full))

    start = q[movers].reshape(-1)
    best = None
    for method, options in (("hybr", {"xtol": 1e-13}), ("lm", {"xtol": 1e-14, "ftol": 1e-14})):
        found = root(residual, start if best is None else best, jac=jacobian, method=method, options=options)
        best = found.x
        if np.all(np.isfinite(found.x)):
            error = float(np.abs(residual(found.x)).max())
            if error <= tolerance * _scale(network, unpack(found.x)):
                return unpack(found.x)
    raise ConvergenceError(
        f"no per-agent fixed point found from the start table (max abs(Σ w δ̄) = {error:.2e}); the learners may not "
        "settle at a point (use method 'sde-graph')"
    )


def _switching_margin(network: AgentNetwork, q_star, covariance) -> float | None:
    """ε-greedy learners: the smallest gap Q*_i(s, g) - Q*_i(s, b) in standard deviations of agent i's gap."""
    movers = network.movers
    greedy = network.kind[movers] == EPSILON_GREEDY
    if not np.any(greedy):
        return None
    K, M = network.n_states, network.n_actions
    d = K * M
    margin = np.inf
    for r in np.flatnonzero(greedy):
        i = movers[r]
        block = covariance[r * d : (r + 1) * d, r * d : (r + 1) * d]
        for s in range(K):
            order = np.argsort(q_star[i, s])[::-1]
            g, b = s * M + order[0], s * M + order[1]
            gap = q_star[i, s, order[0]] - q_star[i, s, order[1]]
            spread = np.sqrt(max(block[g, g] + block[b, b] - 2.0 * block[g, b], 0.0))
            ratio = gap / spread if spread > 0 else (np.inf if gap > 0 else 0.0)
            if ratio < SWITCHING_MARGIN:
                raise ConfigError(
                    f"ε-greedy: agent {i}'s fixed point is {ratio:.2f} standard deviations from its switching surface "
                    f"in s{s + 1} (the LNA needs {SWITCHING_MARGIN:g}); use method 'sde-graph'"
                )
            margin = min(margin, ratio)
    return float(margin)


def solve_agent_lna(game, graph: Graph, learners, agent_type, q0) -> LNAResult:
    """The LNA around the per-agent fixed point of a population whose types move the fixed point.

    Parameters
    ----------
    game : Game
    graph : Graph
    learners : marldyn.agents.Learners
    agent_type : array_like of int, shape (agent,)
    q0 : array_like, shape (agent, state, action)
        The committed agents' (and isolated agents') Q, which they keep, and the learners' start of the
        fixed-point search.

    Returns
    -------
    LNAResult
        Population summaries (K, M) over all N agents: ``fixed_point`` and ``policy`` are the means of Q*_i
        and X*_i, ``state_distribution`` the mean of p_e; ``within_covariance`` adds the across-agent spread of
        the Q*_i to the fluctuations' (1/N) Σ_i C_ii - (1/N²) Σ_ij C_ij, ``mean_covariance`` is
        (1/N²) Σ_ij C_ij; ``policy_std`` the delta method with each agent's ∂X_i/∂Q_i. ``blocks`` holds the
        per-agent ``agent_fixed_point``, ``agent_policy`` (agent, state, action), ``edge_state_distribution``
        (edge, state), the learners' ``jacobian`` J, ``noise`` D and ``covariance`` C (L d, L d) and
        ``learners`` (their agent ids). Route ``direct``.

    Raises
    ------
    ConfigError
        As :class:`AgentNetwork`; ε-greedy learners within :data:`~marldyn.theory.lna.SWITCHING_MARGIN`
        standard deviations of a switching surface.
    ConvergenceError
        No fixed point, or an unstable one (a mode of I + J outside the unit circle).

    Examples
    --------
    >>> import numpy as np
    >>> import marldyn
    >>> from marldyn.theory.agent_lna import solve_agent_lna
    >>> config = marldyn.parse_config({"graph": {"kind": "lattice", "n": 16}, "learning": {"alpha": 0.001},
    ...     "agent_types": [{"name": "committed", "agents": [0, 10], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]})
    >>> game, graph = config.build_game(), config.build_graph()
    >>> learners = config.learners(game, 16)
    >>> result = solve_agent_lna(game, graph, learners, learners.assign(16, None), np.zeros((16, 2, 2)))
    >>> result.blocks["learners"].size, round(result.relaxation_time) > 1000
    (14, True)
    >>> result.q_std.shape
    (2, 2)
    """
    network = AgentNetwork(game, graph, learners, agent_type)
    return _summary(network, *_stationary(network, q0))


def _stationary(network: AgentNetwork, q0) -> tuple[np.ndarray, dict]:
    """Q* (agent, state, action) from ``q0`` and the learners' J, D, C, each one's C alone, and τ."""
    q_star = agent_fixed_point(network, q0)
    movers = network.movers
    d = network.n_states * network.n_actions
    if not movers.size:
        empty = np.zeros((0, 0))
        return q_star, dict(jacobian=empty, noise=empty, covariance=empty, alone=[], relaxation=0.0)
    jacobian = network._jacobian(q_star, network._drift_of, _scale(network, q_star))
    noise = network.noise(q_star)
    step = np.eye(movers.size * d) + jacobian
    radius = float(np.max(np.abs(np.linalg.eigvals(step))))
    if radius >= 1.0:
        raise ConvergenceError(
            f"the per-agent fixed point is unstable (a mode of I + J has modulus {radius:.6f} ≥ 1): no stationary "
            "fluctuations to linearise"
        )
    covariance = solve_discrete_lyapunov(step, noise)
    blocks = [slice(r * d, (r + 1) * d) for r in range(movers.size)]
    alone = [solve_discrete_lyapunov(step[b, b], noise[b, b]) for b in blocks]
    return q_star, dict(
        jacobian=jacobian,
        noise=noise,
        covariance=0.5 * (covariance + covariance.T),
        alone=alone,
        relaxation=1.0 / (1.0 - radius),
    )


def _summary(network: AgentNetwork, q_star, parts: dict) -> LNAResult:
    """The population summaries of :func:`solve_agent_lna` from Q* (every agent's, the committed agents' own Q
    included) and the learners' stationary covariance ``parts``."""
    movers = network.movers
    K, M = network.n_states, network.n_actions
    d = K * M
    policy = network.policies(q_star)
    jacobian, noise, covariance = parts["jacobian"], parts["noise"], parts["covariance"]
    alone, relaxation = parts["alone"], parts["relaxation"]
    margin = _switching_margin(network, q_star, covariance)
    gradient = block_diag(*_policy_gradients(network, q_star)) if movers.size else np.zeros((0, 0))
    n = network.n_agents

    def across(values):  # (1/N) Σ_i (v_i - v̄)(v_i - v̄)ᵀ of an (agent, state, action) table
        centred = values.reshape(n, d) - values.reshape(n, d).mean(axis=0)
        return centred.T @ centred / n

    def summaries(matrix):  # (1/N) Σ_i C_ii - (1/N²) Σ_ij C_ij and (1/N²) Σ_ij C_ij of a (L d, L d) matrix
        blocks = matrix.reshape(movers.size, d, movers.size, d)
        total = blocks.sum(axis=(0, 2)) / n**2
        return np.einsum("rarb->ab", blocks) / n - total, total

    within, mean = summaries(covariance)
    within = within + across(q_star)
    policy_within, _ = summaries(gradient @ covariance @ gradient.T)
    policy_within = policy_within + across(policy)
    alone_within, alone_mean = summaries(block_diag(*alone) if alone else np.zeros((0, 0)))
    alone_within = alone_within + across(q_star)

    def std(matrix):
        return np.sqrt(np.clip(np.diag(matrix), 0.0, None)).reshape(K, M)

    distribution = network.edge_distribution(policy) if network.edges.size else np.zeros((0, K))
    attrs = {"learners": int(movers.size), "enumeration_limit": ENUMERATION_LIMIT}
    if margin is not None:
        attrs["switching_margin"] = margin
    return LNAResult(
        fixed_point=q_star.mean(axis=0),
        policy=policy.mean(axis=0),
        state_distribution=distribution.mean(axis=0) if distribution.size else np.full(K, np.nan),
        within_covariance=within,
        mean_covariance=mean,
        q_std=std(within),
        q_mean_std=std(mean),
        policy_std=std(policy_within),
        independent={
            "within_covariance": alone_within,
            "mean_covariance": alone_mean,
            "q_std": std(alone_within),
            "q_mean_std": std(alone_mean),
        },
        route="direct",
        relaxation_time=relaxation,
        blocks={
            "agent_fixed_point": q_star,
            "agent_policy": policy,
            "edge_state_distribution": distribution,
            "jacobian": jacobian,
            "noise": noise,
            "covariance": covariance,
            "learners": movers,
        },
        attrs=attrs,
    )


def _policy_gradients(network: AgentNetwork, q_star) -> list:
    """∂X_i/∂Q_i (d, d) of each moving agent by central differences of the policies, one entry of every agent at a
    time (X_i depends on Q_i only); zero for ε-greedy inside a region."""
    K, M = network.n_states, network.n_actions
    movers = network.movers
    gradient = np.zeros((movers.size, K * M, K * M))
    for entry in range(K * M):
        s, a = divmod(entry, M)
        h = STEP * np.maximum(1.0, np.abs(q_star[:, s, a]))
        plus, minus = q_star.copy(), q_star.copy()
        plus[:, s, a] += h
        minus[:, s, a] -= h
        change = (network.policies(plus) - network.policies(minus)) / (2.0 * h[:, None, None])
        gradient[:, :, entry] = change[movers].reshape(movers.size, -1)
    return list(gradient)


def type_starts(game, graph: Graph, learners, table) -> np.ndarray:
    """Each moving type's homogeneous fixed point from ``table`` (type, state, action): where the per-agent
    search starts (``table`` itself for committed types, or where a type has no homogeneous fixed point)."""
    degree = max(int(np.max(graph.degree)) if graph.n_edges else 1, 1)
    starts = np.broadcast_to(np.asarray(table, dtype=np.float64), (learners.n_types,) + np.shape(table)).copy()
    for t in np.flatnonzero(~learners.committed):
        target = Q_LEARNING if learners.rule[t] == FAQ else int(learners.rule[t])
        greedy = learners.policy[t] == EPSILON_GREEDY
        try:
            starts[t] = fixed_point(
                table,
                game,
                beta=float(learners.beta[t]),
                gamma=float(learners.gamma[t]),
                rule=RULES[target],
                policy=POLICIES[int(learners.policy[t])],
                epsilon=float(learners.epsilon[t]) if greedy else None,
                degree=degree,
            )
        except (ConfigError, ConvergenceError):
            pass
    return starts


def agent_lna_dataset_variables(game, graph: Graph, grid, table, learners, assignments, initial_q):
    """Variables of ``theory(config, "lna")`` for types that move the fixed point, averaged over the runs.

    Every run has its own assignment of agents to types (``assignments``, (run, agent)) and its committed agents
    keep their initial Q (``initial_q``, (run, agent, state, action)); the LNA is solved once per distinct
    assignment and averaged over the runs as the simulation's outputs are (``lna.run_averaged_variables``).

    Returns ``(variables, condition, extra)`` for ``entry._dataset``, as ``lna.lna_dataset_variables``.
    """
    starts = type_starts(game, graph, learners, table)
    results, solved = [], {}  # runs with one assignment share Q* and C; their committed agents' Q differ
    for kind, q in zip(np.asarray(assignments), np.asarray(initial_q), strict=True):
        network = AgentNetwork(game, graph, learners, kind)
        moving = network.moving[:, None, None]
        key = kind.tobytes()
        if key not in solved:
            solved[key] = _stationary(network, np.where(moving, starts[kind], q))
        q_star, parts = solved[key]
        results.append(_summary(network, np.where(moving, q_star, q), parts))
    variables = run_averaged_variables(results, np.asarray(grid).size)
    condition = (
        f"stationary fluctuations around each learner's own fixed point Q*_i (the types move it; edge states "
        f"independent at their pair-stationary laws), solved for each of the {len(results)} runs' assignments and "
        "averaged; time-independent"
    )
    extra = {
        "route": "direct",
        "relaxation_time": max(r.relaxation_time for r in results),
        "fixed_point": np.round(variables["q"][0], 12).tolist(),
    }
    margins = [r.attrs["switching_margin"] for r in results if "switching_margin" in r.attrs]
    if margins:
        extra["switching_margin"] = min(margins)
    return variables, condition, extra
