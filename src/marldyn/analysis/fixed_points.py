"""Fixed points and slow (quasi-stationary) points of the homogeneous point-mass dynamics.

The reduced point-mass theory (eqs. 18-19) is the ODE dQ/dt = μ*(Q) with

    μ*(s, a) = α π_s(Q) X(s, a) δ̄(s, a),   π_s = 1 - (1 - p*(s | Q, Q))^k            (eq. 9)

(:func:`marldyn.theory.homogeneous.stationary_drift`). Because α π_s X(s, a) > 0 wherever the state s is
reachable, the zeros of μ* are the zeros of the mean TD error δ̄ (eq. 7): Q*(s, a) is the expected
reward plus γ times the expected bootstrap value under the policy X(Q*) played against itself -- a
logit ("quantal response") equilibrium of the stochastic game. The full point-mass theory (eq. 15), the
ODE in (Q, p) with dp/dt = p (λ(Q, Q) - I), has the same Q* with p = p*(Q*) (a zero of p (λ - I) is a
stationary distribution, and then μ(Q, p*) = μ*(Q)); :func:`full_fixed_point_check` evaluates its rate
there and the eigenvalues of its Jacobian (the K - 1 fast edge-state modes plus the slow ones).

Searching on μ* itself is a trap: with near-deterministic policies X(s, a) ~ exp(-β ΔQ) makes μ*
tiny everywhere on a large region, so a root finder stops there "successfully". This module searches
on δ̄ (the drift divided by α π X, same zeros, O(1) scale), and classifies any point by two residuals
(:func:`classify_point`): the drift relative to α and the payoff scale, and the TD error relative to
the payoff scale. A point with a tiny drift but a non-zero TD error is a *slow point*: a
quasi-stationary state, not a fixed point.

Slow points are computed in the limit they approach: in some states the policy is pure on a support
(the other actions' probabilities are 0), the played actions' Q-values solve δ̄ = 0, and the rarely
played actions' Q-values are free. A rare action r of state s moves at the rate α π_s X(s, r) δ̄(s, r)
with X(s, r) ≈ exp(-β g)/len(support) at a gap g below the played value, so leaving the slow point takes

    T(g) ≈ 1 / (β α π_s X(s, r) δ̄(s, r)) = len(support) exp(β g) / (β α π_s (g + Δ))

(the time for X(s, r) to grow by a factor e is 1/(β dQ/dt), and the growth accelerates), with
Δ = target(s, r) - Q(s, played) the rare action's "temptation": target(s, r) = E[U] + γ E[V] is the
value its Q-value relaxes to. See :func:`escape_time`.

All starting points come from a scrambled Sobol sequence on the box [min U / (1 - γ), max U / (1 - γ)]
of every entry, which contains every fixed point: Q* = E U + γ E V with V a weighted mean (or the
maximum) of Q*, so max Q* <= max U + γ max Q* and likewise for the minimum.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.optimize import root
from scipy.stats import qmc

from ..agents import Learners, type_degree_classes
from ..errors import ConfigError
from ..games import Game
from ..learning import RULES, faq_factor, played_weight, rule_code
from ..policy import EPSILON_GREEDY, FIXED, POLICIES, boltzmann, boltzmann_table, epsilon_of, policy_code, policy_of
from ..theory.homogeneous import full_rate_at, stationary_drift
from ..theory.markov import edge_transition_matrix, stationary_distribution
from ..theory.moments import interaction_probability, mean_td_error
from ..theory.one_step import MEAN, td_moments_into, workspace

__all__ = [
    "ClassPointMassDynamics",
    "FixedPoint",
    "FixedPointSearch",
    "PointMassDynamics",
    "SlowPoint",
    "classify_point",
    "escape_time",
    "find_fixed_points",
    "find_slow_points",
    "full_fixed_point_check",
    "jacobian",
    "payoff_box",
    "point_mass_dynamics",
]

TD_TOLERANCE = 1e-9
"""A fixed point has max abs(δ̄) <= TD_TOLERANCE × payoff scale (on reachable states)."""
SLOW_TOLERANCE = 1e-4
"""A slow point has max abs(μ*) <= SLOW_TOLERANCE × α × payoff scale but a TD error above TD_TOLERANCE."""
RARE_LOG_GAP = 800.0
"""β × gap given to the rare actions of a support pattern: exp(-800) underflows to 0 exactly."""
MAX_PATTERNS = 4096


# ----------------------------------------------------------------------------------------------
# the dynamics' parameters
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class PointMassDynamics:
    """Parameters of the homogeneous point-mass dynamics dQ/dt = μ*(Q) (one degree k for everyone).

    Parameters
    ----------
    game : Game
    degree : int
        k, every agent's degree (a regular graph).
    alpha, beta, gamma : float
        α, β, γ.
    rule : str
        ``q_learning``, ``sarsa``, ``expected_sarsa`` or ``faq`` (with ``faq_beta``: FAQ has Q-learning's fixed
        points, its rates are scaled by c = min(faq_beta / X, 1)).
    initial_state_distribution : ndarray, shape (state,), optional
        Used only where λ(Q, Q) has several closed classes (default uniform).
    policy : {"boltzmann", "epsilon_greedy"}
        ε-greedy (with ``epsilon`` > 0): the drift jumps at the switching surfaces, so
        :func:`find_fixed_points` enumerates the regions of fixed greedy actions, where δ̄ is affine and its
        zero exact (:func:`marldyn.theory.switching.greedy_fixed_points`); slow points, transients and outcome
        maps are for Boltzmann learners and refuse it.
    epsilon, faq_beta : float, optional

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> dynamics.shape, round(dynamics.scale, 9)  # scale = max abs(U) / (1 - γ) = 5 / 0.2
    ((2, 2), 25.0)
    >>> (dynamics.drift([[0.0, 0.0], [0.0, 0.0]]) / dynamics.alpha).round(4)  # μ*(Q) / α at Q = 0
    array([[0.7924, 0.9905],
           [0.0494, 0.2967]])
    >>> PointMassDynamics.from_config({"graph": {"kind": "lattice", "n": 9}}).degree
    4
    """

    game: Game
    degree: int
    alpha: float
    beta: float
    gamma: float
    rule: str = "q_learning"
    initial_state_distribution: np.ndarray | None = None
    policy: str = "boltzmann"
    epsilon: float | None = None
    faq_beta: float | None = None

    def __post_init__(self):
        if not isinstance(self.game, Game):
            raise ConfigError(
                f"the point-mass analysis (fixed points, transients, outcome maps) is for pairwise games; "
                f"{getattr(self.game, 'name', self.game)!r} is a group game: use marldyn.predict (reduced, full, "
                "full-discrete) for its dynamics"
            )
        if isinstance(self.degree, bool) or not isinstance(self.degree, int | np.integer) or self.degree < 1:
            raise ConfigError(f"degree = {self.degree!r} must be an integer >= 1")
        if not (0.0 < self.alpha <= 1.0) or self.beta < 0 or not (0.0 <= self.gamma < 1.0):
            raise ConfigError(
                f"alpha = {self.alpha}, beta = {self.beta}, gamma = {self.gamma}: need 0 < α <= 1, β >= 0, 0 <= γ < 1"
            )
        object.__setattr__(self, "degree", int(self.degree))
        object.__setattr__(self, "rule", RULES[rule_code(self.rule)])
        object.__setattr__(self, "policy", POLICIES[policy_code(self.policy)])
        if self.greedy:
            object.__setattr__(self, "epsilon", epsilon_of(self.policy, self.epsilon))
        elif self.epsilon is not None:
            raise ConfigError("epsilon is only used with policy = 'epsilon_greedy'")
        faq_factor(self.rule, self.faq_beta)  # checks faq_beta against the rule
        initial = self.initial_state_distribution
        n_states = self.game.n_states
        initial = np.full(n_states, 1.0 / n_states) if initial is None else np.asarray(initial, dtype=np.float64)
        object.__setattr__(self, "initial_state_distribution", initial)

    @classmethod
    def from_config(cls, config) -> PointMassDynamics:
        """The point-mass dynamics of a configuration (its graph must be regular: one degree).

        Parameters
        ----------
        config : Config, dict or path

        Raises
        ------
        ConfigError
            If the graph's agents have different degrees (use the particle theory then).
        """
        from ..config import as_config
        from ..memory import graph_memory, require_memory

        config = as_config(config)
        game = config.build_game()
        if config.game.is_group_game:
            cls(game, 1, 0.1, 1.0, 0.5)  # the one-line refusal of group games
        require_memory(graph_memory(config.graph, config.base_dir), "building the graph of the point-mass analysis")
        degrees = np.unique(config.build_graph().degree)
        if degrees.size != 1:
            raise ConfigError(
                f"one point mass needs a regular graph (one degree); this graph has degrees {degrees.tolist()}: "
                "use ClassPointMassDynamics.from_config (a point mass per degree class) or point_mass_dynamics"
            )
        if config.agent_types:
            raise ConfigError(
                "one point mass is for one type of learners: agent types have a point mass each, coupled; use "
                "ClassPointMassDynamics.from_config (a point mass per (type, degree) class) or point_mass_dynamics"
            )
        return cls._of_learning(config, game, int(degrees[0]))

    @classmethod
    def _of_learning(cls, config, game, degree: int) -> PointMassDynamics:
        """The point mass of ``config``'s ``[learning]`` on ``game`` with every agent's degree ``degree`` (the
        checks of the graph and the types are :meth:`from_config`'s)."""
        learning = config.learning
        return cls(
            game,
            degree,
            learning.alpha,
            learning.beta,
            learning.gamma,
            learning.rule,
            config.initial_state_distribution(game.n_states),
            learning.policy,
            learning.epsilon,
            learning.faq_beta,
        )

    @property
    def greedy(self) -> bool:
        """Whether the policy is ε-greedy (a drift that jumps at switching surfaces)."""
        return policy_code(self.policy) == EPSILON_GREEDY

    def require_smooth(self, what: str) -> None:
        """ConfigError for ε-greedy learners in an analysis that needs a smooth Boltzmann drift."""
        if self.greedy:
            raise ConfigError(
                f"{what} is built for Boltzmann learners (smooth policies); ε-greedy policies jump at switching "
                "surfaces: use find_fixed_points (exact per region) or marldyn.predict(config, 'reduced'), which "
                "integrates across the surfaces"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(state, action)."""
        return (self.game.n_states, self.game.n_actions)

    @property
    def scale(self) -> float:
        """The payoff scale max abs(U) / (1 - γ) (Q units), at least 1e-12."""
        return max(float(np.abs(self.game.payoff).max()) / (1.0 - self.gamma), 1e-12)

    def parameters(self) -> dict:
        """Keyword arguments of the homogeneous theory functions (degree, alpha, beta, gamma, rule, policy, and
        epsilon and faq_beta where they are used)."""
        extra = {key: getattr(self, key) for key in ("epsilon", "faq_beta") if getattr(self, key) is not None}
        return dict(
            degree=self.degree,
            alpha=self.alpha,
            beta=self.beta,
            gamma=self.gamma,
            rule=self.rule,
            policy=self.policy,
            **extra,
        )

    def policy_table(self, q) -> np.ndarray:
        """X(Q), shape (..., state, action): Boltzmann with β, or ε-greedy with ε (eq. 2)."""
        return policy_of(np.asarray(q, dtype=np.float64), self.policy, beta=self.beta, epsilon=self.epsilon)

    def drift(self, q) -> np.ndarray:
        """μ*(Q), shape (..., state, action) (:func:`marldyn.theory.homogeneous.stationary_drift`)."""
        return stationary_drift(
            q, self.game, initial_state_distribution=self.initial_state_distribution, **self.parameters()
        )

    def td_error(self, q) -> np.ndarray:
        """δ̄(Q) of the point mass (the neighbour plays X(Q) too), shape (..., state, action), eq. (7)."""
        q = np.asarray(q, dtype=np.float64)
        own = self.policy_table(q)
        return mean_td_error(
            q,
            own,
            self.game,
            beta=self.beta,
            gamma=self.gamma,
            rule=self.rule,
            policy=self.policy,
            epsilon=self.epsilon,
        )

    def state_distribution(self, q) -> np.ndarray:
        """p*(· | Q, Q), shape (..., state), eq. (18)."""
        policy = self.policy_table(q)
        matrix = edge_transition_matrix(policy, policy, self.game.transition)
        return stationary_distribution(matrix, self.initial_state_distribution)

    def numba_arguments(self) -> tuple:
        """The trailing arguments of the numba right-hand side ``reduced_rate`` (Boltzmann learners)."""
        self.require_smooth("the numba point-mass integrator")
        payoff, transition = self.game.arrays()
        n_states, n_actions = self.shape
        return (
            n_states,
            n_actions,
            self.degree,
            payoff,
            transition,
            float(self.alpha),
            float(self.beta),
            float(self.gamma),
            rule_code(self.rule),
            faq_factor(self.rule, self.faq_beta),
            self.initial_state_distribution,
        )


@dataclass(frozen=True, eq=False)
class ClassPointMassDynamics:
    """The reduced point-mass dynamics of a population of classes: one point mass Q_c per (type, degree) class.

    The classes of ``predict(config, "reduced")`` for agent types or degrees that differ (the particle theory
    with one particle per class, eqs. 19-20):

        dQ_c/dt = α_c π_c X_c c_c δ̄_c,   π_c(s) = 1 - (1 - p(s | Q_c))^(k_c)                           (eq. 9)

    with each class's type parameters (α, β or ε, γ, rule, faq_beta), its degree k_c and share of agents w_c; the
    edge-state marginal p(s | Q_c) and the neighbour met in s, X̃_c, come from the stationary pairs with a
    neighbour of class d with probability v_d = w_d k_d / Σ w k (the pair approximation). Committed classes
    never move: their fixed tables enter the others' X̃. Classes of degree 0 never meet anyone and keep their Q.
    The zeros of the moving classes' δ̄ are the fixed points (the prefactor α π X c is positive).

    Parameters
    ----------
    game : Game
        A pairwise game.
    learners : marldyn.agents.Learners
    class_type, class_degree : array_like of int, shape (class,)
        Each class's type (an index into ``learners``) and degree k_c.
    class_weight : array_like, shape (class,)
        Each class's share of agents w_c (normalised to sum 1).
    initial_state_distribution : ndarray, shape (state,), optional
        Used only where a pair's chain has several closed classes (default uniform).
    q_table : array_like, shape (state, action), optional
        The Q of the classes that do not move (default 0): a committed class plays its table whatever its Q,
        and an isolated class is never met.

    Attributes
    ----------
    neighbor_weight : ndarray, shape (class,)
        v_c = w_c k_c / Σ w k, the probability that a neighbour belongs to class c.

    Examples
    --------
    >>> from marldyn.analysis import ClassPointMassDynamics
    >>> config = {"graph": {"kind": "lattice", "n": 100}, "learning": {"alpha": 0.01},
    ...           "agent_types": [{"name": "committed", "fraction": 0.2, "fixed_policy": [[1.0, 0.0], [1.0, 0.0]]}]}
    >>> dynamics = ClassPointMassDynamics.from_config(config)
    >>> dynamics.describe_classes()
    [{'type': 'default', 'degree': 4, 'weight': 0.8}, {'type': 'committed', 'degree': 4, 'weight': 0.2}]
    >>> dynamics.shape, dynamics.moving.tolist()  # (class, state, action); the committed class does not move
    ((2, 2, 2), [True, False])
    """

    game: Game
    learners: Learners
    class_type: np.ndarray
    class_degree: np.ndarray
    class_weight: np.ndarray
    initial_state_distribution: np.ndarray | None = None
    q_table: np.ndarray | None = None
    neighbor_weight: np.ndarray = field(init=False, repr=False)
    _inputs: tuple = field(init=False, repr=False)

    def __post_init__(self):
        from ..theory.particles import neighbor_weights

        if not isinstance(self.game, Game):
            PointMassDynamics(self.game, 1, 0.1, 1.0, 0.5)  # the one-line refusal of group games
        class_type = np.ascontiguousarray(self.class_type, dtype=np.int64).reshape(-1)
        degree = np.ascontiguousarray(self.class_degree, dtype=np.int64).reshape(-1)
        weight = np.asarray(self.class_weight, dtype=np.float64).reshape(-1)
        if not class_type.size or degree.shape != class_type.shape or weight.shape != class_type.shape:
            raise ConfigError("class_type, class_degree and class_weight must be non-empty, one entry per class")
        if class_type.min() < 0 or class_type.max() >= self.learners.n_types:
            raise ConfigError(f"class_type must index the {self.learners.n_types} agent types")
        if degree.min() < 0 or not np.all(weight > 0):
            raise ConfigError("class_degree must be >= 0 and class_weight > 0")
        n_states, n_actions = self.game.n_states, self.game.n_actions
        if self.learners.fixed_policy.shape[1:] != (n_states, n_actions):
            raise ConfigError(f"the learners are for another game shape than (state, action) = {n_states, n_actions}")
        initial = self.initial_state_distribution
        initial = np.full(n_states, 1.0 / n_states) if initial is None else np.asarray(initial, dtype=np.float64)
        table = np.zeros((n_states, n_actions)) if self.q_table is None else np.asarray(self.q_table, dtype=float)
        if table.shape != (n_states, n_actions):
            raise ConfigError(f"q_table must have shape (state, action) = {(n_states, n_actions)}")
        for name, value in (
            ("class_type", class_type),
            ("class_degree", degree),
            ("class_weight", weight / weight.sum()),
            ("initial_state_distribution", initial),
            ("q_table", table),
        ):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "neighbor_weight", neighbor_weights(degree, self.class_weight))
        # what the particle cores take besides Q, built once (the root finder calls them thousands of times)
        payoff, transition = self.game.arrays()
        inputs = (self.neighbor_weight, class_type, self.learners.kernel_arrays(), payoff, transition)
        object.__setattr__(self, "_inputs", inputs)

    @classmethod
    def from_config(cls, config) -> ClassPointMassDynamics:
        """The classes of a configuration: one per (type, degree) with the simulator's assignment of run 0 (the
        counts per type are those of every run), as ``predict(config, "reduced")`` takes them.

        Parameters
        ----------
        config : Config, dict or path
        """
        from ..config import as_config
        from ..memory import graph_memory, require_memory
        from ..theory.entry import first_run_types

        config = as_config(config)
        game = config.build_game()
        if config.game.is_group_game:
            PointMassDynamics(game, 1, 0.1, 1.0, 0.5)  # the one-line refusal of group games
        require_memory(graph_memory(config.graph, config.base_dir), "building the graph of the point-mass analysis")
        graph = config.build_graph()
        learners = config.learners(game, graph.n_agents)
        classes = type_degree_classes(learners, first_run_types(config, game, graph), graph.degree)
        return cls(
            game, learners, *classes, config.initial_state_distribution(game.n_states), config.initial_q_table(game)
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        """(class, state, action)."""
        return (self.class_type.size, self.game.n_states, self.game.n_actions)

    @property
    def moving(self) -> np.ndarray:
        """Which classes move, shape (class,) bool: learners (not committed) with at least one neighbour."""
        return (self.learners.policy[self.class_type] != FIXED) & (self.class_degree > 0)

    @property
    def alpha(self) -> float:
        """The smallest α of the moving classes (the drift residual's unit)."""
        return float(self.learners.alpha[self.class_type[self.moving]].min(initial=1.0))

    @property
    def gamma(self) -> float:
        """The largest γ of the moving classes (the payoff box's and the scale's)."""
        return float(self.learners.gamma[self.class_type[self.moving]].max(initial=0.0))

    @property
    def scale(self) -> float:
        """The payoff scale max abs(U) / (1 - γ) with the largest γ (Q units), at least 1e-12."""
        return max(float(np.abs(self.game.payoff).max()) / (1.0 - self.gamma), 1e-12)

    @property
    def greedy(self) -> bool:
        """Whether a moving class is ε-greedy (its drift jumps at switching surfaces)."""
        return bool(np.any(self.learners.policy[self.class_type[self.moving]] == EPSILON_GREEDY))

    def describe_classes(self) -> list[dict]:
        """Each class's type name, degree and share of agents."""
        return [
            {"type": self.learners.names[t], "degree": int(k), "weight": round(float(w), 12)}
            for t, k, w in zip(self.class_type, self.class_degree, self.class_weight, strict=True)
        ]

    def parameters(self) -> dict:
        """The classes and the agent types, JSON-ready."""
        return {"classes": self.describe_classes(), "agent_types": self.learners.describe()}

    def full_q(self, x) -> np.ndarray:
        """The (class, state, action) table with the moving classes' Q from ``x`` (flat, moving classes in order)
        and the others at ``q_table``."""
        q = np.broadcast_to(self.q_table, self.shape).copy()
        q[self.moving] = np.asarray(x, dtype=np.float64).reshape((-1,) + self.shape[1:])
        return q

    def _arguments(self, q):
        q = np.ascontiguousarray(q, dtype=np.float64)
        if q.shape != self.shape:
            raise ConfigError(f"q must have shape (class, state, action) = {self.shape}, got {q.shape}")
        return (q, *self._inputs)

    def policy_table(self, q) -> np.ndarray:
        """X_c(Q_c) of every class by its type (a committed class: its table), shape (class, state, action)."""
        return self.learners.policies(np.asarray(q, dtype=np.float64), self.class_type)

    def td_error(self, q) -> np.ndarray:
        """δ̄_c(Q) of every class at stationary pairs, shape (class, state, action); 0 for committed classes
        (:func:`marldyn.theory.particles.td_errors`)."""
        from ..theory.particles import td_errors

        return td_errors(*self._arguments(q), self.initial_state_distribution)[0]

    def state_distribution(self, q) -> np.ndarray:
        """p(s | Q_c) of every class, shape (class, state)."""
        from ..theory.particles import td_errors

        return td_errors(*self._arguments(q), self.initial_state_distribution)[1]

    def drift(self, q) -> np.ndarray:
        """dQ_c/dt per step, shape (class, state, action) (:func:`marldyn.theory.particles.reduced_rate`, the
        right-hand side of ``predict(config, "reduced")`` with classes)."""
        from ..theory.particles import reduced_rate

        q, neighbor, kind, learners, payoff, transition = self._arguments(q)
        initial = self.initial_state_distribution
        return reduced_rate(q, neighbor, self.class_degree, kind, learners, payoff, transition, initial)[0]

    def weights(self, q) -> np.ndarray:
        """α_c π_c(s) X_c(s, a) c_c(s, a) of every class, shape (class, state, action): μ = weights × δ̄."""
        policy = self.policy_table(q)
        engaged = interaction_probability(self.state_distribution(q), self.class_degree)
        t = self.class_type
        played = np.stack([played_weight(row, faq) for row, faq in zip(policy, self.learners.faq_beta[t], strict=True)])
        return self.learners.alpha[t][:, None, None] * engaged[..., None] * played


def payoff_box(game: Game, gamma: float) -> tuple[float, float]:
    """[min U / (1 - γ), max U / (1 - γ)], the box that contains every fixed point Q*(s, a).

    Parameters
    ----------
    game : Game
    gamma : float

    Returns
    -------
    (float, float)
        Lower and upper bound, in Q units.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import payoff_box
    >>> [round(bound, 9) for bound in payoff_box(two_state_pd(), gamma=0.8)]  # (min U, max U) / (1 - 0.8)
    [-2.5, 25.0]
    """
    payoff = np.asarray(game.payoff)
    return float(payoff.min()) / (1.0 - gamma), float(payoff.max()) / (1.0 - gamma)


# ----------------------------------------------------------------------------------------------
# numba residuals
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _td_error_flat(q_flat, n_states, n_actions, payoff, transition, beta, gamma, rule):
    """δ̄(Q) of the point mass, flattened (K*M,): the root-finding residual."""
    q = q_flat.reshape(n_states, n_actions)
    policy = boltzmann_table(q, beta)
    work = workspace(n_states, n_actions)
    td_moments_into(q, policy, policy, payoff, transition, gamma, rule, work)
    return work[MEAN].ravel()


def jacobian(function, x, step=1e-6) -> tuple[np.ndarray, float]:
    """Central finite-difference Jacobian, checked by Richardson: J(h) against J(h/2).

    Parameters
    ----------
    function : callable
        Maps ndarray (n,) to ndarray (m,).
    x : ndarray, shape (n,)
    step : float
        Relative step h (the absolute step is h × max(1, abs(x_i))).

    Returns
    -------
    jacobian : ndarray, shape (m, n)
        The Richardson extrapolation (4 J(h/2) - J(h)) / 3, accurate to O(h⁴).
    error : float
        max abs(J(h) - J(h/2)), an estimate of the O(h²) error of J(h) (a kink, e.g. a tie in a max, shows as
        a large value).

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn.analysis import jacobian
    >>> matrix, error = jacobian(lambda x: np.array([x[0] ** 2, x[0] * x[1]]), np.array([1.0, 2.0]))
    >>> matrix.round(8)  # [[2 x0, 0], [x1, x0]]
    array([[2., 0.],
           [2., 1.]])
    >>> bool(error < 1e-6)
    True
    """
    x = np.asarray(x, dtype=np.float64)

    def central(h):
        columns = []
        for i in range(x.size):
            delta = h * max(1.0, abs(x[i]))
            up, down = x.copy(), x.copy()
            up[i] += delta
            down[i] -= delta
            columns.append((np.asarray(function(up)) - np.asarray(function(down))) / (2.0 * delta))
        return np.stack(columns, axis=1)

    coarse, fine = central(step), central(step / 2.0)
    return (4.0 * fine - coarse) / 3.0, float(np.abs(coarse - fine).max(initial=0.0))


# ----------------------------------------------------------------------------------------------
# classification of a point
# ----------------------------------------------------------------------------------------------
def classify_point(q, dynamics: PointMassDynamics) -> dict:
    """Is Q a fixed point, a slow (quasi-stationary) point, or neither? Residual tests relative to α and scale.

    Parameters
    ----------
    q : array_like, shape (state, action)
    dynamics : PointMassDynamics

    Returns
    -------
    dict
        ``drift_residual`` = max abs(μ*(Q)) / (α × scale); ``td_residual`` = max abs(δ̄(Q)) / scale over reachable
        states (p*(s) > 0); ``kind``: ``"fixed"`` if ``td_residual <= TD_TOLERANCE``, ``"slow"`` if not but
        ``drift_residual <= SLOW_TOLERANCE``, else ``"moving"``.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, classify_point
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> classify_point([[0.0, 0.0], [0.0, 0.0]], dynamics)["kind"]
    'moving'

    Near-full cooperation, D 14 below C in both states: the drift is tiny, the TD error is not.

    >>> result = classify_point([[17.94, 3.94], [14.14, 0.14]], dynamics)
    >>> result["kind"], f"{result['drift_residual']:.1e}", f"{result['td_residual']:.2f}"
    ('slow', '4.3e-07', '0.52')
    """
    q = np.asarray(q, dtype=np.float64)
    scale = dynamics.scale
    drift_residual = float(np.abs(dynamics.drift(q)).max()) / (dynamics.alpha * scale)
    reachable = dynamics.state_distribution(q) > 0.0
    td = np.abs(dynamics.td_error(q))[reachable]
    td_residual = float(td.max(initial=0.0)) / scale
    if td_residual <= TD_TOLERANCE:
        kind = "fixed"
    elif drift_residual <= SLOW_TOLERANCE:
        kind = "slow"
    else:
        kind = "moving"
    return {"kind": kind, "drift_residual": drift_residual, "td_residual": td_residual}


def _stability(eigenvalues, alpha) -> str:
    real = np.real(eigenvalues)
    marginal = np.abs(real) <= 1e-12 * alpha
    if np.any(marginal):
        return "marginal"
    if np.all(real < 0):
        return "stable"
    if np.all(real > 0):
        return "unstable"
    return "saddle"


def _relaxation_times(eigenvalues) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 1.0 / np.abs(np.real(eigenvalues))


# ----------------------------------------------------------------------------------------------
# fixed points
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FixedPoint:
    """A fixed point Q* of the reduced point-mass dynamics, μ*(Q*) = 0.

    Attributes
    ----------
    q : ndarray, shape (state, action)
        Q*.
    policy : ndarray, shape (state, action)
        X* = X(Q*), the dynamics' policy (softmax(β Q*) for Boltzmann learners).
    state_distribution : ndarray, shape (state,)
        p*(· | Q*, Q*), the stationary edge-state distribution.
    eigenvalues : ndarray of complex, shape (state * action,)
        Eigenvalues of the Jacobian of μ* at Q* (per step), sorted by real part, largest first.
    stability : str
        ``stable`` (all Re λ < 0), ``unstable`` (all > 0), ``saddle`` (both signs) or ``marginal``.
    relaxation_times : ndarray, shape (state * action,)
        1 / abs(Re λ) in steps (same order as ``eigenvalues``).
    drift_residual, td_residual : float
        max abs(μ*(Q*)) / (α scale) and max abs(δ̄(Q*)) / scale.
    jacobian_error : float
        Richardson estimate of the finite-difference error of the TD-error Jacobian (dimensionless).
    hits : int
        Number of starts whose root is this point.
    first_start : int
        Index of the first start that found it.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_fixed_points
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> point = find_fixed_points(dynamics, starts=16, slow_points=False).fixed_points[0]
    >>> point.stability, point.policy.round(4)  # the mixed policy, X*(C) = 0.4532 in both states
    ('stable', array([[0.4532, 0.5468],
                      [0.4532, 0.5468]]))
    >>> point.relaxation_times.round()  # steps
    array([13611.,  5016.,  2424.,  1572.])
    """

    q: np.ndarray
    policy: np.ndarray
    state_distribution: np.ndarray
    eigenvalues: np.ndarray
    stability: str
    relaxation_times: np.ndarray
    drift_residual: float
    td_residual: float
    jacobian_error: float
    hits: int
    first_start: int

    def as_dict(self) -> dict:
        """JSON-ready dict (complex eigenvalues as [real, imag] pairs)."""
        return {
            "q": self.q.tolist(),
            "policy": self.policy.tolist(),
            "state_distribution": self.state_distribution.tolist(),
            "eigenvalues": [[float(v.real), float(v.imag)] for v in self.eigenvalues],
            "stability": self.stability,
            "relaxation_times": [float(v) for v in self.relaxation_times],
            "drift_residual": self.drift_residual,
            "td_residual": self.td_residual,
            "jacobian_error": self.jacobian_error,
            "hits": self.hits,
            "first_start": self.first_start,
        }


@dataclass(frozen=True, eq=False)
class SlowPoint:
    """A quasi-stationary state: pure policies on a support in some states, fixed-point values on the rest.

    Attributes
    ----------
    support : ndarray of bool, shape (state, action)
        The actions played with non-vanishing probability; the others are rare (probability -> 0).
    q : ndarray, shape (state, action)
        Q of the played actions (δ̄ = 0 there); NaN for the rare actions, whose values are free.
    policy : ndarray, shape (state, action)
        The limiting policy (0 on rare actions).
    state_distribution : ndarray, shape (state,)
    target : ndarray, shape (state, action)
        For rare actions, the value their Q relaxes to, E[U] + γ E[V] (NaN for played actions).
    temptation : ndarray, shape (state, action)
        Δ = target - max Q(s, played) for rare actions (NaN for played ones): Δ > 0 means the rare action's Q
        overtakes the played one.
    engagement : ndarray, shape (state,)
        π_s = 1 - (1 - p*(s))^k.
    eigenvalues : ndarray of complex
        Eigenvalues of the Jacobian of the played actions' drift (the fast subsystem), per step.
    stability : str
        Of the fast subsystem: ``stable`` means nearby trajectories are drawn onto the slow point.
    hits : int
        Number of starts that found it.

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_slow_points
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> cc = next(p for p in find_slow_points(dynamics, starts=8) if p.label(["C", "D"]) == "s0: C | s1: C")
    >>> cc.q.round(2)  # the played values; NaN: the rare D, whose values are free
    array([[17.94,   nan],
           [14.14,   nan]])
    >>> cc.temptation.round(2)  # Δ < 0: D's value settles 1.02 below C's, it does not overtake
    array([[  nan, -1.02],
           [  nan, -1.02]])
    >>> cc.stability
    'stable'
    """

    support: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    state_distribution: np.ndarray
    target: np.ndarray
    temptation: np.ndarray
    engagement: np.ndarray
    eigenvalues: np.ndarray
    stability: str
    hits: int

    def label(self, action_names=None) -> str:
        """The support per state, e.g. ``"s0: C | s1: C,D"``."""
        names = action_names or [str(a) for a in range(self.support.shape[1])]
        return " | ".join(
            f"s{s}: " + ",".join(names[a] for a in np.flatnonzero(row)) for s, row in enumerate(self.support)
        )

    def as_dict(self) -> dict:
        """JSON-ready dict (NaN as None)."""

        def clean(array):
            return [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(array, dtype=float)]

        return {
            "support": self.support.tolist(),
            "q": clean(self.q),
            "policy": self.policy.tolist(),
            "state_distribution": self.state_distribution.tolist(),
            "target": clean(self.target),
            "temptation": clean(self.temptation),
            "engagement": self.engagement.tolist(),
            "eigenvalues": [[float(v.real), float(v.imag)] for v in self.eigenvalues],
            "stability": self.stability,
            "hits": self.hits,
        }


@dataclass(frozen=True, eq=False)
class FixedPointSearch:
    """Result of :func:`find_fixed_points`.

    Attributes
    ----------
    fixed_points : tuple of FixedPoint
        All distinct fixed points found, in order of discovery.
    slow_points : tuple of SlowPoint
        Quasi-stationary states (pure supports in some states), from :func:`find_slow_points`.
    counts : dict of int to int
        Number of distinct fixed points found by the first n starts, for growing n (thoroughness).
    starts : int
        Total number of starts.
    converged : int
        Number of starts whose root finder converged to a fixed point inside the box.
    box : (float, float)
        The search box per entry.
    dynamics : PointMassDynamics

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_fixed_points
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> search = find_fixed_points(dynamics, starts=16, slow_starts=8)
    >>> search.starts, search.converged, len(search.fixed_points), len(search.slow_points)
    (16, 16, 1, 8)
    >>> search.counts  # distinct fixed points found by the first n starts
    {16: 1}
    >>> sorted(search.as_dict())  # JSON-ready
    ['box', 'converged', 'counts', 'fixed_points', 'parameters', 'slow_points', 'starts']
    """

    fixed_points: tuple
    slow_points: tuple
    counts: dict
    starts: int
    converged: int
    box: tuple
    dynamics: PointMassDynamics = field(repr=False)

    def as_dict(self) -> dict:
        """JSON-ready dict of everything."""
        d = self.dynamics
        return {
            "parameters": {**d.parameters(), "game": d.game.name},
            "box": list(self.box),
            "starts": self.starts,
            "converged": self.converged,
            "counts": {str(k): v for k, v in self.counts.items()},
            "fixed_points": [p.as_dict() for p in self.fixed_points],
            "slow_points": [p.as_dict() for p in self.slow_points],
        }


def _sobol(dimension: int, count: int, low: float, high: float, seed) -> np.ndarray:
    exponent = max(int(np.ceil(np.log2(max(count, 1)))), 0)
    sampler = qmc.Sobol(d=dimension, scramble=True, seed=np.random.default_rng(seed))
    return low + (high - low) * sampler.random_base2(exponent)[:count]


def _checkpoints(starts: int) -> list[int]:
    marks = [n for n in (64 * 4**i for i in range(12)) if n < starts]
    return marks + [starts]


def _solve(residual, x0, scale) -> np.ndarray | None:
    """scipy.optimize.root (hybr) with the checked finite-difference Jacobian; None if it did not converge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = root(residual, x0, jac=lambda x: jacobian(residual, x)[0], method="hybr", options={"xtol": 1e-13})
    if not np.all(np.isfinite(result.x)) or np.abs(residual(result.x)).max() > TD_TOLERANCE * scale:
        return None
    return result.x


def _multistart(residual, dimension, starts, seed, box, scale, accept=None) -> tuple[list[dict], int]:
    """Roots of ``residual`` from ``starts`` Sobol points of the box (each through :func:`_solve`), kept inside the
    box (and where ``accept`` says so), deduplicated at 1e-6 × scale: dicts of the root ``x``, its ``hits`` and
    the ``first`` start that found it; and the number of starts that converged."""
    low, high = box
    margin = 1e-6 * scale
    points: list[dict] = []
    converged = 0
    for index, x0 in enumerate(_sobol(dimension, starts, low, high, seed)):
        x = _solve(residual, x0, scale)
        if x is None or x.min() < low - margin or x.max() > high + margin or (accept and not accept(x)):
            continue
        converged += 1
        match = next((p for p in points if np.abs(p["x"] - x).max() <= margin), None)
        if match is not None:
            match["hits"] += 1
        else:
            points.append({"x": x, "hits": 1, "first": index})
    return points, converged


def find_fixed_points(
    dynamics: PointMassDynamics,
    *,
    starts: int = 1024,
    seed: int = 0,
    box: tuple[float, float] | None = None,
    slow_points: bool = True,
    slow_starts: int = 64,
) -> FixedPointSearch:
    """All fixed points of μ*(Q) = 0 in a box, by multi-start root finding, with stability; and the slow points.

    Every start of a scrambled Sobol sequence on the box runs ``scipy.optimize.root`` (hybr) on the TD-error
    form δ̄(Q) = 0 (same zeros as μ*, well scaled) with a Richardson-checked finite-difference Jacobian.
    Roots inside the box that pass :func:`classify_point` as ``fixed`` are deduplicated (max-norm distance
    below 1e-6 × scale). The Jacobian of μ* at a root is α diag(π_s X(s, a)) J_δ̄ exactly (δ̄ = 0 there).

    Parameters
    ----------
    dynamics : PointMassDynamics
    starts : int
        Number of Sobol starts. ``counts`` reports the distinct fixed points found by the first 64, 256,
        1024, ... starts (prefixes of the same sequence).
    seed : int
        Scrambling seed of the Sobol sequence.
    box : (float, float), optional
        Search box per entry (default :func:`payoff_box`, which contains every fixed point).
    slow_points : bool
        Also compute the slow points (:func:`find_slow_points`).
    slow_starts : int
        Starts per support pattern for the slow points.

    Returns
    -------
    FixedPointSearch

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_fixed_points
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> search = find_fixed_points(dynamics, starts=64, slow_points=False)
    >>> len(search.fixed_points), search.converged  # all 64 starts reach the one fixed point
    (1, 64)
    >>> point = search.fixed_points[0]
    >>> point.q.round(4), point.stability
    (array([[5.631 , 5.8188],
            [3.9089, 4.0967]]), 'stable')
    """
    if not isinstance(starts, int | np.integer) or starts < 1:
        raise ConfigError(f"starts = {starts!r} must be an integer >= 1")
    low, high = box if box is not None else payoff_box(dynamics.game, dynamics.gamma)
    if not high > low:
        high, low = low + 1.0, low - 1.0  # a constant game: any box around the value
    if isinstance(dynamics, ClassPointMassDynamics):
        return _class_search(dynamics, int(starts), seed, (low, high))
    if dynamics.greedy:
        return _greedy_search(dynamics, (low, high))
    n_states, n_actions = dynamics.shape
    payoff, transition = dynamics.game.arrays()
    arguments = (n_states, n_actions, payoff, transition, float(dynamics.beta), float(dynamics.gamma))
    rule = rule_code(dynamics.rule)
    scale = dynamics.scale

    def residual(x):
        return _td_error_flat(np.ascontiguousarray(x), *arguments, rule)

    points, converged = _multistart(residual, n_states * n_actions, int(starts), seed, (low, high), scale)
    fixed = tuple(_fixed_point(p["x"], p["hits"], p["first"], dynamics, residual) for p in points)
    counts = {n: sum(p["first"] < n for p in points) for n in _checkpoints(int(starts))}
    slow = find_slow_points(dynamics, starts=slow_starts, seed=seed, box=(low, high)) if slow_points else ()
    return FixedPointSearch(fixed, slow, counts, int(starts), converged, (low, high), dynamics)


def _fixed_point(x, hits, first, dynamics, residual=None, td_jacobian=None) -> FixedPoint:
    """A FixedPoint at ``x`` with the Jacobian α π_s X c ∂δ̄/∂Q of μ* (δ̄ = 0): ∂δ̄/∂Q by Richardson-checked finite
    differences of ``residual``, or given (``td_jacobian``, exact: an ε-greedy region's affine δ̄)."""
    q = x.reshape(dynamics.shape)
    policy = dynamics.policy_table(q)
    distribution = dynamics.state_distribution(q)
    error = 0.0
    if td_jacobian is None:
        td_jacobian, error = jacobian(residual, x)
    engaged = interaction_probability(distribution, dynamics.degree)[:, None]
    weight = dynamics.alpha * engaged * played_weight(policy, faq_factor(dynamics.rule, dynamics.faq_beta))
    return _point(q.copy(), policy, distribution, weight.ravel(), td_jacobian, error, hits, first, dynamics)


def _point(q, policy, distribution, weight, td_jacobian, error, hits, first, dynamics) -> FixedPoint:
    """The FixedPoint at ``q``: eigenvalues of diag(weight) ∂δ̄/∂Q (the rate's Jacobian where δ̄ = 0), sorted by
    real part, and the residuals of :func:`classify_point`."""
    eigenvalues = np.linalg.eigvals(weight[:, None] * td_jacobian)
    eigenvalues = eigenvalues[np.argsort(-eigenvalues.real, kind="stable")]
    residuals = classify_point(q, dynamics)
    return FixedPoint(
        q=q,
        policy=policy,
        state_distribution=distribution,
        eigenvalues=eigenvalues,
        stability=_stability(eigenvalues, dynamics.alpha),
        relaxation_times=_relaxation_times(eigenvalues),
        drift_residual=residuals["drift_residual"],
        td_residual=residuals["td_residual"],
        jacobian_error=error,
        hits=hits,
        first_start=first,
    )


def _greedy_search(dynamics: PointMassDynamics, box) -> FixedPointSearch:
    """ε-greedy: every region's equilibrium, exact (no starts: ``starts`` is the number of regions, ``converged``
    the number with an equilibrium inside, ``hits`` 1 and ``first_start`` the region's index)."""
    from ..theory.switching import greedy_fixed_points, region_td_error

    found = greedy_fixed_points(dynamics.game, dynamics.epsilon, dynamics.gamma, dynamics.rule)
    n_states, n_actions = dynamics.shape
    regions = n_actions**n_states
    points = []
    for choice, q in found:
        index = int(np.ravel_multi_index(tuple(choice), (n_actions,) * n_states))
        matrix, _, _ = region_td_error(dynamics.game, choice, dynamics.epsilon, dynamics.gamma, dynamics.rule)
        points.append(_fixed_point(q.ravel(), 1, index, dynamics, td_jacobian=matrix))
    return FixedPointSearch(tuple(points), (), {regions: len(points)}, regions, len(points), tuple(box), dynamics)


def _class_search(dynamics: ClassPointMassDynamics, starts: int, seed, box) -> FixedPointSearch:
    """Multi-start root finding on the moving classes' δ̄ (all of them at once: they are coupled through X̃)."""
    moving = dynamics.moving
    if not moving.any():
        raise ConfigError("no class moves (every agent is committed or has no neighbours): there is nothing to solve")
    scale = dynamics.scale

    def residual(x):
        return dynamics.td_error(dynamics.full_q(x))[moving].ravel()

    def accept(x):  # a root of the one-sided field at a switching surface is no equilibrium of either region
        return not (dynamics.greedy and _near_switching_surface(dynamics, dynamics.full_q(x)))

    dimension = int(moving.sum()) * dynamics.shape[1] * dynamics.shape[2]
    points, converged = _multistart(residual, dimension, starts, seed, box, scale, accept)
    fixed = tuple(_class_fixed_point(p["x"], p["hits"], p["first"], dynamics, residual) for p in points)
    counts = {n: sum(p["first"] < n for p in points) for n in _checkpoints(starts)}
    return FixedPointSearch(fixed, (), counts, starts, converged, tuple(box), dynamics)


def _near_switching_surface(dynamics: ClassPointMassDynamics, q) -> bool:
    """Whether an ε-greedy moving class has two best actions within the finite-difference reach of each other
    (1e-5 relative): there the drift jumps and neither the root nor its Jacobian belongs to one region."""
    kinds = dynamics.learners.policy[dynamics.class_type]
    greedy = dynamics.moving & (kinds == EPSILON_GREEDY)
    if q.shape[2] < 2 or not greedy.any():
        return False
    ordered = np.sort(q[greedy], axis=-1)
    return bool(np.any(ordered[..., -1] - ordered[..., -2] <= 1e-5 * (1.0 + np.abs(q).max())))


def _class_fixed_point(x, hits, first, dynamics: ClassPointMassDynamics, residual) -> FixedPoint:
    """A FixedPoint of the classes at ``x`` (the moving classes' Q, flat): the Jacobian of the rate is
    diag(α_c π_c X_c c_c) ∂δ̄/∂Q over the moving classes (δ̄ = 0 there), ∂δ̄/∂Q by Richardson-checked finite
    differences (it holds the coupling through X̃)."""
    q = dynamics.full_q(x)
    td_jacobian, error = jacobian(residual, x)
    weight = dynamics.weights(q)[dynamics.moving].ravel()
    policy, distribution = dynamics.policy_table(q), dynamics.state_distribution(q)
    return _point(q, policy, distribution, weight, td_jacobian, error, hits, first, dynamics)


def point_mass_dynamics(config) -> PointMassDynamics | ClassPointMassDynamics:
    """The point-mass dynamics of a configuration: one point mass (:class:`PointMassDynamics`) for one kind of
    learners on a regular graph, else one per (type, degree) class (:class:`ClassPointMassDynamics`).

    Parameters
    ----------
    config : Config, dict or path

    Examples
    --------
    >>> from marldyn.analysis import point_mass_dynamics
    >>> type(point_mass_dynamics({"graph": {"kind": "lattice", "n": 9}})).__name__
    'PointMassDynamics'
    >>> type(point_mass_dynamics({"graph": {"kind": "barabasi_albert", "n": 50, "m": 2}})).__name__
    'ClassPointMassDynamics'
    """
    from ..config import as_config

    config = as_config(config)
    classes = ClassPointMassDynamics.from_config(config)
    if config.agent_types or classes.class_type.size > 1:
        return classes
    return PointMassDynamics._of_learning(config, classes.game, int(classes.class_degree[0]))


def full_fixed_point_check(point: FixedPoint, dynamics: PointMassDynamics) -> dict:
    """The full point-mass theory (Q, p) at (Q*, p*): its rate and its Jacobian's eigenvalues.

    Parameters
    ----------
    point : FixedPoint
    dynamics : PointMassDynamics

    Returns
    -------
    dict
        ``rate_residual``: max abs(d(Q, p)/dt) at (Q*, p*) relative to α × scale (Q part) and 1 (p part), i.e. ≈ 0;
        ``eigenvalues``: of the Jacobian in the coordinates (Q, p_0 .. p_{K-2}) (p_{K-1} = 1 - Σ, the simplex),
        sorted by real part: K × M slow ones (≈ the reduced eigenvalues, to O(α²)) and K - 1 fast edge-state
        modes (eigenvalues of λ - I, O(1) per step); ``stability`` of the full system.

    Examples
    --------
    >>> import numpy as np
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_fixed_points, full_fixed_point_check
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> point = find_fixed_points(dynamics, starts=16, slow_points=False).fixed_points[0]
    >>> check = full_fixed_point_check(point, dynamics)
    >>> check["stability"], bool(check["rate_residual"] < 1e-12)
    ('stable', True)
    >>> bool(np.allclose(check["eigenvalues"][:4], point.eigenvalues))  # the slow modes: the reduced ones
    True
    >>> round(float(check["eigenvalues"][4].real), 9)  # the fast edge-state mode, per step
    -1.0
    """
    n_states, n_actions = dynamics.shape
    size = n_states * n_actions
    payoff, transition = dynamics.game.arrays()
    faq = faq_factor(dynamics.rule, dynamics.faq_beta)
    # ε-greedy: the region's constant policy (finite differences stay inside it); Boltzmann: X(Q)
    region = dynamics.policy_table(point.q) if dynamics.greedy else None
    arguments = (dynamics.degree, payoff, transition, float(dynamics.alpha), float(dynamics.gamma))

    def rate(z):
        distribution = np.append(z[size:], 1.0 - z[size:].sum())
        y = np.ascontiguousarray(np.concatenate([z[:size], distribution]))
        own = region if region is not None else boltzmann_table(y[:size].reshape(n_states, n_actions), dynamics.beta)
        return full_rate_at(y, own, *arguments, rule_code(dynamics.rule), faq, 0)[: size + n_states - 1]

    z0 = np.concatenate([point.q.ravel(), point.state_distribution[:-1]])
    value = rate(z0)
    q_part = np.abs(value[:size]).max() / (dynamics.alpha * dynamics.scale)
    p_part = np.abs(value[size:]).max(initial=0.0)
    eigenvalues = np.linalg.eigvals(jacobian(rate, z0)[0])
    eigenvalues = eigenvalues[np.argsort(-eigenvalues.real, kind="stable")]
    return {
        "rate_residual": float(max(q_part, p_part)),
        "eigenvalues": eigenvalues,
        "stability": _stability(eigenvalues, dynamics.alpha),
    }


# ----------------------------------------------------------------------------------------------
# slow points
# ----------------------------------------------------------------------------------------------
def _patterns(n_states: int, n_actions: int):
    """Every support pattern with at least one state not fully supported: (state, action) bool arrays."""
    subsets = [np.array(mask, dtype=bool) for mask in itertools.product((False, True), repeat=n_actions) if any(mask)]
    count = len(subsets) ** n_states
    if count > MAX_PATTERNS:
        raise ConfigError(f"{count} support patterns: too many for the slow-point search (at most {MAX_PATTERNS})")
    for combination in itertools.product(subsets, repeat=n_states):
        support = np.stack(combination)
        if not support.all():
            yield support


def _expand(x, support, log_gap, beta):
    """Full Q from the played entries ``x``: rare entries sit ``log_gap / β`` below the state's maximum."""
    q = np.empty(support.shape)
    q[support] = x
    best = np.where(support, q, -np.inf).max(axis=1)
    gap = log_gap / beta
    return np.where(support, q, best[:, None] - gap)


def find_slow_points(
    dynamics: PointMassDynamics, *, starts: int = 64, seed: int = 0, box: tuple[float, float] | None = None
) -> tuple:
    """Slow points: for each support pattern, the played actions' Q solving δ̄ = 0 with rare actions at X = 0.

    For every pattern of supports (per state a non-empty set of played actions, not all states fully
    supported), the rare actions are put ``RARE_LOG_GAP / β`` below the state's best played value, where
    exp(-β gap) underflows to 0, so δ̄ of the played actions is its pure-policy limit; its zeros are found from
    Sobol starts as in :func:`find_fixed_points`. Where the rare actions' probabilities are small but not 0,
    the true drift there is tiny but non-zero: a quasi-stationary state, left after :func:`escape_time`.

    Parameters
    ----------
    dynamics : PointMassDynamics
    starts : int
        Sobol starts per pattern.
    seed : int
    box : (float, float), optional
        Default :func:`payoff_box`.

    Returns
    -------
    tuple of SlowPoint
        Empty if β = 0 (every policy is uniform) or for ε-greedy learners (ε > 0: no action is ever rare).

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, find_slow_points
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> slow = find_slow_points(dynamics, starts=8)
    >>> len(slow), [point.label(["C", "D"]) for point in slow][:3]
    (8, ['s0: D | s1: D', 's0: D | s1: C', 's0: D | s1: C,D'])
    """
    if dynamics.beta == 0.0 or dynamics.greedy:
        return ()
    low, high = box if box is not None else payoff_box(dynamics.game, dynamics.gamma)
    if not high > low:
        high, low = low + 1.0, low - 1.0
    n_states, n_actions = dynamics.shape
    payoff, transition = dynamics.game.arrays()
    arguments = (n_states, n_actions, payoff, transition, float(dynamics.beta), float(dynamics.gamma))
    rule = rule_code(dynamics.rule)
    scale = dynamics.scale
    found = []
    for support in _patterns(n_states, n_actions):

        def residual(x, support=support):
            q = _expand(x, support, RARE_LOG_GAP, dynamics.beta)
            return _td_error_flat(np.ascontiguousarray(q.ravel()), *arguments, rule).reshape(support.shape)[support]

        roots: list[dict] = []
        for x0 in _sobol(int(support.sum()), int(starts), low, high, seed):
            x = _solve(residual, x0, scale)
            if x is None or x.min() < low - 1e-6 * scale or x.max() > high + 1e-6 * scale:
                continue
            match = next((r for r in roots if np.abs(r["x"] - x).max() <= 1e-6 * scale), None)
            if match is not None:
                match["hits"] += 1
            else:
                roots.append({"x": x, "hits": 1})
        found.extend(_slow_point(r["x"], r["hits"], support, dynamics, residual) for r in roots)
    return tuple(found)


def _slow_point(x, hits, support, dynamics, residual) -> SlowPoint:
    q_full = _expand(x, support, RARE_LOG_GAP, dynamics.beta)
    policy = boltzmann(q_full, dynamics.beta)
    distribution = dynamics.state_distribution(q_full)
    engagement = interaction_probability(distribution, dynamics.degree)
    td = dynamics.td_error(q_full)
    target = np.where(support, np.nan, td + q_full)
    best = np.where(support, q_full, -np.inf).max(axis=1)
    weight = dynamics.alpha * (engagement[:, None] * policy)[support]
    eigenvalues = np.linalg.eigvals(weight[:, None] * jacobian(residual, x)[0])
    eigenvalues = eigenvalues[np.argsort(-eigenvalues.real, kind="stable")]
    return SlowPoint(
        support=support.copy(),
        q=np.where(support, q_full, np.nan),
        policy=policy,
        state_distribution=distribution,
        target=target,
        temptation=target - best[:, None],
        engagement=engagement,
        eigenvalues=eigenvalues,
        stability=_stability(eigenvalues, dynamics.alpha),
        hits=hits,
    )


def escape_time(q, dynamics: PointMassDynamics, rare=None) -> float:
    """Estimated time to leave a quasi-stationary state: min over rare actions of 1 / (β μ*(s, r)).

    A rare action's probability X(s, r) ∝ exp(β Q(s, r)) grows at the relative rate β dQ(s, r)/dt = β μ*(s, r),
    and faster as it grows (μ* ∝ X), so the time until it is played with probability O(1) is about
    1 / (β μ*(s, r)) = exp(β g) / (β α π_s δ̄(s, r)) × (support size) at a gap g: exponential in β × ΔQ.

    Parameters
    ----------
    q : array_like, shape (state, action)
        The current Q (near a slow point).
    dynamics : PointMassDynamics
    rare : array_like of bool, shape (state, action), optional
        The rare actions (default: probability below 0.05).

    Returns
    -------
    float
        Steps; ``inf`` if no rare action has a positive drift (nothing pushes the policy out).

    Examples
    --------
    >>> from marldyn import two_state_pd
    >>> from marldyn.analysis import PointMassDynamics, escape_time
    >>> dynamics = PointMassDynamics(two_state_pd(), degree=4, alpha=1e-3, beta=1.0, gamma=0.8)
    >>> f"{escape_time([[17.94, 9.94], [14.14, 6.14]], dynamics):.3g}"  # near C/C, D 8 below: steps
    '4.31e+05'
    >>> f"{escape_time([[17.94, 5.94], [14.14, 2.14]], dynamics):.3g}"  # 12 below: e⁴ × 7 / 11 ≈ 35 times longer
    '1.49e+07'
    """
    dynamics.require_smooth("escape_time")
    q = np.asarray(q, dtype=np.float64)
    rare = boltzmann(q, dynamics.beta) < 0.05 if rare is None else np.asarray(rare, dtype=bool)
    rate = dynamics.drift(q)[rare]
    rate = rate[rate > 0]
    if rate.size == 0 or dynamics.beta == 0:
        return float("inf")
    return float(1.0 / (dynamics.beta * rate.max()))
