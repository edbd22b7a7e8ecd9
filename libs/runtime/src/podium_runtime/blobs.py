"""Blob store: files travel by reference, not inside events (SPEC §5.3, STYLE 11).

The gateway stores an upload and publishes its key and sha256; consumers fetch
the bytes by key and check the digest. `BlobStore` is the port; one class per
backend (`LocalBlobStore`, `S3BlobStore`) with its own settings, chosen by
`BlobSettings.backend` in `create_blob_store`. Keys are validated the same way
by every backend, so a key that works in development works on S3 and no key can
climb out of a local directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Segments of letters, digits, `._=-`, each starting with a letter or digit: no `..`,
#: no absolute paths, no backslashes, no hidden files (temp files start with a dot).
_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]*(/[A-Za-z0-9][A-Za-z0-9._=-]*)*")
MAX_KEY_LENGTH = 512
#: Bytes read or written per step when a blob is streamed.
CHUNK_SIZE = 1024 * 1024
#: Part size of S3 multipart uploads (S3's minimum is 5 MiB for every part but the last).
MULTIPART_PART_SIZE = 8 * 1024 * 1024


class BlobError(Exception):
    """Base of every blob store error."""


class InvalidBlobKeyError(BlobError, ValueError):
    """The key is empty, too long, or could escape the store (path traversal)."""


class BlobNotFoundError(BlobError, LookupError):
    """No blob is stored under the key."""


class BlobIntegrityError(BlobError):
    """The stored bytes do not match the expected sha256."""


@dataclass(frozen=True)
class BlobRef:
    """Where a blob lies and what it is: key, hex sha256 and size in bytes."""

    key: str
    sha256: str
    size: int


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise `InvalidBlobKeyError`."""
    if not isinstance(key, str) or not key:
        raise InvalidBlobKeyError("blob key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidBlobKeyError(f"blob key longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_PATTERN.fullmatch(key):
        raise InvalidBlobKeyError(
            f"blob key {key!r} must be '/'-separated segments of letters, digits and '._=-' "
            "each starting with a letter or digit"
        )
    return key


def sha256_hex(data: bytes) -> str:
    """Return the hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


class BlobStore(ABC):
    """Port for storing opaque files by key."""

    @abstractmethod
    async def put(self, key: str, data: bytes) -> BlobRef:
        """Store `data` under `key` (replacing any previous blob) and return its reference."""

    @abstractmethod
    async def get(self, key: str) -> bytes:
        """Return the bytes stored under `key`; raises `BlobNotFoundError`."""

    @abstractmethod
    async def exists(self, key: str) -> bool:
        """Return whether a blob is stored under `key`."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the blob under `key`; removing a missing blob is not an error."""

    async def get_verified(self, key: str, sha256: str) -> bytes:
        """Return the blob's bytes after checking them against `sha256` (hex)."""
        data = await self.get(key)
        actual = sha256_hex(data)
        if actual != sha256.lower():
            raise BlobIntegrityError(f"blob {key!r} has sha256 {actual}, expected {sha256}")
        return data

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobRef:
        """Store a stream under `key`; backends that can write in parts never hold it whole."""
        return await self.put(key, b"".join([chunk async for chunk in chunks]))

    async def size(self, key: str) -> int:
        """Return the size in bytes of the blob under `key`; raises `BlobNotFoundError`."""
        return len(await self.get(key))

    async def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Yield bytes `start..end` (inclusive; None: to the end) of a blob, a chunk at a time."""
        data = await self.get(key)
        stop = len(data) if end is None else end + 1
        for offset in range(start, stop, chunk_size):
            yield data[offset : min(offset + chunk_size, stop)]

    async def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        """Return a short-lived download URL, or None when the backend has none (local)."""
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing
        """Release connections the backend holds."""


# --- local directory --------------------------------------------------------------


class LocalBlobSettings(BaseModel):
    """Settings of the local-directory backend."""

    dir: Path = Path(".podium/blobs")


class LocalBlobStore(BlobStore):
    """Blobs as files under one directory; writes are atomic (temp file + rename)."""

    def __init__(self, settings: LocalBlobSettings | Path | str) -> None:
        if not isinstance(settings, LocalBlobSettings):
            settings = LocalBlobSettings(dir=Path(settings))
        self.root = settings.dir.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        # A symlink inside the directory must not lead outside it either.
        if not path.is_relative_to(self.root):
            raise InvalidBlobKeyError(f"blob key {key!r} leaves the blob directory")
        return path

    def _put(self, key: str, data: bytes) -> BlobRef:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readers see the old file or the whole new one, never a partial write.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return BlobRef(key=key, sha256=sha256_hex(data), size=len(data))

    def _get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFoundError(key) from None

    async def put(self, key: str, data: bytes) -> BlobRef:
        """Store `data` under `key` atomically."""
        return await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes:
        """Return the bytes under `key`."""
        return await asyncio.to_thread(self._get, key)

    async def exists(self, key: str) -> bool:
        """Return whether a file is stored under `key`."""
        return await asyncio.to_thread(self._path(key).is_file)

    async def delete(self, key: str) -> None:
        """Remove the file under `key` if present."""
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobRef:
        """Write a stream to a temporary file chunk by chunk, then rename it into place."""
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    await asyncio.to_thread(handle.write, chunk)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException:
            await asyncio.to_thread(Path(tmp).unlink, missing_ok=True)
            raise
        return BlobRef(key=key, sha256=digest.hexdigest(), size=size)

    async def size(self, key: str) -> int:
        """Return the file's size."""
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFoundError(key) from None

    async def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Read bytes `start..end` of the file a chunk at a time."""
        path = self._path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFoundError(key) from None
        try:
            await asyncio.to_thread(handle.seek, start)
            left = None if end is None else end + 1 - start
            while left is None or left > 0:
                want = chunk_size if left is None else min(chunk_size, left)
                chunk = await asyncio.to_thread(handle.read, want)
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


# --- S3-compatible object storage ---------------------------------------------------


class S3BlobSettings(BaseModel):
    """Settings of the S3-compatible backend (AWS S3, MinIO, Ceph, ...)."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: Prepended to every key, so several deployments can share one bucket.
    key_prefix: str = ""
    #: Path-style addressing works with every S3-compatible server.
    path_style: bool = True


class S3BlobStore(BlobStore):
    """Blobs as objects in one bucket; boto3 runs in worker threads."""

    def __init__(self, settings: S3BlobSettings) -> None:
        self.settings = settings
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            secret = self.settings.secret_access_key
            self._client = boto3.client(
                "s3",
                endpoint_url=self.settings.endpoint_url,
                region_name=self.settings.region,
                aws_access_key_id=self.settings.access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
                config=Config(
                    s3={"addressing_style": "path" if self.settings.path_style else "auto"},
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        return self._client

    def _object_key(self, key: str) -> str:
        return self.settings.key_prefix + validate_key(key)

    @staticmethod
    def _is_missing(exc: Exception) -> bool:
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def _put(self, key: str, data: bytes) -> BlobRef:
        digest = sha256_hex(data)
        self._s3().put_object(
            Bucket=self.settings.bucket,
            Key=self._object_key(key),
            Body=data,
            Metadata={"sha256": digest},
        )
        return BlobRef(key=key, sha256=digest, size=len(data))

    def _get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._s3().get_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if self._is_missing(exc):
                raise BlobNotFoundError(key) from None
            raise
        body: bytes = response["Body"].read()
        return body

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._s3().head_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        except ClientError as exc:
            if self._is_missing(exc):
                return False
            raise
        return True

    def _delete(self, key: str) -> None:
        self._s3().delete_object(Bucket=self.settings.bucket, Key=self._object_key(key))

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._s3().head_bucket(Bucket=self.settings.bucket)
        except ClientError as exc:
            if not self._is_missing(exc) and "NoSuchBucket" not in str(exc):
                raise
            self._s3().create_bucket(Bucket=self.settings.bucket)

    async def put(self, key: str, data: bytes) -> BlobRef:
        """Upload `data` as the object `key` (S3 writes are atomic per object)."""
        self._object_key(key)  # reject bad keys before any network call
        return await asyncio.to_thread(self._put, key, data)

    async def get(self, key: str) -> bytes:
        """Download the object `key`."""
        self._object_key(key)
        return await asyncio.to_thread(self._get, key)

    async def exists(self, key: str) -> bool:
        """Return whether the object `key` exists."""
        self._object_key(key)
        return await asyncio.to_thread(self._exists, key)

    async def delete(self, key: str) -> None:
        """Delete the object `key` (S3 deletes of missing objects succeed)."""
        self._object_key(key)
        await asyncio.to_thread(self._delete, key)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes]) -> BlobRef:
        """Upload a stream as a multipart upload of `MULTIPART_PART_SIZE` parts."""
        s3, bucket, object_key = self._s3(), self.settings.bucket, self._object_key(key)
        digest, size, buffer = hashlib.sha256(), 0, bytearray()
        parts: list[dict[str, Any]] = []
        upload = await asyncio.to_thread(s3.create_multipart_upload, Bucket=bucket, Key=object_key)
        upload_id = upload["UploadId"]

        async def send(data: bytes) -> None:
            number = len(parts) + 1
            answer = await asyncio.to_thread(
                s3.upload_part,
                Bucket=bucket,
                Key=object_key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
            )
            parts.append({"ETag": answer["ETag"], "PartNumber": number})

        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer.extend(chunk)
                if len(buffer) >= MULTIPART_PART_SIZE:
                    await send(bytes(buffer))
                    buffer.clear()
            if buffer or not parts:
                await send(bytes(buffer))
            await asyncio.to_thread(
                s3.complete_multipart_upload,
                Bucket=bucket,
                Key=object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.to_thread(
                s3.abort_multipart_upload, Bucket=bucket, Key=object_key, UploadId=upload_id
            )
            raise
        return BlobRef(key=key, sha256=digest.hexdigest(), size=size)

    async def size(self, key: str) -> int:
        """Return the object's size."""
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(
                self._s3().head_object, Bucket=self.settings.bucket, Key=self._object_key(key)
            )
        except ClientError as exc:
            if self._is_missing(exc):
                raise BlobNotFoundError(key) from None
            raise
        return int(head["ContentLength"])

    async def iter_range(
        self, key: str, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Stream bytes `start..end` of the object with an HTTP Range read."""
        from botocore.exceptions import ClientError

        wanted = f"bytes={start}-{'' if end is None else end}"
        try:
            answer = await asyncio.to_thread(
                self._s3().get_object,
                Bucket=self.settings.bucket,
                Key=self._object_key(key),
                Range=wanted,
            )
        except ClientError as exc:
            if self._is_missing(exc):
                raise BlobNotFoundError(key) from None
            raise
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, chunk_size):
                yield chunk
        finally:
            body.close()

    async def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        """Return a presigned GET URL of the object, valid for `expires_seconds`."""
        url: str = await asyncio.to_thread(
            self._s3().generate_presigned_url,
            "get_object",
            Params={"Bucket": self.settings.bucket, "Key": self._object_key(key)},
            ExpiresIn=expires_seconds,
        )
        return url

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (development and tests)."""
        await asyncio.to_thread(self._ensure_bucket)

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None


# --- choosing a backend -------------------------------------------------------------


class BlobSettings(BaseSettings):
    """Which blob backend a process uses (env prefix `PODIUM_BLOB_`)."""

    model_config = SettingsConfigDict(env_prefix="PODIUM_BLOB_", extra="ignore")

    backend: Literal["local", "s3"] = "local"
    dir: Path = Path(".podium/blobs")
    s3_endpoint_url: str | None = None
    s3_bucket: str = "podium"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_key_prefix: str = ""

    def local(self) -> LocalBlobSettings:
        """Return the local backend's settings."""
        return LocalBlobSettings(dir=self.dir)

    def s3(self) -> S3BlobSettings:
        """Return the S3 backend's settings."""
        return S3BlobSettings(
            bucket=self.s3_bucket,
            endpoint_url=self.s3_endpoint_url,
            region=self.s3_region,
            access_key_id=self.s3_access_key_id,
            secret_access_key=self.s3_secret_access_key,
            key_prefix=self.s3_key_prefix,
        )


def create_blob_store(settings: BlobSettings | None = None) -> BlobStore:
    """Build the configured backend; no I/O happens until the first call."""
    settings = settings or BlobSettings()
    if settings.backend == "s3":
        return S3BlobStore(settings.s3())
    return LocalBlobStore(settings.local())


__all__ = [
    "BlobError",
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobRef",
    "BlobSettings",
    "BlobStore",
    "InvalidBlobKeyError",
    "LocalBlobSettings",
    "LocalBlobStore",
    "S3BlobSettings",
    "S3BlobStore",
    "create_blob_store",
    "sha256_hex",
    "validate_key",
]
