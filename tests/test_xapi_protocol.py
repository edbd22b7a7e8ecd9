"""xAPI statement protocol rules end to end: consistency, HEAD, alternate syntax, signatures,
authority, related filters, About (SPEC §5.4, docs/xapi.md)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from podium_runtime.testing import TestInfrastructure

sys.path.insert(0, str(Path(__file__).parent))

from xapi_support.multipart import multipart, part
from xapi_support.stack import LrsStack, lrs_stack, statement

CONSISTENT = "x-experience-api-consistent-through"
SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs-protocol")) as stack:
        yield stack


@pytest.fixture
async def client(lrs: LrsStack) -> AsyncIterator[httpx.AsyncClient]:
    # 30 s like the stack helpers: a loaded two-core machine can hold a batch POST for seconds.
    async with httpx.AsyncClient(
        base_url=lrs.gateways[0], headers=lrs.headers("all"), timeout=30
    ) as c:
        yield c


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_consistent_through_is_on_every_statement_get(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/xapi/statements"),
        await client.get("/xapi/statements", params={"statementId": str(uuid.uuid4())}),
        await client.get("/xapi/statements", params={"statementId": "nope"}),
        await client.get("/xapi/statements", params={"unknown": "1"}),
        await client.head("/xapi/statements"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 400, 400, 200]
    for answer in answers:
        assert _instant(answer.headers[CONSISTENT]) <= datetime.now(UTC)


async def test_consistent_through_is_truthful_under_load(client: httpx.AsyncClient) -> None:
    """Every statement acknowledged before the header's instant is in the answer."""
    verb = f"http://podium.test/verbs/{uuid.uuid4().hex}"
    acknowledged: list[tuple[str, datetime]] = []
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            batch = [statement(verb=verb) for _ in range(10)]
            response = await client.post("/xapi/statements", json=batch)
            if response.status_code == 503:
                # Not acknowledged (the publish window passed on a busy machine): nothing of
                # the batch counts, and a client retries after `Retry-After`, as this one does.
                await asyncio.sleep(float(response.headers["Retry-After"]))
                continue
            assert response.status_code == 200, response.text
            answered = datetime.now(UTC)
            acknowledged.extend((i, answered) for i in response.json())

    writers = [asyncio.create_task(writer()) for _ in range(4)]
    checked = 0
    try:
        # Generous: the header trails acknowledged statements by the publish window, and
        # each check pages through everything sent so far on a machine that runs other suites.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and checked < 5:
            sent = list(acknowledged)
            page = await client.get("/xapi/statements", params={"verb": verb, "limit": 0})
            assert page.status_code == 200
            through = _instant(page.headers[CONSISTENT])
            seen = {s["id"] for s in page.json()["statements"]}
            more = page.json()["more"]
            while more:
                page = await client.get(more)
                seen |= {s["id"] for s in page.json()["statements"]}
                more = page.json()["more"]
            due = [i for i, answered in sent if answered < through]
            missing = [i for i in due if i not in seen]
            assert not missing, f"{len(missing)} acknowledged before {through} are not visible"
            checked += 1 if due else 0
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert checked >= 3, "the header never moved past acknowledged statements"


async def test_accepted_statement_is_readable_by_id_at_once(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        response = await client.post("/xapi/statements", json=statement())
        (statement_id,) = response.json()
        got = await client.get("/xapi/statements", params={"statementId": statement_id})
        assert got.status_code == 200, got.text
        assert got.json()["id"] == statement_id


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    for path in ("/xapi/statements", "/xapi/about"):
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == 200
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]


async def test_about_lists_versions_and_extensions(client: httpx.AsyncClient) -> None:
    about = (await client.get("/xapi/about")).json()
    assert {"1.0.3", "2.0.0"} <= set(about["version"]) and about["extensions"] == {}


async def test_alternate_request_syntax(lrs: LrsStack, client: httpx.AsyncClient) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statement_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as bare:
        put = await bare.post(
            "/xapi/statements?method=PUT",
            content=httpx.QueryParams(
                {
                    "statementId": statement_id,
                    "content": json.dumps(statement()),
                    "Authorization": lrs.credentials["all"],
                    "X-Experience-API-Version": "1.0.3",
                }
            )
            .__str__()
            .encode(),
            headers=form,
        )
        assert put.status_code == 204, put.text
        got = await bare.post(
            "/xapi/statements?method=GET",
            content=f"statementId={statement_id}".encode(),
            headers={**lrs.headers("all"), **form},
        )
        assert got.status_code == 200 and got.json()["id"] == statement_id
        extra = await bare.post(
            f"/xapi/statements?method=GET&statementId={statement_id}",
            content=b"",
            headers={**lrs.headers("all"), **form},
        )
        not_post = await bare.put(
            "/xapi/statements?method=GET", content=b"", headers={**lrs.headers("all"), **form}
        )
        newer = await bare.post(
            "/xapi/statements?method=GET",
            content=b"limit=1",
            headers={**lrs.headers("all", **{"X-Experience-API-Version": "2.0.0"}), **form},
        )
    assert extra.status_code == 400 and not_post.status_code == 400
    assert newer.status_code == 400


def _signer() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "podium test signer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return key, base64.b64encode(der).decode()


def _signed(
    body: dict[str, Any], key: Any, algorithm: str, x5c: str | None, payload: Any = None
) -> tuple[bytes, dict[str, str]]:
    headers = {"x5c": [x5c]} if x5c else {}
    token = jwt.encode(payload or body, key, algorithm=algorithm, headers=headers).encode()
    signed = {
        **body,
        "attachments": [
            {
                "usageType": SIGNATURE,
                "display": {"en-US": "signature"},
                "contentType": "application/octet-stream",
                "length": len(token),
                "sha2": hashlib.sha256(token).hexdigest(),
            }
        ],
    }
    return multipart(signed, part(token))


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
async def test_signed_statements_are_verified(client: httpx.AsyncClient, algorithm: str) -> None:
    key, certificate = _signer()
    body = {**statement(), "id": str(uuid.uuid4())}
    content, headers = _signed(body, key, algorithm, certificate)
    accepted = await client.post("/xapi/statements", content=content, headers=headers)
    assert accepted.status_code == 200, accepted.text


async def test_bad_signatures_are_400(client: httpx.AsyncClient) -> None:
    key, certificate = _signer()
    other, _ = _signer()
    body = {**statement(), "id": str(uuid.uuid4())}
    cases = {
        "another statement": _signed(body, key, "RS256", certificate, payload=statement()),
        "another key": _signed(body, other, "RS256", certificate),
        "hmac": _signed(body, "a-shared-secret-of-enough-length-000", "HS256", None),
    }
    for name, (content, headers) in cases.items():
        refused = await client.post("/xapi/statements", content=content, headers=headers)
        assert refused.status_code == 400, name
        assert refused.json()["code"] == "XAPI_INVALID_SIGNATURE", name


@pytest.mark.parametrize(
    "authority",
    [
        {"objectType": "Group", "mbox": "mailto:g@podium.test"},
        {"objectType": "Group", "member": [{"mbox": "mailto:a@podium.test"}]},
        {
            "objectType": "Group",
            "member": [{"mbox": f"mailto:{i}@podium.test"} for i in range(3)],
        },
    ],
)
async def test_authority_groups_other_than_oauth_pairs_are_400(
    client: httpx.AsyncClient, authority: dict[str, Any]
) -> None:
    response = await client.post("/xapi/statements", json=statement(authority=authority))
    assert response.status_code == 400, response.text


async def test_oauth_authority_is_accepted(client: httpx.AsyncClient) -> None:
    authority = {
        "objectType": "Group",
        "member": [
            {"account": {"homePage": "http://podium.test/oauth", "name": "app"}},
            {"mbox": "mailto:user@podium.test"},
        ],
    }
    response = await client.post("/xapi/statements", json=statement(authority=authority))
    assert response.status_code == 200, response.text


async def test_related_agents_and_activities(client: httpx.AsyncClient) -> None:
    instructor = {"mbox": f"mailto:{uuid.uuid4().hex[:8]}@podium.test"}
    course = f"http://podium.test/courses/{uuid.uuid4()}"
    body = statement(
        context={"instructor": instructor, "contextActivities": {"parent": [{"id": course}]}}
    )
    (statement_id,) = (await client.post("/xapi/statements", json=body)).json()
    await client.get("/xapi/statements", params={"statementId": statement_id})

    async def ids(**params: str) -> set[str]:
        page = await client.get("/xapi/statements", params=params)
        assert page.status_code == 200, page.text
        return {s["id"] for s in page.json()["statements"]}

    agent = json.dumps(instructor)
    assert statement_id not in await ids(agent=agent)
    assert statement_id in await ids(agent=agent, related_agents="true")
    assert statement_id not in await ids(activity=course)
    assert statement_id in await ids(activity=course, related_activities="true")
    nobody = json.dumps({"mbox": f"mailto:{uuid.uuid4().hex}@podium.test"})
    assert await ids(agent=nobody, related_agents="true") == set()
    nothing = f"http://podium.test/nothing/{uuid.uuid4()}"
    assert await ids(activity=nothing, related_activities="true") == set()


async def test_statements_targeting_a_match_match_too(client: httpx.AsyncClient) -> None:
    """Comm. 2.1.3: a voided statement's voiding and referencing statements still match."""
    verb = f"http://podium.test/verbs/{uuid.uuid4().hex}"
    (voided,) = (await client.post("/xapi/statements", json=statement(verb=verb))).json()
    voiding = statement(
        verb="http://adlnet.gov/expapi/verbs/voided",
        object={"objectType": "StatementRef", "id": voided},
    )
    referencing = statement(verb=verb, object={"objectType": "StatementRef", "id": voided})
    (voiding_id,) = (await client.post("/xapi/statements", json=voiding)).json()
    (referencing_id,) = (await client.post("/xapi/statements", json=referencing)).json()
    for statement_id in (voiding_id, referencing_id):
        await client.get("/xapi/statements", params={"statementId": statement_id})
    page = await client.get("/xapi/statements", params={"verb": verb, "ascending": "true"})
    assert [s["id"] for s in page.json()["statements"]] == [voiding_id, referencing_id]


async def test_durations_compare_to_hundredths_of_a_second(client: httpx.AsyncClient) -> None:
    key, certificate = _signer()
    body = {**statement(result={"duration": "PT36M0.12S"}), "id": str(uuid.uuid4())}
    content, headers = _signed(body, key, "RS256", certificate)
    finer = content.replace(b'"PT36M0.12S"', b'"PT36M0.1237S"', 1)
    assert finer != content
    accepted = await client.post("/xapi/statements", content=finer, headers=headers)
    assert accepted.status_code == 200, accepted.text
    coarser = content.replace(b'"PT36M0.12S"', b'"PT36M0.2S"', 1)
    refused = await client.post("/xapi/statements", content=coarser, headers=headers)
    assert refused.status_code == 400


async def test_statements_sent_in_2_0_0_are_stored_as_2_0_0(client: httpx.AsyncClient) -> None:
    newer = {"X-Experience-API-Version": "2.0.0"}
    (statement_id,) = (
        await client.post("/xapi/statements", json=statement(), headers=newer)
    ).json()
    got = await client.get("/xapi/statements", params={"statementId": statement_id}, headers=newer)
    assert got.headers["x-experience-api-version"] == "2.0.0"
    assert got.json()["version"] == "2.0.0"
    unversioned = await client.get("/xapi/statements", headers={"X-Experience-API-Version": ""})
    assert unversioned.status_code == 400


async def test_a_batch_with_one_invalid_statement_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    good = [{**statement(), "id": str(uuid.uuid4())} for _ in range(3)]
    bad = statement(result={"score": {"scaled": 2}})
    refused = await client.post("/xapi/statements", json=[*good, bad])
    assert refused.status_code == 400 and "[3]" in refused.json()["detail"]
    for sent in good:
        got = await client.get("/xapi/statements", params={"statementId": sent["id"]})
        assert got.status_code == 404


@pytest.mark.parametrize("params", [{"StatementId": str(uuid.uuid4())}, {"verb ": "http://x.y"}])
async def test_unknown_or_wrongly_cased_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get("/xapi/statements", params=params)
    assert response.status_code == 400 and CONSISTENT in response.headers


async def test_a_voiding_statement_cannot_be_voided(client: httpx.AsyncClient) -> None:
    voided_verb = "http://adlnet.gov/expapi/verbs/voided"
    (target,) = (await client.post("/xapi/statements", json=statement())).json()
    (voiding,) = (
        await client.post(
            "/xapi/statements",
            json=statement(verb=voided_verb, object={"objectType": "StatementRef", "id": target}),
        )
    ).json()
    (second,) = (
        await client.post(
            "/xapi/statements",
            json=statement(verb=voided_verb, object={"objectType": "StatementRef", "id": voiding}),
        )
    ).json()
    assert (await client.get("/xapi/statements", params={"statementId": second})).is_success
    still = await client.get("/xapi/statements", params={"statementId": voiding})
    assert still.status_code == 200
    hidden = await client.get("/xapi/statements", params={"statementId": target})
    assert hidden.status_code == 404
    kept = await client.get("/xapi/statements", params={"voidedStatementId": target})
    assert kept.status_code == 200
