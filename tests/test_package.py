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
