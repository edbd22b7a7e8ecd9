"""The Dockerfile: multi-stage, pinned base, non-root, locked dependencies, HEALTHCHECK."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy_support import ROOT, load_module

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(rest.split())))
    return result


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    """The Dockerfile's instructions."""
    return instructions(DOCKERFILE.read_text())


def arg_defaults(steps: list[tuple[str, str]]) -> dict[str, str]:
    """Return the default of every ARG."""
    defaults = {}
    for keyword, rest in steps:
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            defaults[name] = value.strip('"')
    return defaults


def expand(value: str, defaults: dict[str, str]) -> str:
    """Substitute ${ARG} and $ARG with their defaults."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), value)


def stages(steps: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split the instructions into build stages."""
    result: list[list[tuple[str, str]]] = []
    for step in steps:
        if step[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(step)
    return result


def test_multi_stage_on_a_pinned_base(steps):
    defaults = arg_defaults(steps)
    froms = [expand(rest, defaults) for keyword, rest in steps if keyword == "FROM"]
    assert len(froms) >= 2, "multi-stage build"
    for line in froms:
        image = line.split()[0]
        assert " AS " in line.upper(), f"stage without a name: {line}"
        assert ":" in image and not image.endswith(":latest"), image
        # An exact patch version, e.g. python:3.11.10-slim-bookworm.
        assert re.search(r":\d+\.\d+\.\d+", image) or "@sha256:" in image, image


def test_the_final_stage_runs_as_a_numeric_non_root_user(steps):
    defaults = arg_defaults(steps)
    final = stages(steps)[-1]
    stage_defaults = defaults | arg_defaults(final)
    users = [expand(rest, stage_defaults) for keyword, rest in final if keyword == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, users[-1]


def test_the_final_stage_has_no_build_tools(steps):
    final = stages(steps)[-1]
    runs = " ".join(rest for keyword, rest in final if keyword == "RUN")
    for tool in ("build-essential", "gcc", "uv sync", "pip install", "apt-get install"):
        assert tool not in runs, tool
    assert any(k == "COPY" and "--from=build" in rest for k, rest in final)


def test_healthcheck_probes_health_live(steps):
    checks = [rest for keyword, rest in steps if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/app/healthcheck.py" in checks[0]
    assert "/health/live" in (ROOT / "deploy/docker/healthcheck.py").read_text()


def test_dependencies_come_from_the_lock_file(steps):
    runs = " ".join(rest for keyword, rest in steps if keyword == "RUN")
    assert "uv sync --frozen --no-dev --all-packages" in runs
    copies = " ".join(rest for keyword, rest in steps if keyword == "COPY")
    members = sorted(ROOT.glob("libs/*/pyproject.toml")) + sorted(
        ROOT.glob("services/*/pyproject.toml")
    )
    for member in members:
        relative = str(member.relative_to(ROOT))
        assert relative in copies, (
            f"{relative} is not copied before `uv sync --no-install-workspace`"
        )


def test_uv_version_matches_the_makefile(steps):
    makefile = (ROOT / "Makefile").read_text()
    wanted = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", makefile, re.M)
    assert wanted is not None
    assert arg_defaults(steps)["UV_VERSION"] == wanted.group(1)


def test_default_command_serves_a_service(steps):
    (cmd,) = [rest for keyword, rest in steps if keyword == "CMD"]
    assert re.fullmatch(r'\["python", "-m", "podium_\w+", "serve"\]', cmd)


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[0] == "*" or "*" in ignore, "deny by default"
    assert "!.env" not in ignore


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["python", "-m", "podium_identity", "serve"], {}, ("identity", 8001)),
        (
            ["python", "-m", "podium_scoring", "serve"],
            {"PODIUM_SCORING_PORT": "9003"},
            ("scoring", 9003),
        ),
        (
            ["/sbin/docker-init", "--", "python", "-m", "podium_gateway", "serve"],
            {},
            ("gateway", 8000),
        ),
        (["python", "-m", "podium_notifier", "migrate"], {}, None),
        (["sh"], {}, None),
    ],
)
def test_healthcheck_finds_the_service_and_its_port(argv, environ, expected):
    healthcheck = load_module("deploy/docker/healthcheck.py")
    assert healthcheck.target(argv, environ) == expected


def test_healthcheck_reports_a_dead_port_as_unhealthy():
    healthcheck = load_module("deploy/docker/healthcheck.py")
    assert healthcheck.probe(1, timeout=0.5) is False


def test_healthcheck_reads_the_main_process_command_line(tmp_path: Path):
    healthcheck = load_module("deploy/docker/healthcheck.py")
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"python\0-m\0podium_ingest\0serve\0")
    assert healthcheck.main_command(cmdline) == ["python", "-m", "podium_ingest", "serve"]
