"""The command-line reference, generated from the typer app of :mod:`marldyn.cli`.

typer 0.29 vendors its own click (``typer._click``), so tools written for click (sphinx-click) do not see its
commands. :func:`cli_reference_rst` walks the command objects that ``typer.main.get_command`` builds, the same
objects that print ``marldyn COMMAND --help``: every command with its usage line and help text, every
argument and every option (including ``--help``) with its type, default and help.

This module imports neither Sphinx nor docutils, so the tests can import it by path without the docs extra;
the directive that puts the text into a page is in ``marldyn_docs.py``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from marldyn_rst import list_table

#: The program name the usage lines show.
PROG = "marldyn"


def root_command(app: Any | None = None):
    """The click-style command group of the typer ``app`` (default: ``marldyn.cli.app``)."""
    import typer.main

    if app is None:
        from marldyn.cli import app
    return typer.main.get_command(app)


def _context(command, name: str, parent=None):
    return command.make_context(name, [], parent=parent, resilient_parsing=True)


def commands(app: Any | None = None) -> dict[str, Any]:
    """Command name -> command object, in the order ``marldyn --help`` lists them (hidden ones left out)."""
    group = root_command(app)
    return {name: command for name, command in group.commands.items() if not getattr(command, "hidden", False)}


def parameters(command, ctx) -> list[Any]:
    """Every parameter of ``command`` as ``--help`` shows it (arguments, options, the help option)."""
    return [param for param in command.get_params(ctx) if not getattr(param, "hidden", False)]


def _is_argument(param) -> bool:
    return getattr(param, "param_type_name", "") == "argument"


def _type_label(param, ctx) -> str:
    """The value's type as ``--help`` prints it (``<int>``, ``<path>``), empty for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return ""
    if getattr(param, "metavar", None):
        return param.metavar
    display = getattr(param, "display_type", None)
    if display is not None:
        return display(ctx)
    kind = getattr(param, "type", None)  # plain click
    return f"<{kind.name}>" if kind is not None else ""


def _default(param, ctx) -> str:
    """The default in words: ``--no-overwrite`` for a boolean flag pair, a value, or empty when none."""
    if getattr(param, "required", False):
        return "required"
    if getattr(param, "is_eager", False) and not getattr(param, "expose_value", True):
        return ""  # --help
    default = param.get_default(ctx, call=False)
    if getattr(param, "is_bool_flag", False) and param.secondary_opts:
        if default is None:
            return ""
        return param.opts[0] if default else param.secondary_opts[0]
    if default is None or (getattr(param, "is_flag", False) and default is False):
        return ""
    if inspect.isfunction(default):
        return "(dynamic)"
    if isinstance(default, list | tuple):
        return ", ".join(str(value) for value in default)
    return str(default)


def parameter_record(param, ctx) -> dict[str, str]:
    """One parameter as a dict: ``kind`` (argument/option), ``names``, ``type``, ``default``, ``help``."""
    if _is_argument(param):
        names = getattr(param, "display_name_raw", None) or (param.metavar or param.name)
    else:
        names = ", ".join(param.opts)
        if param.secondary_opts:
            names += " / " + ", ".join(param.secondary_opts)
    notes = []
    if getattr(param, "multiple", False):
        notes.append("repeat for several values")
    return {
        "kind": "argument" if _is_argument(param) else "option",
        "name": param.name or "",
        "names": names,
        "type": _type_label(param, ctx),
        "default": _default(param, ctx),
        "help": " ".join(filter(None, [(getattr(param, "help", None) or "").strip(), *notes])),
    }


def command_record(name: str, command, parent_ctx) -> dict[str, Any]:
    """One command: ``name``, ``usage``, ``help`` (its docstring) and its ``parameters`` (see above)."""
    ctx = _context(command, name, parent=parent_ctx)
    usage = command.get_usage(ctx).strip().removeprefix("Usage:").strip()
    return {
        "name": name,
        "usage": usage,
        "help": inspect.cleandoc(command.help or ""),
        "parameters": [parameter_record(param, ctx) for param in parameters(command, ctx)],
    }


def cli_records(app: Any | None = None) -> dict[str, Any]:
    """The whole command line as plain data: the root's usage and help, and one record per command."""
    group = root_command(app)
    ctx = _context(group, PROG)
    return {
        "usage": group.get_usage(ctx).strip().removeprefix("Usage:").strip(),
        "help": inspect.cleandoc(group.help or ""),
        "options": [parameter_record(param, ctx) for param in parameters(group, ctx)],
        "commands": [command_record(name, command, ctx) for name, command in commands(app).items()],
    }


#: A long option named in help text (``--resume``), shown as a literal (and so never typeset as a dash).
_FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")


def _escape(text: str) -> str:
    """Plain help text for reStructuredText: markup characters kept literal, option names as literals."""
    pieces, last = [], 0
    for match in _FLAG.finditer(text):
        pieces += [_escape_plain(text[last : match.start()]), f"``{match.group(0)}``"]
        last = match.end()
    return "".join([*pieces, _escape_plain(text[last:])])


def _escape_plain(text: str) -> str:
    for char in ("\\", "*", "`", "|", "_"):
        text = text.replace(char, "\\" + char)
    return text


def _table(records: list[dict[str, str]], first: str) -> list[str]:
    rows = [
        [
            f"``{record['names']}``",
            f"``{record['type']}``" if record["type"] else "—",
            f"``{record['default']}``" if record["default"] else "—",
            _escape(record["help"]) if record["help"] else "—",
        ]
        for record in records
    ]
    return list_table([first, "type", "default", "help"], rows, widths="30 12 16 42", css_class="marldyn-cli-table")


def cli_reference_rst(app: Any | None = None) -> str:
    """The command-line reference as reStructuredText: a section per command with usage, help and tables."""
    data = cli_records(app)
    lines = [".. code-block:: text", "", f"    {data['usage']}", "", _escape(data["help"]), ""]
    lines += ["The commands:", ""]
    for command in data["commands"]:
        summary = command["help"].split("\n\n")[0].replace("\n", " ")
        lines.append(f"- :ref:`{PROG} {command['name']} <cli-{command['name']}>`: {_escape(summary)}")
    lines.append("")
    for command in data["commands"]:
        title = f"{PROG} {command['name']}"
        lines += [f".. _cli-{command['name']}:", "", title, "-" * len(title), ""]
        lines += [".. code-block:: text", "", f"    {command['usage']}", ""]
        lines += [_escape(paragraph) + "\n" for paragraph in command["help"].split("\n\n")]
        arguments = [p for p in command["parameters"] if p["kind"] == "argument"]
        options = [p for p in command["parameters"] if p["kind"] == "option"]
        if arguments:
            lines += [".. rubric:: Arguments", ""] + _table(arguments, "argument")
        if options:
            lines += [".. rubric:: Options", ""] + _table(options, "option")
    return "\n".join(lines)
