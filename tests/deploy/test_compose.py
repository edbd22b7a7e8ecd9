"""docker-compose.yml: the full stack starts in order, on topics from the registry (SPEC §3, §9)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import ROOT, all_services, load_module, services_with_database
from podium_contracts.topics import ALL_TOPICS

COMPOSE = ROOT / "docker-compose.yml"
INFRASTRUCTURE = {"kafka", "postgres", "redis", "mailpit"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The parsed compose file (YAML anchors and merge keys resolved)."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services by name."""
    return compose["services"]


def one_shots(services: dict[str, dict[str, Any]]) -> set[str]:
    """Return the services that run once and exit (restart: "no")."""
    return {name for name, s in services.items() if s.get("restart") == "no"}


def test_the_stack_has_the_infrastructure_and_every_service(services):
    assert INFRASTRUCTURE | all_services() <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")


def test_no_image_floats(services):
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), name


def test_kafka_runs_in_kraft_mode_without_auto_created_topics(services):
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_every_service_is_healthchecked_or_depended_on_by_health(services):
    run_once = one_shots(services)
    for name, service in services.items():
        if name in run_once:
            continue
        assert "test" in service.get("healthcheck", {}), f"{name} has no healthcheck"
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency in run_once else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} -> {dependency}"


def test_every_podium_service_waits_for_its_migration_topics_and_infrastructure(services):
    migrated = services_with_database()
    for name in all_services():
        depends = services[name]["depends_on"]
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
        if name in migrated:
            migration = services[f"{name}-migrate"]
            assert migration["command"] == ["python", "-m", f"podium_{name}", "migrate"]
            assert migration["depends_on"]["postgres"]["condition"] == "service_healthy"
            assert depends[f"{name}-migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["command"] == ["python", "-m", f"podium_{name}", "serve"]
        assert services[name]["environment"][f"PODIUM_{name.upper()}_PORT"]
    gateway = services["gateway"]["depends_on"]
    for name in all_services() - {"gateway"}:
        assert gateway[name]["condition"] == "service_healthy"
    assert services["notifier"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


def test_services_use_apache_kafka_with_idempotence(services):
    for name in all_services():
        env = services[name]["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["KAFKA_ENABLE_IDEMPOTENCE"] == "true"


def test_the_gateway_publishes_8000_and_nothing_else_is_reachable_but_the_mail_ui(services):
    assert services["gateway"]["ports"] == ["${PODIUM_HTTP_PORT:-8000}:8000"]
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"gateway", "mailpit"}
    assert all(p.startswith("127.0.0.1:") for p in services["mailpit"]["ports"])


def test_topics_created_at_start_match_the_registry(services):
    step = services["kafka-topics"]
    assert step["depends_on"]["kafka"]["condition"] == "service_healthy"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in step["volumes"]}
    script_path = mounts[step["entrypoint"][-1]]
    script = (ROOT / script_path).read_text()
    topics = load_module("deploy/topics.py")
    assert script == topics.render_compose_script(), "regenerate with: make deploy-manifests"
    created = {}
    for line in script.splitlines():
        if "--create" in line:
            words = shlex.split(line)
            created[words[words.index("--topic") + 1]] = int(words[words.index("--partitions") + 1])
    expected = {t.name: t.partitions for t in ALL_TOPICS} | {t.dead_letter: 1 for t in ALL_TOPICS}
    assert created == expected


def test_the_topic_script_is_idempotent_and_stops_on_errors():
    script = (ROOT / "deploy/compose/create-topics.sh").read_text()
    assert "set -eu" in script
    assert all("--if-not-exists" in line for line in script.splitlines() if "--create" in line)


def test_bind_mounts_stay_inside_the_repository(compose, services):
    named = set(compose.get("volumes") or {})
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount["source"] if isinstance(mount, dict) else mount.split(":")[0]
            if source in named:
                continue
            assert source.startswith("./"), f"{name}: {source} is not relative to the repository"
            resolved = (ROOT / source).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{name}: {source}"


def test_podium_containers_run_locked_down(services):
    for name in all_services() | {f"{s}-migrate" for s in services_with_database()}:
        service = services[name]
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name


def variables(text: str) -> set[str]:
    """Return the names of the ${VAR...} interpolations in a compose file."""
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))


def test_secrets_come_from_the_env_file_and_dev_defaults_are_marked():
    text = COMPOSE.read_text()
    example = (ROOT / ".env.example").read_text()
    defined = {
        line.split("=", 1)[0] for line in example.splitlines() if re.match(r"^[A-Z_]+=", line)
    }
    assert variables(text) <= defined, "every variable compose reads is in .env.example"
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", text))
    assert {"POSTGRES_PASSWORD", "REDIS_PASSWORD", "PODIUM_ADMIN_PASSWORD"} <= required
    assert "DEVELOPMENT DEFAULTS ONLY" in example
    for name, service in yaml.safe_load(text)["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|AUTH", key):
                assert str(value).startswith("${"), f"{name}: literal {key} in compose"


def test_the_env_file_is_ignored_by_git():
    command = ["git", "check-ignore", "-q", ".env"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, check=False)  # noqa: S603
    if result.returncode == 128:
        pytest.skip("not a git checkout")
    assert result.returncode == 0, ".env must be git-ignored"


def test_compose_file_is_in_the_repository_root():
    assert Path(COMPOSE).parent == ROOT
