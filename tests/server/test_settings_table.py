"""README's configuration table names exactly the environment variables the code reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
README = BASE_DIR / "README.md"
# Readers of server/envtools.py; settings read every variable through them.
ENV_READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_int_list"}
# The test suite's and the bench's own switches are documented beside them, not in the table.
NOT_PRODUCT_CODE = {"tests", "bench", ".venv", "node_modules", "migrations", "web"}


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def names_read_by(tree: ast.AST) -> set[str]:
    """Names passed to an env_* reader, os.environ.get / os.environ[...] reads and os.getenv."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            reader = (
                (isinstance(func, ast.Name) and func.id in ENV_READERS)
                or (isinstance(func, ast.Attribute) and func.attr == "get" and _is_os_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv" and getattr(func.value, "id", "") == "os")
            )
            name = _string_arg(node) if reader else None
            if name:
                names.add(name)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
            key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def names_the_code_reads() -> set[str]:
    names: set[str] = set()
    for path in BASE_DIR.rglob("*.py"):
        relative = path.relative_to(BASE_DIR)
        if NOT_PRODUCT_CODE & set(relative.parts) or relative.name == "envtools.py":
            continue
        names |= names_read_by(ast.parse(path.read_text(), filename=str(path)))
    return names


def names_in_the_readme_table() -> set[str]:
    """The backticked names in the first column of the table under "## Configuration"."""
    text = README.read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_the_collector_sees_every_kind_of_read() -> None:
    tree = ast.parse(
        "import os\nA = env_int('A_INT', 1)\nB = os.environ.get('B_GET')\nC = os.environ['C_ITEM']\n"
        "D = os.getenv('D_GETENV')\nos.environ.setdefault('NOT_A_READ', 'x')\nE = env_list('E_LIST', [])\n"
    )
    assert names_read_by(tree) == {"A_INT", "B_GET", "C_ITEM", "D_GETENV", "E_LIST"}


def test_every_setting_the_code_reads_is_in_the_readme_table_and_nothing_else_is() -> None:
    read = names_the_code_reads()
    documented = names_in_the_readme_table()
    # A sanity floor: the settings module alone reads far more than this.
    assert len(read) > 60
    assert sorted(read - documented) == [], "read by the code but missing from README's configuration table"
    assert sorted(documented - read) == [], "in README's configuration table but read by no code"


def test_the_readme_sends_no_one_outside_the_repository() -> None:
    text = README.read_text()
    assert "../" not in text
    for target in re.findall(r"\]\(([^)#]+)", text):
        if "://" not in target:
            assert (BASE_DIR / target).exists(), target
