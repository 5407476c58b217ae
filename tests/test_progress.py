"""The one progress bar (progress.py): every long job shows it on a terminal and honours MARLDYN_PROGRESS=0.

Regression for issue 12 (bug 4): the bars of ``sde`` and ``sde-graph`` ignored ``MARLDYN_PROGRESS``.
"""

from __future__ import annotations

import io
import sys

import pytest

import marldyn
from marldyn.progress import progress_bar, progress_disabled
from marldyn.theory import SDE, GraphSDE

CONFIG = {"graph": {"kind": "lattice", "n": 9}, "run": {"steps": 20, "runs": 2, "record_every": 10}}


class Terminal(io.StringIO):
    """A stderr that says it is a terminal (tqdm shows bars only there by default)."""

    def isatty(self) -> bool:
        return True


JOBS = {
    "simulate": lambda progress: marldyn.simulate(CONFIG, workers=1, progress=progress),
    "sde": lambda progress: marldyn.predict(CONFIG, SDE(dt=5.0), progress=progress),
    "sde-graph": lambda progress: marldyn.predict(CONFIG, GraphSDE(dt=5.0), progress=progress),
}


@pytest.mark.parametrize("job", list(JOBS))
@pytest.mark.parametrize(("setting", "progress", "shown"), [("1", None, True), ("0", None, False), ("0", True, True)])
def test_every_long_job_honours_marldyn_progress(job, setting, progress, shown, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("MARLDYN_PROGRESS", setting)
    JOBS[job](progress)
    assert ("%|" in terminal.getvalue()) == shown, terminal.getvalue()


def test_progress_disabled_rules(monkeypatch):
    monkeypatch.setenv("MARLDYN_PROGRESS", "0")
    assert progress_disabled(None) is True
    assert progress_disabled(True) is False
    monkeypatch.setenv("MARLDYN_PROGRESS", "1")
    assert progress_disabled(None) is None  # tqdm decides: a bar on a terminal only
    assert progress_disabled(False) is True
    with progress_bar(False, total=2) as bar:
        bar.update(2)


def test_a_disabled_bar_does_not_load_tqdm_auto():
    """tqdm.auto in a notebook kernel without ipywidgets warns "IProgress not found" even for a disabled bar,
    so with MARLDYN_PROGRESS=0 the bar comes from plain tqdm (regression: the tutorials printed the warning)."""
    import os
    import subprocess

    code = (
        "import sys\n"
        "from marldyn.progress import progress_bar\n"
        "with progress_bar(None, total=1) as bar:\n"
        "    bar.update(1)\n"
        "print('tqdm.auto' in sys.modules)\n"
    )
    env = dict(os.environ, MARLDYN_PROGRESS="0")
    finished = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert finished.stdout.strip() == "False"
