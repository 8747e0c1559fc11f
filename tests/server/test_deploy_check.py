"""Production settings pass `manage.py check --deploy` with zero warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _production_env() -> dict[str, str]:
    env = {}
    for line in (BASE_DIR / "deploy" / "production.env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    # Checks do not connect; keep the real engines so nothing resolves a compose host name.
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    return env


def test_check_deploy_passes_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**os.environ, **_production_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_https_settings() -> None:
    """The check is real: the same settings without HTTPS_ONLY raise deploy warnings."""
    env = {**os.environ, **_production_env(), "HTTPS_ONLY": "0"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS not set
