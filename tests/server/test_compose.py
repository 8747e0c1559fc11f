"""docker compose cannot run here (no engine); check the file's shape instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "email-worker", "beat")
LONG_RUNNING = ("postgres", "redis", *APP_SERVICES)


def _compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def _env_file(name: str) -> dict[str, str]:
    env = {}
    for line in (BASE_DIR / "deploy" / name).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    return env


def test_compose_has_engines_and_the_app_processes() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "migrate", *APP_SERVICES} <= set(services)
    beats = [name for name, service in services.items() if "beat" in service.get("command", [])]
    assert beats == ["beat"]  # exactly one beat


def test_app_services_share_one_image_and_read_the_production_environment_file() -> None:
    services = _compose()["services"]
    assert {services[name]["build"] for name in (*APP_SERVICES, "migrate", "demo-seed")} == {"."}
    for name in (*APP_SERVICES, "migrate", "demo-seed", "postgres"):
        files = services[name]["env_file"]
        # The example first, then the operator's own values over it (required: no silent
        # production run on the example's placeholder secrets).
        assert files[0] == {"path": "deploy/production.env.example"}, name
        assert files[1] == {"path": "${IOP_ENV_FILE:-deploy/production.env}", "required": True}, name
    production = _env_file("production.env.example")
    assert "@postgres:5432/" in production["DATABASE_URL"]
    assert f"{production['POSTGRES_USER']}:{production['POSTGRES_PASSWORD']}@" in production["DATABASE_URL"]
    assert production["REDIS_URL"] == "redis://redis:6379/0"
    assert services["web"]["command"][:3] == ["python", "-m", "server.serve"]  # Daphne on uvloop
    assert services["beat"]["command"][:4] == ["celery", "-A", "server", "beat"]


def test_workers_consume_the_default_and_the_email_queue() -> None:
    services = _compose()["services"]

    def queue(name: str) -> str:
        command = services[name]["command"]
        assert command[:4] == ["celery", "-A", "server", "worker"]
        return command[command.index("-Q") + 1]

    assert queue("worker") == settings.CELERY_TASK_DEFAULT_QUEUE == "iop"
    assert queue("email-worker") == settings.CELERY_EMAIL_QUEUE == "iop-email"


def test_every_long_running_service_has_a_health_check_and_redis_is_pinned_to_7_2() -> None:
    services = _compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
    assert services["redis"]["image"] == "redis:7.2"
    for name in ("worker", "email-worker", "beat"):
        check = " ".join(services[name]["healthcheck"]["test"])
        hostname = (
            services[name]["command"][services[name]["command"].index("--hostname") + 1] if name != "beat" else ""
        )
        assert "server.worker_heartbeat" in check, name
        if hostname:
            assert hostname.replace("%h", "$$HOSTNAME") in check, name


def test_app_waits_for_migrations_and_healthy_engines() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (BASE_DIR / "Dockerfile").exists()


def test_migrate_only_migrates_and_demo_data_is_seeded_only_in_the_demo_profile() -> None:
    services = _compose()["services"]
    migrate = " ".join(services["migrate"]["command"])
    assert "migrate" in migrate and "seed_demo" not in migrate
    seeding = [name for name, service in services.items() if "seed_demo" in " ".join(service.get("command", []))]
    assert seeding == ["demo-seed"]
    demo = services["demo-seed"]
    assert demo["profiles"] == ["demo"]
    assert demo["environment"]["DEMO"] == "1"
    assert demo["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in APP_SERVICES:
        assert "profiles" not in services[name]
        assert "DEMO" not in services[name].get("environment", {})  # only the env files say


def test_the_production_environment_is_not_a_demo() -> None:
    lines = (BASE_DIR / "deploy" / "production.env.example").read_text().splitlines()
    assert not [line for line in lines if line.strip().startswith("DEMO=")]
    assert _env_file("demo.env")["DEMO"] == "1"


def test_the_demo_environment_over_the_production_one_starts() -> None:
    env = {**os.environ, **_env_file("production.env.example"), **_env_file("demo.env")}
    # Checks do not connect; keep the real engines so nothing resolves a compose host name.
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["REDIS_URL"] = os.environ["REDIS_URL"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
