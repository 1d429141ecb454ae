"""The S3 object store port and its boto3 implementation.

::

    ObjectStore (Protocol)          what the domain needs from object storage
    └── S3ObjectStore               boto3, any S3-compatible server (AWS, MinIO, rclone serve s3)
    ObjectBody (Protocol)           the body of one GET: into a caller's buffer, or in chunks

    errors
    ├── ObjectNotFoundError         NotFoundError, code ``object_not_found``
    ├── MultipartNotFoundError      NotFoundError, code ``multipart_upload_not_found``
    ├── ObjectProtectedError        PermissionDeniedError, code ``object_protected``
    ├── ObjectRejectedError         InvalidInputError, code ``object_rejected`` (e.g. bad MD5)
    └── ObjectStoreUnavailableError UnavailableError, code ``storage_unavailable`` (503)

Measured facts: ``rclone serve s3`` ignores ``x-amz-checksum-*`` but
verifies ``Content-MD5``, ignores conditional writes and loses object metadata on restart, so
every upload carries ``Content-MD5``, keys are unique and metadata lives in the database.
boto3's default checksum mode breaks Range GETs there, hence ``when_required``.

Every call is bounded (connect and read timeouts, few retries: :class:`ObjectStoreSettings`)
so that a store that is down or hung answers :class:`ObjectStoreUnavailableError` within a few
seconds; assembling a multipart upload alone gets a longer read timeout. An outage is logged
once when first seen and once when it ends (:class:`~infra.errors.OutageLog`).

Presigned URLs are signed for ``public_url`` when it is set (the address phones reach the
store at) and for ``endpoint_url`` otherwise: SigV4 signs the ``Host`` header, so a URL signed
for one host and rewritten to another is refused.

The boto3 client is synchronous; every ``async`` method runs it in a worker thread. The
``iter_chunks`` generator is blocking and meant to be consumed inside a worker thread (for
example while hashing); ``aiter_chunks`` is its async counterpart. ``open_object`` is blocking
too: its :class:`ObjectBody` fills a caller's buffer straight from the socket, each byte
copied once, where a chunked read copies it in http.client and again in the caller.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.client
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from infra import error_codes as codes
from infra.errors import (
    InvalidInputError,
    NotFoundError,
    OutageLog,
    PermissionDeniedError,
    UnavailableError,
)
from infra.settings import ObjectStoreSettings

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

__all__ = [
    "FILE_PART_BYTES",
    "MIN_PART_BYTES",
    "MultipartNotFoundError",
    "ObjectBody",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectProtectedError",
    "ObjectRejectedError",
    "ObjectStore",
    "ObjectStoreUnavailableError",
    "PartInfo",
    "PresignedRequest",
    "S3ObjectStore",
    "content_disposition",
    "md5_b64",
]

MIN_PART_BYTES = 5 * 1024 * 1024
"""S3's minimum size of every multipart part except the last."""

FILE_PART_BYTES = 8 * 1024 * 1024
"""The part size :meth:`ObjectStore.put_file` uses (grown for files above 80 GB)."""
_MAX_PARTS = 10_000

_DEFAULT_CHUNK = 1024 * 1024
_R = TypeVar("_R")


class ObjectNotFoundError(NotFoundError):
    default_code = codes.OBJECT_NOT_FOUND


class MultipartNotFoundError(NotFoundError):
    default_code = codes.MULTIPART_UPLOAD_NOT_FOUND


class ObjectProtectedError(PermissionDeniedError):
    default_code = codes.OBJECT_PROTECTED


class ObjectRejectedError(InvalidInputError):
    default_code = codes.OBJECT_REJECTED


class ObjectStoreUnavailableError(UnavailableError):
    default_code = codes.STORAGE_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class PresignedRequest:
    """A request the client sends as is: ``method`` to ``url`` with exactly ``headers``."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    expires_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def md5_b64(data: bytes) -> str:
    """The ``Content-MD5`` header value (base64 of the binary MD5 digest) of ``data``."""
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """An RFC 6266 ``Content-Disposition`` value that survives non-ASCII file names."""
    kind = "inline" if inline else "attachment"
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "_")
    ascii_name = ascii_name.replace("\\", "_").replace("\r", "_").replace("\n", "_")
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


class ObjectBody(Protocol):
    """The body of one GET (:meth:`ObjectStore.open_object`), read once, blocking: with
    :meth:`readinto` or with :meth:`chunks`, not both; :meth:`close` it in every case."""

    def readinto(self, buffer: memoryview) -> int:
        """Fill the start of ``buffer``; the number of bytes, 0 once the body has ended (never
        more in all than the size the GET answered). Raises
        :class:`ObjectStoreUnavailableError` when the store fails or the body ends short of
        that size."""

    def chunks(self, chunk_size: int = _DEFAULT_CHUNK) -> Generator[bytes, None, None]:
        """The rest of the body in bounded chunks (failures as :meth:`readinto`)."""

    def close(self) -> None:
        """Give the connection back to the pool when the body was read to its end; drop it
        otherwise (the rest is never read)."""


@runtime_checkable
class ObjectStore(Protocol):
    """What the domain needs from object storage. Keys are unique; nothing is overwritten."""

    @property
    def bucket(self) -> str: ...

    async def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist."""

    async def ping(self) -> bool:
        """``True`` when the bucket answers (for readiness probes); never raises."""

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        """Store a small object, always with ``Content-MD5``."""

    async def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str,
        part_size: int = FILE_PART_BYTES,
        hasher: Any = None,
    ) -> ObjectInfo:
        """Store a file of any size, one part in memory at a time (multipart above
        ``part_size``), every part with ``Content-MD5``; ``hasher`` sees every byte sent."""

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and ETag of ``key``, ``None`` when it does not exist."""

    async def exists(self, key: str) -> bool: ...

    def presign_put(
        self, key: str, *, content_md5: str, content_type: str, ttl_s: int | None = None
    ) -> PresignedRequest:
        """A single PUT with ``Content-MD5`` and ``Content-Type`` signed in."""

    def presign_get(
        self,
        key: str,
        *,
        ttl_s: int | None = None,
        filename: str | None = None,
        inline: bool = False,
        content_type: str | None = None,
    ) -> PresignedRequest:
        """A short-lived GET, optionally naming the download."""

    async def create_multipart(self, key: str, *, content_type: str) -> str:
        """Start a multipart upload and return its upload id."""

    def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        content_md5: str | None = None,
        ttl_s: int | None = None,
    ) -> PresignedRequest:
        """A PUT for one part; with ``content_md5`` the server refuses other bytes."""

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Every part received so far (all pages), by part number."""

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[PartInfo]
    ) -> ObjectInfo:
        """Assemble ``parts`` (sorted by number) into the object."""

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart upload; unknown ids are ignored."""

    def iter_chunks(
        self,
        key: str,
        *,
        chunk_size: int = _DEFAULT_CHUNK,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[bytes]:
        """Blocking: the object's bytes (``start``..``end`` inclusive) in bounded chunks."""

    def open_chunks(
        self, key: str, *, chunk_size: int = _DEFAULT_CHUNK
    ) -> tuple[ObjectInfo, Generator[bytes, None, None]]:
        """Blocking: the object's size and ETag as its GET answered them, and its bytes in
        bounded chunks — what a HEAD and a GET tell together, in one request. Raises
        :class:`ObjectNotFoundError` for a missing object."""

    def open_object(self, key: str) -> tuple[ObjectInfo, ObjectBody]:
        """Blocking: one GET; its size and ETag as it answered them, and its body, not a byte
        of it read yet (the caller can refuse the size first, or size a buffer by it).
        Raises :class:`ObjectNotFoundError` for a missing object."""

    def aiter_chunks(
        self,
        key: str,
        *,
        chunk_size: int = _DEFAULT_CHUNK,
        start: int | None = None,
        end: int | None = None,
    ) -> AsyncIterator[bytes]:
        """The same as :meth:`iter_chunks`, without blocking the event loop."""

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` inclusive (clipped at the end of the object)."""

    async def copy(self, source_key: str, dest_key: str) -> None:
        """Server-side copy (objects up to 5 GiB)."""

    async def delete(self, key: str) -> None:
        """Delete a non-protected object (derivatives, scratch); protected keys refuse."""


def _client_error_code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code", ""))


def _status(exc: ClientError) -> int:
    meta = exc.response.get("ResponseMetadata", {})
    return int(meta.get("HTTPStatusCode", 0))


class S3ObjectStore:
    """:class:`ObjectStore` over boto3. ``protected_prefixes`` can never be deleted."""

    def __init__(
        self,
        settings: ObjectStoreSettings,
        *,
        protected_prefixes: Sequence[str] = ("originals/",),
        max_pool_connections: int = 32,
        connect_timeout_s: float | None = None,
        read_timeout_s: float | None = None,
        max_attempts: int | None = None,
    ) -> None:
        """The timeouts and ``max_attempts`` (the first try included) override ``settings``."""
        if connect_timeout_s is not None:
            settings = replace(settings, connect_timeout_s=connect_timeout_s)
        if read_timeout_s is not None:
            settings = replace(settings, read_timeout_s=read_timeout_s)
        if max_attempts is not None:
            settings = replace(settings, retries=max(0, max_attempts - 1))
        self._settings = settings
        self._protected = tuple(protected_prefixes)
        self._outage = OutageLog("object_store")
        session = boto3.session.Session()
        self._client: S3Client = self._new_client(
            session, settings.read_timeout_s, max_pool_connections
        )
        # CompleteMultipartUpload answers when the object is assembled, which for gigabytes
        # takes a while (rclone concatenates the parts before it answers).
        self._slow_client: S3Client = self._new_client(
            session, settings.complete_timeout_s, max_pool_connections // 4 or 1
        )
        # Signs URLs for the public address and never sends a request itself.
        self._presign_client: S3Client = (
            self._new_client(session, settings.read_timeout_s, 1, settings.public_url)
            if settings.public_url
            else self._client
        )

    def _new_client(
        self,
        session: boto3.session.Session,
        read_timeout_s: float,
        pool: int,
        endpoint_url: str | None = None,
    ) -> S3Client:
        settings = self._settings
        config = Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            # total_max_attempts counts the first attempt too
            retries={"total_max_attempts": settings.retries + 1, "mode": "standard"},
            connect_timeout=settings.connect_timeout_s,
            read_timeout=read_timeout_s,
            max_pool_connections=pool,
            region_name=settings.region,
        )
        return session.client(
            "s3",
            endpoint_url=endpoint_url or settings.endpoint_url or None,
            aws_access_key_id=settings.access_key_id or None,
            aws_secret_access_key=settings.secret_access_key or None,
            region_name=settings.region,
            config=config,
        )

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def bucket(self) -> str:
        return self._settings.bucket

    @property
    def client(self) -> S3Client:
        """The underlying boto3 client (for tests and tools)."""
        return self._client

    def _call(self, fn: Callable[..., _R], /, *args: Any, key: str = "", **kwargs: Any) -> _R:
        try:
            result = fn(*args, **kwargs)
        except ClientError as exc:
            raise self._translate(exc, key) from exc
        except (ConnectionError, ReadTimeoutError, BotoCoreError) as exc:
            raise self._unavailable(exc) from exc
        self._outage.up()
        return result

    def _unavailable(self, exc: Exception) -> ObjectStoreUnavailableError:
        self._outage.down(type(exc).__name__)
        msg = "the object store is not available; try again shortly"
        return ObjectStoreUnavailableError(msg, reason=type(exc).__name__)

    def _translate(self, exc: ClientError, key: str) -> Exception:
        code = _client_error_code(exc)
        status = _status(exc)
        if code == "NoSuchUpload":
            return MultipartNotFoundError("multipart upload not found", key=key)
        if code in {"NoSuchKey", "NotFound", "404"} or status == 404:
            return ObjectNotFoundError("object not found", key=key)
        if code in {
            "BadDigest",
            "InvalidDigest",
            "InvalidPart",
            "EntityTooSmall",
            "InvalidPartOrder",
            "XAmzContentSHA256Mismatch",
        }:
            return ObjectRejectedError("the object store refused the bytes", key=key, reason=code)
        if status >= 500 or code in {"SlowDown", "ServiceUnavailable"}:
            self._outage.down(code or str(status))
            msg = "the object store is not available; try again shortly"
            return ObjectStoreUnavailableError(msg, reason=code)
        self._outage.up()  # it answered, if with a refusal
        return exc

    async def _run(self, fn: Callable[..., _R], /, *args: Any, key: str = "", **kwargs: Any) -> _R:
        return await asyncio.to_thread(self._call, fn, *args, key=key, **kwargs)

    def _ttl(self, ttl_s: int | None) -> int:
        return ttl_s if ttl_s is not None else self._settings.presign_ttl_s

    def _presign(
        self,
        method: str,
        operation: str,
        params: dict[str, Any],
        headers: dict[str, str],
        ttl_s: int | None,
    ) -> PresignedRequest:
        ttl = self._ttl(ttl_s)
        url = self._presign_client.generate_presigned_url(
            operation,
            Params={"Bucket": self.bucket, **params},
            ExpiresIn=ttl,
            HttpMethod=method,
        )
        return PresignedRequest(
            method=method,
            url=url,
            headers=headers,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )

    # -- bucket ------------------------------------------------------------------------------
    async def ensure_bucket(self) -> None:
        def ensure() -> None:
            try:
                self._client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _status(exc) != 404 and _client_error_code(exc) not in {"404", "NoSuchBucket"}:
                    raise
                if self._settings.region == "us-east-1":
                    self._client.create_bucket(Bucket=self.bucket)
                else:
                    self._client.create_bucket(
                        Bucket=self.bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": self._settings.region,  # type: ignore[typeddict-item]
                        },
                    )

        await self._run(ensure)

    async def ping(self) -> bool:
        try:
            await self._run(self._client.head_bucket, Bucket=self.bucket)
        except Exception:  # readiness answers yes or no, whatever went wrong
            return False
        return True

    # -- objects -----------------------------------------------------------------------------
    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> ObjectInfo:
        response = await self._run(
            self._client.put_object,
            key=key,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ContentMD5=md5_b64(data),
        )
        return ObjectInfo(
            key=key,
            size=len(data),
            etag=response.get("ETag", "").strip('"'),
            content_type=content_type,
        )

    async def put_file(
        self,
        key: str,
        path: Path,
        *,
        content_type: str,
        part_size: int = FILE_PART_BYTES,
        hasher: Any = None,
    ) -> ObjectInfo:
        return await asyncio.to_thread(
            self._put_file, key, path, content_type=content_type, part_size=part_size,
            hasher=hasher,
        )  # fmt: skip

    def _put_file(
        self, key: str, path: Path, *, content_type: str, part_size: int, hasher: Any
    ) -> ObjectInfo:
        size = path.stat().st_size
        part_size = max(part_size, MIN_PART_BYTES, -(-size // _MAX_PARTS))
        with path.open("rb") as fh:
            if size <= part_size:
                data = fh.read()
                if hasher is not None:
                    hasher.update(data)
                put = self._call(
                    self._slow_client.put_object, key=key, Bucket=self.bucket, Key=key,
                    Body=data, ContentType=content_type, ContentMD5=md5_b64(data),
                )  # fmt: skip
                etag = put.get("ETag", "").strip('"')
                return ObjectInfo(key=key, size=len(data), etag=etag, content_type=content_type)
            upload_id = self._call(
                self._client.create_multipart_upload, key=key, Bucket=self.bucket, Key=key,
                ContentType=content_type,
            )["UploadId"]  # fmt: skip
            try:
                parts = self._send_parts(key, upload_id, fh, part_size, hasher)
                response = self._call(
                    self._slow_client.complete_multipart_upload, key=key, Bucket=self.bucket,
                    Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts},
                )  # fmt: skip
            except BaseException:
                with contextlib.suppress(Exception):
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=key, UploadId=upload_id
                    )
                raise
        etag = response.get("ETag", "").strip('"')
        return ObjectInfo(key=key, size=size, etag=etag, content_type=content_type)

    def _send_parts(
        self, key: str, upload_id: str, fh: BinaryIO, part_size: int, hasher: Any
    ) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        number = 0
        while chunk := fh.read(part_size):
            number += 1
            if hasher is not None:
                hasher.update(chunk)
            response = self._call(
                self._slow_client.upload_part, key=key, Bucket=self.bucket, Key=key,
                UploadId=upload_id, PartNumber=number, Body=chunk, ContentMD5=md5_b64(chunk),
            )  # fmt: skip
            parts.append({"ETag": response["ETag"], "PartNumber": number})
            del chunk
        return parts

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            response = await self._run(
                self._client.head_object, key=key, Bucket=self.bucket, Key=key
            )
        except ObjectNotFoundError:
            return None
        return ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType"),
        )

    async def exists(self, key: str) -> bool:
        return await self.head(key) is not None

    def presign_put(
        self, key: str, *, content_md5: str, content_type: str, ttl_s: int | None = None
    ) -> PresignedRequest:
        return self._presign(
            "PUT",
            "put_object",
            {"Key": key, "ContentMD5": content_md5, "ContentType": content_type},
            {"Content-MD5": content_md5, "Content-Type": content_type},
            ttl_s,
        )

    def presign_get(
        self,
        key: str,
        *,
        ttl_s: int | None = None,
        filename: str | None = None,
        inline: bool = False,
        content_type: str | None = None,
    ) -> PresignedRequest:
        params: dict[str, Any] = {"Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename, inline=inline)
        if content_type is not None:
            params["ResponseContentType"] = content_type
        return self._presign("GET", "get_object", params, {}, ttl_s)

    # -- multipart ---------------------------------------------------------------------------
    async def create_multipart(self, key: str, *, content_type: str) -> str:
        response = await self._run(
            self._client.create_multipart_upload,
            key=key,
            Bucket=self.bucket,
            Key=key,
            ContentType=content_type,
        )
        return response["UploadId"]

    def presign_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        content_md5: str | None = None,
        ttl_s: int | None = None,
    ) -> PresignedRequest:
        if not 1 <= part_number <= 10_000:
            msg = f"part number must be 1..10000, got {part_number}"
            raise ValueError(msg)
        params: dict[str, Any] = {"Key": key, "UploadId": upload_id, "PartNumber": part_number}
        headers: dict[str, str] = {}
        if content_md5 is not None:
            params["ContentMD5"] = content_md5
            headers["Content-MD5"] = content_md5
        return self._presign("PUT", "upload_part", params, headers, ttl_s)

    async def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        def collect() -> list[PartInfo]:
            parts: list[PartInfo] = []
            paginator = self._client.get_paginator("list_parts")
            for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                parts.extend(
                    PartInfo(
                        part_number=int(part.get("PartNumber", 0)),
                        etag=part.get("ETag", "").strip('"'),
                        size=int(part.get("Size", 0)),
                    )
                    for part in page.get("Parts", [])
                )
            return sorted(parts, key=lambda p: p.part_number)

        return await self._run(collect, key=key)

    async def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[PartInfo]
    ) -> ObjectInfo:
        ordered = sorted(parts, key=lambda p: p.part_number)
        response = await self._run(
            self._slow_client.complete_multipart_upload,
            key=key,
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"ETag": f'"{p.etag}"', "PartNumber": p.part_number} for p in ordered]
            },
        )
        return ObjectInfo(
            key=key, size=sum(p.size for p in ordered), etag=response.get("ETag", "").strip('"')
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            await self._run(
                self._client.abort_multipart_upload,
                key=key,
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
            )
        except (MultipartNotFoundError, ObjectNotFoundError):
            return

    # -- reading -----------------------------------------------------------------------------
    def _get_body(self, key: str, start: int | None, end: int | None) -> Any:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start is not None or end is not None:
            first = start or 0
            kwargs["Range"] = f"bytes={first}-{'' if end is None else end}"
        response = self._call(self._client.get_object, key=key, **kwargs)
        return response["Body"]

    def iter_chunks(
        self,
        key: str,
        *,
        chunk_size: int = _DEFAULT_CHUNK,
        start: int | None = None,
        end: int | None = None,
    ) -> Iterator[bytes]:
        yield from _chunks(self._get_body(key, start, end), chunk_size, self._unavailable)

    def open_chunks(
        self, key: str, *, chunk_size: int = _DEFAULT_CHUNK
    ) -> tuple[ObjectInfo, Generator[bytes, None, None]]:
        info, body = self.open_object(key)
        return info, body.chunks(chunk_size)

    def open_object(self, key: str) -> tuple[ObjectInfo, ObjectBody]:
        response = self._call(self._client.get_object, key=key, Bucket=self.bucket, Key=key)
        info = ObjectInfo(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=response.get("ETag", "").strip('"'),
            content_type=response.get("ContentType"),
        )
        return info, _S3Body(response["Body"], info.size, self._unavailable)

    async def aiter_chunks(
        self,
        key: str,
        *,
        chunk_size: int = _DEFAULT_CHUNK,
        start: int | None = None,
        end: int | None = None,
    ) -> AsyncIterator[bytes]:
        body = await asyncio.to_thread(self._get_body, key, start, end)
        try:
            while True:
                try:
                    chunk: bytes = await asyncio.to_thread(body.read, chunk_size)
                except (ConnectionError, ReadTimeoutError, BotoCoreError) as exc:
                    raise self._unavailable(exc) from exc
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    async def read_range(self, key: str, start: int, end: int) -> bytes:
        def read() -> bytes:
            return b"".join(self.iter_chunks(key, start=start, end=end))

        return await asyncio.to_thread(read)

    # -- copy and delete ---------------------------------------------------------------------
    async def copy(self, source_key: str, dest_key: str) -> None:
        await self._run(
            self._client.copy_object,
            key=source_key,
            Bucket=self.bucket,
            Key=dest_key,
            CopySource={"Bucket": self.bucket, "Key": source_key},
        )

    async def delete(self, key: str) -> None:
        if key.startswith(self._protected):
            msg = "this object is protected and is never deleted"
            raise ObjectProtectedError(msg, key=key)
        await self._run(self._client.delete_object, key=key, Bucket=self.bucket, Key=key)


def _chunks(
    body: Any, chunk_size: int, unavailable: Callable[[Exception], ObjectStoreUnavailableError]
) -> Generator[bytes, None, None]:
    try:
        while True:
            try:
                chunk = body.read(chunk_size)
            except (ConnectionError, ReadTimeoutError, BotoCoreError) as exc:
                raise unavailable(exc) from exc
            if not chunk:
                return
            yield chunk
    finally:
        body.close()


def _wire(body: Any, size: int) -> tuple[Any, http.client.HTTPResponse] | None:
    """urllib3's response under botocore's ``StreamingBody`` and the ``http.client`` response
    under that, when the body can be read from the latter directly; ``None`` otherwise.

    urllib3 2.x's public ``readinto`` is ``read`` plus a copy, and the ``read`` it calls
    copies too (http.client's ``read(amt)`` fills a fresh bytearray, then copies it to
    bytes); botocore's ``StreamingBody.readinto`` calls urllib3's. Only
    ``http.client.HTTPResponse.readinto`` fills the caller's buffer from the socket without a
    copy. Reaching it takes two private attributes, ``StreamingBody._raw_stream`` and
    urllib3's ``HTTPResponse._fp``: each is checked, and the public path is taken when one is
    missing or of another type, when the body is chunked or content-encoded (urllib3 would
    decode or frame what http.client hands over raw), or when any of it was read already.
    """
    raw = getattr(body, "_raw_stream", None)
    fp = getattr(raw, "_fp", None)
    if not isinstance(fp, http.client.HTTPResponse) or not callable(
        getattr(raw, "release_conn", None)
    ):
        return None
    encoding = str(fp.getheader("Content-Encoding", "identity")).strip().lower()
    if fp.chunked or fp.length != size or fp.isclosed() or encoding not in {"", "identity"}:
        return None
    return raw, fp


class _S3Body:
    """:class:`ObjectBody` over botocore's ``StreamingBody``; ``readinto`` fills the caller's
    buffer straight from ``http.client`` when :func:`_wire` allows it."""

    def __init__(
        self,
        body: Any,
        size: int,
        unavailable: Callable[[Exception], ObjectStoreUnavailableError],
    ) -> None:
        self._body = body
        self._size = size
        self._unavailable = unavailable
        self._wire = _wire(body, size)
        self._read = 0

    def readinto(self, buffer: memoryview) -> int:
        if self._wire is None:
            try:
                count: int = self._body.readinto(buffer)
            except (ConnectionError, ReadTimeoutError, BotoCoreError) as exc:
                raise self._unavailable(exc) from exc
        else:
            # http.client never reads past Content-Length, but ends a cut body quietly (0);
            # that and its failures become the botocore errors the public path raises.
            try:
                count = self._wire[1].readinto(buffer)
            except TimeoutError as exc:
                raise self._unavailable(ReadTimeoutError(endpoint_url="", error=exc)) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise self._unavailable(ResponseStreamingError(error=exc)) from exc
            if count == 0 and len(buffer) > 0 and self._read < self._size:
                short = IncompleteReadError(actual_bytes=self._read, expected_bytes=self._size)
                raise self._unavailable(short)
        self._read += count
        return count

    def chunks(self, chunk_size: int = _DEFAULT_CHUNK) -> Generator[bytes, None, None]:
        return _chunks(self._body, chunk_size, self._unavailable)

    def close(self) -> None:
        if self._wire is not None:
            raw, fp = self._wire
            if self._read == self._size and fp.isclosed():
                # http.client closed the response after its last byte: the connection is
                # clean. urllib3 gives it back to its pool only after reads made through
                # urllib3, so this one is given back here (release_conn is public).
                raw.release_conn()
        self._body.close()
