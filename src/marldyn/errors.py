"""The one exception type for user mistakes."""

from __future__ import annotations

import difflib


class ConfigError(ValueError):
    """A user input (config, game, graph, CLI flag) is invalid.

    The message names the offending field and, where it helps, the allowed values.
    The CLI turns this into exit code 2 and a single line, without a traceback.
    """


def did_you_mean(word: str, choices) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
