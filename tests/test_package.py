"""The package entry: lazy imports and the process-wide settings made on import."""

from __future__ import annotations

import os
import subprocess
import sys


def run_python(code: str, **environment) -> str:
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    env.update(environment)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_import_is_lazy():
    loaded = run_python("import sys, marldyn; print(sorted({'numba', 'xarray', 'scipy'} & set(sys.modules)))")
    assert loaded.strip() == "[]"


def test_openmp_threads_sleep_while_waiting_unless_the_user_chose():
    code = "import os, marldyn; print(os.environ['OMP_WAIT_POLICY'])"
    assert run_python(code).strip() == "passive"
    assert run_python(code, OMP_WAIT_POLICY="active").strip() == "active"


def test_the_version_is_defined_once():
    """pyproject takes the version from marldyn.__version__ (hatch); the installed metadata and the citation file
    agree with it."""
    import importlib.metadata
    import re
    from pathlib import Path

    import marldyn

    root = Path(__file__).resolve().parents[1]
    assert importlib.metadata.version("marldyn") == marldyn.__version__
    assert re.search(r"^version = ", (root / "pyproject.toml").read_text(), re.MULTILINE) is None
    citation = (root / "CITATION.cff").read_text()
    assert re.search(r"^version: (\S+)$", citation, re.MULTILINE).group(1) == marldyn.__version__
    assert (root / "LICENSE").read_text().startswith("MIT License")
