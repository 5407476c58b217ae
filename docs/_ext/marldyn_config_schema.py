"""The configuration reference, generated from the pydantic models of :mod:`marldyn.config`.

:func:`config_schema_rst` turns the models into reStructuredText: one section per TOML table, one table row
per field with its type, default, constraints and description. All of it comes from the models alone: types,
defaults and constraints from ``model_fields`` (annotations, ``Field(ge=..., gt=..., le=..., lt=...,
allow_inf_nan=...)``, ``default_factory``), and a field's description from its ``Field(description=...)``
(reStructuredText), written once, in ``src/marldyn/config.py``. ``tests/test_docs_reference.py`` fails on a
field without a description.

This module imports neither Sphinx nor docutils, so the tests can import it by path without the docs extra;
the directive that puts the text into a page is in ``marldyn_docs.py``.
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from typing import Any, Literal, Union

import annotated_types
from marldyn_rst import list_table
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


def sections(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The TOML tables of ``root``: field name -> the model of that table, in the model's order (for an array of
    tables, ``tuple[Model, ...]``, the model of one entry)."""
    return {name: _table_model(field.annotation) for name, field in root.model_fields.items()}


def _table_model(annotation: Any) -> type[BaseModel]:
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0]
    return annotation


def title(root: type[BaseModel], section: str) -> str:
    """The TOML heading of a section: ``[game]``, or ``[[agent_types]]`` for an array of tables."""
    array = typing.get_origin(root.model_fields[section].annotation) is tuple
    return f"[[{section}]]" if array else f"[{section}]"


def describe_type(annotation: Any) -> str:
    """A short reader's name of a field annotation: ``float``, ``int or not given``, ``pair of floats``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe_type(args[0])
    if origin in (Union, types.UnionType):
        # ``None`` is how the models spell "not given" (a TOML file cannot write it): the default column says so.
        return " or ".join(describe_type(a) for a in args if a is not type(None))
    if origin is Literal:
        return "string" if all(isinstance(a, str) for a in args) else "literal"
    if origin is tuple:
        inner = {describe_type(a) for a in args}
        if len(inner) == 1 and len(args) == 2:
            return f"pair of {inner.pop()}s"
        return "tuple of " + ", ".join(describe_type(a) for a in args)
    if origin is list:
        if not args:
            return "nested list of numbers"
        inner = args[0]
        depth = 1
        while typing.get_origin(inner) is list:
            inner, depth = typing.get_args(inner)[0], depth + 1
        return ("nested list" if depth > 1 else "list") + f" of {describe_type(inner)}s"
    if annotation is list:
        return "nested list of numbers"
    if annotation is str:
        return "string"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)


def _scalar_kinds(annotation: Any) -> list[Any]:
    """The non-``Literal``, non-``None`` members of a (possibly nested) union."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return [kind for arg in typing.get_args(annotation) for kind in _scalar_kinds(arg)]
    if origin is Literal or annotation is type(None):
        return []
    return [annotation]


def _choices(annotation: Any) -> list[Any]:
    """The values a ``Literal`` (possibly inside a union or ``Annotated``) allows."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return list(args)
    if origin in (Union, types.UnionType, typing.Annotated):
        return [choice for arg in args for choice in _choices(arg)]
    return []


def _strict_types(annotation: Any, metadata: list[Any] = ()) -> set[type]:
    """The scalar types the field checks strictly (``StrictInt``, ``StrictFloat``: no strings, no booleans)."""
    if any(getattr(meta, "strict", False) for meta in metadata) and isinstance(annotation, type):
        return {annotation}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _strict_types(args[0], annotation.__metadata__)
    return {kind for arg in args for kind in _strict_types(arg)}


#: What "strict" means for each scalar type, as pydantic's strict mode checks it (said once, above the tables).
STRICT_NOTE = (
    'A type marked *strict* is checked without conversion: a strict int takes no ``1.0``, ``"1"`` or '
    '``true``; a strict float takes integers and floats but no strings or booleans (``"0.1"`` and ``true`` '
    "are errors, not numbers)."
)


def _number(value: Any) -> str:
    if isinstance(value, int) and abs(value) >= 2**31:
        exponent = round(math.log2(value))
        if 2**exponent == value:
            return f"2^{exponent}"
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}"
    return repr(value)


def is_strict(field: FieldInfo) -> bool:
    """Whether pydantic checks the field's numbers strictly (``StrictInt``, ``StrictFloat``)."""
    return bool(_strict_types(field.annotation, field.metadata))


def describe_constraints(field: FieldInfo) -> list[str]:
    """The checks pydantic applies to one field, in words (bounds, finiteness, choices, strictness)."""
    parts = []
    bounds = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    for meta in field.metadata:
        for name, symbol in bounds.items():
            if isinstance(meta, getattr(annotated_types, name.capitalize())):
                parts.append(f"{symbol} {_number(getattr(meta, name))}")
        if getattr(meta, "allow_inf_nan", None) is False:
            parts.append("finite")
    choices = [f"``{_toml(choice)}``" for choice in _choices(field.annotation)]
    others = _scalar_kinds(field.annotation)
    if choices and not others:
        parts.append("one of " + ", ".join(choices))
    elif choices:
        parts.append(" or ".join(choices) + " or " + " or ".join(f"any {describe_type(kind)}" for kind in others))
    return parts


def describe_default(field: FieldInfo) -> str:
    """The default as TOML would write it, ``not given`` for ``None``, or the factory's rule."""
    if field.default_factory is not None:
        factory = field.default_factory
        takes_data = len(inspect.signature(factory).parameters) == 1
        value = factory({}) if takes_data else factory()
        summary = inspect.getdoc(factory) or ""
        summary = summary.split("\n\n")[0].replace("\n", " ")
        rule = summary.split(":", 1)[1].strip() if ":" in summary else summary
        return f"``{_toml(value)}``; {rule}" if rule else f"``{_toml(value)}``"
    if field.default is PydanticUndefined:
        return "required"
    if field.default is None:
        return "not given"
    return f"``{_toml(field.default)}``"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "not given"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return repr(value)


def field_rows(model: type[BaseModel]) -> list[dict[str, str]]:
    """One dict per field of ``model``: ``key``, ``type``, ``default``, ``constraints``, ``description``.

    ``description`` is the field's ``Field(description=...)``, ``""`` where it has none.
    """
    rows = []
    for name, field in model.model_fields.items():
        rows.append(
            {
                "key": name,
                "type": describe_type(field.annotation) + (" (strict)" if is_strict(field) else ""),
                "default": describe_default(field),
                "constraints": "; ".join(describe_constraints(field)) or "—",
                "description": field.description or "",
            }
        )
    return rows


def _docstring_rst(model: type[BaseModel]) -> str:
    text = inspect.cleandoc(model.__doc__ or "")
    first, _, rest = text.partition("\n\n")
    if first.startswith("``[") and ":" in first:  # "``[game]``: the built-in ..." -> "The built-in ..."
        first = first.split(":", 1)[1].strip()
        first = first[:1].upper() + first[1:]
    return (first + ("\n\n" + rest if rest else "")).strip()


def config_schema_rst(root: type[BaseModel] | None = None) -> str:
    """The configuration reference of ``root`` (default :class:`marldyn.Config`) as reStructuredText.

    One section per table (``[game]``, ``[graph]``, ...) with the model's docstring and a table of its fields.
    """
    if root is None:
        from marldyn.config import Config as root
    lines: list[str] = [f".. currentmodule:: {root.__module__.split('.')[0]}", ""]
    if any(is_strict(field) for model in sections(root).values() for field in model.model_fields.values()):
        lines += [STRICT_NOTE, ""]
    for section, model in sections(root).items():
        heading = title(root, section)
        lines += [f".. _config-{section}:", "", heading, "-" * len(heading), ""]
        doc = _docstring_rst(model)
        if doc:
            lines += [doc, ""]
        rows = [
            [f"``{row['key']}``", row["type"], row["default"], row["constraints"], row["description"]]
            for row in field_rows(model)
        ]
        headers = ["key", "type", "default", "constraints", "description"]
        lines += list_table(headers, rows, widths="14 14 16 22 34", css_class="marldyn-config-table")
    return "\n".join(lines)
