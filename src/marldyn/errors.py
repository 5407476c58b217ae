"""marldyn's exceptions and warnings, one hierarchy (the shape of networkx's ``exception.py``).

- :class:`MarldynError` — the base of every error marldyn raises on purpose.
  - :class:`ConfigError` (also a ``ValueError``) — a user input is invalid: config, game, graph, CLI flag,
    API argument. The CLI prints one line and exits with code 2.
  - :class:`NumericalError` (also a ``RuntimeError``) — the numbers failed, not the input. The CLI prints one
    line and exits with code 1.
    - :class:`SimulationError` — a simulation left the finite numbers (names the run, step and agent).
    - :class:`DivergenceError` — a theory's trajectory left the finite numbers (an SDE member, an ODE).
    - :class:`ConvergenceError` — an iterative solve did not converge (no fixed point found, a solver failed).
- :class:`MarldynWarning` (a ``UserWarning``) — something the user should know, and work goes on.

Examples
--------
>>> import marldyn
>>> issubclass(marldyn.ConfigError, ValueError) and issubclass(marldyn.ConfigError, marldyn.MarldynError)
True
>>> issubclass(marldyn.SimulationError, marldyn.NumericalError)
True
"""

from __future__ import annotations

import difflib

__all__ = [
    "ConfigError",
    "ConvergenceError",
    "DivergenceError",
    "MarldynError",
    "MarldynWarning",
    "NumericalError",
    "SimulationError",
    "did_you_mean",
]


class MarldynError(Exception):
    """Base class of the errors marldyn raises (catch this to catch them all).

    Examples
    --------
    >>> import marldyn
    >>> try:
    ...     marldyn.lattice(10)
    ... except marldyn.MarldynError as error:
    ...     print(f"{type(error).__name__}: {error}")
    ConfigError: graph.n = 10: a lattice needs a perfect square number of agents, at least 9
    """


class ConfigError(MarldynError, ValueError):
    """A user input (config, game, graph, CLI flag, API argument) is invalid.

    The message names the offending field and, where it helps, the allowed values.
    The CLI turns this into exit code 2 and a single line, without a traceback.

    Examples
    --------
    A misspelt key is named, with the nearest allowed one:

    >>> import marldyn
    >>> marldyn.parse_config({"learning": {"alpah": 0.1}})
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: unknown key 'alpah' in [learning] (did you mean 'alpha'?); allowed: ...

    It is also a ``ValueError``, so code that validates input the usual way catches it:

    >>> try:
    ...     marldyn.parse_config({"learning": {"alpha": 2.0}})
    ... except ValueError as error:
    ...     print(error)
    learning.alpha = 2.0: must be less than or equal to 1
    """


class NumericalError(MarldynError, RuntimeError):
    """A computation failed numerically although its input was valid (CLI: exit code 1, one line).

    The base of :class:`SimulationError`, :class:`DivergenceError` and :class:`ConvergenceError`: catch it to
    catch every numerical failure, whether of the simulator or of a theory.

    Examples
    --------
    Payoffs of 10^308 are valid numbers, but Q overflows at the first update:

    >>> import marldyn
    >>> config = {"game": {"b": [1e308, 1e308]}, "learning": {"alpha": 1.0}, "run": {"steps": 10, "runs": 1}}
    >>> try:
    ...     marldyn.simulate(config)
    ... except marldyn.NumericalError as error:
    ...     print(type(error).__name__, isinstance(error, RuntimeError))
    SimulationError True
    """


class SimulationError(NumericalError):
    """The simulated dynamics left the finite numbers (e.g. Q overflowed); names the run, step and agent.

    Examples
    --------
    >>> import marldyn
    >>> config = {
    ...     "game": {"b": [1e308, 1e308]},
    ...     "graph": {"kind": "complete", "n": 3},
    ...     "learning": {"alpha": 1.0},
    ...     "run": {"steps": 10, "runs": 1},
    ... }
    >>> marldyn.simulate(config)
    Traceback (most recent call last):
    ...
    marldyn.errors.SimulationError: run 0: Q of agent 2 became non-finite at step 1 (values overflowed; ...)
    """


class DivergenceError(NumericalError):
    """A theory's trajectory left the finite numbers (an SDE member, an ODE solution).

    Examples
    --------
    With α = 0.5, Euler–Maruyama steps of dt = 1000 simulator steps are far beyond the α dt < 2 that a stable
    Euler step of the drift needs, and the SDE ensemble overflows (``SDE(dt=1)`` stays finite):

    >>> import marldyn
    >>> from marldyn.theory import SDE
    >>> config = {
    ...     "graph": {"kind": "lattice", "n": 9},
    ...     "learning": {"alpha": 0.5},
    ...     "run": {"steps": 100_000, "runs": 1, "record_every": 10_000},
    ... }
    >>> marldyn.predict(config, SDE(dt=1000))
    Traceback (most recent call last):
    ...
    marldyn.errors.DivergenceError: the SDE ensemble left the finite numbers by t = ... steps (reduce dt)
    """


class ConvergenceError(NumericalError):
    """An iterative computation did not converge: no fixed point found, an ODE or root solver failed.

    Examples
    --------
    With payoffs of 10^306 the point-mass ODE of the reduced theory is too stiff for its solver (the
    overflow warnings on the way are silenced here):

    >>> import numpy as np
    >>> import marldyn
    >>> config = {"game": {"b": [1e306, 1e306]}, "graph": {"kind": "complete", "n": 3}, "run": {"steps": 10}}
    >>> with np.errstate(over="ignore", invalid="ignore"):
    ...     marldyn.predict(config, "reduced")
    Traceback (most recent call last):
    ...
    marldyn.errors.ConvergenceError: solve_ivp (DOP853) failed: Required step size is less than spacing ...
    """


class MarldynWarning(UserWarning):
    """A warning from marldyn: the work goes on, but the user should know (e.g. an empty config file).

    Examples
    --------
    >>> import warnings
    >>> from pathlib import Path
    >>> import marldyn
    >>> _ = Path("empty.toml").write_text("# to be filled in\\n")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     config = marldyn.load_config("empty.toml")
    >>> print(caught[0].category.__name__, caught[0].message)
    MarldynWarning empty.toml is empty: running the built-in default case (two-state prisoner's dilemma on a
    lattice of 100 agents, 10 runs of 20000 steps)

    It is a ``UserWarning``: ``warnings.simplefilter("error", marldyn.MarldynWarning)`` turns it into an error.
    """


def did_you_mean(word: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``.

    Examples
    --------
    >>> did_you_mean("lattise", ["lattice", "complete"])
    " (did you mean 'lattice'?)"
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
