"""One behavioural suite for every blob store backend (STYLE 11): local directory and S3.

S3 runs against a real S3 HTTP server (moto's threaded server on 127.0.0.1),
so requests go through boto3 and the network exactly as in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from podium_runtime.blobs import (
    BlobIntegrityError,
    BlobNotFoundError,
    BlobSettings,
    BlobStore,
    InvalidBlobKeyError,
    LocalBlobStore,
    S3BlobStore,
    create_blob_store,
)
from podium_runtime.ports import free_port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server for this module."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _s3_settings(endpoint: str, bucket: str) -> BlobSettings:
    return BlobSettings(
        backend="s3",
        s3_endpoint_url=endpoint,
        s3_bucket=bucket,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_endpoint: str
) -> AsyncIterator[BlobStore]:
    """Every backend, built from settings the way services build it."""
    if request.param == "local":
        blob_store = create_blob_store(BlobSettings(backend="local", dir=tmp_path / "blobs"))
    else:
        blob_store = create_blob_store(_s3_settings(s3_endpoint, f"b-{uuid.uuid4().hex[:12]}"))
        assert isinstance(blob_store, S3BlobStore)
        await blob_store.ensure_bucket()
    try:
        yield blob_store
    finally:
        await blob_store.close()


async def test_put_returns_reference_and_get_returns_the_same_bytes(store: BlobStore) -> None:
    data = b"id,target\r\n1,0.5\r\n" + os.urandom(1000)
    ref = await store.put("submissions/c1/s1.csv", data)
    assert ref.key == "submissions/c1/s1.csv"
    assert ref.size == len(data)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert await store.get("submissions/c1/s1.csv") == data
    assert await store.exists("submissions/c1/s1.csv")


async def test_large_binary_blob_round_trips(store: BlobStore) -> None:
    data = os.urandom(6 * 1024 * 1024)
    ref = await store.put("big/file.bin", data)
    assert await store.get_verified("big/file.bin", ref.sha256) == data


async def test_empty_blob_is_a_blob(store: BlobStore) -> None:
    ref = await store.put("empty.csv", b"")
    assert ref.size == 0
    assert await store.exists("empty.csv")
    assert await store.get("empty.csv") == b""


async def test_put_replaces_previous_content(store: BlobStore) -> None:
    await store.put("answer-keys/c1.csv", b"old")
    ref = await store.put("answer-keys/c1.csv", b"new content")
    assert await store.get("answer-keys/c1.csv") == b"new content"
    assert ref.sha256 == hashlib.sha256(b"new content").hexdigest()


async def test_missing_blob_is_reported_as_not_found(store: BlobStore) -> None:
    assert not await store.exists("nowhere/x.csv")
    with pytest.raises(BlobNotFoundError):
        await store.get("nowhere/x.csv")


async def test_delete_removes_and_is_idempotent(store: BlobStore) -> None:
    await store.put("gone.csv", b"x")
    await store.delete("gone.csv")
    assert not await store.exists("gone.csv")
    with pytest.raises(BlobNotFoundError):
        await store.get("gone.csv")
    await store.delete("gone.csv")  # a second delete is not an error


async def test_verified_get_detects_a_wrong_digest(store: BlobStore) -> None:
    await store.put("tampered.csv", b"id,target\n1,1\n")
    with pytest.raises(BlobIntegrityError):
        await store.get_verified("tampered.csv", hashlib.sha256(b"other").hexdigest())


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../escape.csv",
        "a/../../escape.csv",
        "/etc/passwd",
        "a//b",
        "a/./b",
        ".hidden",
        "a\\..\\b",
        "nul\x00byte",
        "x" * 600,
    ],
)
async def test_unsafe_keys_are_rejected_by_every_operation(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKeyError):
        await store.put(key, b"x")
    with pytest.raises(InvalidBlobKeyError):
        await store.get(key)
    with pytest.raises(InvalidBlobKeyError):
        await store.exists(key)
    with pytest.raises(InvalidBlobKeyError):
        await store.delete(key)


async def test_concurrent_writers_leave_one_complete_blob(store: BlobStore) -> None:
    contents = [bytes([i]) * 200_000 for i in range(8)]
    await asyncio.gather(*(store.put("race.bin", c) for c in contents))
    assert await store.get("race.bin") in contents


# --- backend-specific guarantees ------------------------------------------------------


async def test_local_store_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    for i in range(5):
        await store.put("k/a.csv", str(i).encode())
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["a.csv"]


async def test_local_store_refuses_a_symlink_out_of_its_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root = tmp_path / "blobs"
    root.mkdir()
    (root / "link").symlink_to(outside)
    store = LocalBlobStore(root)
    with pytest.raises(InvalidBlobKeyError):
        await store.get("link/secret.txt")
    with pytest.raises(InvalidBlobKeyError):
        await store.put("link/planted.txt", b"x")
    assert not (outside / "planted.txt").exists()


async def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_endpoint: str
) -> None:
    monkeypatch.setenv("PODIUM_BLOB_BACKEND", "local")
    monkeypatch.setenv("PODIUM_BLOB_DIR", str(tmp_path / "env-blobs"))
    local = create_blob_store()
    assert isinstance(local, LocalBlobStore)
    await local.put("a.csv", b"1")
    assert (tmp_path / "env-blobs" / "a.csv").read_bytes() == b"1"

    bucket = f"env-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PODIUM_BLOB_BACKEND", "s3")
    monkeypatch.setenv("PODIUM_BLOB_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("PODIUM_BLOB_S3_BUCKET", bucket)
    monkeypatch.setenv("PODIUM_BLOB_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("PODIUM_BLOB_S3_SECRET_ACCESS_KEY", "dev-only-secret")
    monkeypatch.setenv("PODIUM_BLOB_S3_KEY_PREFIX", "tenant-a/")
    remote = create_blob_store()
    assert isinstance(remote, S3BlobStore)
    assert "dev-only-secret" not in repr(remote.settings)  # the secret is never printed
    await remote.ensure_bucket()
    await remote.put("a.csv", b"2")
    assert await remote.get("a.csv") == b"2"
    await remote.close()


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def test_streams_in_and_out_in_parts_with_ranges(store: BlobStore) -> None:
    # Over two S3 multipart parts, sent in uneven chunks.
    data = os.urandom(17 * 1024 * 1024 + 123)
    ref = await store.put_stream("datasets/c1/train/1", _chunks(data, 3 * 1024 * 1024 + 7))
    assert (ref.size, ref.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert await store.size("datasets/c1/train/1") == len(data)
    whole = b"".join([c async for c in store.iter_range("datasets/c1/train/1")])
    assert whole == data
    middle = b"".join(
        [c async for c in store.iter_range("datasets/c1/train/1", 1000, 5 * 1024 * 1024)]
    )
    assert middle == data[1000 : 5 * 1024 * 1024 + 1]
    tail = b"".join([c async for c in store.iter_range("datasets/c1/train/1", len(data) - 10)])
    assert tail == data[-10:]
    with pytest.raises(BlobNotFoundError):
        await store.size("datasets/c1/missing")


async def test_an_empty_stream_is_an_empty_blob(store: BlobStore) -> None:
    ref = await store.put_stream("datasets/c1/empty/1", _chunks(b"", 10))
    assert ref.size == 0 and await store.get("datasets/c1/empty/1") == b""


async def test_presigned_urls_exist_only_on_s3(store: BlobStore) -> None:
    await store.put("datasets/c1/x/1", b"abc")
    url = await store.presigned_url("datasets/c1/x/1", 60)
    if isinstance(store, LocalBlobStore):
        assert url is None
    else:
        assert url is not None and "Signature" in url
