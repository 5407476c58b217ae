"""Reproductions of the paper's experiments, one call (or one ``marldyn reproduce NAME``) each.

Every reproduction runs simulations and theories, compares them, draws the figure (PNG and PDF) and writes
the datasets (netCDF) and ``summary.json`` / ``summary.md`` into its output directory; see
:mod:`marldyn.reproduce.common` for the shared pipeline and the modules ``fig3``, ``fig4``, ``fig5``,
``si_beta``, ``si_transition`` and ``crossval`` for the figures, and ``groups`` for two figures of our own on group
games.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import ConfigError, did_you_mean
from . import crossval, fig3, fig4, fig5, groups, si_beta, si_transition

#: Registry: reproduction name -> the function that makes it, ``f(out_dir, *, quick, workers, progress) -> dict``.
REPRODUCTIONS = {
    "fig3": fig3.reproduce,
    "fig4": fig4.reproduce,
    "fig5": fig5.reproduce,
    "si-beta": si_beta.reproduce,
    "si-transition": si_transition.reproduce,
    "crossval": crossval.reproduce,
    "groups-public-goods": groups.reproduce_public_goods,
    "groups-ecological": groups.reproduce_ecological,
}
#: Every name ``reproduce`` accepts (``all`` runs every reproduction in turn).
NAMES = (*REPRODUCTIONS, "all")

__all__ = ["NAMES", "REPRODUCTIONS", "check_name", "reproduce"]


def check_name(name: str) -> str:
    """Return ``name`` if it is a reproduction (or ``all``), else raise :class:`ConfigError` with a suggestion.

    Examples
    --------
    >>> from marldyn.reproduce import NAMES, check_name
    >>> NAMES
    ('fig3', 'fig4', 'fig5', 'si-beta', 'si-transition', 'crossval', 'groups-public-goods', 'groups-ecological', 'all')
    >>> check_name("si-beta")
    'si-beta'
    >>> check_name("fig6")
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: unknown reproduction 'fig6' (did you mean 'fig5'?); choose one of fig3, ...
    """
    if name not in NAMES:
        raise ConfigError(f"unknown reproduction {name!r}{did_you_mean(name, NAMES)}; choose one of {', '.join(NAMES)}")
    return name


def reproduce(name: str, out_dir, quick: bool = False, workers: int = 1, progress: bool | None = None) -> dict:
    """Run one reproduction (or ``all``) and write its outputs into ``out_dir``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    out_dir : str or pathlib.Path
        Output directory (created if missing; a reproduction's own files in it are replaced). With ``all``
        every reproduction writes into ``out_dir/<name>`` and an index ``summary.json``/``summary.md`` goes into
        ``out_dir``.
    quick : bool
        Fewer runs and steps, so that each reproduction takes seconds (for tests and CI); the summary says so.
    workers : int
        Processes for the simulation runs (results do not depend on it).
    progress : bool, optional
        Progress bar over the cases; default: only on a terminal.

    Returns
    -------
    dict
        The summary (what ``summary.json`` holds); for ``all``, ``{"name": "all", "reproductions": {name:
        summary}, "seconds": {name: seconds}}``.

    Raises
    ------
    ConfigError
        For an unknown name or invalid ``workers``.

    Examples
    --------
    The quickest reproduction, the SI's β dependence, writes its figure, datasets and summary into
    ``si-beta/`` in a few seconds with ``quick=True`` (about 4 s on one core; skipped here for the time):

    >>> from marldyn.reproduce import reproduce
    >>> summary = reproduce("si-beta", "si-beta", quick=True)  # doctest: +SKIP
    >>> summary["figures"]  # doctest: +SKIP
    ['si-beta.png', 'si-beta.pdf']

    The name and ``workers`` are checked before anything runs:

    >>> reproduce("fig3", "out", workers=0)
    Traceback (most recent call last):
    ...
    marldyn.errors.ConfigError: workers = 0 must be an integer >= 1
    """
    check_name(name)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers = {workers!r} must be an integer >= 1")
    out_dir = Path(out_dir)
    if name != "all":
        return REPRODUCTIONS[name](out_dir, quick=quick, workers=workers, progress=progress)
    summaries, seconds = {}, {}
    for each in REPRODUCTIONS:
        start = time.perf_counter()
        summaries[each] = reproduce(each, out_dir / each, quick=quick, workers=workers, progress=progress)
        seconds[each] = round(time.perf_counter() - start, 3)
    index = {"name": "all", "quick": bool(quick), "seconds": seconds, "reproductions": summaries}
    _write_index(out_dir, index)
    return index


def _write_index(out_dir: Path, index: dict) -> None:
    from ..io import atomic_write_text
    from .common import json_default

    lines = [
        "# marldyn reproduce all",
        "",
        "| reproduction | seconds | figures | directory |",
        "| --- | --- | --- | --- |",
    ]
    for name, summary in index["reproductions"].items():
        figures = ", ".join(f"[{f}]({name}/{f})" for f in summary["figures"] if f.endswith(".png"))
        lines.append(f"| {name} | {index['seconds'][name]:.1f} | {figures} | [{name}/]({name}/summary.md) |")
    atomic_write_text(out_dir / "summary.json", json.dumps(index, indent=2, default=json_default) + "\n")
    atomic_write_text(out_dir / "summary.md", "\n".join(lines) + "\n")
