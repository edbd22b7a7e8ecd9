"""The xAPI statements resource end to end: gateway -> Kafka -> ingest -> gateway (SPEC §5.4)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from podium_contracts.statement_index import statement_index_key
from podium_runtime.testing import TestInfrastructure, eventually
from xapi_support.stack import VERSION, LrsStack, lrs_stack, statement

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs")) as stack:
        yield stack


@pytest.fixture
async def client(lrs: LrsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers()) as c:
        yield c


async def _readable(client: httpx.AsyncClient, *ids: str) -> None:
    async def all_there() -> bool:
        for statement_id in ids:
            got = await client.get("/xapi/statements", params={"statementId": statement_id})
            if got.status_code != 200:
                return False
        return True

    await eventually(all_there, message=f"statements {ids} readable")


async def _query(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/xapi/statements", params=params)
    assert response.status_code == 200, response.text
    return response.json()["statements"]  # type: ignore[no-any-return]


async def test_posted_statement_is_stored_with_lrs_properties(client: httpx.AsyncClient) -> None:
    sent = statement(
        result={"score": {"scaled": 0.75, "raw": 75, "min": 0, "max": 100}, "success": True},
        context={"contextActivities": {"parent": {"id": "http://podium.test/course"}}},
        timestamp="2024-03-01T10:00:00+02:00",
    )
    response = await client.post("/xapi/statements", json=sent)
    assert response.status_code == 200, response.text
    assert response.headers["x-experience-api-version"] == "1.0.3"
    (statement_id,) = response.json()
    assert uuid.UUID(statement_id).version == 4
    await _readable(client, statement_id)
    got = await client.get("/xapi/statements", params={"statementId": statement_id})
    stored = got.json()
    assert stored["id"] == statement_id
    assert stored["actor"] == sent["actor"] and stored["result"] == sent["result"]
    assert stored["timestamp"] == sent["timestamp"]
    assert stored["version"] == "1.0.0"
    assert stored["authority"]["objectType"] == "Agent"
    assert stored["authority"]["name"] == "tool"
    # xAPI Data 2.4.6.2: a single context activity comes back as an array.
    assert stored["context"]["contextActivities"]["parent"] == [{"id": "http://podium.test/course"}]
    assert got.headers["x-experience-api-version"] == "1.0.3"
    assert got.headers["last-modified"].endswith("GMT")
    assert "x-experience-api-consistent-through" in got.headers


async def test_version_header_is_required_and_checked(lrs: LrsStack) -> None:
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as c:
        auth = {"Authorization": lrs.credentials["writer"]}
        missing = await c.post("/xapi/statements", json=statement(), headers=auth)
        wrong = await c.post(
            "/xapi/statements",
            json=statement(),
            headers={**auth, "X-Experience-API-Version": "0.95"},
        )
        newer = await c.post(
            "/xapi/statements",
            json=statement(),
            headers={**auth, "X-Experience-API-Version": "2.0.0"},
        )
        anonymous = await c.get("/xapi/statements", headers=VERSION)
    assert missing.status_code == 400 and "X-Experience-API-Version" in missing.json()["detail"]
    assert wrong.status_code == 400 and "0.95" in wrong.json()["detail"]
    assert missing.headers["x-experience-api-version"] == "1.0.3"
    assert newer.status_code == 200
    assert newer.headers["x-experience-api-version"] == "2.0.0"
    assert anonymous.status_code == 401
    assert anonymous.headers["x-experience-api-version"] == "1.0.3"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**statement(), "unknown": 1}, "unknown property"),
        (statement(actor={"name": "nobody"}), "exactly one inverse functional identifier"),
        (statement(result={"score": {"scaled": 1.5}}), "less than or equal to 1"),
        (statement(result={"duration": "90 minutes"}), "ISO 8601 duration"),
        (statement(verb="not an iri"), "not an IRI"),
    ],
)
async def test_invalid_statements_are_rejected_with_400_and_a_reason(
    client: httpx.AsyncClient, body: dict[str, Any], reason: str
) -> None:
    response = await client.post("/xapi/statements", json=body)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]


async def test_wrong_content_type_and_malformed_json_are_400(client: httpx.AsyncClient) -> None:
    text = await client.post(
        "/xapi/statements", content=json.dumps(statement()), headers={"Content-Type": "text/plain"}
    )
    broken = await client.post(
        "/xapi/statements", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert text.status_code == 400 and "application/json" in text.json()["detail"]
    assert broken.status_code == 400 and broken.json()["code"] == "XAPI_MALFORMED_JSON"


async def test_put_same_content_is_a_no_op_and_different_content_conflicts(
    client: httpx.AsyncClient,
) -> None:
    statement_id = str(uuid.uuid4())
    first = statement(timestamp="2024-05-01T12:00:00Z")
    put = await client.put("/xapi/statements", params={"statementId": statement_id}, json=first)
    assert put.status_code == 204, put.text
    # Equivalent: other key order, verb display and timestamp serialisation differ (Data 2.3.1).
    again = {
        "timestamp": "2024-05-01T14:00:00.000+02:00",
        "object": first["object"],
        "verb": {"id": first["verb"]["id"], "display": {"fr-FR": "terminé"}},
        "actor": first["actor"],
    }
    same = await client.put("/xapi/statements", params={"statementId": statement_id}, json=again)
    assert same.status_code == 204, same.text
    posted = await client.post("/xapi/statements", json={**again, "id": statement_id})
    assert posted.status_code == 200 and posted.json() == [statement_id]
    other = await client.put(
        "/xapi/statements",
        params={"statementId": statement_id},
        json={**first, "result": {"success": False}},
    )
    assert other.status_code == 409
    assert other.json()["code"] == "XAPI_STATEMENT_CONFLICT"
    await _readable(client, statement_id)
    stored = (await client.get("/xapi/statements", params={"statementId": statement_id})).json()
    assert "result" not in stored and stored["timestamp"] == first["timestamp"]


async def test_duplicate_id_inside_a_batch_is_400_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    statement_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    batch = [statement(id=other_id), statement(id=statement_id), statement(id=statement_id)]
    response = await client.post("/xapi/statements", json=batch)
    assert response.status_code == 400
    assert statement_id in response.json()["detail"]
    # The rejected batch claimed nothing: the same id is free for a new statement.
    retry = await client.post("/xapi/statements", json=[statement(id=other_id)])
    assert retry.status_code == 200


async def test_conflict_is_detected_from_the_store_when_the_claim_is_gone(
    test_infra: TestInfrastructure, client: httpx.AsyncClient
) -> None:
    statement_id = str(uuid.uuid4())
    sent = statement(id=statement_id)
    assert (await client.post("/xapi/statements", json=sent)).status_code == 200
    await _readable(client, statement_id)
    # Redis evicted the claim: ingest's store must still decide (docs/adr/0004).
    r = redis.from_url(test_infra.infra.redis_url)
    async for key in r.scan_iter(match=f"*xapi:claim:{statement_id}"):
        await r.delete(key)
    await r.aclose()
    changed = await client.post("/xapi/statements", json={**sent, "result": {"completion": True}})
    same = await client.post("/xapi/statements", json=sent)
    assert changed.status_code == 409
    assert same.status_code == 200


async def test_conflict_is_detected_from_the_store_when_claim_and_index_are_gone(
    test_infra: TestInfrastructure, lrs: LrsStack, client: httpx.AsyncClient
) -> None:
    statement_id = str(uuid.uuid4())
    sent = statement(id=statement_id)
    assert (await client.post("/xapi/statements", json=sent)).status_code == 200
    await _readable(client, statement_id)
    # A flushed Redis lost the claim and the stored-ids index (docs/adr/0059): with no
    # index nothing is ruled out, so the store decides.
    prefix = lrs.gateway_settings[0].redis_key_prefix
    r = redis.from_url(test_infra.infra.redis_url)
    await r.delete(f"{prefix}xapi:claim:{statement_id}", statement_index_key(prefix))
    await r.aclose()
    changed = await client.post("/xapi/statements", json={**sent, "result": {"completion": True}})
    same = await client.post("/xapi/statements", json=sent)
    assert changed.status_code == 409
    assert same.status_code == 200


async def test_every_filter_selects_the_matching_statements(client: httpx.AsyncClient) -> None:
    run = uuid.uuid4().hex[:8]
    alice = {"account": {"homePage": "http://podium.test", "name": f"alice-{run}"}}
    bob = {"mbox": f"mailto:bob-{run}@podium.test"}
    lesson = f"http://podium.test/{run}/lesson"
    quiz = f"http://podium.test/{run}/quiz"
    registration = str(uuid.uuid4())
    answered = "http://adlnet.gov/expapi/verbs/answered"
    sent = [
        statement(actor=alice, activity=lesson),
        statement(actor=alice, activity=quiz, verb=answered),
        statement(actor=bob, activity=quiz, context={"registration": registration}),
        statement(actor=bob, verb="http://adlnet.gov/expapi/verbs/mentored", activity=lesson)
        | {"object": {"objectType": "Agent", **alice}},
    ]
    # One request each: statements of one request share their `stored` instant.
    ids = [(await client.post("/xapi/statements", json=[s])).json()[0] for s in sent]
    await _readable(client, *ids)

    def of(found: list[dict[str, Any]]) -> set[str]:
        return {s["id"] for s in found}

    assert of(await _query(client, agent=json.dumps(alice))) == {ids[0], ids[1], ids[3]}
    assert of(await _query(client, agent=json.dumps(bob))) == {ids[2], ids[3]}
    assert of(await _query(client, agent=json.dumps(bob), verb=answered)) == set()
    assert of(await _query(client, verb=answered, activity=quiz)) == {ids[1]}
    assert of(await _query(client, activity=quiz)) == {ids[1], ids[2]}
    assert of(await _query(client, registration=registration)) == {ids[2]}
    everything = await _query(client, agent=json.dumps(alice), ascending="true")
    assert [s["id"] for s in everything] == [ids[0], ids[1], ids[3]]
    newest_first = await _query(client, agent=json.dumps(alice))
    assert [s["id"] for s in newest_first] == [ids[3], ids[1], ids[0]]
    cut = everything[0]["stored"]
    assert of(await _query(client, agent=json.dumps(alice), since=cut)) == {ids[1], ids[3]}
    assert of(await _query(client, agent=json.dumps(alice), until=cut)) == {ids[0]}
    bad = await client.get("/xapi/statements", params={"agent": '{"name": "x"}'})
    assert bad.status_code == 400
    unknown = await client.get("/xapi/statements", params={"colour": "red"})
    assert unknown.status_code == 400


async def test_format_ids_keeps_only_identifiers(client: httpx.AsyncClient) -> None:
    sent = statement(
        actor={"mbox": f"mailto:{uuid.uuid4().hex}@podium.test", "name": "Ann"},
        object={
            "id": f"http://podium.test/{uuid.uuid4().hex}",
            "definition": {"name": {"en-US": "Lesson"}},
        },
    )
    (statement_id,) = (await client.post("/xapi/statements", json=sent)).json()
    await _readable(client, statement_id)
    by_id = await client.get(
        "/xapi/statements", params={"statementId": statement_id, "format": "ids"}
    )
    shaped = by_id.json()
    assert shaped["actor"] == {"mbox": sent["actor"]["mbox"]}
    assert shaped["verb"] == {"id": sent["verb"]["id"]}
    assert shaped["object"] == {"id": sent["object"]["id"]}
    listed = await _query(client, activity=sent["object"]["id"], format="ids")
    assert listed == [shaped]
    exact = await _query(client, activity=sent["object"]["id"], format="exact")
    assert exact[0]["object"]["definition"] == {"name": {"en-US": "Lesson"}}


async def test_more_pages_through_250_statements_with_limit_100(client: httpx.AsyncClient) -> None:
    activity = f"http://podium.test/{uuid.uuid4().hex}/paged"
    ids: list[str] = []
    for _ in range(5):
        batch = [statement(activity=activity) for _ in range(50)]
        response = await client.post("/xapi/statements", json=batch)
        assert response.status_code == 200
        ids += response.json()

    async def all_stored() -> bool:
        return len(await _query(client, activity=activity, limit=0)) == 250

    await eventually(all_stored, timeout=30, message="250 statements stored")
    seen: list[str] = []
    pages = 0
    url: str = f"/xapi/statements?activity={activity}&limit=100"
    while url:
        response = await client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        assert len(body["statements"]) <= 100
        seen += [s["id"] for s in body["statements"]]
        url = body["more"]
        assert not url or url.startswith("/xapi/statements?")
    assert pages == 3
    assert len(seen) == len(set(seen)) == 250
    assert set(seen) == set(ids)


async def test_voiding_hides_the_target_and_keeps_it_by_voided_id(
    client: httpx.AsyncClient,
) -> None:
    activity = f"http://podium.test/{uuid.uuid4().hex}/voided"
    (target,) = (await client.post("/xapi/statements", json=statement(activity=activity))).json()
    await _readable(client, target)
    voiding = statement(verb=VOIDED) | {"object": {"objectType": "StatementRef", "id": target}}
    (voiding_id,) = (await client.post("/xapi/statements", json=voiding)).json()

    # Read-your-writes: right after the voiding's 200, whether or not ingest stored it yet.
    hidden = await client.get("/xapi/statements", params={"statementId": target})
    assert hidden.status_code == 404, hidden.text
    by_voided = await client.get("/xapi/statements", params={"voidedStatementId": target})
    assert by_voided.status_code == 200 and by_voided.json()["id"] == target
    # Comm. 2.1.3: the voiding statement still matches through the statement it targets.
    assert [s["id"] for s in await _query(client, activity=activity)] == [voiding_id]
    voidings = await _query(client, verb=VOIDED)
    assert voiding_id in {s["id"] for s in voidings}
    not_voided = await client.get("/xapi/statements", params={"voidedStatementId": voiding_id})
    assert not_voided.status_code == 404
    # A voiding statement needs a StatementRef object (Data 2.3.2).
    bad = await client.post("/xapi/statements", json=statement(verb=VOIDED))
    assert bad.status_code == 400


async def test_read_mine_sees_only_its_own_statements(lrs: LrsStack) -> None:
    activity = f"http://podium.test/{uuid.uuid4().hex}/mine"
    async with (
        httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("mine")) as mine,
        httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("writer")) as other,
        httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("reader")) as reader,
    ):
        (own,) = (await mine.post("/xapi/statements", json=statement(activity=activity))).json()
        (foreign,) = (
            await other.post("/xapi/statements", json=statement(activity=activity))
        ).json()
        await _readable(reader, own, foreign)
        assert {s["id"] for s in await _query(mine, activity=activity)} == {own}
        hidden = await mine.get("/xapi/statements", params={"statementId": foreign})
        assert hidden.status_code == 404
        assert {s["id"] for s in await _query(reader, activity=activity)} == {own, foreign}
        refused = await reader.post("/xapi/statements", json=statement())
        assert refused.status_code == 403


EXAMPLES = Path(__file__).parent / "xapi_examples"


async def test_spec_examples_round_trip_and_invalid_shapes_get_400(
    client: httpx.AsyncClient,
) -> None:
    from podium_gateway.xapi.domain import equivalent

    sent: dict[str, dict[str, Any]] = {}
    for path in sorted((EXAMPLES / "valid").glob("*.json")):
        body = json.loads(path.read_text())
        body["id"] = str(uuid.uuid4())  # fresh ids: examples may be posted by other tests too
        if path.stem == "long_example":
            body["context"]["statement"]["id"] = str(uuid.uuid4())
        response = await client.post("/xapi/statements", json=body)
        assert response.status_code == 200, (path.stem, response.text)
        sent[body["id"]] = body
    await _readable(client, *sent)
    for statement_id, body in sent.items():
        got = await client.get("/xapi/statements", params={"statementId": statement_id})
        assert equivalent(body, got.json()), statement_id
    for path in sorted((EXAMPLES / "invalid").glob("*.json")):
        response = await client.post(
            "/xapi/statements",
            content=path.read_bytes(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path.stem, response.text)
        assert response.json()["detail"], path.stem
