"""Symmetric two-player stochastic games: ``Game(payoff, transition)``.

Shapes (K states, M actions):

- ``payoff`` (state, action, action): U[s, a, b], reward of the player choosing ``a`` against ``b``
  in state ``s`` (paper eq. 1); or (state, action, action, state) U[s, a, b, s'] for a reward that depends on
  the next state ``s'`` too (:func:`reward_at` reads either).
- ``transition`` (state, action, action, state): T[s, a, b, s'], probability of the next state
  ``s'`` after joint action (a, b) in ``s``. The game is symmetric, so T[s, a, b] == T[s, b, a].
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba.extending import overload

from .errors import ConfigError

PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Game:
    """A symmetric two-player stochastic game.

    Parameters
    ----------
    payoff : array_like, shape (state, action, action) or (state, action, action, state)
        U[s, a, b]: reward of the row player choosing ``a`` against ``b`` in state ``s``; with a trailing axis
        U[s, a, b, s'], the reward when the edge moves to ``s'``.
    transition : array_like, shape (state, action, action, state)
        T[s, a, b, s']: probability that the edge moves from ``s`` to ``s'``; rows sum to 1.
    name : str
        A label, recorded in outputs.

    Raises
    ------
    ConfigError
        If shapes disagree, a value is not finite, a transition row is not a probability vector,
        or T[s, a, b] != T[s, b, a].

    Examples
    --------
    The one-state prisoner's dilemma (actions cooperate, defect): one state that always follows itself.

    >>> import numpy as np
    >>> game = Game([[[3.0, 0.0], [5.0, 1.0]]], np.ones((1, 2, 2, 1)), name="pd")
    >>> game.n_states, game.n_actions
    (1, 2)

    The transition must not depend on who plays which action:

    >>> transition = np.zeros((2, 2, 2, 2))
    >>> transition[..., 0] = 1.0
    >>> transition[0, 0, 1] = [0.5, 0.5]
    >>> Game(np.zeros((2, 2, 2)), transition)
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: game.transition must be symmetric in the two actions: transition[0, 0, 1] != ...
    """

    payoff: np.ndarray
    transition: np.ndarray
    name: str = "custom"

    def __post_init__(self):
        payoff = as_float_array(self.payoff, "game.payoff")
        transition = as_float_array(self.transition, "game.transition")
        square = payoff.ndim in (3, 4) and payoff.shape[1] == payoff.shape[2] and min(payoff.shape) >= 1
        if not square or (payoff.ndim == 4 and payoff.shape[3] != payoff.shape[0]):
            raise ConfigError(
                "game.payoff must have shape (state, action, action) with K, M >= 1, or (state, action, action, "
                f"state) for a reward that depends on the next state, got {payoff.shape}"
            )
        n_states, n_actions = payoff.shape[0], payoff.shape[1]
        expected = (n_states, n_actions, n_actions, n_states)
        if transition.shape != expected:
            raise ConfigError(
                f"game.transition must have shape (state, action, action, state) = {expected} "
                f"to match game.payoff, got {transition.shape}"
            )
        if np.any(transition < 0):
            s, a, b, t = np.argwhere(transition < 0)[0]
            raise ConfigError(f"game.transition[{s}, {a}, {b}, {t}] = {transition[s, a, b, t]} is negative")
        row_sums = transition.sum(axis=-1)
        bad = np.abs(row_sums - 1.0) > PROBABILITY_TOLERANCE
        if np.any(bad):
            s, a, b = np.argwhere(bad)[0]
            raise ConfigError(
                f"game.transition[{s}, {a}, {b}, :] sums to {float(row_sums[s, a, b]):.12g}, "
                "must sum to 1 (within 1e-9)"
            )
        asym = np.abs(transition - transition.transpose(0, 2, 1, 3)) > PROBABILITY_TOLERANCE
        if np.any(asym):
            s, a, b, _ = np.argwhere(asym)[0]
            raise ConfigError(
                f"game.transition must be symmetric in the two actions: transition[{s}, {a}, {b}] != "
                f"transition[{s}, {b}, {a}]"
            )
        payoff.setflags(write=False)
        transition.setflags(write=False)
        object.__setattr__(self, "payoff", payoff)
        object.__setattr__(self, "transition", transition)

    @property
    def n_states(self) -> int:
        """K, the number of states."""
        return self.payoff.shape[0]

    @property
    def n_actions(self) -> int:
        """M, the number of actions (the same in every state)."""
        return self.payoff.shape[1]

    @property
    def next_state_payoff(self) -> bool:
        """Whether the reward depends on the next state (``payoff`` of shape (state, action, action, state))."""
        return self.payoff.ndim == 4

    @property
    def group_size(self) -> int:
        """0: a pairwise game, played on the edges (a group game in groups of n has n,
        :class:`marldyn.group_games.SizedGroupGame`)."""
        return 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Writable float64 copies of ``payoff`` and ``transition``, both (state, action, action, state), as the
        numba cores take them: an immediate reward U(s, a, b) is repeated over the next state
        (:func:`next_state_form`), so every core compiles for one payoff type whatever the game.

        Examples
        --------
        >>> payoff, transition = two_state_pd().arrays()
        >>> payoff.shape, bool(np.all(payoff[..., 1] == two_state_pd().payoff))
        ((2, 2, 2, 2), True)
        """
        return next_state_form(self.payoff), np.array(self.transition, dtype=np.float64)

    def cumulative_transition(self) -> np.ndarray:
        """Cumulative transition table used for sampling, shape (state, action, action, state).

        ``cum[s, a, b, k] = sum_{k' <= k} T[s, a, b, k']``, with every entry from the last state of
        positive probability on set to exactly 1.0, so a uniform draw ``u`` in [0, 1) selects
        ``s' = #{k : cum[k] <= u}`` and never a state of probability zero.
        """
        return cumulative(self.transition)

    def to_dict(self) -> dict:
        """Plain lists, for JSON/TOML records."""
        return {"payoff": self.payoff.tolist(), "transition": self.transition.tolist()}


def next_state_form(payoff) -> np.ndarray:
    """The payoff as U(s, a, b, z), a writable C-contiguous float64 copy of shape (state, action, outcome, state).

    A reward that depends on the next state is copied as it is; an immediate reward U(s, a, b) (shape (state,
    action, outcome)) is repeated over the next state z. The compiled kernels take this one form, so they
    compile once for every game (:func:`reward_at` of either form gives the same numbers).

    Examples
    --------
    >>> next_state_form(np.arange(8.0).reshape(2, 2, 2)).shape
    (2, 2, 2, 2)
    >>> float(next_state_form(np.arange(8.0).reshape(2, 2, 2))[1, 0, 1, 0])  # U[1, 0, 1] for any z
    5.0
    """
    payoff = np.asarray(payoff, dtype=np.float64)
    if payoff.ndim == 3:
        payoff = np.repeat(payoff[..., None], payoff.shape[0], axis=-1)
    return np.array(payoff, dtype=np.float64, order="C")


def reward_at(payoff, s, a, b, z):
    """U(s, a, b, z): the reward of action a against outcome b in state s when the next state is z.

    ``payoff`` is (state, action, outcome) — a reward that does not depend on the next state, the paper's games —
    or (state, action, outcome, next state); in compiled code (the simulation kernels, the theory's core) it is
    compiled for the one it is given (a numba ``overload``), so the 3-d case costs nothing.

    Examples
    --------
    >>> float(reward_at(np.arange(8.0).reshape(2, 2, 2), 1, 0, 1, 0))  # U[1, 0, 1]
    5.0
    >>> float(reward_at(np.arange(16.0).reshape(2, 2, 2, 2), 1, 0, 1, 0))  # U[1, 0, 1, 0]
    10.0
    """
    return payoff[s, a, b] if payoff.ndim == 3 else payoff[s, a, b, z]


@overload(reward_at, jit_options={"cache": True})
def _reward_at_overload(payoff, s, a, b, z):
    if payoff.ndim == 3:
        return lambda payoff, s, a, b, z: payoff[s, a, b]
    return lambda payoff, s, a, b, z: payoff[s, a, b, z]


def require_immediate_reward(game, method: str) -> None:
    """Raise a one-line :class:`ConfigError` if ``game``'s reward depends on the next state (for the methods
    whose shared-noise terms are derived for U(s, a, b) only: the LNA and the closure).

    Examples
    --------
    >>> require_immediate_reward(two_state_pd(), "lna")  # the paper's game: fine
    >>> require_immediate_reward(Game(np.zeros((1, 2, 2, 1)), np.ones((1, 2, 2, 1))), "lna")
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: method 'lna' takes rewards U(s, a, b) only; this game's reward depends on the ...
    """
    if getattr(game, "next_state_payoff", False):
        raise ConfigError(
            f"method {method!r} takes rewards U(s, a, b) only; this game's reward depends on the next state "
            "(use reduced, full, full-discrete, particles, sde or sde-graph)"
        )


def cumulative(transition: np.ndarray) -> np.ndarray:
    """Cumulative probabilities along the last axis (next state), for sampling: same shape as ``transition``.

    ``cum[..., k] = sum_{k' <= k} T[..., k']``, with every entry from the last state of positive probability on
    set to exactly 1.0, so a uniform draw ``u`` in [0, 1) selects ``s' = #{k : cum[k] <= u}`` and never a state
    of probability zero. The one rule of both the pairwise and the group games.

    Examples
    --------
    >>> cumulative(np.array([[0.25, 0.75, 0.0], [0.5, 0.5, 0.0]]))
    array([[0.25, 1.  , 1.  ],
           [0.5 , 1.  , 1.  ]])
    """
    n_states = transition.shape[-1]
    cum = np.cumsum(transition, axis=-1)
    positive = transition > 0
    last_positive = n_states - 1 - np.argmax(positive[..., ::-1], axis=-1)
    cum[np.arange(n_states) >= last_positive[..., None]] = 1.0
    return cum


def as_float_array(value, field: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{field} must be a nested list of numbers ({exc})") from None
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{field} contains NaN or infinite values")
    return array


def two_state_pd(b=(5.0, 1.2), c=(0.5, 0.5), p=(0.7, 0.2)) -> Game:
    """The two-state prisoner's dilemma of the paper, eq. (21).

    Actions are (cooperate, defect); states are (s1, s2).

    Parameters
    ----------
    b : (float, float)
        Benefit of being cooperated with, in s1 and s2 (b1, b2).
    c : (float, float)
        Cost of cooperating, in s1 and s2 (c1, c2).
    p : (float, float)
        (p1, p2): the next state is s1 with probability p1 when both cooperate and p2 when at least
        one defects, whatever the current state (shared/NOTES.md 9). The paper's Fig. 3 used
        p1 = 0.7, p2 = 0.2 (its caption's 0.8 / 0.3 is a typo, NOTES.md 2).

    Returns
    -------
    Game
        ``payoff[s] = [[b_s - c_s, -c_s], [b_s, 0]]``.

    Examples
    --------
    >>> game = two_state_pd()
    >>> game.payoff[0]  # state s1: [[C vs C, C vs D], [D vs C, D vs D]]
    array([[ 4.5, -0.5],
           [ 5. ,  0. ]])
    >>> game.transition[0, :, :, 0]  # probability of s1 next: p1 after mutual cooperation, else p2
    array([[0.7, 0.2],
           [0.2, 0.2]])
    >>> two_state_pd(b=(4.0, 1.0)).payoff[:, 0, 0]  # mutual cooperation pays b_s - c_s
    array([3.5, 0.5])
    """
    b = as_pair(b, "game.b")
    c = as_pair(c, "game.c")
    p = as_pair(p, "game.p")
    for k, value in enumerate(p):
        if not 0.0 <= value <= 1.0:
            raise ConfigError(f"game.p[{k}] = {value} must be a probability in [0, 1]")
    payoff = np.array([[[b[s] - c[s], -c[s]], [b[s], 0.0]] for s in range(2)])
    transition = np.empty((2, 2, 2, 2))
    for a in range(2):
        for o in range(2):
            p_s1 = p[0] if a == 0 and o == 0 else p[1]
            transition[:, a, o] = [p_s1, 1.0 - p_s1]
    return Game(payoff, transition, name="two_state_pd")


def as_pair(value, field: str) -> tuple[float, float]:
    try:
        pair = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{field} must be a list of two numbers, got {value!r}") from None
    if len(pair) != 2 or not all(np.isfinite(pair)):
        raise ConfigError(f"{field} must be a list of two finite numbers (one per state), got {value!r}")
    return pair


def load_game(path: str | Path) -> Game:
    """Read a custom game from ``.npz`` (arrays ``payoff``, ``transition``) or ``.json``.

    Files are parsed without pickle or code execution.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.npz`` file (``numpy.savez(path, payoff=..., transition=...)``) or a ``.json`` file holding an
        object with the nested lists ``payoff`` and ``transition`` (as :meth:`Game.to_dict` gives them).

    Returns
    -------
    Game
        Named after the file's stem.

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, has another suffix, lacks an array or has unknown ones, or the
        arrays are not a valid :class:`Game`.

    Examples
    --------
    >>> import json
    >>> _ = Path("harsh.json").write_text(json.dumps(two_state_pd(p=(0.9, 0.1)).to_dict()))
    >>> game = load_game("harsh.json")
    >>> game.name, game.n_states, game.transition[0, 0, 0]
    ('harsh', 2, array([0.9, 0.1]))
    >>> import numpy as np
    >>> np.savez("pd.npz", payoff=game.payoff, transition=game.transition)
    >>> load_game("pd.npz").name
    'pd'
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"game.file: no such file: {path}")
    try:
        if path.suffix == ".npz":
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ConfigError(f"game.file {path}: not an .npz archive (use numpy.savez)")
            with data:
                arrays = {key: data[key] for key in data.files}
        elif path.suffix == ".json":
            arrays = json.loads(path.read_text())
            if not isinstance(arrays, dict):
                raise ConfigError(f"game.file {path}: must hold a JSON object with payoff and transition")
        else:
            raise ConfigError(f"game.file must end in .npz or .json, got {path.name}")
    except (OSError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"game.file {path}: cannot be read ({exc})") from None
    missing = {"payoff", "transition"} - set(arrays)
    if missing:
        raise ConfigError(f"game.file {path}: missing {sorted(missing)} (needs payoff and transition)")
    extra = set(arrays) - {"payoff", "transition"}
    if extra:
        raise ConfigError(f"game.file {path}: unknown entries {sorted(extra)} (allowed: payoff, transition)")
    return Game(arrays["payoff"], arrays["transition"], name=path.stem)
