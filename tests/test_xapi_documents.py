"""xAPI document resources end to end: State, Activity Profile, Agent Profile (ADR 0026).

gateway -> ingest's internal document API -> Postgres, with real Redis and Kafka
for the statements the Activities resource reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from podium_runtime.testing import TestInfrastructure, eventually

sys.path.insert(0, str(Path(__file__).parent))

from xapi_support.stack import VERSION, LrsStack, create_lrs_client, lrs_stack, statement

STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"
ACTIVITY = "http://podium.test/activities/course-1"


@pytest.fixture(scope="module")
async def lrs(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LrsStack]:
    async with lrs_stack(test_infra, tmp_path_factory.mktemp("lrs-docs")) as stack:
        yield stack


@pytest.fixture
async def client(lrs: LrsStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("documents")) as c:
        yield c


def _agent() -> str:
    return json.dumps(
        {"objectType": "Agent", "mbox": f"mailto:{uuid.uuid4().hex[:10]}@podium.test"}
    )


def _state(**extra: str) -> dict[str, str]:
    return {"activityId": ACTIVITY, "agent": _agent(), "stateId": "bookmark", **extra}


async def test_state_put_then_get_returns_the_document_with_etag(
    client: httpx.AsyncClient,
) -> None:
    params = _state()
    body = b'{"slide": 7, "answers": [1, 2]}'
    put = await client.put(
        STATE, params=params, content=body, headers={"Content-Type": "application/json"}
    )
    assert put.status_code == 204, put.text
    got = await client.get(STATE, params=params)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["etag"] == f'"{hashlib.sha1(body).hexdigest()}"'  # noqa: S324
    assert got.headers["last-modified"].endswith("GMT")
    assert got.headers["x-experience-api-version"] == "1.0.3"
    head = await client.head(STATE, params=params)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]


async def test_binary_documents_keep_their_bytes_and_content_type(
    client: httpx.AsyncClient,
) -> None:
    params = _state()
    body = bytes(range(256)) * 4
    put = await client.put(
        STATE, params=params, content=body, headers={"Content-Type": "image/png"}
    )
    assert put.status_code == 204, put.text
    got = await client.get(STATE, params=params)
    assert got.content == body and got.headers["content-type"] == "image/png"


async def test_post_merges_json_objects_top_level(client: httpx.AsyncClient) -> None:
    params = _state()
    first = await client.post(STATE, params=params, json={"a": 1, "b": {"x": 1}})
    assert first.status_code == 204, first.text
    second = await client.post(STATE, params=params, json={"b": {"y": 2}, "c": 3})
    assert second.status_code == 204, second.text
    got = await client.get(STATE, params=params)
    assert got.json() == {"a": 1, "b": {"y": 2}, "c": 3}


async def test_post_refuses_what_cannot_be_merged(client: httpx.AsyncClient) -> None:
    params = _state()
    not_json = await client.post(
        STATE, params=params, content=b"plain", headers={"Content-Type": "text/plain"}
    )
    assert not_json.status_code == 400
    array = await client.post(STATE, params=params, json=[1, 2])
    assert array.status_code == 400
    await client.put(STATE, params=params, content=b"\x00\x01", headers={"Content-Type": "a/b"})
    onto_binary = await client.post(STATE, params=params, json={"a": 1})
    assert onto_binary.status_code == 400
    assert (await client.get(STATE, params=params)).content == b"\x00\x01"


async def test_state_ids_with_since_and_delete_all(client: httpx.AsyncClient) -> None:
    agent = _agent()
    registration = str(uuid.uuid4())
    owner = {"activityId": ACTIVITY, "agent": agent}
    await client.put(STATE, params={**owner, "stateId": "one"}, json={"n": 1})
    between = datetime.now(UTC).isoformat()
    await client.put(STATE, params={**owner, "stateId": "two"}, json={"n": 2})
    await client.put(
        STATE, params={**owner, "stateId": "three", "registration": registration}, json={"n": 3}
    )
    ids = await client.get(STATE, params=owner)
    assert ids.status_code == 200 and sorted(ids.json()) == ["one", "three", "two"]
    only_registration = await client.get(STATE, params={**owner, "registration": registration})
    assert only_registration.json() == ["three"]
    newer = await client.get(STATE, params={**owner, "since": between})
    assert sorted(newer.json()) == ["three", "two"]
    future = await client.get(STATE, params={**owner, "since": "2999-01-01T00:00:00Z"})
    assert future.json() == []
    # Deleting one registration's states keeps the others.
    gone = await client.delete(STATE, params={**owner, "registration": registration})
    assert gone.status_code == 204
    assert sorted((await client.get(STATE, params=owner)).json()) == ["one", "two"]
    assert (await client.delete(STATE, params=owner)).status_code == 204
    assert (await client.get(STATE, params=owner)).json() == []
    missing = await client.get(STATE, params={**owner, "stateId": "one"})
    assert missing.status_code == 404


async def test_preconditions(client: httpx.AsyncClient) -> None:
    params = {"activityId": ACTIVITY, "profileId": f"p-{uuid.uuid4()}"}
    created = await client.put(
        ACTIVITY_PROFILE, params=params, json={"v": 1}, headers={"If-None-Match": "*"}
    )
    assert created.status_code == 204, created.text
    etag = (await client.get(ACTIVITY_PROFILE, params=params)).headers["etag"]
    again = await client.put(
        ACTIVITY_PROFILE, params=params, json={"v": 2}, headers={"If-None-Match": "*"}
    )
    assert again.status_code == 412
    wrong = await client.put(
        ACTIVITY_PROFILE, params=params, json={"v": 2}, headers={"If-Match": '"0000"'}
    )
    assert wrong.status_code == 412
    # xAPI Communication 3.1: overwriting a profile without a precondition is a 409.
    blind = await client.put(ACTIVITY_PROFILE, params=params, json={"v": 2})
    assert blind.status_code == 409 and blind.json()["detail"]
    assert (await client.get(ACTIVITY_PROFILE, params=params)).json() == {"v": 1}
    right = await client.put(
        ACTIVITY_PROFILE, params=params, json={"v": 3}, headers={"If-Match": etag}
    )
    assert right.status_code == 204
    stale_delete = await client.delete(ACTIVITY_PROFILE, params=params, headers={"If-Match": etag})
    assert stale_delete.status_code == 412
    fresh = (await client.get(ACTIVITY_PROFILE, params=params)).headers["etag"]
    deleted = await client.delete(ACTIVITY_PROFILE, params=params, headers={"If-Match": fresh})
    assert deleted.status_code == 204
    assert (await client.get(ACTIVITY_PROFILE, params=params)).status_code == 404


async def test_state_overwrite_needs_a_precondition_only_in_2_0_0(
    client: httpx.AsyncClient,
) -> None:
    params = _state()
    assert (await client.put(STATE, params=params, json={"v": 1})).status_code == 204
    assert (await client.put(STATE, params=params, json={"v": 2})).status_code == 204
    newer = await client.put(
        STATE, params=params, json={"v": 3}, headers={"X-Experience-API-Version": "2.0.0"}
    )
    assert newer.status_code == 409
    assert (await client.get(STATE, params=params)).json() == {"v": 2}


async def test_two_writers_with_one_etag_exactly_one_wins(client: httpx.AsyncClient) -> None:
    agent = json.dumps({"mbox": f"mailto:{uuid.uuid4().hex[:10]}@podium.test"})
    params = {"agent": agent, "profileId": "preferences"}
    for round_number in range(5):
        etag = (await client.get(AGENT_PROFILE, params=params)).headers.get("etag")
        header = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        answers = await asyncio.gather(
            *(
                client.put(
                    AGENT_PROFILE,
                    params=params,
                    json={"writer": writer, "round": round_number},
                    headers=header,
                )
                for writer in range(4)
            )
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [204, 412, 412, 412], statuses
        winner = answers[[a.status_code for a in answers].index(204)]
        stored = (await client.get(AGENT_PROFILE, params=params)).json()
        assert stored["round"] == round_number
        assert json.loads(winner.request.content) == stored


async def test_concurrent_merges_lose_no_property(client: httpx.AsyncClient) -> None:
    params = _state()
    answers = await asyncio.gather(
        *(client.post(STATE, params=params, json={f"k{i}": i}) for i in range(10))
    )
    assert {a.status_code for a in answers} == {204}
    assert (await client.get(STATE, params=params)).json() == {f"k{i}": i for i in range(10)}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"activityId": ACTIVITY, "agent": "not json", "stateId": "s"}, "XAPI_INVALID_AGENT"),
        ({"activityId": ACTIVITY, "agent": '{"name": "x"}', "stateId": "s"}, "XAPI_INVALID_AGENT"),
        (_state(registration="not-a-uuid"), "VALIDATION_ERROR"),
        ({"agent": _agent(), "stateId": "s"}, "VALIDATION_ERROR"),
        ({**_state(), "StateId": "s"}, "VALIDATION_ERROR"),
        ({"activityId": "not an iri", "agent": _agent(), "stateId": "s"}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_state_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    response = await client.put(STATE, params=params, json={"a": 1})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code


async def test_bad_since_is_400(client: httpx.AsyncClient) -> None:
    params = {"activityId": ACTIVITY, "agent": _agent(), "since": "yesterday"}
    assert (await client.get(STATE, params=params)).status_code == 400


async def test_agent_profile_round_trip_and_ids(client: httpx.AsyncClient) -> None:
    agent = _agent()
    blind = await client.put(AGENT_PROFILE, params={"agent": agent, "profileId": "a"}, content=b"x")
    # xAPI 1.0.3 Communication 2.6: a profile PUT names what it replaces, even nothing.
    assert blind.status_code == 400 and blind.json()["code"] == "PRECONDITION_REQUIRED"
    put = await client.put(
        AGENT_PROFILE,
        params={"agent": agent, "profileId": "a"},
        content=b"x",
        headers={"If-None-Match": "*"},
    )
    assert put.status_code == 204
    await client.post(AGENT_PROFILE, params={"agent": agent, "profileId": "b"}, json={"k": 1})
    ids = await client.get(AGENT_PROFILE, params={"agent": agent})
    assert sorted(ids.json()) == ["a", "b"]
    got = await client.get(AGENT_PROFILE, params={"agent": agent, "profileId": "a"})
    assert got.content == b"x" and got.headers["content-type"] == "application/octet-stream"


async def test_scopes_are_enforced_per_resource(lrs: LrsStack) -> None:
    async with httpx.AsyncClient(base_url=lrs.gateways[0]) as c:
        statements_only = await c.put(
            STATE, params=_state(), json={"a": 1}, headers=lrs.headers("writer")
        )
        everything = await c.put(STATE, params=_state(), json={"a": 1}, headers=lrs.headers("all"))
        reader = await c.get(
            AGENT_PROFILE, params={"agent": _agent()}, headers=lrs.headers("reader")
        )
    assert statements_only.status_code == 403
    assert everything.status_code == 204
    assert reader.status_code == 403


async def test_agents_resource_returns_a_person(client: httpx.AsyncClient) -> None:
    agent = {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@podium.test"}
    got = await client.get("/xapi/agents", params={"agent": json.dumps(agent)})
    assert got.status_code == 200
    assert got.json() == {
        "objectType": "Person",
        "name": ["Ada"],
        "mbox": ["mailto:ada@podium.test"],
    }
    bad = await client.get("/xapi/agents", params={"agent": "{}"})
    assert bad.status_code == 400


async def test_activities_resource_merges_definitions(lrs: LrsStack) -> None:
    activity = f"http://podium.test/activities/{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("all")) as c:
        for language, name in (("en-US", "Lesson"), ("fr-FR", "Leçon")):
            body = statement(activity=activity)
            body["object"]["definition"] = {"name": {language: name}}
            assert (await c.post("/xapi/statements", json=body)).status_code == 200

        async def merged() -> dict[str, object] | None:
            got = (await c.get("/xapi/activities", params={"activityId": activity})).json()
            names = got.get("definition", {}).get("name", {})
            return got if len(names) == 2 else None

        found = await eventually(merged, message="both definitions merged")
        unknown = await c.get("/xapi/activities", params={"activityId": "http://podium.test/x"})
    assert found == {
        "objectType": "Activity",
        "id": activity,
        "definition": {"name": {"en-US": "Lesson", "fr-FR": "Leçon"}},
    }
    assert unknown.json() == {"objectType": "Activity", "id": "http://podium.test/x"}


async def test_rate_limit_is_configurable_per_client(lrs: LrsStack) -> None:
    client_id, basic = await create_lrs_client(
        lrs.gateways[0], lrs.admin_token, "small-tool", ["state"]
    )
    lrs.gateway_settings[0].rate_limit_lrs_clients = {client_id: 3}
    headers = {"Authorization": basic, **VERSION}
    try:
        async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=headers) as c:
            answers = [(await c.get(STATE, params=_state())).status_code for _ in range(5)]
            refused = await c.get(STATE, params=_state())
    finally:
        lrs.gateway_settings[0].rate_limit_lrs_clients = {}
    assert answers == [404, 404, 404, 429, 429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-experience-api-version"] == "1.0.3"


async def test_admin_erases_a_learner(lrs: LrsStack, client: httpx.AsyncClient) -> None:
    learner = {"mbox": f"mailto:{uuid.uuid4().hex[:10]}@podium.test"}
    async with httpx.AsyncClient(base_url=lrs.gateways[0], headers=lrs.headers("all")) as c:
        posted = await c.post("/xapi/statements", json=[statement(actor=learner)] * 1)
        (statement_id,) = posted.json()
        assert (await c.get("/xapi/statements", params={"statementId": statement_id})).is_success
        params = {"activityId": ACTIVITY, "agent": json.dumps(learner), "stateId": "s"}
        assert (await c.put(STATE, params=params, json={"a": 1})).status_code == 204
        admin = {"Authorization": f"Bearer {lrs.admin_token}"}
        refused = await c.post(
            "/v1/admin/xapi/erasures", json={"agent": learner}, headers={"Authorization": ""}
        )
        erased = await c.post("/v1/admin/xapi/erasures", json={"agent": learner}, headers=admin)
        bad = await c.post("/v1/admin/xapi/erasures", json={"agent": {"name": "x"}}, headers=admin)
        gone = await c.get("/xapi/statements", params={"statementId": statement_id})
        state = await c.get(STATE, params=params)
    assert refused.status_code == 401
    assert erased.status_code == 200 and erased.json() == {"statements": 1, "documents": 1}
    assert bad.status_code == 400
    assert gone.status_code == 404 and state.status_code == 404
