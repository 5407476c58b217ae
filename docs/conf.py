"""Sphinx configuration of the marldyn documentation site.

Build (from the repository root, warnings as errors)::

    pip install -e '.[docs]' && sphinx-build -W -b html docs docs/_build/html

The tutorials are MyST markdown notebooks (``docs/tutorials/*.md``) that myst-nb executes at build time.
Cross-links to numpy, scipy, xarray, networkx and dask (intersphinx) need their inventories from the network:
set ``MARLDYN_DOCS_INTERSPHINX=1`` to use them; without it (CI, offline machines) they are off and those
names render as plain code. Math is rendered by MathJax from its CDN; ``MARLDYN_DOCS_MATHJAX`` may point at a
local ``tex-chtml.js`` for an offline site.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import marldyn

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "marldyn"
author = "the marldyn developers"
copyright = "2026, the marldyn developers"  # noqa: A001 (Sphinx's name)
version = release = marldyn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinx_copybutton",
]
if os.environ.get("MARLDYN_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "xarray": ("https://docs.xarray.dev/en/stable", None),
        "networkx": ("https://networkx.org/documentation/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
        "distributed": ("https://distributed.dask.org/en/stable", None),
    }
if os.environ.get("MARLDYN_DOCS_MATHJAX"):
    mathjax_path = os.environ["MARLDYN_DOCS_MATHJAX"]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints", "jupyter_execute"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# API reference: one page per public name (autosummary), numpydoc sections.
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# MyST and the executed notebooks.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = f"marldyn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_context = {"default_mode": "light"}
