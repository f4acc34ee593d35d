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


def base_name_owners() -> dict[str, list[str]]:
    """Each base name in the package (a module's file name without .py, a package's folder name) and
    where it is used; `__init__` is not a name."""
    owners: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "__init__.py":
            owners.setdefault(path.stem, []).append(str(path.relative_to(PACKAGE.parent)))
    for folder in sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE):
        owners.setdefault(folder.name, []).append(str(folder.relative_to(PACKAGE.parent)) + "/")
    return owners


def test_no_two_modules_or_packages_share_a_base_name():
    # a traceback names a file by its base name: "registry.py" must say which registry
    shared = {name: where for name, where in base_name_owners().items() if len(where) > 1}
    assert not shared, f"base names used more than once: {shared}"


def test_the_measure_sees_the_whole_package():
    # guards the two tests above against passing because they looked at nothing
    assert len(module_lengths()) >= 20
    assert any(name.endswith(" create_app") for name in function_lengths())
    assert len(base_name_owners()) >= 20


if __name__ == "__main__":
    for name, n in module_lengths().items():
        if n >= MODULE_MAX_LINES:
            print(f"module   {n:4d}  {name}")
    for name, n in function_lengths().items():
        if n >= FUNCTION_MAX_LINES:
            print(f"function {n:4d}  {name}")
    for name, where in base_name_owners().items():
        if len(where) > 1:
            print(f"name     {name}: {', '.join(where)}")
