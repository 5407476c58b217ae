"""The validated configuration: the TOML schema as frozen pydantic models.

Every field is checked once, here, before any work starts; the rest of marldyn trusts it.
Errors are :class:`ConfigError` (a ``ValueError``) naming the field and the allowed values.

"Not given" is always an explicit ``None``: ``graph.n`` of an edge list (the file's node count),
``graph.seed`` (the run seed), ``game.b``/``c``/``p`` (the paper's values), ``init.q`` (zeros). Their
defaults are resolved where they are used, so no behaviour depends on pydantic's ``model_fields_set``
and every copy of a config (``model_dump(exclude_none=True)``, :meth:`Config.to_toml`,
:meth:`Config.with_overrides`) means the same as the original.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictFloat, StrictInt, ValidationError, model_validator

from .agents import Learners
from .errors import ConfigError, MarldynWarning, did_you_mean
from .games import Game, load_game, two_state_pd
from .graphs import (
    ORDERS,
    Graph,
    barabasi_albert,
    complete,
    erdos_renyi,
    lattice,
    random_regular,
    read_edgelist,
    reorder,
)
from .group_games import GroupGame, custom_group, ecological_public_good, public_goods
from .groups import GROUP_KINDS, Groups, groups_of
from .learning import RULES
from .policy import POLICIES

MAX_STEPS = 2**53
MAX_RECORDS = 10_000_000
GRAPH_KINDS = ("lattice", "random_regular", "complete", "erdos_renyi", "barabasi_albert", "edgelist")
DEFAULT_N = 100
"""The number of agents of a generated graph when ``[graph] n`` is not given."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


GAME_FIELDS = {
    "two_state_pd": ("b", "c", "p"),
    "custom": ("payoff", "transition", "file"),
    "public_goods": ("r", "c", "p"),
    "ecological_public_good": ("r", "c", "collapse", "impact", "recovery"),
    "custom_group": ("payoff", "transition"),
}
"""The fields of ``[game]`` each game name takes."""
GROUP_GAMES = ("public_goods", "ecological_public_good", "custom_group")
"""The ``[game]`` names of group (N-player) games, played in the groups of ``[graph] groups``."""


class GameConfig(_Section):
    """``[game]``: a pairwise game (the paper's two-state prisoner's dilemma or a custom one) or a group game."""

    name: Literal[tuple(GAME_FIELDS)] = Field(  # type: ignore[valid-type]
        default="two_state_pd",
        description=(
            "The game. Pairwise: ``two_state_pd``, the paper's two-state prisoner's dilemma (eq. 21), set by "
            "``b``, ``c`` and ``p``; ``custom``: any symmetric game, given by ``payoff`` and ``transition`` or by "
            "``file``. Group games (played in the groups of ``[graph] groups``; two actions, 0 = cooperate): "
            "``public_goods`` (``r``, ``c``, ``p``), ``ecological_public_good`` (``r``, ``c``, ``collapse``, "
            "``impact``, ``recovery``), ``custom_group`` (``payoff``, ``transition`` for one group size)."
        ),
    )
    b: tuple[StrictFloat, StrictFloat] | None = Field(
        default=None,
        description=(
            "Benefit of being cooperated with, in states s1 and s2 (payoff units, finite). Only with "
            '``name = "two_state_pd"``. Not given: the paper\'s [5.0, 1.2].'
        ),
    )
    c: tuple[StrictFloat, StrictFloat] | StrictFloat | None = Field(
        default=None,
        description=(
            'Cost of cooperating (payoff units, finite). With ``name = "two_state_pd"`` and ``name = '
            '"public_goods"``: one per state, [c1, c2] (not given: [0.5, 0.5] and [1.0, 1.0]); with ``name = '
            '"ecological_public_good"``: one number, >= 0 (not given: 5.0).'
        ),
    )
    p: tuple[StrictFloat, StrictFloat] | None = Field(
        default=None,
        description=(
            "Probability that the next state of an edge (group) is s1, after mutual cooperation (every member "
            "cooperating) and after any defection, whatever the current state; each in [0, 1]. Only with "
            '``name = "two_state_pd"`` (not given: the paper\'s [0.7, 0.2]) and ``"public_goods"`` (not given: '
            "[0.8, 0.3])."
        ),
    )
    r: tuple[StrictFloat, StrictFloat] | StrictFloat | None = Field(
        default=None,
        description=(
            "Multiplication factor of the public good: a cooperator in a group of n with j cooperating "
            "co-players gets r c (j + 1) / n - c, a defector r c j / n. ``public_goods``: one per state [r1, r2] "
            "(not given: [3.5, 1.5]); ``ecological_public_good``: one number > 0 (not given: 1.2)."
        ),
    )
    collapse: StrictFloat | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Ecological public good: each defector in a group in the prosperous state s1 raises its probability "
            "of collapsing to s2 by collapse / n; in [0, 1]. Not given: 0.2."
        ),
    )
    impact: StrictFloat | None = Field(
        default=None,
        lt=0.0,
        allow_inf_nan=False,
        description=(
            "Ecological public good: the reward of every member of a group in the degraded state s2 or collapsing "
            "in this step (< 0, payoff units). Not given: -5.0."
        ),
    )
    recovery: StrictFloat | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "Ecological public good: the probability that a group in s2 recovers to s1 per step. Not given: 0.01."
        ),
    )
    payoff: list | None = Field(
        default=None,
        description=(
            'With ``name = "custom"``: payoff U[s, a, b] of an agent playing action a against a neighbour playing '
            "b on an edge in state s, a nested list of shape (state, action, action), or (state, action, action, "
            "state) when it depends on the edge's next state, finite, together with "
            '``transition``. With ``name = "custom_group"``: the reward of a member playing a (0 or 1) in state s '
            "when j = 0..n-1 of its co-players choose action 0, shape (state, 2, n), or (state, 2, n, state) "
            "when it depends on the group's next state."
        ),
    )
    transition: list | None = Field(
        default=None,
        description=(
            'With ``name = "custom"``: transition probabilities T[s, a, b, s\'] of an edge in state s on which '
            "actions a and b are played, shape (state, action, action, state), symmetric in a and b. With "
            '``name = "custom_group"``: T[s, m, s\'] of a group in s'
            " in which m = 0..n members choose action 0, shape (state, n + 1, state). Non-negative, "
            "every row summing to 1 (within 1e-9)."
        ),
    )
    file: str | None = Field(
        default=None,
        description=(
            "A game file instead of ``payoff`` and ``transition``: ``.npz`` with exactly the arrays ``payoff`` "
            "and ``transition``, or ``.json`` with the same two nested lists; read without pickle. A relative "
            'path is read next to the configuration file. Only with ``name = "custom"``.'
        ),
    )

    @model_validator(mode="after")
    def _fields_match_name(self):
        allowed = GAME_FIELDS[self.name]
        for field_name in ("b", "c", "p", "r", "collapse", "impact", "recovery", "payoff", "transition", "file"):
            if getattr(self, field_name) is not None and field_name not in allowed:
                takers = [name for name, fields in GAME_FIELDS.items() if field_name in fields]
                raise ValueError(f"{field_name} is only allowed with name = {' or '.join(map(repr, takers))}")
        pair_kind = self.name in ("two_state_pd", "public_goods")
        for field_name in ("c", "r"):
            value = getattr(self, field_name)
            if value is None:
                continue
            if pair_kind and not isinstance(value, tuple):
                raise ValueError(
                    f"{field_name} must be a list of two numbers (one per state) with name = '{self.name}'"
                )
            if not pair_kind and isinstance(value, tuple):
                raise ValueError(f"{field_name} must be one number with name = '{self.name}'")
        if self.name in ("custom", "custom_group"):
            has_arrays = self.payoff is not None or self.transition is not None
            if self.file is not None and has_arrays:
                raise ValueError("give either file or payoff + transition, not both")
            if self.file is None and (self.payoff is None or self.transition is None):
                needs = "payoff and transition, or file" if self.name == "custom" else "payoff and transition"
                raise ValueError(f"name = '{self.name}' needs {needs}")
        return self

    @property
    def is_group_game(self) -> bool:
        """Whether this is a group (N-player) game, played in ``[graph] groups``."""
        return self.name in GROUP_GAMES

    def build(self, base_dir: Path | None = None) -> Game | GroupGame:
        """The :class:`~marldyn.games.Game` or :class:`~marldyn.group_games.GroupGame` this section describes."""
        given = {key: getattr(self, key) for key in GAME_FIELDS[self.name] if getattr(self, key) is not None}
        if self.name == "two_state_pd":
            return two_state_pd(**given)
        if self.name == "public_goods":
            return public_goods(**given)
        if self.name == "ecological_public_good":
            return ecological_public_good(**given)
        if self.name == "custom_group":
            return custom_group(self.payoff, self.transition)
        if self.file is not None:
            return load_game(resolve_path(self.file, base_dir))
        return Game(self.payoff, self.transition)


def _default_n(fields: dict[str, Any]) -> int | None:
    """``graph.n`` when not given: :data:`DEFAULT_N`, or ``None`` for an edge list (the largest id in the file + 1)."""
    return None if fields.get("kind") == "edgelist" else DEFAULT_N


class GraphConfig(_Section):
    """``[graph]``: the interaction graph.

    ``n`` defaults to :data:`DEFAULT_N` for the generated kinds; for ``kind = "edgelist"`` it stays ``None``
    unless given (the agents are the file's nodes; a given ``n`` adds isolated agents up to ``n``).
    ``seed = None`` means the run seed (``[run] seed``), also after :meth:`Config.with_overrides`.
    """

    kind: Literal[GRAPH_KINDS] = Field(  # type: ignore[valid-type]
        default="lattice",
        description=(
            "The graph family. ``lattice``: periodic square lattice (torus, degree 4); ``random_regular``: "
            "every agent has ``degree`` neighbours; ``complete``; ``erdos_renyi``: each pair joined with "
            "probability ``edge_probability``; ``barabasi_albert``: preferential attachment of ``m`` edges per "
            "new agent; ``edgelist``: read from ``path``."
        ),
    )
    n: StrictInt | None = Field(
        default_factory=_default_n,
        ge=2,
        description=(
            "Number of agents N. A lattice needs a perfect square, at least 9; ``random_regular`` needs "
            "``n > degree`` and ``n * degree`` even; ``barabasi_albert`` needs ``n > m``. For an edge list, not "
            "given means the largest id in the file + 1; a given ``n`` must exceed every id and adds isolated "
            "agents up to ``n``."
        ),
    )
    degree: StrictInt | None = Field(
        default=None,
        ge=1,
        description=(
            'Degree of every agent: required with ``kind = "random_regular"`` and allowed only there; '
            "less than ``n``, with ``n * degree`` even."
        ),
    )
    edge_probability: StrictFloat | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description=(
            "Probability that a pair of agents is joined, independently for every pair: required with "
            '``kind = "erdos_renyi"`` and allowed only there. Isolated agents (which never learn) are '
            "warned about."
        ),
    )
    m: StrictInt | None = Field(
        default=None,
        ge=1,
        description=(
            'Edges from each new agent to existing agents: required with ``kind = "barabasi_albert"`` and '
            "allowed only there; less than ``n``."
        ),
    )
    path: str | None = Field(
        default=None,
        description=(
            "The edge-list file: one pair of agent ids ``i j`` per line (separated by whitespace or a comma), "
            "integers from 0, ``#`` starts a comment; no self-loops or duplicate edges. A relative path is read "
            'next to the configuration file. Required with ``kind = "edgelist"`` and allowed only there.'
        ),
    )
    seed: StrictInt | None = Field(
        default=None,
        ge=0,
        lt=2**63,
        description=(
            "Seed of a random graph (``random_regular``, ``erdos_renyi``, ``barabasi_albert``; the other kinds "
            "ignore it). Not given: ``[run] seed``, so a new run seed (``--seed``) also draws a new graph."
        ),
    )
    order: Literal[ORDERS] = Field(  # type: ignore[valid-type]
        default="given",
        description=(
            "Numbering of the agents. ``given``: as built or as in the file; ``rcm``: renumbered by reverse "
            "Cuthill–McKee for memory locality, faster on large graphs with locality whose ids come in "
            "arbitrary order (per-agent outputs then carry the original id as ``agent_label``)."
        ),
    )

    groups: Literal[GROUP_KINDS] = Field(  # type: ignore[valid-type]
        default="pairwise",
        description=(
            "Where a group game (``[game] name`` = ``public_goods``, ``ecological_public_good``, "
            "``custom_group``) is played. ``pairwise``: on the edges, groups of two (the paper's model, the only "
            "choice of a pairwise game); ``neighborhood``: every agent centres a group of itself and its "
            "neighbours, so an agent of degree k is in k + 1 groups; ``file``: the groups of ``groups_path``."
        ),
    )
    groups_path: str | None = Field(
        default=None,
        description=(
            "The groups file: one group per line, at least two distinct agent ids (from 0, below ``n``) separated "
            "by whitespace or commas, ``#`` starts a comment. A relative path is read next to the configuration "
            'file. Required with ``groups = "file"`` and allowed only there.'
        ),
    )

    @model_validator(mode="after")
    def _fields_match_kind(self):
        if self.groups == "file" and self.groups_path is None:
            raise ValueError("groups_path is required with groups = 'file'")
        if self.groups != "file" and self.groups_path is not None:
            raise ValueError("groups_path is only allowed with groups = 'file'")
        needed = {
            "random_regular": "degree",
            "erdos_renyi": "edge_probability",
            "barabasi_albert": "m",
            "edgelist": "path",
        }
        for kind, field in needed.items():
            if getattr(self, field) is not None and self.kind != kind:
                raise ValueError(f"{field} is only allowed with kind = '{kind}'")
        if self.kind in needed and getattr(self, needed[self.kind]) is None:
            raise ValueError(f"{needed[self.kind]} is required with kind = '{self.kind}'")
        n = self.n
        if n is None:
            if self.kind == "edgelist":
                return self
            raise ValueError(f"n = None: kind = '{self.kind}' needs a number of agents (leave n out for {DEFAULT_N})")
        if self.kind == "lattice" and (math.isqrt(n) ** 2 != n or n < 9):
            raise ValueError(f"n = {n}: a lattice needs a perfect square number of agents, at least 9")
        if self.kind == "random_regular" and (self.degree >= n or (n * self.degree) % 2):
            raise ValueError(
                f"degree = {self.degree}: a random regular graph needs degree < n = {n} and n * degree even"
            )
        if self.kind == "barabasi_albert" and self.m >= n:
            raise ValueError(f"m = {self.m} must be smaller than n = {n}")
        return self

    def build(self, default_seed: int = 0, base_dir: Path | None = None) -> Graph:
        """The :class:`~marldyn.graphs.Graph` this section describes (``seed`` defaults to the run seed),
        renumbered by ``order`` (:func:`~marldyn.graphs.reorder`)."""
        seed = default_seed if self.seed is None else self.seed
        if self.kind == "lattice":
            graph = lattice(self.n)
        elif self.kind == "complete":
            graph = complete(self.n)
        elif self.kind == "random_regular":
            graph = random_regular(self.n, self.degree, seed)
        elif self.kind == "erdos_renyi":
            graph = erdos_renyi(self.n, self.edge_probability, seed)
        elif self.kind == "barabasi_albert":
            graph = barabasi_albert(self.n, self.m, seed)
        else:
            graph = read_edgelist(resolve_path(self.path, base_dir), self.n)
        return reorder(graph, self.order)


class LearningConfig(_Section):
    """``[learning]``: the TD rule and its parameters."""

    rule: Literal[RULES] = Field(  # type: ignore[valid-type]
        default="q_learning",
        description=(
            "Temporal-difference target of the update. ``q_learning``: r + γ max Q(s', ·); ``sarsa``: "
            "r + γ Q(s', a'), with the action a' the agent has already drawn for s' in this step; "
            "``expected_sarsa``: r + γ Σ X(s', ·) Q(s', ·), the mean under the agent's policy X; ``faq``: "
            "frequency-adjusted Q-learning, the Q-learning target with the update scaled by "
            "min(faq_beta / X(s, a), 1)."
        ),
    )
    policy: Literal[POLICIES] = Field(  # type: ignore[valid-type]
        default="boltzmann",
        description=(
            "How an agent chooses its action in a state. ``boltzmann``: X(s, a) ∝ exp(β Q(s, a)); "
            "``epsilon_greedy``: a uniformly random action with probability ε, else a greedy one (ties broken "
            "uniformly), X(s, a) = ε / M + (1 - ε) 1[a ∈ argmax] / #argmax."
        ),
    )
    alpha: StrictFloat = Field(
        default=0.001,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "Learning rate α: in each step, the Q-value of the action chosen in a state moves by α times the "
            "mean TD error over the agent's edges in that state."
        ),
    )
    beta: StrictFloat = Field(
        default=1.0,
        ge=0.0,
        allow_inf_nan=False,
        description=(
            "Inverse temperature β of the Boltzmann policy X(s, a) ∝ exp(β Q(s, a)), in inverse payoff units "
            "(0: uniformly random actions)."
        ),
    )
    gamma: StrictFloat = Field(
        default=0.8,
        ge=0.0,
        lt=1.0,
        allow_inf_nan=False,
        description="Discount factor γ of the next state's value in the TD target (0: only the immediate payoff).",
    )
    epsilon: StrictFloat | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "Exploration probability ε of the ε-greedy policy, 0 <= ε <= 1 (1: uniform play). Only with "
            '``policy = "epsilon_greedy"``, which needs it.'
        ),
    )
    faq_beta: StrictFloat | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "FAQ's β: the update of the played action is scaled by min(faq_beta / X(s, a), 1), "
            '0 < faq_beta <= 1 (1: plain Q-learning). Only with ``rule = "faq"``, which needs it.'
        ),
    )

    @model_validator(mode="after")
    def _fields_match_policy_and_rule(self):
        if self.policy == "epsilon_greedy":
            if self.epsilon is None:
                raise ValueError("epsilon is required with policy = 'epsilon_greedy' (0 <= epsilon <= 1)")
            if self.beta != 1.0:
                raise ValueError("beta is only used with policy = 'boltzmann' (this policy is 'epsilon_greedy')")
        elif self.epsilon is not None:
            raise ValueError("epsilon is only used with policy = 'epsilon_greedy'")
        if self.rule == "faq" and self.faq_beta is None:
            raise ValueError("faq_beta is required with rule = 'faq' (0 < faq_beta <= 1)")
        if self.rule != "faq" and self.faq_beta is not None:
            raise ValueError("faq_beta is only used with rule = 'faq'")
        return self


LEARNING_OVERRIDES = ("rule", "policy", "alpha", "beta", "gamma", "epsilon", "faq_beta")
"""The ``[learning]`` fields an ``[[agent_types]]`` entry may override."""


class AgentTypeConfig(_Section):
    """``[[agent_types]]``: one type of agents, its members and the ``[learning]`` values it overrides."""

    name: str = Field(
        description=(
            "The type's name, as in the output's ``agent_type`` coordinate; unique, not \"default\" (the type of "
            "the agents no entry names)."
        ),
        min_length=1,
    )
    fraction: StrictFloat | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description=(
            "Share of the agents of this type: exactly round(fraction N) agents (halves up), drawn at random "
            "in each run from the run's seed among the agents no ``agents`` list names. Give this or ``agents``."
        ),
    )
    agents: list[StrictInt] | None = Field(
        default=None,
        min_length=1,
        description="The ids of this type's agents (0 <= id < N, each once). Give this or ``fraction``.",
    )
    rule: Literal[RULES] | None = Field(  # type: ignore[valid-type]
        default=None, description="Overrides ``[learning] rule`` for this type."
    )
    policy: Literal[POLICIES] | None = Field(  # type: ignore[valid-type]
        default=None, description="Overrides ``[learning] policy`` for this type."
    )
    alpha: StrictFloat | None = Field(default=None, description="Overrides ``[learning] alpha`` for this type.")
    beta: StrictFloat | None = Field(default=None, description="Overrides ``[learning] beta`` for this type.")
    gamma: StrictFloat | None = Field(default=None, description="Overrides ``[learning] gamma`` for this type.")
    epsilon: StrictFloat | None = Field(default=None, description="Overrides ``[learning] epsilon`` for this type.")
    faq_beta: StrictFloat | None = Field(default=None, description="Overrides ``[learning] faq_beta`` for this type.")
    fixed_policy: list[list[StrictFloat]] | None = Field(
        default=None,
        description=(
            "Committed agents: the (state, action) probability table they always play (rows non-negative, "
            "summing to 1 within 1e-9); they keep their initial Q and never update. Not with learning overrides."
        ),
    )

    @model_validator(mode="after")
    def _members_and_policy(self):
        if self.name == "default":
            raise ValueError("name = 'default' is reserved for the agents no type names")
        if (self.fraction is None) == (self.agents is None):
            raise ValueError("fraction or agents must be given (exactly one of the two)")
        if self.agents is not None:
            if min(self.agents) < 0:
                raise ValueError(f"agents must be agent ids >= 0, got {min(self.agents)}")
            if len(set(self.agents)) != len(self.agents):
                raise ValueError("agents lists an agent id twice")
        if self.fixed_policy is not None:
            given = [key for key in LEARNING_OVERRIDES if getattr(self, key) is not None]
            if given:
                raise ValueError(f"{given[0]} is not allowed with fixed_policy: committed agents never learn")
            table = np.array(self.fixed_policy, dtype=object)
            if table.ndim != 2:
                raise ValueError("fixed_policy must be a rectangular (state, action) table of probabilities")
            table = table.astype(np.float64)
            if not np.all(np.isfinite(table)) or np.any(table < 0):
                raise ValueError("fixed_policy probabilities must be finite and >= 0")
            if np.any(np.abs(table.sum(axis=1) - 1.0) > 1e-9):
                raise ValueError("fixed_policy rows (one per state) must each sum to 1")
        return self


class InitConfig(_Section):
    """``[init]``: the initial Q-table and edge states (recorded in every output)."""

    q: list[list[StrictFloat]] | None = Field(
        default=None,
        description=(
            "Initial Q-table of every agent (payoff units): a nested list of shape (state, action) of the game, "
            "one row per state, finite. Not given: zeros."
        ),
    )
    q_noise: StrictFloat = Field(
        default=0.0,
        ge=0.0,
        allow_inf_nan=False,
        description=(
            "Scale of the independent noise added to every entry of every agent's initial Q-table (payoff "
            "units), drawn from ``q_noise_distribution`` in each run; 0: every agent starts at ``q``."
        ),
    )
    q_noise_distribution: Literal["normal", "uniform"] = Field(
        default="normal",
        description=(
            "Distribution of the initial noise. ``normal``: mean 0, standard deviation ``q_noise``; "
            "``uniform``: uniform between -q_noise and +q_noise."
        ),
    )
    edge_state: Literal["uniform"] | StrictInt = Field(
        default="uniform",
        description=(
            "Initial state of the edges. ``uniform``: each edge's state drawn independently and uniformly from "
            "the game's K states, in each run; an integer: that state (0 to K - 1) on every edge."
        ),
    )


class RunConfig(_Section):
    """``[run]``: horizon, replicas, seed and recording."""

    steps: StrictInt = Field(
        default=20000,
        ge=1,
        le=MAX_STEPS,
        description=(
            "Horizon in simulator steps (one step of Algorithm 1: every edge plays once); every theory uses "
            "the same unit of time."
        ),
    )
    runs: StrictInt = Field(
        default=10,
        ge=1,
        le=100_000,
        description=(
            "Number of independent runs (replicas, each with its own initial condition and random stream); "
            "for the ``sde`` and ``sde-graph`` theories, the number of ensemble members."
        ),
    )
    seed: StrictInt = Field(
        default=0,
        ge=0,
        lt=2**63,
        description=(
            "Root seed: run r uses ``SeedSequence(seed).spawn(runs)[r]``, so results do not depend on the "
            "number of workers. Also the graph's seed when ``[graph] seed`` is not given."
        ),
    )
    record_every: StrictInt = Field(
        default=100,
        ge=1,
        description=(
            "Recording interval in steps: records at step 0, every ``record_every`` steps and at the last step, "
            f"for the simulation and every theory; steps // record_every + 2 must not exceed {MAX_RECORDS:,}."
        ),
    )

    @model_validator(mode="after")
    def _records_fit(self):
        records = self.steps // self.record_every + 2
        if records > MAX_RECORDS:
            raise ValueError(
                f"record_every = {self.record_every} gives {records} records of {self.steps} steps; "
                f"at most {MAX_RECORDS} (raise record_every)"
            )
        return self


class Config(_Section):
    """A complete, validated marldyn configuration (the TOML file's five tables and its ``[[agent_types]]``).

    Build it with :func:`parse_config` (a nested dict) or :func:`load_config` (a TOML file); ``Config()`` is
    the built-in default case. The sections ``game``, ``graph``, ``learning``, ``init`` and ``run`` are frozen:
    change a copy (:meth:`with_overrides`, or edit ``model_dump()`` and parse it again).

    Examples
    --------
    >>> import marldyn
    >>> config = marldyn.parse_config(
    ...     {
    ...         "graph": {"kind": "random_regular", "n": 50, "degree": 3},
    ...         "learning": {"alpha": 0.01},
    ...         "run": {"steps": 5000, "seed": 3},
    ...     }
    ... )
    >>> config.learning
    LearningConfig(rule='q_learning', policy='boltzmann', alpha=0.01, beta=1.0, gamma=0.8, epsilon=None, faq_beta=None)
    >>> config.run
    RunConfig(steps=5000, runs=10, seed=3, record_every=100)
    >>> graph = config.build_graph()  # seeded by run.seed, since graph.seed is not given
    >>> graph.name, graph.n_agents, graph.n_edges
    ('random_regular50d3', 50, 75)
    >>> config.build_game().name, marldyn.Config().run.steps
    ('two_state_pd', 20000)
    """

    game: GameConfig = GameConfig()
    graph: GraphConfig = GraphConfig()
    learning: LearningConfig = LearningConfig()
    init: InitConfig = InitConfig()
    run: RunConfig = RunConfig()
    agent_types: tuple[AgentTypeConfig, ...] = Field(
        default=(),
        description=(
            "Optional ``[[agent_types]]`` entries: types of agents that override ``[learning]`` values or are "
            'committed (``fixed_policy``); agents of no type are the type "default" and follow ``[learning]``.'
        ),
    )
    _base_dir: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _types_fit(self):
        names = [entry.name for entry in self.agent_types]
        for k, name in enumerate(names):
            if name in names[:k]:
                raise ValueError(f"agent_types[{k}].name = {name!r} is given twice")
        total = sum(entry.fraction for entry in self.agent_types if entry.fraction is not None)
        if total > 1.0 + 1e-12:
            raise ValueError(f"agent_types: the fractions add up to {total:g}, more than 1")
        seen: dict[int, int] = {}
        for k, entry in enumerate(self.agent_types):
            for agent in entry.agents or ():
                if agent in seen:
                    raise ValueError(f"agent_types[{k}].agents: agent {agent} is also in agent_types[{seen[agent]}]")
                seen[agent] = k
        for k, entry in enumerate(self.agent_types):
            if entry.fixed_policy is None:
                self.type_learning(k)
        return self

    def type_learning(self, k: int) -> LearningConfig:
        """The ``[learning]`` of type ``agent_types[k]``: its overrides on top of ``[learning]``, validated.

        A value that belongs to the base policy or rule only (``beta`` of Boltzmann, ``epsilon`` of ε-greedy,
        ``faq_beta`` of FAQ) is not inherited by a type that changes the policy or the rule.

        Raises
        ------
        ConfigError
            Naming ``agent_types[k]`` and the field.

        Examples
        --------
        >>> config = parse_config({"learning": {"beta": 2.0},
        ...                        "agent_types": [{"name": "greedy", "fraction": 0.5, "policy": "epsilon_greedy",
        ...                                         "epsilon": 0.1}]})
        >>> greedy = config.type_learning(0)
        >>> greedy.policy, greedy.beta, greedy.epsilon  # beta = 2 belongs to [learning]'s Boltzmann policy
        ('epsilon_greedy', 1.0, 0.1)
        """
        entry = self.agent_types[k]
        merged = self.learning.model_dump()
        overrides = {key: getattr(entry, key) for key in LEARNING_OVERRIDES if getattr(entry, key) is not None}
        if overrides.get("policy", merged["policy"]) != merged["policy"]:
            merged.update(beta=1.0, epsilon=None)
        if overrides.get("rule", merged["rule"]) != merged["rule"]:
            merged.update(faq_beta=None)
        merged.update(overrides)
        try:
            return LearningConfig(**merged)
        except ValidationError as exc:
            error = exc.errors()[0]
            message = _describe(error, {})
            raise ConfigError(f"agent_types[{k}].{message.removeprefix('.')}") from None

    def learners(self, game: Game, n_agents: int) -> Learners:
        """The agent types (:class:`~marldyn.agents.Learners`) of this config on a graph of ``n_agents`` agents.

        Examples
        --------
        >>> config = parse_config({"learning": {"policy": "epsilon_greedy", "epsilon": 0.2}})
        >>> learners = config.learners(config.build_game(), n_agents=100)
        >>> learners.names, learners.epsilon.tolist()
        (('default',), [0.2])
        """
        return Learners.from_config(self, game, n_agents)

    @property
    def base_dir(self) -> str | None:
        """The directory relative paths (``game.file``, ``graph.path``) resolve against."""
        return self._base_dir

    def build_game(self) -> Game:
        return self.game.build(_base(self))

    def build_graph(self) -> Graph:
        return self.graph.build(self.run.seed, _base(self))

    def build_groups(self, graph: Graph, game: Game | GroupGame) -> Groups | None:
        """The groups a group game is played in on ``graph`` (``[graph] groups``), checked against the game's
        group sizes; ``None`` for a pairwise game (played on the edges).

        Examples
        --------
        >>> config = parse_config({"game": {"name": "public_goods"}, "graph": {"groups": "neighborhood"}})
        >>> groups = config.build_groups(config.build_graph(), config.build_game())
        >>> groups.n_groups, groups.distinct_sizes  # 100 agents of the lattice, each centring a group of 5
        (100, (5,))
        """
        if not isinstance(game, GroupGame):
            return None
        path = None if self.graph.groups_path is None else resolve_path(self.graph.groups_path, _base(self))
        groups = groups_of(graph, self.graph.groups, path)
        game.check_sizes(groups.distinct_sizes)
        return groups

    def initial_q_table(self, game: Game) -> np.ndarray:
        """The (state, action) initial table, zeros by default; checked against the game's shape."""
        if self.init.q is None:
            return np.zeros((game.n_states, game.n_actions))
        try:
            table = np.array(self.init.q, dtype=np.float64)
        except ValueError:
            raise ConfigError("init.q must be a rectangular (state, action) table of numbers") from None
        if table.shape != (game.n_states, game.n_actions):
            raise ConfigError(
                f"init.q must have shape (state, action) = {(game.n_states, game.n_actions)}, got {table.shape}"
            )
        if not np.all(np.isfinite(table)):
            raise ConfigError("init.q contains NaN or infinite values")
        return table

    def initial_state_distribution(self, n_states: int) -> np.ndarray:
        """p(s) of every edge at time 0 from ``[init] edge_state``: uniform, or all mass on one state (n_states,)."""
        if self.init.edge_state == "uniform":
            return np.full(n_states, 1.0 / n_states)
        distribution = np.zeros(n_states)
        distribution[int(self.init.edge_state)] = 1.0
        return distribution

    def with_overrides(self, **run_fields) -> Config:
        """A copy with some ``[run]`` fields replaced (``None`` values are ignored), validated again.

        Fields that were not given stay not given: an edge list keeps the file's node count, and an unset
        ``graph.seed`` follows the new ``run.seed``.

        Examples
        --------
        >>> config = parse_config({"graph": {"kind": "erdos_renyi", "n": 20, "edge_probability": 0.2}})
        >>> changed = config.with_overrides(steps=50, seed=7, runs=None)
        >>> (changed.run.steps, changed.run.seed, changed.run.runs, changed.graph.seed)
        (50, 7, 10, None)
        """
        data = self.model_dump(exclude_none=True)
        data["run"].update({k: v for k, v in run_fields.items() if v is not None})
        return parse_config(data, base_dir=self.base_dir)

    def to_toml(self) -> str:
        """The configuration as TOML text: every field with its value, except those not given (``None``).

        Round-trips through :func:`parse_config` to an equal config that means the same (defaults that
        depend on other fields, such as an edge list's ``n`` or ``graph.seed``, stay unresolved).

        Examples
        --------
        >>> print(parse_config({"run": {"steps": 10}}).to_toml().split("[run]")[1].strip())
        steps = 10
        runs = 10
        seed = 0
        record_every = 100
        """
        return dumps_toml(self.model_dump(exclude_none=True))


SECTIONS = {
    "game": GameConfig,
    "graph": GraphConfig,
    "learning": LearningConfig,
    "init": InitConfig,
    "run": RunConfig,
    "agent_types": AgentTypeConfig,
}


def _base(config: Config) -> Path | None:
    return Path(config.base_dir) if config.base_dir else None


def resolve_path(path: str, base_dir: str | Path | None) -> Path:
    """A config's relative path (``game.file``, ``graph.path``) resolved against ``base_dir`` (the config's folder).

    Examples
    --------
    >>> str(resolve_path("edges.txt", "/data")), str(resolve_path("/tmp/e.txt", "/data"))
    ('/data/edges.txt', '/tmp/e.txt')
    """
    candidate = Path(path)
    return candidate if candidate.is_absolute() or base_dir is None else Path(base_dir) / candidate


def parse_config(data: dict[str, Any], base_dir: str | Path | None = None) -> Config:
    """Validate a nested dict (as read from TOML) into a :class:`Config`.

    Parameters
    ----------
    data : dict
        Tables ``game``, ``graph``, ``learning``, ``init`` and ``run`` (each optional) of the TOML schema.
    base_dir : str or pathlib.Path, optional
        Where relative paths (``game.file``, ``graph.path``) resolve; default: the working directory.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        With the first problem, naming its field (e.g. ``learning.alpha``) and the allowed values.

    Examples
    --------
    >>> config = parse_config({"graph": {"kind": "complete", "n": 20}, "learning": {"beta": 2.0}})
    >>> config.graph.kind, config.graph.n, config.learning.beta, config.run.runs
    ('complete', 20, 2.0, 10)
    >>> parse_config({"graph": {"kind": "lattice", "n": 10}})
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: graph.n = 10: a lattice needs a perfect square number of agents, at least 9
    >>> parse_config({"run": {"step": 100}})
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: unknown key 'step' in [run] (did you mean 'steps'?); allowed: ...
    """
    if not isinstance(data, dict):
        raise ConfigError(f"the configuration must be a table of tables, got {type(data).__name__}")
    try:
        config = Config(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0], data)) from None
    except TypeError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    config._base_dir = str(base_dir) if base_dir is not None else None
    if config.graph.kind == "edgelist":
        path = resolve_path(config.graph.path, _base(config))
        if not path.is_file():
            raise ConfigError(f"graph.path: no such file: {path}")
    game = config.build_game()
    config.initial_q_table(game)
    for k, entry in enumerate(config.agent_types):
        shape = (game.n_states, game.n_actions)
        if entry.fixed_policy is not None and np.shape(entry.fixed_policy) != shape:
            raise ConfigError(
                f"agent_types[{k}].fixed_policy must have shape (state, action) = {shape}, "
                f"got {np.shape(entry.fixed_policy)}"
            )
        if entry.agents is not None and config.graph.n is not None and max(entry.agents) >= config.graph.n:
            raise ConfigError(
                f"agent_types[{k}].agents: agent id {max(entry.agents)} is out of range for graph.n = {config.graph.n}"
            )
    if not config.game.is_group_game and config.graph.groups != "pairwise":
        raise ConfigError(
            f"graph.groups = {config.graph.groups!r} needs a group game ([game] name = "
            f"{', '.join(map(repr, GROUP_GAMES))}); {config.game.name!r} is played on the edges"
        )
    if config.graph.groups == "file":
        path = resolve_path(config.graph.groups_path, _base(config))
        if not path.is_file():
            raise ConfigError(f"graph.groups_path: no such file: {path}")
    if isinstance(config.init.edge_state, int) and not 0 <= config.init.edge_state < game.n_states:
        raise ConfigError(
            f"init.edge_state = {config.init.edge_state} must be 'uniform' or a state in 0..{game.n_states - 1}"
        )
    return config


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML configuration file; relative paths inside resolve next to it.

    A file with nothing in it (empty, or only comments and whitespace) is valid TOML and means the
    built-in default case; that is almost never what was meant, so it warns with :class:`MarldynWarning`.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or any field is invalid.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "run.toml"
    ...     _ = path.write_text("[run]\\nsteps = 10\\n")
    ...     load_config(path).run.steps
    10
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if not data:
        warnings.warn(
            f"{path} is empty: running the built-in default case (two-state prisoner's dilemma on a lattice "
            f"of {DEFAULT_N} agents, {RunConfig().runs} runs of {RunConfig().steps} steps)",
            MarldynWarning,
            stacklevel=2,
        )
    return parse_config(data, base_dir=path.parent)


def as_config(config: Config | dict | str | Path) -> Config:
    """A :class:`Config` from a Config (returned as it is), a nested dict or the path of a TOML file.

    Examples
    --------
    >>> as_config({"run": {"steps": 10}}).run.steps
    10
    """
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return parse_config(config)
    if isinstance(config, str | Path):
        return load_config(config)
    raise ConfigError(f"config must be a Config, a dict or a TOML path, got {type(config).__name__}")


def _describe(error: dict, data: dict) -> str:
    location = [str(part) for part in error["loc"]]
    kind = error["type"]
    if kind == "extra_forbidden":
        section = location[:-1]
        if section[:1] == ["agent_types"]:
            model, where = AgentTypeConfig, f"[[agent_types]] entry {section[1]}" if len(section) > 1 else "agent_types"
        else:
            model = Config
            for part in section:
                model = model.model_fields[part].annotation
            where = f"[{'.'.join(section)}]" if section else "the top level"
        allowed = list(model.model_fields)
        return (
            f"unknown key '{location[-1]}' in {where}{did_you_mean(location[-1], allowed)}; "
            f"allowed: {', '.join(allowed)}"
        )
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if location[:2] == ["init", "edge_state"]:
        return f"init.edge_state = {error.get('input')!r} must be 'uniform' or an integer state"
    location = [part for part in location if not part.startswith(("literal[", "tuple[", "list["))]
    if location[:1] == ["agent_types"] and len(location) > 1 and location[1].isdigit():
        location = [f"agent_types[{location[1]}]", *location[2:]]
    field = ".".join(location)
    first_word = message.split(" ", 1)[0]
    if kind == "value_error" and field in SECTIONS and first_word in SECTIONS[field].model_fields:
        return f"{field}.{message}"
    if kind == "value_error" and field.startswith("agent_types[") and first_word in AgentTypeConfig.model_fields:
        return f"{field}.{message}"
    if field == "agent_types" and kind != "value_error":
        return "agent_types must be a list of tables ([[agent_types]] entries)"
    if "input" in error and kind != "value_error" and not isinstance(error["input"], dict):
        return f"{field} = {error['input']!r}: {message}"
    return f"{field}: {message}" if field else message


def dumps_toml(data: dict) -> str:
    """Serialise a two-level dict of scalars and (nested) lists as TOML."""
    lines: list[str] = []
    for section, values in data.items():
        if not isinstance(values, dict) and not _is_table_array(values) and values != [] and values != ():
            lines.append(f"{section} = {_toml_value(values)}")
    for section, values in data.items():
        if isinstance(values, dict):
            lines.append(f"\n[{section}]")
            lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    for section, values in data.items():
        if _is_table_array(values):  # [[section]] once per entry
            for entry in values:
                lines.append(f"\n[[{section}]]")
                lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    return "\n".join(lines).strip() + "\n"


def _is_table_array(value) -> bool:
    return isinstance(value, list | tuple) and len(value) > 0 and all(isinstance(v, dict) for v in value)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if np.isfinite(value) else ("nan" if np.isnan(value) else ("inf" if value > 0 else "-inf"))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
