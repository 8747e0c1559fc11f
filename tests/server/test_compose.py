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
    for name in ("web", "worker", "beat"):
        assert "profiles" not in services[name]
        assert services[name]["environment"]["DEMO"] == "${DEMO:-0}"  # off unless the operator asks


def test_the_production_environment_is_not_a_demo() -> None:
    lines = (BASE_DIR / "deploy" / "production.env.example").read_text().splitlines()
    assert not [line for line in lines if line.strip().startswith("DEMO=")]
