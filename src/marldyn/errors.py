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
    """Base class of the errors marldyn raises (catch this to catch them all)."""


class ConfigError(MarldynError, ValueError):
    """A user input (config, game, graph, CLI flag, API argument) is invalid.

    The message names the offending field and, where it helps, the allowed values.
    The CLI turns this into exit code 2 and a single line, without a traceback.
    """


class NumericalError(MarldynError, RuntimeError):
    """A computation failed numerically although its input was valid (CLI: exit code 1, one line)."""


class SimulationError(NumericalError):
    """The simulated dynamics left the finite numbers (e.g. Q overflowed); names the run, step and agent."""


class DivergenceError(NumericalError):
    """A theory's trajectory left the finite numbers (an SDE member, an ODE solution)."""


class ConvergenceError(NumericalError):
    """An iterative computation did not converge: no fixed point found, an ODE or root solver failed."""


class MarldynWarning(UserWarning):
    """A warning from marldyn: the work goes on, but the user should know (e.g. an empty config file)."""


def did_you_mean(word: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``.

    Examples
    --------
    >>> did_you_mean("lattise", ["lattice", "complete"])
    " (did you mean 'lattice'?)"
    """
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
