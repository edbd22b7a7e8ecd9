"""Statement attachments as multipart/mixed, in and out (xAPI Data 2.4.11, Comm. 1.5.2)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure, eventually
from xapi_support.multipart import multipart as _multipart
from xapi_support.multipart import part as _part
from xapi_support.stack import LrsStack, lrs_stack, statement

USAGE = "http://podium.test/attachments/certificate"
# Binary content that looks like multipart syntax: CRLFs, dashes, a NUL, non-UTF-8 octets.
PHOTO = b"\x89PNG\r\n\x1a\n\x00\xff--not-a-boundary\r\n\r\n--\r\n" + bytes(range(256))
NOTE = "Zertifikat für Übung 3 ✓".encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _attachment(data: bytes, content_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "usageType": USAGE,
        "display": {"en-US": "a file"},
        "contentType": content_type,
        "length": len(data),
        "sha2": _sha256(data),
        **extra,
    }


def _read_multipart(response: httpx.Response) -> tuple[Any, dict[str, bytes]]:
    """Parse a multipart/mixed answer with the standard library's MIME parser."""
    head = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + response.content)
    first, *rest = message.iter_parts()
    assert first.get_content_type() == "application/json"
    document = json.loads(first.get_payload(decode=True))
    parts = {}
    for part in rest:
        assert part["Content-Transfer-Encoding"] == "binary"
        parts[part["X-Experience-API-Hash"]] = part.get_payload(decode=True)
    return document, parts


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("attachments")) as stack:
        yield stack


@pytest.fixture
async def client(lrs: LrsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as c:
        yield c


async def _stored(client: httpx.AsyncClient, statement_id: str) -> httpx.Response:
    async def found() -> httpx.Response | None:
        got = await client.get(
            "/xapi/statements", params={"statementId": statement_id, "attachments": "true"}
        )
        return got if got.status_code == 200 else None

    return await eventually(found, message=f"statement {statement_id} readable")


async def test_attachments_round_trip_through_the_blob_store(client: httpx.AsyncClient) -> None:
    activity = f"http://podium.test/activities/{uuid.uuid4().hex}"
    photo = _attachment(PHOTO, "image/png")
    note = _attachment(NOTE, "text/plain; charset=utf-8")
    linked = _attachment(b"elsewhere", "text/plain", fileUrl="http://files.podium.test/e.txt")
    first = statement(activity=activity, attachments=[photo, note])
    # The same photo in a second statement travels once (Comm. 1.5.2 SHOULD).
    second = statement(activity=activity, attachments=[photo, linked])
    body, headers = _multipart([first, second], _part(PHOTO, "image/png"), _part(NOTE))
    posted = await client.post("/xapi/statements", content=body, headers=headers)
    assert posted.status_code == 200, posted.text
    first_id, second_id = posted.json()

    one = await _stored(client, first_id)
    assert one.headers["content-type"].startswith("multipart/mixed")
    document, parts = _read_multipart(one)
    assert document["id"] == first_id
    assert document["attachments"] == [photo, note]
    assert parts == {photo["sha2"]: PHOTO, note["sha2"]: NOTE}

    await _stored(client, second_id)
    listed = await client.get(
        "/xapi/statements", params={"activity": activity, "attachments": "true"}
    )
    assert listed.status_code == 200, listed.text
    result, parts = _read_multipart(listed)
    assert {s["id"] for s in result["statements"]} == {first_id, second_id}
    # Each content once; the fileUrl attachment has no part.
    assert parts == {photo["sha2"]: PHOTO, note["sha2"]: NOTE}

    plain = await client.get("/xapi/statements", params={"statementId": second_id})
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["attachments"] == [photo, linked]


async def test_put_with_an_attachment_part(client: httpx.AsyncClient) -> None:
    statement_id = str(uuid.uuid4())
    sent = statement(attachments=[_attachment(NOTE, "text/plain")])
    body, headers = _multipart(sent, _part(NOTE, "text/plain"))
    put = await client.put(
        "/xapi/statements", params={"statementId": statement_id}, content=body, headers=headers
    )
    assert put.status_code == 204, put.text
    _, parts = _read_multipart(await _stored(client, statement_id))
    assert parts == {_sha256(NOTE): NOTE}


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_hash", "does not match its X-Experience-API-Hash"),
        ("no_hash_header", "no X-Experience-API-Hash"),
        ("base64", "must be binary"),
        ("missing_part", "no fileUrl and no part"),
        ("extra_part", "belong to no attachment"),
        ("first_part_not_json", "application/json"),
    ],
)
async def test_attachment_parts_that_break_the_rules_are_refused(
    client: httpx.AsyncClient, case: str, reason: str
) -> None:
    attachment = _attachment(PHOTO, "image/png")
    sent = statement(attachments=[attachment])
    data, part_headers = _part(PHOTO, "image/png")
    parts = [(data, part_headers)]
    if case == "wrong_hash":
        parts = [(data + b"!", part_headers)]
    elif case == "no_hash_header":
        parts = [(data, _without(part_headers, "X-Experience-API-Hash"))]
    elif case == "base64":
        parts = [(data, {**part_headers, "Content-Transfer-Encoding": "base64"})]
    elif case == "missing_part":
        parts = []
    elif case == "extra_part":
        parts.append(_part(NOTE))
    body, headers = _multipart(sent, *parts)
    if case == "first_part_not_json":
        body = body.replace(b"Content-Type:application/json", b"Content-Type:text/plain", 1)
    response = await client.post("/xapi/statements", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert response.headers["x-experience-api-version"] == "1.0.3"


async def test_the_hash_identifies_a_part_whatever_length_is_declared(
    client: httpx.AsyncClient,
) -> None:
    sent = statement(attachments=[{**_attachment(PHOTO, "image/png"), "length": len(PHOTO) + 1}])
    body, headers = _multipart(sent, _part(PHOTO, "image/png"))
    response = await client.post("/xapi/statements", content=body, headers=headers)
    assert response.status_code == 200, response.text
