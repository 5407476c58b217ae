"""reStructuredText pieces shared by the generated reference pages (no Sphinx import, like its users)."""

from __future__ import annotations


def list_table(headers: list[str], rows: list[list[str]], *, widths: str, css_class: str) -> list[str]:
    """The lines of a ``list-table`` directive with a header row; a cell may span several lines."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", f"   :class: {css_class}", ""]
    for row in [headers, *rows]:
        for index, cell in enumerate(row):
            first, *rest = cell.splitlines() or [""]
            lines.append(f"   {'*' if index == 0 else ' '} - {first}")
            lines.extend(f"       {line}" for line in rest)
    return lines + [""]
