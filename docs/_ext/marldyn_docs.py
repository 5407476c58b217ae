"""Sphinx extension of the marldyn documentation: reference pages generated from the code at build time.

Directives (reStructuredText pages; their output is reStructuredText parsed in place):

``.. marldyn-config-schema::``
    Every table and field of the TOML configuration, from the pydantic models of :mod:`marldyn.config`
    (:func:`marldyn_config_schema.config_schema_rst`).
``.. marldyn-cli::``
    Every command, argument and option of the ``marldyn`` command line, from the typer app of
    :mod:`marldyn.cli` (:func:`marldyn_cli_reference.cli_reference_rst`).

Both record the source module as a dependency of the page, so an incremental build regenerates the page
when ``config.py`` or ``cli.py`` changes.

Other autodoc handlers: :func:`data_comments` (a re-exported constant's ``#:`` comment),
:func:`pydantic_signature` and :func:`skip_pydantic_internals` (the configuration models' pages).
Docstrings are otherwise rendered as written, so they must be valid reStructuredText that also reads as plain
text in ``help()``: an absolute value is ``abs(x)`` (``|x|`` is a substitution reference), and an inline
literal ends before whitespace or punctuation.
"""

from __future__ import annotations

import importlib
import inspect
import sys

import marldyn_cli_reference
import marldyn_config_schema
from sphinx.application import Sphinx
from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective


class _GeneratedDirective(SphinxDirective):
    """A directive without arguments or content whose body is generated reStructuredText."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0
    #: The module whose source the generated text depends on.
    source_module = ""

    def generate(self) -> str:
        raise NotImplementedError

    def run(self):
        module = importlib.import_module(self.source_module)
        self.env.note_dependency(module.__file__)
        return self.parse_text_to_nodes(self.generate(), allow_section_headings=True)


class ConfigSchemaDirective(_GeneratedDirective):
    """``.. marldyn-config-schema::`` — the configuration reference."""

    source_module = "marldyn.config"

    def generate(self) -> str:
        return marldyn_config_schema.config_schema_rst()


class CLIDirective(_GeneratedDirective):
    """``.. marldyn-cli::`` — the command-line reference."""

    source_module = "marldyn.cli"

    def generate(self) -> str:
        return marldyn_cli_reference.cli_reference_rst()


def data_comments(app, what, name, obj, options, lines: list[str]) -> None:
    """A module-level constant's ``#:`` comment where it is defined, never the docstring of its type.

    autodoc reads a constant's ``#:`` comment only in the module being documented; a public constant that a
    package re-exports (``marldyn.theory.METHODS`` from ``marldyn.theory.methods``) would show the
    docstring of ``tuple`` instead. Runs before numpydoc, so numpydoc formats the comment.
    """
    if what != "data" or "." not in name:
        return
    type_doc = type(obj).__doc__
    type_doc = inspect.cleandoc(type_doc).strip() if isinstance(type_doc, str) else ""
    if lines and "\n".join(lines).strip() != type_doc:
        return  # a comment of its own was found
    attribute = name.rsplit(".", 1)[1]
    package = name.split(".", 1)[0]
    for module_name, module in sorted(sys.modules.items()):
        if module is None or not (module_name == package or module_name.startswith(package + ".")):
            continue
        if getattr(module, attribute, _MISSING) is not obj:
            continue
        try:
            comments = ModuleAnalyzer.for_module(module_name).find_attr_docs()
        except PycodeError:
            continue
        if ("", attribute) in comments:
            lines[:] = list(comments[("", attribute)])
            return
    lines[:] = []


_MISSING = object()


def _is_pydantic_model(obj) -> bool:
    return isinstance(obj, type) and hasattr(obj, "model_fields") and hasattr(obj, "model_config")


def pydantic_signature(app, what, name, obj, options, signature, return_annotation):
    """A pydantic model's signature with its sections as ``GameConfig()``, not their full reprs."""
    if what != "class" or not _is_pydantic_model(obj):
        return None
    parts = []
    for field_name, field in obj.model_fields.items():
        default = field.default
        if _is_pydantic_model(type(default)) and default == type(default)():
            parts.append(f"{field_name}={type(default).__name__}()")
        elif field.default_factory is not None:
            parts.append(f"{field_name}=...")
        else:
            parts.append(f"{field_name}={default!r}")
    return f"(*, {', '.join(parts)})", return_annotation


def skip_pydantic_internals(app, what, name, obj, skip, options):
    """Leave pydantic's machinery (``model_config``, ``model_post_init``, ...) out of a model's members.

    marldyn names nothing of its own ``model_*``, so the prefix alone identifies pydantic's members.
    """
    if name.startswith("model_") or name in ("__pydantic_fields__", "__class_vars__"):
        return True
    return None


def setup(app: Sphinx) -> dict:
    app.add_directive("marldyn-config-schema", ConfigSchemaDirective)
    app.add_directive("marldyn-cli", CLIDirective)
    app.connect("autodoc-process-docstring", data_comments, priority=100)  # before numpydoc (500)
    app.connect("autodoc-process-signature", pydantic_signature)
    app.connect("autodoc-skip-member", skip_pydantic_internals)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
