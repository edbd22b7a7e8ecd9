"""Competition data files end to end through the gateway (SPEC §10.2).

A sponsor uploads a 200 MB file; a participant downloads it with the same
sha256, whole and by ranges; the process running the gateway (and every other
service of the stack) keeps a flat memory peak, because the bytes stream
between the request and the blob store a chunk at a time.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from podium_runtime.testing import TestInfrastructure

sys.path.insert(0, str(Path(__file__).parent))

from platform_support.memory import heap_growth
from submissions_support.stack import PredictionStack, prediction_stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

SIZE = 200 * 1024 * 1024
#: Peak memory the upload or the download may add to the process (KiB): far below the file.
MEMORY_BOUND_KIB = 48 * 1024


@pytest.fixture(scope="module")
async def stack(
    test_infra: TestInfrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PredictionStack]:
    """One running stack for the whole module."""
    async with prediction_stack(test_infra, tmp_path_factory.mktemp("datasets")) as running:
        yield running


def big_file(path: Path) -> str:
    """Write SIZE pseudo-random bytes a MiB at a time; return their sha256."""
    digest = hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for i in range(SIZE // len(block)):
            chunk = i.to_bytes(8, "big") + block[8:]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


async def test_a_200mb_file_round_trips_in_flat_memory_with_ranges_and_versions(
    stack: PredictionStack, tmp_path: Path
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner, visibility="private")
    cid = competition["id"]
    player, stranger = await stack.sign_up(), await stack.sign_up()
    joined = await stack.join(cid, player, invite_code=competition["invite_code"])
    assert joined["status"] == "accepted"
    path = tmp_path / "train.csv"
    sha = big_file(path)

    with heap_growth() as upload_growth, path.open("rb") as handle:
        made = await stack.http.post(
            f"/v1/competitions/{cid}/files",
            files={"file": ("train.csv", handle, "text/csv")},
            data={"description": "Training rows", "kind": "train"},
            headers=owner.auth,
            timeout=600,
        )
    print(f"upload of {SIZE} bytes: peak memory +{upload_growth.kib} KiB")
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["name"], body["version"], body["size"], body["sha256"]) == (
        "train.csv",
        1,
        SIZE,
        sha,
    )
    assert body["kind"] == "train" and body["description"] == "Training rows"
    assert upload_growth.kib < MEMORY_BOUND_KIB, f"upload grew memory by {upload_growth}"

    listed = await stack.http.get(f"/v1/competitions/{cid}/files", headers=player.auth)
    assert listed.status_code == 200
    assert [(f["name"], f["sha256"]) for f in listed.json()["items"]] == [("train.csv", sha)]

    digest, received = hashlib.sha256(), 0
    with heap_growth() as download_growth:
        async with stack.http.stream(
            "GET", f"/v1/competitions/{cid}/files/train.csv", headers=player.auth, timeout=600
        ) as got:
            assert got.status_code == 200
            assert got.headers["etag"] == f'"{sha}"' and got.headers["accept-ranges"] == "bytes"
            async for chunk in got.aiter_bytes():
                digest.update(chunk)
                received += len(chunk)
    print(f"download of {SIZE} bytes: peak memory +{download_growth.kib} KiB")
    assert (received, digest.hexdigest()) == (SIZE, sha)
    assert download_growth.kib < MEMORY_BOUND_KIB, f"download grew memory by {download_growth}"

    # Ranges: a middle slice, a suffix, and one past the end.
    with path.open("rb") as handle:
        handle.seek(5_000_000)
        middle = handle.read(1000)
        handle.seek(SIZE - 10)
        tail = handle.read()
    part = await stack.http.get(
        f"/v1/competitions/{cid}/files/train.csv",
        headers={**player.auth, "Range": "bytes=5000000-5000999"},
    )
    assert part.status_code == 206 and part.content == middle
    assert part.headers["content-range"] == f"bytes 5000000-5000999/{SIZE}"
    suffix = await stack.http.get(
        f"/v1/competitions/{cid}/files/train.csv", headers={**player.auth, "Range": "bytes=-10"}
    )
    assert suffix.status_code == 206 and suffix.content == tail
    beyond = await stack.http.get(
        f"/v1/competitions/{cid}/files/train.csv",
        headers={**player.auth, "Range": f"bytes={SIZE}-"},
    )
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{SIZE}"

    # Strangers of a private competition learn nothing; participants may not upload.
    for route in ("files", "files/train.csv"):
        hidden = await stack.http.get(f"/v1/competitions/{cid}/{route}", headers=stranger.auth)
        assert hidden.status_code == 404, hidden.text
        anonymous = await stack.http.get(f"/v1/competitions/{cid}/{route}")
        assert anonymous.status_code == 404
    refused = await stack.http.post(
        f"/v1/competitions/{cid}/files",
        files={"file": ("x.csv", b"a,b\n", "text/csv")},
        headers=player.auth,
    )
    assert refused.status_code == 403

    # The same name again is version 2; version 1 stays readable.
    replaced = await stack.http.post(
        f"/v1/competitions/{cid}/files",
        files={"file": ("train.csv", b"id,x\n1,2\n", "text/csv")},
        headers=owner.auth,
    )
    assert replaced.status_code == 201 and replaced.json()["version"] == 2
    latest = await stack.http.get(f"/v1/competitions/{cid}/files/train.csv", headers=player.auth)
    assert latest.content == b"id,x\n1,2\n"
    first = await stack.http.get(
        f"/v1/competitions/{cid}/files/train.csv",
        params={"version": 1},
        headers={**player.auth, "Range": "bytes=-10"},
    )
    assert first.status_code == 206 and first.content == tail
    listed = await stack.http.get(f"/v1/competitions/{cid}/files", headers=player.auth)
    assert [(f["name"], f["version"]) for f in listed.json()["items"]] == [("train.csv", 2)]

    deleted = await stack.http.delete(f"/v1/competitions/{cid}/files/train.csv", headers=owner.auth)
    assert deleted.status_code == 204
    gone = await stack.http.get(f"/v1/competitions/{cid}/files/train.csv", headers=player.auth)
    assert gone.status_code == 404 and gone.json()["code"] == "FILE_NOT_FOUND"

    # A name no upload could have never reaches the competitions service's paths.
    for odd in ("%2E%2E", ".hidden", "a%3Fversion=1", "a%25b", "%C3%A9t%C3%A9.csv"):
        for method in ("GET", "DELETE"):
            answer = await stack.http.request(
                method, f"/v1/competitions/{cid}/files/{odd}", headers=owner.auth
            )
            assert (answer.status_code, answer.json()["code"]) == (404, "FILE_NOT_FOUND"), odd
    # A version no integer column holds is the caller's mistake, not a server error.
    huge = await stack.http.get(
        f"/v1/competitions/{cid}/files/train.csv", params={"version": 2**40}, headers=owner.auth
    )
    assert huge.status_code == 422, huge.text


async def test_public_data_is_open_to_anyone_only_when_the_sponsor_allows(
    stack: PredictionStack,
) -> None:
    owner = await stack.sign_up("Sponsor")
    competition = await stack.prediction_competition(owner)
    cid = competition["id"]
    made = await stack.http.post(
        f"/v1/competitions/{cid}/files",
        files={"file": ("sample.csv", b"id,target\n1,0.5\n", "text/csv")},
        data={"kind": "sample"},
        headers=owner.auth,
    )
    assert made.status_code == 201, made.text
    closed = await stack.http.get(f"/v1/competitions/{cid}/files/sample.csv")
    assert closed.status_code == 403 and closed.json()["code"] == "NOT_ENROLLED"
    opened = await stack.http.patch(
        f"/v1/competitions/{cid}", json={"data_public": True}, headers=owner.auth
    )
    assert opened.status_code == 200 and opened.json()["data_public"] is True
    anonymous = await stack.http.get(f"/v1/competitions/{cid}/files/sample.csv")
    assert anonymous.status_code == 200 and anonymous.content == b"id,target\n1,0.5\n"
