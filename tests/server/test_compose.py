"""docker compose cannot run here (no engine); check the file's shape instead."""

from __future__ import annotations

from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_has_engines_and_three_app_processes() -> None:
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)


def test_app_services_share_one_image_definition_and_the_engines() -> None:
    services = _compose()["services"]
    builds = {name: services[name]["build"] for name in ("web", "worker", "beat", "migrate")}
    assert set(builds.values()) == {"."}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert services["web"]["command"][:3] == ["python", "-m", "server.serve"]  # Daphne on uvloop
    assert services["worker"]["command"][:4] == ["celery", "-A", "server", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "server", "beat"]


def test_app_waits_for_migrations_and_healthy_engines() -> None:
    services = _compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert (BASE_DIR / "Dockerfile").exists()
