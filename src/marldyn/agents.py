"""Agent types: populations whose agents differ in their learning parameters, and committed agents.

Every agent has one type. A type fixes the agent's policy (``boltzmann``, ``epsilon_greedy``, or a fixed table
for a *committed* agent that never learns), its TD rule and its parameters α, β, γ, ε and faq_beta. Agents of no
``[[agent_types]]`` entry are the type ``"default"`` and follow ``[learning]``; a population without types is one
default type, and then every kernel and theory does exactly what it did before types existed.

:class:`Learners` holds the types as plain per-type arrays (what the numba kernels take) and the rule that
assigns agents to types: explicit agent ids, or exactly ``round(fraction N)`` agents drawn at random in each
run from the run's own seed (:func:`type_seed`), so that a run's assignment does not depend on the number of
runs, workers or chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .errors import ConfigError
from .learning import FAQ, RULES, faq_factor, rule_code
from .policy import BOLTZMANN, FIXED, POLICIES, agent_policies, agent_policies_into, epsilon_of, policy_code

__all__ = [
    "DEFAULT_TYPE",
    "TYPE_RECORDS",
    "Learners",
    "learners_of",
    "member_policies",
    "member_policies_into",
    "type_count",
    "type_means",
    "type_records",
]

DEFAULT_TYPE = "default"
"""The name of the type of agents that no ``[[agent_types]]`` entry names."""
TYPE_RECORDS = ("policy_by_type", "q_by_type")
"""The per-type outputs (agent_type, state, action) of the simulator and the theories, with agent types."""

_ARRAYS = ("alpha", "beta", "gamma", "epsilon", "faq_beta", "policy", "rule", "fixed_policy")


@dataclass(frozen=True, eq=False)
class Learners:
    """The agent types of a population: per-type parameters and the rule that assigns agents to them.

    Attributes
    ----------
    names : tuple of str, length type
        Type names; ``"default"`` (agents of no configured type) is present when some agents have no type.
    alpha, beta, gamma, epsilon, faq_beta : ndarray, shape (type,)
        Learning rate α, inverse temperature β (Boltzmann), discount γ, exploration ε (ε-greedy) and FAQ's
        faq_beta (1 for every rule but FAQ: the factor min(1 / X, 1) is exactly 1) of each type.
    policy : ndarray of int64, shape (type,)
        Policy code (:data:`marldyn.policy.BOLTZMANN`, ``EPSILON_GREEDY``, ``FIXED``).
    rule : ndarray of int64, shape (type,)
        TD-rule code (:func:`marldyn.learning.rule_code`).
    fixed_policy : ndarray, shape (type, state, action)
        The table a ``FIXED`` (committed) type always plays; uniform rows for the other types (unused).
    members : tuple, length type
        Per type: its explicit agent ids (ndarray of int64), or ``None``.
    fractions : tuple, length type
        Per type: the fraction of agents drawn at random in each run, or ``None``.

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config({
    ...     "graph": {"n": 25},
    ...     "agent_types": [{"name": "fast", "fraction": 0.2, "alpha": 0.01},
    ...                     {"name": "committed", "agents": [0, 1], "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}],
    ... })
    >>> learners = config.learners(config.build_game(), n_agents=25)
    >>> learners.names, learners.alpha.tolist(), learners.committed.tolist()
    (('default', 'fast', 'committed'), [0.001, 0.01, 0.001], [False, False, True])
    >>> agent_type = learners.assign(25, np.random.SeedSequence(0))
    >>> np.bincount(agent_type).tolist(), agent_type[:2].tolist()  # 5 = round(0.2 * 25) fast agents
    ([18, 5, 2], [2, 2])
    """

    names: tuple[str, ...]
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    epsilon: np.ndarray
    faq_beta: np.ndarray
    policy: np.ndarray
    rule: np.ndarray
    fixed_policy: np.ndarray
    members: tuple = field(default=())
    fractions: tuple = field(default=())

    @classmethod
    def uniform(
        cls,
        n_states: int,
        n_actions: int,
        alpha: float,
        beta: float,
        gamma: float,
        rule: str | int = "q_learning",
        policy: str = "boltzmann",
        epsilon: float | None = None,
        faq_beta: float | None = None,
    ) -> Learners:
        """One type, ``"default"``, that every agent has: the paper's homogeneous population.

        Examples
        --------
        >>> learners = Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8)
        >>> learners.names, learners.n_types, learners.assign(4, None).tolist()
        (('default',), 1, [0, 0, 0, 0])
        """
        row = _type_row(n_states, n_actions, alpha, beta, gamma, rule, policy, epsilon, faq_beta, None)
        return cls._from_rows([DEFAULT_TYPE], [row], (None,), (None,))

    @classmethod
    def _from_rows(cls, names, rows, members, fractions) -> Learners:
        columns = {key: np.array([row[key] for row in rows]) for key in rows[0]}
        for key in ("policy", "rule"):
            columns[key] = columns[key].astype(np.int64)
        columns["fixed_policy"] = np.ascontiguousarray(columns["fixed_policy"], dtype=np.float64)
        return cls(names=tuple(names), members=tuple(members), fractions=tuple(fractions), **columns)

    @classmethod
    def from_config(cls, config, game, n_agents: int) -> Learners:
        """The types of a validated config for a graph of ``n_agents`` agents (see :meth:`Config.learners`).

        Raises
        ------
        ConfigError
            A ``fixed_policy`` of the wrong shape, agent ids out of range, or fractions that ask for more agents
            than the graph has.
        """
        shape = (game.n_states, game.n_actions)
        learning = config.learning
        base = learning.model_dump()
        names, rows, members, fractions = [], [], [], []
        assigned = 0
        for k, entry in enumerate(config.agent_types):
            where = f"agent_types[{k}]"
            fixed = None
            if entry.fixed_policy is not None:
                fixed = np.array(entry.fixed_policy, dtype=np.float64)
                if fixed.shape != shape:
                    raise ConfigError(
                        f"{where}.fixed_policy must have shape (state, action) = {shape}, got {fixed.shape}"
                    )
            parameters = config.type_learning(k).model_dump()
            rows.append(_type_row(*shape, **parameters, fixed=fixed))
            names.append(entry.name)
            if entry.agents is not None:
                ids = np.array(entry.agents, dtype=np.int64)
                if ids.max() >= n_agents:
                    raise ConfigError(
                        f"{where}.agents: agent id {int(ids.max())} is out of range for a graph of {n_agents} agents"
                    )
                members.append(ids)
                fractions.append(None)
                assigned += ids.size
            else:
                members.append(None)
                fractions.append(float(entry.fraction))
                assigned += type_count(entry.fraction, n_agents)
        if assigned > n_agents:
            raise ConfigError(
                f"agent_types: the types take {assigned} agents (fractions rounded to whole agents), "
                f"more than the graph's {n_agents}"
            )
        if assigned < n_agents or not names:
            names.insert(0, DEFAULT_TYPE)
            rows.insert(0, _type_row(*shape, **base, fixed=None))
            members.insert(0, None)
            fractions.insert(0, None)
        return cls._from_rows(names, rows, members, fractions)

    @property
    def n_types(self) -> int:
        """The number of types."""
        return len(self.names)

    @property
    def committed(self) -> np.ndarray:
        """Whether each type is committed (plays its fixed table and never updates), shape (type,)."""
        return self.policy == FIXED

    @property
    def typed(self) -> bool:
        """Whether ``[[agent_types]]`` were configured (then outputs carry per-type records)."""
        return self.names != (DEFAULT_TYPE,)

    def to_dict(self) -> dict:
        """The types as JSON-ready data (for checkpoints); :meth:`from_dict` restores them exactly.

        Examples
        --------
        >>> learners = Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8)
        >>> again = Learners.from_dict(learners.to_dict())
        >>> again.names, bool(np.array_equal(again.fixed_policy, learners.fixed_policy))
        (('default',), True)
        """
        data = {key: getattr(self, key).tolist() for key in _ARRAYS}
        data["names"] = list(self.names)
        data["members"] = [None if ids is None else ids.tolist() for ids in self.members]
        data["fractions"] = list(self.fractions)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Learners:
        """The inverse of :meth:`to_dict`."""
        arrays = {key: np.array(data[key]) for key in _ARRAYS}
        for key in ("policy", "rule"):
            arrays[key] = arrays[key].astype(np.int64)
        arrays["fixed_policy"] = np.ascontiguousarray(arrays["fixed_policy"], dtype=np.float64)
        members = tuple(None if ids is None else np.array(ids, dtype=np.int64) for ids in data["members"])
        return cls(names=tuple(data["names"]), members=members, fractions=tuple(data["fractions"]), **arrays)

    def kernel_arrays(self) -> tuple:
        """The per-type arrays in the order the simulation kernels take them, each read-only and C-ordered:
        ``(alpha, beta, gamma, epsilon, faq_beta, policy, rule, fixed_policy)``."""
        arrays = (self.alpha, self.beta, self.gamma, self.epsilon, self.faq_beta, self.policy, self.rule)
        out = []
        for array in (*arrays, self.fixed_policy):
            view = np.ascontiguousarray(array).view()
            view.flags.writeable = False
            out.append(view)
        return tuple(out)

    def assign(self, n_agents: int, seed_sequence: np.random.SeedSequence | None) -> np.ndarray:
        """Each agent's type (agent,) int64: explicit ids first, then the fractions drawn from the rest.

        Types with a fraction take, in their order, consecutive blocks of one random permutation of the agents
        that no explicit id names, drawn from ``seed_sequence`` (:func:`type_seed`); every other agent is
        ``"default"``. Without fraction types the assignment is the same in every run (no draw).
        """
        agent_type = np.zeros(n_agents, dtype=np.int64)
        default = self.names.index(DEFAULT_TYPE) if DEFAULT_TYPE in self.names else -1
        free = np.ones(n_agents, dtype=bool)
        for t, ids in enumerate(self.members):
            if ids is not None:
                agent_type[ids] = t
                free[ids] = False
        if default >= 0:
            agent_type[free] = default
        if any(f is not None for f in self.fractions):
            rest = np.flatnonzero(free)
            order = np.random.default_rng(seed_sequence).permutation(rest)
            start = 0
            for t, fraction in enumerate(self.fractions):
                if fraction is not None:
                    count = type_count(fraction, n_agents)
                    agent_type[order[start : start + count]] = t
                    start += count
        return agent_type

    def policies(self, q: np.ndarray, agent_type: np.ndarray) -> np.ndarray:
        """Every agent's policy X (agent, state, action) from its Q (agent, state, action) and its type.

        Examples
        --------
        >>> learners = Learners.uniform(1, 2, alpha=0.1, beta=0.0, gamma=0.0)
        >>> learners.policies(np.array([[[3.0, 0.0]]]), np.array([0]))  # β = 0: uniform
        array([[[0.5, 0.5]]])
        """
        q = np.ascontiguousarray(q, dtype=np.float64)
        _, beta, _, epsilon, _, policy, _, fixed_policy = self.kernel_arrays()  # the types the kernels compile for
        return agent_policies(q, np.ascontiguousarray(agent_type, dtype=np.int64), policy, beta, epsilon, fixed_policy)

    def type_parameters(self, t: int) -> dict:
        """The parameters type ``t`` uses, as plain values: ``policy``, ``rule``, ``alpha``, ``gamma`` and ``beta``
        (Boltzmann) or ``epsilon`` (ε-greedy), ``faq_beta`` (FAQ); ``fixed_policy`` alone for a committed type.

        Examples
        --------
        >>> Learners.uniform(2, 2, alpha=0.01, beta=1.0, gamma=0.8, rule="faq", faq_beta=0.1).type_parameters(0)
        {'policy': 'boltzmann', 'rule': 'faq', 'alpha': 0.01, 'gamma': 0.8, 'beta': 1.0, 'faq_beta': 0.1}
        """
        if self.committed[t]:
            return {"fixed_policy": self.fixed_policy[t].tolist()}
        out = {
            "policy": POLICIES[self.policy[t]],
            "rule": RULES[int(self.rule[t])],
            "alpha": float(self.alpha[t]),
            "gamma": float(self.gamma[t]),
        }
        if self.policy[t] == BOLTZMANN:
            out["beta"] = float(self.beta[t])
        else:
            out["epsilon"] = float(self.epsilon[t])
        if self.rule[t] == FAQ:
            out["faq_beta"] = float(self.faq_beta[t])
        return out

    def type_policy(self, q, t: int = 0) -> np.ndarray:
        """X of type ``t`` for Q-tables ``q`` (..., state, action) (:meth:`policies` with every table of type t).

        Examples
        --------
        >>> Learners.uniform(1, 2, alpha=0.1, beta=0.0, gamma=0.0).type_policy(np.zeros((3, 1, 2))).shape
        (3, 1, 2)
        """
        q = np.asarray(q, dtype=np.float64)
        rows = q.reshape(-1, *q.shape[-2:])
        return self.policies(rows, np.full(rows.shape[0], t, dtype=np.int64)).reshape(q.shape)

    def describe(self) -> str:
        """One line per type: its name, how its agents are chosen and its parameters (recorded in outputs)."""
        lines = []
        for t, name in enumerate(self.names):
            if self.members[t] is not None:
                who = f"agents {self.members[t].tolist()}"
            elif self.fractions[t] is not None:
                who = f"fraction {self.fractions[t]}"
            else:
                who = "agents of no other type"
            parameters = self.type_parameters(t)
            if self.committed[t]:
                what = f"committed to {parameters['fixed_policy']}"
            else:
                what = ", ".join([parameters.pop("policy")] + [f"{key} {value}" for key, value in parameters.items()])
            lines.append(f"{name}: {who}; {what}")
        return "\n".join(lines)


@njit(cache=True)
def member_policies_into(q, member_type, learners, out):
    """X (member, state, action) of members (agents, particles) of types ``member_type`` into ``out``, inside
    numba code: ``learners`` is :meth:`Learners.kernel_arrays`."""
    _, beta, _, epsilon, _, kind, _, fixed_policy = learners
    agent_policies_into(q, member_type, kind, beta, epsilon, fixed_policy, out)


@njit(cache=True)
def member_policies(q, member_type, learners):
    """:func:`member_policies_into` into a new array.

    Examples
    --------
    >>> learners = Learners.uniform(1, 2, alpha=0.1, beta=0.0, gamma=0.0)
    >>> member_policies(np.zeros((2, 1, 2)), np.zeros(2, np.int64), learners.kernel_arrays())[0]
    array([[0.5, 0.5]])
    """
    out = np.empty_like(q)
    member_policies_into(q, member_type, learners, out)
    return out


def type_means(values, member_type, n_types: int, weight=None) -> np.ndarray:
    """The mean of ``values`` over each type's members (agents, particles), weighted: the ``*_by_type`` outputs.

    Parameters
    ----------
    values : array_like, shape (member, ...)
    member_type : array_like of int, shape (member,)
    n_types : int
    weight : array_like, shape (member,), optional
        Each member's share (particles of unequal weight); default equal.

    Returns
    -------
    ndarray, shape (type, ...)
        NaN for a type without members.

    Examples
    --------
    >>> type_means(np.array([1.0, 2.0, 4.0]), np.array([0, 0, 1]), 3).tolist()
    [1.5, 4.0, nan]
    """
    values = np.asarray(values, dtype=np.float64)
    member_type = np.asarray(member_type, dtype=np.int64)
    tail = (1,) * (values.ndim - 1)
    total = np.zeros((n_types,) + values.shape[1:])
    if weight is None:
        np.add.at(total, member_type, values)
        mass = np.bincount(member_type, minlength=n_types).astype(np.float64)
    else:
        weight = np.asarray(weight, dtype=np.float64)
        np.add.at(total, member_type, weight.reshape(weight.shape + tail) * values)
        mass = np.bincount(member_type, weights=weight, minlength=n_types)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / mass.reshape(mass.shape + tail)


def type_records(policy, q, member_type, n_types: int, weight=None) -> dict:
    """:data:`TYPE_RECORDS` of one time point: the type means (:func:`type_means`) of the members' policies and
    Q-tables, each (type, state, action).

    Examples
    --------
    >>> q = np.array([[[1.0, 0.0]], [[3.0, 0.0]]])
    >>> type_records(np.full((2, 1, 2), 0.5), q, np.array([0, 0]), 1)["q_by_type"].tolist()
    [[[2.0, 0.0]]]
    """
    pairs = zip(TYPE_RECORDS, (policy, q), strict=True)
    return {name: type_means(value, member_type, n_types, weight) for name, value in pairs}


def type_count(fraction: float, n_agents: int) -> int:
    """round(fraction N), halves rounded up: the number of agents of a fraction type.

    Examples
    --------
    >>> type_count(0.1, 25), type_count(0.5, 9)
    (3, 5)
    """
    return int(np.floor(fraction * n_agents + 0.5))


def learners_of(learners, member_type, shape, game, alpha, beta, gamma, rule) -> tuple[Learners, np.ndarray]:
    """The types of a theory call and each member's type: ``learners`` with ``member_type`` (checked), or one
    Boltzmann type from ``alpha``, ``beta``, ``gamma``, ``rule`` that every member has.

    Parameters
    ----------
    learners : Learners or None
    member_type : array_like of int or None
        Shape ``shape``; default: type 0 everywhere.
    shape : tuple of int
        The shape of the members (particles, agents, runs x agents).
    game : Game
    alpha, beta, gamma : float or None
    rule : str or int

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> learners, member_type = learners_of(None, None, (2, 3), two_state_pd(), 0.01, 1.0, 0.8, "sarsa")
    >>> learners.names, member_type.shape
    (('default',), (2, 3))
    """
    if learners is None:
        if alpha is None or beta is None or gamma is None:
            raise ConfigError("give alpha, beta and gamma, or learners")
        learners = Learners.uniform(game.n_states, game.n_actions, alpha, beta, gamma, rule)
    elif learners.fixed_policy.shape[1:] != (game.n_states, game.n_actions):
        raise ConfigError(f"learners are for (state, action) = {learners.fixed_policy.shape[1:]}, not the game's")
    if member_type is None:
        return learners, np.zeros(shape, dtype=np.int64)
    member_type = np.ascontiguousarray(member_type, dtype=np.int64)
    if member_type.shape != tuple(shape):
        raise ConfigError(f"the member types must have shape {tuple(shape)}, got {member_type.shape}")
    if member_type.size and (member_type.min() < 0 or member_type.max() >= learners.n_types):
        raise ConfigError(f"member types must be type indices in 0..{learners.n_types - 1}")
    return learners, member_type


def _type_row(n_states, n_actions, alpha, beta, gamma, rule, policy, epsilon, faq_beta, fixed) -> dict:
    """The per-type values of one type (the arrays' columns) from its resolved parameters, checked (the policy's
    ε and the rule's faq_beta by :func:`marldyn.policy.epsilon_of` and :func:`marldyn.learning.faq_factor`)."""
    return {
        "alpha": float(alpha),
        "beta": float(beta),
        "gamma": float(gamma),
        "epsilon": epsilon_of(policy, epsilon),
        "faq_beta": faq_factor(rule, faq_beta),
        "policy": FIXED if fixed is not None else policy_code(policy),
        "rule": rule_code(rule),
        "fixed_policy": fixed if fixed is not None else np.full((n_states, n_actions), 1.0 / n_actions),
    }


def type_degree_classes(learners, agent_type, degrees) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point-mass classes of a population with types: one per (type, degree), and each class's weight.

    A fraction type's agents are drawn at random in each run, so its degrees follow the graph's degree
    distribution: weight w_t f_k (w_t its share of agents, f_k the share of degree k). An id type's agents are
    fixed: the degrees of its own agents. Returns the class types, degrees and weights (class,).

    Examples
    --------
    >>> learners = Learners.uniform(2, 2, alpha=0.1, beta=1.0, gamma=0.8)
    >>> type_degree_classes(learners, np.zeros(4, np.int64), np.array([2, 2, 3, 3]))
    (array([0, 0]), array([2, 3]), array([0.5, 0.5]))
    """
    degrees = np.asarray(degrees, dtype=np.int64)
    n_agents = degrees.size
    classes, counts = np.unique(degrees, return_counts=True)
    kinds, class_degree, weight = [], [], []
    for t in range(learners.n_types):
        share = np.count_nonzero(agent_type == t) / n_agents
        if share == 0.0:
            continue
        if learners.members[t] is not None:
            own, own_counts = np.unique(degrees[learners.members[t]], return_counts=True)
            fractions = own_counts / own_counts.sum()
        else:
            own, fractions = classes, counts / n_agents
        for k, f in zip(own, fractions, strict=True):
            kinds.append(t)
            class_degree.append(k)
            weight.append(share * f)
    weight = np.asarray(weight)
    return np.asarray(kinds, dtype=np.int64), np.asarray(class_degree, dtype=np.int64), weight / weight.sum()
