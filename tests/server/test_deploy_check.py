"""Production settings pass `manage.py check --deploy` with zero warnings."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def _example_env() -> dict[str, str]:
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


def _production_env() -> dict[str, str]:
    """The example as a deployer fills it in: every placeholder replaced by a secret."""
    return {key: value.replace("replace-me", secrets.token_hex(8)) for key, value in _example_env().items()}


def test_check_deploy_passes_with_production_settings() -> None:
    result = _check_deploy(_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_https_settings() -> None:
    """The check is real: the same settings without HTTPS_ONLY raise deploy warnings."""
    result = _check_deploy({**_production_env(), "HTTPS_ONLY": "0"})
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # HSTS not set


def _check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_refuses_the_example_file_unedited() -> None:
    """Copied without editing, the example's secrets are public: the check names each
    setting still holding the placeholder, and never prints a value."""
    env = _example_env()
    env["DATABASE_URL"] = "postgresql://iop:replace-me-with-the-database-password@127.0.0.1:5432/iop"
    result = _check_deploy(env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "iop.E001" in output
    for name in ("SECRET_KEY", "DATABASE_URL", "TURN_SECRET", "METRICS_TOKEN"):
        assert name in output
    assert "replace-me-with" not in output
