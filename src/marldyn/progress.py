"""The one progress bar of marldyn's long work (simulations, SDE ensembles, sweeps, reproductions).

A bar shows on a terminal by default; ``MARLDYN_PROGRESS=0`` in the environment turns every bar off, and an
explicit ``progress=True`` / ``False`` of the caller wins over both.
"""

from __future__ import annotations

import os

__all__ = ["progress_bar", "progress_disabled"]


def progress_disabled(progress: bool | None) -> bool | None:
    """tqdm's ``disable=`` for a caller's ``progress`` (None: on a terminal, unless ``MARLDYN_PROGRESS=0``).

    Examples
    --------
    >>> progress_disabled(True), progress_disabled(False)
    (False, True)
    """
    if progress is None:
        return True if os.environ.get("MARLDYN_PROGRESS", "1") == "0" else None
    return not progress


def progress_bar(progress: bool | None = None, **options):
    """A ``tqdm.auto.tqdm`` bar (``total=``, ``desc=``, ``unit=`` …) that honours ``progress`` and
    ``MARLDYN_PROGRESS``; use it as a context manager.

    Examples
    --------
    >>> with progress_bar(False, total=3, desc="demo") as bar:
    ...     bar.update(3)
    """
    disable = progress_disabled(progress)
    if disable:  # plain tqdm: tqdm.auto in a notebook without ipywidgets warns even for a disabled bar
        from tqdm import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(disable=disable, **options)
