"""Symmetric N-player stochastic games with two actions, played in groups: ``GroupGame``.

Action 0 is "cooperate", action 1 "defect" (the standard of the N-player literature). For a group of n agents
(:mod:`marldyn.groups`) a game gives two tables:

- ``payoff(n)`` (state, action, co-players choosing 0: 0..n-1, next state): the reward of a member playing
  ``a`` in state ``s`` when ``j`` of its n - 1 co-players choose action 0 and the group moves to ``s'``;
- ``transition(n)`` (state, members choosing 0: 0..n, next state): T_n[s, m, s'], the probability of the next
  state when m of the n members choose action 0.

Built-in games are defined for every group size (:func:`public_goods`, :func:`ecological_public_good`); a
:func:`custom_group` game has tables for one size. :func:`as_group_game` writes a two-action pairwise
:class:`~marldyn.games.Game` as a group game of size 2, the special case the pairwise model is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError
from .games import PROBABILITY_TOLERANCE, Game, as_float_array, as_pair, cumulative

__all__ = ["GroupGame", "SizedGroupGame", "as_group_game", "custom_group", "ecological_public_good", "public_goods"]

KINDS = ("public_goods", "ecological_public_good", "custom_group")


@dataclass(frozen=True, eq=False)
class GroupGame:
    """A symmetric N-player stochastic game with two actions (0 = cooperate, 1 = defect).

    Build it with :func:`public_goods`, :func:`ecological_public_good`, :func:`custom_group` or
    :func:`as_group_game`; the tables of a group size come from :meth:`payoff` and :meth:`transition`.

    Attributes
    ----------
    kind : {"public_goods", "ecological_public_good", "custom_group"}
    parameters : dict
        The game's parameters (``r``, ``c``, ``p``; ``r``, ``c``, ``collapse``, ``impact``, ``recovery``; or the
        custom tables ``payoff`` and ``transition``).
    name : str
        A label, recorded in outputs.

    Examples
    --------
    >>> game = public_goods()
    >>> game.n_states, game.n_actions, game.size  # any group size
    (2, 2, None)
    >>> game.payoff(5)[0, :, 4, 0]  # s1, all four co-players cooperate: cooperator 3.5 - 1, defector 3.5 * 4 / 5
    array([2.5, 2.8])
    >>> game.transition(5)[0, 5]  # everybody cooperates: s1 with p1 = 0.8
    array([0.8, 0.2])
    """

    kind: str
    parameters: dict = field(repr=False)
    name: str = ""

    @property
    def n_states(self) -> int:
        """K, the number of states."""
        if self.kind == "custom_group":
            return int(self.parameters["transition"].shape[0])
        return 2

    @property
    def n_actions(self) -> int:
        """M = 2: group games are binary-action games."""
        return 2

    @property
    def size(self) -> int | None:
        """The one group size a custom game is defined for; ``None``: any size >= 2."""
        if self.kind == "custom_group":
            return int(self.parameters["transition"].shape[1] - 1)
        return None

    @property
    def next_state_payoff(self) -> bool:
        """Whether the reward depends on the next state (the ecological public good, a custom game with a
        trailing next-state axis)."""
        if self.kind == "custom_group":
            return bool(self.parameters["payoff"].ndim == 4)
        return self.kind == "ecological_public_good"

    def check_sizes(self, sizes, field: str = "graph.groups") -> None:
        """Raise a one-line :class:`ConfigError` unless the game is defined for every group size in ``sizes``.

        Examples
        --------
        >>> custom_group(np.zeros((1, 2, 2)), np.ones((1, 3, 1))).check_sizes([3])
        Traceback (most recent call last):
        ...
        marldyn.errors.ConfigError: graph.groups: game 'custom_group' has tables for groups of 2, but the groups ...
        """
        sizes = sorted({int(n) for n in sizes})
        if self.size is not None and sizes != [self.size]:
            raise ConfigError(
                f"{field}: game {self.name!r} has tables for groups of {self.size}, but the groups have sizes {sizes}"
            )
        if sizes and sizes[0] < 2:
            raise ConfigError(f"{field}: a group needs at least two agents, found a group of {sizes[0]}")

    def payoff(self, n: int) -> np.ndarray:
        """The reward table of a group of ``n``, shape (state, action, j = 0..n-1, next state).

        ``payoff(n)[s, a, j, s']``: a member playing ``a`` in state ``s`` with ``j`` co-players choosing action 0,
        when the group moves to ``s'``.
        """
        self.check_sizes([n], field="group size")
        p = self.parameters
        if self.kind == "custom_group":
            table = p["payoff"]
            if table.ndim == 3:
                table = np.repeat(table[..., None], self.n_states, axis=-1)
            return np.array(table, dtype=np.float64)
        co_players = np.arange(n, dtype=np.float64)
        if self.kind == "public_goods":
            table = np.empty((2, 2, n, 2))
            for s in range(2):
                table[s, :, :, :] = _public_goods_reward(p["r"][s], p["c"][s], n, co_players)[..., None]
            return table
        table = np.full((2, 2, n, 2), p["impact"])  # ecological: impact in s2, and on collapsing from s1
        table[0, :, :, 0] = _public_goods_reward(p["r"], p["c"], n, co_players)
        return table

    def transition(self, n: int) -> np.ndarray:
        """The transition table of a group of ``n``, shape (state, m = 0..n, next state); rows sum to 1.

        ``transition(n)[s, m, s']``: the probability that a group in ``s`` moves to ``s'`` when ``m`` of its
        members choose action 0.
        """
        self.check_sizes([n], field="group size")
        p = self.parameters
        if self.kind == "custom_group":
            return np.array(p["transition"], dtype=np.float64)
        table = np.empty((2, n + 1, 2))
        if self.kind == "public_goods":
            table[:, :, 0] = p["p"][1]
            table[:, n, 0] = p["p"][0]
        else:
            defectors = np.arange(n, -1, -1, dtype=np.float64)
            table[0, :, 0] = 1.0 - p["collapse"] * defectors / n
            table[1, :, 0] = p["recovery"]
        table[..., 1] = 1.0 - table[..., 0]
        return table

    def tables(self, sizes) -> tuple[np.ndarray, np.ndarray]:
        """The tables of several group sizes, stacked and padded, as the simulation kernels take them.

        Parameters
        ----------
        sizes : sequence of int
            The distinct group sizes, ascending (:attr:`marldyn.groups.Groups.distinct_sizes`).

        Returns
        -------
        payoff : ndarray, shape (size, state, action, max size, state)
            ``payoff[z]`` is :meth:`payoff` of ``sizes[z]``, zero-padded in ``j``.
        cum_transition : ndarray, shape (size, state, max size + 1, state)
            The cumulative :meth:`transition` (:func:`marldyn.games.cumulative`) of every size, padded with 1.

        Examples
        --------
        >>> payoff, cum = public_goods().tables([3, 5])
        >>> payoff.shape, cum.shape
        ((2, 2, 2, 5, 2), (2, 2, 6, 2))
        """
        sizes = [int(n) for n in sizes]
        self.check_sizes(sizes)
        largest = max(sizes)
        k = self.n_states
        payoff = np.zeros((len(sizes), k, 2, largest, k))
        cum = np.ones((len(sizes), k, largest + 1, k))
        for z, n in enumerate(sizes):
            payoff[z, :, :, :n] = self.payoff(n)
            cum[z, :, : n + 1] = cumulative(self.transition(n))
        return payoff, cum

    def sized(self, n: int) -> SizedGroupGame:
        """The game in groups of ``n``, in the outcome form the theory's cores take (:class:`SizedGroupGame`).

        Examples
        --------
        >>> public_goods().sized(5).arrays()[1].shape  # transition (state, action, outcome j, next state)
        (2, 2, 5, 2)
        """
        return SizedGroupGame(self, int(n))

    def to_dict(self) -> dict:
        """The kind and parameters as plain lists and numbers, for records."""
        values = {key: np.asarray(value).tolist() for key, value in self.parameters.items()}
        return {"kind": self.kind, **values}


@dataclass(frozen=True, eq=False)
class SizedGroupGame:
    """A group game in groups of one size n, written in the outcome form of the theory's cores.

    The theory sees a member's co-players through one *outcome*: j, the number of its n - 1 co-players choosing
    action 0 (Binomial(n - 1, X̃(s, 0)) when they play X̃ independently:
    :func:`marldyn.theory.one_step.outcome_into` with ``group_size = n``). In that form the one-step moments,
    the group-state chain and every point-mass theory are the pairwise ones with the outcome in place of the
    neighbour's action:

    - ``payoff`` (state, action, j, next state) = :meth:`GroupGame.payoff`;
    - ``transition`` (state, action, j, next state) = T_n[s, j + 1[a = 0], s'] (the members choosing 0 are the
      co-players' j and the member itself if it does).

    Attributes
    ----------
    game : GroupGame
    group_size : int
        n.

    Examples
    --------
    >>> sized = public_goods().sized(3)
    >>> payoff, transition = sized.arrays()
    >>> transition[0, 0, 2]  # a cooperator with two cooperating co-players: all cooperate, s1 with p1 = 0.8
    array([0.8, 0.2])
    >>> transition[0, 1, 2]  # a defector with two cooperating co-players
    array([0.3, 0.7])
    """

    game: GroupGame
    group_size: int

    def __post_init__(self):
        self.game.check_sizes([self.group_size], field="group size")

    @property
    def n_states(self) -> int:
        return self.game.n_states

    @property
    def n_actions(self) -> int:
        return 2

    @property
    def name(self) -> str:
        return self.game.name

    @property
    def payoff(self) -> np.ndarray:
        """(state, action, j, next state), :meth:`GroupGame.payoff` of the size."""
        return self.game.payoff(self.group_size)

    @property
    def transition(self) -> np.ndarray:
        """(state, action, j, next state): T_n[s, j + 1[a = 0], s']."""
        table = self.game.transition(self.group_size)
        j = np.arange(self.group_size)
        return np.stack([table[:, j + 1], table[:, j]], axis=1)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Writable float64 copies of :attr:`payoff` and :attr:`transition` (as ``Game.arrays``)."""
        return np.ascontiguousarray(self.payoff, dtype=np.float64), np.ascontiguousarray(self.transition)


def _public_goods_reward(r: float, c: float, n: int, co_players: np.ndarray) -> np.ndarray:
    """(action, j): a cooperator's r c (j + 1) / n - c and a defector's r c j / n, j cooperating co-players."""
    return np.stack([r * c * (co_players + 1.0) / n - c, r * c * co_players / n])


def _probability(value: float, field: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{field} = {value} must be a probability in [0, 1]")
    return value


def _number(value, field: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field} must be a number, got {value!r}") from None
    if not np.isfinite(number):
        raise ConfigError(f"{field} must be finite, got {value!r}")
    return number


def public_goods(r=(3.5, 1.5), c=(1.0, 1.0), p=(0.8, 0.3)) -> GroupGame:
    """The stochastic public goods game: a cooperator pays c_s into a pot multiplied by r_s and shared by all.

    In state s a member with j cooperating co-players in a group of n gets r_s c_s (j + 1) / n - c_s if it
    cooperates, r_s c_s j / n if it defects (Santos, Santos & Pacheco 2008, per state). The next state is s1 with
    probability p1 if every member cooperates and p2 otherwise, whatever the current state (the rule of the
    paper's eq. 21, for groups).

    Parameters
    ----------
    r : (float, float)
        Multiplication factor in s1 and s2.
    c : (float, float)
        Cost of cooperating in s1 and s2 (payoff units).
    p : (float, float)
        (p1, p2), probabilities in [0, 1].

    Returns
    -------
    GroupGame

    Examples
    --------
    >>> game = public_goods(r=(4.0, 2.0))
    >>> game.payoff(4)[1, :, 0, 0]  # s2, no co-player cooperates: cooperator 2 / 4 - 1, defector 0
    array([-0.5,  0. ])
    >>> game.transition(2)[0]  # m = 0, 1, 2 cooperators in a pair: s1 only after mutual cooperation is likely
    array([[0.3, 0.7],
           [0.3, 0.7],
           [0.8, 0.2]])
    """
    r, c, p = as_pair(r, "game.r"), as_pair(c, "game.c"), as_pair(p, "game.p")
    for k, value in enumerate(p):
        _probability(value, f"game.p[{k}]")
    return GroupGame("public_goods", {"r": np.array(r), "c": np.array(c), "p": np.array(p)}, "public_goods")


def ecological_public_good(r=1.2, c=5.0, collapse=0.2, impact=-5.0, recovery=0.01) -> GroupGame:
    """The ecological public good of Barfuss et al. (PNAS 2020): a public goods game under a risk of collapse.

    States: s1 prosperous, s2 degraded. In s1 each defector raises the group's probability of collapsing to s2
    by ``collapse / n``; s2 recovers to s1 with probability ``recovery`` whatever the members do. A member gets
    the public goods reward (r c (j + 1) / n - c cooperating, r c j / n defecting) when its group is in s1 and
    stays there, and ``impact`` when the group is in s2 or collapses in this step: the reward depends on the next
    state (pyCRLD's ``EcologicalPublicGood`` with f = r, qc = collapse, m = impact, qr = recovery).

    Parameters
    ----------
    r : float
        Multiplication factor (> 0).
    c : float
        Cost of cooperating (>= 0, payoff units).
    collapse : float
        Collapse probability of a group of defectors, in [0, 1].
    impact : float
        Reward in the degraded state and on collapse (< 0, payoff units).
    recovery : float
        Probability of recovering from s2 per step, in [0, 1].

    Returns
    -------
    GroupGame

    Examples
    --------
    >>> game = ecological_public_good()
    >>> game.transition(4)[0, :, 1]  # collapse probability with m = 0..4 cooperators: 0.2 (4 - m) / 4
    array([0.2 , 0.15, 0.1 , 0.05, 0.  ])
    >>> game.payoff(4)[0, 0, 3]  # a cooperator among cooperators: 1.2 * 5 - 5 if s1 stays, the impact if not
    array([ 1., -5.])
    """
    values = {
        "r": _number(r, "game.r"),
        "c": _number(c, "game.c"),
        "collapse": _probability(_number(collapse, "game.collapse"), "game.collapse"),
        "impact": _number(impact, "game.impact"),
        "recovery": _probability(_number(recovery, "game.recovery"), "game.recovery"),
    }
    if values["r"] <= 0:
        raise ConfigError(f"game.r = {values['r']} must be > 0")
    if values["c"] < 0:
        raise ConfigError(f"game.c = {values['c']} must be >= 0")
    if values["impact"] >= 0:
        raise ConfigError(f"game.impact = {values['impact']} must be < 0 (the loss of a degraded environment)")
    return GroupGame("ecological_public_good", values, "ecological_public_good")


def custom_group(payoff, transition, name: str = "custom_group") -> GroupGame:
    """A group game given by its tables for one group size n.

    Parameters
    ----------
    payoff : array_like, shape (state, action, j) or (state, action, j, next state)
        Reward of a member playing action a (0 or 1) in state s when j = 0..n-1 co-players choose action 0
        (and the group moves to the next state, with the trailing axis).
    transition : array_like, shape (state, m, next state)
        T[s, m, s']: the probability of the next state when m = 0..n members choose action 0; rows sum to 1.
    name : str

    Returns
    -------
    GroupGame

    Raises
    ------
    ConfigError
        Shapes that do not fit each other or M = 2, values that are not finite, rows that are not probability
        vectors.

    Examples
    --------
    A one-state three-player volunteer's dilemma: everybody gets 1 if anybody volunteers (action 0), which
    costs the volunteer 0.2.

    >>> import numpy as np
    >>> payoff = [[[0.8, 0.8, 0.8], [0.0, 1.0, 1.0]]]
    >>> game = custom_group(payoff, np.ones((1, 4, 1)), name="volunteer")
    >>> game.size, game.payoff(3)[0, 1, :, 0]
    (3, array([0., 1., 1.]))
    """
    payoff = as_float_array(payoff, "game.payoff")
    transition = as_float_array(transition, "game.transition")
    if transition.ndim != 3 or transition.shape[1] < 3 or transition.shape[0] < 1:
        raise ConfigError(
            f"game.transition of a custom_group game must have shape (state, m = 0..n, state) with n >= 2, "
            f"got {transition.shape}"
        )
    n_states, n = transition.shape[0], transition.shape[1] - 1
    if transition.shape[2] != n_states:
        raise ConfigError(
            f"game.transition must have shape (state, m, state) = {(n_states, n + 1, n_states)}, got {transition.shape}"
        )
    expected = [(n_states, 2, n), (n_states, 2, n, n_states)]
    if payoff.shape not in expected:
        if payoff.ndim >= 2 and payoff.shape[1:2] != (2,):
            raise ConfigError(f"game.payoff: group games have two actions (M = 2), got payoff of shape {payoff.shape}")
        raise ConfigError(
            f"game.payoff must have shape (state, action, j = 0..n-1) = {expected[0]} or with a next state "
            f"{expected[1]} to fit game.transition (groups of {n}), got {payoff.shape}"
        )
    if np.any(transition < 0):
        s, m, t = np.argwhere(transition < 0)[0]
        raise ConfigError(f"game.transition[{s}, {m}, {t}] = {transition[s, m, t]} is negative")
    sums = transition.sum(axis=-1)
    bad = np.abs(sums - 1.0) > PROBABILITY_TOLERANCE
    if np.any(bad):
        s, m = np.argwhere(bad)[0]
        raise ConfigError(f"game.transition[{s}, {m}, :] sums to {float(sums[s, m]):.12g}, must sum to 1 (within 1e-9)")
    payoff.setflags(write=False)
    transition.setflags(write=False)
    return GroupGame("custom_group", {"payoff": payoff, "transition": transition}, name)


def as_group_game(game: Game) -> GroupGame:
    """A two-action pairwise game written as a group game of size 2 (the pairwise model as a special case).

    ``payoff[s, a, j] = U[s, a, 1 - j]`` (j = 1: the co-player chose action 0) and ``transition[s, m] =
    T[s, a, b]`` for any (a, b) with m of them equal to 0 (the game is symmetric).

    Examples
    --------
    >>> from marldyn.games import two_state_pd
    >>> group = as_group_game(two_state_pd())
    >>> group.size, group.payoff(2)[0, :, :, 0]  # s1: rows C, D; columns j = 0, 1 cooperating co-players
    (2, array([[-0.5,  4.5],
           [ 0. ,  5. ]]))
    """
    if game.n_actions != 2:
        raise ConfigError(f"a group game has two actions; game {game.name!r} has {game.n_actions}")
    payoff = game.payoff[:, :, ::-1]
    transition = np.stack([game.transition[:, 1, 1], game.transition[:, 0, 1], game.transition[:, 0, 0]], axis=1)
    return custom_group(payoff, transition, name=game.name)
