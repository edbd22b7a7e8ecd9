"""schemathesis over the gateway's whole public OpenAPI, on a running stack of all seven services.

Generated requests (valid and invalid) go to every operation the served
`/openapi.json` declares, signed in as the admin (bearer, fetched by logging in
again whenever a token stops working) and as an LRS client (Basic) for xAPI. The
run is bounded in time; it must find no server error and no answer the document
does not describe (status, content type, headers, body schema).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.testing import TestInfrastructure

sys.path.insert(0, str(Path(__file__).parents[1]))

from ops_support.stack import OpsStack, ops_stack
from platform_support.stack import ADMIN_EMAIL, ADMIN_PASSWORD

#: Seconds the fuzzer may spend (its whole run); examples per operation in that time.
FUZZ_SECONDS = int(os.environ.get("PODIUM_FUZZ_SECONDS", "120"))
FUZZ_EXAMPLES = int(os.environ.get("PODIUM_FUZZ_EXAMPLES", "10"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
#: What a service logs when it answers 503 for a dependency (`podium_runtime.problems`).
OUTAGE = "dependency unavailable; answering 503"
#: Erasing its own account (DELETE /v1/users/me) would sign the fuzzer out for the rest of the run.
EXCLUDED = ("erase_me_v1_users_me_delete",)
CONFIG = """\
[auth.dynamic.openapi.HTTPBearer]
path = "/v1/auth/login"
payload = {{ email = "{email}", password = "{password}" }}
extract_selector = "/access_token"

[auth.openapi.LrsBasic]
username = "{key}"
password = "{secret}"
"""

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[OpsStack]:
    async with ops_stack(test_infra, tmp_path_factory.mktemp("fuzz"), with_rewards=True) as s:
        yield s


async def test_the_public_api_answers_as_its_openapi_says(
    stack: OpsStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key, secret = base64.b64decode(stack.lrs_auth["Authorization"].split()[1]).decode().split(":")
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        CONFIG.format(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, key=key, secret=secret)
    )
    junit = tmp_path / "junit.xml"
    excluded = [arg for operation in EXCLUDED for arg in ("--exclude-operation-id", operation)]
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{stack.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--max-time",
        str(FUZZ_SECONDS),
        "--request-timeout",
        "30",
        "--workers",
        "2",
        "--seed",
        "13",
        "--no-shrink",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        *excluded,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    suites = ElementTree.parse(junit).getroot()  # noqa: S314 (schemathesis wrote it, just now)
    cases = suites.findall(".//testcase")
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    errors = [c.get("name") for c in cases if c.find("error") is not None]
    server_errors = text.count("Server error")
    print(
        f"\nschemathesis: {len(cases)} operations, {len(failed)} failed, {len(errors)} errors, "
        f"{server_errors} server errors (seed 13, {FUZZ_EXAMPLES} examples, {FUZZ_SECONDS} s)"
    )
    assert len(cases) > 100, text[-3000:]
    outages = [record.__dict__.get("error") for record in caplog.records if record.msg == OUTAGE]
    if failed and not errors and await _only_passing_outages(stack, text):
        # A dependency that answered too slowly on a loaded machine: documented, transient,
        # and the same request succeeded just now. Anything else still fails the run.
        print(f"schemathesis: transient 503s, each answered on replay; causes: {outages}")
        return
    assert (failed, errors, server_errors) == ([], [], 0), f"{text[-6000:]}\n503 causes: {outages}"
    assert process.returncode == 0, text[-6000:]


async def _only_passing_outages(stack: OpsStack, text: str) -> bool:
    """True when every failure is a 503 `SERVICE_UNAVAILABLE` that a replay now answers."""
    requests = outage_requests(text)
    if not requests:
        return False
    for method, url in requests:
        auth = stack.lrs_auth if "/xapi/" in url else stack.admin
        replayed = await stack.http.request(method, url, headers=auth)
        # Signed out (the fuzzer may revoke sessions) proves nothing: that fails the run.
        if replayed.status_code >= 500 or replayed.status_code in (401, 403):
            return False
    return True


def outage_requests(text: str) -> list[tuple[str, str]] | None:
    """The (method, URL) of each failure when all are body-less 503 `SERVICE_UNAVAILABLE`s.

    Each failure block of the report names its checks, the answers and a `curl`
    line per case; None when any failure is something else.
    """
    report = text.partition("FAILURES")[2].partition("WARNINGS")[0]
    requests: list[tuple[str, str]] = []
    for block in re.split(r"\n_{3,} .+ _{3,}\n", report)[1:]:
        checks = set(re.findall(r"^\s*- (.+)$", block, flags=re.MULTILINE))
        answers = re.findall(r"^\s*\[(\d{3})\]", block, flags=re.MULTILINE)
        curls = re.findall(r"^\s*curl -X (\w+) (.*?)(\S+)$", block, flags=re.MULTILINE)
        if (
            checks != {"ST101 Server error"}
            or set(answers) != {"503"}
            or block.count('"code":"SERVICE_UNAVAILABLE"') != len(answers)
            or len(curls) != len(answers)
            or any(" -d " in options for _, options, _ in curls)
        ):
            return None
        requests += [(method, url) for method, _, url in curls]
    return requests
