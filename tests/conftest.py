"""pytest configuration (fixtures and environment only; shared helpers live in helpers.py)."""

from __future__ import annotations

import os

os.environ.setdefault("MARLDYN_PROGRESS", "0")
