"""The generated reference pages of the documentation cover the code they are generated from.

``docs/_ext/marldyn_config_schema.py`` writes the configuration reference from the pydantic models and
``docs/_ext/marldyn_cli_reference.py`` the command-line reference from the typer app; both are plain Python
(no Sphinx), imported here by path. Every field, command and option is compared against the models and the
app themselves, so a field or an option added without appearing in the docs fails here. The API pages
(``docs/reference/*.rst``) must list every public name of the modules in ``PUBLIC_MODULES``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import typer.main
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from marldyn.cli import app
from marldyn.config import SECTIONS, Config
from test_doctests import PUBLIC_MODULES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str):
    if str(DOCS / "_ext") not in sys.path:  # the generators import their shared module, marldyn_rst
        sys.path.insert(0, str(DOCS / "_ext"))
    spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


schema = _load("marldyn_config_schema")
cli_reference = _load("marldyn_cli_reference")


# ----------------------------------------------------------------------------------------------
# configuration schema
# ----------------------------------------------------------------------------------------------
def _section_text(text: str, section: str) -> str:
    """The generated text of one ``[section]``: from its heading to the next section's label."""
    start = text.index(f".. _config-{section}:")
    following = text.find(".. _config-", start + 1)
    return text[start : following if following >= 0 else None]


def test_schema_has_every_section_of_the_config():
    text = schema.config_schema_rst()
    assert list(schema.sections(Config)) == list(Config.model_fields) == list(SECTIONS)
    for section in Config.model_fields:
        assert f"\n{schema.title(Config, section)}\n" in text


@pytest.mark.parametrize("section", list(SECTIONS))
def test_schema_has_every_field_with_type_default_and_description(section):
    model = SECTIONS[section]
    text = _section_text(schema.config_schema_rst(), section)
    rows = {row["key"]: row for row in schema.field_rows(model)}
    assert list(rows) == list(model.model_fields)
    for name, field in model.model_fields.items():
        row = rows[name]
        assert f"   * - ``{name}``\n" in text
        assert row["type"] and row["default"], name
        assert field.description, f"[{section}] {name} has no Field(description=...) in marldyn/config.py"
        assert row["description"] == field.description  # the model is the only source
        assert row["description"].split("\n")[0] in text
        if field.default not in (None, PydanticUndefined) and field.default_factory is None:
            assert schema._toml(field.default) in row["default"]


def test_schema_states_the_constraints_of_the_models():
    rows = {(s, row["key"]): row for s, model in SECTIONS.items() for row in schema.field_rows(model)}
    alpha = rows[("learning", "alpha")]["constraints"]
    assert "> 0.0" in alpha and "≤ 1.0" in alpha and "finite" in alpha
    assert "< 1.0" in rows[("learning", "gamma")]["constraints"]
    assert "≥ 2" in rows[("graph", "n")]["constraints"]
    assert '``"rcm"``' in rows[("graph", "order")]["constraints"]
    assert '``"uniform"`` or any int' in rows[("init", "edge_state")]["constraints"]
    assert rows[("run", "steps")]["type"] == "int (strict)"
    assert rows[("graph", "n")]["default"].startswith("``100``")  # the default factory's value


#: A valid value of each field that only one ``kind`` (graph) or ``name`` (game) allows.
_RESTRICTED_VALUES = {
    "graph": {"degree": 3, "edge_probability": 0.5, "m": 1, "path": "edges.txt"},
    "game": {
        "b": [1.0, 1.0],
        "c": [1.0, 1.0],
        "p": [0.5, 0.5],
        "payoff": [[[0.0]]],
        "transition": [[[[1.0]]]],
        "file": "game.npz",
    },
}


@pytest.mark.parametrize(
    ("section", "switch", "other", "name"),
    [("graph", "kind", "complete", name) for name in _RESTRICTED_VALUES["graph"]]
    + [("game", "name", "custom", name) for name in ("b", "c", "p")]
    + [("game", "name", "two_state_pd", name) for name in ("payoff", "transition", "file")],
)
def test_schema_descriptions_name_the_only_kind_a_field_goes_with(section, switch, other, name):
    """A field that the validator allows with one ``kind`` (or ``name``) only says which one."""
    model = SECTIONS[section]
    value = _RESTRICTED_VALUES[section][name]
    with pytest.raises(ValidationError, match=rf"{name} is only allowed with {switch} = '\w+'") as info:
        model(**{switch: other, name: value})
    allowed = re.search(rf"only allowed with {switch} = '(\w+)'", str(info.value)).group(1)
    assert f'``{switch} = "{allowed}"``' in model.model_fields[name].description


def test_schema_takes_descriptions_from_the_model_only():
    from pydantic import BaseModel, Field

    class Root(BaseModel):
        class Inner(BaseModel):
            speed: float = Field(default=1.0, gt=0.0, description="How fast, in steps per second.")
            size: int = 3

        inner: Inner = Inner()

    text = schema.config_schema_rst(Root)
    assert "How fast, in steps per second." in text and "> 0.0" in text
    rows = {row["key"]: row for row in schema.field_rows(Root.Inner)}
    assert rows["size"]["description"] == ""  # no description: the test above fails on such a field


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def _group():
    return typer.main.get_command(app)


def test_cli_reference_has_every_command():
    text = cli_reference.cli_reference_rst()
    group = _group()
    names = [name for name, command in group.commands.items() if not command.hidden]
    assert names and [record["name"] for record in cli_reference.cli_records()["commands"]] == names
    for name in names:
        assert f".. _cli-{name}:" in text
        assert f"\nmarldyn {name}\n" in text
        summary = group.commands[name].help.split("\n\n")[0].split("\n")[0]
        assert summary in text.replace("\\", "").replace("``", "")


@pytest.mark.parametrize("name", list(_group().commands))
def test_cli_reference_has_every_argument_and_option_with_help(name):
    group = _group()
    command = group.commands[name]
    parent = group.make_context("marldyn", [], resilient_parsing=True)
    ctx = command.make_context(name, [], parent=parent, resilient_parsing=True)
    text = cli_reference.cli_reference_rst()
    start = text.index(f".. _cli-{name}:")
    end = text.find(".. _cli-", start + 1)
    section = text[start : end if end >= 0 else None]
    record = next(r for r in cli_reference.cli_records()["commands"] if r["name"] == name)
    by_name = {param["name"]: param for param in record["parameters"]}
    params = [param for param in command.get_params(ctx) if not param.hidden]
    assert "help" in by_name  # --help is a parameter too
    assert set(by_name) == {param.name for param in params}
    for param in params:
        if param.param_type_name == "argument":
            assert f"   * - ``{param.metavar or param.name}``" in section, f"marldyn {name}: {param.name} missing"
        for opt in (*param.opts, *param.secondary_opts) if param.param_type_name == "option" else ():
            assert re.search(rf"[` ]{re.escape(opt)}[`, ]", section), f"marldyn {name}: {opt} missing"
        if param.help:
            plain = section.replace("\\", "").replace("``", "")  # the markup the generator adds
            assert param.help.strip() in plain, f"marldyn {name}: help of {param.name}"
        default = by_name[param.name]["default"]
        if param.required:
            assert default == "required"
        elif param.default not in (None, False) and not param.is_eager:
            assert default, f"marldyn {name}: default of {param.name} missing"
            assert f"``{default}``" in section


def test_cli_reference_usage_and_defaults_match_help():
    records = {r["name"]: r for r in cli_reference.cli_records()["commands"]}
    assert records["simulate"]["usage"] == "marldyn simulate [OPTIONS] [config]"
    sweep = {p["name"]: p for p in records["sweep"]["parameters"]}
    assert sweep["workers"]["default"] == "2" and sweep["workers"]["type"] == "<int>"
    assert sweep["overwrite"]["names"] == "--overwrite / --no-overwrite"
    assert sweep["overwrite"]["default"] == "--no-overwrite"
    basins = {p["name"]: p for p in records["basins"]["parameters"]}
    assert basins["horizon"]["default"] == "required" and "repeat" in basins["horizon"]["help"]


# ----------------------------------------------------------------------------------------------
# API reference
# ----------------------------------------------------------------------------------------------
def _autosummary_entries() -> dict[str, list[str]]:
    """Full name -> the pages whose autosummary lists it (``.. currentmodule``/``.. module`` set the prefix)."""
    entries: dict[str, list[str]] = {}
    directive = re.compile(r"^\.\. (?:auto)?module:: (\S+)|^\.\. currentmodule:: (\S+)")
    for page in sorted((DOCS / "reference").glob("*.rst")):
        module = None
        in_table = False
        for line in page.read_text().splitlines():
            match = directive.match(line)
            if match:
                module = match.group(1) or match.group(2)
                continue
            if line.startswith(".. autosummary::"):
                in_table = True
                continue
            if in_table:
                stripped = line.strip()
                if not line.startswith("   ") and stripped:
                    in_table = False
                elif stripped and not stripped.startswith(":"):
                    entries.setdefault(f"{module}.{stripped}", []).append(page.name)
    return entries


def test_api_reference_lists_every_public_name_once():
    entries = _autosummary_entries()
    public = {f"{module}.{name}" for module in PUBLIC_MODULES for name in importlib.import_module(module).__all__}
    missing = sorted(public - set(entries))
    assert not missing, f"public names without an API page: {missing}"
    extra = sorted(set(entries) - public)
    assert not extra, f"API pages for names that are not public: {extra}"
    twice = sorted(name for name, pages in entries.items() if len(pages) > 1)
    assert not twice, f"listed on more than one page: {twice}"
