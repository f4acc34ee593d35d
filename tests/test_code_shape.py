"""The codebase keeps the shape a newcomer can read: small modules, short functions.

Run `python -m tests.test_code_shape` to list what is over the limits.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "wamulti"
MODULE_MAX_LINES = 400
FUNCTION_MAX_LINES = 40


def module_lengths() -> dict[str, int]:
    return {str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
            for path in sorted(PACKAGE.rglob("*.py"))}


def function_lengths() -> dict[str, int]:
    """Lines from `def` to the function's last line (docstring included, decorators not)."""
    lengths = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"
                lengths[where] = node.end_lineno - node.lineno + 1
    return lengths


def test_every_module_is_under_the_line_limit():
    too_long = {name: n for name, n in module_lengths().items() if n >= MODULE_MAX_LINES}
    assert not too_long, f"modules of {MODULE_MAX_LINES} lines or more: {too_long}"


def test_every_function_is_under_the_line_limit():
    too_long = {name: n for name, n in function_lengths().items() if n >= FUNCTION_MAX_LINES}
    assert not too_long, f"functions of {FUNCTION_MAX_LINES} lines or more: {too_long}"


def test_the_measure_sees_the_whole_package():
    # guards the two tests above against passing because they looked at nothing
    assert len(module_lengths()) >= 20
    assert any(name.endswith(" create_app") for name in function_lengths())


if __name__ == "__main__":
    for name, n in module_lengths().items():
        if n >= MODULE_MAX_LINES:
            print(f"module   {n:4d}  {name}")
    for name, n in function_lengths().items():
        if n >= FUNCTION_MAX_LINES:
            print(f"function {n:4d}  {name}")
